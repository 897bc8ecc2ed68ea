//! python-o365's `EnvTokenBackend`: the MSAL cache JSON in an environment variable (default
//! `O365TOKEN`), for containers and CI jobs that receive tokens that way.
//!
//! Process-local by nature: the variable is read once, when the backend is made; changes stay
//! in this process's copy (behind a mutex) and [`EnvBackend::to_json`] gives the text to hand
//! on. python-o365 writes `os.environ`, which no parent shell ever sees either; its only reach
//! is a child process started later, which inherits the new value. We do not write the
//! environment at all: `set_var` is `unsafe` since Rust 2024 because another thread may read
//! the environment meanwhile (`getenv` in libc, in a DNS lookup or a TLS library), and a
//! process-wide lock of ours cannot make those readers take it. A caller that starts a child
//! passes the tokens on explicitly, `Command::env(DEFAULT_VARIABLE, backend.to_json())`,
//! which changes only the child's environment.
//!
//! `lock_refresh` has nothing to coordinate with: no other process can see these tokens.

use std::sync::Mutex;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::{AppKey, RefreshGuard, StoredAccount, TokenBackend, msal_mapping};
use crate::error::{Error, Result};
use crate::msal_cache::MsalCache;
use crate::scopes::Scopes;
use crate::token::{AccountIdentity, TokenSet};

/// python-o365's default variable name.
pub const DEFAULT_VARIABLE: &str = "O365TOKEN";

#[derive(Debug)]
pub struct EnvBackend {
    variable: String,
    cache: Mutex<MsalCache>,
}

impl EnvBackend {
    /// Reads `variable` (absent or empty = no tokens). A value that is not an MSAL cache is
    /// an error naming the variable, never its content.
    pub fn from_env(variable: &str) -> Result<Self> {
        let text = match std::env::var(variable) {
            Ok(text) => text,
            Err(std::env::VarError::NotPresent) => String::new(),
            // Not "no tokens": a save would then hand on a cache without what the variable held.
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(Error::TokenFile {
                    path: format!("${variable}"),
                    reason: "the value is not UTF-8, so it is no MSAL token cache".into(),
                });
            }
        };
        Self::from_text(variable, &text)
    }

    /// [`EnvBackend::from_env`] with python-o365's variable, `O365TOKEN`.
    pub fn from_default_env() -> Result<Self> {
        Self::from_env(DEFAULT_VARIABLE)
    }

    /// As [`EnvBackend::from_env`], from the variable's text.
    pub fn from_text(variable: &str, text: &str) -> Result<Self> {
        let cache = MsalCache::parse(text).map_err(|error| Error::TokenFile {
            path: format!("${variable}"),
            reason: error.to_string(),
        })?;
        Ok(EnvBackend {
            variable: variable.to_owned(),
            cache: Mutex::new(cache),
        })
    }

    pub fn variable(&self) -> &str {
        &self.variable
    }

    /// The current cache as MSAL JSON, to put back into the variable of a child or a later run.
    pub fn to_json(&self) -> String {
        self.with_cache(|cache| cache.to_json())
    }

    fn with_cache<T>(&self, action: impl FnOnce(&mut MsalCache) -> T) -> T {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        action(&mut cache)
    }
}

impl TokenBackend for EnvBackend {
    fn accounts<'a>(&'a self, app: &'a AppKey) -> BoxFuture<'a, Result<Vec<AccountIdentity>>> {
        let found = self.with_cache(|cache| msal_mapping::identities(cache, app));
        async move { Ok(found) }.boxed()
    }

    fn load<'a>(
        &'a self,
        app: &'a AppKey,
        account: &'a str,
        scopes: Option<&'a Scopes>,
    ) -> BoxFuture<'a, Result<Option<StoredAccount>>> {
        let found = self.with_cache(|cache| msal_mapping::load(cache, app, account, scopes));
        async move { Ok(found) }.boxed()
    }

    fn save<'a>(
        &'a self,
        app: &'a AppKey,
        identity: &'a AccountIdentity,
        tokens: &'a TokenSet,
    ) -> BoxFuture<'a, Result<()>> {
        self.with_cache(|cache| msal_mapping::save(cache, app, identity, tokens));
        async { Ok(()) }.boxed()
    }

    fn remove<'a>(&'a self, app: &'a AppKey, account: &'a str) -> BoxFuture<'a, Result<bool>> {
        let removed = self.with_cache(|cache| msal_mapping::remove(cache, app, account));
        async move { Ok(removed) }.boxed()
    }

    fn clear<'a>(&'a self, app: &'a AppKey) -> BoxFuture<'a, Result<()>> {
        self.with_cache(|cache| {
            for identity in msal_mapping::identities(cache, app) {
                msal_mapping::remove(cache, app, &identity.home_account_id);
            }
        });
        async { Ok(()) }.boxed()
    }

    fn has_data(&self) -> BoxFuture<'_, Result<bool>> {
        let any = self.with_cache(|cache| !cache.is_empty());
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
    use crate::backend::contract;

    #[tokio::test]
    async fn env_backend_keeps_the_contract_and_round_trips_its_text() {
        let backend = EnvBackend::from_text(DEFAULT_VARIABLE, "").unwrap();
        contract::check(&backend).await;
        let app = contract::app();
        let tokens = contract::tokens(
            "at-env",
            Some("rt-env"),
            "https://graph.microsoft.com/User.Read",
            9_999,
        );
        backend
            .save(&app, &contract::identity("alice"), &tokens)
            .await
            .unwrap();
        let next_run = EnvBackend::from_text(DEFAULT_VARIABLE, &backend.to_json()).unwrap();
        let loaded = next_run
            .load(&app, "alice@contoso.com", None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(loaded.tokens.refresh_token.unwrap().expose(), "rt-env");
    }

    #[test]
    fn a_bad_value_names_the_variable_not_the_content() {
        let error =
            EnvBackend::from_text("O365TOKEN", "{\"access_token\": \"leaky\"}").unwrap_err();
        assert!(error.to_string().contains("$O365TOKEN"), "{error}");
        assert!(!error.to_string().contains("leaky"));
        let from_missing = EnvBackend::from_env("O365_AUTH_TEST_SURELY_UNSET").unwrap();
        assert!(from_missing.to_json().len() < 10);
    }
}
