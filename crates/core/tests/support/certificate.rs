//! A self-signed certificate for the certificate credential, made fresh per test.

// Not every test crate that includes `support` makes certificates.
#![allow(dead_code)]

use o365_auth_core::Secret;

/// `(certificate PEM, its private key PEM, a PKCS#12 file of both with password "pfx-pass")`.
pub fn self_signed_certificate() -> (Vec<u8>, Secret, Vec<u8>) {
    use openssl::asn1::Asn1Time;
    use openssl::hash::MessageDigest;
    use openssl::pkcs12::Pkcs12;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::{X509, X509NameBuilder};

    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "o365-auth daemon").unwrap();
    let name = name.build();
    let mut builder = X509::builder().unwrap();
    builder.set_version(2).unwrap();
    builder.set_subject_name(&name).unwrap();
    builder.set_issuer_name(&name).unwrap();
    builder.set_pubkey(&key).unwrap();
    builder
        .set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    builder
        .set_not_after(&Asn1Time::days_from_now(30).unwrap())
        .unwrap();
    builder.sign(&key, MessageDigest::sha256()).unwrap();
    let certificate = builder.build();
    let pfx = Pkcs12::builder()
        .name("daemon")
        .pkey(&key)
        .cert(&certificate)
        .build2("pfx-pass")
        .unwrap()
        .to_der()
        .unwrap();
    let key_pem = Secret::new(String::from_utf8(key.private_key_to_pem_pkcs8().unwrap()).unwrap());
    (certificate.to_pem().unwrap(), key_pem, pfx)
}
