//! The refresh scheduler at scale, reported in BENCHMARKS.md ("Scheduler at scale").
//!
//! ```text
//! cargo build --release -p o365-auth-core --example bench_scheduler
//! target/release/examples/bench_scheduler
//! target/release/examples/bench_scheduler --accounts 10000 --variants 10:random,20:random,20:sorted \
//!     --window 600 --latency-ms 20 --runs 1 --first-run 1 --lead 30 --dir target/bench-scheduler
//! ```
//! (or `scripts/bench-scheduler.sh [OPTIONS]`).
//!
//! Three processes, so that each one's memory is its own:
//! - the entra-emulator (this program with `emulator-child`): the sandbox tenant plus
//!   `--accounts` users, the demo app's scopes consented by an admin; it logs every injected
//!   fault with the Unix time of the request's arrival, which is how token requests are timed;
//! - this process: builds the store once (a real SQLite store in `--dir`, `KeySource::Key`):
//!   the app through `TokenService::add_app`, then every user signed in for real with the
//!   password flow through `Account` over `StoreBackend` (so the emulator knows every refresh
//!   token), 16 at a time. Then it injects `FaultKind::Latency` of `--latency-ms` on every
//!   request to the token endpoint (count 4e9, path prefix `/{tenant}/oauth2/v2.0/token`);
//! - per run, the service (this program with `run-child`): opens the store and starts the real
//!   `TokenService` (its scheduler with `max_requests_per_second` = the variant's cap, the
//!   library's default margin of 5 min and jitter of 1 min unless `--margin` is given) at a
//!   fixed time, then does nothing but wait; at the end it reports `VmHWM` and each account's
//!   newest token from the store.
//!
//! Before each run this process rewrites every account's access-token expiry (through
//! `Tokens::save`) to spread evenly over the `--window` seconds after the service's start:
//! `sorted` gives the accounts expiries in the order the service will track them (the store's
//! account order), `random` in a seeded random order (what a real store looks like). Refresh
//! tokens stay as the emulator issued them; each refresh gets a new token for an hour, so each
//! account is refreshed once in a run. A run ends when the emulator has seen one refresh per
//! account and the window is over, or after `--max-seconds`.
//!
//! Checked and printed: how many accounts were refreshed before their token expired (the
//! token's `obtained_at` against the expiry written, both in whole seconds, which decides it
//! exactly) and how late the others were; token requests per second at the emulator (the
//! largest count in any one-second window, exact from the arrival times), beside the cap; the
//! service process's peak RSS (`VmHWM`). Nothing here asserts a time.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use entra_emulator::sandbox::{DEMO_CLIENT_ID, DEMO_PASSWORD, DEMO_TENANT_ID};
use o365_auth_core::Secret;
use o365_auth_core::account::{Account, AccountConfig};
use o365_auth_core::authority::{Authority, Tenant};
use o365_auth_core::cloud::Cloud;
use o365_auth_core::flows::{AppConfig, ClientCredential, FlowKind};
use o365_auth_core::protocol::Protocol;
use o365_auth_core::service::scheduler::SchedulerConfig;
use o365_auth_core::service::{AppSpec, ServiceOptions, TokenService};
use o365_auth_core::store::key::DataKey;
use o365_auth_core::store::{KeySource, Store, StoreBackend, StoreOptions};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde_json::{Value, json};

const KEY: [u8; 32] = [7; 32];
const DOMAIN: &str = "sandbox.onmicrosoft.com";

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn username(index: usize) -> String {
    format!("user{index:05}@{DOMAIN}")
}

/// The 1-, 5- and 15-minute load averages (other work on the machine shows here).
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// A field of /proc/self/status in KiB (`VmHWM`, `VmRSS`).
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with(field))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

fn key() -> KeySource {
    KeySource::Key(DataKey::from_bytes(KEY))
}

