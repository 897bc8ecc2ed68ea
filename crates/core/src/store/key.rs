//! The store's data key: 32 random bytes that seal every secret in the store.
//!
//! It lives in the OS keyring (Secret Service on Linux, Keychain, Credential Manager), one entry
//! per store, or, only when the user asks for it, is derived from a passphrase with Argon2id.
//! There is no plaintext fallback: without a keyring and without a passphrase the store refuses
//! to open and says how to get one.

use std::time::Duration;

use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use zeroize::Zeroizing;

use crate::secret::Secret;

/// The keyring service name under which every store's key is filed.
pub const KEYRING_SERVICE: &str = "o365-auth";
/// A locked keyring can sit on an unlock prompt indefinitely; give up after this.
pub const KEYRING_TIMEOUT: Duration = Duration::from_secs(20);

pub struct DataKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(***)")
    }
}

impl DataKey {
    pub fn random() -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(bytes.as_mut());
        DataKey(bytes)
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        DataKey(Zeroizing::new(bytes))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn to_hex(&self) -> Secret {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = String::with_capacity(64);
        for byte in self.0.iter() {
            text.push(char::from(HEX[usize::from(byte >> 4)]));
            text.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        Secret::new(text)
    }

    fn from_hex(text: &str) -> Option<Self> {
        if text.len() != 64 || !text.is_ascii() {
            return None;
        }
        let mut bytes = Zeroizing::new([0u8; 32]);
        for (index, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[index * 2..index * 2 + 2], 16).ok()?;
        }
        Some(DataKey(bytes))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "no OS keyring is reachable to hold the store's key ({detail}). On Linux start a Secret Service \
         provider (gnome-keyring, KWallet or KeePassXC) in your desktop session and unlock it, or \
         choose a passphrase-protected store explicitly"
    )]
    KeyringUnavailable { detail: String },
    #[error(
        "the OS keyring did not answer within {0:?}; it may be locked and waiting for an unlock prompt"
    )]
    KeyringTimeout(Duration),
    #[error(
        "the keyring entry for this store holds something that is not an o365-auth key; it was left untouched"
    )]
    ForeignKeyringEntry,
    #[error("the passphrase is empty")]
    EmptyPassphrase,
    #[error("the passphrase key could not be derived: {0}")]
    Derivation(String),
}

impl KeyError {
    pub fn code(&self) -> &'static str {
        match self {
            KeyError::KeyringUnavailable { .. } => "keyring_unavailable",
            KeyError::KeyringTimeout(_) => "keyring_timeout",
            KeyError::ForeignKeyringEntry => "keyring_foreign_entry",
            KeyError::EmptyPassphrase => "passphrase_empty",
            KeyError::Derivation(_) => "passphrase_derivation_failed",
        }
    }
}

/// The keyring entry of one store, named by the store's id.
#[derive(Debug, Clone)]
pub struct KeyringSlot {
    pub service: String,
    pub store_id: String,
}

impl KeyringSlot {
    pub fn new(store_id: &str) -> Self {
        KeyringSlot {
            service: KEYRING_SERVICE.to_owned(),
            store_id: store_id.to_owned(),
        }
    }

    fn user(&self) -> String {
        format!("store-key:{}", self.store_id)
    }

    /// Reads the store's key, creating and filing a new one on first use.
    pub async fn load_or_create(&self) -> Result<DataKey, KeyError> {
        let (service, user) = (self.service.clone(), self.user());
        run_blocking(move || {
            let entry = keyring::Entry::new(&service, &user).map_err(unavailable)?;
            match entry.get_password() {
                Ok(text) => DataKey::from_hex(&text).ok_or(KeyError::ForeignKeyringEntry),
                Err(keyring::Error::NoEntry) => {
                    let key = DataKey::random();
                    entry
                        .set_password(key.to_hex().expose())
                        .map_err(unavailable)?;
                    Ok(key)
                }
                Err(error) => Err(unavailable(error)),
            }
        })
        .await
    }

