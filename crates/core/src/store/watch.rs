//! The store's watch connection: one blocking SQLite connection (rusqlite), called on the
//! caller's thread, for the two things every `token.get` costs the store.
//!
//! - `PRAGMA data_version` before each index lookup (see `index`; reused for a millisecond,
//!   [`CHANGE_CHECK_REUSE`]): the number changes when any *other* connection commits, this
//!   process's pool included. In WAL mode it reads the wal-index header in shared memory, for
//!   2.7 µs here (two `fcntl` locks and a `stat`), where the same pragma through sqlx cost two
//!   hand-offs to and from sqlx's per-connection worker thread (BENCHMARKS.md).
//! - The audit trail's batches, committed on this same connection so that they do not move its
//!   data_version and empty the index.
//!
//! The lock is a plain `Mutex` held only for those statements. While an audit batch holds it,
//! lookups do not wait: they reuse the data_version read before the batch began
//! ([`CHANGE_CHECK_REUSE_WHILE_WRITING`]). So that a batch is short, the connection commits with `synchronous = NORMAL` (WAL: no fsync
//! at commit; an entry written survives the process, a power cut may lose the last ones),
//! never checkpoints by itself (the pool's connections do, and the audit writer asks the pool
//! for a passive checkpoint once a minute), and takes the write lock without waiting: while
//! another connection writes, the batch waits outside the lock and tries again.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior, params};

use super::audit::AuditEvent;
use crate::error::{Error, Result};

/// One audit row: `times` identical hand-outs, the last at `at`.
#[derive(Debug)]
pub(crate) struct AuditRow {
    pub(crate) at: i64,
    pub(crate) times: i64,
    pub(crate) event: AuditEvent,
}

pub(crate) struct Watch {
    /// `None` once the store is closed.
    connection: Mutex<Option<Connection>>,
    /// The last data_version read, and when; apart from the connection, so that it can be
    /// reused while an audit batch holds the connection.
    last_check: Mutex<Option<(Instant, i64)>>,
    busy_timeout: Duration,
}

/// A data_version this recent is reused: another process's commit reaches the index at most
/// this late. (This process's own writes empty the index themselves, at once.) Reading the
/// pragma costs two `fcntl` locks and a `stat` (2.7 µs here); under load one read now serves
/// every lookup of the same millisecond.
pub(crate) const CHANGE_CHECK_REUSE: Duration = Duration::from_millis(1);

/// While an audit batch holds the connection, a data_version this recent is reused rather
/// than waiting: a batch takes a millisecond or two, and waiting for it blocked every tokio
/// worker that looked up a token meanwhile (the IPC round trip's p99). A lookup then sees
/// another process's commit that much later, as if it had come a moment earlier.
pub(crate) const CHANGE_CHECK_REUSE_WHILE_WRITING: Duration = Duration::from_millis(100);

/// The accounts whose access tokens changed after a revision, and the newest revision.
#[derive(Debug)]
pub(crate) struct TokenChanges {
    pub(crate) accounts: Vec<String>,
    pub(crate) newest: i64,
}

/// What trying to write an audit batch gave.
pub(crate) enum AuditWrite {
    Written,
    /// Another connection holds the write lock; try again shortly.
    Busy,
}

fn watch_error(error: rusqlite::Error) -> Error {
    // rusqlite's messages carry SQLite's text, never bound values.
    Error::StoreIo {
        message: error.to_string(),
    }
}

fn closed() -> Error {
    Error::StoreIo {
        message: "the store was closed".into(),
    }
}

