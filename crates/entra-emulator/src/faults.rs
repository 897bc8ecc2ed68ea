//! Fault injection: throttling, server errors, latency and dropped connections, applied by a
//! middleware in front of every endpoint except the admin API.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::Notify;

use crate::clock::iso;
use crate::errors::AadError;
use crate::state::AppState;

/// What an injected fault does to a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// HTTP 429 with `Retry-After: retry_after_seconds` and a Microsoft-shaped body.
    Throttle { retry_after_seconds: u64 },
    /// The given 5xx status with a Microsoft-shaped body.
    Status { status: u16 },
    /// Wait this long, then answer normally.
    Latency { millis: u64 },
    /// Close the connection without a response.
    Drop,
}

/// A fault for the next `count` requests (whose path starts with `path_prefix`, if set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    #[serde(flatten)]
    pub kind: FaultKind,
    #[serde(default = "one")]
    pub count: u32,
    #[serde(default)]
    pub path_prefix: Option<String>,
}

fn one() -> u32 {
    1
}

impl Fault {
    pub fn throttle(count: u32, retry_after_seconds: u64) -> Self {
        Fault {
            kind: FaultKind::Throttle {
                retry_after_seconds,
            },
            count,
            path_prefix: None,
        }
    }
    pub fn status(count: u32, status: u16) -> Self {
        Fault {
            kind: FaultKind::Status { status },
            count,
            path_prefix: None,
        }
    }
    pub fn latency(count: u32, latency: Duration) -> Self {
        Fault {
            kind: FaultKind::Latency {
                millis: u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
            },
            count,
            path_prefix: None,
        }
    }
    pub fn drop_connection(count: u32) -> Self {
        Fault {
            kind: FaultKind::Drop,
            count,
            path_prefix: None,
        }
    }
    /// Only requests whose path starts with `prefix`.
    pub fn on_path(mut self, prefix: impl Into<String>) -> Self {
        self.path_prefix = Some(prefix.into());
        self
    }
}

#[derive(Debug, Default)]
pub struct Faults {
    queue: Vec<Fault>,
    /// Added to every request.
    pub latency: Duration,
}

impl Faults {
    pub fn push(&mut self, fault: Fault) {
        if fault.count > 0 {
            self.queue.push(fault);
        }
    }

    pub fn clear(&mut self) {
        self.queue.clear();
        self.latency = Duration::ZERO;
    }

    pub fn pending(&self) -> Vec<Fault> {
        self.queue.clone()
    }

    /// Takes one use of the first fault matching `path`.
    pub fn take(&mut self, path: &str) -> Option<FaultKind> {
        let index = self.queue.iter().position(|f| {
            f.path_prefix
                .as_deref()
                .is_none_or(|prefix| path.starts_with(prefix))
        })?;
        let fault = &mut self.queue[index];
        fault.count -= 1;
        let kind = fault.kind.clone();
        if fault.count == 0 {
            self.queue.remove(index);
        }
        Some(kind)
    }
}

/// Closes the current connection when notified; inserted into every request by the server.
#[derive(Debug, Clone, Default)]
pub struct ConnectionKill(pub Arc<Notify>);

const ADMIN_PREFIX: &str = "/_emulator";
const MAX_BODY: usize = 1 << 20;

fn is_graph(path: &str) -> bool {
    path.starts_with("/v1.0/") || path.starts_with("/beta/")
}

/// Counts the request, then applies persistent latency and the next matching fault.
pub async fn middleware(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    if path.starts_with(ADMIN_PREFIX) {
        return next.run(request).await;
    }
    let (request, grant_type) = if path.ends_with("/oauth2/v2.0/token") {
        let (parts, body) = request.into_parts();
        let bytes = to_bytes(body, MAX_BODY).await.unwrap_or_default();
        let grant_type = url::form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == "grant_type")
            .map(|(_, v)| v.into_owned());
        (Request::from_parts(parts, Body::from(bytes)), grant_type)
    } else {
        (request, None)
    };
    state.stats().record(&path, grant_type.as_deref());

    let (latency, fault) = {
        let mut faults = state.faults();
        (faults.latency, faults.take(&path))
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let Some(fault) = fault else {
        return next.run(request).await;
    };
    state.stats().faults_injected += 1;
    tracing::info!(%path, ?fault, "injecting fault");
    match fault {
        FaultKind::Latency { millis } => {
            tokio::time::sleep(Duration::from_millis(millis)).await;
            next.run(request).await
        }
        FaultKind::Throttle {
            retry_after_seconds,
        } => {
            let mut response = fault_body(&state, &request, &path, 429);
            if let Ok(value) = HeaderValue::from_str(&retry_after_seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        FaultKind::Status { status } => fault_body(&state, &request, &path, status),
        FaultKind::Drop => {
            if let Some(kill) = request.extensions().get::<ConnectionKill>() {
                kill.0.notify_one();
                std::future::pending::<()>().await;
            }
            // Not served by the emulator's own accept loop: nothing to close.
            StatusCode::BAD_GATEWAY.into_response()
        }
    }
}

/// A Microsoft-shaped error body for an injected status: Graph's for Graph paths, the identity
/// platform's otherwise.
fn fault_body(state: &AppState, request: &Request, path: &str, status: u16) -> Response {
    let status_code = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    if is_graph(path) {
        let (code, message) = match status {
            429 => (
                "TooManyRequests",
                "Too many requests have been made. Please retry after the time in the Retry-After header.",
            ),
            503 => (
                "serviceNotAvailable",
                "The service is temporarily unavailable. Please retry later.",
            ),
            504 => ("gatewayTimeout", "The gateway timed out."),
            _ => ("generalException", "An unspecified error has occurred."),
        };
        let request_id = uuid::Uuid::new_v4().to_string();
        let body = json!({"error": {"code": code, "message": message, "innerError": {
            "date": iso(state.clock.now()),
            "request-id": request_id,
            "client-request-id": request.headers().get("client-request-id").and_then(|v| v.to_str().ok()).unwrap_or(&request_id),
        }}});
        return (status_code, axum::Json(body)).into_response();
    }
    let code = match status {
        429 => 90055,
        500 => 50000,
        _ => 90033,
    };
    let rendered = AadError::new(code).render(&state.err_ctx(request.headers()));
    (status_code, axum::Json(rendered.to_json())).into_response()
}
