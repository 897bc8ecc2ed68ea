//! Benchmarks of the SQLite token store, reported in BENCHMARKS.md ("Token store").
//!
//! ```text
//! cargo run --release -p o365-auth-core --example bench_store
//! cargo run --release -p o365-auth-core --example bench_store -- --accounts 10000 \
//!     --opens 9 --lookups 100000 --writes 400 --dir target/bench-store
//! ```
//!
//! In one run, on a store built fresh in `--dir` (default `target/bench-store`, on the disk
//! the project lives on; never a tmpfs, where fsync costs nothing):
//! 1. builds the store: `--accounts` accounts of one app (refresh token, ID token, one valid
//!    access token each, at real-world sizes) written to an MSAL file and imported with
//!    `import_token_file` (one transaction); the export back to a file is timed too;
//! 2. `Store::open` of that store, `--opens` times, beside the open of an empty store;
//! 3. memory: RSS of a fresh process before and after opening the store and warming the
//!    token index for every account (`VmRSS` from /proc/self/status);
//! 4. `valid_access_token`: the first lookup of each account (from SQLite into the index),
//!    then `--lookups` lookups of random accounts from the warm index;
//! 5. a refresh write (`Tokens::save`: rotated refresh token, access token and status in one
//!    `BEGIN IMMEDIATE` transaction, WAL, synchronous=FULL), `--writes` times, interleaved with
//!    two baselines on the same disk: a bare SQLite `INSERT` commit with the same pragmas, and
//!    `write` + `fdatasync` of 4 KiB.
//!
//! Uses an explicit key (`KeySource::Key`), so no keyring is needed. Prints medians and p99s;
//! nothing here asserts a time.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use o365_auth_core::Secret;
use o365_auth_core::backend::{AccountSnapshot, AppKey, FileBackend};
use o365_auth_core::scopes::Scopes;
use o365_auth_core::store::accounts::AccountSource;
use o365_auth_core::store::key::DataKey;
use o365_auth_core::store::{
    ExportSelection, KeySource, Store, StoreOptions, export_token_file, import_token_file,
};
use o365_auth_core::token::{AccountIdentity, TokenSet, now_unix};
use rand::{Rng, SeedableRng};
use sqlx::ConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

const KEY: [u8; 32] = [42; 32];
const CLIENT: &str = "b3e5c0de-0000-4000-8000-00000000be4c";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const GRAPH: &str = "https://graph.microsoft.com/User.Read https://graph.microsoft.com/Mail.ReadWrite \
                     https://graph.microsoft.com/Mail.Send https://graph.microsoft.com/Calendars.Read";
// Typical sizes of Entra tokens: a Graph access token ~1.9 KB, a refresh token ~1.3 KB, an ID
// token ~1.2 KB.
const ACCESS_LEN: usize = 1_900;
const REFRESH_LEN: usize = 1_300;
const ID_LEN: usize = 1_200;

struct Options {
    accounts: usize,
    opens: usize,
    lookups: usize,
    writes: usize,
    dir: PathBuf,
    /// Set in the child process of step 3: measure memory of this store and leave.
    memory_of: Option<PathBuf>,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        accounts: 10_000,
        opens: 9,
        lookups: 100_000,
        writes: 400,
        dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-store"),
        memory_of: None,
    };
    let mut arguments = std::env::args().skip(1);
    while let Some(flag) = arguments.next() {
        let value = arguments
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<usize>()
                .map_err(|_| format!("{flag} {value}: not a number"))
        };
        match flag.as_str() {
            "--accounts" => options.accounts = number()?,
            "--opens" => options.opens = number()?,
            "--lookups" => options.lookups = number()?,
            "--writes" => options.writes = number()?,
            "--dir" => options.dir = PathBuf::from(value),
            "--memory-of" => options.memory_of = Some(PathBuf::from(value)),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(options)
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

fn token(prefix: &str, index: usize, length: usize) -> Secret {
    let mut text = format!("{prefix}-{index:05}-");
    while text.len() < length {
        text.push_str("AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-");
    }
    text.truncate(length);
    Secret::new(text)
}

fn identity(index: usize) -> AccountIdentity {
    let oid = format!("00000000-0000-4000-8000-{index:012}");
    AccountIdentity {
        home_account_id: format!("{oid}.{TENANT}"),
        username: format!("user{index:05}@contoso.com"),
        display_name: Some(format!("User {index}")),
        tenant_id: TENANT.into(),
        local_account_id: Some(oid),
    }
}

fn access(index: usize, generation: usize, now: i64) -> TokenSet {
    TokenSet {
        access_token: token(&format!("at{generation}"), index, ACCESS_LEN),
        token_type: "Bearer".into(),
        refresh_token: None,
        id_token: None,
        id_token_claims: None,
        client_info: None,
        scopes: Scopes::from_granted(GRAPH),
        obtained_at: now,
        expires_at: now + 3_600,
        ext_expires_at: Some(now + 3_600),
        refresh_on: None,
    }
}

/// Sorted samples.
struct Samples(Vec<Duration>);

impl Samples {
    fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort();
        Samples(samples)
    }

    fn quantile(&self, q: f64) -> Duration {
        let rank = ((self.0.len() as f64) * q).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1]
    }

    fn median(&self) -> Duration {
        self.quantile(0.5)
    }

    fn p99(&self) -> Duration {
        self.quantile(0.99)
    }

    fn min(&self) -> Duration {
        self.0[0]
    }

    fn max(&self) -> Duration {
        self.0[self.0.len() - 1]
    }
}

