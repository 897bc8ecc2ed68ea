//! The emulator's token-signing key (RSA 2048, generated at start) and the JWKS that publishes it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::EncodePublicKey;
use rsa::traits::PublicKeyParts;
use serde::Serialize;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("RSA key generation failed: {0}")]
    Generate(String),
    #[error("key encoding failed: {0}")]
    Encode(String),
    #[error("signing failed: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

/// An RSA signing key with its key id. `kid` and `x5t` are the same value, as in Microsoft's JWKS
/// (here the SHA-1 thumbprint of the public key, since the emulator has no certificate for it).
pub struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    n: String,
    e: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    pub fn generate() -> Result<Self, KeyError> {
        let mut rng = rand::rngs::OsRng;
        let private = rsa::RsaPrivateKey::new(&mut rng, 2048)
            .map_err(|error| KeyError::Generate(error.to_string()))?;
        let public = private.to_public_key();
        let der = private
            .to_pkcs1_der()
            .map_err(|error| KeyError::Encode(error.to_string()))?;
        let spki = public
            .to_public_key_der()
            .map_err(|error| KeyError::Encode(error.to_string()))?;
        let n_bytes = public.n().to_bytes_be();
        let e_bytes = public.e().to_bytes_be();
        Ok(SigningKey {
            kid: URL_SAFE_NO_PAD.encode(Sha1::digest(spki.as_bytes())),
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            decoding: DecodingKey::from_rsa_raw_components(&n_bytes, &e_bytes),
            n: URL_SAFE_NO_PAD.encode(&n_bytes),
            e: URL_SAFE_NO_PAD.encode(&e_bytes),
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Signs `claims` as an RS256 JWT with `typ`, `kid` and `x5t` in the header.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some("JWT".to_owned());
        header.kid = Some(self.kid.clone());
        header.x5t = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }

    /// Checks the signature (and only the signature) of a token this key issued; claims are
    /// checked by the caller against the emulator's clock.
    pub fn verify(&self, token: &str) -> Result<Value, jsonwebtoken::errors::Error> {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        Ok(jsonwebtoken::decode::<Value>(token, &self.decoding, &validation)?.claims)
    }

    /// The key as a JWK, in Microsoft's shape.
    pub fn jwk(&self, issuer: &str) -> Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": self.n,
            "e": self.e,
            "cloud_instance_name": "microsoftonline.com",
            "issuer": issuer,
        })
    }
}
