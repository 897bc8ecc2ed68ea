//! End to end across processes: the entra-emulator (in this process, on loopback), the real
//! `o365-auth-daemon` binary on a socket and store in a temporary directory, and the real
//! `o365-auth` binary as a person or a script runs it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use entra_emulator::config::{EmulatorConfig, ResourceConfig};
use entra_emulator::sandbox::{
    DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_CONFIDENTIAL_CLIENT_ID, DEMO_PASSWORD, DEMO_TENANT_ID,
    DEMO_USERNAME,
};
use entra_emulator::{Emulator, Fault};
use serde_json::{Value, json};

// The project's scripted browser for the emulator's pages (crates/core's test support).
#[path = "../../core/tests/support/browser.rs"]
mod browser;

const CLI: &str = env!("CARGO_BIN_EXE_o365-auth");
const DAEMON: &str = env!("CARGO_BIN_EXE_o365-auth-daemon");
const DEVOPS_APP_ID: &str = "499b84ac-1321-427f-aa17-267ca6975798";
const DEVOPS_URI: &str = "https://app.vssps.visualstudio.com";

/// The sandbox, with the demo app's scopes (and Azure DevOps') consented by an admin so that
/// a password sign-in works without the consent page.
fn emulator_config() -> EmulatorConfig {
    let mut config = entra_emulator::sandbox::config();
    config.resources.push(ResourceConfig {
        uri: DEVOPS_URI.to_owned(),
        app_id: DEVOPS_APP_ID.parse().unwrap(),
        display_name: "Azure DevOps".to_owned(),
        scopes: vec!["user_impersonation".to_owned()],
        app_roles: Vec::new(),
        access_token_version: 1,
    });
    let devops_scope = format!("{DEVOPS_URI}/user_impersonation");
    // Device codes polled every second.
    config.lifetimes.device_code_interval_seconds = 1;
    config.device_code_slow_down = false;
    for app in config.tenants.iter_mut().flat_map(|t| t.apps.iter_mut()) {
        if app.client_id.to_string() == DEMO_CLIENT_ID {
            app.delegated_permissions.push(devops_scope.clone());
            app.pre_consented_scopes = vec![
                "User.Read".to_owned(),
                "Mail.Read".to_owned(),
                "offline_access".to_owned(),
                devops_scope.clone(),
            ];
        }
    }
    config
}

/// What one run of `o365-auth` did.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    #[track_caller]
    fn ok(self) -> Run {
        assert_eq!(
            self.code,
            Some(0),
            "stdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    fn failed(self, code: i32) -> Run {
        assert_eq!(
            self.code,
            Some(code),
            "stdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("{error}: {}", self.stdout))
    }
}

/// A temporary home for a service: socket, store, passphrase, state directory.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("passphrase"), "correct horse battery\n").unwrap();
        Home { dir }
    }

    fn socket(&self) -> PathBuf {
        self.dir
            .path()
            .join("run")
            .join("o365-auth")
            .join("ipc.sock")
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("store.sqlite3")
    }

    fn passphrase(&self) -> PathBuf {
        self.dir.path().join("passphrase")
    }

    /// The log of a daemon the test starts itself.
    fn daemon_log(&self) -> PathBuf {
        self.dir.path().join("daemon-test.log")
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// `o365-auth` with a clean environment pointing at this home.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(CLI);
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("XDG_STATE_HOME", self.state())
            .env("O365_AUTH_SOCKET", self.socket())
            .env("O365_AUTH_NO_AUTOSTART", "1");
        command
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, None)
    }

    fn run_with(&self, args: &[&str], stdin: Option<&str>) -> Run {
        run(self.command(args), stdin)
    }

    /// A script that runs the real daemon on this home's store (autostart passes --socket
    /// and --log-file; the store and passphrase are this home's).
    fn daemon_wrapper(&self, passphrase: &Path) -> PathBuf {
        let script = self.dir.path().join("daemon.sh");
        let text = format!(
            "#!/bin/sh\nexec '{DAEMON}' --store '{}' --passphrase-file '{}' \"$@\"\n",
            self.store().display(),
            passphrase.display()
        );
        // Written by a child process: a file this (multi-threaded) test process had open for
        // writing could leak into another test's fork and make exec fail with ETXTBSY.
        let mut writer = Command::new("sh");
        writer
            .args(["-c", "cat > \"$1\" && chmod 755 \"$1\"", "sh"])
            .arg(&script);
        run(writer, Some(&text)).ok();
        script
    }
}

