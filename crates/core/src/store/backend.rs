//! [`StoreBackend`]: the store as a [`TokenBackend`], so an [`crate::account::Account`] keeps
//! its tokens in the store.
//!
//! Mapping: an [`AppKey`] (client id, environment = authority host, realm = tenant segment)
//! names at most one app registration (`UNIQUE (client_id, environment, tenant)`). Reading an
//! app key nobody registered finds nothing; the first `save` for it creates a registration
//! with `source = 'backend'` (named `<client id>@<environment>/<realm>`, flow `public`, no
//! redirect), which a person can later rename or complete. Account names are usernames (any
//! case), home account ids or aliases.
//!
//! Refresh turns (`lock_refresh`), in two layers:
//! 1. In this process: one async mutex per (app, account), so tasks queue without polling.
//! 2. Across processes: a lease row in `refresh_leases`, taken in a `BEGIN IMMEDIATE`
//!    transaction when free, expired (a holder that died), or already ours. A waiting process
//!    polls every 50–250 ms. The guard deletes its lease on drop (on the runtime; if there is
//!    none the lease simply expires after [`LEASE_TTL_SECS`]). A lease whose holder process
//!    is gone (killed mid-refresh) is taken over at once (`holder`).
//!
//! This is independent of [`super::Ownership`]: the owner process runs the scheduler, but a
//! client that refreshes on its own (a script on `StoreBackend`, the CLI with no daemon) takes
//! the same per-account turn, so no account is ever refreshed by two processes at once and a
//! rotated refresh token is never lost to a race.

use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::accounts::{AccountSource, fold};
use super::apps::{AppFields, AppSource, FlowType, NewAppRegistration, RedirectKind};
use super::db::Store;
use super::holder::is_gone;
use super::sql::{new_id, sql_error};
use crate::backend::{AppKey, RefreshGuard, StoredAccount, TokenBackend};
use crate::error::{Error, Result};
use crate::scopes::Scopes;
use crate::token::{AccountIdentity, TokenSet, now_unix};

/// A lease older than this is taken over: its holder died or hung.
pub const LEASE_TTL_SECS: i64 = 120;
/// How long `lock_refresh` waits for another process's turn before giving up.
pub const LEASE_WAIT: Duration = Duration::from_secs(150);

/// The store seen through the [`TokenBackend`] contract.
#[derive(Debug, Clone)]
pub struct StoreBackend {
    store: Store,
}

