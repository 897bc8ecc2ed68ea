//! Sealing secrets at rest: XChaCha20-Poly1305 under the store's data key.
//!
//! A sealed blob is `version (1 byte) || nonce (24 bytes) || ciphertext || tag (16 bytes)`.
//! Every seal takes a context string (which row, which field) as associated data, so a sealed
//! value copied into another row or field fails to open instead of being accepted.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

use super::key::DataKey;
use crate::secret::Secret;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error(
        "a stored secret could not be opened: it was sealed with another key or for another record, or it was altered"
    )]
    Tampered,
    #[error("a stored secret is in an unknown format (version {0})")]
    UnknownVersion(u8),
    #[error("a stored secret is truncated ({0} bytes)")]
    Truncated(usize),
}

impl SealError {
    pub fn code(&self) -> &'static str {
        match self {
            SealError::Tampered => "secret_tampered",
            SealError::UnknownVersion(_) | SealError::Truncated(_) => "secret_malformed",
        }
    }
}

/// Seals and opens secrets with one data key.
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(***)")
    }
}

impl Sealer {
    pub fn new(key: &DataKey) -> Self {
        Sealer {
            cipher: XChaCha20Poly1305::new(key.as_bytes().into()),
        }
    }

    pub fn seal(&self, secret: &Secret, context: &str) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let payload = Payload {
            msg: secret.expose().as_bytes(),
            aad: context.as_bytes(),
        };
        // Encryption with a valid key and nonce only fails for messages beyond 256 GiB.
        let ciphertext = self
            .cipher
            .encrypt(&XNonce::from(nonce), payload)
            .unwrap_or_default();
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        sealed.push(VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    pub fn open(&self, sealed: &[u8], context: &str) -> Result<Secret, SealError> {
        let (&version, rest) = sealed.split_first().ok_or(SealError::Truncated(0))?;
        if version != VERSION {
            return Err(SealError::UnknownVersion(version));
        }
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(SealError::Truncated(sealed.len()));
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce =
            <[u8; NONCE_LEN]>::try_from(nonce).map_err(|_| SealError::Truncated(sealed.len()))?;
        let payload = Payload {
            msg: ciphertext,
            aad: context.as_bytes(),
        };
        let plaintext = self
            .cipher
            .decrypt(&XNonce::from(nonce), payload)
            .map_err(|_| SealError::Tampered)?;
        String::from_utf8(plaintext)
            .map(Secret::new)
            .map_err(|_| SealError::Tampered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(byte: u8) -> Sealer {
        Sealer::new(&DataKey::from_bytes([byte; 32]))
    }

    #[test]
    fn opens_what_it_sealed() {
        let sealer = sealer(7);
        let sealed = sealer.seal(&Secret::new("0.AX-refresh-token"), "token:acct-1:refresh");
        let opened = sealer.open(&sealed, "token:acct-1:refresh").expect("opens");
        assert_eq!(opened.expose(), "0.AX-refresh-token");
    }

    #[test]
    fn the_plaintext_is_not_in_the_sealed_bytes_and_nonces_differ() {
        let sealer = sealer(7);
        let secret = Secret::new("very-recognisable-secret-value");
        let first = sealer.seal(&secret, "c");
        let second = sealer.seal(&secret, "c");
        assert_ne!(first, second, "a fresh nonce per seal");
        let needle = b"recognisable";
        assert!(!first.windows(needle.len()).any(|window| window == needle));
    }

    #[test]
    fn refuses_another_key_another_context_and_altered_bytes() {
        let sealed = sealer(7).seal(&Secret::new("s"), "token:a:refresh");
        assert_eq!(
            sealer(8).open(&sealed, "token:a:refresh").unwrap_err(),
            SealError::Tampered
        );
        assert_eq!(
            sealer(7).open(&sealed, "token:b:refresh").unwrap_err(),
            SealError::Tampered
        );
        let mut altered = sealed.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert_eq!(
            sealer(7).open(&altered, "token:a:refresh").unwrap_err(),
            SealError::Tampered
        );
    }

    #[test]
    fn malformed_blobs_get_their_own_errors() {
        let sealer = sealer(1);
        assert_eq!(sealer.open(&[], "c").unwrap_err(), SealError::Truncated(0));
        assert_eq!(
            sealer.open(&[1, 2, 3], "c").unwrap_err(),
            SealError::Truncated(3)
        );
        assert_eq!(
            sealer.open(&[9; 64], "c").unwrap_err(),
            SealError::UnknownVersion(9)
        );
        assert_eq!(
            sealer.open(&[9; 64], "c").unwrap_err().code(),
            "secret_malformed"
        );
    }
}
