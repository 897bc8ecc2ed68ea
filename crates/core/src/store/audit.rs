//! The audit log: one row per token handed out (time, account, scopes, channel, and for IPC
//! the peer's pid, uid and executable). Rows stay when the account goes.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::db::Store;
use super::sql::sql_error;
use super::watch::{AuditRow, AuditWrite};
use crate::error::{Error, Result};
use crate::token::now_unix;

/// How a token left the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Ipc,
    Cli,
    Http,
    Tray,
    App,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Ipc => "ipc",
            Channel::Cli => "cli",
            Channel::Http => "http",
            Channel::Tray => "tray",
            Channel::App => "app",
        }
    }

    fn parse(text: &str) -> Result<Self> {
        Ok(match text {
            "ipc" => Channel::Ipc,
            "cli" => Channel::Cli,
            "http" => Channel::Http,
            "tray" => Channel::Tray,
            "app" => Channel::App,
            other => {
                return Err(Error::StoreIo {
                    message: format!("unknown audit channel `{other}` in the store"),
                });
            }
        })
    }
}

/// The process on the other end of an IPC connection (from `SO_PEERCRED`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct AuditPeer {
    pub pid: Option<i32>,
    pub uid: Option<u32>,
    pub exe: Option<String>,
}

/// One token handed out.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AuditEvent {
    pub account_id: Option<String>,
    pub username: String,
    /// The scopes as granted, space-separated.
    pub scopes: String,
    pub channel: Channel,
    pub peer: AuditPeer,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: i64,
    /// When the last of `times` identical hand-outs happened.
    pub at: i64,
    pub times: i64,
    pub event: AuditEvent,
}

/// The audit log of a store: `store.audit()`.
#[derive(Debug, Clone, Copy)]
pub struct Audit<'a> {
    store: &'a Store,
}

impl Store {
    pub fn audit(&self) -> Audit<'_> {
        Audit { store: self }
    }
}

impl<'a> Audit<'a> {
    /// Appends an entry stamped now; returns its id.
    pub async fn record(&self, event: &AuditEvent) -> Result<i64> {
        let done = sqlx::query(
            "INSERT INTO audit_log (at, account_id, username, scopes, channel, peer_pid, \
             peer_uid, peer_exe) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(now_unix())
        .bind(&event.account_id)
        .bind(&event.username)
        .bind(&event.scopes)
        .bind(event.channel.as_str())
        .bind(event.peer.pid)
        .bind(event.peer.uid.map(i64::from))
        .bind(&event.peer.exe)
        .execute(&self.store.inner.pool)
        .await
        .map_err(sql_error)?;
        Ok(done.last_insert_rowid())
    }

    /// Appends entries stamped with their own times, as [`Audit::record_batch`] does.
    pub async fn record_all(&self, events: &[(i64, AuditEvent)]) -> Result<()> {
        let mut batch = AuditBatch::default();
        for (at, event) in events {
            batch.add(*at, event.clone());
        }
        self.record_batch(batch).await
    }

    /// Writes a batch in one transaction that also moves each account's `last_used_at`
    /// forward (keep-alive and `accounts.list` read it). The token service gathers entries
    /// into a batch as they come, so handing out a token never waits for the disk.
    pub async fn record_batch(&self, batch: AuditBatch) -> Result<()> {
        let rows = batch.rows;
        if rows.is_empty() {
            return Ok(());
        }
        let rows = Arc::new(rows);
        let waited = std::time::Instant::now();
        loop {
            let store = self.store.clone();
            let batch = Arc::clone(&rows);
            let written =
                tokio::task::spawn_blocking(move || store.inner.watch.write_audit(&batch))
                    .await
                    .map_err(|error| Error::StoreIo {
                        message: format!("the audit writer failed: {error}"),
                    })??;
            match written {
                AuditWrite::Written => return Ok(()),
                AuditWrite::Busy if waited.elapsed() < self.store.inner.watch.busy_timeout() => {
                    tokio::time::sleep(AUDIT_BUSY_RETRY).await;
                }
                AuditWrite::Busy => {
                    return Err(Error::StoreIo {
                        message: "the store stayed locked by another writer; audit entries \
                                  were not written"
                            .into(),
                    });
                }
            }
        }
    }

    /// The newest `limit` entries, newest first.
    pub async fn recent(&self, limit: u32) -> Result<Vec<AuditRecord>> {
        let rows = sqlx::query(
            "SELECT id, at, times, account_id, username, scopes, channel, peer_pid, peer_uid, \
             peer_exe FROM audit_log ORDER BY id DESC LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.store.inner.pool)
        .await
        .map_err(sql_error)?;
        rows.iter().map(read_row).collect()
    }
}

fn read_row(row: &SqliteRow) -> Result<AuditRecord> {
    let uid: Option<i64> = row.try_get("peer_uid").map_err(sql_error)?;
    let channel: String = row.try_get("channel").map_err(sql_error)?;
    Ok(AuditRecord {
        id: row.try_get("id").map_err(sql_error)?,
        at: row.try_get("at").map_err(sql_error)?,
        times: row.try_get("times").map_err(sql_error)?,
        event: AuditEvent {
            account_id: row.try_get("account_id").map_err(sql_error)?,
            username: row.try_get("username").map_err(sql_error)?,
            scopes: row.try_get("scopes").map_err(sql_error)?,
            channel: Channel::parse(&channel)?,
            peer: AuditPeer {
                pid: row.try_get("peer_pid").map_err(sql_error)?,
                uid: uid.and_then(|uid| u32::try_from(uid).ok()),
                exe: row.try_get("peer_exe").map_err(sql_error)?,
            },
        },
    })
}

/// How long an audit batch waits before trying again while another connection writes.
const AUDIT_BUSY_RETRY: Duration = Duration::from_millis(20);

/// Audit entries gathered for one transaction. Identical entries (same account, scopes,
/// channel and peer) are one row counting them, stamped with the last one's time: a script
/// asking a thousand times a second leaves a handful of rows, not a thousand.
#[derive(Debug, Default)]
pub struct AuditBatch {
    /// In the order each distinct entry first came.
    rows: Vec<AuditRow>,
    positions: HashMap<AuditEvent, usize>,
}

impl AuditBatch {
    pub fn add(&mut self, at: i64, event: AuditEvent) {
        // Runs from one busy program are the common case: no hashing for those.
        if let Some(row) = self.rows.last_mut()
            && row.event == event
        {
            row.times += 1;
            row.at = row.at.max(at);
            return;
        }
        match self.positions.get(&event) {
            Some(&position) => {
                let row = &mut self.rows[position];
                row.times += 1;
                row.at = row.at.max(at);
            }
            None => {
                self.positions.insert(event.clone(), self.rows.len());
                self.rows.push(AuditRow {
                    at,
                    times: 1,
                    event,
                });
            }
        }
    }

    /// How many rows the batch will write.
    pub fn rows(&self) -> usize {
        self.rows.len()
    }
}
