//! Request counters: per endpoint and per grant type, for tests that assert how many requests
//! reached the emulator.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Counts of requests that reached the emulator (admin API calls excluded; requests answered
/// by an injected fault included, and also counted in `faults_injected`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub total: u64,
    /// Keyed by path with the tenant segment replaced by `{tenant}`, e.g.
    /// `/{tenant}/oauth2/v2.0/token`, `/v1.0/me`.
    pub endpoints: BTreeMap<String, u64>,
    /// Token endpoint requests keyed by `grant_type` (`refresh_token`, `authorization_code`,
    /// `client_credentials`, `password`, `urn:ietf:params:oauth:grant-type:device_code`).
    pub grant_types: BTreeMap<String, u64>,
    pub faults_injected: u64,
    /// Messages `POST /me/sendMail` accepted (202): what a client's retries really sent.
    #[serde(default)]
    pub mails_accepted: u64,
}

impl Stats {
    pub fn endpoint(&self, key: &str) -> u64 {
        self.endpoints.get(key).copied().unwrap_or(0)
    }

    pub fn grant(&self, grant_type: &str) -> u64 {
        self.grant_types.get(grant_type).copied().unwrap_or(0)
    }

    pub fn record(&mut self, path: &str, grant_type: Option<&str>) {
        self.total += 1;
        *self.endpoints.entry(endpoint_key(path)).or_default() += 1;
        if let Some(grant) = grant_type {
            *self.grant_types.entry(grant.to_owned()).or_default() += 1;
        }
    }
}

const TENANT_SCOPED: &[&str] = &[
    "oauth2",
    "v2.0",
    "discovery",
    "login",
    "SAS",
    "Consent",
    "select_account",
];

/// `/contoso.onmicrosoft.com/oauth2/v2.0/token` → `/{tenant}/oauth2/v2.0/token`.
pub fn endpoint_key(path: &str) -> String {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        [_, second, rest @ ..] if TENANT_SCOPED.contains(second) => {
            let mut key = format!("/{{tenant}}/{second}");
            for segment in rest {
                key.push('/');
                key.push_str(segment);
            }
            key
        }
        _ => path.to_owned(),
    }
}
