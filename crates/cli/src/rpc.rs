//! The JSON-RPC 2.0 client of the service's Unix socket (docs/ipc.md): one request per line,
//! answers in order, on a plain blocking `UnixStream` (a runtime would cost more to start than
//! the whole round trip).

use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::error::{Failure, Result};

/// The largest answer read, as the contract limits a message to 1 MiB (plus room for the
/// newline and any slack a future service allows).
const MAX_ANSWER_BYTES: u64 = 2 * 1024 * 1024;

/// Where the service listens: `--socket`, else `$O365_AUTH_SOCKET`, else
/// `$XDG_RUNTIME_DIR/o365-auth/ipc.sock`. Empty variables count as unset.
pub fn socket_path(
    option: Option<&Path>,
    env: impl Fn(&str) -> Option<OsString>,
) -> Result<PathBuf> {
    if let Some(path) = option {
        return Ok(path.to_owned());
    }
    let set = |name: &str| env(name).filter(|value| !value.is_empty());
    if let Some(path) = set("O365_AUTH_SOCKET") {
        return Ok(PathBuf::from(path));
    }
    match set("XDG_RUNTIME_DIR") {
        Some(runtime) if Path::new(&runtime).is_absolute() => {
            Ok(Path::new(&runtime).join("o365-auth").join("ipc.sock"))
        }
        Some(_) => Err(Failure::usage(
            "XDG_RUNTIME_DIR is not an absolute path, so the service's socket cannot be found; \
             set O365_AUTH_SOCKET or pass --socket",
        )),
        None => Err(Failure::usage(
            "neither O365_AUTH_SOCKET nor XDG_RUNTIME_DIR is set, so the service's socket cannot \
             be found; set one of them or pass --socket PATH",
        )),
    }
}

/// How long any answer may take, unless a call says otherwise (`login.wait` waits for a
/// person): generous for a refresh that meets retries and `Retry-After`, but a service that
/// hangs does not hang a mail client for ever.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(300);

/// One connection to the service.
pub struct Client {
    stream: BufReader<UnixStream>,
    path: PathBuf,
    next_id: u64,
}

impl Client {
    /// Connects, without starting anything (see `autostart::connect` for that).
    pub fn connect(path: &Path) -> io::Result<Client> {
        let stream = UnixStream::connect(path)?;
        stream.set_read_timeout(Some(CALL_TIMEOUT))?;
        Ok(Client {
            stream: BufReader::with_capacity(16 * 1024, stream),
            path: path.to_owned(),
            next_id: 1,
        })
    }

    /// Bounds how long an answer may take (`None`: as long as the service needs).
    pub fn set_timeout(&self, timeout: Option<Duration>) {
        // Only fails for a zero duration, which is never asked for.
        let _ = self.stream.get_ref().set_read_timeout(timeout);
    }

    /// Calls `method` and returns its `result`, or the service's error.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        let mut line = serde_json::to_vec(&json!({
            "jsonrpc": "2.0",
            "id": id,
            "method": method,
            "params": params,
        }))
        .map_err(|error| Failure::local(format!("cannot encode the request: {error}")))?;
        line.push(b'\n');
        self.stream
            .get_mut()
            .write_all(&line)
            .map_err(|error| self.lost(error))?;
        drop(line);
        loop {
            let answer = self.read_message()?;
            // Notifications (events) carry a method and no id; they are not our answer.
            if answer.get("method").is_some() && answer.get("id").is_none() {
                continue;
            }
            return into_result(answer);
        }
    }

    fn read_message(&mut self) -> Result<Value> {
        let mut buffer = Vec::with_capacity(4096);
        let read = (&mut self.stream)
            .take(MAX_ANSWER_BYTES)
            .read_until(b'\n', &mut buffer)
            .map_err(|error| self.lost(error))?;
        if read == 0 {
            return Err(Failure::Unreachable(format!(
                "the service at {} closed the connection without answering (a service started \
                 by another user refuses this one)",
                self.path.display()
            )));
        }
        if buffer.last() != Some(&b'\n') {
            return Err(Failure::Unreachable(format!(
                "the service at {} sent an answer that was cut off or too long",
                self.path.display()
            )));
        }
        serde_json::from_slice(&buffer).map_err(|_| {
            Failure::Unreachable(format!(
                "the service at {} answered something that is not JSON-RPC",
                self.path.display()
            ))
        })
    }

    fn lost(&self, error: io::Error) -> Failure {
        let what = match error.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => "did not answer in time".into(),
            _ => format!("could not be talked to: {error}"),
        };
        Failure::Unreachable(format!("the service at {} {what}", self.path.display()))
    }
}

