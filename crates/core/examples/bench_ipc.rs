//! The IPC round trip of `token.get`, reported in BENCHMARKS.md ("IPC round trip").
//!
//! ```text
//! cargo build --release -p o365-auth-core --example bench_ipc
//! target/release/examples/bench_ipc
//! target/release/examples/bench_ipc --clients 1,64,512 --seconds 2 --warmup 0.3 --rounds 3 \
//!     --workers 2 --dir target/bench-ipc
//! ```
//! (or `scripts/bench-ipc.sh [OPTIONS]`, which builds and runs it).
//!
//! Setup, not timed: the entra-emulator in this process (the sandbox with the demo app's
//! scopes consented by an admin, so the password flow works), a real store in `--dir`
//! (`KeySource::Key`, no keyring), `TokenService::start`, the real `ServiceHandler` on two real
//! `IpcServer`s (one with `IpcLimits::default()`, whose cap is 64 connections, used for up to
//! 64 clients; one with the cap raised to 1,024, used above 64), `apps.add` and
//! `login.password` over the socket, then one `token.get` whose answer line is kept. Beside
//! them, a bare tokio Unix-socket server that reads each request line and writes that same
//! answer line back (same request bytes in, same response bytes out).
//!
//! Timed, for each client count: that many clients, each on its own connection, each sending
//! `{"jsonrpc":"2.0","id":1,"method":"token.get","params":{}}` and waiting for the whole
//! answer line before the next (closed loop), against the echo server and against the service
//! in turn, and, to show where the service's time goes, as many tasks calling the layers under
//! the socket directly: `TokenService::token` (what the handler calls for `token.get`, audit
//! entry included; row `token()`) and `Store::valid_access_token` (the in-memory index lookup
//! it starts with; row `lookup`). `--rounds` rounds, the four turns in a rotated order each
//! round, `--warmup` seconds unrecorded then `--seconds` recorded per turn. Every socket answer
//! is compared byte for byte with the kept one. Printed: p50/p99/p99.9 latency, throughput,
//! the process's CPU time per request, and the service/echo ratios.
//!
//! Everything (server, clients, emulator) shares one tokio runtime of `--workers` threads
//! (default 2, the machine's cores), so the throughput is that of server and clients together
//! on those cores; the echo rows show what the clients and the sockets alone cost. Nothing
//! here asserts a time.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use entra_emulator::Emulator;
use entra_emulator::sandbox::{DEMO_CLIENT_ID, DEMO_PASSWORD, DEMO_TENANT_ID, DEMO_USERNAME};
use o365_auth_core::ipc::{IpcLimits, IpcServer};
use o365_auth_core::service::{ServiceHandler, ServiceOptions, TokenRequest, TokenService};
use o365_auth_core::store::audit::{AuditPeer, Channel};
use o365_auth_core::store::key::DataKey;
use o365_auth_core::store::{KeySource, Store, StoreOptions};
use o365_auth_core::token::now_unix;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

const REQUEST: &[u8] = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"token.get\",\"params\":{}}\n";