impl Watch {
    /// Opens the connection to an existing store file (the pool has already checked and
    /// migrated it).
    pub(crate) fn open(path: &Path, busy_timeout: Duration) -> Result<Watch> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(path, flags).map_err(watch_error)?;
        connection.busy_timeout(busy_timeout).map_err(watch_error)?;
        connection
            .execute_batch(
                "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; \
                 PRAGMA wal_autocheckpoint = 0;",
            )
            .map_err(watch_error)?;
        Ok(Watch {
            connection: Mutex::new(Some(connection)),
            last_check: Mutex::new(None),
            busy_timeout,
        })
    }

    fn connection(&self) -> MutexGuard<'_, Option<Connection>> {
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn last_check(&self) -> MutexGuard<'_, Option<(Instant, i64)>> {
        self.last_check
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How long the store waits for another connection's lock.
    pub(crate) fn busy_timeout(&self) -> Duration {
        self.busy_timeout
    }

    /// SQLite's `PRAGMA data_version` on this connection, read at most
    /// [`CHANGE_CHECK_REUSE`] ago, or [`CHANGE_CHECK_REUSE_WHILE_WRITING`] ago while an audit
    /// batch is being written.
    pub(crate) fn data_version(&self) -> Result<i64> {
        let now = Instant::now();
        let last = *self.last_check();
        let recent = |limit: Duration| {
            last.filter(|(at, _)| now.duration_since(*at) < limit)
                .map(|(_, version)| version)
        };
        if let Some(version) = recent(CHANGE_CHECK_REUSE) {
            return Ok(version);
        }
        let guard = match self.connection.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => {
                if let Some(version) = recent(CHANGE_CHECK_REUSE_WHILE_WRITING) {
                    return Ok(version);
                }
                self.connection()
            }
        };
        let connection = guard.as_ref().ok_or_else(closed)?;
        let mut statement = connection
            .prepare_cached("PRAGMA data_version")
            .map_err(watch_error)?;
        let version = statement
            .query_row([], |row| row.get(0))
            .map_err(watch_error)?;
        drop(statement);
        drop(guard);
        *self.last_check() = Some((now, version));
        Ok(version)
    }

    /// What changed in the `tokens` table after `revision` (the `token_changes` table the
    /// triggers keep), or with none yet only the newest revision. Called when data_version has
    /// moved, so at most once per [`CHANGE_CHECK_REUSE`].
    pub(crate) fn token_changes_since(&self, revision: Option<i64>) -> Result<TokenChanges> {
        let guard = self.connection();
        let connection = guard.as_ref().ok_or_else(closed)?;
        let Some(since) = revision else {
            let newest = connection
                .prepare_cached("SELECT coalesce(max(revision), 0) FROM token_changes")
                .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
                .map_err(watch_error)?;
            return Ok(TokenChanges {
                accounts: Vec::new(),
                newest,
            });
        };
        let mut statement = connection
            .prepare_cached("SELECT account_id, revision FROM token_changes WHERE revision > ?")
            .map_err(watch_error)?;
        let mut changes = TokenChanges {
            accounts: Vec::new(),
            newest: since,
        };
        let rows = statement
            .query_map([since], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })
            .map_err(watch_error)?;
        for row in rows {
            let (account, revision) = row.map_err(watch_error)?;
            changes.newest = changes.newest.max(revision);
            changes.accounts.push(account);
        }
        Ok(changes)
    }

    /// Appends `rows` and moves each account's `last_used_at` forward, in one transaction;
    /// [`AuditWrite::Busy`] (nothing written) while another connection is writing.
    pub(crate) fn write_audit(&self, rows: &[AuditRow]) -> Result<AuditWrite> {
        let mut guard = self.connection();
        let connection = guard.as_mut().ok_or_else(closed)?;
        connection
            .busy_timeout(Duration::ZERO)
            .map_err(watch_error)?;
        let written = write_rows(connection, rows);
        connection
            .busy_timeout(self.busy_timeout)
            .map_err(watch_error)?;
        written
    }

    /// Closes the connection; every later call fails with "the store was closed".
    pub(crate) fn close(&self) {
        let mut guard = self.connection();
        *self.last_check() = None;
        if let Some(connection) = guard.take() {
            let _ = connection.close();
        }
    }
}