/// An answer's `result`, or its `error` as a [`Failure`].
fn into_result(mut answer: Value) -> Result<Value> {
    if let Some(error) = answer.get_mut("error").map(Value::take) {
        let rpc_code = error.get("code").and_then(Value::as_i64).unwrap_or(0);
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("the service refused without saying why")
            .to_owned();
        if rpc_code == -32601 {
            return Err(Failure::Service {
                message: format!(
                    "{message}: the running service does not offer this yet (it may be older \
                     than this o365-auth; `o365-auth stop` ends it)"
                ),
                rpc_code,
                data: error.get("data").cloned(),
            });
        }
        if rpc_code == -32001 {
            return Err(Failure::Unreachable(format!(
                "the service is busy: {message}; try again in a moment"
            )));
        }
        return Err(Failure::Service {
            message,
            rpc_code,
            data: error.get("data").cloned(),
        });
    }
    match answer.get_mut("result") {
        Some(result) => Ok(result.take()),
        None => Err(Failure::Unreachable(
            "the service answered with neither a result nor an error".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::os::unix::net::UnixListener;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let map: HashMap<String, OsString> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), OsString::from(v)))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn the_socket_comes_from_the_option_then_the_variables() {
        let both = env(&[
            ("O365_AUTH_SOCKET", "/s/explicit.sock"),
            ("XDG_RUNTIME_DIR", "/run/user/1000"),
        ]);
        assert_eq!(
            socket_path(Some(Path::new("/opt.sock")), &both).unwrap(),
            Path::new("/opt.sock")
        );
        assert_eq!(
            socket_path(None, &both).unwrap(),
            Path::new("/s/explicit.sock")
        );
        let runtime = env(&[
            ("O365_AUTH_SOCKET", ""),
            ("XDG_RUNTIME_DIR", "/run/user/1000"),
        ]);
        assert_eq!(
            socket_path(None, runtime).unwrap(),
            Path::new("/run/user/1000/o365-auth/ipc.sock")
        );
    }

    #[test]
    fn no_socket_is_a_clear_usage_error() {
        let failure = socket_path(None, env(&[])).unwrap_err();
        assert_eq!(failure.exit_code(), 2);
        assert!(
            failure.to_string().contains("O365_AUTH_SOCKET"),
            "{failure}"
        );
        let relative = socket_path(None, env(&[("XDG_RUNTIME_DIR", "run")])).unwrap_err();
        assert!(relative.to_string().contains("absolute"), "{relative}");
    }

    type Reply = Box<dyn Fn(&Value) -> String + Send>;

    /// A listener that answers each request line with what `reply` makes of it.
    fn serve(
        replies: Vec<Reply>,
    ) -> (
        tempfile::TempDir,
        PathBuf,
        std::thread::JoinHandle<Vec<Value>>,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ipc.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let handle = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut writer = stream;
            let mut seen = Vec::new();
            for reply in replies {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let request: Value = serde_json::from_str(&line).unwrap();
                writer.write_all(reply(&request).as_bytes()).unwrap();
                seen.push(request);
            }
            seen
        });
        (dir, path, handle)
    }

    #[test]
    fn calls_carry_increasing_ids_and_skip_notifications() {
        let (_dir, path, server) = serve(vec![
            Box::new(|request| {
                format!(
                    "{{\"jsonrpc\":\"2.0\",\"method\":\"event\",\"params\":{{}}}}\n\
                     {{\"jsonrpc\":\"2.0\",\"id\":{},\"result\":{{\"ok\":1}}}}\n",
                    request["id"]
                )
            }),
            Box::new(|request| {
                format!(
                    "{{\"jsonrpc\":\"2.0\",\"id\":{},\"error\":{{\"code\":-32000,\
                     \"message\":\"no account `x`\",\"data\":{{\"code\":\"no_account\"}}}}}}\n",
                    request["id"]
                )
            }),
        ]);
        let mut client = Client::connect(&path).unwrap();
        assert_eq!(client.call("status", json!({})).unwrap(), json!({"ok": 1}));
        let failure = client
            .call("token.get", json!({"account": "x"}))
            .unwrap_err();
        assert_eq!(failure.service_code(), Some("no_account"));
        assert_eq!(failure.exit_code(), 1);
        let seen = server.join().unwrap();
        assert_eq!(
            seen[0],
            json!({"jsonrpc": "2.0", "id": 1, "method": "status", "params": {}})
        );
        assert_eq!(seen[1]["id"], 2);
        assert_eq!(seen[1]["method"], "token.get");
    }

    #[test]
    fn a_closed_or_busy_service_is_unreachable() {
        let (_dir, path, server) = serve(vec![]);
        let mut client = Client::connect(&path).unwrap();
        server.join().unwrap();
        let failure = client.call("status", json!({})).unwrap_err();
        assert_eq!(failure.exit_code(), 3, "{failure}");

        let (_dir, path, server) = serve(vec![Box::new(|_| {
            "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32001,\"message\":\"server busy\"}}\n"
                .to_owned()
        })]);
        let mut client = Client::connect(&path).unwrap();
        let failure = client.call("status", json!({})).unwrap_err();
        assert_eq!(failure.exit_code(), 3, "{failure}");
        server.join().unwrap();
    }
}
