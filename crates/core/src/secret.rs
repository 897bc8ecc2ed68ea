//! [`Secret`]: a string that must never be printed (client secrets, refresh and access tokens,
//! PKCE verifiers).

use std::fmt;

use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

/// A secret string. `Debug` prints `Secret(***)` and `Display` prints `***`, so a secret can sit
/// in any struct that derives `Debug` without leaking through logs, panics or error text.
///
/// Serde is transparent (the bare string) because secrets are stored, sealed, by the token
/// store; sealing is the store's job, not this type's. The buffer is zeroed on drop.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value. The name makes each place that reads it easy to find in review.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Compares in time that depends on the lengths only, not on where the first difference is,
/// so a comparison against a secret does not reveal a matching prefix by its timing.
impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        let (left, right) = (self.0.as_bytes(), other.0.as_bytes());
        if left.len() != right.len() {
            return false;
        }
        left.iter()
            .zip(right)
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0
    }
}

impl Eq for Secret {}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUE: &str = "0.AXkAv8-refresh-token-value";

    #[derive(Debug)]
    #[allow(dead_code)] // read only through Debug
    struct Credentials {
        client_id: String,
        client_secret: Secret,
        refresh_token: Option<Secret>,
    }

    fn credentials() -> Credentials {
        Credentials {
            client_id: "client-123".into(),
            client_secret: Secret::new(VALUE),
            refresh_token: Some(Secret::from(format!("{VALUE}-rt"))),
        }
    }

    #[test]
    fn debug_and_display_hide_the_value() {
        let secret = Secret::new(VALUE);
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        assert_eq!(format!("{secret}"), "***");
        assert_eq!(secret.to_string(), "***");
    }

    #[test]
    fn structs_holding_secrets_do_not_leak_them_in_any_debug_form() {
        let holder = credentials();
        for printed in [format!("{holder:?}"), format!("{holder:#?}")] {
            assert!(!printed.contains(VALUE), "leaked: {printed}");
            assert!(
                printed.contains("client-123"),
                "the non-secret field is still shown"
            );
            assert!(printed.contains("Secret(***)"));
        }
    }

    #[test]
    fn expose_returns_the_value() {
        assert_eq!(Secret::new(VALUE).expose(), VALUE);
        assert!(Secret::default().is_empty());
        assert!(!Secret::new(VALUE).is_empty());
    }

    #[test]
    fn serde_is_the_bare_string_both_ways() {
        let json = serde_json::to_string(&Secret::new(VALUE)).unwrap();
        assert_eq!(json, format!("\"{VALUE}\""));
        let back: Secret = serde_json::from_str(&json).unwrap();
        assert_eq!(back.expose(), VALUE);
    }

    #[test]
    fn equality_compares_the_values() {
        assert_eq!(Secret::new("abc"), Secret::new("abc"));
        assert_ne!(Secret::new("abc"), Secret::new("abd"));
        assert_ne!(Secret::new("abc"), Secret::new("abcd"));
    }
}
