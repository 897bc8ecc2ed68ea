//! `o365-auth token` as a whole process, side by side in one run with a bare `/bin/true` and
//! (when `target/interop-venv` has it, see scripts/install-deps.sh) python-o365 handing out a
//! cached token from its token file. The issue's target: median ≤ 1.5× `/bin/true`.
//!
//!     scripts/bench-token.sh [ROUNDS]        # or: cargo bench -p o365-auth --bench token -- ROUNDS
//!
//! Setup, not timed: the entra-emulator in this process, the real `o365-auth-daemon` (release)
//! on a temporary socket and passphrase store, an app and a password sign-in through the real
//! `o365-auth`, one `token` to warm the cache. Timed: spawn to exit of each command with its
//! output to /dev/null, the commands interleaved round by round so that machine noise falls on
//! all of them alike.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use entra_emulator::Emulator;
use entra_emulator::sandbox::{DEMO_CLIENT_ID, DEMO_PASSWORD, DEMO_TENANT_ID, DEMO_USERNAME};

const CLI: &str = env!("CARGO_BIN_EXE_o365-auth");
const DAEMON: &str = env!("CARGO_BIN_EXE_o365-auth-daemon");
const PYTHON_APP: &str = "5e0c1a2e-5a1e-4f0e-9d7a-0c8f2f7a1b22";
const PYTHON_USER: &str = "dave@contoso.com";

const LOAD_WITH_PYTHON_O365: &str = r#"
import pathlib, sys
from O365 import Account
from O365.utils import FileSystemTokenBackend
path = pathlib.Path(sys.argv[1])
backend = FileSystemTokenBackend(token_path=path.parent, token_filename=path.name)
account = Account((sys.argv[2],), auth_flow_type="public", tenant_id="common", token_backend=backend)
assert account.is_authenticated
token = backend.get_access_token(username=sys.argv[3])
assert token and not backend.token_is_expired(username=sys.argv[3])
print(token["secret"])
"#;

