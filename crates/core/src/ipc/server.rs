//! The IPC server: a Unix socket in a 0700 directory, the socket itself 0600, peers checked by
//! `SO_PEERCRED`, one JSON-RPC message per line with size, time and connection limits. Hostile
//! or broken input costs its own connection at most, never the server.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::Serialize;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Semaphore, broadcast, watch};
use tokio::task::JoinHandle;

use super::protocol::{
    APPLICATION_ERROR, Answer, INVALID_REQUEST, MAX_MESSAGE_BYTES, Response, RpcError, SERVER_BUSY,
    answer_of, parse_request,
};
use crate::error::{Error, Result};

/// Who is on the other end of a connection, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Peer {
    pub pid: Option<i32>,
    pub uid: u32,
    pub executable: Option<PathBuf>,
}

/// What the server serves. The token service implements it over the core's functions.
pub trait Handler: Send + Sync + 'static {
    fn call<'a>(
        &'a self,
        peer: &'a Peer,
        method: &'a str,
        params: Value,
    ) -> BoxFuture<'a, std::result::Result<Answer, RpcError>>;

    /// The event stream behind `events.subscribe`; `None` when there is none.
    fn subscribe(&self) -> Option<broadcast::Receiver<Value>> {
        None
    }
}

#[derive(Debug, Clone)]
pub struct IpcLimits {
    pub max_connections: usize,
    /// A connection with no request for this long is closed.
    pub idle_timeout: Duration,
    /// A request line must be complete this long after its first byte.
    pub read_timeout: Duration,
}

impl Default for IpcLimits {
    fn default() -> Self {
        IpcLimits {
            max_connections: 64,
            idle_timeout: Duration::from_secs(300),
            read_timeout: Duration::from_secs(10),
        }
    }
}

pub struct IpcServer {
    path: PathBuf,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// `$XDG_RUNTIME_DIR/o365-auth/ipc.sock`.
pub fn default_socket_path() -> Result<PathBuf> {
    let runtime = std::env::var_os("XDG_RUNTIME_DIR").ok_or_else(|| {
        Error::invalid_input(
            "XDG_RUNTIME_DIR",
            "it is not set, so there is no private place for the IPC socket; log in through a \
             session manager (systemd-logind) or give a socket path",
        )
    })?;
    Ok(PathBuf::from(runtime).join("o365-auth").join("ipc.sock"))
}

fn io_error(path: &Path, what: &str, error: std::io::Error) -> Error {
    Error::invalid_input("IPC socket", format!("{what} {}: {error}", path.display()))
}

impl IpcServer {
    /// Creates the directory (0700) if needed, refuses to start when another server answers on
    /// the socket, replaces a stale socket file, and serves until [`IpcServer::shutdown`].
    pub async fn bind(path: &Path, handler: Arc<dyn Handler>, limits: IpcLimits) -> Result<Self> {
        let directory = path
            .parent()
            .ok_or_else(|| Error::invalid_input("IPC socket", "the path has no directory"))?;
        std::fs::create_dir_all(directory)
            .map_err(|error| io_error(directory, "cannot create", error))?;
        std::fs::set_permissions(directory, std::fs::Permissions::from_mode(0o700))
            .map_err(|error| io_error(directory, "cannot make private", error))?;
        // Peers must run as the directory's owner: whoever started this server.
        let owner = std::fs::metadata(directory)
            .map_err(|error| io_error(directory, "cannot read", error))?
            .uid();
        if path.exists() {
            if UnixStream::connect(path).await.is_ok() {
                return Err(Error::invalid_input(
                    "IPC socket",
                    format!(
                        "another o365-auth service already answers on {}",
                        path.display()
                    ),
                ));
            }
            std::fs::remove_file(path)
                .map_err(|error| io_error(path, "cannot replace the stale", error))?;
        }
        let listener =
            UnixListener::bind(path).map_err(|error| io_error(path, "cannot listen on", error))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|error| io_error(path, "cannot make private", error))?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, handler, limits, owner, stopped));
        Ok(IpcServer {
            path: path.to_owned(),
            stop,
            task,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops accepting, closes every connection and removes the socket file.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn accept_loop(
    listener: UnixListener,
    handler: Arc<dyn Handler>,
    limits: IpcLimits,
    owner: u32,
    mut stopped: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.changed() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let handler = handler.clone();
        let limits = limits.clone();
        let stopped = stopped.clone();
        let slot = slots.clone().try_acquire_owned();
        tokio::spawn(async move {
            match slot {
                Ok(_slot) => serve_connection(stream, handler, &limits, owner, stopped).await,
                Err(_) => {
                    let busy =
                        RpcError::new(SERVER_BUSY, "too many connections; try again shortly");
                    let (_, mut writer) = stream.into_split();
                    let _ = writer
                        .write_all(Response::error(Value::Null, busy).to_line().as_bytes())
                        .await;
                }
            }
        });
    }
}

fn peer_of(stream: &UnixStream) -> Option<Peer> {
    let credentials = stream.peer_cred().ok()?;
    let pid = credentials.pid();
    Some(Peer {
        pid,
        uid: credentials.uid(),
        executable: pid.and_then(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).ok()),
    })
}

/// A connection keeps its read and answer buffers up to this size; one large message (a
/// `graph.request` body) does not pin a megabyte per idle connection.
const KEPT_BUFFER_BYTES: usize = 64 * 1024;

