//! How a confidential app proves who it is: a client secret, or a certificate whose private key
//! signs a `private_key_jwt` client assertion (RFC 7523; Microsoft's "certificate credentials").

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use serde::Serialize;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::token::now_unix;

/// The credential an app presents at the token endpoint.
#[derive(Debug, Clone, Default)]
pub enum ClientCredential {
    /// A public client (desktop, CLI): nothing to present.
    #[default]
    None,
    Secret(Secret),
    Certificate(Certificate),
}

impl ClientCredential {
    pub fn is_confidential(&self) -> bool {
        !matches!(self, ClientCredential::None)
    }
}

/// A certificate registered on the app, and its private key (PEM, kept as a [`Secret`]).
#[derive(Clone)]
pub struct Certificate {
    private_key_pem: Secret,
    /// SHA-256 of the DER certificate: the `x5t#S256` header Microsoft recommends.
    sha256_thumbprint: [u8; 32],
    /// SHA-1 of the DER certificate: the `x5t` header older registrations and ADFS expect.
    sha1_thumbprint: [u8; 20],
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("x5t#S256", &URL_SAFE_NO_PAD.encode(self.sha256_thumbprint))
            .field("private_key", &self.private_key_pem)
            .finish()
    }
}

impl Certificate {
    /// A PEM certificate and its PEM private key (PKCS#8 or PKCS#1, unencrypted).
    pub fn from_pem(certificate_pem: &[u8], private_key_pem: &Secret) -> Result<Self> {
        let certificate = X509::from_pem(certificate_pem).map_err(|_| {
            Error::invalid_input(
                "certificate",
                "not a PEM certificate (-----BEGIN CERTIFICATE-----)",
            )
        })?;
        let key =
            PKey::private_key_from_pem(private_key_pem.expose().as_bytes()).map_err(|_| {
                Error::invalid_input(
                    "private key",
                    "not an unencrypted PEM private key (PKCS#8 or PKCS#1)",
                )
            })?;
        Self::from_parts(&certificate, &key)
    }

    /// A PKCS#12 (`.pfx`/`.p12`) file with the certificate and its key, as Windows and the
    /// Entra admin center export them.
    pub fn from_pkcs12(der: &[u8], password: &Secret) -> Result<Self> {
        let bundle = Pkcs12::from_der(der)
            .map_err(|_| Error::invalid_input("certificate file", "not a PKCS#12 (.pfx) file"))?
            .parse2(password.expose())
            .map_err(|_| {
                Error::invalid_input(
                    "certificate password",
                    "the PKCS#12 file could not be opened with this password",
                )
            })?;
        match (bundle.cert, bundle.pkey) {
            (Some(certificate), Some(key)) => Self::from_parts(&certificate, &key),
            _ => Err(Error::invalid_input(
                "certificate file",
                "the PKCS#12 file must hold both the certificate and its private key",
            )),
        }
    }

    fn from_parts(certificate: &X509, key: &PKey<Private>) -> Result<Self> {
        let public = certificate
            .public_key()
            .map_err(|_| Error::invalid_input("certificate", "its public key cannot be read"))?;
        if key.rsa().is_err() {
            return Err(Error::invalid_input(
                "private key",
                "Microsoft accepts RSA certificate keys only",
            ));
        }
        if !public.public_eq(key) {
            return Err(Error::invalid_input(
                "private key",
                "it does not belong to the certificate",
            ));
        }
        let der = certificate
            .to_der()
            .map_err(|_| Error::invalid_input("certificate", "it cannot be encoded"))?;
        let pem = key
            .private_key_to_pem_pkcs8()
            .map_err(|_| Error::invalid_input("private key", "it cannot be encoded"))?;
        let pem = String::from_utf8(pem)
            .map_err(|_| Error::invalid_input("private key", "it cannot be encoded"))?;
        Ok(Certificate {
            private_key_pem: Secret::new(pem),
            sha256_thumbprint: Sha256::digest(&der).into(),
            sha1_thumbprint: Sha1::digest(&der).into(),
        })
    }

