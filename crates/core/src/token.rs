//! The token model: what a token answer gives us, and who it belongs to.
//!
//! Times are Unix seconds (`i64`), as in MSAL's cache and the store, so nothing converts them
//! back and forth on the hot path.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::scopes::Scopes;
use crate::secret::Secret;

/// MSAL refreshes an access token this long before it expires; so do we by default.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// Now, in Unix seconds.
pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or_default()
}

/// Microsoft's `client_info` (`client_info=1` on the request): the user's object id and home
/// tenant, which together name the account across tenants and apps (`uid.utid`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientInfo {
    pub uid: String,
    pub utid: String,
}

impl ClientInfo {
    /// Reads the base64url JSON Microsoft sends (padding optional; some proxies add it).
    pub fn parse(encoded: &str) -> Result<Self> {
        let bytes = decode_base64url(encoded)
            .ok_or_else(|| Error::protocol("client_info is not base64url"))?;
        serde_json::from_slice(&bytes)
            .map_err(|_| Error::protocol("client_info is not JSON with uid and utid"))
    }

    pub fn home_account_id(&self) -> String {
        format!("{}.{}", self.uid, self.utid)
    }
}

/// The claims of an ID token. The token comes straight from the token endpoint over TLS, so
/// OpenID Connect Core §3.1.3.7 lets a client skip its signature; we check issuer-independent
/// facts (nonce, audience) where they matter, in the flows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdTokenClaims(Map<String, Value>);

impl IdTokenClaims {
    /// Decodes the payload of a compact JWT without verifying it.
    pub fn decode(id_token: &Secret) -> Result<Self> {
        let payload = id_token
            .expose()
            .split('.')
            .nth(1)
            .ok_or_else(|| Error::protocol("the ID token is not a JWT"))?;
        let bytes = decode_base64url(payload)
            .ok_or_else(|| Error::protocol("the ID token payload is not base64url"))?;
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(claims)) => Ok(IdTokenClaims(claims)),
            _ => Err(Error::protocol("the ID token payload is not a JSON object")),
        }
    }

    pub fn from_map(claims: Map<String, Value>) -> Self {
        IdTokenClaims(claims)
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str)
    }

    pub fn oid(&self) -> Option<&str> {
        self.get_str("oid")
    }

    pub fn tid(&self) -> Option<&str> {
        self.get_str("tid")
    }

    pub fn nonce(&self) -> Option<&str> {
        self.get_str("nonce")
    }

    pub fn audience(&self) -> Option<&str> {
        self.get_str("aud")
    }

    /// The sign-in name: `preferred_username`, else `upn`, else `email` (v1 and guest tokens).
    pub fn username(&self) -> Option<&str> {
        ["preferred_username", "upn", "email"]
            .iter()
            .find_map(|name| self.get_str(name))
    }

    pub fn display_name(&self) -> Option<&str> {
        self.get_str("name")
    }
}

/// Everything one token answer gave us.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenSet {
    pub access_token: Secret,
    pub token_type: String,
    /// Absent for client credentials, and when `offline_access` was not granted.
    pub refresh_token: Option<Secret>,
    /// The raw ID token: MSAL's cache keeps it, so an export must too.
    pub id_token: Option<Secret>,
    pub id_token_claims: Option<IdTokenClaims>,
    pub client_info: Option<ClientInfo>,
    /// The scopes granted, as the answer's `scope` lists them (else as requested).
    pub scopes: Scopes,
    pub obtained_at: i64,
    pub expires_at: i64,
    /// `ext_expires_in`: how long the token stays usable when Entra itself is down.
    pub ext_expires_at: Option<i64>,
    /// `refresh_in`: when Microsoft asks clients to refresh early (long-lived tokens).
    pub refresh_on: Option<i64>,
}

