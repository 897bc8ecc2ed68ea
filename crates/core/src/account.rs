//! [`Account`]: python-o365's `Account`, one app registration with its flow, protocol and
//! token backend, holding any number of signed-in users (one of them current).
//!
//! Where python-o365 goes wrong (audit §11) this does not: switching to an idle user refreshes
//! it silently; `is_authenticated` turns false once Microsoft declares the refresh token dead;
//! app-only tokens renew; usernames match ignoring case; refreshes are single-flight within the
//! process and take turns across processes through the backend's refresh lock.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde_json::Value;
use url::Url;

use crate::backend::{AppKey, StoredAccount, TokenBackend};
use crate::connection::{AccessTokenSource, Connection, ConnectionSettings};
use crate::error::{Error, ErrorClass, Result};
use crate::flows::{
    AppConfig, AuthorizeOptions, DeviceCodeChallenge, FlowKind, IdentityClient, PendingFlow,
};
use crate::http::HttpSettings;
use crate::protocol::Protocol;
use crate::request_cap::RequestCap;
use crate::resource::Resource;
use crate::scopes::Scopes;
use crate::secret::Secret;
use crate::token::{AccountIdentity, DEFAULT_REFRESH_MARGIN, TokenSet, now_unix};

/// How an [`Account`] is set up. `scopes` are helper names and literal scopes, expanded by the
/// protocol (python-o365's `requested_scopes`); app-only flows always use `{resource}/.default`.
#[derive(Debug, Clone)]
pub struct AccountConfig {
    pub app: AppConfig,
    pub flow: FlowKind,
    pub protocol: Protocol,
    /// The resource API paths start from; `None` = the protocol's default (`me`), or the
    /// service root for app-only flows (python-o365 drops `me` there too).
    pub main_resource: Option<Resource>,
    pub scopes: Vec<String>,
    pub http: HttpSettings,
    /// Refresh this long before expiry (MSAL's five minutes by default).
    pub refresh_margin: Duration,
    /// Shared with other Accounts: every refresh waits its turn under this cap.
    pub request_cap: Option<Arc<RequestCap>>,
}

impl AccountConfig {
    pub fn new(app: AppConfig, flow: FlowKind, protocol: Protocol) -> Self {
        AccountConfig {
            app,
            flow,
            protocol,
            main_resource: None,
            scopes: vec!["basic".to_owned()],
            http: HttpSettings::default(),
            refresh_margin: DEFAULT_REFRESH_MARGIN,
            request_cap: None,
        }
    }
}

/// What [`Account::tokens_for`] must deliver.
#[derive(Debug, Clone, Default)]
pub struct TokenWanted {
    /// Scopes the access token must cover; `None` = the account's scopes.
    pub scopes: Option<Scopes>,
    /// The token must stay valid at least this long; `None` = the refresh margin.
    pub min_valid: Option<Duration>,
    /// Refresh even if the stored token would do.
    pub force: bool,
    /// A token an API just refused (401): never hand it out again.
    pub rejected: Option<Secret>,
}

pub struct Account {
    config: AccountConfig,
    client: IdentityClient,
    backend: Arc<dyn TokenBackend>,
    app_key: AppKey,
    scopes: Scopes,
    current: Mutex<Option<String>>,
    /// Accounts whose refresh token Microsoft refused (needs sign-in, MFA, consent).
    dead: Mutex<HashSet<String>>,
    /// One refresh at a time per account within this process.
    flights: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for Account {
    /// python-o365's repr: `Account Client Id: …`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Account Client Id: {}", self.config.app.client_id)
    }
}

impl Account {
    pub fn new(config: AccountConfig, backend: Arc<dyn TokenBackend>) -> Result<Self> {
        check_flow_credentials(&config)?;
        let scopes = match config.flow {
            FlowKind::Credentials => config.protocol.app_only_scopes()?,
            _ => config.protocol.expand_scopes(&config.scopes)?,
        };
        if scopes.is_empty() {
            return Err(Error::invalid_input(
                "scopes",
                "at least one scope or helper is needed",
            ));
        }
        let client = IdentityClient::new(config.app.clone(), &config.http)?;
        let app_key = AppKey {
            client_id: config.app.client_id.clone(),
            environment: config.app.authority.environment(),
            realm: config.app.authority.tenant.to_string(),
        };
        Ok(Account {
            config,
            client,
            backend,
            app_key,
            scopes,
            current: Mutex::new(None),
            dead: Mutex::new(HashSet::new()),
            flights: Mutex::new(HashMap::new()),
        })
    }

