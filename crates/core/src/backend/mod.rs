//! Where an account's tokens live between runs: the [`TokenBackend`] trait and its simple
//! implementations (memory, an environment variable, an MSAL cache file). The SQLite store
//! implements the same trait.
//!
//! python-o365's backends load and save one whole cache blob; two processes sharing a file lose
//! each other's accounts (audit §7.9). Ours work per account: `save` merges one account's tokens
//! into what is stored now, and [`TokenBackend::lock_refresh`] lets processes take turns
//! refreshing (python-o365's `should_refresh_token` hook, made a lock).

mod env;
mod file;
mod memory;
pub(crate) mod msal_mapping;
mod transfer;

use futures_util::future::BoxFuture;

use crate::error::Result;
use crate::scopes::Scopes;
use crate::secret::Secret;
use crate::token::{AccountIdentity, ClientInfo, IdTokenClaims, TokenSet};

pub use env::{DEFAULT_VARIABLE, EnvBackend};
pub use file::{DEFAULT_FILE_NAME, FileBackend};
pub use memory::MemoryBackend;
pub use transfer::copy_accounts;

/// Which app and authority tokens belong to: MSAL keys its cache the same way (`client_id`,
/// `environment` = authority host, `realm` = the authority's tenant segment).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AppKey {
    pub client_id: String,
    pub environment: String,
    pub realm: String,
}

/// One account with the tokens a backend holds for it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAccount {
    pub identity: AccountIdentity,
    /// The access token that best covers the scopes asked for (else the newest), carrying the
    /// account's refresh token and ID token.
    pub tokens: TokenSet,
}

/// Everything stored for one account: its refresh and ID tokens and EVERY access token (one per
/// scope set), where [`StoredAccount`] has only the best one. What import and export move
/// between a token file and the store.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountSnapshot {
    pub identity: AccountIdentity,
    pub refresh_token: Option<Secret>,
    pub id_token: Option<Secret>,
    pub id_token_claims: Option<IdTokenClaims>,
    pub client_info: Option<ClientInfo>,
    /// One per scope set, oldest first; their `refresh_token`, `id_token`, `id_token_claims`
    /// and `client_info` are empty (those are the account's, above).
    pub access_tokens: Vec<TokenSet>,
    /// When these tokens were last written: the refresh token's time, else the newest access
    /// token's. `None` when the source does not say.
    pub updated_at: Option<i64>,
}

impl AccountSnapshot {
    /// `tokens` with the account's refresh token, ID token and client info filled in.
    pub fn with_account_secrets(&self, tokens: &TokenSet) -> TokenSet {
        TokenSet {
            refresh_token: self.refresh_token.clone(),
            id_token: self.id_token.clone(),
            id_token_claims: self.id_token_claims.clone(),
            client_info: self.client_info.clone(),
            ..tokens.clone()
        }
    }

    /// The access tokens still valid `margin_secs` after `now`.
    pub fn valid_access_tokens(
        &self,
        now: i64,
        margin_secs: i64,
    ) -> impl Iterator<Item = &TokenSet> {
        self.access_tokens
            .iter()
            .filter(move |tokens| tokens.expires_at > now.saturating_add(margin_secs))
    }
}

/// Held while this process refreshes an account; dropping it lets others refresh.
pub struct RefreshGuard(#[allow(dead_code)] Box<dyn Send + Sync>);

impl RefreshGuard {
    pub fn new(inner: impl Send + Sync + 'static) -> Self {
        RefreshGuard(Box::new(inner))
    }

    /// For backends only one process can use (memory, environment).
    pub fn unshared() -> Self {
        RefreshGuard::new(())
    }
}

/// Persistent token storage for accounts of one or more apps.
///
/// Contract, relied on by [`crate::account::Account`]:
/// - `save` is an upsert of one account: its refresh token is replaced when the answer carries
///   one, the access token for the same scope set is replaced, other scope sets and other
///   accounts are kept. It is atomic: a crash leaves the old or the new state, never a mix.
/// - `load` re-reads storage every time (another process may have refreshed).
/// - Usernames match ignoring case; `account` also accepts a home account id.
/// - Refresh protocol: `lock_refresh`, then `load` again; refresh only if the reloaded token
///   still needs it; `save`; drop the guard.
pub trait TokenBackend: Send + Sync {
    /// Every account stored for `app`, in the order they were first saved.
    fn accounts<'a>(&'a self, app: &'a AppKey) -> BoxFuture<'a, Result<Vec<AccountIdentity>>>;

    /// The account named `account` (username or home account id) with the token covering
    /// `scopes` if one does, else its newest token.
    fn load<'a>(
        &'a self,
        app: &'a AppKey,
        account: &'a str,
        scopes: Option<&'a Scopes>,
    ) -> BoxFuture<'a, Result<Option<StoredAccount>>>;

    fn save<'a>(
        &'a self,
        app: &'a AppKey,
        identity: &'a AccountIdentity,
        tokens: &'a TokenSet,
    ) -> BoxFuture<'a, Result<()>>;

    /// Forgets the account (sign-out). `false` when nothing was stored under that name.
    fn remove<'a>(&'a self, app: &'a AppKey, account: &'a str) -> BoxFuture<'a, Result<bool>>;

    /// Forgets every account of `app` (python-o365's `delete_token` / `clear_token_cache`).
    fn clear<'a>(&'a self, app: &'a AppKey) -> BoxFuture<'a, Result<()>>;

    /// Whether anything at all is stored (python-o365's `check_token`).
    fn has_data(&self) -> BoxFuture<'_, Result<bool>>;

    /// Waits until this process may refresh `account` (other processes sharing the storage
    /// wait meanwhile).
    fn lock_refresh<'a>(
        &'a self,
        app: &'a AppKey,
        account: &'a str,
    ) -> BoxFuture<'a, Result<RefreshGuard>>;
}

