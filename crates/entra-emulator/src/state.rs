//! The state every handler shares.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::http::HeaderMap;
use uuid::Uuid;

use crate::clock::Clock;
use crate::config::{EmulatorConfig, Lifetimes};
use crate::directory::Directory;
use crate::errors::ErrorContext;
use crate::faults::Faults;
use crate::keys::SigningKey;
use crate::stats::Stats;
use crate::store::Store;

pub type AppState = Arc<Shared>;

#[derive(Debug)]
pub struct Shared {
    pub base_url: String,
    pub dir: Directory,
    pub config: EmulatorConfig,
    pub clock: Clock,
    pub keys: SigningKey,
    store: Mutex<Store>,
    faults: Mutex<Faults>,
    stats: Mutex<Stats>,
}

/// Locks a mutex, recovering the data if a previous holder panicked.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    pub fn new(base_url: String, dir: Directory, config: EmulatorConfig, keys: SigningKey) -> Self {
        let clock = Clock::new(config.clock_offset_seconds);
        let store = Store::new(&dir);
        Shared {
            base_url,
            dir,
            clock,
            keys,
            config,
            store: Mutex::new(store),
            faults: Mutex::new(Faults::default()),
            stats: Mutex::new(Stats::default()),
        }
    }

    pub fn lifetimes(&self) -> &Lifetimes {
        &self.config.lifetimes
    }

    pub fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    pub fn faults(&self) -> MutexGuard<'_, Faults> {
        lock(&self.faults)
    }

    pub fn stats(&self) -> MutexGuard<'_, Stats> {
        lock(&self.stats)
    }

    /// Trace context for an error, echoing the caller's `client-request-id`.
    pub fn err_ctx(&self, headers: &HeaderMap) -> ErrorContext {
        let client_request_id = headers
            .get("client-request-id")
            .and_then(|v| v.to_str().ok());
        ErrorContext::new(&self.base_url, self.clock.now(), client_request_id)
    }

    /// `{base}/{tid}/v2.0`.
    pub fn issuer(&self, tid: &str) -> String {
        format!("{}/{tid}/v2.0", self.base_url)
    }

    pub fn token_endpoint(&self, segment: &str) -> String {
        format!("{}/{segment}/oauth2/v2.0/token", self.base_url)
    }

    /// The display name of a tenant segment for error messages.
    pub fn tenant_label(&self, tenant: Option<Uuid>, segment: &str) -> String {
        tenant
            .and_then(|id| self.dir.tenant(id))
            .map(|t| t.display_name.clone())
            .unwrap_or_else(|| segment.to_owned())
    }
}