impl TokenSet {
    /// `uid.utid` from `client_info`, else `oid.tid` from the ID token, as MSAL and
    /// python-o365 name accounts. `None` for app-only tokens.
    pub fn home_account_id(&self) -> Option<String> {
        if let Some(info) = &self.client_info {
            return Some(info.home_account_id());
        }
        let claims = self.id_token_claims.as_ref()?;
        Some(format!("{}.{}", claims.oid()?, claims.tid()?))
    }

    pub fn is_expired_at(&self, now: i64) -> bool {
        now >= self.expires_at
    }

    /// Whether a caller about to use this token at `now` should refresh it first: it expires
    /// within `margin`, or Microsoft's `refresh_in` has passed.
    pub fn needs_refresh_at(&self, now: i64, margin: Duration) -> bool {
        let margin = i64::try_from(margin.as_secs()).unwrap_or(i64::MAX);
        now >= self.expires_at.saturating_sub(margin)
            || self.refresh_on.is_some_and(|refresh_on| now >= refresh_on)
    }

    /// Seconds of validity left at `now` (zero once expired).
    pub fn remaining_at(&self, now: i64) -> Duration {
        Duration::from_secs(u64::try_from(self.expires_at - now).unwrap_or(0))
    }

    /// Keeps the refresh token and identity of `previous` where this answer left them out:
    /// Microsoft does not always rotate the refresh token or repeat the ID token.
    pub fn inherit_from(mut self, previous: &TokenSet) -> Self {
        if self.refresh_token.is_none() {
            self.refresh_token = previous.refresh_token.clone();
        }
        if self.id_token.is_none() {
            self.id_token = previous.id_token.clone();
            self.id_token_claims = previous.id_token_claims.clone();
        }
        if self.client_info.is_none() {
            self.client_info = previous.client_info.clone();
        }
        self
    }
}

/// Who an account is: what the store and the UI show, and how callers name an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountIdentity {
    /// `uid.utid`; for app-only accounts `app:<client id>@<tenant>`.
    pub home_account_id: String,
    pub username: String,
    pub display_name: Option<String>,
    /// The tenant the tokens were issued by (`tid`), or the authority's tenant.
    pub tenant_id: String,
    /// The object id in that tenant (`oid`), when known.
    pub local_account_id: Option<String>,
}

impl AccountIdentity {
    /// The identity a delegated sign-in gives. `None` when the answer names no user (no
    /// `client_info` and no ID token), which a delegated flow treats as a protocol error.
    pub fn of_user(tokens: &TokenSet) -> Option<Self> {
        let home_account_id = tokens.home_account_id()?;
        let claims = tokens.id_token_claims.as_ref();
        let username = claims
            .and_then(IdTokenClaims::username)
            .map(str::to_owned)
            .unwrap_or_else(|| home_account_id.clone());
        let tenant_id = claims
            .and_then(IdTokenClaims::tid)
            .map(str::to_owned)
            .or_else(|| tokens.client_info.as_ref().map(|info| info.utid.clone()))
            .unwrap_or_default();
        Some(AccountIdentity {
            home_account_id,
            username,
            display_name: claims
                .and_then(IdTokenClaims::display_name)
                .map(str::to_owned),
            tenant_id,
            local_account_id: claims.and_then(IdTokenClaims::oid).map(str::to_owned),
        })
    }

    /// The identity of an app signing in as itself (client credentials): no user.
    pub fn of_app(client_id: &str, tenant: &str) -> Self {
        AccountIdentity {
            home_account_id: format!("app:{client_id}@{tenant}"),
            username: format!("{client_id}@{tenant}"),
            display_name: None,
            tenant_id: tenant.to_owned(),
            local_account_id: None,
        }
    }

    pub fn is_app(&self) -> bool {
        self.home_account_id.starts_with("app:")
    }

    /// Usernames are compared ignoring case, as Microsoft and MSAL do (python-o365 does not).
    pub fn is_named(&self, name: &str) -> bool {
        self.username.eq_ignore_ascii_case(name) || self.home_account_id == name
    }
}