fn us(duration: Duration) -> String {
    format!("{:.1} µs", duration.as_secs_f64() * 1e6)
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1e3)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

async fn memory_child(path: &Path) -> Result<(), String> {
    {
        let before = rss_kib();
        let store = open(path).await;
        let opened = rss_kib();
        let ids: Vec<String> = store
            .accounts()
            .list(None)
            .await
            .map_err(|error| error.to_string())?
            .into_iter()
            .map(|account| account.id)
            .collect();
        let scopes = Scopes::from_granted(GRAPH);
        let now = now_unix();
        for id in &ids {
            store
                .valid_access_token(id, Some(&scopes), now, 300)
                .await
                .map_err(|error| error.to_string())?;
        }
        let warmed = rss_kib();
        println!(
            "{before} {opened} {warmed} {} {}",
            store.indexed_accounts(),
            ids.len()
        );
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = options()?;
    let runtime = tokio::runtime::Runtime::new()?;
    match &options.memory_of {
        Some(path) => Ok(runtime.block_on(memory_child(path))?),
        None => runtime.block_on(run(options)),
    }
}

async fn run(options: Options) -> Result<(), Box<dyn std::error::Error>> {
    let _ = std::fs::remove_dir_all(&options.dir);
    std::fs::create_dir_all(&options.dir)?;
    let dir = std::fs::canonicalize(&options.dir)?;
    let store_path = dir.join("store.sqlite3");
    let empty_path = dir.join("empty.sqlite3");
    let n = options.accounts;
    println!(
        "bench_store: {n} accounts, {} opens, {} lookups, {} writes, in {}",
        options.opens,
        options.lookups,
        options.writes,
        dir.display()
    );

    // 1. Build: an MSAL file with every account, imported in one transaction.
    let now = now_unix();
    let app = AppKey {
        client_id: CLIENT.into(),
        environment: "login.microsoftonline.com".into(),
        realm: "common".into(),
    };
    let snapshots: Vec<(AppKey, AccountSnapshot)> = (0..n)
        .map(|index| {
            let snapshot = AccountSnapshot {
                identity: identity(index),
                refresh_token: Some(token("rt", index, REFRESH_LEN)),
                id_token: Some(token("id", index, ID_LEN)),
                id_token_claims: None,
                client_info: None,
                access_tokens: vec![access(index, 0, now)],
                updated_at: Some(now),
            };
            (app.clone(), snapshot)
        })
        .collect();
    let file = FileBackend::new(dir.join("o365_token.txt"));
    let started = Instant::now();
    file.save_snapshots(snapshots).await?;
    let file_write = started.elapsed();
    let store = open(&store_path).await;
    let started = Instant::now();
    let report = import_token_file(&store, file.path()).await?;
    let import = started.elapsed();
    assert_eq!(report.accounts.len(), n, "every account imported");
    let started = Instant::now();
    let exported =
        export_token_file(&store, &dir.join("exported.json"), &ExportSelection::all()).await?;
    let export = started.elapsed();
    assert_eq!(exported.accounts.len(), n);
    let file_size = std::fs::metadata(file.path())?.len();
    store.close().await;
    drop(store);
    let db_size = std::fs::metadata(&store_path)?.len();
    let empty = open(&empty_path).await;
    empty.close().await;
    println!(
        "build: MSAL file of {n} accounts written in {} ({:.1} MB); import {} (one \
         transaction); export {}; store file {:.1} MB",
        ms(file_write),
        file_size as f64 / 1e6,
        ms(import),
        ms(export),
        db_size as f64 / 1e6
    );

    // 2. Store::open, the full store beside an empty one, alternating.
    let (mut full, mut bare) = (Vec::new(), Vec::new());
    for _ in 0..options.opens {
        for (path, samples) in [(&store_path, &mut full), (&empty_path, &mut bare)] {
            let started = Instant::now();
            let store = open(path).await;
            samples.push(started.elapsed());
            store.close().await;
        }
    }
    let (full, bare) = (Samples::new(full), Samples::new(bare));
    println!(
        "open: {n} accounts median {} (min {}, max {}); empty store median {} (min {}, max {}); \
         ratio {:.1}x",
        ms(full.median()),
        ms(full.min()),
        ms(full.max()),
        ms(bare.median()),
        ms(bare.min()),
        ms(bare.max()),
        full.median().as_secs_f64() / bare.median().as_secs_f64()
    );

    // 3. Memory, in a fresh process.
    let output = std::process::Command::new(std::env::current_exe()?)
        .arg("--memory-of")
        .arg(&store_path)
        .output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let numbers: Vec<u64> = text
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    if let [before, opened, warmed, indexed, accounts] = numbers[..] {
        println!(
            "memory (RSS, fresh process): start {:.1} MiB, after open {:.1} MiB (+{:.1}), after \
             warming the index for {indexed}/{accounts} accounts {:.1} MiB (+{:.1} over open, \
             {:.0} bytes per account)",
            before as f64 / 1024.0,
            opened as f64 / 1024.0,
            (opened as f64 - before as f64) / 1024.0,
            warmed as f64 / 1024.0,
            (warmed as f64 - opened as f64) / 1024.0,
            (warmed as f64 - opened as f64) * 1024.0 / accounts.max(1) as f64
        );
    } else {
        println!(
            "memory: the child process said {text:?} {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    // 4. Lookups: the first of each account loads it from SQLite, the rest hit the index.
    let store = open(&store_path).await;
    let accounts = store.accounts().list(None).await?;
    let scopes = Scopes::from_granted(GRAPH);
    let now = now_unix();
    let mut cold = Vec::with_capacity(accounts.len());
    for account in &accounts {
        let started = Instant::now();
        let token = store
            .valid_access_token(&account.id, Some(&scopes), now, 300)
            .await?;
        cold.push(started.elapsed());
        assert!(token.is_some(), "a valid token for every account");
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut warm = Vec::with_capacity(options.lookups);
    for _ in 0..options.lookups {
        let account = &accounts[rng.gen_range(0..accounts.len())];
        let started = Instant::now();
        let token = store
            .valid_access_token(&account.id, Some(&scopes), now, 300)
            .await?;
        warm.push(started.elapsed());
        assert!(token.is_some());
    }
    let (cold, warm) = (Samples::new(cold), Samples::new(warm));
    println!(
        "valid_access_token: warm index median {} p99 {} ({} lookups of random accounts); \
         first lookup per account (SQLite into the index) median {} p99 {}",
        us(warm.median()),
        us(warm.p99()),
        options.lookups,
        us(cold.median()),
        us(cold.p99())
    );

    // 5. Refresh writes, interleaved with the baselines on the same disk.
    let baseline = SqliteConnectOptions::new()
        .filename(dir.join("baseline.sqlite3"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .connect()
        .await?;
    let mut baseline = baseline;
    sqlx::query("CREATE TABLE rows (id INTEGER PRIMARY KEY, value BLOB NOT NULL)")
        .execute(&mut baseline)
        .await?;
    let mut raw = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("fsync.bin"))?;
    let payload = vec![0x5a_u8; 4096];
    let app_id = accounts[0].app_id.clone();
    let (mut saves, mut inserts, mut syncs) = (Vec::new(), Vec::new(), Vec::new());
    for generation in 1..=options.writes {
        let index = rng.gen_range(0..accounts.len());
        let account = &accounts[index];
        let mut tokens = access(index, generation, now_unix());
        tokens.refresh_token = Some(token(&format!("rt{generation}"), index, REFRESH_LEN));
        let started = Instant::now();
        store
            .tokens()
            .save(&app_id, &account.identity, &tokens, AccountSource::SignIn)
            .await?;
        saves.push(started.elapsed());

        let started = Instant::now();
        sqlx::query("INSERT INTO rows (value) VALUES (?)")
            .bind(&payload[..2048])
            .execute(&mut baseline)
            .await?;
        inserts.push(started.elapsed());

        let started = Instant::now();
        raw.write_all(&payload)?;
        raw.sync_data()?;
        syncs.push(started.elapsed());
    }
    let (saves, inserts, syncs) = (
        Samples::new(saves),
        Samples::new(inserts),
        Samples::new(syncs),
    );
    println!(
        "refresh write (Tokens::save, fsync): median {} p99 {}; bare SQLite INSERT commit \
         (WAL, synchronous=FULL) median {} p99 {}; write+fdatasync 4 KiB median {} p99 {}; \
         save/insert {:.2}x",
        ms(saves.median()),
        ms(saves.p99()),
        ms(inserts.median()),
        ms(inserts.p99()),
        ms(syncs.median()),
        ms(syncs.p99()),
        saves.median().as_secs_f64() / inserts.median().as_secs_f64()
    );
    store.close().await;
    Ok(())
}
