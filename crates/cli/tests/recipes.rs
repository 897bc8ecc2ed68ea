//! The mail recipes of docs/cli.md, run as written with the real Debian programs (msmtp,
//! mbsync, NeoMutt, Python's imaplib and smtplib) against the emulator's Exchange Online: the
//! emulator in this process with its SMTP submission and IMAP servers on loopback, the real
//! `o365-auth-daemon` on a temporary socket and store, and the real `o365-auth` on `PATH`,
//! which each program runs for its token.
//!
//! The configurations are the blocks of docs/cli.md (after `<!-- recipe: NAME -->`), with only
//! the host names (`localhost`), the ports (the emulator's) and the CA bundle (the emulator's
//! test CA) changed; the account is the docs' `you@contoso.com`, a user of the emulator here.
//! A test whose program is missing is skipped, unless `CI` is set: then it fails.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use entra_emulator::config::EmulatorConfig;
use entra_emulator::sandbox::{DEMO_CLIENT_ID, DEMO_TENANT_ID};
use entra_emulator::{Emulator, MailOptions, MailServers};

const CLI: &str = env!("CARGO_BIN_EXE_o365-auth");
const DAEMON: &str = env!("CARGO_BIN_EXE_o365-auth-daemon");
const DOCS: &str = include_str!("../../../docs/cli.md");

/// The account of the docs, a user of the emulator's sandbox tenant here.
const USER: &str = "you@contoso.com";
const PASSWORD: &str = "recipe-password";
const IMAP_SCOPE: &str = "https://outlook.office.com/IMAP.AccessAsUser.All";
const SMTP_SCOPE: &str = "https://outlook.office.com/SMTP.Send";
/// What the recipes trust on a Debian system; the tests put the emulator's CA there.
const SYSTEM_CA: &str = "/etc/ssl/certs/ca-certificates.crt";
/// The sandbox's messages per mailbox (Graph's generated messages, INBOX over IMAP).
const INBOX_MESSAGES: usize = 25;

/// How long one program may take.
const PROGRAM_TIMEOUT: Duration = Duration::from_secs(120);

/// The block of docs/cli.md after `<!-- recipe: NAME -->`.
fn recipe(name: &str) -> String {
    let marker = format!("<!-- recipe: {name} -->");
    let at = DOCS
        .find(&marker)
        .unwrap_or_else(|| panic!("docs/cli.md has no {marker}"));
    let rest = &DOCS[at + marker.len()..];
    let open = rest.find("```").expect("a fenced block after the marker");
    let body = &rest[open..];
    let body = &body[body.find('\n').expect("fence line") + 1..];
    let close = body.find("\n```").expect("the block closes");
    format!("{}\n", &body[..close])
}

/// `text` with each `from` replaced by its `to`; every `from` must be there, so the docs
/// cannot drift away from what is tested.
#[track_caller]
fn substitute(text: &str, pairs: &[(&str, String)]) -> String {
    let mut out = text.to_owned();
    for (from, to) in pairs {
        assert!(
            out.contains(from),
            "the recipe no longer contains {from:?}:\n{text}"
        );
        out = out.replace(from, to);
    }
    out
}

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}

/// Cyrus SASL's XOAUTH2 client plugin (Debian: libsasl2-modules-kdexoauth2), which mbsync
/// needs for `AuthMechs XOAUTH2`.
fn sasl_xoauth2_plugin() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("SASL_PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for dir in [
        "/usr/lib/x86_64-linux-gnu/sasl2",
        "/usr/lib/aarch64-linux-gnu/sasl2",
        "/usr/lib64/sasl2",
        "/usr/lib/sasl2",
        "/usr/local/lib/sasl2",
    ] {
        dirs.push(PathBuf::from(dir));
    }
    dirs.into_iter()
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flatten()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.to_ascii_lowercase().contains("xoauth2") && n.contains(".so"))
        })
}

