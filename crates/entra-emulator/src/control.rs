//! [`Control`]: the library handle to fault injection, the clock, user switches, revocation and
//! stats. The admin HTTP API (`/_emulator/...`) calls the same methods.

use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use crate::faults::Fault;
use crate::state::AppState;
use crate::stats::Stats;
use crate::store::UserFlags;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ControlError {
    #[error("no user named {0}")]
    UnknownUser(String),
}

/// A cheap, cloneable handle to a running emulator's controls.
#[derive(Debug, Clone)]
pub struct Control {
    state: AppState,
}

/// A user's current switches, as the admin API reports them.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UserStatus {
    pub username: String,
    pub mfa_required: bool,
    pub disabled: bool,
    pub locked: bool,
    pub password_expired: bool,
    pub tokens_valid_from: Option<String>,
}

impl Control {
    pub(crate) fn new(state: AppState) -> Self {
        Control { state }
    }

    /// Queues a fault for the next `fault.count` matching requests.
    pub fn inject(&self, fault: Fault) {
        self.state.faults().push(fault);
    }

    /// The next `count` requests (under `path_prefix`, if any) get HTTP 429 + `Retry-After`.
    pub fn throttle(&self, count: u32, retry_after_seconds: u64, path_prefix: Option<&str>) {
        let mut fault = Fault::throttle(count, retry_after_seconds);
        fault.path_prefix = path_prefix.map(str::to_owned);
        self.inject(fault);
    }

    /// Faults not yet used up.
    pub fn pending_faults(&self) -> Vec<Fault> {
        self.state.faults().pending()
    }

    /// Adds `latency` to every request from now on (zero turns it off).
    pub fn set_latency(&self, latency: Duration) {
        self.state.faults().latency = latency;
    }

    /// Removes queued faults and persistent latency.
    pub fn clear_faults(&self) {
        self.state.faults().clear();
    }

    fn with_user<T>(
        &self,
        username: &str,
        change: impl FnOnce(&mut UserFlags, uuid::Uuid) -> T,
    ) -> Result<T, ControlError> {
        let user = self
            .state
            .dir
            .user_by_name(username)
            .ok_or_else(|| ControlError::UnknownUser(username.to_owned()))?;
        let mut store = self.state.store();
        let flags = store.users.entry(user.oid).or_default();
        Ok(change(flags, user.oid))
    }

    /// Revokes every refresh token and browser session of the user issued until now
    /// (Graph's `revokeSignInSessions`); they fail with AADSTS50173.
    pub fn revoke_refresh_tokens(&self, username: &str) -> Result<(), ControlError> {
        let now = self.state.clock.now();
        let oid = self.with_user(username, |flags, oid| {
            flags.tokens_valid_from = Some(now);
            oid
        })?;
        self.state.store().sso.retain(|_, s| s.user != oid);
        Ok(())
    }

    pub fn set_mfa_required(&self, username: &str, required: bool) -> Result<(), ControlError> {
        self.with_user(username, |flags, _| flags.mfa_required = required)
    }

    pub fn set_disabled(&self, username: &str, disabled: bool) -> Result<(), ControlError> {
        self.with_user(username, |flags, _| flags.disabled = disabled)
    }

    pub fn set_locked(&self, username: &str, locked: bool) -> Result<(), ControlError> {
        self.with_user(username, |flags, _| flags.locked = locked)
    }

    pub fn user_status(&self, username: &str) -> Result<UserStatus, ControlError> {
        let name = self
            .state
            .dir
            .user_by_name(username)
            .map(|u| u.username().to_owned())
            .unwrap_or_default();
        self.with_user(username, |flags, _| UserStatus {
            username: name,
            mfa_required: flags.mfa_required,
            disabled: flags.disabled,
            locked: flags.locked,
            password_expired: flags.password_expired,
            tokens_valid_from: flags.tokens_valid_from.map(crate::clock::iso),
        })
    }

    /// Moves the emulator's clock forward (negative moves it back).
    pub fn advance_clock(&self, seconds: i64) {
        self.state.clock.advance(seconds);
    }

    /// The emulator's current time.
    pub fn now(&self) -> OffsetDateTime {
        self.state.clock.now()
    }

    pub fn clock_offset_seconds(&self) -> i64 {
        self.state.clock.offset_seconds()
    }

    pub fn stats(&self) -> Stats {
        self.state.stats().clone()
    }

    pub fn reset_stats(&self) {
        *self.state.stats() = Stats::default();
    }

    /// Back to the configured state: no faults or latency, configured clock offset, user
    /// switches as configured, zero stats. Issued tokens, consents and sessions are kept.
    pub fn reset(&self) {
        self.clear_faults();
        self.state.clock.reset();
        self.state.store().reset_users(&self.state.dir);
        self.reset_stats();
    }
}