    pub fn flow(&self) -> FlowKind {
        self.config.flow
    }

    pub fn protocol(&self) -> &Protocol {
        &self.config.protocol
    }

    pub fn identity_client(&self) -> &IdentityClient {
        &self.client
    }

    pub fn app_key(&self) -> &AppKey {
        &self.app_key
    }

    /// The scopes sign-ins and refreshes ask for.
    pub fn scopes(&self) -> &Scopes {
        &self.scopes
    }

    pub fn main_resource(&self) -> Resource {
        match (&self.config.main_resource, self.config.flow) {
            (Some(resource), _) => resource.clone(),
            (None, FlowKind::Credentials | FlowKind::Password)
                if self.config.protocol.default_resource() == &Resource::me() =>
            {
                Resource::service_root()
            }
            (None, _) => self.config.protocol.default_resource().clone(),
        }
    }

    /// `{service url}{main resource}/`: where this account's API paths start.
    pub fn resource_url(&self) -> Url {
        self.config.protocol.resource_url(&self.main_resource())
    }

    // --- signing in -------------------------------------------------------------------

    /// First leg of a browser sign-in (authorization and public flows).
    pub async fn authorization_url(
        &self,
        redirect_uri: &str,
        options: &AuthorizeOptions,
    ) -> Result<(Url, PendingFlow)> {
        self.require_browser_flow()?;
        self.client
            .authorization_url(&self.scopes, redirect_uri, options)
            .await
    }

    /// Second leg: redeems the redirect, stores the tokens, makes that user current.
    pub async fn complete(
        &self,
        redirected: &str,
        pending: &PendingFlow,
    ) -> Result<AccountIdentity> {
        self.require_browser_flow()?;
        let tokens = self.client.complete(redirected, pending).await?;
        self.store_user_tokens(tokens).await
    }

    /// python-o365's `authenticate()` for browser flows: `consent` gets the URL to open and
    /// returns the URL the browser ended on (`None` aborts, as python-o365's handler may).
    pub async fn authenticate<C, F>(
        &self,
        redirect_uri: &str,
        options: &AuthorizeOptions,
        consent: C,
    ) -> Result<AccountIdentity>
    where
        C: FnOnce(Url) -> F,
        F: Future<Output = Option<String>>,
    {
        let (url, pending) = self.authorization_url(redirect_uri, options).await?;
        let redirected = consent(url).await.ok_or(Error::Cancelled)?;
        self.complete(&redirected, &pending).await
    }

    /// Adds another user: a browser sign-in that shows the account picker rather than
    /// reusing the browser's session (python-o365 users needed an incognito window, its #1074).
    pub async fn new_user_url(&self, redirect_uri: &str) -> Result<(Url, PendingFlow)> {
        let options = AuthorizeOptions {
            prompt: Some(crate::flows::Prompt::SelectAccount),
            ..Default::default()
        };
        self.authorization_url(redirect_uri, &options).await
    }

    pub async fn authenticate_with_password(
        &self,
        username: &str,
        password: &Secret,
    ) -> Result<AccountIdentity> {
        if self.config.flow != FlowKind::Password {
            return Err(self.wrong_flow("password"));
        }
        let tokens = self
            .client
            .acquire_by_password(username, password, &self.scopes)
            .await?;
        self.store_user_tokens(tokens).await
    }

    pub async fn start_device_code(&self) -> Result<DeviceCodeChallenge> {
        if self.config.flow != FlowKind::DeviceCode {
            return Err(self.wrong_flow("device code"));
        }
        self.client.start_device_code(&self.scopes).await
    }

    pub async fn finish_device_code(
        &self,
        challenge: &DeviceCodeChallenge,
    ) -> Result<AccountIdentity> {
        let tokens = self.client.finish_device_code(challenge).await?;
        self.store_user_tokens(tokens).await
    }