/// What reading one request line gave.
enum Line {
    /// The line, without its newline, is in the caller's buffer.
    Message,
    TooLarge,
    Closed,
    TimedOut,
}

/// Reads one line into `line`, which a connection reuses so a request costs no allocation of
/// its own.
async fn read_line<R: tokio::io::AsyncBufRead + Unpin>(
    reader: &mut R,
    line: &mut Vec<u8>,
    limits: &IpcLimits,
) -> Line {
    line.clear();
    loop {
        // The first byte may take as long as the connection may idle; the rest of the line
        // must follow promptly, so a slow-loris client cannot hold a slot.
        let wait = if line.is_empty() {
            limits.idle_timeout
        } else {
            limits.read_timeout
        };
        let available = match tokio::time::timeout(wait, reader.fill_buf()).await {
            Err(_) => return Line::TimedOut,
            Ok(Err(_)) => return Line::Closed,
            Ok(Ok([])) => return Line::Closed,
            Ok(Ok(bytes)) => bytes,
        };
        let (chunk, done) = match available.iter().position(|byte| *byte == b'\n') {
            Some(end) => (&available[..end], true),
            None => (available, false),
        };
        if line.len() + chunk.len() >= MAX_MESSAGE_BYTES {
            return Line::TooLarge;
        }
        line.extend_from_slice(chunk);
        let consumed = chunk.len() + usize::from(done);
        reader.consume(consumed);
        if done {
            return Line::Message;
        }
    }
}

async fn send(writer: &mut OwnedWriteHalf, response: &Response) -> bool {
    writer
        .write_all(response.to_line().as_bytes())
        .await
        .is_ok()
}

/// Like [`send`], serialising into `buffer`, which a connection reuses between answers.
async fn send_buffered(
    writer: &mut OwnedWriteHalf,
    buffer: &mut Vec<u8>,
    response: &Response,
) -> bool {
    response.write_line(buffer);
    writer.write_all(buffer).await.is_ok()
}

async fn serve_connection(
    stream: UnixStream,
    handler: Arc<dyn Handler>,
    limits: &IpcLimits,
    owner: u32,
    mut stopped: watch::Receiver<bool>,
) {
    let peer = peer_of(&stream);
    let (reader, mut writer) = stream.into_split();
    let Some(peer) = peer.filter(|peer| peer.uid == owner) else {
        tracing::warn!("IPC connection from another user refused");
        let refused = RpcError::new(
            APPLICATION_ERROR,
            "permission denied: the service serves its own user only",
        );
        let _ = send(&mut writer, &Response::error(Value::Null, refused)).await;
        return;
    };
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    let mut answer = Vec::new();
    loop {
        let read = tokio::select! {
            read = read_line(&mut reader, &mut line, limits) => read,
            _ = stopped.changed() => return,
        };
        match read {
            Line::Message => {}
            Line::TooLarge => {
                let error =
                    RpcError::new(INVALID_REQUEST, "a message may be 1 MiB at most; closing");
                let _ = send(&mut writer, &Response::error(Value::Null, error)).await;
                return;
            }
            Line::Closed | Line::TimedOut => return,
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let request = match parse_request(&line) {
            Ok(request) => request,
            Err(response) => {
                if !send(&mut writer, &response).await {
                    return;
                }
                continue;
            }
        };
        if request.method == "events.subscribe" {
            stream_events(&handler, request.id, &mut writer, &mut stopped).await;
            return;
        }
        let outcome = handler.call(&peer, &request.method, request.params).await;
        // Notifications (no id) get no answer, whatever happened.
        let Some(id) = request.id else { continue };
        let response = match outcome {
            Ok(result) => Response::result(id, result),
            Err(error) => Response::error(id, error),
        };
        if !send_buffered(&mut writer, &mut answer, &response).await {
            return;
        }
        if answer.capacity() > KEPT_BUFFER_BYTES {
            answer = Vec::new();
        }
        if line.capacity() > KEPT_BUFFER_BYTES {
            line = Vec::new();
        }
    }
}

/// Acknowledges the subscription, then forwards each event as a `event` notification until
/// the client goes away or the server stops.
async fn stream_events(
    handler: &Arc<dyn Handler>,
    id: Option<Value>,
    writer: &mut OwnedWriteHalf,
    stopped: &mut watch::Receiver<bool>,
) {
    let id = id.unwrap_or(Value::Null);
    let Some(mut events) = handler.subscribe() else {
        let error = RpcError::new(APPLICATION_ERROR, "this service has no event stream");
        let _ = send(writer, &Response::error(id, error)).await;
        return;
    };
    let acknowledged = match answer_of(&serde_json::json!({ "subscribed": true })) {
        Ok(answer) => Response::result(id, answer),
        Err(error) => Response::error(id, error),
    };
    if !send(writer, &acknowledged).await {
        return;
    }
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            _ = stopped.changed() => return,
        };
        let params = match event {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                serde_json::json!({ "event": "lagged", "missed": missed })
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let notification =
            serde_json::json!({ "jsonrpc": "2.0", "method": "event", "params": params });
        let mut line = notification.to_string();
        line.push('\n');
        if writer.write_all(line.as_bytes()).await.is_err() {
            return;
        }
    }
}