fn main() {
    // `cargo test --all-targets` runs benches once as tests; only `cargo bench` (which passes
    // --bench) measures.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|arg| arg == "--bench") {
        return;
    }
    let rounds: usize = args.iter().find_map(|arg| arg.parse().ok()).unwrap_or(2000);
    let python_every = 20;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut config = entra_emulator::sandbox::config();
    for app in config.tenants.iter_mut().flat_map(|t| t.apps.iter_mut()) {
        if app.client_id.to_string() == DEMO_CLIENT_ID {
            app.pre_consented_scopes = ["User.Read", "offline_access"].map(str::to_owned).to_vec();
        }
    }
    let emulator = runtime
        .block_on(Emulator::start(config, "127.0.0.1:0".parse().unwrap()))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("ipc.sock");
    std::fs::write(dir.path().join("passphrase"), "bench passphrase\n").unwrap();
    let mut daemon = Command::new(DAEMON)
        .arg("--socket")
        .arg(&socket)
        .arg("--store")
        .arg(dir.path().join("store.sqlite3"))
        .arg("--passphrase-file")
        .arg(dir.path().join("passphrase"))
        .arg("--log-file")
        .arg(dir.path().join("daemon.log"))
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let cli = |args: &[&str]| {
        let mut command = Command::new(CLI);
        command
            .args(args)
            .env("O365_AUTH_SOCKET", &socket)
            .env("O365_AUTH_NO_AUTOSTART", "1");
        command
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !quiet(cli(&["status"])).success() {
        assert!(Instant::now() < deadline, "the daemon did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let authority = emulator.base_url();
    assert!(
        quiet(cli(&[
            "app",
            "add",
            "bench",
            "--client-id",
            DEMO_CLIENT_ID,
            "--tenant",
            DEMO_TENANT_ID,
            "--authority",
            &authority,
        ]))
        .success()
    );
    let mut login = cli(&["login", "--password", "--username", DEMO_USERNAME]);
    login.stdin(Stdio::piped()).stdout(Stdio::null());
    let mut child = login.spawn().unwrap();
    writeln!(child.stdin.take().unwrap(), "{DEMO_PASSWORD}").unwrap();
    assert!(child.wait().unwrap().success(), "the sign-in failed");
    let token_command = || cli(&["token"]);
    let output = token_command().output().unwrap();
    assert!(output.status.success() && output.stdout.len() > 100);

    // For reference: the same client against the least a server can do (a blocking std
    // listener in this process answering the daemon's answer, saved), to tell the client's
    // share of the time from the service's.
    let mut json = cli(&["token", "--format", "json"]);
    json.stderr(Stdio::null());
    let answer = String::from_utf8(json.output().unwrap().stdout).unwrap();
    let canned = dir.path().join("canned.sock");
    let listener = std::os::unix::net::UnixListener::bind(&canned).unwrap();
    std::thread::spawn(move || {
        use std::io::{BufRead, BufReader};
        let line = format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}}\n",
            answer.trim()
        );
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut request = String::new();
            if BufReader::new(&stream).read_line(&mut request).is_ok() {
                let _ = stream.write_all(line.as_bytes());
            }
        }
    });

    let python = python_o365(dir.path());
    if python.is_none() {
        eprintln!("python-o365: skipped (no target/interop-venv; run scripts/install-deps.sh)");
    }

    // What is timed: posix_spawn to waitpid, nothing else (argv, environment and /dev/null
    // prepared beforehand), so the harness adds as little as possible to every command.
    let socket_env = format!("O365_AUTH_SOCKET={}", socket.display());
    let extra_env = [socket_env.as_str(), "O365_AUTH_NO_AUTOSTART=1"];
    let bare_spawn = Spawn::new(&["/bin/true"], &extra_env);
    let ours_spawn = Spawn::new(&[CLI, "token"], &extra_env);
    let canned_env = format!("O365_AUTH_SOCKET={}", canned.display());
    let canned_spawn = Spawn::new(&[CLI, "token"], &[&canned_env, "O365_AUTH_NO_AUTOSTART=1"]);
    let theirs_spawn = python.as_ref().map(|(python, script, file)| {
        Spawn::new(
            &[
                python.to_str().unwrap(),
                "-W",
                "ignore",
                "-c",
                script,
                file.to_str().unwrap(),
                PYTHON_APP,
                PYTHON_USER,
            ],
            &extra_env,
        )
    });

    // Warm up the page cache and the service.
    for _ in 0..50 {
        bare_spawn.time();
        ours_spawn.time();
    }
    let mut bare = Vec::with_capacity(rounds);
    let mut ours = Vec::with_capacity(rounds);
    let mut floor = Vec::with_capacity(rounds);
    let mut theirs = Vec::new();
    for round in 0..rounds {
        bare.push(bare_spawn.time());
        ours.push(ours_spawn.time());
        floor.push(canned_spawn.time());
        if let Some(spawn) = &theirs_spawn
            && round % python_every == 0
        {
            theirs.push(spawn.time());
        }
    }

    let bare_median = median(&mut bare);
    let ours_median = median(&mut ours);
    println!(
        "o365-auth token, whole process, {rounds} rounds interleaved (posix_spawn to waitpid, output to /dev/null)"
    );
    println!(
        "{:<34}{:>12}{:>12}{:>12}{:>10}{:>14}",
        "", "median", "p10", "p90", "× true", "+ true (ms)"
    );
    report("/bin/true", &mut bare, bare_median);
    report("o365-auth token", &mut ours, bare_median);
    report("  the same, canned std server", &mut floor, bare_median);
    if !theirs.is_empty() {
        report(
            &format!("python-o365 cached token ({})", theirs.len()),
            &mut theirs,
            bare_median,
        );
    }
    println!(
        "ratio o365-auth token / /bin/true (medians): {:.2} (target ≤ 1.5)",
        ours_median.as_secs_f64() / bare_median.as_secs_f64()
    );

    let _ = quiet(cli(&["stop"]));
    stop(&mut daemon);
    runtime.block_on(emulator.shutdown());
}