/// Whether the test can run: everything it needs is installed. Missing things skip the test,
/// or fail it when `CI` is set.
fn available(needs: &[(&str, bool)]) -> bool {
    let missing: Vec<&str> = needs
        .iter()
        .filter(|(_, present)| !present)
        .map(|(name, _)| *name)
        .collect();
    if missing.is_empty() {
        return true;
    }
    let message = format!(
        "{} not installed (scripts/install-deps.sh test installs it)",
        missing.join(", ")
    );
    assert!(std::env::var_os("CI").is_none(), "CI is set and {message}");
    eprintln!("skipped: {message}; set CI to make this a failure");
    false
}

fn program(name: &'static str) -> (&'static str, bool) {
    (name, on_path(name).is_some())
}

/// The sandbox with the docs' account, and the Exchange scopes (with Graph's and
/// offline_access) consented by an admin for the sandbox app, so a password sign-in needs no
/// consent page.
fn emulator_config() -> EmulatorConfig {
    let mut config = entra_emulator::sandbox::config();
    let tenant = &mut config.tenants[0];
    tenant.domains.push("contoso.com".to_owned());
    let mut you = tenant.users[0].clone();
    you.username = USER.to_owned();
    you.display_name = "You Contoso".to_owned();
    you.password = PASSWORD.to_owned();
    you.object_id = None;
    you.given_name = Some("You".to_owned());
    you.surname = Some("Contoso".to_owned());
    tenant.users.push(you);
    for app in &mut tenant.apps {
        if app.client_id.to_string() == DEMO_CLIENT_ID {
            app.pre_consented_scopes = vec![
                "User.Read".to_owned(),
                "Mail.Read".to_owned(),
                "offline_access".to_owned(),
                IMAP_SCOPE.to_owned(),
                SMTP_SCOPE.to_owned(),
            ];
        }
    }
    config
}

/// Runs a command with a time limit; the child is killed (by its pid) when it overstays.
fn run(mut command: Command, stdin: Option<&[u8]>) -> Output {
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .unwrap_or_else(|error| panic!("{command:?}: {error}"));
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        let input = input.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
    }
    let pid = child.id() as i32;
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match finished.recv_timeout(PROGRAM_TIMEOUT) {
        Ok(output) => output.expect("wait"),
        Err(_) => {
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
            panic!("{command:?} did not finish in {PROGRAM_TIMEOUT:?}");
        }
    }
}

#[track_caller]
fn ok(output: Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{what}: {}\nstdout: {stdout}\nstderr: {stderr}",
        output.status
    );
    stdout
}

/// Writes a file through a child process: a file this multi-threaded test process held open
/// for writing could leak into another child's fork (cli_e2e.rs explains).
fn write_file(path: &Path, text: &str, mode: &str) {
    let mut writer = Command::new("sh");
    writer
        .args([
            "-c",
            "umask 077 && cat > \"$1\" && chmod \"$2\" \"$1\"",
            "sh",
        ])
        .arg(path)
        .arg(mode);
    ok(run(writer, Some(text.as_bytes())), "writing a file");
}

/// The emulator with its mail servers, the daemon, and the docs' account signed in.
struct Mail {
    home: tempfile::TempDir,
    daemon: Child,
    mail: Option<MailServers>,
    emulator: Option<Emulator>,
    runtime: tokio::runtime::Runtime,
}