struct Options {
    clients: Vec<usize>,
    seconds: f64,
    warmup: f64,
    rounds: usize,
    workers: usize,
    dir: PathBuf,
    /// Which turns run: echo, service, token, lookup (all by default; one alone for perf).
    turns: Vec<String>,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        clients: vec![1, 64, 512],
        seconds: 2.0,
        warmup: 0.3,
        rounds: 3,
        workers: 2,
        dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-ipc"),
        turns: ["echo", "service", "token", "lookup"]
            .map(str::to_owned)
            .to_vec(),
    };
    let mut arguments = std::env::args().skip(1);
    while let Some(flag) = arguments.next() {
        let value = arguments
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?;
        let float = || {
            value
                .parse::<f64>()
                .map_err(|_| format!("{flag} {value}: not a number"))
        };
        let number = || {
            value
                .parse::<usize>()
                .map_err(|_| format!("{flag} {value}: not a number"))
        };
        match flag.as_str() {
            "--clients" => {
                options.clients = value
                    .split(',')
                    .map(|n| {
                        n.trim()
                            .parse::<usize>()
                            .map_err(|_| format!("--clients {n}"))
                    })
                    .collect::<Result<_, _>>()?
            }
            "--seconds" => options.seconds = float()?,
            "--warmup" => options.warmup = float()?,
            "--rounds" => options.rounds = number()?,
            "--workers" => options.workers = number()?,
            "--dir" => options.dir = PathBuf::from(value),
            "--turns" => options.turns = value.split(',').map(str::to_owned).collect(),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(options)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = options()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.workers.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(run(options))
}

// --- the two servers ------------------------------------------------------------------------

/// The least a line server can do: read a request line, write the canned answer.
async fn echo_server(listener: UnixListener, answer: Arc<Vec<u8>>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let answer = answer.clone();
        tokio::spawn(async move {
            let (reader, mut writer) = stream.into_split();
            let mut reader = BufReader::new(reader);
            let mut line = Vec::with_capacity(256);
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if writer.write_all(&answer).await.is_err() {
                    return;
                }
            }
        });
    }
}

// --- clients ----------------------------------------------------------------------------------

struct Connection {
    reader: BufReader<tokio::net::unix::OwnedReadHalf>,
    writer: tokio::net::unix::OwnedWriteHalf,
    line: Vec<u8>,
}

impl Connection {
    async fn open(path: &Path) -> std::io::Result<Connection> {
        // A full accept backlog answers EAGAIN on a Unix socket: wait for the accept loop.
        let mut tries = 0;
        let stream = loop {
            match UnixStream::connect(path).await {
                Ok(stream) => break stream,
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock && tries < 1000 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Err(error) => return Err(error),
            }
        };
        let (reader, writer) = stream.into_split();
        Ok(Connection {
            reader: BufReader::with_capacity(16 * 1024, reader),
            writer,
            line: Vec::with_capacity(4096),
        })
    }

    /// One request, its whole answer line.
    async fn round_trip(&mut self, request: &[u8]) -> std::io::Result<&[u8]> {
        self.writer.write_all(request).await?;
        self.line.clear();
        let read = self.reader.read_until(b'\n', &mut self.line).await?;
        if read == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        Ok(&self.line)
    }
}

async fn connect_all(path: &Path, count: usize, expected: &[u8]) -> Vec<Connection> {
    let mut connections = Vec::with_capacity(count);
    for _ in 0..count {
        connections.push(Connection::open(path).await.expect("connect"));
    }
    // Every connection answered properly once (not `server busy`) before anything is timed.
    for connection in &mut connections {
        let answer = connection.round_trip(REQUEST).await.expect("first answer");
        assert!(
            answer == expected,
            "unexpected answer on {}: {}",
            path.display(),
            String::from_utf8_lossy(answer)
        );
    }
    connections
}

struct Turn {
    /// Latency of each recorded request, nanoseconds.
    samples: Vec<u32>,
    wall: Duration,
    cpu: Duration,
    mismatches: usize,
}

