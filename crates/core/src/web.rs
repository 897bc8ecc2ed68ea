//! The HTTP API the web UI uses when it runs in a browser rather than the app window: the IPC
//! socket's methods over HTTP on 127.0.0.1.
//!
//! - `POST /rpc`: one JSON-RPC 2.0 request as the body, its response as the answer.
//! - `GET /events`: the event stream as server-sent events.
//! - Anything else: the UI's files from `ui_dir`, when one is given.
//!
//! A web page on any site can make the browser send requests to 127.0.0.1, and DNS
//! rebinding can make a foreign site's name resolve there. So every API request must carry
//! `Authorization: Bearer <secret>` (random per start, handed to the UI out of band: the
//! `web.json` file next to the IPC socket, 0600), a `Host` that names the loopback address
//! and port (a rebound name fails), and, when the browser sends an `Origin`, one of ours.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
use crate::ipc::protocol::{MAX_MESSAGE_BYTES, Response as RpcResponse, parse_request};
use crate::ipc::{Handler, Peer};
use crate::secret::Secret;

#[derive(Debug, Clone, Default)]
pub struct WebOptions {
    /// Origins besides the API's own that may call it (the Vite dev server while developing).
    pub extra_origins: Vec<String>,
    /// The built UI (`ui/dist`) to serve at `/`.
    pub ui_dir: Option<PathBuf>,
}

pub struct WebApi {
    address: SocketAddr,
    secret: Secret,
    /// First the handlers are told (long calls answer, event streams end)...
    stop: watch::Sender<bool>,
    /// ...then, with no call in flight, the server closes its connections.
    close: watch::Sender<bool>,
    in_flight: Arc<InFlight>,
    task: JoinHandle<()>,
}

/// API calls being answered, so a stop closes connections only after their answers.
#[derive(Default)]
struct InFlight {
    calls: std::sync::atomic::AtomicUsize,
    idle: tokio::sync::Notify,
}

struct CallGuard(Arc<InFlight>);

impl CallGuard {
    fn new(in_flight: &Arc<InFlight>) -> Self {
        in_flight
            .calls
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        CallGuard(Arc::clone(in_flight))
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        if self
            .0
            .calls
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst)
            == 1
        {
            self.0.idle.notify_waiters();
        }
    }
}

#[derive(Clone)]
struct Shared {
    handler: Arc<dyn Handler>,
    secret: Secret,
    hosts: Arc<Vec<String>>,
    origins: Arc<Vec<String>>,
    peer: Peer,
    /// Event streams end when this turns true: a graceful shutdown waits for every open
    /// response, and an event stream never ends by itself.
    stopping: watch::Receiver<bool>,
    in_flight: Arc<InFlight>,
}

impl WebApi {
    /// Listens on `address` (a loopback address; port 0 picks one) with a fresh secret.
    pub async fn bind(
        address: SocketAddr,
        handler: Arc<dyn Handler>,
        options: WebOptions,
    ) -> Result<WebApi> {
        if !address.ip().is_loopback() {
            return Err(Error::invalid_input(
                "HTTP API address",
                "must be a loopback address (127.0.0.1 or ::1): the API hands out tokens",
            ));
        }
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|error| {
                Error::invalid_input("HTTP API address", format!("{address}: {error}"))
            })?;
        let address = listener
            .local_addr()
            .map_err(|error| Error::invalid_input("HTTP API address", error.to_string()))?;
        let port = address.port();
        let hosts = vec![
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ];
        let mut origins: Vec<String> = hosts.iter().map(|host| format!("http://{host}")).collect();
        origins.extend(options.extra_origins.iter().cloned());
        let secret = Secret::new(random_secret());
        let (stop, stopping) = watch::channel(false);
        let (close, mut closing) = watch::channel(false);
        let in_flight = Arc::new(InFlight::default());
        let shared = Shared {
            handler,
            secret: secret.clone(),
            hosts: Arc::new(hosts),
            origins: Arc::new(origins),
            peer: Peer {
                pid: None,
                uid: own_uid(),
                executable: None,
            },
            stopping: stopping.clone(),
            in_flight: Arc::clone(&in_flight),
        };
        let api = Router::new()
            .route("/rpc", post(rpc))
            .route("/events", get(events))
            .layer(middleware::from_fn_with_state(shared.clone(), guard))
            .layer(DefaultBodyLimit::max(MAX_MESSAGE_BYTES));
        let app = match &options.ui_dir {
            Some(directory) => api.fallback_service(tower_http::services::ServeDir::new(directory)),
            None => api,
        }
        .with_state(shared);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = closing.wait_for(|close| *close).await;
                })
                .await;
        });
        Ok(WebApi {
            address,
            secret,
            stop,
            close,
            in_flight,
            task,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// What a client must send as `Authorization: Bearer <secret>`.
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// The UI's address with the secret in the fragment (never sent to a server).
    pub fn ui_url(&self) -> Secret {
        Secret::new(format!(
            "http://{}/#secret={}",
            self.address,
            self.secret.expose()
        ))
    }

    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let answered = async {
            loop {
                let idle = self.in_flight.idle.notified();
                tokio::pin!(idle);
                idle.as_mut().enable();
                if self
                    .in_flight
                    .calls
                    .load(std::sync::atomic::Ordering::SeqCst)
                    == 0
                {
                    return;
                }
                idle.await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), answered).await;
        let _ = self.close.send(true);
        let _ = self.task.await;
    }
}