impl StoreBackend {
    pub fn new(store: Store) -> Self {
        StoreBackend { store }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    async fn app_id(&self, app: &AppKey) -> Result<Option<String>> {
        Ok(self
            .store
            .apps()
            .by_app_key(&app.client_id, &app.environment, &app.realm)
            .await?
            .map(|registration| registration.id))
    }

    async fn app_id_or_create(&self, app: &AppKey) -> Result<String> {
        if let Some(id) = self.app_id(app).await? {
            return Ok(id);
        }
        let new = NewAppRegistration {
            fields: AppFields {
                name: format!("{}@{}/{}", app.client_id, app.environment, app.realm),
                client_id: app.client_id.clone(),
                tenant: app.realm.clone(),
                environment: app.environment.clone(),
                authority: serde_json::json!({
                    "authority": format!("https://{}/{}", app.environment, app.realm)
                })
                .to_string(),
                flow_type: FlowType::Public,
                redirect_kind: RedirectKind::None,
                protocol: serde_json::Value::Null,
                default_scopes: Vec::new(),
            },
            client_secret: None,
            certificate: None,
            source: AppSource::Backend,
        };
        match self.store.apps().add(&new).await {
            Ok(registration) => Ok(registration.id),
            // Another process registered it meanwhile.
            Err(error @ Error::InvalidInput { .. }) => self.app_id(app).await?.ok_or(error),
            Err(error) => Err(error),
        }
    }

    async fn lock(&self, app: &AppKey, account: &str) -> Result<RefreshGuard> {
        // Keyed by the app key and the account's home account id (the folded name when the
        // account is not stored), so every name of an account takes the same turn.
        let account_part = match self.app_id(app).await? {
            Some(app_id) => self
                .store
                .accounts()
                .find(&app_id, account)
                .await?
                .map(|record| record.identity.home_account_id),
            None => None,
        }
        .unwrap_or_else(|| fold(account));
        let app_part = format!(
            "{}@{}/{}:{account_part}",
            app.client_id, app.environment, app.realm
        );
        let local = {
            let mut locks = self
                .store
                .inner
                .refresh_locks
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            locks.retain(|_, lock| Arc::strong_count(lock) > 1);
            Arc::clone(locks.entry(app_part.clone()).or_default())
        };
        let local = local.lock_owned().await;
        let lease = self.take_lease(&app_part).await?;
        Ok(RefreshGuard::new(LeaseGuard {
            store: self.store.clone(),
            key: app_part,
            lease,
            _local: local,
        }))
    }

    async fn take_lease(&self, key: &str) -> Result<String> {
        let lease = new_id();
        let deadline = tokio::time::Instant::now() + LEASE_WAIT;
        let mut pause = Duration::from_millis(50);
        loop {
            if self.try_lease(key, &lease).await? {
                return Ok(lease);
            }
            if self.release_if_holder_gone(key).await? && self.try_lease(key, &lease).await? {
                return Ok(lease);
            }
            if tokio::time::Instant::now() + pause > deadline {
                return Err(Error::StoreIo {
                    message: format!(
                        "another process has been refreshing this account for over {} s",
                        LEASE_WAIT.as_secs()
                    ),
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(250));
        }
    }

    async fn try_lease(&self, key: &str, lease: &str) -> Result<bool> {
        let now = now_unix();
        let holder = &self.store.inner.holder;
        let done = sqlx::query(
            "INSERT INTO refresh_leases (lock_key, holder, lease, expires_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (lock_key) DO UPDATE SET holder = excluded.holder, \
             lease = excluded.lease, expires_at = excluded.expires_at \
             WHERE refresh_leases.expires_at <= ? OR refresh_leases.holder = excluded.holder",
        )
        .bind(key)
        .bind(holder)
        .bind(lease)
        .bind(now + LEASE_TTL_SECS)
        .bind(now)
        .execute(&self.store.inner.pool)
        .await
        .map_err(sql_error)?;
        Ok(done.rows_affected() > 0)
    }
}

impl StoreBackend {
    /// Deletes the lease on `key` when its holder is a process that no longer runs (killed
    /// mid-refresh), so the turn passes at once instead of after [`LEASE_TTL_SECS`].
    async fn release_if_holder_gone(&self, key: &str) -> Result<bool> {
        let holder: Option<String> =
            sqlx::query_scalar("SELECT holder FROM refresh_leases WHERE lock_key = ?")
                .bind(key)
                .fetch_optional(&self.store.inner.pool)
                .await
                .map_err(sql_error)?;
        let Some(holder) = holder.filter(|holder| is_gone(holder)) else {
            return Ok(false);
        };
        tracing::info!("taking over the refresh turn of a process that ended without releasing it");
        sqlx::query("DELETE FROM refresh_leases WHERE lock_key = ? AND holder = ?")
            .bind(key)
            .bind(&holder)
            .execute(&self.store.inner.pool)
            .await
            .map_err(sql_error)?;
        Ok(true)
    }
}

struct LeaseGuard {
    store: Store,
    key: String,
    lease: String,
    _local: tokio::sync::OwnedMutexGuard<()>,
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (store, key, lease) = (
            self.store.clone(),
            std::mem::take(&mut self.key),
            std::mem::take(&mut self.lease),
        );
        runtime.spawn(async move {
            let _ = sqlx::query("DELETE FROM refresh_leases WHERE lock_key = ? AND lease = ?")
                .bind(key)
                .bind(lease)
                .execute(&store.inner.pool)
                .await;
        });
    }
}

impl TokenBackend for StoreBackend {
    fn accounts<'a>(&'a self, app: &'a AppKey) -> BoxFuture<'a, Result<Vec<AccountIdentity>>> {
        async move {
            let Some(app_id) = self.app_id(app).await? else {
                return Ok(Vec::new());
            };
            let records = self.store.accounts().list(Some(&app_id)).await?;
            Ok(records.into_iter().map(|record| record.identity).collect())
        }
        .boxed()
    }

    fn load<'a>(
        &'a self,
        app: &'a AppKey,
        account: &'a str,
        scopes: Option<&'a Scopes>,
    ) -> BoxFuture<'a, Result<Option<StoredAccount>>> {
        async move {
            let Some(app_id) = self.app_id(app).await? else {
                return Ok(None);
            };
            let Some(record) = self.store.accounts().find(&app_id, account).await? else {
                return Ok(None);
            };
            let tokens = self.store.tokens().best(&record.id, scopes).await?;
            Ok(tokens.map(|tokens| StoredAccount {
                identity: record.identity,
                tokens,
            }))
        }
        .boxed()
    }

