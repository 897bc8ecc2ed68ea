//! The HTTP API's guard on a real loopback port: the secret, the Host check against DNS
//! rebinding, the Origin check, the content type, CORS for allowed origins, JSON-RPC over
//! POST, and the event stream. The handler behind it is a recording one: what is under test
//! here is the web layer; the service's methods are tested over the socket.

use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use o365_auth_core::ipc::protocol::{Answer, RpcError, answer_of};
use o365_auth_core::ipc::{Handler, Peer};
use o365_auth_core::web::{WebApi, WebOptions};
use serde_json::{Value, json};
use tokio::sync::broadcast;

struct Recording {
    calls: Mutex<Vec<(String, Value, u32)>>,
    events: broadcast::Sender<Value>,
}

impl Handler for Recording {
    fn call<'a>(
        &'a self,
        peer: &'a Peer,
        method: &'a str,
        params: Value,
    ) -> BoxFuture<'a, Result<Answer, RpcError>> {
        async move {
            self.calls
                .lock()
                .unwrap()
                .push((method.to_owned(), params.clone(), peer.uid));
            match method {
                "status" => answer_of(&json!({ "ok": true })),
                "login.wait" => futures_util::future::pending().await,
                _ => Err(RpcError::method_not_found(method)),
            }
        }
        .boxed()
    }

    fn subscribe(&self) -> Option<broadcast::Receiver<Value>> {
        Some(self.events.subscribe())
    }
}

async fn start(extra_origin: Option<&str>) -> (WebApi, Arc<Recording>) {
    let handler = Arc::new(Recording {
        calls: Mutex::new(Vec::new()),
        events: broadcast::channel(16).0,
    });
    let api = WebApi::bind(
        "127.0.0.1:0".parse().unwrap(),
        handler.clone(),
        WebOptions {
            extra_origins: extra_origin.into_iter().map(str::to_owned).collect(),
            ui_dir: None,
        },
    )
    .await
    .unwrap();
    (api, handler)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

const STATUS: &str = r#"{"jsonrpc":"2.0","id":1,"method":"status"}"#;

#[tokio::test]
async fn a_request_with_the_secret_is_answered_and_one_without_is_refused() {
    let (api, handler) = start(None).await;
    let url = format!("http://{}/rpc", api.address());
    let ok = client()
        .post(&url)
        .bearer_auth(api.secret().expose())
        .header("content-type", "application/json")
        .body(STATUS)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["cache-control"], "no-store");
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body, json!({"jsonrpc":"2.0","id":1,"result":{"ok":true}}));

    for secret in [None, Some("wrong"), Some("")] {
        let mut request = client()
            .post(&url)
            .header("content-type", "application/json")
            .body(STATUS);
        if let Some(secret) = secret {
            request = request.bearer_auth(secret);
        }
        let refused = request.send().await.unwrap();
        assert_eq!(refused.status(), 401, "secret {secret:?}");
    }
    assert_eq!(
        handler.calls.lock().unwrap().len(),
        1,
        "refused calls never reach the handler"
    );
    api.shutdown().await;
}

#[tokio::test]
async fn a_rebound_host_name_a_foreign_origin_and_a_form_post_are_refused() {
    let (api, handler) = start(None).await;
    let url = format!("http://{}/rpc", api.address());
    let port = api.address().port();
    let send = |host: Option<String>, origin: Option<String>, kind: &'static str| {
        let mut request = client()
            .post(&url)
            .bearer_auth(api.secret().expose())
            .header("content-type", kind)
            .body(STATUS);
        if let Some(host) = host {
            request = request.header("host", host);
        }
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    // DNS rebinding: the browser believes it talks to evil.example.
    let rebound = send(
        Some(format!("evil.example:{port}")),
        None,
        "application/json",
    )
    .await
    .unwrap();
    assert_eq!(rebound.status(), 421);
    let foreign = send(
        None,
        Some("https://evil.example".into()),
        "application/json",
    )
    .await
    .unwrap();
    assert_eq!(foreign.status(), 403);
    let form = send(None, None, "text/plain").await.unwrap();
    assert_eq!(form.status(), 415);
    // Our own origin and localhost are fine.
    let own = send(
        Some(format!("localhost:{port}")),
        Some(format!("http://localhost:{port}")),
        "application/json",
    )
    .await
    .unwrap();
    assert_eq!(own.status(), 200);
    assert_eq!(handler.calls.lock().unwrap().len(), 1);
    api.shutdown().await;
}