    /// The `x5t#S256` value: base64url of the SHA-256 thumbprint.
    pub fn x5t_s256(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.sha256_thumbprint)
    }

    /// A signed client assertion for `audience` (the token endpoint URL), valid ten minutes,
    /// with a fresh `jti` so Microsoft's replay check accepts each one once.
    pub fn client_assertion(&self, client_id: &str, audience: &str) -> Result<Secret> {
        #[derive(Serialize)]
        struct Claims<'a> {
            aud: &'a str,
            iss: &'a str,
            sub: &'a str,
            jti: String,
            nbf: i64,
            iat: i64,
            exp: i64,
        }
        let now = now_unix();
        let claims = Claims {
            aud: audience,
            iss: client_id,
            sub: client_id,
            jti: uuid::Uuid::new_v4().to_string(),
            nbf: now,
            iat: now,
            exp: now + 600,
        };
        // PS256 with x5t#S256 is what Microsoft recommends today; x5t rides along for
        // registrations and clouds that still look for it.
        let mut header = Header::new(Algorithm::PS256);
        header.x5t_s256 = Some(self.x5t_s256());
        header.x5t = Some(URL_SAFE_NO_PAD.encode(self.sha1_thumbprint));
        let key = EncodingKey::from_rsa_pem(self.private_key_pem.expose().as_bytes())
            .map_err(|_| Error::invalid_input("private key", "it cannot sign"))?;
        jsonwebtoken::encode(&header, &claims, &key)
            .map(Secret::new)
            .map_err(|_| Error::invalid_input("private key", "signing the client assertion failed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::asn1::Asn1Time;
    use openssl::hash::MessageDigest;
    use openssl::rsa::Rsa;
    use openssl::x509::X509NameBuilder;

    pub(crate) fn self_signed() -> (X509, PKey<Private>) {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "o365-auth test").unwrap();
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
            .set_not_after(&Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        builder.sign(&key, MessageDigest::sha256()).unwrap();
        (builder.build(), key)
    }

    #[test]
    fn pem_and_pkcs12_give_the_same_thumbprint_and_a_signed_assertion() {
        let (certificate, key) = self_signed();
        let pem_key =
            Secret::new(String::from_utf8(key.private_key_to_pem_pkcs8().unwrap()).unwrap());
        let from_pem = Certificate::from_pem(&certificate.to_pem().unwrap(), &pem_key).unwrap();
        let pfx = Pkcs12::builder()
            .name("test")
            .pkey(&key)
            .cert(&certificate)
            .build2("pfx-password")
            .unwrap()
            .to_der()
            .unwrap();
        let from_pfx = Certificate::from_pkcs12(&pfx, &Secret::new("pfx-password")).unwrap();
        assert_eq!(from_pem.x5t_s256(), from_pfx.x5t_s256());
        let wrong = Certificate::from_pkcs12(&pfx, &Secret::new("nope")).unwrap_err();
        assert_eq!(wrong.code(), "invalid_input");

        let assertion = from_pem
            .client_assertion("client-1", "https://login.example/t/oauth2/v2.0/token")
            .unwrap();
        let header = jsonwebtoken::decode_header(assertion.expose()).unwrap();
        assert_eq!(header.alg, Algorithm::PS256);
        assert_eq!(
            header.x5t_s256.as_deref(),
            Some(from_pem.x5t_s256().as_str())
        );
        assert!(!format!("{from_pem:?}").contains("PRIVATE KEY"));
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let (certificate, _) = self_signed();
        let (_, other_key) = self_signed();
        let pem_key =
            Secret::new(String::from_utf8(other_key.private_key_to_pem_pkcs8().unwrap()).unwrap());
        let error = Certificate::from_pem(&certificate.to_pem().unwrap(), &pem_key).unwrap_err();
        assert!(error.to_string().contains("does not belong"), "{error}");
        let error = Certificate::from_pem(b"garbage", &pem_key).unwrap_err();
        assert!(error.to_string().contains("certificate"), "{error}");
    }
}
