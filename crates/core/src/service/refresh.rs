//! The scheduler's job (refresh one account, by record id), what a refresh outcome does to
//! the account's status, and which accounts the scheduler keeps.

use std::sync::Weak;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::scheduler::{RefreshJob, SchedulerEvent, Tracked};
use super::{Inner, TokenService, lock};
use crate::account::{Account, TokenWanted};
use crate::backend::StoredAccount;
use crate::error::{Error, ErrorClass, Result};
use crate::store::accounts::{AccountRecord, AccountStatus};

/// Refreshes accounts for the scheduler. Holds the service weakly: the service owns the
/// scheduler, which owns this job.
pub(super) struct ScheduledRefresh {
    service: Weak<Inner>,
}

impl ScheduledRefresh {
    pub(super) fn new(service: Weak<Inner>) -> Self {
        ScheduledRefresh { service }
    }
}

impl RefreshJob for ScheduledRefresh {
    fn refresh<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<i64>> {
        async move {
            let inner = self.service.upgrade().ok_or(Error::Cancelled)?;
            let service = TokenService { inner };
            let (_, record) = service.resolve(Some(account)).await?;
            let session = service.session(&record.app_id, None, None).await?;
            let wanted = TokenWanted {
                force: true,
                ..TokenWanted::default()
            };
            // The scheduler announces a failure itself (`needs_attention`, forwarded).
            let stored = service
                .refresh_gated(&record, &session, wanted, false)
                .await?;
            Ok(stored.tokens.expires_at)
        }
        .boxed()
    }
}

impl TokenService {
    /// Refreshes `record` in its turn (one refresh at a time per account however many
    /// callers ask; see `gate`), unless the gate answers for Microsoft: a failure the caller
    /// waited for, throttling that is not over, an account that needs the person (`force`, an
    /// explicit refresh, tries that one again). The outcome goes to [`Self::after_refresh`].
    pub(super) async fn refresh_gated(
        &self,
        record: &AccountRecord,
        session: &Account,
        mut wanted: TokenWanted,
        announce: bool,
    ) -> Result<StoredAccount> {
        let arrived = tokio::time::Instant::now();
        let turn = self.inner.gates.turn(&record.id);
        let mut gate = turn.lock().await;
        if let Some(refused) = gate.refusal(arrived, wanted.force) {
            return Err(refused);
        }
        // Refreshed while this caller waited: that new token is what it asked for.
        if wanted.force && gate.refreshed_since(arrived) {
            wanted.force = false;
        }
        let outcome = session
            .tokens_for(&record.identity.home_account_id, &wanted)
            .await;
        gate.record(&outcome);
        drop(gate);
        self.after_refresh(record, outcome, announce).await
    }

    /// Records a refresh's outcome on the account (a success was stored with the tokens):
    /// a failure only the person can fix marks the account and stops its schedule until they
    /// sign in again. With `announce` (a refresh a caller asked for, not the scheduler's,
    /// which announces its own), a newly marked account is told as `needs_attention`.
    pub(super) async fn after_refresh(
        &self,
        record: &AccountRecord,
        outcome: Result<StoredAccount>,
        announce: bool,
    ) -> Result<StoredAccount> {
        let error = match outcome {
            Ok(stored) => {
                if record.status != AccountStatus::Fresh {
                    self.changed();
                } else {
                    // Reloading the directory on every refresh would cost thousands of rows
                    // each time; views take the time from here instead.
                    lock(&self.inner.latest)
                        .entry(record.id.clone())
                        .or_default()
                        .refreshed_at = Some(stored.tokens.obtained_at);
                }
                self.track_refreshed(record, &stored);
                return Ok(stored);
            }
            Err(error) => error,
        };
        let status = match error.class() {
            Some(ErrorClass::NeedsSignIn) => Some(AccountStatus::NeedsSignIn),
            Some(ErrorClass::InteractionRequired | ErrorClass::ConsentRequired) => {
                Some(AccountStatus::InteractionRequired)
            }
            // Passing trouble (throttling, network) does not change what the account is.
            Some(ErrorClass::Throttled | ErrorClass::Transient) => None,
            _ if matches!(error, Error::Cancelled) => None,
            _ => Some(AccountStatus::Error),
        };
        if let Some(status) = status {
            if let Err(write) = self
                .inner
                .store
                .accounts()
                .set_status(&record.id, status, Some(error.code()))
                .await
            {
                tracing::warn!(code = write.code(), "the account status could not be saved");
            }
            self.changed();
            if announce {
                // The scheduler would only fail the same way: it waits for a new sign-in.
                self.untrack(&record.id);
                if status != record.status {
                    let directory = self.directory().await;
                    let account = directory.as_ref().map_or_else(
                        |_| record.identity.username.clone(),
                        |directory| directory.qualified_name(record),
                    );
                    self.emit(serde_json::json!({
                        "event": "needs_attention",
                        "account": account,
                        "code": error.code(),
                    }));
                }
            }
        }
        Err(error)
    }