/// Runs every connection in a closed loop: `warmup` unrecorded, then `measure` recorded.
async fn turn(
    connections: Vec<Connection>,
    expected: Arc<Vec<u8>>,
    warmup: Duration,
    measure: Duration,
) -> (Vec<Connection>, Turn) {
    let start = tokio::time::Instant::now() + Duration::from_millis(20);
    let recorded_from = start + warmup;
    let end = recorded_from + measure;
    let tasks: Vec<_> = connections
        .into_iter()
        .map(|mut connection| {
            let expected = expected.clone();
            tokio::spawn(async move {
                tokio::time::sleep_until(start).await;
                let mut samples = Vec::with_capacity(1 << 16);
                let mut mismatches = 0;
                loop {
                    let began = tokio::time::Instant::now();
                    if began >= end {
                        break;
                    }
                    let answer = connection.round_trip(REQUEST).await.expect("an answer");
                    let took = began.elapsed();
                    if answer != expected.as_slice() {
                        mismatches += 1;
                    }
                    if began >= recorded_from {
                        samples.push(u32::try_from(took.as_nanos()).unwrap_or(u32::MAX));
                    }
                }
                (connection, samples, mismatches)
            })
        })
        .collect();
    tokio::time::sleep_until(recorded_from).await;
    let cpu_before = process_cpu();
    let wall_before = Instant::now();
    let mut connections = Vec::with_capacity(tasks.len());
    let mut samples = Vec::new();
    let mut mismatches = 0;
    for task in tasks {
        let (connection, mut own, bad) = task.await.expect("client task");
        connections.push(connection);
        samples.append(&mut own);
        mismatches += bad;
    }
    let wall = wall_before.elapsed();
    let cpu = process_cpu().saturating_sub(cpu_before);
    (
        connections,
        Turn {
            samples,
            wall,
            cpu,
            mismatches,
        },
    )
}

/// Like [`turn`], without a socket: `tasks` tasks calling `call` in a closed loop.
async fn direct_turn<F, Fut>(
    tasks: usize,
    call: Arc<F>,
    warmup: Duration,
    measure: Duration,
) -> Turn
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let start = tokio::time::Instant::now() + Duration::from_millis(20);
    let recorded_from = start + warmup;
    let end = recorded_from + measure;
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let call = call.clone();
            tokio::spawn(async move {
                tokio::time::sleep_until(start).await;
                let mut samples = Vec::with_capacity(1 << 16);
                let mut mismatches = 0;
                loop {
                    let began = tokio::time::Instant::now();
                    if began >= end {
                        break;
                    }
                    let ok = call().await;
                    let took = began.elapsed();
                    if !ok {
                        mismatches += 1;
                    }
                    if began >= recorded_from {
                        samples.push(u32::try_from(took.as_nanos()).unwrap_or(u32::MAX));
                    }
                    // A warm lookup never waits, so without this the tasks would keep both
                    // workers until the end and the timer that starts the measurement would
                    // fire late (as a socket server yields at every read).
                    tokio::task::yield_now().await;
                }
                (samples, mismatches)
            })
        })
        .collect();
    tokio::time::sleep_until(recorded_from).await;
    let cpu_before = process_cpu();
    let wall_before = Instant::now();
    let mut samples = Vec::new();
    let mut mismatches = 0;
    for handle in handles {
        let (mut own, bad) = handle.await.expect("task");
        samples.append(&mut own);
        mismatches += bad;
    }
    Turn {
        samples,
        wall: wall_before.elapsed(),
        cpu: process_cpu().saturating_sub(cpu_before),
        mismatches,
    }
}

/// User + system CPU time of this process (every thread), from /proc/self/stat.
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|field| field.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // Field 3 is the first after the name: utime = 14 → index 11, stime = 15 → index 12.
    // USER_HZ is 100 on Linux.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

#[derive(Default)]
struct Totals {
    samples: Vec<u32>,
    wall: Duration,
    cpu: Duration,
    mismatches: usize,
    per_round: Vec<f64>,
}

impl Totals {
    fn add(&mut self, turn: Turn) {
        self.per_round
            .push(turn.samples.len() as f64 / turn.wall.as_secs_f64());
        self.wall += turn.wall;
        self.cpu += turn.cpu;
        self.mismatches += turn.mismatches;
        self.samples.extend_from_slice(&turn.samples);
    }

    fn finish(&mut self) {
        self.samples.sort_unstable();
    }

    fn quantile(&self, q: f64) -> f64 {
        if self.samples.is_empty() {
            return f64::NAN;
        }
        let rank = ((self.samples.len() as f64) * q).ceil() as usize;
        self.samples[rank.clamp(1, self.samples.len()) - 1] as f64 / 1e3
    }

    fn throughput(&self) -> f64 {
        self.samples.len() as f64 / self.wall.as_secs_f64()
    }

    fn cpu_per_request_us(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.samples.len().max(1) as f64
    }

