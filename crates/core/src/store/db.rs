//! Opening the store: where the file lives, checking an existing file before SQLite touches it,
//! the connection settings, the schema, and unlocking the data key.
//!
//! Order of [`Store::open`]:
//! 1. Create the directory (0700) and take `<db>.open.lock` (an exclusive file lock, so two
//!    processes opening at once do not both create the schema or the key).
//! 2. Inspect an existing file without writing to it: SQLite header, `application_id`, tables
//!    of another program, `PRAGMA quick_check` on a read-only connection. Anything wrong is
//!    [`Error::StoreCorrupt`] or [`Error::StoreForeign`] and the file is left as it is;
//!    [`Store::set_aside`] moves it away when a person asks.
//! 3. Create the file 0600 when missing (SQLite gives `-wal`/`-shm` the same mode), open the
//!    pool (WAL, `synchronous=FULL`, busy timeout, foreign keys), run the migrations, stamp
//!    `application_id`.
//! 4. Read or create `store_id` in `store_meta`, get the data key from the chosen
//!    [`KeySource`], and check it against `key_check` (a sealed known value), so a wrong key or
//!    passphrase is a clear error instead of garbage later.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection, Row};

use super::index::TokenIndex;
use super::key::{DataKey, KeyringSlot, derive_from_passphrase, new_salt};
use super::seal::Sealer;
use super::sql::{io_error, sql_error};
use super::watch::Watch;
use crate::error::{Error, Result};
use crate::secret::Secret;

/// `PRAGMA application_id` of every o365-auth store: "O365" in ASCII.
pub const APPLICATION_ID: i32 = 0x4F33_3635;

/// The first 16 bytes of every SQLite 3 database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Tables our migrations create (sqlx adds `_sqlx_migrations`).
const OUR_TABLES: &[&str] = &[
    "_sqlx_migrations",
    "store_meta",
    "app_registrations",
    "accounts",
    "tokens",
    "pending_sign_ins",
    "audit_log",
    "refresh_leases",
    "token_changes",
];

const KEY_CHECK_CONTEXT: &str = "store_meta:key_check:value";
const KEY_CHECK_VALUE: &str = "o365-auth store key check v1";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Where the store's data key comes from.
pub enum KeySource {
    /// The OS keyring, one entry per store named by its `store_id` (the default). Without a
    /// reachable keyring the store does not open.
    Keyring,
    /// A key derived with Argon2id from a passphrase the user chose explicitly; the salt is kept
    /// in `store_meta`.
    Passphrase(Secret),
    /// A key the caller holds (tests, embedding). Recorded as `explicit` in `store_meta`.
    Key(DataKey),
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl KeySource {
    fn name(&self) -> &'static str {
        match self {
            KeySource::Keyring => "keyring",
            KeySource::Passphrase(_) => "passphrase",
            KeySource::Key(_) => "explicit",
        }
    }
}

/// How to open a store. `StoreOptions::default()` is the platform data directory and the OS
/// keyring.
#[derive(Debug)]
pub struct StoreOptions {
    /// The database file; `None` is `<data dir>/o365-auth/store.sqlite3`.
    pub path: Option<PathBuf>,
    pub key: KeySource,
    /// How long a statement waits for another connection's write lock.
    pub busy_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            path: None,
            key: KeySource::Keyring,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

impl StoreOptions {
    pub fn at(path: impl Into<PathBuf>) -> Self {
        StoreOptions {
            path: Some(path.into()),
            ..StoreOptions::default()
        }
    }

    pub fn with_key(mut self, key: KeySource) -> Self {
        self.key = key;
        self
    }
}

/// The default database path: `dirs::data_dir()/o365-auth/store.sqlite3` (XDG on Linux).
pub fn default_path() -> Result<PathBuf> {
    let base = dirs::data_dir().ok_or_else(|| Error::StoreIo {
        message: "no data directory is known for this user (HOME or XDG_DATA_HOME unset); \
                  give the store a path"
            .into(),
    })?;
    Ok(base.join("o365-auth").join("store.sqlite3"))
}

/// An open token store. Cheap to clone; every clone shares the pool, the key and the index.
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) pool: SqlitePool,
    pub(crate) sealer: Sealer,
    pub(crate) path: PathBuf,
    pub(crate) store_id: String,
    /// Names this open store in `refresh_leases`.
    pub(crate) holder: String,
    pub(crate) index: TokenIndex,
    /// The index's change check and the audit batches (see `watch`).
    pub(crate) watch: Watch,
    pub(crate) refresh_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .field("store_id", &self.inner.store_id)
            .finish_non_exhaustive()
    }
}

