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
//! The lock is a plain `Mutex` held only for those statements. So that an audit batch never
//! stalls a lookup for long, the connection commits with `synchronous = NORMAL` (WAL: no fsync
//! at commit; an entry written survives the process, a power cut may lose the last ones),
//! never checkpoints by itself (the pool's connections do, and the audit writer asks the pool
//! for a passive checkpoint once a minute), and takes the write lock without waiting: while
//! another connection writes, the batch waits outside the lock and tries again.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
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
    guarded: Mutex<Guarded>,
    busy_timeout: Duration,
}

struct Guarded {
    /// `None` once the store is closed.
    connection: Option<Connection>,
    /// The last data_version read, and when.
    last_check: Option<(Instant, i64)>,
}

/// A data_version this recent is reused: another process's commit reaches the index at most
/// this late. (This process's own writes empty the index themselves, at once.) Reading the
/// pragma costs two `fcntl` locks and a `stat` (2.7 µs here); under load one read now serves
/// every lookup of the same millisecond.
pub(crate) const CHANGE_CHECK_REUSE: Duration = Duration::from_millis(1);

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
            guarded: Mutex::new(Guarded {
                connection: Some(connection),
                last_check: None,
            }),
            busy_timeout,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Guarded> {
        self.guarded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How long the store waits for another connection's lock.
    pub(crate) fn busy_timeout(&self) -> Duration {
        self.busy_timeout
    }

    /// SQLite's `PRAGMA data_version` on this connection, read at most
    /// [`CHANGE_CHECK_REUSE`] ago.
    pub(crate) fn data_version(&self) -> Result<i64> {
        let mut guard = self.lock();
        let now = Instant::now();
        if let Some((at, version)) = guard.last_check
            && now.duration_since(at) < CHANGE_CHECK_REUSE
        {
            return Ok(version);
        }
        let connection = guard.connection.as_ref().ok_or_else(closed)?;
        let mut statement = connection
            .prepare_cached("PRAGMA data_version")
            .map_err(watch_error)?;
        let version = statement
            .query_row([], |row| row.get(0))
            .map_err(watch_error)?;
        drop(statement);
        guard.last_check = Some((now, version));
        Ok(version)
    }

    /// Appends `rows` and moves each account's `last_used_at` forward, in one transaction;
    /// [`AuditWrite::Busy`] (nothing written) while another connection is writing.
    pub(crate) fn write_audit(&self, rows: &[AuditRow]) -> Result<AuditWrite> {
        let mut guard = self.lock();
        let connection = guard.connection.as_mut().ok_or_else(closed)?;
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
        let mut guard = self.lock();
        guard.last_check = None;
        if let Some(connection) = guard.connection.take() {
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
