//! Sign-ins that span several calls: `login.start` returns what to show (a URL, a device
//! code), the service finishes the flow in the background (loopback redirect, device-code
//! polling, client credentials), and `login.wait` collects the account. The console flow
//! keeps its pending sign-in in the store (PKCE verifier sealed) until the person pastes the
//! address they landed on into `login.complete`; a deep link completes the same way.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio::task::{AbortHandle, JoinHandle};

use super::directory::AccountView;
use super::{TokenService, lock};
use crate::error::{Error, Result};
use crate::flows::{
    AuthorizeOptions, DEEP_LINK_REDIRECT, FlowKind, LoopbackListener, NATIVE_CLIENT_REDIRECT,
    PendingFlow, Prompt,
};
use crate::secret::Secret;
use crate::store::apps::RedirectKind;
use crate::store::pending::PendingSignIn;
use crate::token::{AccountIdentity, now_unix};

/// How long a started sign-in may take.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginMethod {
    /// Authorization code + PKCE, the redirect on a loopback listener of the service.
    Browser,
    /// The same, the person pastes the `nativeclient` address back.
    Console,
    /// The same, the redirect comes back as an `o365auth://` deep link (the desktop app).
    DeepLink,
    DeviceCode,
    /// Client credentials: the app signs in as itself.
    App,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[serde(default)]
    pub app: Option<String>,
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    pub method: LoginMethod,
    #[serde(default)]
    pub login_hint: Option<String>,
    #[serde(default)]
    pub domain_hint: Option<String>,
    /// `login`, `none`, `consent`, `select_account`, `create`.
    #[serde(default)]
    pub prompt: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordLogin {
    #[serde(default)]
    pub app: Option<String>,
    pub username: String,
    pub password: Secret,
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
}

/// What to show the person.
#[derive(Debug, Clone, Serialize, Default)]
pub struct LoginChallenge {
    pub login: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub expires_at: i64,
}

/// Sign-ins in progress, by login id.
#[derive(Default)]
pub(super) struct Logins {
    running: Mutex<HashMap<String, Running>>,
    /// How redirect sign-ins ended (completed by a pasted address or a deep link, or
    /// cancelled), until `login.wait` collects it.
    finished: Mutex<HashMap<String, Result<AccountView>>>,
    changed: Notify,
}

enum Running {
    /// Finishing in the background.
    Task {
        task: std::sync::Arc<tokio::sync::Mutex<JoinHandle<Result<AccountIdentity>>>>,
        abort: AbortHandle,
        app_id: String,
    },
    /// Waiting for the pasted address (console) or the deep link: the pending sign-in
    /// (by state) is in the store.
    Redirect { state: String },
}

impl Logins {
    pub(super) fn len(&self) -> usize {
        lock(&self.running).len()
    }

    fn finish(&self, login: String, outcome: &Result<AccountView>) {
        let copy = match outcome {
            Ok(view) => Ok(view.clone()),
            Err(error) => Err(error.duplicate()),
        };
        let mut finished = lock(&self.finished);
        // Nobody may ever collect an outcome: keep the last few only.
        if finished.len() >= 64 {
            finished.clear();
        }
        finished.insert(login, copy);
        drop(finished);
        self.changed.notify_waiters();
    }
}

