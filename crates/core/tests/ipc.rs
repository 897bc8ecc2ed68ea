//! The IPC server over a real Unix socket: requests, notifications, hostile input (garbage,
//! truncated, oversized, slow), the connection cap, timeouts, socket modes, another uid refused,
//! and the event stream.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use o365_auth_core::ipc::protocol::{Answer, answer_of};
use o365_auth_core::ipc::{Handler, IpcLimits, IpcServer, Peer, RpcError};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::broadcast;

struct TestHandler {
    calls: AtomicUsize,
    events: broadcast::Sender<Value>,
}

impl Handler for TestHandler {
    fn call<'a>(
        &'a self,
        peer: &'a Peer,
        method: &'a str,
        params: Value,
    ) -> BoxFuture<'a, Result<Answer, RpcError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        async move {
            match method {
                "status" => answer_of(
                    &json!({ "peer_pid": peer.pid, "peer_uid": peer.uid, "exe": peer.executable }),
                ),
                "echo" => answer_of(&params),
                "fail" => Err(RpcError::from(&o365_auth_core::Error::NoAccount {
                    name: "zed".into(),
                })),
                other => Err(RpcError::method_not_found(other)),
            }
        }
        .boxed()
    }

    fn subscribe(&self) -> Option<broadcast::Receiver<Value>> {
        Some(self.events.subscribe())
    }
}

async fn server(dir: &Path, limits: IpcLimits) -> (IpcServer, Arc<TestHandler>) {
    let handler = Arc::new(TestHandler {
        calls: AtomicUsize::new(0),
        events: broadcast::channel(16).0,
    });
    let server = IpcServer::bind(
        &dir.join("o365-auth").join("ipc.sock"),
        handler.clone(),
        limits,
    )
    .await
    .unwrap();
    (server, handler)
}

struct Client {
    reader: BufReader<tokio::net::unix::OwnedReadHalf>,
    writer: tokio::net::unix::OwnedWriteHalf,
}

impl Client {
    async fn connect(path: &Path) -> Client {
        let (reader, writer) = UnixStream::connect(path).await.unwrap().into_split();
        Client {
            reader: BufReader::new(reader),
            writer,
        }
    }

    async fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.unwrap();
    }

    /// The next line as JSON, or `None` when the server closed the connection.
    async fn receive(&mut self) -> Option<Value> {
        let mut line = String::new();
        let read = tokio::time::timeout(Duration::from_secs(10), self.reader.read_line(&mut line))
            .await
            .expect("an answer in time")
            .unwrap_or(0);
        (read > 0).then(|| serde_json::from_str(&line).expect("a JSON line"))
    }

    async fn call(&mut self, id: u64, method: &str, params: Value) -> Value {
        let request = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        self.send_raw(format!("{request}\n").as_bytes()).await;
        self.receive().await.expect("a response")
    }
}

#[tokio::test]
async fn calls_notifications_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (server, handler) = server(dir.path(), IpcLimits::default()).await;
    let mut client = Client::connect(server.path()).await;

    let status = client.call(1, "status", Value::Null).await;
    assert_eq!(status["id"], 1);
    assert_eq!(status["result"]["peer_pid"], std::process::id());
    assert!(
        status["result"]["exe"]
            .as_str()
            .unwrap_or_default()
            .contains("ipc"),
        "{status}"
    );

    let echoed = client.call(2, "echo", json!({ "x": [1, 2] })).await;
    assert_eq!(echoed["result"], json!({ "x": [1, 2] }));
    let failed = client.call(3, "fail", Value::Null).await;
    assert_eq!(
        (
            failed["error"]["code"].as_i64(),
            failed["error"]["data"]["code"].as_str()
        ),
        (Some(-32000), Some("no_account"))
    );
    let unknown = client.call(4, "nope", Value::Null).await;
    assert_eq!(unknown["error"]["code"], -32601);

    // A notification is carried out but not answered: the next answer is for id 5.
    client
        .send_raw(b"{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[1]}\n")
        .await;
    assert_eq!(client.call(5, "echo", json!([5])).await["id"], 5);
    assert_eq!(
        handler.calls.load(Ordering::SeqCst),
        6,
        "the notification was carried out"
    );
    server.shutdown().await;
    assert!(!dir.path().join("o365-auth/ipc.sock").exists());
}