fn run(mut command: Command, stdin: Option<&str>) -> Run {
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    Run::from(child.wait_with_output().unwrap())
}

/// The emulator and a daemon started by the test (not by autostart).
struct Service {
    home: Home,
    daemon: Child,
    emulator: Option<Emulator>,
    runtime: tokio::runtime::Runtime,
}

impl Service {
    fn start() -> Service {
        Service::start_with(emulator_config())
    }

    fn start_with(config: EmulatorConfig) -> Service {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let emulator = runtime
            .block_on(Emulator::start(config, "127.0.0.1:0".parse().unwrap()))
            .unwrap();
        let home = Home::new();
        let daemon = Command::new(DAEMON)
            .arg("--socket")
            .arg(home.socket())
            .arg("--store")
            .arg(home.store())
            .arg("--passphrase-file")
            .arg(home.passphrase())
            .arg("--log-file")
            .arg(home.daemon_log())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let service = Service {
            home,
            daemon,
            emulator: Some(emulator),
            runtime,
        };
        service.wait_until_ready();
        service
    }

    fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let status = self.home.run(&["status"]);
            if status.code == Some(0) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the daemon never answered: {}\n{}",
                status.stderr,
                std::fs::read_to_string(self.home.daemon_log()).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn base_url(&self) -> String {
        self.emulator.as_ref().unwrap().base_url()
    }

    fn run(&self, args: &[&str]) -> Run {
        self.home.run(args)
    }

    fn run_with(&self, args: &[&str], stdin: &str) -> Run {
        self.home.run_with(args, Some(stdin))
    }

    fn add_demo_app(&self) {
        let authority = self.base_url();
        self.run(&[
            "app",
            "add",
            "sandbox",
            "--client-id",
            DEMO_CLIENT_ID,
            "--tenant",
            DEMO_TENANT_ID,
            "--authority",
            &authority,
        ])
        .ok();
    }