fn random_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn own_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map_or(u32::MAX, |metadata| metadata.uid())
}

/// Host, Origin and secret checks, and CORS for our own extra origins.
async fn guard(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if !shared
        .hosts
        .iter()
        .any(|allowed| allowed.eq_ignore_ascii_case(host))
    {
        return refuse(StatusCode::MISDIRECTED_REQUEST, "unexpected Host header");
    }
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    if let Some(origin) = &origin
        && !shared.origins.iter().any(|allowed| allowed == origin)
    {
        return refuse(StatusCode::FORBIDDEN, "this origin may not use the API");
    }
    if request.method() == Method::OPTIONS {
        return with_cors(StatusCode::NO_CONTENT.into_response(), origin.as_deref());
    }
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(Secret::new);
    if presented.as_ref() != Some(&shared.secret) {
        return refuse(StatusCode::UNAUTHORIZED, "missing or wrong API secret");
    }
    with_cors(next.run(request).await, origin.as_deref())
}

fn with_cors(mut response: Response, origin: Option<&str>) -> Response {
    if let Some(origin) = origin.and_then(|origin| HeaderValue::from_str(origin).ok()) {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

fn refuse(status: StatusCode, message: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain")], message).into_response()
}

async fn rpc(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let _call = CallGuard::new(&shared.in_flight);
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|kind| kind.starts_with("application/json"));
    if !is_json {
        // A form post from a foreign page cannot send this content type without a preflight.
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the request as application/json",
        );
    }
    let response = match parse_request(&body) {
        Err(response) => *response,
        Ok(request) => {
            let id = request.id.clone().unwrap_or(Value::Null);
            if request.method == "events.subscribe" {
                RpcResponse::error(
                    id,
                    crate::ipc::protocol::RpcError::invalid_params(
                        "over HTTP the event stream is GET /events",
                    ),
                )
            } else {
                // A graceful stop waits for every request in flight, and `login.wait` may
                // wait for minutes: a stopping service answers it at once instead.
                let mut stopping = shared.stopping.clone();
                let call = shared
                    .handler
                    .call(&shared.peer, &request.method, request.params);
                tokio::select! {
                    answer = call => match answer {
                        Ok(result) => RpcResponse::result(id, result),
                        Err(error) => RpcResponse::error(id, error),
                    },
                    _ = stopping.wait_for(|stop| *stop) => RpcResponse::error(
                        id,
                        crate::ipc::protocol::RpcError::from(&Error::Cancelled),
                    ),
                }
            }
        }
    };
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        response.to_line(),
    )
        .into_response()
}

async fn events(State(shared): State<Shared>) -> Response {
    let Some(receiver) = shared.handler.subscribe() else {
        return refuse(StatusCode::NOT_FOUND, "no event stream");
    };
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        let data = match receiver.recv().await {
            Ok(event) => event.to_string(),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                serde_json::json!({ "event": "lagged", "missed": missed }).to_string()
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok::<_, Infallible>(Event::default().data(data)), receiver))
    });
    // A first event at once: it also flushes the response head, which HTTP/1 servers hold
    // back until there is body to send.
    let hello = futures_util::stream::once(async {
        Ok::<_, Infallible>(Event::default().data(r#"{"event":"subscribed"}"#))
    });
    let mut stopping = shared.stopping.clone();
    let stop = async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    let stream = futures_util::StreamExt::take_until(
        futures_util::StreamExt::chain(hello, stream),
        Box::pin(stop),
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}