    fn row(&self, name: &str) {
        let rounds: Vec<String> = self.per_round.iter().map(|r| format!("{r:.0}")).collect();
        println!(
            "  {name:<8} p50 {:>8.1} µs  p99 {:>8.1} µs  p99.9 {:>8.1} µs  max {:>8.1} µs  \
             {:>8.0} req/s (rounds {})  CPU {:>5.1} µs/req  {} requests{}",
            self.quantile(0.5),
            self.quantile(0.99),
            self.quantile(0.999),
            self.quantile(1.0),
            self.throughput(),
            rounds.join(" / "),
            self.cpu_per_request_us(),
            self.samples.len(),
            if self.mismatches > 0 {
                format!(", {} ANSWERS DIFFERED", self.mismatches)
            } else {
                String::new()
            }
        );
    }
}

// --- the run ----------------------------------------------------------------------------------

fn emulator_config() -> entra_emulator::EmulatorConfig {
    let mut config = entra_emulator::sandbox::config();
    for app in config.tenants.iter_mut().flat_map(|t| t.apps.iter_mut()) {
        if app.client_id.to_string() == DEMO_CLIENT_ID {
            app.pre_consented_scopes = ["User.Read", "offline_access"].map(str::to_owned).to_vec();
        }
    }
    config
}

async fn call(connection: &mut Connection, method: &str, params: Value) -> Value {
    let request = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
    let line = format!("{request}\n");
    let answer = connection
        .round_trip(line.as_bytes())
        .await
        .expect("setup call");
    let answer: Value = serde_json::from_slice(answer).expect("a JSON answer");
    assert!(answer.get("error").is_none(), "{method}: {answer}");
    answer["result"].clone()
}