impl Store {
    pub async fn open(options: StoreOptions) -> Result<Store> {
        let path = match options.path {
            Some(path) => path,
            None => default_path()?,
        };
        prepare_directory(&path)?;
        let open_lock = lock_exclusive(sibling(&path, "open.lock")).await?;
        inspect(&path).await?;
        create_private_file(&path)?;

        let connect = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(false)
            .foreign_keys(true)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(options.busy_timeout);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(connect.clone())
            .await
            .map_err(|error| open_error(&path, error))?;
        // WAL is a property of the file: set it once, under the open lock (switching modes
        // needs an exclusive lock that the busy timeout does not wait for).
        sqlx::query("PRAGMA journal_mode = WAL")
            .execute(&pool)
            .await
            .map_err(sql_error)?;
        MIGRATOR.run(&pool).await.map_err(|error| Error::StoreIo {
            message: format!("the store schema could not be updated: {error}"),
        })?;
        let application_id: i64 = sqlx::query_scalar("PRAGMA application_id")
            .fetch_one(&pool)
            .await
            .map_err(sql_error)?;
        if application_id != i64::from(APPLICATION_ID) {
            sqlx::query(&format!("PRAGMA application_id = {APPLICATION_ID}"))
                .execute(&pool)
                .await
                .map_err(sql_error)?;
        }

        let store_id = meta_get_or_insert(&pool, "store_id", &uuid::Uuid::new_v4().to_string())
            .await?
            .unwrap_or_default();
        let sealer = unlock(&pool, &store_id, options.key).await?;
        drop(open_lock);

        let watch = Watch::open(&path, options.busy_timeout)?;
        Ok(Store {
            inner: Arc::new(Inner {
                pool,
                sealer,
                path,
                store_id,
                holder: super::holder::new_holder(),
                index: TokenIndex::default(),
                watch,
                refresh_locks: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The store's id (a UUID in `store_meta`); it names the keyring entry.
    pub fn store_id(&self) -> &str {
        &self.inner.store_id
    }

    /// The connection pool, for tests and maintenance.
    pub fn pool(&self) -> &SqlitePool {
        &self.inner.pool
    }

    pub(crate) fn sealer(&self) -> &Sealer {
        &self.inner.sealer
    }

    /// Copies what it can of the WAL into the database file without waiting for readers or
    /// writers (`PRAGMA wal_checkpoint(PASSIVE)`); failures are only logged.
    pub(crate) async fn checkpoint(&self) {
        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&self.inner.pool)
            .await
        {
            tracing::debug!("passive checkpoint failed: {error}");
        }
    }

    /// Copies the WAL into the database file and closes every connection. Every clone of this
    /// store is unusable afterwards. (SQLite would checkpoint when the last connection closes,
    /// but connections closing at once can each think another is still open.)
    pub async fn close(&self) {
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.inner.pool)
            .await;
        self.inner.pool.close().await;
        self.inner.watch.close();
    }

    /// Moves a corrupt or foreign store file (and its `-wal`/`-shm`) to
    /// `<name>.corrupt-<UTC time>` beside it and returns the new path of the main file. Only
    /// ever called on request: [`Store::open`] never moves or rewrites a file it cannot use.
    pub fn set_aside(path: &Path) -> Result<PathBuf> {
        let stamp = time::OffsetDateTime::now_utc()
            .format(time::macros::format_description!(
                "[year][month][day]T[hour][minute][second]Z"
            ))
            .map_err(|error| Error::StoreIo {
                message: format!("could not format the time: {error}"),
            })?;
        let name = path
            .file_name()
            .ok_or_else(|| Error::invalid_input("store path", "names no file"))?
            .to_string_lossy()
            .into_owned();
        let mut target = path.with_file_name(format!("{name}.corrupt-{stamp}"));
        let mut counter = 1;
        while target.exists() {
            counter += 1;
            target = path.with_file_name(format!("{name}.corrupt-{stamp}-{counter}"));
        }
        std::fs::rename(path, &target).map_err(|error| io_error(path, error))?;
        for suffix in ["-wal", "-shm"] {
            let companion = path.with_file_name(format!("{name}{suffix}"));
            if companion.exists() {
                let moved = target.with_file_name(format!(
                    "{}{suffix}",
                    target.file_name().unwrap_or_default().to_string_lossy()
                ));
                std::fs::rename(&companion, &moved).map_err(|error| io_error(&companion, error))?;
            }
        }
        Ok(target)
    }
}

/// `<db file name>.<suffix>` in the same directory.
pub(crate) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!("{name}.{suffix}"))
}

/// `<db file name><suffix>`, as SQLite names its `-wal` and `-shm` files.
fn sibling_raw(path: &Path, suffix: &str) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!("{name}{suffix}"))
}