    /// Client credentials: the app signs in as itself.
    pub async fn authenticate_app(&self) -> Result<AccountIdentity> {
        if self.config.flow != FlowKind::Credentials {
            return Err(self.wrong_flow("client credentials"));
        }
        let tokens = self.client.acquire_for_client(&self.scopes).await?;
        let identity = self.app_identity();
        self.backend.save(&self.app_key, &identity, &tokens).await?;
        self.set_current(&identity);
        Ok(identity)
    }

    async fn store_user_tokens(&self, tokens: TokenSet) -> Result<AccountIdentity> {
        let identity = AccountIdentity::of_user(&tokens).ok_or_else(|| {
            Error::protocol("the sign-in answer names no user (no client_info and no ID token)")
        })?;
        self.backend.save(&self.app_key, &identity, &tokens).await?;
        self.lock(&self.dead).remove(&identity.home_account_id);
        self.set_current(&identity);
        Ok(identity)
    }

    // --- users ------------------------------------------------------------------------

    /// Every user stored for this app, in sign-in order.
    pub async fn accounts(&self) -> Result<Vec<AccountIdentity>> {
        self.backend.accounts(&self.app_key).await
    }

    /// The current user: the last one signed in or switched to, else the first stored (as
    /// python-o365 picks the first cache entry).
    pub async fn current_username(&self) -> Result<Option<String>> {
        if let Some(current) = self.lock(&self.current).clone() {
            return Ok(Some(current));
        }
        Ok(self
            .accounts()
            .await?
            .into_iter()
            .next()
            .map(|identity| identity.username))
    }

    /// Makes `name` (username, any case, or home account id) the current user. Its token is
    /// refreshed on first use if it has expired (python-o365 fails there, its §11.2).
    pub async fn switch_user(&self, name: &str) -> Result<AccountIdentity> {
        let stored = self
            .backend
            .load(&self.app_key, name, None)
            .await?
            .ok_or_else(|| Error::NoAccount {
                name: name.to_owned(),
            })?;
        self.set_current(&stored.identity);
        Ok(stored.identity)
    }

    /// Whether the current user can get a token without signing in: a usable access token or
    /// a refresh token Microsoft has not refused (python-o365 keeps saying yes, its §11.4).
    pub async fn is_authenticated(&self) -> bool {
        let Ok(Some(name)) = self.current_username().await else {
            return false;
        };
        let Ok(Some(stored)) = self
            .backend
            .load(&self.app_key, &name, Some(&self.scopes))
            .await
        else {
            return false;
        };
        if self
            .lock(&self.dead)
            .contains(&stored.identity.home_account_id)
        {
            return false;
        }
        !stored.tokens.is_expired_at(now_unix())
            || stored.tokens.refresh_token.is_some()
            || self.config.flow == FlowKind::Credentials
    }

    /// Signs the user out locally (python-o365's `remove_data`). Microsoft offers no refresh
    /// token revocation endpoint for public clients; the token dies unused after 90 days.
    pub async fn sign_out(&self, name: &str) -> Result<bool> {
        let removed = self.backend.remove(&self.app_key, name).await?;
        let mut current = self.lock(&self.current);
        if current
            .as_deref()
            .is_some_and(|current| current.eq_ignore_ascii_case(name))
        {
            *current = None;
        }
        Ok(removed)
    }

    /// Forgets every user of this app (python-o365's `clear_token_cache`).
    pub async fn clear_token_cache(&self) -> Result<()> {
        self.backend.clear(&self.app_key).await?;
        *self.lock(&self.current) = None;
        Ok(())
    }

    // --- tokens -----------------------------------------------------------------------

    /// A valid access token for the current user, refreshed first when it expires within the
    /// margin. `rejected` is a token an API just refused (401): a different stored token is
    /// used as is, the same one is refreshed even if the clock says it is valid.
    pub async fn access_token(&self, rejected: Option<&Secret>) -> Result<Secret> {
        Ok(self.current_tokens(rejected).await?.access_token)
    }

    /// The current user's tokens, fresh as [`Account::access_token`] makes them.
    pub async fn current_tokens(&self, rejected: Option<&Secret>) -> Result<TokenSet> {
        let name = self
            .current_username()
            .await?
            .ok_or_else(|| Error::NoAccount {
                name: String::new(),
            })?;
        Ok(self.fresh_tokens(&name, rejected).await?.tokens)
    }

