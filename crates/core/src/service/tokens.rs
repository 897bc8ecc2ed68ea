//! Handing out tokens (`token.get`, `token.refresh`), the audit trail of every token handed
//! out, and Graph calls made for a caller (`graph.request`).
//!
//! A valid cached token is answered from the store's in-memory index without touching the
//! network or the disk; only when none is valid long enough does the account refresh, once
//! however many callers ask at the same time (the Account's single flight plus the store's
//! per-account lease).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;

use super::{TokenService, lock};
use crate::account::TokenWanted;
use crate::connection::{Body, Connection, Method, RequestOptions};
use crate::error::{Error, Result};
use crate::scopes::Scopes;
use crate::secret::Secret;
use crate::store::Store;
use crate::store::audit::{AuditBatch, AuditEvent, AuditPeer, Channel};
use crate::token::now_unix;

/// Tokens handed out with less life left than this are refreshed first, unless the caller
/// asks for another minimum.
pub const DEFAULT_MIN_TTL_S: u64 = 60;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    #[serde(default)]
    pub account: Option<String>,
    /// Helpers and scopes; `None` = the app's default scopes.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    #[serde(default)]
    pub min_ttl_s: Option<u64>,
}

/// A token as handed out.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedToken {
    pub access_token: Secret,
    pub token_type: String,
    pub expires_at: i64,
    pub scopes: Vec<String>,
    pub account: String,
}

/// `graph.request`: an API call the service makes for the caller.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphCall {
    #[serde(default)]
    pub account: Option<String>,
    pub method: String,
    pub path: String,
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GraphAnswer {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    /// JSON when the answer is JSON, else its text.
    pub body: Value,
}

impl TokenService {
    /// A token for `request.account` covering `request.scopes`, valid for at least
    /// `min_ttl_s`; `force` refreshes whatever is cached. `channel` and `peer` go to the audit
    /// log.
    pub async fn token(
        &self,
        request: &TokenRequest,
        force: bool,
        channel: Channel,
        peer: AuditPeer,
    ) -> Result<IssuedToken> {
        let (directory, record) = self.resolve(request.account.as_deref()).await?;
        let session = self.session(&record.app_id, None, None).await?;
        let scopes = match &request.scopes {
            Some(asked) if !asked.is_empty() => session
                .protocol()
                .expand_scopes(asked)?
                .without_oidc_scopes(),
            _ => session.scopes().clone().without_oidc_scopes(),
        };
        let min_ttl = request.min_ttl_s.unwrap_or(DEFAULT_MIN_TTL_S);
        let now = now_unix();
        let cached = if force {
            None
        } else {
            self.inner
                .store
                .valid_access_token(&record.id, Some(&scopes), now, min_ttl as i64)
                .await?
        };
        let issued = match cached {
            Some(cached) => IssuedToken {
                access_token: cached.access_token,
                token_type: cached.token_type,
                expires_at: cached.expires_at,
                scopes: shown_scopes(&cached.scopes, session.protocol().scope_prefix()),
                account: record.identity.username.clone(),
            },
            None => {
                let wanted = TokenWanted {
                    scopes: Some(scopes.clone()),
                    min_valid: Some(Duration::from_secs(min_ttl)),
                    force,
                    rejected: None,
                };
                let stored = self.refresh_gated(&record, &session, wanted, true).await?;
                IssuedToken {
                    access_token: stored.tokens.access_token,
                    token_type: stored.tokens.token_type,
                    expires_at: stored.tokens.expires_at,
                    scopes: shown_scopes(&stored.tokens.scopes, session.protocol().scope_prefix()),
                    account: record.identity.username.clone(),
                }
            }
        };
        let (pid, exe) = (peer.pid, peer.exe.clone());
        let event = AuditEvent {
            account_id: Some(record.id.clone()),
            username: record.identity.username.clone(),
            scopes: issued.scopes.join(" "),
            channel,
            peer,
        };
        let _ = self.inner.audit.send((now, event));
        {
            let mut latest = lock(&self.inner.latest);
            match latest.get_mut(&record.id) {
                Some(known) => known.used_at = Some(now),
                None => latest.entry(record.id.clone()).or_default().used_at = Some(now),
            }
        }
        if self.inner.events.receiver_count() > 0 {
            self.emit(serde_json::json!({
                "event": "token_issued",
                "account": directory.qualified_name(&record),
                "scopes": issued.scopes,
                "channel": channel.as_str(),
                "pid": pid,
                "exe": exe,
            }));
        }
        Ok(issued)
    }