impl TokenService {
    pub async fn login_start(&self, request: LoginRequest) -> Result<LoginChallenge> {
        let app_id = self.app_for_login(request.app.as_deref()).await?;
        let mut request = request;
        // An app registered with the deep-link redirect gets its browser sign-ins back that
        // way (the desktop app receives `o365auth://auth?...`); the loopback listener
        // would not match its registered redirect URI.
        if request.method == LoginMethod::Browser
            && self
                .directory()
                .await?
                .apps
                .get(&app_id)
                .is_some_and(|app| app.fields.redirect_kind == RedirectKind::DeepLink)
        {
            request.method = LoginMethod::DeepLink;
        }
        let flow = match request.method {
            LoginMethod::DeviceCode => Some(FlowKind::DeviceCode),
            LoginMethod::App => Some(FlowKind::Credentials),
            _ => None,
        };
        let session = self
            .session(&app_id, flow, request.scopes.as_deref())
            .await?;
        let login = uuid::Uuid::new_v4().to_string();
        let expires_at = now_unix() + LOGIN_TIMEOUT.as_secs() as i64;
        let options = AuthorizeOptions {
            prompt: request.prompt.as_deref().map(parse_prompt).transpose()?,
            login_hint: request.login_hint.clone(),
            domain_hint: request.domain_hint.clone(),
            claims: None,
        };
        let mut challenge = LoginChallenge {
            login: login.clone(),
            expires_at,
            ..LoginChallenge::default()
        };
        let task = match request.method {
            LoginMethod::Browser => {
                let listener = LoopbackListener::bind(0).await?;
                let (url, pending) = session
                    .authorization_url(&listener.redirect_uri(), &options)
                    .await?;
                challenge.url = Some(url.to_string());
                let session = session.clone();
                tokio::spawn(async move {
                    let redirected =
                        tokio::time::timeout(LOGIN_TIMEOUT, listener.wait_for(&pending))
                            .await
                            .map_err(|_| Error::Cancelled)??;
                    session.complete(&redirected, &pending).await
                })
            }
            LoginMethod::Console | LoginMethod::DeepLink => {
                let redirect = if request.method == LoginMethod::Console {
                    NATIVE_CLIENT_REDIRECT
                } else {
                    DEEP_LINK_REDIRECT
                };
                let (url, pending) = session.authorization_url(redirect, &options).await?;
                self.keep_pending(&app_id, &pending).await?;
                challenge.url = Some(url.to_string());
                lock(&self.inner.logins.running).insert(
                    login,
                    Running::Redirect {
                        state: pending.state.clone(),
                    },
                );
                return Ok(challenge);
            }
            LoginMethod::DeviceCode => {
                let device = session.start_device_code().await?;
                challenge.user_code = Some(device.user_code.clone());
                challenge.verification_uri = Some(device.verification_uri.clone());
                challenge.message = Some(device.message.clone());
                challenge.expires_at = device.expires_at;
                let session = session.clone();
                tokio::spawn(async move { session.finish_device_code(&device).await })
            }
            LoginMethod::App => {
                let session = session.clone();
                tokio::spawn(async move { session.authenticate_app().await })
            }
        };
        lock(&self.inner.logins.running).insert(
            login,
            Running::Task {
                abort: task.abort_handle(),
                task: std::sync::Arc::new(tokio::sync::Mutex::new(task)),
                app_id,
            },
        );
        Ok(challenge)
    }

    /// Waits up to `timeout` for a sign-in started with `login.start` to finish: by itself
    /// (browser, device code, app) or through `login.complete` (console, deep link).
    pub async fn login_wait(&self, login: &str, timeout: Duration) -> Result<AccountView> {
        let deadline = tokio::time::Instant::now() + timeout;
        let logins = &self.inner.logins;
        let (task, app_id) = loop {
            let changed = logins.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if let Some(outcome) = lock(&logins.finished).remove(login) {
                return outcome;
            }
            match lock(&logins.running).get(login) {
                Some(Running::Task { task, app_id, .. }) => break (task.clone(), app_id.clone()),
                Some(Running::Redirect { .. }) => {}
                None => return Err(no_login()),
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return Err(Error::LoginPending);
            }
        };
        let mut handle = task.lock().await;
        let outcome = match tokio::time::timeout_at(deadline, &mut *handle).await {
            Err(_) => return Err(Error::LoginPending),
            Ok(joined) => joined.map_err(|_| Error::Cancelled)?,
        };
        lock(&logins.running).remove(login);
        self.signed_in(&app_id, outcome?).await
    }

    /// Ends a sign-in in progress; a `login.wait` for it answers `cancelled`.
    pub async fn login_cancel(&self, login: &str) -> Result<bool> {
        let running = lock(&self.inner.logins.running).remove(login);
        match running {
            None => Ok(false),
            Some(Running::Task { abort, .. }) => {
                abort.abort();
                Ok(true)
            }
            Some(Running::Redirect { state }) => {
                // The sealed verifier goes too: a late redirect with this state is refused.
                let _ = self.inner.store.pending().take(&state).await?;
                self.inner
                    .logins
                    .finish(login.to_owned(), &Err(Error::Cancelled));
                Ok(true)
            }
        }
    }

    /// Finishes a console or deep-link sign-in with the address the browser landed on.
    /// `login` may be omitted: the address's `state` finds the sign-in.
    pub async fn login_complete(
        &self,
        login: Option<&str>,
        redirected: &str,
    ) -> Result<AccountView> {
        let state = state_of(redirected)?;
        if let Some(login) = login {
            match lock(&self.inner.logins.running).get(login) {
                Some(Running::Redirect {
                    state: expected, ..
                }) if *expected == state => {}
                Some(Running::Redirect { .. }) => return Err(Error::StateMismatch),
                Some(Running::Task { .. }) => {
                    return Err(Error::invalid_input(
                        "login",
                        "this sign-in finishes by itself; use `login.wait`",
                    ));
                }
                None => return Err(no_login()),
            }
        }
        let pending = self
            .inner
            .store
            .pending()
            .take(&state)
            .await?
            .ok_or(Error::StateMismatch)?;
        let waiting: Vec<String> = {
            let mut running = lock(&self.inner.logins.running);
            let ids = running
                .iter()
                .filter(|(_, run)| matches!(run, Running::Redirect { state: s } if *s == state))
                .map(|(id, _)| id.clone())
                .collect::<Vec<_>>();
            for id in &ids {
                running.remove(id);
            }
            ids
        };
        let outcome = self.complete_pending(&pending, redirected).await;
        for login in waiting {
            self.inner.logins.finish(login, &outcome);
        }
        outcome
    }