    /// Refreshes `name` now, whatever its expiry (python-o365's refresh does nothing while
    /// the token has more than five minutes left, its §11.6).
    pub async fn refresh(&self, name: &str) -> Result<TokenSet> {
        let wanted = TokenWanted {
            force: true,
            ..TokenWanted::default()
        };
        Ok(self.tokens_for(name, &wanted).await?.tokens)
    }

    /// `name`'s tokens for `wanted.scopes` (the account's scopes when `None`), valid for at
    /// least `wanted.min_valid` (the refresh margin when `None`): the stored ones when they
    /// are, else refreshed once however many callers ask at the same time. The refresh token
    /// serves any scopes the user consented to, as MSAL's `acquire_token_silent` does.
    pub async fn tokens_for(&self, name: &str, wanted: &TokenWanted) -> Result<StoredAccount> {
        let scopes = wanted.scopes.as_ref().unwrap_or(&self.scopes);
        let covered = scopes.clone().without_oidc_scopes();
        let margin = wanted.min_valid.unwrap_or(self.config.refresh_margin);
        let usable = |stored: &StoredAccount, skip: Option<&Secret>| {
            skip.is_none_or(|skip| stored.tokens.access_token != *skip)
                && !stored.tokens.needs_refresh_at(now_unix(), margin)
                && stored.tokens.scopes.covers(&covered)
        };
        let stored = self.load_for(name, scopes).await?;
        // A forced refresh replaces the token seen now; one a concurrent caller got after it
        // is fresh enough.
        let skip = if wanted.force {
            Some(stored.tokens.access_token.clone())
        } else {
            wanted.rejected.clone()
        };
        if usable(&stored, skip.as_ref()) {
            return Ok(stored);
        }
        let flight = self.flight(&stored.identity.home_account_id);
        let _in_process = flight.lock().await;
        let _across_processes = self.backend.lock_refresh(&self.app_key, name).await?;
        // Whoever held the locks before us may have refreshed already.
        let stored = self.load_for(name, scopes).await?;
        if usable(&stored, skip.as_ref()) {
            return Ok(stored);
        }
        self.redeem(name, stored, scopes).await
    }

    async fn load_for(&self, name: &str, scopes: &Scopes) -> Result<StoredAccount> {
        self.backend
            .load(&self.app_key, name, Some(scopes))
            .await?
            .ok_or_else(|| Error::NoAccount {
                name: name.to_owned(),
            })
    }

    async fn fresh_tokens(&self, name: &str, rejected: Option<&Secret>) -> Result<StoredAccount> {
        let wanted = TokenWanted {
            rejected: rejected.cloned(),
            ..TokenWanted::default()
        };
        self.tokens_for(name, &wanted).await
    }

    /// Asks the identity platform for new tokens (refresh token, or the app's credential)
    /// and stores them; the caller holds the account's refresh turn.
    async fn redeem(
        &self,
        name: &str,
        stored: StoredAccount,
        scopes: &Scopes,
    ) -> Result<StoredAccount> {
        if let Some(cap) = &self.config.request_cap {
            cap.admit().await;
        }
        let answer = match self.config.flow {
            FlowKind::Credentials => self.client.acquire_for_client(scopes).await,
            _ => match &stored.tokens.refresh_token {
                Some(refresh_token) => self.client.refresh(refresh_token, scopes).await,
                None => Err(Error::NoAccount {
                    name: name.to_owned(),
                }),
            },
        };
        let tokens = match answer {
            Ok(tokens) => tokens.inherit_from(&stored.tokens),
            Err(error) => {
                if matches!(
                    error.class(),
                    Some(
                        ErrorClass::NeedsSignIn
                            | ErrorClass::InteractionRequired
                            | ErrorClass::ConsentRequired
                    )
                ) {
                    self.lock(&self.dead)
                        .insert(stored.identity.home_account_id.clone());
                }
                return Err(error);
            }
        };
        self.backend
            .save(&self.app_key, &stored.identity, &tokens)
            .await?;
        Ok(StoredAccount {
            identity: stored.identity,
            tokens,
        })
    }

    // --- helpers ----------------------------------------------------------------------

    fn flight(&self, home_account_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.lock(&self.flights)
            .entry(home_account_id.to_owned())
            .or_default()
            .clone()
    }