    /// Makes an API call as `call.account` through its Connection (spacing, retries,
    /// `Retry-After`, a refresh after a 401), so the caller never handles a token. Error
    /// statuses are returned as answers, not raised.
    pub async fn graph_request(&self, call: GraphCall) -> Result<GraphAnswer> {
        let (_, record) = self.resolve(call.account.as_deref()).await?;
        let method = Method::parse(&call.method)?;
        let connection = self.connection_for(&record).await?;
        let target = connection.url(&call.path)?;
        let base = connection.base();
        if target.origin() != base.origin() {
            return Err(Error::invalid_input(
                "path",
                format!(
                    "requests go to the account's API at {}; another host is refused",
                    base.origin().ascii_serialization()
                ),
            ));
        }
        let options = RequestOptions {
            query: call.query.into_iter().collect(),
            headers: call.headers.into_iter().collect(),
            body: match call.body {
                None | Some(Value::Null) => Body::None,
                Some(body) => Body::Json(body),
            },
            retry_non_idempotent: false,
        };
        let answer = connection.request(method, target.as_str(), options).await?;
        let headers = answer
            .headers
            .iter()
            .filter_map(|(name, value)| {
                Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect();
        let is_json = answer
            .header("content-type")
            .is_some_and(|kind| kind.contains("json"));
        let body = if answer.body.is_empty() {
            Value::Null
        } else if is_json {
            answer
                .json()
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&answer.body).into()))
        } else {
            Value::String(String::from_utf8_lossy(&answer.body).into_owned())
        };
        Ok(GraphAnswer {
            status: answer.status,
            headers,
            body,
        })
    }

    async fn connection_for(
        &self,
        record: &crate::store::accounts::AccountRecord,
    ) -> Result<Connection> {
        if let Some(connection) = lock(&self.inner.connections).get(&record.id) {
            return Ok(connection.clone());
        }
        let session = self.session(&record.app_id, None, None).await?;
        let mut settings = self.inner.options.connection.clone();
        settings.http = lock(&self.inner.http).clone();
        settings.raise_http_errors = false;
        let source = Arc::new(session.token_source_for(&record.identity.home_account_id));
        let connection = Connection::for_protocol(settings, session.protocol(), Some(source))?;
        lock(&self.inner.connections).insert(record.id.clone(), connection.clone());
        Ok(connection)
    }
}

/// The scopes a token holds as callers name them (docs/ipc.md: `["User.Read", ...]`): the
/// account's API without its prefix (as the request's `scopes` are expanded), other APIs
/// qualified, and no OpenID Connect scopes, which are no access to anything.
pub(super) fn shown_scopes(scopes: &Scopes, prefix: &str) -> Vec<String> {
    scopes
        .clone()
        .without_oidc_scopes()
        .iter()
        .map(|scope| {
            let bare = scope
                .get(..prefix.len())
                .filter(|head| !prefix.is_empty() && head.eq_ignore_ascii_case(prefix))
                .map(|_| &scope[prefix.len()..]);
            bare.unwrap_or(scope).to_owned()
        })
        .collect()
}

/// Writes audit entries in batches: a token handed out never waits for the disk. At most the
/// last moment's entries are lost if the process is killed (and, the audit connection
/// committing without fsync, the last seconds' on a power cut).
pub(super) async fn write_audit(
    store: Store,
    mut queue: mpsc::UnboundedReceiver<(i64, AuditEvent)>,
) {
    let mut batch = AuditBatch::default();
    let mut last_checkpoint = tokio::time::Instant::now();
    while let Some((at, event)) = queue.recv().await {
        batch.add(at, event);
        // Gather what arrives in the next moment into the same transaction, counting
        // repeats as they come (no burst of work on this thread when the batch is written).
        let deadline = tokio::time::sleep(Duration::from_millis(200));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                next = queue.recv() => match next {
                    Some((at, event)) => {
                        batch.add(at, event);
                        if batch.rows() >= 4096 {
                            break;
                        }
                    }
                    None => break,
                },
                () = &mut deadline => break,
            }
        }
        if let Err(error) = store.audit().record_batch(std::mem::take(&mut batch)).await {
            tracing::warn!(
                code = error.code(),
                "audit entries could not be written: {error}"
            );
        }
        // The audit connection never checkpoints by itself (store/watch.rs), so a busy day of
        // hand-outs and no other write would grow the WAL without end.
        if last_checkpoint.elapsed() >= AUDIT_CHECKPOINT_EVERY {
            store.checkpoint().await;
            last_checkpoint = tokio::time::Instant::now();
        }
    }
}

/// How often the audit writer copies the WAL into the database file while it writes.
const AUDIT_CHECKPOINT_EVERY: Duration = Duration::from_secs(60);
