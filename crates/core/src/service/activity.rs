//! The activity log as people read it: which local program got which account's token.

use serde::Serialize;

use super::TokenService;
use crate::error::Result;

#[derive(Debug, Clone, Serialize)]
pub struct ActivityView {
    /// When the last of `times` identical hand-outs happened (the audit log counts repeats).
    pub at: i64,
    pub times: i64,
    pub account: String,
    /// The app the account signed in through; `None` once the account is gone.
    pub app: Option<String>,
    pub scopes: Vec<String>,
    pub channel: &'static str,
    pub pid: Option<i32>,
    pub uid: Option<u32>,
    pub exe: Option<String>,
}

impl TokenService {
    /// The newest `limit` tokens handed out, newest first; only one account's with `account`.
    /// Entries are written in batches, so one handed out in the last fifth of a second may
    /// not be there yet.
    pub async fn recent_activity(
        &self,
        limit: u32,
        account: Option<&str>,
    ) -> Result<Vec<ActivityView>> {
        let record_id = match account {
            Some(name) => Some(self.resolve(Some(name)).await?.1.id.clone()),
            None => None,
        };
        // Read more than asked when filtering, so a busy other account does not hide this one.
        let read = if record_id.is_some() {
            limit.saturating_mul(20).min(10_000)
        } else {
            limit
        };
        let records = self.inner.store.audit().recent(read).await?;
        let directory = self.directory().await?;
        let app_of = |account_id: Option<&str>| {
            let record = directory
                .accounts
                .iter()
                .find(|record| Some(record.id.as_str()) == account_id)?;
            Some(directory.app_name(&record.app_id).to_owned())
        };
        Ok(records
            .into_iter()
            .filter(|record| {
                record_id.is_none() || record.event.account_id.as_deref() == record_id.as_deref()
            })
            .take(limit as usize)
            .map(|record| ActivityView {
                at: record.at,
                times: record.times,
                app: app_of(record.event.account_id.as_deref()),
                account: record.event.username,
                scopes: record
                    .event
                    .scopes
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect(),
                channel: record.event.channel.as_str(),
                pid: record.event.peer.pid,
                uid: record.event.peer.uid,
                exe: record.event.peer.exe,
            })
            .collect())
    }
}
