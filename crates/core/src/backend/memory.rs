//! Tokens kept in memory only: for tests, serverless runs and "bring your own token"
//! (python-o365's `MemoryTokenBackend`, which read-only file systems need, its issue #833).

use std::sync::Mutex;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::{AppKey, RefreshGuard, StoredAccount, TokenBackend, best_token};
use crate::error::Result;
use crate::scopes::Scopes;
use crate::token::{AccountIdentity, TokenSet};

#[derive(Debug, Default)]
pub struct MemoryBackend {
    entries: Mutex<Vec<Entry>>,
}

#[derive(Debug, Clone)]
struct Entry {
    app: AppKey,
    identity: AccountIdentity,
    tokens: Vec<TokenSet>,
}

impl MemoryBackend {
    pub fn new() -> Self {
        Self::default()
    }

    fn with_entries<T>(&self, action: impl FnOnce(&mut Vec<Entry>) -> T) -> T {
        // A panic elsewhere while holding the lock leaves plain data behind; keep using it.
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        action(&mut entries)
    }
}

fn matches(entry: &Entry, app: &AppKey, account: &str) -> bool {
    entry.app == *app && entry.identity.is_named(account)
}

/// Merges `tokens` into an account's token list by the [`TokenBackend`] contract.
pub(crate) fn merge_tokens(stored: &mut Vec<TokenSet>, tokens: &TokenSet) {
    let key = tokens.scopes.cache_key();
    stored.retain(|existing| existing.scopes.cache_key() != key);
    if let Some(refresh_token) = &tokens.refresh_token {
        for existing in stored.iter_mut() {
            existing.refresh_token = Some(refresh_token.clone());
        }
    }
    let inherited = match stored.first() {
        Some(previous) => tokens.clone().inherit_from(previous),
        None => tokens.clone(),
    };
    stored.push(inherited);
}

impl TokenBackend for MemoryBackend {
    fn accounts<'a>(&'a self, app: &'a AppKey) -> BoxFuture<'a, Result<Vec<AccountIdentity>>> {
        let found = self.with_entries(|entries| {
            entries
                .iter()
                .filter(|entry| entry.app == *app)
                .map(|entry| entry.identity.clone())
                .collect()
        });
        async move { Ok(found) }.boxed()
    }

    fn load<'a>(
        &'a self,
        app: &'a AppKey,
        account: &'a str,
        scopes: Option<&'a Scopes>,
    ) -> BoxFuture<'a, Result<Option<StoredAccount>>> {
        let found = self.with_entries(|entries| {
            let entry = entries.iter().find(|entry| matches(entry, app, account))?;
            let tokens = best_token(&entry.tokens, scopes)?;
            Some(StoredAccount {
                identity: entry.identity.clone(),
                tokens: tokens.clone(),
            })
        });
        async move { Ok(found) }.boxed()
    }

    fn save<'a>(
        &'a self,
        app: &'a AppKey,
        identity: &'a AccountIdentity,
        tokens: &'a TokenSet,
    ) -> BoxFuture<'a, Result<()>> {
        self.with_entries(|entries| {
            let position = entries.iter().position(|entry| {
                entry.app == *app && entry.identity.home_account_id == identity.home_account_id
            });
            match position {
                Some(index) => {
                    let entry = &mut entries[index];
                    entry.identity = identity.clone();
                    merge_tokens(&mut entry.tokens, tokens);
                }
                None => entries.push(Entry {
                    app: app.clone(),
                    identity: identity.clone(),
                    tokens: vec![tokens.clone()],
                }),
            }
        });
        async { Ok(()) }.boxed()
    }

    fn remove<'a>(&'a self, app: &'a AppKey, account: &'a str) -> BoxFuture<'a, Result<bool>> {
        let removed = self.with_entries(|entries| {
            let before = entries.len();
            entries.retain(|entry| !matches(entry, app, account));
            entries.len() != before
        });
        async move { Ok(removed) }.boxed()
    }

    fn clear<'a>(&'a self, app: &'a AppKey) -> BoxFuture<'a, Result<()>> {
        self.with_entries(|entries| entries.retain(|entry| entry.app != *app));
        async { Ok(()) }.boxed()
    }

    fn has_data(&self) -> BoxFuture<'_, Result<bool>> {
        let any = self.with_entries(|entries| !entries.is_empty());
        async move { Ok(any) }.boxed()
    }

    fn lock_refresh<'a>(
        &'a self,
        _app: &'a AppKey,
        _account: &'a str,
    ) -> BoxFuture<'a, Result<RefreshGuard>> {
        async { Ok(RefreshGuard::unshared()) }.boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_backend_keeps_the_contract() {
        super::super::contract::check(&MemoryBackend::new()).await;
    }
}