    /// Reads the store's key; `None` when the keyring has none for this store.
    pub async fn load(&self) -> Result<Option<DataKey>, KeyError> {
        let (service, user) = (self.service.clone(), self.user());
        run_blocking(move || {
            let entry = keyring::Entry::new(&service, &user).map_err(unavailable)?;
            match entry.get_password() {
                Ok(text) => DataKey::from_hex(&text)
                    .map(Some)
                    .ok_or(KeyError::ForeignKeyringEntry),
                Err(keyring::Error::NoEntry) => Ok(None),
                Err(error) => Err(unavailable(error)),
            }
        })
        .await
    }

    /// Removes the store's key: every secret sealed with it becomes unreadable.
    pub async fn delete(&self) -> Result<(), KeyError> {
        let (service, user) = (self.service.clone(), self.user());
        run_blocking(move || {
            let entry = keyring::Entry::new(&service, &user).map_err(unavailable)?;
            match entry.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
                Err(error) => Err(unavailable(error)),
            }
        })
        .await
    }
}

fn unavailable(error: keyring::Error) -> KeyError {
    KeyError::KeyringUnavailable {
        detail: error.to_string(),
    }
}

/// Keyring calls block (D-Bus round trips, possibly an unlock prompt): keep them off the async
/// runtime and bounded in time.
async fn run_blocking<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, KeyError> + Send + 'static,
) -> Result<T, KeyError> {
    let task = tokio::task::spawn_blocking(call);
    match tokio::time::timeout(KEYRING_TIMEOUT, task).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => Err(KeyError::KeyringUnavailable {
            detail: format!("the keyring call failed: {join}"),
        }),
        Err(_) => Err(KeyError::KeyringTimeout(KEYRING_TIMEOUT)),
    }
}

/// Argon2id parameters for a passphrase-protected store (OWASP's 2024 recommendation for
/// interactive use: 19 MiB would do; 64 MiB and 3 passes cost ~0.3 s here and buy margin).
const ARGON2_MEMORY_KIB: u32 = 64 * 1024;
const ARGON2_PASSES: u32 = 3;

/// Derives a store key from a passphrase and the store's salt (16+ random bytes kept in the
/// database beside the data; the salt is not secret).
pub fn derive_from_passphrase(passphrase: &Secret, salt: &[u8]) -> Result<DataKey, KeyError> {
    if passphrase.expose().is_empty() {
        return Err(KeyError::EmptyPassphrase);
    }
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_PASSES, 1, Some(32))
        .map_err(|error| KeyError::Derivation(error.to_string()))?;
    let mut bytes = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase.expose().as_bytes(), salt, bytes.as_mut())
        .map_err(|error| KeyError::Derivation(error.to_string()))?;
    Ok(DataKey(bytes))
}

pub fn new_salt() -> [u8; 16] {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    salt
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_never_show_in_debug() {
        let key = DataKey::from_bytes([0xab; 32]);
        assert_eq!(format!("{key:?}"), "DataKey(***)");
    }

    #[test]
    fn hex_round_trip_and_foreign_values() {
        let key = DataKey::random();
        let hex = key.to_hex();
        let back = DataKey::from_hex(hex.expose()).expect("hex");
        assert_eq!(back.as_bytes(), key.as_bytes());
        assert!(DataKey::from_hex("not hex").is_none());
        assert!(DataKey::from_hex(&"zz".repeat(32)).is_none());
        assert!(DataKey::from_hex(&"é".repeat(32)).is_none());
    }

    #[test]
    fn passphrase_keys_depend_on_passphrase_and_salt() {
        let salt = [1u8; 16];
        let a = derive_from_passphrase(&Secret::new("correct horse"), &salt).expect("a");
        let again = derive_from_passphrase(&Secret::new("correct horse"), &salt).expect("again");
        let other = derive_from_passphrase(&Secret::new("correct horse!"), &salt).expect("other");
        let salted =
            derive_from_passphrase(&Secret::new("correct horse"), &[2u8; 16]).expect("salted");
        assert_eq!(a.as_bytes(), again.as_bytes());
        assert_ne!(a.as_bytes(), other.as_bytes());
        assert_ne!(a.as_bytes(), salted.as_bytes());
        assert_eq!(
            derive_from_passphrase(&Secret::new(String::new()), &salt)
                .unwrap_err()
                .code(),
            "passphrase_empty"
        );
    }
}