fn write_rows(connection: &mut Connection, rows: &[AuditRow]) -> Result<AuditWrite> {
    let transaction = match connection.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(transaction) => transaction,
        Err(error) if error.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) => {
            return Ok(AuditWrite::Busy);
        }
        Err(error) => return Err(watch_error(error)),
    };
    {
        let mut insert = transaction
            .prepare_cached(
                "INSERT INTO audit_log (at, times, account_id, username, scopes, channel, \
                     peer_pid, peer_uid, peer_exe) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .map_err(watch_error)?;
        let mut touch = transaction
            .prepare_cached(
                "UPDATE accounts SET last_used_at = max(coalesce(last_used_at, 0), ?) \
                     WHERE id = ?",
            )
            .map_err(watch_error)?;
        for row in rows {
            let event = &row.event;
            insert
                .execute(params![
                    row.at,
                    row.times,
                    event.account_id,
                    event.username,
                    event.scopes,
                    event.channel.as_str(),
                    event.peer.pid,
                    event.peer.uid.map(i64::from),
                    event.peer.exe,
                ])
                .map_err(watch_error)?;
            if event.account_id.is_some() {
                touch
                    .execute(params![row.at, event.account_id])
                    .map_err(watch_error)?;
            }
        }
    }
    transaction.commit().map_err(watch_error)?;
    Ok(AuditWrite::Written)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::mpsc;

    use super::*;

    fn database() -> (tempfile::TempDir, Arc<Watch>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let setup = Connection::open(&path).unwrap();
        setup
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER);")
            .unwrap();
        drop(setup);
        let watch = Watch::open(&path, Duration::from_secs(5)).unwrap();
        (dir, Arc::new(watch))
    }

    /// Runs `data_version` on another thread; `None` if it did not answer within 2 s.
    fn data_version_elsewhere(watch: &Arc<Watch>) -> Option<Result<i64>> {
        let (sent, answer) = mpsc::channel();
        let watch = Arc::clone(watch);
        std::thread::spawn(move || {
            let _ = sent.send(watch.data_version());
        });
        answer.recv_timeout(Duration::from_secs(2)).ok()
    }

    #[test]
    fn a_lookup_does_not_wait_for_an_audit_batch_holding_the_connection() {
        let (_dir, watch) = database();
        let before = watch.data_version().unwrap();
        std::thread::sleep(CHANGE_CHECK_REUSE * 2);
        let held = watch.connection();
        let during = data_version_elsewhere(&watch);
        drop(held);
        assert_eq!(
            during.map(|answer| answer.ok()),
            Some(Some(before)),
            "answered from the reading before the batch, without waiting for it"
        );
    }

    #[test]
    fn an_old_reading_is_not_reused_even_while_the_connection_is_held() {
        let (_dir, watch) = database();
        watch.data_version().unwrap();
        *watch.last_check() = Some((
            Instant::now() - CHANGE_CHECK_REUSE_WHILE_WRITING * 2,
            i64::MIN,
        ));
        let held = watch.connection();
        let (sent, answer) = mpsc::channel();
        let elsewhere = Arc::clone(&watch);
        std::thread::spawn(move || {
            let _ = sent.send(elsewhere.data_version());
        });
        assert!(
            answer.recv_timeout(Duration::from_millis(200)).is_err(),
            "waits for the connection"
        );
        drop(held);
        let version = answer
            .recv_timeout(Duration::from_secs(2))
            .unwrap()
            .unwrap();
        assert_ne!(version, i64::MIN, "read afresh");
    }

    #[test]
    fn another_connections_commit_moves_the_version_and_close_stops_every_call() {
        let (dir, watch) = database();
        let before = watch.data_version().unwrap();
        let other = Connection::open(dir.path().join("store.db")).unwrap();
        other.execute("INSERT INTO t VALUES (1)", []).unwrap();
        std::thread::sleep(CHANGE_CHECK_REUSE * 2);
        assert_ne!(watch.data_version().unwrap(), before);
        watch.close();
        assert!(watch.data_version().is_err());
    }
}