    fn sign_in_demo(&self) {
        let run = self
            .run_with(
                &["login", "--password", "--username", DEMO_USERNAME],
                &format!("{DEMO_PASSWORD}\n"),
            )
            .ok();
        assert!(
            run.stdout
                .contains(&format!("Signed in as {DEMO_USERNAME}")),
            "{}",
            run.stdout
        );
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        // SIGTERM, as a service manager would stop it; the store closes cleanly.
        unsafe {
            libc::kill(self.daemon.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.daemon.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        if let Some(emulator) = self.emulator.take() {
            self.runtime.block_on(emulator.shutdown());
        }
    }
}

fn decode(text: &str) -> String {
    String::from_utf8(STANDARD.decode(text.trim_end()).unwrap()).unwrap()
}

#[test]
fn password_sign_in_then_tokens_in_every_format_accounts_requests_and_logout() {
    let service = Service::start();
    service.add_demo_app();
    let apps = service.run(&["app", "list", "--json"]).ok().json();
    assert_eq!(apps[0]["name"], "sandbox", "{apps}");
    assert_eq!(apps[0]["client_id"], DEMO_CLIENT_ID);
    service.sign_in_demo();

    let table = service.run(&["accounts"]).ok().stdout;
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("USERNAME"), "{table}");
    assert!(
        lines[1].starts_with(DEMO_USERNAME) && lines[1].contains("sandbox"),
        "{table}"
    );
    assert!(lines[1].contains("fresh"), "{table}");
    let accounts = service.run(&["accounts", "--json"]).ok().json();
    assert_eq!(accounts[0]["username"], DEMO_USERNAME, "{accounts}");

    service.run(&["alias", DEMO_USERNAME, "work"]).ok();

    // raw: the token and a newline; the cached token is the same in every format.
    let raw = service.run(&["token"]).ok().stdout;
    assert!(
        raw.ends_with('\n') && raw.matches('\n').count() == 1,
        "{raw}"
    );
    let token = raw.trim_end().to_owned();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    let by_alias = service.run(&["token", "work"]).ok().stdout;
    assert_eq!(by_alias.trim_end(), token);

    let json = service
        .run(&["token", "--account", "work", "--format", "json"])
        .ok()
        .json();
    assert_eq!(json["access_token"], token.as_str());
    assert_eq!(json["account"], DEMO_USERNAME);
    assert!(json["expires_at"].as_i64().unwrap() > 0, "{json}");
    assert_eq!(
        service.run(&["--json", "token"]).ok().json()["access_token"],
        token.as_str()
    );

    assert_eq!(
        service.run(&["token", "--format", "header"]).ok().stdout,
        format!("Authorization: Bearer {token}\n")
    );
    assert_eq!(
        decode(&service.run(&["token", "--format", "xoauth2"]).ok().stdout),
        format!("user={DEMO_USERNAME}\x01auth=Bearer {token}\x01\x01")
    );
    assert_eq!(
        decode(
            &service
                .run(&["token", "--format", "oauthbearer"])
                .ok()
                .stdout
        ),
        format!("n,a={DEMO_USERNAME},\x01auth=Bearer {token}\x01\x01")
    );
    assert_eq!(
        decode(
            &service
                .run(&[
                    "token",
                    "--format",
                    "oauthbearer",
                    "--host",
                    "outlook.office365.com",
                    "--port",
                    "993"
                ])
                .ok()
                .stdout
        ),
        format!(
            "n,a={DEMO_USERNAME},\x01host=outlook.office365.com\x01port=993\x01auth=Bearer \
             {token}\x01\x01"
        )
    );
    // env: a POSIX shell evaluates the lines back into the same values.
    let env = service.run(&["token", "--format", "env"]).ok().stdout;
    let shell = run(
        {
            let mut sh = Command::new("sh");
            sh.args([
                "-c",
                "eval \"$(cat)\"; printf '%s|%s|%s' \"$O365_ACCESS_TOKEN\" \
                 \"$O365_ACCESS_TOKEN_EXPIRES_AT\" \"$O365_ACCOUNT\"",
            ]);
            sh
        },
        Some(&env),
    )
    .ok();
    assert_eq!(
        shell.stdout,
        format!("{token}|{}|{DEMO_USERNAME}", json["expires_at"])
    );
    // --host without oauthbearer is a usage error.
    service.run(&["token", "--host", "x"]).failed(2);

    // Scopes and a minimum lifetime; a token beyond any lifetime forces a refresh.
    let scoped = service
        .run(&[
            "token",
            "--scopes",
            "User.Read",
            "--min-ttl",
            "120",
            "--format",
            "json",
        ])
        .ok()
        .json();
    assert!(
        scoped["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|scope| scope.as_str().unwrap().ends_with("User.Read")),
        "{scoped}"
    );

    // The curl recipe of docs/cli.md, with the emulator standing in for Graph.
    let mut curl = Command::new("sh");
    curl.args([
        "-c",
        "curl -sf -H \"$(\"$0\" token --format header)\" \"$1/v1.0/me\"",
        CLI,
        &service.base_url(),
    ])
    .env("O365_AUTH_SOCKET", service.home.socket())
    .env("O365_AUTH_NO_AUTOSTART", "1");
    let me: Value = serde_json::from_str(&run(curl, None).ok().stdout).unwrap();
    assert_eq!(me["userPrincipalName"], DEMO_USERNAME, "{me}");

    // Graph through the service.
    let me = service.run(&["request", "GET", "me"]).ok().json();
    assert_eq!(me["userPrincipalName"], DEMO_USERNAME, "{me}");
    let whole = service
        .run(&["request", "GET", "me", "--account", "work", "--json"])
        .ok()
        .json();
    assert_eq!(whole["status"], 200, "{whole}");
    let missing = service
        .run(&["request", "GET", "users/nobody@sandbox.onmicrosoft.com"])
        .failed(1);
    assert!(missing.stderr.contains("HTTP 404"), "{}", missing.stderr);
    assert!(
        missing.stdout.contains("Request_ResourceNotFound"),
        "{}",
        missing.stdout
    );

    // refresh gets a new token, and hands it out from then on.
    let refreshed = service.run(&["refresh", "work"]).ok().stdout;
    assert!(refreshed.starts_with("Refreshed demo@"), "{refreshed}");
    assert!(!refreshed.contains(&token));
    let after = service.run(&["token"]).ok().stdout;
    assert_ne!(after.trim_end(), token);

    let status = service.run(&["status", "--json"]).ok().json();
    assert_eq!(status["accounts"], 1, "{status}");
    assert!(
        service
            .run(&["status"])
            .ok()
            .stdout
            .contains("o365-auth service")
    );

    service.run(&["alias", "work", "--clear"]).ok();
    service.run(&["token", "work"]).failed(1);
    let logout = service.run(&["logout", DEMO_USERNAME]).ok().stdout;
    assert!(logout.contains("Signed out"), "{logout}");
    let gone = service.run(&["token", DEMO_USERNAME]).failed(1);
    assert!(gone.stderr.starts_with("error: "), "{}", gone.stderr);
    assert!(gone.stderr.contains("(no_account)"), "{}", gone.stderr);
    assert!(gone.stdout.is_empty());
}

#[test]
fn app_only_sign_in_with_the_client_secret_from_stdin() {
    let service = Service::start();
    let authority = service.base_url();
    let added = service
        .run_with(
            &[
                "app",
                "add",
                "robot",
                "--client-id",
                DEMO_CONFIDENTIAL_CLIENT_ID,
                "--tenant",
                DEMO_TENANT_ID,
                "--flow",
                "credentials",
                "--authority",
                &authority,
                "--client-secret-stdin",
            ],
            &format!("{DEMO_CLIENT_SECRET}\n"),
        )
        .ok();
    assert!(!added.stdout.contains(DEMO_CLIENT_SECRET));
    let shown = service.run(&["app", "show", "robot", "--json"]).ok();
    assert!(!shown.stdout.contains(DEMO_CLIENT_SECRET));
    assert_eq!(shown.json()["has_client_secret"], true);
    let text = service.run(&["app", "show", "robot"]).ok().stdout;
    assert!(text.contains("client secret   yes"), "{text}");

    // No method flag: the app's flow (client credentials) decides.
    let login = service.run(&["login", "--app", "robot"]).ok().stdout;
    assert!(login.starts_with("Signed in as"), "{login}");
    let token = service.run(&["token", "--format", "json"]).ok().json();
    assert!(token["access_token"].as_str().unwrap().len() > 20);

    service.run(&["app", "remove", "robot"]).ok();
    let none = service.run(&["app", "list", "--json"]).ok().json();
    assert_eq!(none, serde_json::json!([]));
}

#[test]
fn git_credential_hands_azure_devops_a_token_and_ignores_other_hosts() {
    let service = Service::start();
    service.add_demo_app();
    service.sign_in_demo();

    let other = service
        .run_with(
            &["git-credential", "get"],
            "protocol=https\nhost=github.com\n\n",
        )
        .ok();
    assert_eq!(other.stdout, "");

    // git's user name is the organisation here, which names no account: the only one answers.
    let answer = service
        .run_with(
            &["git-credential", "get"],
            "protocol=https\nhost=dev.azure.com\npath=org/project/_git/repo\nusername=org\n\n",
        )
        .ok()
        .stdout;
    let fields: std::collections::HashMap<&str, &str> = answer
        .lines()
        .filter_map(|line| line.split_once('='))
        .collect();
    assert_eq!(fields["username"], DEMO_USERNAME, "{answer}");
    assert_eq!(fields["password"].split('.').count(), 3, "{answer}");
    assert!(fields["password_expiry_utc"].parse::<i64>().is_ok());
    // The token is for Azure DevOps, not Graph.
    let payload = fields["password"].split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert!(
        claims["aud"].as_str().unwrap().contains(DEVOPS_APP_ID)
            || claims["aud"].as_str().unwrap().starts_with(DEVOPS_URI),
        "{claims}"
    );

    // Real git, configured as the help says, fills the credential from us (no network).
    let mut git = Command::new("git");
    git.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", service.home.dir.path())
        .env("O365_AUTH_SOCKET", service.home.socket())
        .env("O365_AUTH_NO_AUTOSTART", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .arg("-c")
        .arg(format!(
            "credential.https://dev.azure.com.helper=!'{CLI}' git-credential"
        ))
        .args(["credential", "fill"]);
    let filled = run(
        git,
        Some("protocol=https\nhost=dev.azure.com\npath=org/p/_git/r\n\n"),
    )
    .ok()
    .stdout;
    assert!(
        filled.contains(&format!("username={DEMO_USERNAME}\n")) && filled.contains("password=ey"),
        "{filled}"
    );

    service
        .run_with(
            &["git-credential", "store"],
            "protocol=https\nhost=dev.azure.com\n\n",
        )
        .ok();
    // erase: the refused token is replaced.
    service
        .run_with(
            &["git-credential", "erase"],
            "protocol=https\nhost=dev.azure.com\n\n",
        )
        .ok();
    let again = service
        .run_with(
            &["git-credential", "get"],
            "protocol=https\nhost=dev.azure.com\n\n",
        )
        .ok()
        .stdout;
    assert!(
        !again.contains(fields["password"]),
        "erase refreshed the token"
    );
}

/// The daemons running on `home`'s store (a path unique to one test), or still in its
/// wrapper script, found in /proc by their command line: autostarted daemons are not our
/// children.
fn daemons_of(home: &Home) -> Vec<i32> {
    let store = home.store();
    let wrapper = home.dir.path().join("daemon.sh");
    let wanted = [
        store.as_os_str().as_encoded_bytes(),
        wrapper.as_os_str().as_encoded_bytes(),
    ];
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
                cmdline
                    .split(|byte| *byte == 0)
                    .any(|arg| wanted.contains(&arg))
            })
        })
        .collect()
}