/// Picks, among an account's access tokens, the one to hand out for `scopes`: one that covers
/// them (the newest such), else — when no scopes were asked — the newest of all.
pub fn best_token<'a>(candidates: &'a [TokenSet], scopes: Option<&Scopes>) -> Option<&'a TokenSet> {
    let newest = |tokens: Vec<&'a TokenSet>| tokens.into_iter().max_by_key(|t| t.expires_at);
    match scopes {
        Some(wanted) if !wanted.is_empty() => {
            let wanted = wanted.clone().without_oidc_scopes();
            newest(
                candidates
                    .iter()
                    .filter(|tokens| tokens.scopes.covers(&wanted))
                    .collect(),
            )
        }
        _ => newest(candidates.iter().collect()),
    }
}

#[cfg(test)]
pub(crate) mod contract {
    //! The behaviour every backend must show; each backend's tests run it.

    use super::*;
    use crate::secret::Secret;

    pub fn app() -> AppKey {
        AppKey {
            client_id: "client-1".into(),
            environment: "login.microsoftonline.com".into(),
            realm: "common".into(),
        }
    }

    pub fn identity(name: &str) -> AccountIdentity {
        AccountIdentity {
            home_account_id: format!("{name}-oid.tenant-1"),
            username: format!("{name}@contoso.com"),
            display_name: Some(name.to_owned()),
            tenant_id: "tenant-1".into(),
            local_account_id: Some(format!("{name}-oid")),
        }
    }

    pub fn tokens(access: &str, refresh: Option<&str>, scopes: &str, expires_at: i64) -> TokenSet {
        TokenSet {
            access_token: Secret::new(access),
            token_type: "Bearer".into(),
            refresh_token: refresh.map(Secret::new),
            id_token: None,
            id_token_claims: None,
            client_info: None,
            scopes: Scopes::from_granted(scopes),
            obtained_at: expires_at - 3600,
            expires_at,
            ext_expires_at: None,
            refresh_on: None,
        }
    }

    /// Runs the shared contract against a fresh, empty backend.
    pub async fn check(backend: &dyn TokenBackend) {
        let app = app();
        let (alice, bob) = (identity("alice"), identity("bob"));
        assert!(!backend.has_data().await.unwrap());
        assert!(backend.accounts(&app).await.unwrap().is_empty());
        assert!(
            backend
                .load(&app, "alice@contoso.com", None)
                .await
                .unwrap()
                .is_none()
        );

        let graph = tokens(
            "at-graph",
            Some("rt-1"),
            "https://graph.microsoft.com/User.Read",
            2_000,
        );
        backend.save(&app, &alice, &graph).await.unwrap();
        backend
            .save(
                &app,
                &bob,
                &tokens(
                    "at-bob",
                    Some("rt-bob"),
                    "https://graph.microsoft.com/User.Read",
                    2_000,
                ),
            )
            .await
            .unwrap();
        assert!(backend.has_data().await.unwrap());
        let names: Vec<String> = backend
            .accounts(&app)
            .await
            .unwrap()
            .into_iter()
            .map(|identity| identity.username)
            .collect();
        assert_eq!(names, ["alice@contoso.com", "bob@contoso.com"]);

        // A second scope set without a refresh token keeps the account's refresh token and
        // the first scope set's access token.
        let outlook = tokens(
            "at-outlook",
            None,
            "https://outlook.office.com/IMAP.AccessAsUser.All",
            3_000,
        );
        backend.save(&app, &alice, &outlook).await.unwrap();
        let imap = Scopes::from_granted("https://outlook.office.com/IMAP.AccessAsUser.All");
        let loaded = backend
            .load(&app, "ALICE@contoso.com", Some(&imap))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(loaded.tokens.access_token.expose(), "at-outlook");
        assert_eq!(
            loaded.tokens.refresh_token.as_ref().map(Secret::expose),
            Some("rt-1")
        );
        let user_read = Scopes::from_granted("https://graph.microsoft.com/user.read");
        let loaded = backend
            .load(&app, &alice.home_account_id, Some(&user_read))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(loaded.tokens.access_token.expose(), "at-graph");
        assert_eq!(loaded.identity, alice);

        // A refresh that rotates the refresh token replaces it for every scope set.
        backend
            .save(
                &app,
                &alice,
                &tokens(
                    "at-graph-2",
                    Some("rt-2"),
                    "https://graph.microsoft.com/User.Read",
                    4_000,
                ),
            )
            .await
            .unwrap();
        let loaded = backend
            .load(&app, "alice@contoso.com", Some(&imap))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            loaded.tokens.refresh_token.as_ref().map(Secret::expose),
            Some("rt-2")
        );
        let newest = backend
            .load(&app, "alice@contoso.com", None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(newest.tokens.access_token.expose(), "at-graph-2");

        // Another app's accounts are separate.
        let other = AppKey {
            client_id: "client-2".into(),
            ..app.clone()
        };
        assert!(backend.accounts(&other).await.unwrap().is_empty());

        drop(
            backend
                .lock_refresh(&app, "alice@contoso.com")
                .await
                .unwrap(),
        );

        assert!(backend.remove(&app, "Bob@Contoso.com").await.unwrap());
        assert!(!backend.remove(&app, "bob@contoso.com").await.unwrap());
        assert_eq!(backend.accounts(&app).await.unwrap().len(), 1);
        backend.clear(&app).await.unwrap();
        assert!(backend.accounts(&app).await.unwrap().is_empty());
    }
}