    /// Keeps `record` fresh: refreshed before `expires_at`.
    pub(super) fn track(&self, record: &AccountRecord, expires_at: i64) {
        lock(&self.inner.tracked).insert(record.id.clone());
        self.inner.scheduler.track(Tracked {
            account: record.id.clone(),
            expires_at,
            last_refreshed_at: record
                .last_refresh_at
                .unwrap_or_else(crate::token::now_unix),
            keep_fresh: true,
        });
    }

    /// Keeps `record` fresh after a refresh that just stored `stored`: the scheduler times
    /// the next one from this token's life, not from the directory's older record.
    fn track_refreshed(&self, record: &AccountRecord, stored: &StoredAccount) {
        lock(&self.inner.tracked).insert(record.id.clone());
        self.inner.scheduler.track(Tracked {
            account: record.id.clone(),
            expires_at: stored.tokens.expires_at,
            last_refreshed_at: stored.tokens.obtained_at,
            keep_fresh: true,
        });
    }

    pub(super) fn untrack(&self, record_id: &str) {
        lock(&self.inner.tracked).remove(record_id);
        self.inner.scheduler.untrack(record_id);
    }

    /// At start: every account that can still refresh. The expiries come in one query, not
    /// one lookup per account: with 10,000 accounts those took seconds, and the tokens
    /// expiring in the meantime were lost.
    pub(super) async fn track_all(&self) -> Result<()> {
        let directory = self.reload_directory().await?;
        let expiries = self.inner.store.tokens().latest_expiries().await?;
        for record in &directory.accounts {
            if matches!(
                record.status,
                AccountStatus::NeedsSignIn | AccountStatus::InteractionRequired
            ) {
                continue;
            }
            self.track(record, expiries.get(&record.id).copied().unwrap_or(0));
        }
        Ok(())
    }

    /// Scheduler events, with account record ids replaced by names people know, go out on
    /// the service's event channel; an account that needs attention leaves the schedule.
    pub(super) fn forward_scheduler_events(&self) {
        let mut events = self.inner.scheduler.subscribe();
        let service = std::sync::Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                let event = match events.recv().await {
                    Ok(event) => event,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                };
                let Some(inner) = service.upgrade() else {
                    return;
                };
                let service = TokenService { inner };
                let mut value = serde_json::to_value(&event).unwrap_or_default();
                let record_id = match &event {
                    SchedulerEvent::Refreshed { account, .. }
                    | SchedulerEvent::RetryScheduled { account, .. }
                    | SchedulerEvent::NeedsAttention { account, .. } => Some(account.clone()),
                    SchedulerEvent::ClockJumped { .. } => None,
                };
                if let Some(record_id) = record_id {
                    if matches!(event, SchedulerEvent::NeedsAttention { .. }) {
                        lock(&service.inner.tracked).remove(&record_id);
                    }
                    if let Ok(directory) = service.directory().await
                        && let Some(record) = directory
                            .accounts
                            .iter()
                            .find(|record| record.id == record_id)
                    {
                        value["account"] = directory.qualified_name(record).into();
                    }
                }
                let _ = service.inner.events.send(value);
            }
        });
    }
}
