//! The token service: what keeps every account fresh and hands tokens to other programs. The
//! desktop app runs it in-process, `o365-auth-daemon` headless; both serve it on the IPC socket
//! (`rpc` maps JSON-RPC methods to the functions here, one function per operation, which the
//! Tauri commands and the HTTP API call too).
//!
//! Modules: `apps` (registrations as given and as used), `directory` (what an account name
//! means), `tokens` (handing out tokens, the audit trail, Graph calls), `login` (sign-ins
//! that span several calls), `refresh` (the scheduler's job and account status),
//! [`scheduler`] (when to refresh), `rpc` (the IPC handler).

mod activity;
pub mod apps;
mod catalog;
mod directory;
mod gate;
mod login;
mod preferences;
mod refresh;
mod rpc;
mod sandbox;
pub mod scheduler;
mod tokens;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::Value;
use tokio::sync::{broadcast, mpsc, watch};

pub use activity::ActivityView;
pub use apps::{AppChange, AppSpec, AppView, ProtocolSpec};
pub use catalog::{HelperView, ScopePreview, UnknownEntry};
pub use directory::AccountView;
pub use login::{LoginChallenge, LoginMethod, LoginRequest, PasswordLogin};
pub use tokens::{GraphAnswer, GraphCall, IssuedToken, TokenRequest};

use self::directory::Directory;
use self::login::Logins;
use self::scheduler::{Scheduler, SchedulerConfig};
use crate::account::Account;
use crate::backend::TokenBackend;
use crate::connection::{Connection, ConnectionSettings};
use crate::error::{Error, Result};
use crate::flows::FlowKind;
use crate::request_cap::RequestCap;
use crate::store::audit::AuditEvent;
use crate::store::settings::DEFAULT_REQUEST_TIMEOUT_S;
use crate::store::{Store, StoreBackend};
use crate::token::now_unix;

#[derive(Debug, Clone, Default)]
pub struct ServiceOptions {
    /// The base schedule; a person's saved settings replace its margin and keep-alive.
    pub scheduler: SchedulerConfig,
    /// For `graph.request` and the token endpoints (timeouts, proxy).
    pub connection: ConnectionSettings,
    /// Shown by `status`.
    pub socket: Option<PathBuf>,
    /// The sandbox the `sandbox.*` methods drive; without one they say there is none.
    pub sandbox: Option<Arc<crate::sandbox::Sandbox>>,
}

/// The running service; cheap to clone.
#[derive(Clone)]
pub struct TokenService {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    backend: Arc<dyn TokenBackend>,
    options: ServiceOptions,
    /// One [`Account`] per app registration (id), built on first use.
    sessions: Mutex<HashMap<String, Arc<Account>>>,
    connections: Mutex<HashMap<String, Connection>>,
    /// What happened to accounts since the directory was loaded (record id → times), so
    /// views are current without reloading every account after each refresh or token.
    latest: Mutex<HashMap<String, Latest>>,
    /// HTTP settings for sessions and connections built from now on (the proxy setting).
    http: Mutex<crate::http::HttpSettings>,
    directory: Mutex<Option<Arc<Directory>>>,
    scheduler: Scheduler,
    /// Every refresh of every account waits its turn here (the scheduler's cap).
    request_cap: Arc<RequestCap>,
    /// Accounts (record ids) the scheduler keeps.
    tracked: Mutex<std::collections::HashSet<String>>,
    /// One refresh at a time per account, failures shared (`gate`).
    gates: gate::Gates,
    events: broadcast::Sender<Value>,
    logins: Logins,
    audit: mpsc::UnboundedSender<(i64, AuditEvent)>,
    started_at: i64,
    stop: watch::Sender<bool>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Latest {
    refreshed_at: Option<i64>,
    used_at: Option<i64>,
}

/// What `status` answers.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceStatus {
    pub version: &'static str,
    pub pid: u32,
    pub started_at: i64,
    pub socket: Option<PathBuf>,
    pub store: PathBuf,
    pub apps: usize,
    pub accounts: usize,
    pub tracked: usize,
    pub logins_pending: usize,
}

