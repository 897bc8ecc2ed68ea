//! Everything the emulator remembers while it runs: sign-in sessions, codes, refresh tokens,
//! device codes, consents, used assertion ids and the per-user switches of the control API.

use std::collections::{BTreeSet, HashMap};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::config::RedirectKind;
use crate::directory::{Authority, Directory};
use crate::scopes::Scopes;
use crate::sessions::{FlowSession, PkceMethod, SsoSession};

/// A random opaque string of `bytes` random bytes, base64url.
pub fn opaque(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// Per-user state the control API can change.
#[derive(Debug, Clone, Default)]
pub struct UserFlags {
    pub mfa_required: bool,
    pub disabled: bool,
    pub locked: bool,
    pub password_expired: bool,
    /// Refresh tokens issued before this instant are revoked (AADSTS50173).
    pub tokens_valid_from: Option<OffsetDateTime>,
}

#[derive(Debug, Clone)]
pub struct AuthCode {
    pub client_id: Uuid,
    pub authority: Authority,
    pub redirect_uri: String,
    pub redirect_kind: RedirectKind,
    pub scope_raw: String,
    pub scopes: Scopes,
    pub user: Uuid,
    pub nonce: Option<String>,
    pub code_challenge: Option<(String, PkceMethod)>,
    pub issued_at: OffsetDateTime,
    pub auth_time: OffsetDateTime,
    pub mfa_done: bool,
    pub redeemed: bool,
}

#[derive(Debug, Clone)]
pub struct RefreshRecord {
    pub client_id: Uuid,
    pub user: Uuid,
    /// When this token was issued (idle lifetime counts from here).
    pub issued_at: OffsetDateTime,
    /// The original interactive sign-in (absolute lifetime counts from here).
    pub auth_time: OffsetDateTime,
    pub mfa_done: bool,
    /// Issued to a client that authenticated with a credential.
    pub confidential: bool,
    /// Issued to a SPA redirect URI (fixed 24 h lifetime).
    pub spa: bool,
    /// Already exchanged for a newer refresh token.
    pub rotated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceStatus {
    Pending,
    Approved {
        user: Uuid,
        auth_time: OffsetDateTime,
        mfa_done: bool,
    },
    Declined,
    Redeemed,
}

#[derive(Debug, Clone)]
pub struct DeviceAuth {
    pub user_code: String,
    pub client_id: Uuid,
    pub segment: String,
    pub authority: Authority,
    pub scope_raw: String,
    pub scopes: Scopes,
    pub expires: OffsetDateTime,
    pub interval: i64,
    pub last_poll: Option<OffsetDateTime>,
    pub status: DeviceStatus,
}

#[derive(Debug, Default)]
pub struct Store {
    pub flows: HashMap<String, FlowSession>,
    pub sso: HashMap<String, SsoSession>,
    pub codes: HashMap<String, AuthCode>,
    pub refresh_tokens: HashMap<String, RefreshRecord>,
    pub devices: HashMap<String, DeviceAuth>,
    /// (user, client) → consent keys.
    pub consents: HashMap<(Uuid, Uuid), BTreeSet<String>>,
    /// jti → expiry (unix seconds) of client assertions already used.
    pub used_jtis: HashMap<String, i64>,
    pub users: HashMap<Uuid, UserFlags>,
}

impl Store {
    pub fn new(dir: &Directory) -> Self {
        let mut store = Store::default();
        store.reset_users(dir);
        store
    }

    /// Puts every user's switches back to the configuration.
    pub fn reset_users(&mut self, dir: &Directory) {
        self.users = dir
            .users
            .iter()
            .map(|u| {
                (
                    u.oid,
                    UserFlags {
                        mfa_required: u.config.mfa_required,
                        disabled: u.config.disabled,
                        locked: u.config.locked,
                        password_expired: u.config.password_expired,
                        tokens_valid_from: None,
                    },
                )
            })
            .collect();
    }

    pub fn flags(&self, user: Uuid) -> UserFlags {
        self.users.get(&user).cloned().unwrap_or_default()
    }

    pub fn consented(&self, user: Uuid, client: Uuid) -> BTreeSet<String> {
        self.consents
            .get(&(user, client))
            .cloned()
            .unwrap_or_default()
    }

    pub fn add_consent(&mut self, user: Uuid, client: Uuid, keys: &BTreeSet<String>) {
        self.consents
            .entry((user, client))
            .or_default()
            .extend(keys.iter().cloned());
    }

    /// Drops sign-in sessions and used assertion ids that can no longer matter.
    pub fn sweep(&mut self, now: OffsetDateTime) {
        let hour_ago = now - time::Duration::hours(1);
        self.flows.retain(|_, f| f.created > hour_ago);
        self.sso.retain(|_, s| s.expires > now);
        let unix = now.unix_timestamp();
        self.used_jtis.retain(|_, exp| *exp + 600 > unix);
    }
}