async fn open(path: &Path) -> Store {
    match Store::open(StoreOptions::at(path).with_key(key())).await {
        Ok(store) => store,
        Err(error) => panic!("open {}: {error}", path.display()),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    match arguments.first().map(String::as_str) {
        Some("emulator-child") => emulator_child(&arguments[1..]),
        Some("run-child") => run_child(&arguments[1..]),
        _ => parent(options(&arguments)?),
    }
}

/// `--flag value` pairs.
fn pairs(arguments: &[String]) -> Result<HashMap<String, String>, String> {
    let mut map = HashMap::new();
    let mut iter = arguments.iter();
    while let Some(flag) = iter.next() {
        let value = iter.next().ok_or_else(|| format!("{flag} needs a value"))?;
        map.insert(flag.trim_start_matches("--").to_owned(), value.clone());
    }
    Ok(map)
}

// --- the emulator process ---------------------------------------------------------------------

/// Writes the Unix time (µs) in front of every log line.
struct UnixTime;

impl tracing_subscriber::fmt::time::FormatTime for UnixTime {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        write!(w, "{:.6}", unix_now())
    }
}

fn emulator_config(users: usize) -> entra_emulator::EmulatorConfig {
    let mut config = entra_emulator::sandbox::config();
    for tenant in &mut config.tenants {
        for app in &mut tenant.apps {
            if app.client_id.to_string() == DEMO_CLIENT_ID {
                app.pre_consented_scopes =
                    ["User.Read", "offline_access"].map(str::to_owned).to_vec();
            }
        }
        if tenant.id.to_string() == DEMO_TENANT_ID {
            for index in 0..users {
                let user = serde_json::from_value(json!({
                    "username": username(index),
                    "display_name": format!("User {index}"),
                    "password": DEMO_PASSWORD,
                }))
                .expect("a user config");
                tenant.users.push(user);
            }
        }
    }
    config
}

fn emulator_child(arguments: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let options = pairs(arguments)?;
    let users: usize = options.get("users").map_or(Ok(0), |n| n.parse())?;
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "warn,entra_emulator::faults=info",
        ))
        .with_timer(UnixTime)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let emulator =
            entra_emulator::Emulator::start(emulator_config(users), "127.0.0.1:0".parse()?).await?;
        println!("{}", emulator.base_url());
        std::io::stdout().flush()?;
        // Until the parent closes standard input (or dies).
        tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            while std::io::stdin().read_line(&mut line).unwrap_or(0) > 0 {
                line.clear();
            }
        })
        .await?;
        emulator.shutdown().await;
        Ok(())
    })
}

// --- the service process ----------------------------------------------------------------------

fn run_child(arguments: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let options = pairs(arguments)?;
    let store_path = PathBuf::from(&options["store"]);
    let cap: u32 = options["cap"].parse()?;
    let start_at: f64 = options["start-at"].parse()?;
    let margin: Option<u64> = options.get("margin").map(|m| m.parse()).transpose()?;
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn,sqlx=error"))
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let process_start_hwm = status_kib("VmHWM:");
        let store = open(&store_path).await;
        let wait = start_at - unix_now();
        if wait > 0.0 {
            tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        }
        let mut scheduler = SchedulerConfig {
            max_requests_per_second: cap,
            ..SchedulerConfig::default()
        };
        if let Some(margin) = margin {
            scheduler.margin = Duration::from_secs(margin);
        }
        let (margin_s, jitter_s, concurrent) = (
            scheduler.margin.as_secs(),
            scheduler.jitter.as_secs(),
            scheduler.max_concurrent,
        );
        let hwm_before = status_kib("VmHWM:");
        let started = unix_now();
        let service = TokenService::start(
            store.clone(),
            ServiceOptions {
                scheduler,
                ..ServiceOptions::default()
            },
        )
        .await?;
        let ready = unix_now();
        println!(
            "{}",
            json!({"kind": "started", "start_at": start_at, "started": started, "ready": ready,
                   "hwm_at_exec_kib": process_start_hwm, "hwm_before_start_kib": hwm_before,
                   "margin_s": margin_s, "jitter_s": jitter_s, "max_concurrent": concurrent})
        );
        std::io::stdout().flush()?;

        // Count what the service announces, sample memory, until the parent says stop.
        let counts = Arc::new(Mutex::new(HashMap::<String, u64>::new()));
        let mut events = service.subscribe();
        let counted = counts.clone();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(event) => {
                        let name = event["event"].as_str().unwrap_or("?").to_owned();
                        *counted.lock().unwrap().entry(name).or_default() += 1;
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                        *counted.lock().unwrap().entry("lagged".into()).or_default() += missed;
                    }
                    Err(_) => return,
                }
            }
        });
        let mut stop = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            while std::io::stdin().read_line(&mut line).unwrap_or(0) > 0 {
                line.clear();
            }
        });
        let mut samples = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_secs(10));
        loop {
            tokio::select! {
                _ = &mut stop => break,
                _ = tick.tick() => samples.push(json!([
                    (unix_now() - started).round(), status_kib("VmRSS:") / 1024
                ])),
            }
        }
        let hwm = status_kib("VmHWM:");
        let rss = status_kib("VmRSS:");
        let counts = counts.lock().unwrap().clone();
        println!(
            "{}",
            json!({"kind": "memory", "hwm_kib": hwm, "rss_kib": rss, "rss_mib_every_10s": samples,
                   "events": counts})
        );
        // Each account's newest access token, as the store has it (read after VmHWM).
        for record in store.accounts().list(None).await? {
            let tokens = store.tokens().for_account(&record.id).await?;
            let newest = tokens.iter().max_by_key(|tokens| tokens.obtained_at);
            println!(
                "{}",
                json!({"kind": "account", "username": record.identity.username,
                       "obtained_at": newest.map(|t| t.obtained_at),
                       "expires_at": newest.map(|t| t.expires_at)})
            );
        }
        std::io::stdout().flush()?;
        drop(service);
        store.close().await;
        Ok(())
    })
}