/// python-o365 and a token file it saved itself, when the interop venv is there.
fn python_o365(dir: &Path) -> Option<(PathBuf, String, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join("target/interop-venv/bin/python");
    let writer = root.join("crates/core/tests/interop/write_with_python_o365.py");
    if !python.exists() || !writer.exists() {
        return None;
    }
    let file = dir.join("o365_token.txt");
    let saved = Command::new(&python)
        .arg("-W")
        .arg("ignore")
        .arg(&writer)
        .arg(&file)
        .stdout(Stdio::null())
        .status()
        .ok()?;
    if !saved.success() {
        eprintln!("python-o365: skipped (it could not save a token file)");
        return None;
    }
    let mut check = Command::new(&python);
    check
        .args(["-W", "ignore", "-c", LOAD_WITH_PYTHON_O365])
        .arg(&file)
        .args([PYTHON_APP, PYTHON_USER]);
    let output = check.output().ok()?;
    if !output.status.success() || output.stdout.len() < 10 {
        eprintln!(
            "python-o365: skipped (it did not hand out the cached token: {})",
            String::from_utf8_lossy(&output.stderr)
        );
        return None;
    }
    Some((python, LOAD_WITH_PYTHON_O365.to_owned(), file))
}

fn quiet(mut command: Command) -> std::process::ExitStatus {
    command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
}

/// A command ready to be started with posix_spawn: argv, the environment (this process's plus
/// `extra`), and standard input, output and error on /dev/null.
struct Spawn {
    argv: Vec<std::ffi::CString>,
    envp: Vec<std::ffi::CString>,
    null: std::fs::File,
}

impl Spawn {
    fn new(argv: &[&str], extra: &[&str]) -> Spawn {
        use std::os::unix::ffi::OsStrExt;
        let cstring = |bytes: &[u8]| std::ffi::CString::new(bytes).unwrap();
        let mut envp: Vec<std::ffi::CString> = std::env::vars_os()
            .map(|(name, value)| {
                let mut pair = name.as_bytes().to_vec();
                pair.push(b'=');
                pair.extend_from_slice(value.as_bytes());
                cstring(&pair)
            })
            .collect();
        envp.extend(extra.iter().map(|pair| cstring(pair.as_bytes())));
        Spawn {
            argv: argv.iter().map(|arg| cstring(arg.as_bytes())).collect(),
            envp,
            null: std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/null")
                .unwrap(),
        }
    }

    /// Spawn to exit.
    fn time(&self) -> Duration {
        use std::os::fd::AsRawFd;
        let pointers = |strings: &[std::ffi::CString]| {
            let mut pointers: Vec<*mut libc::c_char> =
                strings.iter().map(|s| s.as_ptr() as *mut _).collect();
            pointers.push(std::ptr::null_mut());
            pointers
        };
        let argv = pointers(&self.argv);
        let envp = pointers(&self.envp);
        let null = self.null.as_raw_fd();
        unsafe {
            let mut actions: libc::posix_spawn_file_actions_t = std::mem::zeroed();
            libc::posix_spawn_file_actions_init(&mut actions);
            for fd in 0..3 {
                libc::posix_spawn_file_actions_adddup2(&mut actions, null, fd);
            }
            let mut pid = 0;
            let start = Instant::now();
            let spawned = libc::posix_spawn(
                &mut pid,
                argv[0],
                &actions,
                std::ptr::null(),
                argv.as_ptr(),
                envp.as_ptr(),
            );
            assert_eq!(spawned, 0, "posix_spawn {:?}", self.argv);
            let mut status = 0;
            libc::waitpid(pid, &mut status, 0);
            let elapsed = start.elapsed();
            libc::posix_spawn_file_actions_destroy(&mut actions);
            assert!(
                libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
                "{:?} failed",
                self.argv
            );
            elapsed
        }
    }
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn report(name: &str, samples: &mut [Duration], bare: Duration) {
    samples.sort_unstable();
    let at = |fraction: f64| samples[((samples.len() - 1) as f64 * fraction) as usize];
    let median = samples[samples.len() / 2];
    println!(
        "{name:<34}{:>9.3} ms{:>9.3} ms{:>9.3} ms{:>9.2}×{:>14.3}",
        median.as_secs_f64() * 1e3,
        at(0.1).as_secs_f64() * 1e3,
        at(0.9).as_secs_f64() * 1e3,
        median.as_secs_f64() / bare.as_secs_f64(),
        (median.as_secs_f64() - bare.as_secs_f64()) * 1e3
    );
}

fn stop(daemon: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = daemon.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = daemon.kill();
    let _ = daemon.wait();
}