    fn save<'a>(
        &'a self,
        app: &'a AppKey,
        identity: &'a AccountIdentity,
        tokens: &'a TokenSet,
    ) -> BoxFuture<'a, Result<()>> {
        async move {
            let app_id = self.app_id_or_create(app).await?;
            self.store
                .tokens()
                .save(&app_id, identity, tokens, AccountSource::SignIn)
                .await?;
            Ok(())
        }
        .boxed()
    }

    fn remove<'a>(&'a self, app: &'a AppKey, account: &'a str) -> BoxFuture<'a, Result<bool>> {
        async move {
            let Some(app_id) = self.app_id(app).await? else {
                return Ok(false);
            };
            match self.store.accounts().find(&app_id, account).await? {
                Some(record) => self.store.accounts().remove(&record.id).await,
                None => Ok(false),
            }
        }
        .boxed()
    }

    fn clear<'a>(&'a self, app: &'a AppKey) -> BoxFuture<'a, Result<()>> {
        async move {
            if let Some(app_id) = self.app_id(app).await? {
                self.store.accounts().remove_all(&app_id).await?;
            }
            Ok(())
        }
        .boxed()
    }

    fn has_data(&self) -> BoxFuture<'_, Result<bool>> {
        async move {
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM accounts)")
                .fetch_one(&self.store.inner.pool)
                .await
                .map_err(sql_error)
        }
        .boxed()
    }

    fn lock_refresh<'a>(
        &'a self,
        app: &'a AppKey,
        account: &'a str,
    ) -> BoxFuture<'a, Result<RefreshGuard>> {
        self.lock(app, account).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::{KeySource, StoreOptions};
    use crate::store::key::DataKey;

    async fn open(dir: &tempfile::TempDir) -> Store {
        Store::open(
            StoreOptions::at(dir.path().join("store.sqlite3"))
                .with_key(KeySource::Key(DataKey::from_bytes([3; 32]))),
        )
        .await
        .expect("open")
    }

    #[tokio::test]
    async fn store_backend_keeps_the_contract() {
        let dir = tempfile::tempdir().expect("dir");
        let store = open(&dir).await;
        crate::backend::contract::check(&StoreBackend::new(store)).await;
    }

    #[tokio::test]
    async fn refresh_turns_exclude_other_stores_until_released() {
        let dir = tempfile::tempdir().expect("dir");
        let first = StoreBackend::new(open(&dir).await);
        let second = StoreBackend::new(open(&dir).await);
        let app = crate::backend::contract::app();
        let guard = first
            .lock_refresh(&app, "alice@contoso.com")
            .await
            .expect("lock");
        let waiting = tokio::spawn({
            let second = second.clone();
            let app = app.clone();
            async move {
                second
                    .lock_refresh(&app, "ALICE@contoso.com")
                    .await
                    .map(|_| ())
            }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !waiting.is_finished(),
            "a second store must wait for the turn"
        );
        // Another account is not blocked.
        drop(
            second
                .lock_refresh(&app, "bob@contoso.com")
                .await
                .expect("bob"),
        );
        drop(guard);
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the turn passes on release")
            .expect("task")
            .expect("lock");
    }

    #[tokio::test]
    async fn a_lease_of_a_process_that_ended_passes_at_once() {
        let dir = tempfile::tempdir().expect("dir");
        let backend = StoreBackend::new(open(&dir).await);
        let app = crate::backend::contract::app();
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        let pid = child.id();
        child.wait().expect("wait");
        let ours = crate::store::holder::new_holder();
        let namespace = ours.split(':').next().expect("namespace");
        sqlx::query(
            "INSERT INTO refresh_leases (lock_key, holder, lease, expires_at) VALUES (?, ?, 'l', ?)",
        )
        .bind("client-1@login.microsoftonline.com/common:alice@contoso.com")
        .bind(format!("{namespace}:{pid}:killed"))
        .bind(now_unix() + LEASE_TTL_SECS)
        .execute(backend.store().pool())
        .await
        .expect("insert");
        drop(
            tokio::time::timeout(
                Duration::from_secs(2),
                backend.lock_refresh(&app, "alice@contoso.com"),
            )
            .await
            .expect("no wait for the TTL")
            .expect("lock"),
        );
    }

    #[tokio::test]
    async fn a_dead_holders_lease_expires() {
        let dir = tempfile::tempdir().expect("dir");
        let backend = StoreBackend::new(open(&dir).await);
        let app = crate::backend::contract::app();
        sqlx::query(
            "INSERT INTO refresh_leases (lock_key, holder, lease, expires_at) VALUES (?, 'gone', 'l', ?)",
        )
        .bind("client-1@login.microsoftonline.com/common:alice@contoso.com")
        .bind(now_unix() - 1)
        .execute(backend.store().pool())
        .await
        .expect("insert");
        drop(
            tokio::time::timeout(
                Duration::from_secs(2),
                backend.lock_refresh(&app, "alice@contoso.com"),
            )
            .await
            .expect("no wait")
            .expect("lock"),
        );
    }
}