impl TokenService {
    /// Starts the service over an open store: the scheduler takes every account that can
    /// refresh, the audit writer starts. Call inside a tokio runtime.
    pub async fn start(store: Store, options: ServiceOptions) -> Result<Self> {
        let (events, _) = broadcast::channel(1024);
        let (audit, audit_queue) = mpsc::unbounded_channel();
        let (stop, _) = watch::channel(false);
        let http = options.connection.http.clone();
        let inner = Arc::new_cyclic(|weak: &std::sync::Weak<Inner>| {
            let job = Arc::new(refresh::ScheduledRefresh::new(weak.clone()));
            Inner {
                backend: Arc::new(StoreBackend::new(store.clone())),
                store: store.clone(),
                scheduler: Scheduler::start(options.scheduler.clone(), job),
                request_cap: Arc::new(RequestCap::new(options.scheduler.max_requests_per_second)),
                options,
                sessions: Mutex::new(HashMap::new()),
                connections: Mutex::new(HashMap::new()),
                latest: Mutex::new(HashMap::new()),
                http: Mutex::new(http),
                directory: Mutex::new(None),
                tracked: Mutex::new(Default::default()),
                gates: gate::Gates::default(),
                events,
                logins: Logins::default(),
                audit,
                started_at: now_unix(),
                stop,
            }
        });
        let service = TokenService { inner };
        tokio::spawn(tokens::write_audit(store.clone(), audit_queue));
        if let Some(settings) = store.settings().stored().await? {
            let network = settings.proxy_url.is_some()
                || settings.request_timeout_s != DEFAULT_REQUEST_TIMEOUT_S;
            service.apply_settings(&settings, network);
        }
        service.forward_scheduler_events();
        service.track_all().await?;
        Ok(service)
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Every event (refreshed, needs attention, token issued, account added...) as JSON.
    pub fn subscribe(&self) -> broadcast::Receiver<Value> {
        self.inner.events.subscribe()
    }

    /// Resolves when [`TokenService::shutdown`] was asked for (by the `shutdown` method).
    pub async fn stopped(&self) {
        let mut stopped = self.inner.stop.subscribe();
        let _ = stopped.wait_for(|stop| *stop).await;
    }

    pub fn shutdown(&self) {
        // `send` would drop the value while nobody waits in `stopped()` yet (a watch channel
        // with no receiver is closed); `send_replace` keeps it for later waiters.
        self.inner.stop.send_replace(true);
    }

    pub async fn status(&self) -> Result<ServiceStatus> {
        let directory = self.directory().await?;
        Ok(ServiceStatus {
            version: env!("CARGO_PKG_VERSION"),
            pid: std::process::id(),
            started_at: self.inner.started_at,
            socket: self.inner.options.socket.clone(),
            store: self.inner.store.path().to_owned(),
            apps: directory.apps.len(),
            accounts: directory.accounts.len(),
            tracked: lock(&self.inner.tracked).len(),
            logins_pending: self.inner.logins.len(),
        })
    }

    // --- apps ---------------------------------------------------------------------------

    pub async fn add_app(&self, spec: AppSpec) -> Result<AppView> {
        let new = apps::registration_from_spec(spec)?;
        let registration = self.inner.store.apps().add(&new).await?;
        self.changed();
        Ok(AppView::new(&registration, 0))
    }

    pub async fn list_apps(&self) -> Result<Vec<AppView>> {
        let directory = self.directory().await?;
        let mut apps: Vec<AppView> = directory
            .apps
            .values()
            .map(|app| {
                let accounts = directory
                    .accounts
                    .iter()
                    .filter(|record| record.app_id == app.id)
                    .count();
                AppView::new(app, accounts)
            })
            .collect();
        apps.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(apps)
    }

    pub async fn show_app(&self, name: &str) -> Result<AppView> {
        self.list_apps()
            .await?
            .into_iter()
            .find(|app| app.name.eq_ignore_ascii_case(name) || app.id == name)
            .ok_or_else(|| no_app(name))
    }

    /// Changes a registration; every field is checked as for a new one. The client id,
    /// tenant and authority stay while accounts are signed in through the app: their refresh
    /// tokens belong to that app at that authority.
    pub async fn update_app(&self, change: AppChange) -> Result<AppView> {
        let view = self.show_app(&change.name).await?;
        let apps = self.inner.store.apps();
        let spec = apps::changed_spec(
            &view,
            apps.client_secret(&view.id).await?,
            apps.certificate(&view.id).await?,
            change,
        )?;
        let new = apps::registration_from_spec(spec)?;
        let fields = &new.fields;
        if view.accounts > 0 {
            let current = apps
                .get(&view.id)
                .await?
                .ok_or_else(|| no_app(&view.name))?
                .fields;
            for (field, same) in [
                ("client_id", current.client_id == fields.client_id),
                ("tenant", current.tenant == fields.tenant),
                ("authority", current.authority == fields.authority),
            ] {
                if !same {
                    return Err(Error::invalid_input(
                        field,
                        format!(
                            "cannot change while {} account(s) are signed in through this app; \
                             sign them out first, or add another app",
                            view.accounts
                        ),
                    ));
                }
            }
        }
        apps.replace(
            &view.id,
            fields,
            new.client_secret.as_ref(),
            new.certificate.as_ref(),
        )
        .await?;
        lock(&self.inner.sessions).remove(&view.id);
        lock(&self.inner.connections).clear();
        self.changed();
        self.emit(serde_json::json!({ "event": "app_changed", "app": fields.name }));
        self.show_app(&fields.name).await
    }

    /// Forgets an app registration with its accounts and tokens.
    pub async fn remove_app(&self, name: &str) -> Result<bool> {
        let app = self.show_app(name).await?;
        let directory = self.directory().await?;
        for record in directory.accounts.iter().filter(|r| r.app_id == app.id) {
            self.untrack(&record.id);
            self.inner.gates.forget(&record.id);
        }
        let removed = self.inner.store.apps().remove(&app.id).await?;
        lock(&self.inner.sessions).remove(&app.id);
        self.changed();
        Ok(removed)
    }

    // --- accounts -----------------------------------------------------------------------

    pub async fn list_accounts(&self) -> Result<Vec<AccountView>> {
        let directory = self.directory().await?;
        let mut views = Vec::with_capacity(directory.accounts.len());
        for record in &directory.accounts {
            views.push(self.view_of(&directory, record).await?);
        }
        Ok(views)
    }

    pub async fn account(&self, name: Option<&str>) -> Result<AccountView> {
        let (directory, record) = self.resolve(name).await?;
        self.view_of(&directory, &record).await
    }

    async fn view_of(
        &self,
        directory: &Directory,
        record: &crate::store::accounts::AccountRecord,
    ) -> Result<AccountView> {
        let token = self
            .inner
            .store
            .valid_access_token(&record.id, None, 0, 0)
            .await?;
        let mut view = AccountView::new(directory, record, token.as_ref().map(|t| t.expires_at));
        if let Some(latest) = lock(&self.inner.latest).get(&record.id) {
            view.last_refresh_at = view.last_refresh_at.max(latest.refreshed_at);
            view.last_used_at = view.last_used_at.max(latest.used_at);
        }
        if let Some(token) = token {
            // The prefix is the app's protocol's; an app this version cannot read shows the
            // scopes as granted.
            let prefix = match self.session(&record.app_id, None, None).await {
                Ok(session) => session.protocol().scope_prefix().to_owned(),
                Err(_) => String::new(),
            };
            view.scopes = tokens::shown_scopes(&token.scopes, &prefix);
        }
        Ok(view)
    }

    pub async fn set_alias(&self, name: &str, alias: Option<&str>) -> Result<AccountView> {
        let alias = alias.map(str::trim).filter(|alias| !alias.is_empty());
        if let Some(alias) = alias
            && (alias.contains('/') || alias.contains('@') || alias.len() > 64)
        {
            return Err(Error::invalid_input(
                "alias",
                "must be at most 64 characters without `/` or `@`",
            ));
        }
        let (_, record) = self.resolve(Some(name)).await?;
        self.inner
            .store
            .accounts()
            .set_alias(&record.id, alias)
            .await?;
        self.changed();
        self.account(Some(&record.id)).await
    }

    /// Forgets an account and its tokens (Microsoft offers no revocation for public clients).
    pub async fn logout(&self, name: &str) -> Result<bool> {
        let (directory, record) = self.resolve(Some(name)).await?;
        self.untrack(&record.id);
        self.inner.gates.forget(&record.id);
        let removed = self.inner.store.accounts().remove(&record.id).await?;
        lock(&self.inner.connections).remove(&record.id);
        self.changed();
        self.emit(serde_json::json!({
            "event": "account_removed",
            "account": directory.qualified_name(&record),
        }));
        Ok(removed)
    }

    // --- shared plumbing ----------------------------------------------------------------

    fn emit(&self, event: Value) {
        let _ = self.inner.events.send(event);
    }

    /// Drops the cached directory after a change made here.
    fn changed(&self) {
        *lock(&self.inner.directory) = None;
    }

    async fn directory(&self) -> Result<Arc<Directory>> {
        if let Some(directory) = lock(&self.inner.directory).clone() {
            return Ok(directory);
        }
        self.reload_directory().await
    }

    async fn reload_directory(&self) -> Result<Arc<Directory>> {
        let store = &self.inner.store;
        let directory = Arc::new(Directory::new(
            store.accounts().list(None).await?,
            store.apps().list().await?,
        ));
        *lock(&self.inner.directory) = Some(Arc::clone(&directory));
        Ok(directory)
    }

    /// The account a name means; looks again in the store before saying there is none
    /// (another process may have added it).
    async fn resolve(
        &self,
        name: Option<&str>,
    ) -> Result<(Arc<Directory>, Arc<crate::store::accounts::AccountRecord>)> {
        let directory = self.directory().await?;
        match directory.resolve(name) {
            Ok(record) => {
                let record = Arc::clone(record);
                Ok((directory, record))
            }
            Err(Error::NoAccount { .. }) => {
                let directory = self.reload_directory().await?;
                let record = Arc::clone(directory.resolve(name)?);
                Ok((directory, record))
            }
            Err(error) => Err(error),
        }
    }

    /// The Account (tokens, refresh, sign-in) of an app registration; `flow` builds a
    /// separate one for a sign-in with another flow than the app's, `scopes` for other scopes.
    async fn session(
        &self,
        app_id: &str,
        flow: Option<FlowKind>,
        scopes: Option<&[String]>,
    ) -> Result<Arc<Account>> {
        let shared = flow.is_none() && scopes.is_none();
        if shared && let Some(account) = lock(&self.inner.sessions).get(app_id) {
            return Ok(Arc::clone(account));
        }
        let store = &self.inner.store;
        let registration = store
            .apps()
            .get(app_id)
            .await?
            .ok_or_else(|| no_app(app_id))?;
        let credential = apps::credential_from(
            store.apps().client_secret(app_id).await?,
            store.apps().certificate(app_id).await?,
        )?;
        let mut config = apps::account_config(&registration.fields, credential, flow)?;
        config.http = lock(&self.inner.http).clone();
        config.request_cap = Some(Arc::clone(&self.inner.request_cap));
        if let Some(scopes) = scopes
            && !scopes.is_empty()
        {
            config.scopes = scopes.to_vec();
        }
        let account = Arc::new(Account::new(config, Arc::clone(&self.inner.backend))?);
        if shared {
            lock(&self.inner.sessions).insert(app_id.to_owned(), Arc::clone(&account));
        }
        Ok(account)
    }
}

fn no_app(name: &str) -> Error {
    Error::invalid_input(
        "app",
        format!("no app registration is named `{name}`; `o365-auth app list` shows them"),
    )
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub use rpc::ServiceHandler;