// --- this process -----------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Order {
    Sorted,
    Random,
}

struct Options {
    accounts: usize,
    variants: Vec<(u32, Order)>,
    window: i64,
    latency_ms: u64,
    runs: usize,
    /// Runs are numbered from here (the number seeds the random order).
    first_run: usize,
    lead: f64,
    margin: Option<u64>,
    max_seconds: Option<f64>,
    dir: PathBuf,
}

fn options(arguments: &[String]) -> Result<Options, String> {
    let map = pairs(arguments)?;
    let number = |name: &str, default: f64| -> Result<f64, String> {
        map.get(name).map_or(Ok(default), |value| {
            value
                .parse()
                .map_err(|_| format!("--{name} {value}: not a number"))
        })
    };
    let variants = map
        .get("variants")
        .map_or("10:random,20:random,20:sorted", String::as_str)
        .split(',')
        .map(|variant| {
            let (cap, order) = variant.split_once(':').unwrap_or((variant, "random"));
            let cap = cap.parse().map_err(|_| format!("variant {variant}"))?;
            let order = match order {
                "sorted" => Order::Sorted,
                "random" => Order::Random,
                _ => return Err(format!("variant {variant}: order is sorted or random")),
            };
            Ok((cap, order))
        })
        .collect::<Result<_, String>>()?;
    for name in map.keys() {
        if ![
            "accounts",
            "variants",
            "window",
            "latency-ms",
            "runs",
            "lead",
            "margin",
            "max-seconds",
            "dir",
            "first-run",
        ]
        .contains(&name.as_str())
        {
            return Err(format!("unknown option --{name}"));
        }
    }
    Ok(Options {
        accounts: number("accounts", 10_000.0)? as usize,
        variants,
        window: number("window", 600.0)? as i64,
        latency_ms: number("latency-ms", 20.0)? as u64,
        runs: number("runs", 1.0)? as usize,
        first_run: number("first-run", 1.0)? as usize,
        lead: number("lead", 30.0)?,
        margin: map
            .get("margin")
            .map(|m| m.parse().map_err(|_| format!("--margin {m}")))
            .transpose()?,
        max_seconds: map.get("max-seconds").and_then(|m| m.parse().ok()),
        dir: map.get("dir").map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-scheduler"),
            PathBuf::from,
        ),
    })
}

struct EmulatorProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    base_url: String,
    /// Arrival times (Unix seconds) of token-endpoint requests that met the injected latency.
    token_requests: Arc<Mutex<Vec<f64>>>,
}

