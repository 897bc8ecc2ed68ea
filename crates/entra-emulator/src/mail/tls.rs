//! TLS for the mail servers: a certificate authority generated at start (P-256, valid 30 days
//! from real time, since TLS clients check real time) and a server certificate it signs for
//! `localhost`, `127.0.0.1` and `::1`. Clients trust the authority's PEM
//! ([`super::MailServers::ca_certificate_pem`]), as they would trust DigiCert for
//! `outlook.office365.com`.

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509Name, X509NameBuilder};

/// Why the TLS material could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("certificate generation failed: {0}")]
    Generate(#[from] openssl::error::ErrorStack),
    #[error("TLS setup failed: {0}")]
    Setup(#[from] native_tls::Error),
}

/// The authority's PEM (what clients trust) and an acceptor serving the signed certificate.
pub struct TlsMaterial {
    pub ca_pem: String,
    pub acceptor: tokio_native_tls::TlsAcceptor,
}

/// The names the server certificate is valid for.
pub const DNS_NAMES: &[&str] = &["localhost"];
pub const IP_ADDRESSES: &[&str] = &["127.0.0.1", "::1"];

fn key() -> Result<PKey<Private>, openssl::error::ErrorStack> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    PKey::from_ec_key(EcKey::generate(&group)?)
}

fn name(common_name: &str) -> Result<X509Name, openssl::error::ErrorStack> {
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("O", "entra-emulator")?;
    name.append_entry_by_text("CN", common_name)?;
    Ok(name.build())
}

fn serial() -> Result<Asn1Integer, openssl::error::ErrorStack> {
    let mut serial = BigNum::new()?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
    serial.to_asn1_integer()
}

/// Generates the authority and the server certificate.
pub fn generate() -> Result<TlsMaterial, TlsError> {
    let ca_key = key()?;
    let ca_name = name("entra-emulator mail test CA")?;
    let not_before = Asn1Time::days_from_now(0)?;
    let not_after = Asn1Time::days_from_now(30)?;
    let ca_serial = serial()?;
    let mut ca = X509::builder()?;
    ca.set_version(2)?;
    ca.set_serial_number(&ca_serial)?;
    ca.set_subject_name(&ca_name)?;
    ca.set_issuer_name(&ca_name)?;
    ca.set_pubkey(&ca_key)?;
    ca.set_not_before(&not_before)?;
    ca.set_not_after(&not_after)?;
    ca.append_extension(BasicConstraints::new().critical().ca().build()?)?;
    ca.append_extension(
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()?,
    )?;
    let ski = SubjectKeyIdentifier::new().build(&ca.x509v3_context(None, None))?;
    ca.append_extension(ski)?;
    ca.sign(&ca_key, MessageDigest::sha256())?;
    let ca = ca.build();

    let server_key = key()?;
    let server_serial = serial()?;
    let server_name = name("localhost")?;
    let mut server = X509::builder()?;
    server.set_version(2)?;
    server.set_serial_number(&server_serial)?;
    server.set_subject_name(&server_name)?;
    server.set_issuer_name(ca.subject_name())?;
    server.set_pubkey(&server_key)?;
    server.set_not_before(&not_before)?;
    server.set_not_after(&not_after)?;
    server.append_extension(BasicConstraints::new().build()?)?;
    server.append_extension(KeyUsage::new().critical().digital_signature().build()?)?;
    server.append_extension(ExtendedKeyUsage::new().server_auth().build()?)?;
    let mut san = SubjectAlternativeName::new();
    for dns in DNS_NAMES {
        san.dns(dns);
    }
    for ip in IP_ADDRESSES {
        san.ip(ip);
    }
    let san = san.build(&server.x509v3_context(Some(&ca), None))?;
    server.append_extension(san)?;
    let ski = SubjectKeyIdentifier::new().build(&server.x509v3_context(Some(&ca), None))?;
    server.append_extension(ski)?;
    let aki = AuthorityKeyIdentifier::new()
        .keyid(true)
        .build(&server.x509v3_context(Some(&ca), None))?;
    server.append_extension(aki)?;
    server.sign(&ca_key, MessageDigest::sha256())?;
    let server = server.build();

    let ca_pem = String::from_utf8_lossy(&ca.to_pem()?).into_owned();
    let mut chain = server.to_pem()?;
    chain.extend_from_slice(ca_pem.as_bytes());
    let identity =
        native_tls::Identity::from_pkcs8(&chain, &server_key.private_key_to_pem_pkcs8()?)?;
    let acceptor = native_tls::TlsAcceptor::builder(identity)
        .min_protocol_version(Some(native_tls::Protocol::Tlsv12))
        .build()?;
    Ok(TlsMaterial {
        ca_pem,
        acceptor: tokio_native_tls::TlsAcceptor::from(acceptor),
    })
}