impl Mail {
    fn start() -> Mail {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (emulator, mail) = runtime.block_on(async {
            let emulator = Emulator::start(emulator_config(), "127.0.0.1:0".parse().expect("addr"))
                .await
                .expect("emulator");
            let mail = emulator
                .start_mail(MailOptions::default())
                .await
                .expect("mail servers");
            (emulator, mail)
        });
        let home = tempfile::tempdir().expect("home");
        std::fs::create_dir_all(home.path().join("state")).expect("state dir");
        write_file(
            &home.path().join("passphrase"),
            "correct horse battery\n",
            "600",
        );
        let socket = home.path().join("run").join("o365-auth").join("ipc.sock");
        let daemon = Command::new(DAEMON)
            .arg("--socket")
            .arg(&socket)
            .arg("--store")
            .arg(home.path().join("store.sqlite3"))
            .arg("--passphrase-file")
            .arg(home.path().join("passphrase"))
            .arg("--log-file")
            .arg(home.path().join("daemon.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("daemon");
        let service = Mail {
            home,
            daemon,
            mail: Some(mail),
            emulator: Some(emulator),
            runtime,
        };
        service.wait_until_ready();
        write_file(&service.ca(), service.mail().ca_certificate_pem(), "644");
        service.sign_in();
        service
    }

    fn mail(&self) -> &MailServers {
        self.mail.as_ref().expect("mail servers")
    }

    fn home(&self) -> &Path {
        self.home.path()
    }

    /// The emulator's CA, standing in for the system bundle.
    fn ca(&self) -> PathBuf {
        self.home().join("emulator-ca.pem")
    }

    fn smtp_port(&self) -> u16 {
        self.mail().smtp_addr().port()
    }

    fn imap_port(&self) -> u16 {
        self.mail().imap_addr().port()
    }

    /// A command with the environment a user's shell would give it: `o365-auth` on `PATH`,
    /// this home, the service's socket.
    fn command(&self, program: &str) -> Command {
        let bin = Path::new(CLI).parent().expect("bin dir").to_path_buf();
        let mut path = vec![bin];
        path.extend(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ));
        let mut command = Command::new(program);
        command
            .env_clear()
            .env("PATH", std::env::join_paths(path).expect("PATH"))
            .env("HOME", self.home())
            .env("LANG", "C.UTF-8")
            .env("XDG_STATE_HOME", self.home().join("state"))
            .env(
                "O365_AUTH_SOCKET",
                self.home().join("run").join("o365-auth").join("ipc.sock"),
            )
            .env("O365_AUTH_NO_AUTOSTART", "1")
            .current_dir(self.home());
        command
    }

    fn cli(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut command = self.command(CLI);
        command.args(args);
        run(command, stdin.map(str::as_bytes))
    }

    fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let status = self.cli(&["status"], None);
            if status.status.success() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the daemon never answered: {}\n{}",
                String::from_utf8_lossy(&status.stderr),
                std::fs::read_to_string(self.home().join("daemon.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Registers the sandbox app, then runs the docs' sign-in line, with the password flow
    /// (the emulator's sign-in pages are tested elsewhere) and the password on standard input.
    fn sign_in(&self) {
        let authority = self.emulator.as_ref().expect("emulator").base_url();
        ok(
            self.cli(
                &[
                    "app",
                    "add",
                    "sandbox",
                    "--client-id",
                    DEMO_CLIENT_ID,
                    "--tenant",
                    DEMO_TENANT_ID,
                    "--authority",
                    &authority,
                ],
                None,
            ),
            "app add",
        );
        let login = recipe("login");
        let line = login.trim();
        assert!(line.starts_with("o365-auth login "), "{login}");
        let mut shell = self.command("sh");
        shell.args(["-c", &format!("{line} --password --username {USER}")]);
        let out = ok(
            run(shell, Some(format!("{PASSWORD}\n").as_bytes())),
            "the docs' login",
        );
        assert!(out.contains(&format!("Signed in as {USER}")), "{out}");
    }
}

impl Drop for Mail {
    fn drop(&mut self) {
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
        let mail = self.mail.take();
        let emulator = self.emulator.take();
        self.runtime.block_on(async {
            if let Some(mail) = mail {
                mail.shutdown().await;
            }
            if let Some(emulator) = emulator {
                emulator.shutdown().await;
            }
        });
    }
}

/// The Subject of a message.
fn subject(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw)
        .lines()
        .take_while(|line| !line.is_empty())
        .find_map(|line| line.strip_prefix("Subject: ").map(str::to_owned))
        .unwrap_or_default()
}

#[test]
fn msmtp_sends_with_passwordeval() {
    if !available(&[program("msmtp")]) {
        return;
    }
    let service = Mail::start();
    let port = service.smtp_port();
    let config = substitute(
        &recipe("msmtprc"),
        &[
            ("host smtp.office365.com", "host localhost".to_owned()),
            ("port 587", format!("port {port}")),
            (SYSTEM_CA, service.ca().display().to_string()),
        ],
    );
    write_file(&service.home().join(".msmtprc"), &config, "600");
    let message = format!(
        "From: {USER}\r\nTo: {USER}\r\nSubject: Hello from msmtp\r\n\r\nSent with passwordeval.\r\n"
    );
    let mut msmtp = service.command("msmtp");
    msmtp.arg(USER);
    ok(run(msmtp, Some(message.as_bytes())), "msmtp");

    let submissions = service.mail().submissions();
    assert_eq!(submissions.len(), 1, "{submissions:?}");
    let sent = &submissions[0];
    assert_eq!(sent.user, USER, "authenticated with the account's token");
    assert_eq!(sent.mail_from, USER);
    assert_eq!(sent.recipients, [USER]);
    assert_eq!(subject(&sent.data), "Hello from msmtp");
    let inbox = service.mail().messages(USER, "INBOX").expect("inbox");
    assert_eq!(inbox.len(), INBOX_MESSAGES + 1, "delivered to the mailbox");
    assert_eq!(subject(&inbox[INBOX_MESSAGES].raw), "Hello from msmtp");
}

/// Messages in a Maildir folder, with whether each is marked seen.
fn maildir(folder: &Path) -> Vec<(PathBuf, bool)> {
    ["cur", "new"]
        .iter()
        .filter_map(|sub| std::fs::read_dir(folder.join(sub)).ok())
        .flatten()
        .filter_map(Result::ok)
        .map(|entry| {
            let path = entry.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            let seen = name
                .rsplit_once(":2,")
                .is_some_and(|(_, flags)| flags.contains('S'));
            (path, seen)
        })
        .collect()
}

#[test]
fn mbsync_syncs_inbox_with_passcmd() {
    if !available(&[
        program("mbsync"),
        (
            "the Cyrus SASL XOAUTH2 plugin (libsasl2-modules-kdexoauth2)",
            sasl_xoauth2_plugin().is_some(),
        ),
        // To deliver a message between two syncs.
        program("python3"),
    ]) {
        return;
    }
    let service = Mail::start();
    let config = substitute(
        &recipe("mbsyncrc"),
        &[
            ("Host outlook.office365.com", "Host localhost".to_owned()),
            ("Port 993", format!("Port {}", service.imap_port())),
            (SYSTEM_CA, service.ca().display().to_string()),
        ],
    );
    write_file(&service.home().join(".mbsyncrc"), &config, "600");
    std::fs::create_dir_all(service.home().join("Mail").join("o365")).expect("mkdir");
    let sync = || {
        let mut mbsync = service.command("mbsync");
        mbsync.arg("o365");
        ok(run(mbsync, None), "mbsync")
    };
    sync();

    let inbox = service.home().join("Mail").join("o365").join("INBOX");
    let messages = maildir(&inbox);
    assert_eq!(messages.len(), INBOX_MESSAGES, "{messages:?}");
    // Graph's read messages are every third from the newest: 9 of 25.
    assert_eq!(messages.iter().filter(|(_, seen)| *seen).count(), 9);
    let mut subjects: Vec<String> = messages
        .iter()
        .map(|(path, _)| subject(&std::fs::read(path).expect("message")))
        .collect();
    subjects.sort();
    let mut expected: Vec<String> = (1..=INBOX_MESSAGES)
        .map(|n| format!("Emulated message {n}"))
        .collect();
    expected.sort();
    assert_eq!(subjects, expected);

    // Again: nothing new, nothing doubled; then a new message arrives and is fetched.
    sync();
    assert_eq!(maildir(&inbox).len(), INBOX_MESSAGES);
    deliver(&service, "Arrived later");
    sync();
    let messages = maildir(&inbox);
    assert_eq!(messages.len(), INBOX_MESSAGES + 1);
    assert!(
        messages
            .iter()
            .any(|(path, _)| subject(&std::fs::read(path).expect("message")) == "Arrived later")
    );
}

/// Sends a message to the account over the emulator's SMTP with Python's smtplib and the
/// CLI's token (a plain client, not a recipe under test).
fn deliver(service: &Mail, subject: &str) {
    let script = format!(
        r#"
import base64, smtplib, ssl, subprocess
token = subprocess.run(["o365-auth", "token", "{USER}", "--scopes", "{SMTP_SCOPE}"], check=True, capture_output=True, text=True).stdout.strip()
with smtplib.SMTP("localhost", {port}) as smtp:
    smtp.starttls(context=ssl.create_default_context(cafile="{ca}"))
    smtp.ehlo()
    smtp.auth("XOAUTH2", lambda challenge=None: "user={USER}\x01auth=Bearer " + token + "\x01\x01")
    smtp.sendmail("{USER}", ["{USER}"], "From: {USER}\r\nSubject: {subject}\r\n\r\nlater\r\n")
"#,
        port = service.smtp_port(),
        ca = service.ca().display(),
    );
    let mut python = service.command("python3");
    python.args(["-c", &script]);
    ok(run(python, None), "delivering a message");
}

/// A tmux server of our own (its socket in the test's home), ended when dropped.
struct Tmux {
    socket: PathBuf,
    env: Vec<(std::ffi::OsString, std::ffi::OsString)>,
}

impl Tmux {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("tmux");
        command
            .env_clear()
            .envs(self.env.iter().cloned())
            .arg("-S")
            .arg(&self.socket)
            .args(args);
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        run(self.command(args), None)
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "recipe"]).stdout)
            .into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