fn prepare_directory(path: &Path) -> Result<()> {
    let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    else {
        return Ok(());
    };
    if parent.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(parent)
        .map_err(|error| io_error(parent, error))
}

/// Opens (creating 0600) a file for locking.
pub(crate) fn open_private(path: &Path) -> Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map_err(|error| io_error(path, error))
}

fn create_private_file(path: &Path) -> Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(io_error(path, error)),
    }
}

/// Takes an exclusive lock on `path`, waiting for it off the runtime.
async fn lock_exclusive(path: PathBuf) -> Result<File> {
    let file = open_private(&path)?;
    tokio::task::spawn_blocking(move || {
        file.lock().map_err(|error| io_error(&path, error))?;
        Ok(file)
    })
    .await
    .map_err(|error| Error::StoreIo {
        message: format!("the lock task failed: {error}"),
    })?
}

/// Checks an existing file before anything opens it for writing.
async fn inspect(path: &Path) -> Result<()> {
    let corrupt = |reason: String| Error::StoreCorrupt {
        path: path.to_owned(),
        reason,
    };
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(io_error(path, error)),
    };
    if !metadata.is_file() {
        return Err(corrupt("it is not a regular file".into()));
    }
    if metadata.len() == 0 {
        // SQLite treats an empty file as an empty database; so do we.
        return Ok(());
    }
    let mut header = Vec::with_capacity(100);
    File::open(path)
        .and_then(|file| file.take(100).read_to_end(&mut header))
        .map_err(|error| io_error(path, error))?;
    if !header.starts_with(SQLITE_HEADER) {
        return Err(corrupt("it is not an SQLite database".into()));
    }
    if header.len() < 100 {
        return Err(corrupt(format!(
            "it is truncated: {} bytes, shorter than the SQLite header",
            header.len()
        )));
    }
    let be32 = |at: usize| {
        u32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536,
        size => u64::from(size),
    };
    let (change_counter, page_count, valid_for) = (be32(24), be32(28), be32(92));
    // With a WAL beside it the file may lag its header (a checkpoint cut short); SQLite then
    // recovers from the WAL, and quick_check below reads through it.
    let wal_len = std::fs::metadata(sibling_raw(path, "-wal"))
        .map(|wal| wal.len())
        .unwrap_or(0);
    if change_counter == valid_for && page_count > 0 && wal_len == 0 {
        let expected = page_size * u64::from(page_count);
        if metadata.len() < expected {
            return Err(corrupt(format!(
                "it is truncated: {} bytes where its header says {expected}",
                metadata.len()
            )));
        }
    }
    let application_id = be32(68) as i32;
    if application_id != 0 && application_id != APPLICATION_ID {
        return Err(Error::StoreForeign {
            path: path.to_owned(),
            reason: format!("its application_id is {application_id:#010x}, not o365-auth's"),
        });
    }

    let options = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .create_if_missing(false);
    let mut connection = SqliteConnection::connect_with(&options)
        .await
        .map_err(|error| open_error(path, error))?;
    let result = check_contents(&mut connection, path, application_id).await;
    let _ = connection.close().await;
    result
}

async fn check_contents(
    connection: &mut SqliteConnection,
    path: &Path,
    application_id: i32,
) -> Result<()> {
    if application_id == 0 {
        // A plain SQLite file: adopt it only when it holds nothing of anyone else's.
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )
        .fetch_all(&mut *connection)
        .await
        .map_err(|error| open_error(path, error))?;
        for table in tables
            .iter()
            .filter(|table| !OUR_TABLES.contains(&table.as_str()))
        {
            let quoted = table.replace('"', "\"\"");
            let filled: bool =
                sqlx::query_scalar(&format!("SELECT EXISTS (SELECT 1 FROM \"{quoted}\")"))
                    .fetch_one(&mut *connection)
                    .await
                    .map_err(|error| open_error(path, error))?;
            if filled {
                return Err(Error::StoreForeign {
                    path: path.to_owned(),
                    reason: format!("it holds a table `{table}` with data that is not ours"),
                });
            }
        }
    }
    let rows = sqlx::query("PRAGMA quick_check")
        .fetch_all(&mut *connection)
        .await
        .map_err(|error| open_error(path, error))?;
    let findings: Vec<String> = rows
        .iter()
        .filter_map(|row| row.try_get::<String, _>(0).ok())
        .collect();
    if findings != ["ok"] {
        let mut reason = findings.into_iter().take(3).collect::<Vec<_>>().join("; ");
        if reason.is_empty() {
            reason = "SQLite's quick_check gave no answer".into();
        }
        return Err(Error::StoreCorrupt {
            path: path.to_owned(),
            reason: format!("SQLite's quick_check failed: {reason}"),
        });
    }
    Ok(())
}

