//! Finding, running and starting `o365-auth-daemon`. Like gpg starts gpg-agent, a client
//! command that finds no service on the socket starts the daemon detached (its own session,
//! no terminal, output to a log file) and waits until it answers `status`.

use std::ffi::{OsStr, OsString};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::error::{Failure, Result};
use crate::rpc::Client;

pub const DAEMON_NAME: &str = "o365-auth-daemon";
/// How long a started daemon gets to answer.
const START_TIMEOUT: Duration = Duration::from_secs(10);
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// Log lines quoted when a start fails.
const LOG_LINES: usize = 12;

/// Connects to the service on `path`, starting the daemon first when nothing listens there
/// (unless `O365_AUTH_NO_AUTOSTART` is set to something other than 0 or empty).
pub fn connect(path: &Path) -> Result<Client> {
    match Client::connect(path) {
        Ok(client) => Ok(client),
        Err(error) if nobody_listens(&error) => {
            if autostart_disabled(std::env::var_os("O365_AUTH_NO_AUTOSTART").as_deref()) {
                return Err(Failure::Unreachable(format!(
                    "no o365-auth service answers on {}; start one with `o365-auth daemon`",
                    path.display()
                )));
            }
            start(path)
        }
        Err(error) => Err(Failure::Unreachable(format!(
            "cannot connect to the o365-auth service on {}: {error}",
            path.display()
        ))),
    }
}

/// No socket file, or a socket file nobody listens on (a service that died).
fn nobody_listens(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
    )
}

fn autostart_disabled(value: Option<&OsStr>) -> bool {
    value.is_some_and(|value| !value.is_empty() && value != "0")
}

/// The daemon binary: `$O365_AUTH_DAEMON`, else next to this executable, else on PATH.
pub fn daemon_program() -> Result<PathBuf> {
    if let Some(program) = std::env::var_os("O365_AUTH_DAEMON").filter(|value| !value.is_empty()) {
        return Ok(PathBuf::from(program));
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join(DAEMON_NAME)));
    if let Some(beside) = beside.as_ref().filter(|path| is_executable(path)) {
        return Ok(beside.clone());
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(DAEMON_NAME))
            .find(|candidate| is_executable(candidate))
    });
    on_path.ok_or_else(|| {
        let beside = beside
            .as_ref()
            .and_then(|path| path.parent())
            .map(|dir| format!("in {} or ", dir.display()))
            .unwrap_or_default();
        Failure::Unreachable(format!(
            "{DAEMON_NAME} was not found {beside}on PATH (set O365_AUTH_DAEMON to its path)"
        ))
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Replaces this process with `o365-auth-daemon ARGS` (for `o365-auth daemon` and
/// `o365-auth sandbox`); returns only when that cannot be done.
pub fn exec_daemon(args: Vec<OsString>) -> Failure {
    let program = match daemon_program() {
        Ok(program) => program,
        Err(failure) => return failure,
    };
    let error = Command::new(&program).args(args).exec();
    Failure::Unreachable(format!("cannot run {}: {error}", program.display()))
}

/// Where a started daemon logs: `$XDG_STATE_HOME/o365-auth/daemon.log`, else
/// `~/.local/state/o365-auth/daemon.log`.
pub fn log_path(env: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let set = |name: &str| {
        env(name)
            .filter(|value| !value.is_empty())
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
    };
    let state =
        set("XDG_STATE_HOME").or_else(|| Some(set("HOME")?.join(".local").join("state")))?;
    Some(state.join("o365-auth").join("daemon.log"))
}

/// Starts the daemon for `path` and waits until it answers `status`; returns that connection.
fn start(path: &Path) -> Result<Client> {
    let program = daemon_program().map_err(|failure| {
        Failure::Unreachable(format!(
            "no o365-auth service answers on {}, and one cannot be started: {failure}",
            path.display()
        ))
    })?;
    let log = log_path(|name| std::env::var_os(name));
    let (log_file, log_start) = match &log {
        Some(log) => open_log(log),
        None => (None, 0),
    };
    let mut command = Command::new(&program);
    command.arg("--socket").arg(path);
    if let (Some(log), Some(_)) = (&log, &log_file) {
        command.arg("--log-file").arg(log);
    }
    // Standard error goes to the log too, so a daemon that fails before it opens its log
    // (bad arguments, a library it cannot load) still says why.
    let stderr = log_file.map_or_else(Stdio::null, Stdio::from);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    // SAFETY: only async-signal-safe calls between fork and exec: setsid, and close_range
    // (a raw syscall) marking every descriptor above 2 close-on-exec, so ones our caller
    // leaked to us (a pipe a test harness or git reads to its end) do not stay open in the
    // long-lived daemon. Marked, not closed: std's pipe that reports a failed exec must stay
    // usable until the exec.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(io::Error::last_os_error());
            }
            const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
            // Fails on kernels before 5.11; the descriptors then stay as they were.
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC);
            Ok(())
        });
    }
    let child = command.spawn().map_err(|error| {
        Failure::Unreachable(format!(
            "no o365-auth service answers on {}, and {} could not be started: {error}",
            path.display(),
            program.display()
        ))
    })?;
    wait_until_ready(path, child, log.as_deref(), log_start)
}

/// Opens (creating, 0600 in a 0700 directory) the log, and where this start's lines begin.
fn open_log(log: &Path) -> (Option<File>, u64) {
    if let Some(dir) = log.parent() {
        let _ = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir);
    }
    match OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(log)
    {
        Ok(file) => {
            let start = file.metadata().map(|meta| meta.len()).unwrap_or(0);
            (Some(file), start)
        }
        Err(_) => (None, 0),
    }
}