#[tokio::test]
async fn an_allowed_extra_origin_gets_cors_headers_and_a_preflight() {
    let (api, _) = start(Some("http://localhost:5173")).await;
    let url = format!("http://{}/rpc", api.address());
    let preflight = client()
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );
    let call = client()
        .post(&url)
        .bearer_auth(api.secret().expose())
        .header("origin", "http://localhost:5173")
        .header("content-type", "application/json")
        .body(STATUS)
        .send()
        .await
        .unwrap();
    assert_eq!(call.status(), 200);
    assert_eq!(
        call.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );
    api.shutdown().await;
}

#[tokio::test]
async fn bad_json_rpc_gets_json_rpc_errors_and_events_stream_as_server_sent_events() {
    let (api, handler) = start(None).await;
    let base = format!("http://{}", api.address());
    let garbage = client()
        .post(format!("{base}/rpc"))
        .bearer_auth(api.secret().expose())
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let body: Value = garbage.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32700);
    let oversized = client()
        .post(format!("{base}/rpc"))
        .bearer_auth(api.secret().expose())
        .header("content-type", "application/json")
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(oversized.status(), 413);

    let mut stream = client()
        .get(format!("{base}/events"))
        .bearer_auth(api.secret().expose())
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert!(
        stream.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    // The subscription exists once the response headers arrived.
    handler
        .events
        .send(json!({"event": "refreshed", "account": "adele@contoso.com"}))
        .unwrap();
    let mut received = String::new();
    while received.matches("\n\n").count() < 2 {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), stream.chunk())
            .await
            .expect("an event arrives")
            .unwrap()
            .expect("the stream stays open");
        received.push_str(&String::from_utf8_lossy(&chunk));
    }
    let events: Vec<Value> = received
        .split("\n\n")
        .filter(|event| !event.is_empty())
        .map(|event| serde_json::from_str(event.trim_start_matches("data: ")).unwrap())
        .collect();
    assert_eq!(events[0]["event"], "subscribed", "{received}");
    assert_eq!(events[1]["event"], "refreshed", "{received}");
    api.shutdown().await;
}

#[tokio::test]
async fn only_loopback_addresses_are_accepted() {
    let handler = Arc::new(Recording {
        calls: Mutex::new(Vec::new()),
        events: broadcast::channel(1).0,
    });
    let error = WebApi::bind("0.0.0.0:0".parse().unwrap(), handler, WebOptions::default())
        .await
        .err()
        .expect("refused");
    assert_eq!(error.code(), "invalid_input");
}

#[tokio::test]
async fn stopping_answers_a_long_wait_instead_of_waiting_for_it() {
    let (api, handler) = start(None).await;
    let url = format!("http://{}/rpc", api.address());
    let secret = api.secret().expose().to_owned();
    let waiting = tokio::spawn(async move {
        client()
            .post(&url)
            .bearer_auth(secret)
            .header("content-type", "application/json")
            .body(r#"{"jsonrpc":"2.0","id":7,"method":"login.wait","params":{"login":"x"}}"#)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    });
    // Stop only once the call is in flight: a stop before the request was read would close
    // the connection unanswered, which is not what this test is about.
    while handler.calls.lock().unwrap().is_empty() {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    tokio::time::timeout(std::time::Duration::from_secs(10), api.shutdown())
        .await
        .expect("the stop does not wait for the long call");
    let answer = waiting.await.unwrap();
    assert_eq!(answer["id"], 7, "{answer}");
    assert_eq!(answer["error"]["data"]["code"], "cancelled", "{answer}");
}