/// SQLite's "not a database" and "malformed" results mean a damaged file; others are I/O.
fn open_error(path: &Path, error: sqlx::Error) -> Error {
    if let sqlx::Error::Database(database) = &error {
        let code = database.code().and_then(|code| i64::from_str(&code).ok());
        // SQLITE_CORRUPT = 11, SQLITE_NOTADB = 26 (and their extended codes).
        if code.is_some_and(|code| matches!(code & 0xff, 11 | 26)) {
            return Error::StoreCorrupt {
                path: path.to_owned(),
                reason: database.message().to_owned(),
            };
        }
    }
    Error::StoreIo {
        message: format!("{}: {error}", path.display()),
    }
}

async fn meta_get(pool: &SqlitePool, key: &str) -> Result<Option<String>> {
    sqlx::query_scalar("SELECT value FROM store_meta WHERE key = ?")
        .bind(key)
        .fetch_optional(pool)
        .await
        .map_err(sql_error)
}

/// Inserts `value` under `key` unless one is there; returns what is stored afterwards.
async fn meta_get_or_insert(pool: &SqlitePool, key: &str, value: &str) -> Result<Option<String>> {
    sqlx::query("INSERT OR IGNORE INTO store_meta (key, value) VALUES (?, ?)")
        .bind(key)
        .bind(value)
        .execute(pool)
        .await
        .map_err(sql_error)?;
    meta_get(pool, key).await
}

/// Gets the data key from `source` and checks it against the store's `key_check`.
async fn unlock(pool: &SqlitePool, store_id: &str, source: KeySource) -> Result<Sealer> {
    let recorded = meta_get(pool, "key_source").await?;
    if let Some(recorded) = &recorded
        && recorded != source.name()
    {
        return Err(Error::StoreKeyMismatch {
            reason: format!(
                "this store's key comes from its {recorded}, not from a {}; open it the way it was created",
                source.name()
            ),
        });
    }
    let check = meta_get(pool, "key_check").await?;
    let source_name = source.name();
    let key = match source {
        KeySource::Key(key) => key,
        KeySource::Keyring => {
            let slot = KeyringSlot::new(store_id);
            if check.is_some() {
                slot.load().await.map_err(Error::Key)?.ok_or_else(|| {
                    Error::StoreKeyMismatch {
                        reason: format!(
                            "the OS keyring has no key for this store (entry store-key:{store_id}): \
                             it was deleted, or this is another user's or machine's keyring. The \
                             sealed secrets cannot be read; move the store aside and sign in again"
                        ),
                    }
                })?
            } else {
                slot.load_or_create().await.map_err(Error::Key)?
            }
        }
        KeySource::Passphrase(passphrase) => {
            let salt_text = STANDARD.encode(new_salt());
            let salt_text = meta_get_or_insert(pool, "passphrase_salt", &salt_text)
                .await?
                .unwrap_or(salt_text);
            let salt = STANDARD
                .decode(&salt_text)
                .map_err(|_| Error::StoreCorrupt {
                    path: PathBuf::from("store_meta"),
                    reason: "the passphrase salt is not base64".into(),
                })?;
            tokio::task::spawn_blocking(move || derive_from_passphrase(&passphrase, &salt))
                .await
                .map_err(|error| Error::StoreIo {
                    message: format!("the key derivation task failed: {error}"),
                })?
                .map_err(Error::Key)?
        }
    };
    let sealer = Sealer::new(&key);
    match check {
        Some(encoded) => {
            let sealed = STANDARD.decode(&encoded).unwrap_or_default();
            match sealer.open(&sealed, KEY_CHECK_CONTEXT) {
                Ok(value) if value.expose() == KEY_CHECK_VALUE => {}
                _ => {
                    return Err(Error::StoreKeyMismatch {
                        reason: "the key does not open this store (a wrong passphrase or key, or \
                                 the keyring entry was replaced); nothing was changed"
                            .into(),
                    });
                }
            }
        }
        None => {
            let sealed = sealer.seal(&Secret::new(KEY_CHECK_VALUE), KEY_CHECK_CONTEXT);
            let mut transaction = pool.begin().await.map_err(sql_error)?;
            for (key, value) in [
                ("key_source", source_name.to_owned()),
                ("key_check", STANDARD.encode(&sealed)),
            ] {
                sqlx::query("INSERT OR REPLACE INTO store_meta (key, value) VALUES (?, ?)")
                    .bind(key)
                    .bind(value)
                    .execute(&mut *transaction)
                    .await
                    .map_err(sql_error)?;
            }
            transaction.commit().await.map_err(sql_error)?;
        }
    }
    Ok(sealer)
}