async fn run(options: Options) -> Result<(), Box<dyn std::error::Error>> {
    let _ = std::fs::remove_dir_all(&options.dir);
    std::fs::create_dir_all(&options.dir)?;
    let dir = std::fs::canonicalize(&options.dir)?;
    let emulator = Emulator::start(emulator_config(), "127.0.0.1:0".parse()?).await?;
    let store = Store::open(
        StoreOptions::at(dir.join("store.sqlite3"))
            .with_key(KeySource::Key(DataKey::from_bytes([42; 32]))),
    )
    .await?;
    let socket = dir.join("run").join("ipc.sock");
    let wide_socket = dir.join("run").join("ipc-wide.sock");
    let service = TokenService::start(
        store.clone(),
        ServiceOptions {
            socket: Some(socket.clone()),
            ..ServiceOptions::default()
        },
    )
    .await?;
    let handler = Arc::new(ServiceHandler::new(service.clone()));
    let default_limits = IpcLimits::default();
    let default_cap = default_limits.max_connections;
    let server = IpcServer::bind(&socket, handler.clone(), default_limits).await?;
    let max_clients = options.clients.iter().copied().max().unwrap_or(1);
    let wide_cap = (max_clients + 64).max(1024);
    let wide = IpcServer::bind(
        &wide_socket,
        handler,
        IpcLimits {
            max_connections: wide_cap,
            ..IpcLimits::default()
        },
    )
    .await?;

    // Setup over the socket, as any client would.
    let mut setup = Connection::open(server.path()).await?;
    call(
        &mut setup,
        "apps.add",
        json!({
            "name": "bench",
            "client_id": DEMO_CLIENT_ID,
            "tenant": DEMO_TENANT_ID,
            "flow": "public",
            "authority": emulator.base_url(),
        }),
    )
    .await;
    call(
        &mut setup,
        "login.password",
        json!({"username": DEMO_USERNAME, "password": DEMO_PASSWORD}),
    )
    .await;
    let answer = setup.round_trip(REQUEST).await?.to_vec();
    let parsed: Value = serde_json::from_slice(&answer)?;
    assert!(
        parsed["result"]["access_token"]
            .as_str()
            .is_some_and(|token| token.len() > 100),
        "token.get answered {parsed}"
    );
    drop(setup);
    let answer = Arc::new(answer);

    // The layers under the socket, called directly: the service's `token` (what the handler
    // calls for `token.get`, audit entry included) and the store's index lookup it starts with.
    let account_id = store.accounts().list(None).await?[0].id.clone();
    let service_call = {
        let service = service.clone();
        let peer = AuditPeer {
            pid: Some(std::process::id() as i32),
            uid: None,
            exe: None,
        };
        Arc::new(move || {
            let (service, peer) = (service.clone(), peer.clone());
            async move {
                service
                    .token(&TokenRequest::default(), false, Channel::Ipc, peer)
                    .await
                    .is_ok()
            }
        })
    };
    let lookup_call = {
        let store = store.clone();
        Arc::new(move || {
            let (store, account_id) = (store.clone(), account_id.clone());
            async move {
                store
                    .valid_access_token(&account_id, None, now_unix(), 60)
                    .await
                    .is_ok_and(|token| token.is_some())
            }
        })
    };

    let echo_path = dir.join("run").join("echo.sock");
    let echo_listener = UnixListener::bind(&echo_path)?;
    tokio::spawn(echo_server(echo_listener, answer.clone()));

    println!(
        "bench_ipc: token.get over Unix sockets, {} worker threads, {} rounds of {:.1} s \
         (+{:.1} s warm-up) per server and client count; request {} bytes, answer {} bytes; \
         store in {}",
        options.workers,
        options.rounds,
        options.seconds,
        options.warmup,
        REQUEST.len(),
        answer.len(),
        dir.display()
    );
    println!(
        "service on IpcLimits::default() (max_connections {default_cap}) up to {default_cap} \
         clients, above that on IpcLimits {{ max_connections: {wide_cap} }}"
    );
    let warmup = Duration::from_secs_f64(options.warmup);
    let measure = Duration::from_secs_f64(options.seconds);
    let mut summary = Vec::new();
    for &clients in &options.clients {
        let ipc_path = if clients <= default_cap {
            server.path().to_owned()
        } else {
            wide.path().to_owned()
        };
        let mut echo_connections = connect_all(&echo_path, clients, &answer).await;
        let mut ipc_connections = connect_all(&ipc_path, clients, &answer).await;
        let (mut echo, mut ipc) = (Totals::default(), Totals::default());
        let (mut direct, mut lookup) = (Totals::default(), Totals::default());
        let (mut ipc_audit_drain, mut direct_audit_drain) = (Vec::new(), Vec::new());
        for round in 0..options.rounds {
            let mut order = [0, 1, 2, 3];
            order.rotate_left(round % 4);
            let names = ["echo", "service", "token", "lookup"];
            for which in order {
                if !options.turns.iter().any(|turn| turn == names[which]) {
                    continue;
                }
                match which {
                    0 => {
                        let (back, result) =
                            turn(echo_connections, answer.clone(), warmup, measure).await;
                        echo_connections = back;
                        echo.add(result);
                    }
                    1 => {
                        let (back, result) =
                            turn(ipc_connections, answer.clone(), warmup, measure).await;
                        ipc_connections = back;
                        ipc.add(result);
                        ipc_audit_drain.push(audit_settled(&store).await);
                    }
                    2 => {
                        direct
                            .add(direct_turn(clients, service_call.clone(), warmup, measure).await);
                        direct_audit_drain.push(audit_settled(&store).await);
                    }
                    _ => {
                        lookup.add(direct_turn(clients, lookup_call.clone(), warmup, measure).await)
                    }
                }
            }
        }
        drop(echo_connections);
        drop(ipc_connections);
        echo.finish();
        ipc.finish();
        direct.finish();
        lookup.finish();
        println!("{clients} client(s):");
        for (totals, name) in [
            (&echo, "echo"),
            (&ipc, "service"),
            (&direct, "token()"),
            (&lookup, "lookup"),
        ] {
            if !totals.samples.is_empty() {
                totals.row(name);
            }
        }
        let drains = |drains: &[Duration]| -> String {
            drains
                .iter()
                .map(|drain| format!("{:.2}", drain.as_secs_f64()))
                .collect::<Vec<_>>()
                .join(" / ")
        };
        println!(
            "  audit writer still busy after the turn (s): service {}; token() {}",
            drains(&ipc_audit_drain),
            drains(&direct_audit_drain)
        );
        println!(
            "  service/echo: p50 {:.2}x, p99 {:.2}x, throughput {:.2}x",
            ipc.quantile(0.5) / echo.quantile(0.5),
            ipc.quantile(0.99) / echo.quantile(0.99),
            ipc.throughput() / echo.throughput()
        );
        summary.push((
            clients,
            ipc.quantile(0.99) / echo.quantile(0.99),
            ipc.throughput(),
        ));
        // Let the closed connections' tasks end before the next count connects.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for (clients, p99_ratio, throughput) in summary {
        println!(
            "targets at {clients} client(s): service p99 / echo p99 = {p99_ratio:.2} (target ≤ 3 \
             at 64), service throughput {throughput:.0} token.get/s (target ≥ 50,000)"
        );
    }
    index_check(&store, &service, server.path()).await;
    let audit_rows = sqlx_count(&store, Duration::from_millis(500)).await;
    if let Some(rows) = audit_rows {
        println!("audit log entries written during the run: {rows}");
    }
    wide.shutdown().await;
    server.shutdown().await;
    store.close().await;
    drop(emulator);
    Ok(())
}