impl EmulatorProcess {
    fn start(users: usize) -> Result<EmulatorProcess, Box<dyn std::error::Error>> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["emulator-child", "--users", &users.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut base_url = String::new();
        stdout.read_line(&mut base_url)?;
        let base_url = base_url.trim().to_owned();
        if !base_url.starts_with("http://") {
            return Err(format!("the emulator said {base_url:?}").into());
        }
        let token_requests = Arc::new(Mutex::new(Vec::new()));
        let stderr = BufReader::new(child.stderr.take().ok_or("no stderr")?);
        let seen = token_requests.clone();
        std::thread::spawn(move || {
            for line in stderr.lines() {
                let Ok(line) = line else { return };
                if line.contains("injecting fault") && line.contains("/oauth2/v2.0/token") {
                    if let Some(at) = line
                        .split_whitespace()
                        .next()
                        .and_then(|t| t.parse::<f64>().ok())
                    {
                        seen.lock().unwrap().push(at);
                    }
                } else if !line.contains("injecting fault") {
                    eprintln!("emulator: {line}");
                }
            }
        });
        Ok(EmulatorProcess {
            child,
            stdin,
            base_url,
            token_requests,
        })
    }

    fn stop(mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

async fn admin(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> Result<Value, Box<dyn std::error::Error>> {
    let mut request = http.request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await?.error_for_status()?;
    let text = response.text().await?;
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn parent(options: Options) -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Runtime::new()?;
    let _ = std::fs::remove_dir_all(&options.dir);
    std::fs::create_dir_all(&options.dir)?;
    let dir = std::fs::canonicalize(&options.dir)?;
    let store_path = dir.join("store.sqlite3");
    let n = options.accounts;
    let emulator = EmulatorProcess::start(n)?;
    let base = emulator.base_url.clone();
    println!(
        "bench_scheduler: {n} accounts, variants {:?}, window {} s, {} ms latency on the token \
         endpoint, {} run(s) each; emulator at {base} (own process); store in {}",
        options.variants,
        options.window,
        options.latency_ms,
        options.runs,
        dir.display()
    );
    let http = reqwest::Client::new();

    // 1. Build: the app, then every user signed in for real.
    let build_started = std::time::Instant::now();
    runtime.block_on(async {
        let store = open(&store_path).await;
        let service = TokenService::start(store.clone(), ServiceOptions::default()).await?;
        let spec: AppSpec = serde_json::from_value(json!({
            "name": "bench",
            "client_id": DEMO_CLIENT_ID,
            "tenant": DEMO_TENANT_ID,
            "flow": "public",
            "authority": base,
        }))?;
        service.add_app(spec).await?;
        drop(service);
        let cloud = Cloud::custom(&base)?;
        let authority = Authority::new(cloud.clone(), Tenant::parse(DEMO_TENANT_ID)?);
        let config = AccountConfig::new(
            AppConfig {
                client_id: DEMO_CLIENT_ID.to_owned(),
                credential: ClientCredential::None,
                authority,
            },
            FlowKind::Password,
            Protocol::graph(&cloud),
        );
        let account = Arc::new(Account::new(
            config,
            Arc::new(StoreBackend::new(store.clone())),
        )?);
        let password = Secret::new(DEMO_PASSWORD);
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..16 {
            let (account, password, next) = (account.clone(), password.clone(), next.clone());
            workers.spawn(async move {
                loop {
                    let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if index >= n {
                        return Ok::<(), o365_auth_core::Error>(());
                    }
                    account
                        .authenticate_with_password(&username(index), &password)
                        .await?;
                }
            });
        }
        while let Some(done) = workers.join_next().await {
            done??;
        }
        let records = store.accounts().list(None).await?;
        assert_eq!(records.len(), n, "every account stored");
        // What a refresh costs the store at this size: `Accounts::find` (StoreBackend's
        // lock and load look the account up by name with it) beside the index lookup.
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let (mut finds, mut lookups) = (Vec::new(), Vec::new());
        for _ in 0..200 {
            let record = records.choose(&mut rng).expect("an account");
            let began = std::time::Instant::now();
            let found = store
                .accounts()
                .find(&record.app_id, &record.identity.home_account_id)
                .await?;
            finds.push(began.elapsed());
            assert!(found.is_some());
            let began = std::time::Instant::now();
            let _ = store.valid_access_token(&record.id, None, 0, 0).await?;
            lookups.push(began.elapsed());
        }
        finds.sort();
        lookups.sort();
        println!(
            "store at {n} accounts: Accounts::find by home account id median {:.2} ms (p99 \
             {:.2} ms); valid_access_token median {:.3} ms; 200 random accounts each",
            finds[100].as_secs_f64() * 1e3,
            finds[197].as_secs_f64() * 1e3,
            lookups[100].as_secs_f64() * 1e3,
        );
        store.close().await;
        // Every token request from now on waits `latency_ms` at the emulator.
        admin(
            &http,
            reqwest::Method::POST,
            format!("{base}/_emulator/faults"),
            Some(
                json!({"kind": "latency", "millis": options.latency_ms, "count": 4_000_000_000u32,
                        "path_prefix": format!("/{DEMO_TENANT_ID}/oauth2/v2.0/token")}),
            ),
        )
        .await?;
        Ok::<(), Box<dyn std::error::Error>>(())
    })?;
    println!(
        "build: {n} password sign-ins stored in {:.1} s; store file {:.1} MB",
        build_started.elapsed().as_secs_f64(),
        std::fs::metadata(&store_path)?.len() as f64 / 1e6
    );

    let mut summaries = Vec::new();
    for &(cap, order) in &options.variants {
        for run in options.first_run..options.first_run + options.runs {
            let summary = runtime.block_on(one_run(
                &options,
                &emulator,
                &http,
                &store_path,
                cap,
                order,
                run,
            ))?;
            summaries.push(summary);
        }
    }
    println!("\nsummary:");
    for line in summaries {
        println!("{line}");
    }
    emulator.stop();
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn one_run(
    options: &Options,
    emulator: &EmulatorProcess,
    http: &reqwest::Client,
    store_path: &Path,
    cap: u32,
    order: Order,
    run: usize,
) -> Result<String, Box<dyn std::error::Error>> {
    let n = options.accounts;
    let base = &emulator.base_url;
    // 2. Expiries spread over the window after the service's start.
    let load_before = loadavg();
    let rewrite_started = unix_now();
    let start_at = (rewrite_started + options.lead).ceil();
    let anchor = start_at as i64;
    let store = open(store_path).await;
    let records = store.accounts().list(None).await?;
    let mut positions: Vec<usize> = (0..records.len()).collect();
    if order == Order::Random {
        positions.shuffle(&mut rand::rngs::StdRng::seed_from_u64(run as u64));
    }
    let mut expiry_of = HashMap::with_capacity(n);
    for (record, position) in records.iter().zip(&positions) {
        let expires_at = anchor + 1 + (options.window * *position as i64) / n as i64;
        for mut tokens in store.tokens().for_account(&record.id).await? {
            tokens.expires_at = expires_at;
            tokens.ext_expires_at = Some(expires_at);
            tokens.refresh_on = None;
            store
                .tokens()
                .save(&record.app_id, &record.identity, &tokens, record.source)
                .await?;
        }
        expiry_of.insert(record.identity.username.clone(), expires_at);
    }
    store.close().await;
    drop(store);
    let rewritten = unix_now();
    if rewritten + 1.0 > start_at {
        eprintln!(
            "warning: the rewrite took {:.1} s, longer than --lead {}",
            rewritten - rewrite_started,
            options.lead
        );
    }
    admin(
        http,
        reqwest::Method::DELETE,
        format!("{base}/_emulator/stats"),
        None,
    )
    .await?;
    emulator.token_requests.lock().unwrap().clear();

    // 3. The service, in its own process.
    let mut child = Command::new(std::env::current_exe()?);
    child
        .arg("run-child")
        .arg("--store")
        .arg(store_path)
        .args([
            "--cap",
            &cap.to_string(),
            "--start-at",
            &start_at.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    if let Some(margin) = options.margin {
        child.args(["--margin", &margin.to_string()]);
    }
    let mut child = child.spawn()?;
    let mut stop = child.stdin.take();
    let mut output = BufReader::new(child.stdout.take().ok_or("no stdout")?);
    let mut line = String::new();
    output.read_line(&mut line)?;
    let started: Value = serde_json::from_str(&line)?;
    let started_at = started["started"].as_f64().unwrap_or(start_at);
    let max_seconds = options
        .max_seconds
        .unwrap_or(options.window as f64 + n as f64 / f64::from(cap.max(1)) + 120.0);
    let mut refreshes_seen: u64;
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let stats = admin(
            http,
            reqwest::Method::GET,
            format!("{base}/_emulator/stats"),
            None,
        )
        .await?;
        refreshes_seen = stats["grant_types"]["refresh_token"].as_u64().unwrap_or(0);
        let elapsed = unix_now() - started_at;
        let window_over = elapsed > options.window as f64 + 5.0;
        if (refreshes_seen >= n as u64 && window_over) || elapsed > max_seconds {
            break;
        }
    }
    let stopped_after = unix_now() - started_at;
    let load_after = loadavg();
    drop(stop.take());
    let mut memory = Value::Null;
    let mut newest: HashMap<String, (Option<i64>, Option<i64>)> = HashMap::new();
    for line in output.lines() {
        let value: Value = serde_json::from_str(&line?)?;
        match value["kind"].as_str() {
            Some("memory") => memory = value,
            Some("account") => {
                newest.insert(
                    value["username"].as_str().unwrap_or_default().to_owned(),
                    (value["obtained_at"].as_i64(), value["expires_at"].as_i64()),
                );
            }
            _ => {}
        }
    }
    child.wait()?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut arrivals = emulator.token_requests.lock().unwrap().clone();
    arrivals.sort_by(f64::total_cmp);
    let _ = std::fs::write(
        options
            .dir
            .join(format!("arrivals-cap{cap}-{order:?}-run{run}.txt")),
        arrivals
            .iter()
            .map(|at| format!("{:.6}\n", at - started_at))
            .collect::<String>(),
    );

    // 4. What happened.
    let started_floor = started_at.floor() as i64;
    let (mut in_time, mut late, mut never) = (0usize, Vec::new(), 0usize);
    let mut leads = Vec::new();
    let mut by_window = 0usize;
    let mut last_refresh = 0i64;
    for (name, expires_at) in &expiry_of {
        match newest.get(name).and_then(|(obtained, _)| *obtained) {
            Some(obtained) if obtained >= started_floor => {
                last_refresh = last_refresh.max(obtained);
                if obtained < *expires_at {
                    in_time += 1;
                    leads.push(expires_at - obtained);
                } else {
                    late.push(obtained - expires_at);
                }
                if obtained < started_floor + options.window {
                    by_window += 1;
                }
            }
            _ => never += 1,
        }
    }
    leads.sort_unstable();
    late.sort_unstable();
    let quantile = |values: &[i64], q: f64| -> String {
        if values.is_empty() {
            return "-".into();
        }
        let rank = ((values.len() as f64) * q).ceil() as usize;
        values[rank.clamp(1, values.len()) - 1].to_string()
    };
    let mut max_in_second = 0usize;
    let mut busiest_at = 0.0;
    let mut j = 0;
    for i in 0..arrivals.len() {
        while j < arrivals.len() && arrivals[j] < arrivals[i] + 1.0 {
            j += 1;
        }
        if j - i > max_in_second {
            max_in_second = j - i;
            busiest_at = arrivals[i] - started_at;
        }
    }
    // Windows [t, t + 1 s) starting at a request that hold more than the cap, the busiest
    // whole second counted from the start, and the closest two requests came.
    let mut over_cap = 0usize;
    let mut j = 0;
    for i in 0..arrivals.len() {
        while j < arrivals.len() && arrivals[j] < arrivals[i] + 1.0 {
            j += 1;
        }
        if j - i > cap as usize {
            over_cap += 1;
        }
    }
    let mut per_second: HashMap<i64, usize> = HashMap::new();
    for at in &arrivals {
        *per_second
            .entry((at - started_at).floor() as i64)
            .or_default() += 1;
    }
    let busiest_second = per_second.values().copied().max().unwrap_or(0);
    let min_gap_ms = arrivals
        .windows(2)
        .map(|pair| (pair[1] - pair[0]) * 1e3)
        .fold(f64::INFINITY, f64::min);
    let span = match (arrivals.first(), arrivals.last()) {
        (Some(first), Some(last)) if last > first => last - first,
        _ => f64::NAN,
    };
    let first_expiry = expiry_of.values().min().copied().unwrap_or(0) as f64 - started_at;
    let last_expiry = expiry_of.values().max().copied().unwrap_or(0) as f64 - started_at;
    let hwm_mib = memory["hwm_kib"].as_f64().unwrap_or(f64::NAN) / 1024.0;
    println!(
        "\nrun {run}, cap {cap}/s, {order:?} order: service started {:.2} s after the planned \
         time ({:.2} s to start), margin {} s, jitter {} s, {} in flight at most; tokens expire \
         {first_expiry:.0}..{last_expiry:.0} s after the start; load average {load_before} before, \
         {load_after} at the end",
        started_at - start_at,
        started["ready"].as_f64().unwrap_or(f64::NAN) - started_at,
        started["margin_s"],
        started["jitter_s"],
        started["max_concurrent"],
    );
    println!(
        "  refreshed before expiry {in_time}/{n}; after expiry {} (late by median {} s, p99 {} \
         s, max {} s); not refreshed {never}; refreshed within the first {} s {by_window}; last \
         refresh {} s after the start; stopped after {stopped_after:.0} s",
        late.len(),
        quantile(&late, 0.5),
        quantile(&late, 0.99),
        quantile(&late, 1.0),
        options.window,
        last_refresh - started_floor,
    );
    println!(
        "  lead (expiry − refresh) of the in-time ones: min {} s, p1 {} s, median {} s",
        quantile(&leads, 0.0),
        quantile(&leads, 0.01),
        quantile(&leads, 0.5),
    );
    println!(
        "  token requests at the emulator: {} ({} refresh_token grants in its stats), at most \
         {max_in_second} in any one second (at {busiest_at:.1} s; {over_cap} one-second windows \
         starting at a request hold more than {cap}), at most {busiest_second} in one whole \
         second counted from the start, closest two {min_gap_ms:.1} ms apart, {:.2}/s on average \
         from the first to the last; cap {cap}/s",
        arrivals.len(),
        refreshes_seen,
        (arrivals.len().saturating_sub(1)) as f64 / span,
    );
    println!(
        "  service process: VmHWM {hwm_mib:.1} MiB (at exec {:.1} MiB, before TokenService::start \
         {:.1} MiB), VmRSS at the end {:.1} MiB; RSS every 10 s (MiB): {}; events {}",
        started["hwm_at_exec_kib"].as_f64().unwrap_or(f64::NAN) / 1024.0,
        started["hwm_before_start_kib"].as_f64().unwrap_or(f64::NAN) / 1024.0,
        memory["rss_kib"].as_f64().unwrap_or(f64::NAN) / 1024.0,
        memory["rss_mib_every_10s"],
        memory["events"],
    );
    Ok(format!(
        "cap {cap:>3}/s {order:?}: in time {in_time}/{n}, late {} (median {} s, max {} s), never \
         {never}, within {} s {by_window}, all by {} s; max {max_in_second} token requests in any \
         1 s ({busiest_second} in a whole second), {:.2}/s on average; TokenService::start {:.0} s; \
         VmHWM {hwm_mib:.1} MiB; `refreshed` events {}; load {load_before} → {load_after}",
        late.len(),
        quantile(&late, 0.5),
        quantile(&late, 1.0),
        options.window,
        last_refresh - started_floor,
        (arrivals.len().saturating_sub(1)) as f64 / span,
        started["ready"].as_f64().unwrap_or(f64::NAN) - started_at,
        memory["events"]["refreshed"].as_u64().unwrap_or(0),
    ))
}