/// Ends, by process id, every daemon a test's clients started on its store, when the test
/// ends however it ends.
struct StopDaemons<'a>(&'a Home);

impl Drop for StopDaemons<'_> {
    fn drop(&mut self) {
        for pid in daemons_of(self.0) {
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
    }
}

#[test]
fn autostart_runs_the_real_daemon_detached_and_stop_stops_it() {
    let home = Home::new();
    let _cleanup = StopDaemons(&home);
    let wrapper = home.daemon_wrapper(&home.passphrase());
    let autostarting = |args: &[&str]| {
        let mut command = home.command(args);
        command
            .env_remove("O365_AUTH_NO_AUTOSTART")
            .env("O365_AUTH_DAEMON", &wrapper);
        command
    };

    // Nothing runs: with autostart off, a clear error and exit 3.
    let off = home.run(&["accounts"]).failed(3);
    assert!(
        off.stderr.contains("no o365-auth service answers on")
            && off.stderr.contains("o365-auth daemon"),
        "{}",
        off.stderr
    );

    // With it on, the client starts the daemon and gets its answer. Its output is read
    // through pipes: the daemon must not keep them open, or this would never finish.
    let (done, finished) = std::sync::mpsc::channel();
    let command = autostarting(&["accounts"]);
    std::thread::spawn(move || {
        let _ = done.send(run(command, None));
    });
    let first = finished
        .recv_timeout(Duration::from_secs(60))
        .expect("o365-auth returned with the daemon started and its pipes closed")
        .ok();
    assert!(first.stderr.contains("No accounts yet"), "{}", first.stderr);
    home.run(&["stop"]).ok();

    // Several clients at once: each may start a daemon, one owns the store, all are served.
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let mut command = autostarting(&["app", "list", "--json"]);
            command
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            command.spawn().unwrap()
        })
        .collect();
    for client in clients {
        let run = Run::from(client.wait_with_output().unwrap()).ok();
        assert_eq!(run.json(), serde_json::json!([]));
    }
    // The daemons that lost the race may still be starting (the first one answered before
    // they got as far as the store); each finds the store owned and exits.
    let deadline = Instant::now() + Duration::from_secs(30);
    while daemons_of(&home).len() > 1 {
        assert!(Instant::now() < deadline, "only the owner keeps running");
        std::thread::sleep(Duration::from_millis(50));
    }

    let status = home.run(&["status", "--json"]).ok().json();
    let pid = status["pid"].as_i64().unwrap() as i32;
    // Its own session, away from our terminal and process group.
    let session = unsafe { libc::getsid(pid) };
    assert_eq!(session, pid, "the daemon leads its own session");
    assert!(home.state().join("o365-auth").join("daemon.log").exists());

    // A second client finds it running and starts nothing.
    run(autostarting(&["app", "list"]), None).ok();
    let again = home.run(&["status", "--json"]).ok().json();
    assert_eq!(again["pid"], status["pid"]);

    let stopped = home.run(&["stop"]).ok();
    assert!(stopped.stderr.contains("stopped"), "{}", stopped.stderr);
    home.run(&["status"]).failed(3);
    let deadline = Instant::now() + Duration::from_secs(10);
    while unsafe { libc::kill(pid, 0) } == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_daemon_that_cannot_start_is_reported_with_its_log() {
    let home = Home::new();
    let wrapper = home.daemon_wrapper(&home.dir.path().join("no-such-passphrase-file"));
    let mut command = home.command(&["token"]);
    command
        .env_remove("O365_AUTH_NO_AUTOSTART")
        .env("O365_AUTH_DAEMON", &wrapper);
    let started = Instant::now();
    let failed = run(command, None).failed(3);
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "a daemon that exits is reported at once, not after the timeout"
    );
    assert!(failed.stderr.contains("exited"), "{}", failed.stderr);
    assert!(
        failed.stderr.contains("no-such-passphrase-file"),
        "the log's last lines are quoted: {}",
        failed.stderr
    );
    assert!(failed.stderr.contains("daemon.log"), "{}", failed.stderr);

    let mut missing = home.command(&["token"]);
    missing
        .env_remove("O365_AUTH_NO_AUTOSTART")
        .env("O365_AUTH_DAEMON", home.dir.path().join("no-such-daemon"));
    let failed = run(missing, None).failed(3);
    assert!(
        failed.stderr.contains("could not be started"),
        "{}",
        failed.stderr
    );
}