#[test]
fn neomutt_lists_inbox_and_sends_with_oauth_refresh_commands() {
    if !available(&[program("neomutt"), program("tmux")]) {
        return;
    }
    let service = Mail::start();
    let config = substitute(
        &recipe("neomuttrc"),
        &[
            (
                "imaps://outlook.office365.com:993/",
                format!("imaps://localhost:{}/", service.imap_port()),
            ),
            (
                "smtp://smtp.office365.com:587/",
                format!("smtp://localhost:{}/", service.smtp_port()),
            ),
            (SYSTEM_CA, service.ca().display().to_string()),
        ],
    );
    let dir = service.home().join(".config").join("neomutt");
    std::fs::create_dir_all(&dir).expect("config dir");
    write_file(&dir.join("neomuttrc"), &config, "600");

    // Sending needs no terminal: NeoMutt's batch mode, standard input as the body.
    let mut send = service.command("neomutt");
    send.args(["-s", "Hello from NeoMutt", USER]);
    ok(
        run(send, Some(b"Sent with smtp_oauth_refresh_command.\n")),
        "neomutt -s",
    );
    let submissions = service.mail().submissions();
    assert_eq!(submissions.len(), 1, "{submissions:?}");
    assert_eq!(submissions[0].user, USER);
    assert_eq!(subject(&submissions[0].data), "Hello from NeoMutt");

    // Reading needs one: NeoMutt on a tmux pane, the screen read back.
    let tmux_conf = service.home().join("tmux.conf");
    write_file(&tmux_conf, "set -g remain-on-exit on\n", "600");
    let template = service.command("tmux");
    let mut env: Vec<_> = template
        .get_envs()
        .filter_map(|(key, value)| Some((key.to_owned(), value?.to_owned())))
        .collect();
    env.push(("TERM".into(), "xterm-256color".into()));
    let tmux = Tmux {
        socket: service.home().join("tmux.sock"),
        env,
    };
    let conf = tmux_conf.display().to_string();
    // tmux 3.3a does not always collect a pane's exit status (#{pane_dead_status} can stay
    // empty), so the pane's shell writes NeoMutt's down.
    let status = service.home().join("neomutt.status");
    let exited = || std::fs::read_to_string(&status).is_ok_and(|text| text.ends_with('\n'));
    let pane = format!("neomutt; echo $? > '{}'", status.display());
    ok(
        tmux.run(&[
            "-f",
            &conf,
            "new-session",
            "-d",
            "-s",
            "recipe",
            "-x",
            "160",
            "-y",
            "45",
            &pane,
        ]),
        "tmux new-session",
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut screen = tmux.screen();
    loop {
        let listed = screen.matches("Emulated message").count();
        if (listed >= INBOX_MESSAGES && screen.contains("Msgs:")) || exited() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "NeoMutt never listed INBOX:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(200));
        screen = tmux.screen();
    }
    // The index shows the mailbox (the one message NeoMutt just sent is there too).
    for n in 1..=INBOX_MESSAGES {
        assert!(
            screen.contains(&format!("Emulated message {n} "))
                || screen.contains(&format!("Emulated message {n}\n")),
            "message {n} is listed:\n{screen}"
        );
    }
    assert!(screen.contains("Hello from NeoMutt"), "{screen}");
    // 26 messages; new: Graph's 16 unread ones and the one just sent.
    assert!(
        screen.contains(&format!("[Msgs:{} New:17 ", INBOX_MESSAGES + 1)),
        "{screen}"
    );

    // q quits (quit=yes by default), exit status 0.
    ok(tmux.run(&["send-keys", "-t", "recipe", "q"]), "send-keys");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !exited() {
        assert!(
            Instant::now() < deadline,
            "NeoMutt did not quit:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let code = std::fs::read_to_string(&status).expect("status");
    assert_eq!(
        code.trim(),
        "0",
        "NeoMutt's exit status:\n{}",
        tmux.screen()
    );
}

#[test]
fn python_imaplib_and_smtplib_with_xoauth2() {
    if !available(&[program("python3")]) {
        return;
    }
    let service = Mail::start();
    let script = substitute(
        &recipe("python"),
        &[
            (
                "\"outlook.office365.com\", 993",
                format!("\"localhost\", {}", service.imap_port()),
            ),
            (
                "\"smtp.office365.com\", 587",
                format!("\"localhost\", {}", service.smtp_port()),
            ),
        ],
    );
    let path = service.home().join("recipe.py");
    write_file(&path, &script, "600");
    let mut python = service.command("python3");
    // ssl.create_default_context() trusts what OpenSSL's default paths name.
    python.arg(&path).env("SSL_CERT_FILE", service.ca());
    let out = ok(run(python, None), "the Python recipe");
    assert_eq!(out, format!("{INBOX_MESSAGES} messages in INBOX\n"));
    let submissions = service.mail().submissions();
    assert_eq!(submissions.len(), 1, "{submissions:?}");
    assert_eq!(submissions[0].user, USER);
    assert_eq!(submissions[0].recipients, [USER]);
    assert_eq!(subject(&submissions[0].data), "Hello from Python");
}

#[test]
fn the_docs_name_tests_that_exist() {
    let source = include_str!("recipes.rs");
    let named: Vec<&str> = DOCS
        .split("`recipes::")
        .skip(1)
        .filter_map(|rest| rest.split('`').next())
        .collect();
    assert!(named.len() >= 4, "{named:?}");
    for name in named {
        assert!(
            source.contains(&format!("fn {name}()")),
            "docs/cli.md names recipes::{name}, which is not a test here"
        );
    }
    for name in ["login", "msmtprc", "mbsyncrc", "neomuttrc", "python"] {
        assert!(!recipe(name).trim().is_empty(), "{name}");
    }
}