/// Whether the audit writer's commit empties the store's token index: a second account
/// signed in, both indexed, one `token.get`, its audit batch committed, one lookup.
async fn index_check(store: &Store, service: &TokenService, socket: &Path) {
    let mut setup = Connection::open(socket).await.expect("connect");
    call(
        &mut setup,
        "login.password",
        json!({"username": "adele@sandbox.onmicrosoft.com", "password": DEMO_PASSWORD}),
    )
    .await;
    let ids: Vec<String> = store
        .accounts()
        .list(None)
        .await
        .expect("accounts")
        .into_iter()
        .map(|record| record.id)
        .collect();
    tokio::time::sleep(Duration::from_millis(600)).await;
    for id in &ids {
        let _ = store.valid_access_token(id, None, now_unix(), 60).await;
    }
    let warm = store.indexed_accounts();
    let request = TokenRequest {
        account: Some(DEMO_USERNAME.to_owned()),
        ..TokenRequest::default()
    };
    let peer = AuditPeer::default();
    let _ = service.token(&request, false, Channel::Ipc, peer).await;
    let after_token = store.indexed_accounts();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let _ = store
        .valid_access_token(&ids[0], None, now_unix(), 60)
        .await;
    println!(
        "token index: {warm} of {} accounts indexed; after one token.get {after_token}; after \
         its audit entry was committed (600 ms later) and one lookup {} (fewer = the audit \
         commit emptied the index)",
        ids.len(),
        store.indexed_accounts()
    );
}

/// How long after now the audit log kept growing: the audit writer's backlog when a turn
/// ends (it batches for 200 ms, so a log that has not grown for 400 ms is settled; that
/// quiet time is not counted). The next turn starts after it.
async fn audit_settled(store: &Store) -> Duration {
    let began = Instant::now();
    let mut last = sqlx_count(store, Duration::ZERO).await;
    let mut last_change = began;
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = sqlx_count(store, Duration::ZERO).await;
        if now != last {
            last = now;
            last_change = Instant::now();
        } else if last_change.elapsed() >= Duration::from_millis(400) {
            return last_change - began;
        }
    }
}

/// How many tokens the audit log counts (identical hand-outs share a row and its `times`),
/// after the audit writer's last batch.
async fn sqlx_count(store: &Store, settle: Duration) -> Option<i64> {
    tokio::time::sleep(settle).await;
    sqlx::query_scalar("SELECT coalesce(sum(times), 0) FROM audit_log")
        .fetch_one(store.pool())
        .await
        .ok()
}