#[test]
fn usage_errors_exit_2_and_no_socket_is_explained() {
    let home = Home::new();
    let bad = home.run(&["token", "--format", "nonsense"]).failed(2);
    assert!(bad.stderr.contains("nonsense"), "{}", bad.stderr);
    home.run(&["no-such-command"]).failed(2);
    let mut nowhere = home.command(&["accounts"]);
    nowhere.env_remove("O365_AUTH_SOCKET");
    let failed = run(nowhere, None).failed(2);
    assert!(
        failed.stderr.contains("XDG_RUNTIME_DIR"),
        "{}",
        failed.stderr
    );
    let help = home.run(&["--help"]).ok().stdout;
    assert!(
        help.contains("git-credential") && help.contains("Exit status"),
        "{help}"
    );
    let completions = home.run(&["completions", "bash"]).ok().stdout;
    assert!(completions.contains("o365-auth"), "{completions}");
}

#[test]
fn daemon_and_sandbox_run_the_daemon_binary() {
    let home = Home::new();
    let mut command = home.command(&["daemon", "--help"]);
    command.env("O365_AUTH_DAEMON", DAEMON);
    let help = run(command, None).ok().stdout;
    assert!(help.contains("--passphrase-file"), "{help}");
    let mut command = home.command(&["sandbox", "--help"]);
    command.env("O365_AUTH_DAEMON", DAEMON);
    let help = run(command, None).ok().stdout;
    assert!(help.contains("--port"), "{help}");
}