fn decode_base64url(encoded: &str) -> Option<Vec<u8>> {
    let trimmed = encoded.trim().trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(trimmed)
        .ok()
        .or_else(|| STANDARD.decode(encoded.trim()).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: Value) -> Secret {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        Secret::new(format!("{header}.{payload}.c2ln"))
    }

    fn tokens(expires_at: i64) -> TokenSet {
        TokenSet {
            access_token: Secret::new("at"),
            token_type: "Bearer".into(),
            refresh_token: Some(Secret::new("rt")),
            id_token: None,
            id_token_claims: None,
            client_info: None,
            scopes: Scopes::from_granted("User.Read"),
            obtained_at: 0,
            expires_at,
            ext_expires_at: None,
            refresh_on: None,
        }
    }

    #[test]
    fn client_info_names_the_account_uid_dot_utid() {
        let encoded = URL_SAFE_NO_PAD.encode(br#"{"uid":"u-1","utid":"t-1"}"#);
        let info = ClientInfo::parse(&encoded).unwrap();
        assert_eq!(info.home_account_id(), "u-1.t-1");
        let padded = STANDARD.encode(br#"{"uid":"u-1","utid":"t-1"}"#);
        assert_eq!(ClientInfo::parse(&padded).unwrap(), info);
        assert_eq!(ClientInfo::parse("!!").unwrap_err().code(), "protocol");
    }

    #[test]
    fn id_token_claims_give_the_identity_and_case_insensitive_names() {
        let mut set = tokens(100);
        let id_token = jwt(serde_json::json!({
            "oid": "o-1", "tid": "t-1", "preferred_username": "Alice@Contoso.com", "name": "Alice"
        }));
        set.id_token_claims = Some(IdTokenClaims::decode(&id_token).unwrap());
        set.id_token = Some(id_token);
        assert_eq!(set.home_account_id().as_deref(), Some("o-1.t-1"));
        let identity = AccountIdentity::of_user(&set).unwrap();
        assert_eq!(identity.username, "Alice@Contoso.com");
        assert_eq!(identity.display_name.as_deref(), Some("Alice"));
        assert!(identity.is_named("alice@contoso.COM"));
        assert!(!identity.is_named("bob@contoso.com"));
    }

    #[test]
    fn malformed_id_tokens_are_protocol_errors() {
        for bad in ["no-dots", "a.!!!.c", "a.bnVsbA.c"] {
            let error = IdTokenClaims::decode(&Secret::new(bad)).unwrap_err();
            assert_eq!(error.code(), "protocol", "{bad}");
        }
    }

    #[test]
    fn refresh_is_due_inside_the_margin_or_after_refresh_in() {
        let set = tokens(1_000);
        assert!(!set.needs_refresh_at(600, DEFAULT_REFRESH_MARGIN));
        assert!(set.needs_refresh_at(700, DEFAULT_REFRESH_MARGIN));
        assert!(!set.is_expired_at(999));
        assert!(set.is_expired_at(1_000));
        let early = TokenSet {
            refresh_on: Some(500),
            ..tokens(1_000)
        };
        assert!(early.needs_refresh_at(500, DEFAULT_REFRESH_MARGIN));
        assert_eq!(set.remaining_at(1_200), Duration::ZERO);
    }

    #[test]
    fn an_answer_without_a_new_refresh_token_keeps_the_old_one() {
        let previous = tokens(100);
        let next = TokenSet {
            refresh_token: None,
            ..tokens(200)
        };
        let merged = next.inherit_from(&previous);
        assert_eq!(merged.refresh_token, Some(Secret::new("rt")));
        assert_eq!(merged.expires_at, 200);
    }

    #[test]
    fn debug_output_never_shows_tokens() {
        let set = tokens(100);
        let printed = format!("{set:?}");
        assert!(
            !printed.contains("\"at\"") && !printed.contains("\"rt\""),
            "{printed}"
        );
    }
}