    async fn complete_pending(
        &self,
        pending: &PendingSignIn,
        redirected: &str,
    ) -> Result<AccountView> {
        let mut flow: PendingFlow = serde_json::from_value(pending.flow.clone())
            .map_err(|_| Error::protocol("the pending sign-in in the store is unreadable"))?;
        flow.pkce_verifier = pending.pkce_verifier.clone();
        let scopes: Vec<String> = flow.scopes.iter().map(str::to_owned).collect();
        let session = self.session(&pending.app_id, None, Some(&scopes)).await?;
        let identity = session.complete(redirected, &flow).await?;
        self.signed_in(&pending.app_id, identity).await
    }

    /// Resource owner password credentials (no MFA; Microsoft advises against it).
    pub async fn login_password(&self, request: PasswordLogin) -> Result<AccountView> {
        let app_id = self.app_for_login(request.app.as_deref()).await?;
        let session = self
            .session(&app_id, Some(FlowKind::Password), request.scopes.as_deref())
            .await?;
        let identity = session
            .authenticate_with_password(request.username.trim(), &request.password)
            .await?;
        self.signed_in(&app_id, identity).await
    }

    async fn signed_in(&self, app_id: &str, identity: AccountIdentity) -> Result<AccountView> {
        let directory = self.reload_directory().await?;
        let record = directory
            .accounts
            .iter()
            .find(|record| {
                record.app_id == app_id
                    && record.identity.home_account_id == identity.home_account_id
            })
            .cloned()
            .ok_or_else(|| Error::NoAccount {
                name: identity.username.clone(),
            })?;
        // Whatever refreshes taught about the old sign-in no longer holds.
        self.inner.gates.forget(&record.id);
        let view = self.account(Some(&record.id)).await?;
        self.track(&record, view.expires_at.unwrap_or(0));
        self.emit(serde_json::json!({
            "event": "account_added",
            "account": directory.qualified_name(&record),
        }));
        Ok(view)
    }

    async fn keep_pending(&self, app_id: &str, pending: &PendingFlow) -> Result<()> {
        let mut flow = pending.clone();
        flow.pkce_verifier = Secret::new("");
        let _ = self.inner.store.pending().purge_expired().await;
        self.inner
            .store
            .pending()
            .put(&PendingSignIn {
                state: pending.state.clone(),
                app_id: app_id.to_owned(),
                flow: serde_json::to_value(&flow)
                    .map_err(|_| Error::protocol("the pending sign-in could not be encoded"))?,
                pkce_verifier: pending.pkce_verifier.clone(),
                created_at: pending.created_at,
                expires_at: pending.expires_at,
            })
            .await
    }

    /// The app a sign-in is for: the one named, or the only one there is.
    async fn app_for_login(&self, name: Option<&str>) -> Result<String> {
        let directory = self.directory().await?;
        if let Some(name) = name {
            return directory
                .app_by_name(name)
                .map(|app| app.id.clone())
                .ok_or_else(|| super::no_app(name));
        }
        let mut apps = directory.apps.values();
        match (apps.next(), apps.next()) {
            (Some(app), None) => Ok(app.id.clone()),
            (None, _) => Err(Error::invalid_input(
                "app",
                "no app is registered yet; add one with `o365-auth app add`",
            )),
            _ => Err(Error::invalid_input(
                "app",
                "several apps are registered; name one (`--app`)",
            )),
        }
    }
}

fn parse_prompt(text: &str) -> Result<Prompt> {
    Ok(match text {
        "login" => Prompt::Login,
        "none" => Prompt::None,
        "consent" => Prompt::Consent,
        "select_account" => Prompt::SelectAccount,
        "create" => Prompt::Create,
        _ => {
            return Err(Error::invalid_input(
                "prompt",
                "use login, none, consent, select_account or create",
            ));
        }
    })
}

fn state_of(redirected: &str) -> Result<String> {
    let url = url::Url::parse(redirected.trim()).map_err(|_| {
        Error::invalid_input("address", "paste the whole address the browser landed on")
    })?;
    url.query_pairs()
        .find(|(name, _)| name == "state")
        .map(|(_, value)| value.into_owned())
        .ok_or(Error::StateMismatch)
}

fn no_login() -> Error {
    Error::invalid_input(
        "login",
        "no sign-in with this id is in progress (it finished, failed or expired)",
    )
}