/// `o365-auth` running in the background, its standard error read line by line as it comes.
struct Interactive {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Interactive {
    fn start(mut command: Command) -> Interactive {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (send, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Interactive {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The first line of standard error that `pick` accepts, waiting for it.
    #[track_caller]
    fn wait_for<T>(&mut self, pick: impl Fn(&str) -> Option<T>) -> T {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    let found = pick(&line);
                    self.seen.push(line);
                    if let Some(found) = found {
                        return found;
                    }
                }
                Err(_) => panic!("not shown on standard error: {:?}", self.seen),
            }
        }
    }

    fn type_line(&mut self, text: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(text.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
    }

    #[track_caller]
    fn finish(mut self) -> String {
        drop(self.child.stdin.take());
        let mut stdout = String::new();
        use std::io::Read;
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status}: {stdout} {:?}", self.seen);
        stdout
    }
}

fn url_in(line: &str) -> Option<String> {
    line.split_whitespace()
        .find(|word| word.starts_with("http://") || word.starts_with("https://"))
        .map(str::to_owned)
}

#[test]
fn device_code_browser_and_console_sign_ins_through_the_cli() {
    let service = Service::start();
    service.add_demo_app();

    // Device code: the message goes to standard error; the person enters the code.
    let mut login = Interactive::start(service.home.command(&["login", "--device-code"]));
    let (uri, code) = login.wait_for(|line| {
        let uri = url_in(line)?;
        let code = line.split(" the code ").nth(1)?.split_whitespace().next()?;
        Some((uri, code.to_owned()))
    });
    let page = service
        .runtime
        .block_on(browser::Browser::new().enter_device_code(
            &uri,
            &code,
            DEMO_USERNAME,
            DEMO_PASSWORD,
            true,
        ));
    assert!(page.has("device-done"), "{}", page.body);
    let out = login.finish();
    assert!(
        out.starts_with(&format!("Signed in as {DEMO_USERNAME}")),
        "{out}"
    );

    // Browser: $BROWSER gets the address (no shell); the service takes the loopback redirect.
    let opened = service.home.dir.path().join("opened.txt");
    let recorder = service.home.dir.path().join("browser.sh");
    let mut writer = Command::new("sh");
    writer
        .args(["-c", "cat > \"$1\" && chmod 755 \"$1\"", "sh"])
        .arg(&recorder);
    run(
        writer,
        Some(&format!(
            "#!/bin/sh\nprintf '%s' \"$1\" > '{}'\n",
            opened.display()
        )),
    )
    .ok();
    let adele = "adele@sandbox.onmicrosoft.com";
    let mut command = service
        .home
        .command(&["login", "--browser", "--login-hint", adele]);
    command.env("BROWSER", &recorder);
    let mut login = Interactive::start(command);
    let shown = login.wait_for(url_in);
    login.wait_for(|line| line.contains("opened with").then_some(()));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !opened.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(std::fs::read_to_string(&opened).unwrap(), shown);
    assert!(shown.contains("login_hint="), "{shown}");
    let landed = service.runtime.block_on(async {
        let landed = browser::Browser::new()
            .sign_in(&shown, adele, DEMO_PASSWORD, true)
            .await;
        let location = landed.location.clone().expect("a redirect to the service");
        assert!(location.starts_with("http://127.0.0.1:"), "{location}");
        reqwest::get(&location).await.unwrap().status()
    });
    assert!(landed.is_success(), "{landed}");
    let out = login.finish();
    assert!(out.starts_with(&format!("Signed in as {adele}")), "{out}");

    // Console: the address the browser lands on is pasted on standard input.
    let alex = "alex@sandbox.onmicrosoft.com";
    let mut login = Interactive::start(service.home.command(&["login", "--console"]));
    let shown = login.wait_for(url_in);
    let landed = service.runtime.block_on(browser::Browser::new().sign_in(
        &shown,
        alex,
        DEMO_PASSWORD,
        true,
    ));
    let location = landed.location.expect("a redirect");
    assert!(location.contains("/oauth2/nativeclient?"), "{location}");
    login.type_line(&location);
    let out = login.finish();
    assert!(out.starts_with(&format!("Signed in as {alex}")), "{out}");

    let accounts = service.run(&["accounts", "--json"]).ok().json();
    assert_eq!(accounts.as_array().unwrap().len(), 3, "{accounts}");
    // Several accounts: naming none is refused with the machine code, and a hint.
    let which = service.run(&["token"]).failed(1);
    assert!(which.stderr.contains("hint:"), "{}", which.stderr);
    service.run(&["token", alex]).ok();
}

/// Runs `o365-auth` on a new pseudo-terminal as its controlling terminal; returns the
/// terminal's master side.
fn on_terminal(mut command: Command) -> (Child, std::fs::File) {
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::os::unix::process::CommandExt;
    let (mut master, mut slave) = (0, 0);
    let made = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(made, 0, "openpty");
    let slave = unsafe { OwnedFd::from_raw_fd(slave) };
    command
        .stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave.try_clone().unwrap());
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() == -1 || libc::ioctl(0, libc::TIOCSCTTY, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command.spawn().unwrap();
    drop(slave);
    (child, unsafe { std::fs::File::from_raw_fd(master) })
}

fn echo_is_on(terminal: &std::fs::File) -> bool {
    use std::os::fd::AsRawFd;
    let mut settings: libc::termios = unsafe { std::mem::zeroed() };
    assert_eq!(
        unsafe { libc::tcgetattr(terminal.as_raw_fd(), &mut settings) },
        0
    );
    settings.c_lflag & libc::ECHO != 0
}

/// Reads what the terminal shows until `wanted` appears.
fn read_until(terminal: &mut std::fs::File, wanted: &str) -> String {
    use std::io::Read;
    let mut shown = Vec::new();
    let mut buffer = [0u8; 1024];
    while !String::from_utf8_lossy(&shown).contains(wanted) {
        let read = terminal.read(&mut buffer).unwrap_or(0);
        assert!(
            read > 0,
            "the terminal closed: {}",
            String::from_utf8_lossy(&shown)
        );
        shown.extend_from_slice(&buffer[..read]);
    }
    String::from_utf8_lossy(&shown).into_owned()
}

#[test]
fn secret_prompts_hide_what_is_typed_and_restore_the_terminal_even_on_ctrl_c() {
    let service = Service::start();
    let authority = service.base_url();
    let add = [
        "app",
        "add",
        "robot",
        "--client-id",
        DEMO_CONFIDENTIAL_CLIENT_ID,
        "--tenant",
        DEMO_TENANT_ID,
        "--flow",
        "credentials",
        "--authority",
        &authority,
        "--client-secret-prompt",
    ];
    // Interrupted at the prompt: echo comes back, the process ends by the signal.
    let (mut child, mut terminal) = on_terminal(service.home.command(&add));
    read_until(&mut terminal, "Client secret: ");
    assert!(
        !echo_is_on(&terminal),
        "echo is off while the secret is typed"
    );
    terminal.write_all(b"\x03").unwrap();
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status}");
    assert!(echo_is_on(&terminal), "Ctrl-C restored echo");