#[tokio::test]
async fn garbage_truncated_and_oversized_input_never_take_the_server_down() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = server(dir.path(), IpcLimits::default()).await;

    let mut client = Client::connect(server.path()).await;
    client.send_raw(b"\x00\xff garbage {{{\n").await;
    assert_eq!(client.receive().await.unwrap()["error"]["code"], -32700);
    client
        .send_raw(b"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"}]\n")
        .await;
    assert_eq!(client.receive().await.unwrap()["error"]["code"], -32600);
    client.send_raw(b"\n   \n").await; // blank lines are ignored
    assert_eq!(
        client.call(9, "echo", json!([9])).await["result"],
        json!([9]),
        "still usable"
    );

    let mut truncated = Client::connect(server.path()).await;
    truncated
        .send_raw(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"meth")
        .await;
    drop(truncated);

    let mut oversized = Client::connect(server.path()).await;
    let big = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"echo\",\"params\":[\"{}\"]}}\n",
        "a".repeat(2 * 1024 * 1024)
    );
    // The server may close while we are still writing; that is the point.
    let _ = oversized.writer.write_all(big.as_bytes()).await;
    let answer = oversized.receive().await.expect("an error before closing");
    assert_eq!(answer["error"]["code"], -32600);
    assert!(
        oversized.receive().await.is_none(),
        "closed after an oversized message"
    );

    let mut fresh = Client::connect(server.path()).await;
    assert_eq!(
        fresh.call(1, "echo", json!(["ok"])).await["result"],
        json!(["ok"])
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_connection_cap_and_the_timeouts_hold() {
    let dir = tempfile::tempdir().unwrap();
    let limits = IpcLimits {
        max_connections: 2,
        idle_timeout: Duration::from_millis(400),
        read_timeout: Duration::from_millis(200),
    };
    let (server, _) = server(dir.path(), limits).await;
    let mut first = Client::connect(server.path()).await;
    let mut second = Client::connect(server.path()).await;
    first.call(1, "echo", json!([])).await;
    second.call(1, "echo", json!([])).await;
    let mut third = Client::connect(server.path()).await;
    assert_eq!(
        third.receive().await.unwrap()["error"]["code"],
        -32001,
        "over the cap"
    );
    assert!(third.receive().await.is_none());

    // A slow client that starts a line and stalls is cut off; so is an idle one.
    second.send_raw(b"{\"jsonrpc\":").await;
    assert!(second.receive().await.is_none(), "stalled mid-line: closed");
    assert!(first.receive().await.is_none(), "idle: closed");
    let mut again = Client::connect(server.path()).await;
    assert_eq!(
        again.call(2, "echo", json!([2])).await["id"],
        2,
        "slots were freed"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn modes_a_second_server_and_a_stale_socket() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = server(dir.path(), IpcLimits::default()).await;
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir.path().join("o365-auth")), 0o700);
    assert_eq!(mode(server.path()), 0o600);

    let handler = Arc::new(TestHandler {
        calls: AtomicUsize::new(0),
        events: broadcast::channel(1).0,
    });
    let second = IpcServer::bind(server.path(), handler.clone(), IpcLimits::default()).await;
    assert!(
        second.is_err(),
        "a second server on a live socket is refused"
    );

    // A socket file left by a crashed server is replaced.
    let path = server.path().to_owned();
    let std_listener =
        std::os::unix::net::UnixListener::bind(dir.path().join("stale.sock")).unwrap();
    drop(std_listener);
    server.shutdown().await;
    std::fs::rename(dir.path().join("stale.sock"), &path).unwrap();
    let revived = IpcServer::bind(&path, handler, IpcLimits::default())
        .await
        .unwrap();
    let mut client = Client::connect(revived.path()).await;
    assert_eq!(
        client.call(1, "echo", json!([1])).await["result"],
        json!([1])
    );
    revived.shutdown().await;
}

#[tokio::test]
async fn a_peer_of_another_uid_is_refused() {
    assert_eq!(
        std::fs::metadata("/proc/self")
            .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
            .unwrap(),
        0,
        "this test switches a child to another uid and needs root (CI runs as root)"
    );
    let dir = tempfile::tempdir().unwrap();
    let (server, handler) = server(dir.path(), IpcLimits::default()).await;
    // Open the path up so the other user can reach the socket at all: the uid check must
    // stand on its own.
    for path in [dir.path(), &dir.path().join("o365-auth")] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(server.path(), std::fs::Permissions::from_mode(0o666)).unwrap();
    // The refusal comes before any request is read, so the stranger just listens.
    let script = "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\n\
                  print(s.makefile().readline())";
    let path = server.path().to_owned();
    let output = tokio::task::spawn_blocking(move || {
        use std::os::unix::process::CommandExt;
        std::process::Command::new("python3")
            .args(["-c", script])
            .arg(path)
            .uid(65534)
            .gid(65534)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("permission denied"),
        "{answer} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        handler.calls.load(Ordering::SeqCst),
        0,
        "nothing was called for the stranger"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn events_stream_to_subscribers() {
    let dir = tempfile::tempdir().unwrap();
    let (server, handler) = server(dir.path(), IpcLimits::default()).await;
    let mut client = Client::connect(server.path()).await;
    assert_eq!(
        client.call(1, "events.subscribe", Value::Null).await["result"]["subscribed"],
        true
    );
    handler
        .events
        .send(json!({ "event": "refreshed", "account": "alice" }))
        .unwrap();
    let event = client.receive().await.unwrap();
    assert_eq!(
        (
            event["method"].as_str(),
            event["params"]["account"].as_str()
        ),
        (Some("event"), Some("alice"))
    );
    server.shutdown().await;
}
