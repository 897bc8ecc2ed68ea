//! The IPC socket's methods (docs/ipc.md) over the service's functions: parameters are
//! checked into typed requests (unknown fields refused, naming the field), answers and
//! errors become JSON.

use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::TokenService;
use super::apps::{AppChange, AppSpec, ProtocolSpec};
use super::login::{LoginRequest, PasswordLogin};
use super::tokens::{GraphCall, IssuedToken, TokenRequest};
use crate::error::Error;
use crate::ipc::protocol::{Answer, RpcError, answer_of};
use crate::ipc::{Handler, Peer};
use crate::store::audit::{AuditPeer, Channel};
use crate::store::settings::SettingsChange;

/// Serves a [`TokenService`] on the IPC socket (or, with [`ServiceHandler::for_channel`],
/// on the HTTP API: the same methods, audited under that channel).
#[derive(Clone)]
pub struct ServiceHandler {
    service: TokenService,
    channel: Channel,
}

impl ServiceHandler {
    pub fn new(service: TokenService) -> Self {
        Self::for_channel(service, Channel::Ipc)
    }

    pub fn for_channel(service: TokenService, channel: Channel) -> Self {
        ServiceHandler { service, channel }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Named {
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountParam {
    account: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AliasParams {
    account: String,
    alias: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WaitParams {
    login: String,
    #[serde(default)]
    timeout_s: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompleteParams {
    #[serde(default)]
    login: Option<String>,
    redirected_url: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginParam {
    login: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActivityParams {
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    account: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HelpersParams {
    #[serde(default)]
    protocol: Option<ProtocolSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PreviewParams {
    #[serde(default)]
    protocol: Option<ProtocolSpec>,
    scopes: Vec<String>,
}

fn params<T: DeserializeOwned>(value: Value) -> Result<T, RpcError> {
    let value = if value.is_null() { json!({}) } else { value };
    serde_json::from_value(value).map_err(|error| {
        // serde names the field and what it expected; it never quotes a value it rejected
        // except for enum variants, which are not secret.
        RpcError::invalid_params(format!("invalid params: {error}"))
    })
}

fn answer<T: serde::Serialize>(result: crate::error::Result<T>) -> Result<Answer, RpcError> {
    match result {
        Ok(value) => answer_of(&value),
        Err(error) => Err(RpcError::from(&error)),
    }
}

/// `token.get`'s answer (docs/ipc.md), borrowed from the issued token.
#[derive(serde::Serialize)]
struct TokenAnswer<'a> {
    access_token: &'a str,
    token_type: &'a str,
    expires_at: i64,
    scopes: &'a [String],
    account: &'a str,
}

impl<'a> TokenAnswer<'a> {
    fn of(token: &'a IssuedToken) -> Self {
        TokenAnswer {
            access_token: token.access_token.expose(),
            token_type: &token.token_type,
            expires_at: token.expires_at,
            scopes: &token.scopes,
            account: &token.account,
        }
    }
}

fn audit_peer(peer: &Peer) -> AuditPeer {
    AuditPeer {
        pid: peer.pid,
        uid: Some(peer.uid),
        exe: peer
            .executable
            .as_ref()
            .map(|path| path.display().to_string()),
    }
}

impl Handler for ServiceHandler {
    fn call<'a>(
        &'a self,
        peer: &'a Peer,
        method: &'a str,
        params_value: Value,
    ) -> BoxFuture<'a, Result<Answer, RpcError>> {
        async move {
            let service = &self.service;
            match method {
                "status" => {
                    params::<Empty>(params_value)?;
                    answer(service.status().await)
                }
                "accounts.list" => {
                    params::<Empty>(params_value)?;
                    answer(service.list_accounts().await)
                }
                "accounts.alias" => {
                    let p: AliasParams = params(params_value)?;
                    answer(service.set_alias(&p.account, p.alias.as_deref()).await)
                }
                "accounts.logout" => {
                    let p: AccountParam = params(params_value)?;
                    answer(
                        service
                            .logout(&p.account)
                            .await
                            .map(|removed| json!({"removed": removed})),
                    )
                }
                "token.get" | "token.refresh" => {
                    let request: TokenRequest = params(params_value)?;
                    let force = method == "token.refresh";
                    match service
                        .token(&request, force, self.channel, audit_peer(peer))
                        .await
                    {
                        Ok(token) => answer_of(&TokenAnswer::of(&token)),
                        Err(error) => Err(RpcError::from(&error)),
                    }
                }
                "graph.request" => {
                    let call: GraphCall = params(params_value)?;
                    answer(service.graph_request(call).await)
                }
                "apps.add" => {
                    let spec: AppSpec = params(params_value)?;
                    answer(service.add_app(spec).await)
                }
                "apps.update" => {
                    let change: AppChange = params(params_value)?;
                    answer(service.update_app(change).await)
                }
                "apps.list" => {
                    params::<Empty>(params_value)?;
                    answer(service.list_apps().await)
                }
                "apps.show" => {
                    let p: Named = params(params_value)?;
                    answer(service.show_app(&p.name).await)
                }
                "apps.remove" => {
                    let p: Named = params(params_value)?;
                    answer(
                        service
                            .remove_app(&p.name)
                            .await
                            .map(|removed| json!({"removed": removed})),
                    )
                }
                "login.start" => {
                    let request: LoginRequest = params(params_value)?;
                    answer(service.login_start(request).await)
                }
                "login.wait" => {
                    let p: WaitParams = params(params_value)?;
                    let timeout = Duration::from_secs(p.timeout_s.unwrap_or(600).min(3600));
                    answer(service.login_wait(&p.login, timeout).await)
                }
                "login.complete" => {
                    let p: CompleteParams = params(params_value)?;
                    answer(
                        service
                            .login_complete(p.login.as_deref(), &p.redirected_url)
                            .await,
                    )
                }
                "login.cancel" => {
                    let p: LoginParam = params(params_value)?;
                    answer(
                        service
                            .login_cancel(&p.login)
                            .await
                            .map(|cancelled| json!({"cancelled": cancelled})),
                    )
                }
                "audit.recent" => {
                    let p: ActivityParams = params(params_value)?;
                    let limit = p.limit.unwrap_or(100).clamp(1, 1000);
                    answer(service.recent_activity(limit, p.account.as_deref()).await)
                }
                "settings.get" => {
                    params::<Empty>(params_value)?;
                    answer(service.settings().await)
                }
                "settings.set" => {
                    let change: SettingsChange = params(params_value)?;
                    answer(service.change_settings(&change).await)
                }
                "scopes.helpers" => {
                    let p: HelpersParams = params(params_value)?;
                    answer(service.scope_helpers(p.protocol.as_ref()))
                }
                "scopes.preview" => {
                    let p: PreviewParams = params(params_value)?;
                    answer(service.preview_scopes(p.protocol.as_ref(), &p.scopes))
                }
                "sandbox.status" => {
                    params::<Empty>(params_value)?;
                    answer(service.sandbox_status().await)
                }
                "sandbox.start" => {
                    params::<Empty>(params_value)?;
                    answer(service.sandbox_start().await)
                }
                "sandbox.stop" => {
                    params::<Empty>(params_value)?;
                    answer(service.sandbox_stop().await)
                }
                "login.password" => {
                    let request: PasswordLogin = params(params_value)?;
                    answer(service.login_password(request).await)
                }
                "shutdown" => {
                    params::<Empty>(params_value)?;
                    service.shutdown();
                    answer_of(&json!({"stopping": true}))
                }
                other => Err(RpcError::method_not_found(other)),
            }
        }
        .boxed()
    }

    fn subscribe(&self) -> Option<broadcast::Receiver<Value>> {
        Some(self.service.subscribe())
    }
}

impl From<Error> for RpcError {
    fn from(error: Error) -> Self {
        RpcError::from(&error)
    }
}