    // Typed: not shown, and the app works with it.
    let (mut child, mut terminal) = on_terminal(service.home.command(&add));
    read_until(&mut terminal, "Client secret: ");
    terminal
        .write_all(format!("{DEMO_CLIENT_SECRET}\n").as_bytes())
        .unwrap();
    let shown = read_until(&mut terminal, "Sign in with");
    assert!(!shown.contains(DEMO_CLIENT_SECRET), "{shown}");
    assert!(child.wait().unwrap().success());
    assert!(echo_is_on(&terminal));
    service.run(&["login", "--app-only", "--app", "robot"]).ok();
}

/// One JSON-RPC call on the daemon's socket, as a script would make it.
fn rpc(socket: &Path, method: &str, params: Value) -> Value {
    use std::io::{BufRead, BufReader};
    let mut stream = std::os::unix::net::UnixStream::connect(socket).unwrap();
    let request = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
    stream.write_all(format!("{request}\n").as_bytes()).unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    let answer: Value = serde_json::from_str(&line).unwrap();
    assert!(answer.get("error").is_none(), "{method}: {answer}");
    answer["result"].clone()
}

/// The daemon's event stream (`events.subscribe`), read on a thread of its own.
fn subscribe(socket: &Path) -> std::sync::mpsc::Receiver<Value> {
    use std::io::{BufRead, BufReader};
    let mut stream = std::os::unix::net::UnixStream::connect(socket).unwrap();
    stream
        .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"events.subscribe\"}\n")
        .unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { return };
            let Ok(message) = serde_json::from_str::<Value>(&line) else {
                return;
            };
            if message["method"] == "event" && sender.send(message["params"].clone()).is_err() {
                return;
            }
        }
    });
    receiver
}