    fn set_current(&self, identity: &AccountIdentity) {
        *self.lock(&self.current) = Some(identity.username.clone());
    }

    fn app_identity(&self) -> AccountIdentity {
        AccountIdentity::of_app(
            &self.config.app.client_id,
            &self.config.app.authority.tenant.to_string(),
        )
    }

    fn require_browser_flow(&self) -> Result<()> {
        match self.config.flow {
            FlowKind::Authorization | FlowKind::Public => Ok(()),
            _ => Err(self.wrong_flow("browser sign-in")),
        }
    }

    fn wrong_flow(&self, what: &str) -> Error {
        Error::invalid_input(
            "flow",
            format!(
                "a {what} is not possible with the `{}` flow",
                self.config.flow.as_str()
            ),
        )
    }

    fn lock<'a, T>(&self, mutex: &'a Mutex<T>) -> std::sync::MutexGuard<'a, T> {
        mutex
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// python-o365's constructor checks (audit §2.2, §2.6), with our flows' needs.
fn check_flow_credentials(config: &AccountConfig) -> Result<()> {
    let confidential = config.app.credential.is_confidential();
    match config.flow {
        FlowKind::Authorization | FlowKind::Credentials if !confidential => {
            Err(Error::invalid_input(
                "client credential",
                format!(
                    "the `{}` flow needs a client secret or a certificate; use the `public` flow for an app without one",
                    config.flow.as_str()
                ),
            ))
        }
        FlowKind::Public | FlowKind::Password if confidential => Err(Error::invalid_input(
            "client credential",
            format!(
                "the `{}` flow takes the client id only, no secret or certificate",
                config.flow.as_str()
            ),
        )),
        FlowKind::Credentials => config
            .app
            .authority
            .require_specific_tenant("client credentials"),
        FlowKind::Password => config.app.authority.require_specific_tenant("password"),
        _ => Ok(()),
    }
}

/// An [`Account`] hands its current user's token to a [`Connection`].
impl Account {
    /// The token source of a Connection for this account's current user.
    pub fn token_source(self: &Arc<Self>) -> AccountTokenSource {
        AccountTokenSource {
            account: Arc::clone(self),
            user: None,
            last: Mutex::new(None),
        }
    }

    /// The token source of a Connection for the user `name`, whoever is current.
    pub fn token_source_for(self: &Arc<Self>, name: &str) -> AccountTokenSource {
        AccountTokenSource {
            account: Arc::clone(self),
            user: Some(name.to_owned()),
            last: Mutex::new(None),
        }
    }

    /// A Connection to this account's protocol (relative paths start at its service URL),
    /// authenticated as the current user.
    pub fn connection(self: &Arc<Self>, settings: ConnectionSettings) -> Result<Connection> {
        let source: Arc<dyn AccessTokenSource> = Arc::new(self.token_source());
        Connection::new(settings, self.config.protocol.service_url(), Some(source))
    }

    /// The signed-in user's profile (`GET me`), python-o365's `get_current_user_data`; `None`
    /// for app-only accounts, which have no `me`.
    pub async fn current_user(self: &Arc<Self>, connection: &Connection) -> Result<Option<Value>> {
        if self.config.flow == FlowKind::Credentials {
            return Ok(None);
        }
        let me = connection.url("me")?;
        connection.get(me.as_str()).await?.json().map(Some)
    }
}

/// Remembers the token it handed out, so a 401 refreshes exactly that token.
pub struct AccountTokenSource {
    account: Arc<Account>,
    /// `None`: the current user.
    user: Option<String>,
    last: Mutex<Option<Secret>>,
}

impl AccessTokenSource for AccountTokenSource {
    fn access_token(&self, force_refresh: bool) -> BoxFuture<'_, Result<Secret>> {
        async move {
            let rejected = if force_refresh {
                self.account.lock(&self.last).clone()
            } else {
                None
            };
            let token = match &self.user {
                None => self.account.access_token(rejected.as_ref()).await?,
                Some(name) => {
                    let wanted = TokenWanted {
                        rejected,
                        ..TokenWanted::default()
                    };
                    self.account
                        .tokens_for(name, &wanted)
                        .await?
                        .tokens
                        .access_token
                }
            };
            *self.account.lock(&self.last) = Some(token.clone());
            Ok(token)
        }
        .boxed()
    }
}
