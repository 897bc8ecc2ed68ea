//! The in-memory index of access tokens: account id → its access tokens, still SEALED, with
//! their scopes and expiry. [`Store::valid_access_token`] answers from it without reading a
//! table; only the chosen token is opened (one XChaCha20-Poly1305 decryption, microseconds).
//!
//! Why sealed: the daemon may hold 10,000 accounts; keeping every access token in the clear in
//! its memory for hours would put them all in core dumps and swap for no gain, since opening
//! one costs far less than the lookup budget. Plaintext exists only in the `Secret` handed out.
//!
//! Freshness: a write made through this `Store` drops what it touched at once (the writers call
//! [`TokenIndex::forget`] / [`TokenIndex::clear`]), and before each lookup the store reads
//! `PRAGMA data_version` on its watch connection (`watch`): SQLite changes that number
//! whenever any other connection, in this process or another, commits. A changed number
//! drops the accounts whose tokens changed since the index last looked, which triggers record
//! in `token_changes` (one row per account, the revision of its last change): with thousands
//! of accounts refreshing, one refresh no longer empties the whole index. That pragma reads
//! the WAL index in shared memory, not a table, on the caller's thread, and one reading
//! serves the lookups of the next millisecond: another process's write is seen at most that
//! late, and until then the index can only hand out a token that is still valid by its own
//! expiry. The audit trail commits on that same connection, so handing out tokens does not
//! move the number.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sqlx::Row;

use super::db::Store;
use super::sql::sql_error;
use super::tokens::access_context;
use crate::error::{Error, Result};
use crate::scopes::Scopes;
use crate::secret::Secret;

#[derive(Debug, Clone)]
struct IndexedToken {
    scope_key: String,
    scopes: Scopes,
    token_type: String,
    expires_at: i64,
    sealed: Vec<u8>,
}

#[derive(Debug, Default)]
struct State {
    /// The watch connection's data_version the entries are current for.
    data_version: Option<i64>,
    /// The newest `token_changes` revision seen: a new data_version forgets only the
    /// accounts changed after it.
    revision: Option<i64>,
    /// Moves on every `forget` and `clear`, so that a lookup that read the database before
    /// one of them does not put back what it dropped.
    epoch: u64,
    accounts: HashMap<String, Arc<[IndexedToken]>>,
}

#[derive(Debug, Default)]
pub(crate) struct TokenIndex {
    state: Mutex<State>,
}

impl TokenIndex {
    fn with<T>(&self, action: impl FnOnce(&mut State) -> T) -> T {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        action(&mut state)
    }

    /// Drops one account's entries (its tokens were written or removed).
    pub(crate) fn forget(&self, account_id: &str) {
        self.with(|state| {
            state.accounts.remove(account_id);
            state.epoch += 1;
        });
    }

    /// Drops everything.
    pub(crate) fn clear(&self) {
        self.with(|state| {
            state.accounts.clear();
            state.epoch += 1;
        });
    }

    /// How many accounts are indexed (for tests and the benchmarks).
    pub(crate) fn len(&self) -> usize {
        self.with(|state| state.accounts.len())
    }
}

/// An access token from the index: what a caller asking for a token needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedToken {
    pub access_token: Secret,
    pub token_type: String,
    pub scopes: Scopes,
    pub expires_at: i64,
}

impl Store {
    /// The newest access token of `account_id` that covers `scopes` (or, with none asked, the
    /// newest) and is still valid at `now` plus `margin_secs`; `None` when there is none, and
    /// the caller should refresh. Served from the in-memory index.
    pub async fn valid_access_token(
        &self,
        account_id: &str,
        scopes: Option<&Scopes>,
        now: i64,
        margin_secs: i64,
    ) -> Result<Option<CachedToken>> {
        let version = self.inner.watch.data_version()?;
        let index = &self.inner.index;
        let moved_since =
            index.with(|state| (state.data_version != Some(version)).then_some(state.revision));
        if let Some(revision) = moved_since {
            // Read after `version`, so it holds at least every change that moved it.
            let changes = self.inner.watch.token_changes_since(revision)?;
            index.with(|state| {
                if state.data_version == Some(version) {
                    return;
                }
                if revision.is_none() {
                    state.accounts.clear();
                }
                for account in &changes.accounts {
                    state.accounts.remove(account);
                }
                state.revision = Some(changes.newest.max(state.revision.unwrap_or(0)));
                state.data_version = Some(version);
            });
        }
        let cached =
            index.with(|state| (state.epoch, state.accounts.get(account_id).map(Arc::clone)));
        let entries = match cached {
            (_, Some(entries)) => entries,
            (epoch, None) => {
                let entries: Arc<[IndexedToken]> =
                    self.load_index_entries(account_id).await?.into();
                index.with(|state| {
                    if state.data_version == Some(version) && state.epoch == epoch {
                        state
                            .accounts
                            .insert(account_id.to_owned(), Arc::clone(&entries));
                    }
                });
                entries
            }
        };
        let best = entries
            .iter()
            .filter(|entry| entry.expires_at > now.saturating_add(margin_secs))
            .filter(|entry| scopes.is_none_or(|wanted| entry.scopes.covers_access(wanted)))
            .max_by_key(|entry| entry.expires_at);
        let Some(best) = best else {
            return Ok(None);
        };
        let access_token = self
            .sealer()
            .open(&best.sealed, &access_context(account_id, &best.scope_key))
            .map_err(Error::Sealed)?;
        Ok(Some(CachedToken {
            access_token,
            token_type: best.token_type.clone(),
            scopes: best.scopes.clone(),
            expires_at: best.expires_at,
        }))
    }

    /// How many accounts the index holds now.
    pub fn indexed_accounts(&self) -> usize {
        self.inner.index.len()
    }

    async fn load_index_entries(&self, account_id: &str) -> Result<Vec<IndexedToken>> {
        let rows = sqlx::query(
            "SELECT scope_key, scopes, token_type, expires_at, access_token FROM tokens \
             WHERE account_id = ?",
        )
        .bind(account_id)
        .fetch_all(&self.inner.pool)
        .await
        .map_err(sql_error)?;
        rows.iter()
            .map(|row| {
                let scopes: String = row.try_get("scopes").map_err(sql_error)?;
                Ok(IndexedToken {
                    scope_key: row.try_get("scope_key").map_err(sql_error)?,
                    scopes: serde_json::from_str(&scopes).unwrap_or_default(),
                    token_type: row.try_get("token_type").map_err(sql_error)?,
                    expires_at: row.try_get("expires_at").map_err(sql_error)?,
                    sealed: row.try_get("access_token").map_err(sql_error)?,
                })
            })
            .collect()
    }
}