fn next_event(events: &std::sync::mpsc::Receiver<Value>, name: &str, seconds: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(event) if event["event"] == name => return event,
            Ok(_) => {}
            Err(error) => panic!("no `{name}` event within {seconds} s: {error}"),
        }
    }
}

#[test]
fn the_daemon_keeps_an_account_fresh_through_throttling_outages_and_timeouts_until_revoked() {
    // Tokens live eight seconds: the daemon refreshes each halfway through its life.
    let mut config = emulator_config();
    config.lifetimes.access_token_seconds = 8;
    let service = Service::start_with(config);
    service.add_demo_app();
    service.sign_in_demo();
    let socket = service.home.socket();
    let settings = rpc(&socket, "settings.set", json!({ "request_timeout_s": 2 }));
    assert_eq!(settings["request_timeout_s"], 2, "{settings}");
    let events = subscribe(&socket);
    next_event(&events, "refreshed", 30);

    // The next refreshes meet a 429 (Retry-After: 1), a 503 and an answer slower than the
    // timeout, in turn; the daemon's default backoff is 5 s, then 10 s.
    let emulator = service.emulator.as_ref().unwrap();
    let control = emulator.control();
    let token_path = format!("/{DEMO_TENANT_ID}/oauth2/v2.0/token");
    for mut fault in [
        Fault::throttle(1, 1),
        Fault::status(1, 503),
        Fault::latency(1, Duration::from_secs(4)),
    ] {
        fault.path_prefix = Some(token_path.clone());
        control.inject(fault);
    }
    let codes: Vec<String> = (0..3)
        .map(|_| {
            let retry = next_event(&events, "retry_scheduled", 30);
            assert_eq!(
                retry["account"],
                format!("sandbox/{DEMO_USERNAME}"),
                "{retry}"
            );
            retry["code"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    assert_eq!(codes, ["throttled", "transient", "transient"]);
    let refreshed = next_event(&events, "refreshed", 30);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(refreshed["expires_at"].as_i64() > Some(now), "{refreshed}");
    let token = service.run(&["token", "--format", "json"]).ok().json();
    assert!(token["expires_at"].as_i64() > Some(now), "{token}");

    // A revoked grant: the person is told once, and the daemon stops asking.
    control.revoke_refresh_tokens(DEMO_USERNAME).unwrap();
    let attention = next_event(&events, "needs_attention", 30);
    assert_eq!(attention["code"], "needs_sign_in", "{attention}");
    let refreshes = || {
        control
            .stats()
            .grant_types
            .get("refresh_token")
            .copied()
            .unwrap_or(0)
    };
    let before = refreshes();
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(refreshes(), before, "no refresh after the grant died");
    let accounts = service.run(&["accounts", "--json"]).ok().json();
    assert_eq!(accounts[0]["status"], "needs_sign_in", "{accounts}");
}