fn wait_until_ready(
    path: &Path,
    mut child: Child,
    log: Option<&Path>,
    log_start: u64,
) -> Result<Client> {
    let started = Instant::now();
    let mut exited = None;
    loop {
        if let Ok(mut client) = Client::connect(path) {
            client.set_timeout(Some(Duration::from_secs(2)));
            if client.call("status", json!({})).is_ok() {
                client.set_timeout(Some(crate::rpc::CALL_TIMEOUT));
                return Ok(client);
            }
        }
        if exited.is_none()
            && let Ok(Some(status)) = child.try_wait()
        {
            let lines = log_tail(log, log_start);
            // Two clients may start a daemon at once: the second finds the store owned
            // and exits, while the first gets ready. Keep waiting for that one.
            if !lines.iter().any(|line| line.contains("already runs")) {
                return Err(start_failed(
                    path,
                    &format!("o365-auth-daemon exited ({status}) before it answered"),
                    log,
                    &lines,
                ));
            }
            exited = Some(status);
        }
        if started.elapsed() >= START_TIMEOUT {
            let what = match exited {
                Some(status) => format!(
                    "o365-auth-daemon exited ({status}) because another one owns the store, \
                     and that one did not answer within {} s",
                    START_TIMEOUT.as_secs()
                ),
                None => format!(
                    "o365-auth-daemon (pid {}) was started but did not answer within {} s; it \
                     is left running in case it is only slow (waiting for the keyring?)",
                    child.id(),
                    START_TIMEOUT.as_secs()
                ),
            };
            return Err(start_failed(path, &what, log, &log_tail(log, log_start)));
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

fn start_failed(path: &Path, what: &str, log: Option<&Path>, lines: &[String]) -> Failure {
    let mut message = format!(
        "no o365-auth service answered on {}, so one was started: {what}",
        path.display()
    );
    match log {
        Some(log) if lines.is_empty() => {
            message.push_str(&format!("\n  its log {} has nothing new", log.display()));
        }
        Some(log) => {
            message.push_str(&format!("\n  the end of its log {}:", log.display()));
            for line in lines {
                message.push_str("\n    ");
                message.push_str(line);
            }
        }
        None => message.push_str("\n  (no log: neither XDG_STATE_HOME nor HOME is set)"),
    }
    message.push_str("\n  run `o365-auth daemon` in a terminal to see it start");
    Failure::Unreachable(message)
}

/// The last lines the log got since `start`, each cut to a readable length.
fn log_tail(log: Option<&Path>, start: u64) -> Vec<String> {
    let Some(log) = log else {
        return Vec::new();
    };
    let mut text = Vec::new();
    let read = File::open(log).and_then(|mut file| {
        let length = file.metadata()?.len();
        // At most the last 64 KiB of this start's lines.
        file.seek(SeekFrom::Start(start.max(length.saturating_sub(64 * 1024))))?;
        file.read_to_end(&mut text)
    });
    if read.is_err() {
        return Vec::new();
    }
    tail_lines(&String::from_utf8_lossy(&text), LOG_LINES)
}

/// The last `count` lines that say something: blank lines, and backtraces (which
/// `RUST_BACKTRACE` adds under an error), are left out.
fn tail_lines(text: &str, count: usize) -> Vec<String> {
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .filter(|line| !line.starts_with([' ', '\t']) && line.trim() != "Stack backtrace:")
        .collect();
    lines[lines.len().saturating_sub(count)..]
        .iter()
        .map(|line| {
            let line = line.trim_end();
            match line.char_indices().nth(300) {
                Some((cut, _)) => format!("{}…", &line[..cut]),
                None => line.to_owned(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_goes_to_the_state_directory() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| OsString::from(value))
            }
        };
        assert_eq!(
            log_path(env(&[("XDG_STATE_HOME", "/state"), ("HOME", "/home/me")])),
            Some(PathBuf::from("/state/o365-auth/daemon.log"))
        );
        assert_eq!(
            log_path(env(&[("XDG_STATE_HOME", "relative"), ("HOME", "/home/me")])),
            Some(PathBuf::from("/home/me/.local/state/o365-auth/daemon.log"))
        );
        assert_eq!(log_path(env(&[])), None);
    }

    #[test]
    fn autostart_is_off_for_any_value_but_0() {
        assert!(!autostart_disabled(None));
        assert!(!autostart_disabled(Some(OsStr::new(""))));
        assert!(!autostart_disabled(Some(OsStr::new("0"))));
        assert!(autostart_disabled(Some(OsStr::new("1"))));
        assert!(autostart_disabled(Some(OsStr::new("yes"))));
    }

    #[test]
    fn the_log_tail_keeps_the_last_lines_cut_short() {
        let text = format!("a\n\nb\nc\n{}\n", "x".repeat(400));
        let tail = tail_lines(&text, 2);
        assert_eq!(tail[0], "c");
        assert_eq!(tail[1].chars().count(), 301);
        let traced = "ERROR it failed\nError: it failed\n\nStack backtrace:\n   0: anyhow\n  \
                      \x20      at src/lib.rs:1\n";
        assert_eq!(
            tail_lines(traced, 5),
            ["ERROR it failed", "Error: it failed"]
        );
    }

    #[test]
    fn a_refused_or_missing_socket_means_nobody_listens() {
        let dir = tempfile::tempdir().unwrap();
        let missing = Client::connect(&dir.path().join("none.sock"))
            .err()
            .unwrap();
        assert!(nobody_listens(&missing));
        // A socket file whose listener is gone.
        let stale = dir.path().join("stale.sock");
        drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
        let refused = Client::connect(&stale).err().unwrap();
        assert!(nobody_listens(&refused), "{refused:?}");
    }
}
