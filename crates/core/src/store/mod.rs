//! The token store: one SQLite database (through sqlx, plus one rusqlite connection) holding app registrations, accounts,
//! tokens, pending sign-ins and the audit log, with every secret sealed under a data key kept
//! in the OS keyring (or derived from a passphrase the user chose).
//!
//! Modules, one job each:
//! - [`seal`]: XChaCha20-Poly1305 with `<table>:<row id>:<column>` as associated data.
//! - [`key`]: the data key, its keyring entry, the Argon2id passphrase option.
//! - `db`: [`Store::open`] (checks a file before touching it, pragmas, migrations, unlocking),
//!   [`Store::set_aside`] for a corrupt or foreign file.
//! - `owner`: [`Store::try_become_owner`], which process owns refreshing.
//! - [`apps`], [`accounts`], [`tokens`], [`pending`], [`audit`]: one repository per table,
//!   reached as `store.apps()`, `store.accounts()`, ...
//! - `index`: [`Store::valid_access_token`], the in-memory index of sealed access tokens.
//! - `watch`: the blocking connection behind the index's change check and the audit batches.
//! - `backend`: [`StoreBackend`], the store as a [`crate::backend::TokenBackend`].
//! - [`transfer`]: [`import_token_file`] and [`export_token_file`], python-o365 / MSAL token
//!   files in and out (whole accounts through [`crate::backend::FileBackend`]; an import is one
//!   transaction, an export one atomic merge into the file).
//!
//! Invariants: secrets are sealed before they reach SQL (nothing secret in the file, its WAL
//! or its shared memory); a refresh writes the rotated refresh token, the access token and the
//! account status in one transaction ([`tokens::Tokens::save`]); a file that is not our store
//! is reported and never modified or replaced.
//!
//! Import creates accounts with [`accounts::AccountSource::Import`] and registrations with
//! [`apps::AppSource::Import`] (an existing registration of the same client id and authority
//! host is reused), with the same row writers as [`tokens::Tokens::save`]. The crash test
//! (`tests/store_crash.rs`) kills a process inside `Tokens::save`; `examples/bench_store.rs`
//! times `Store::open`, `valid_access_token` and `Tokens::save` (results in BENCHMARKS.md).

pub mod accounts;
pub mod apps;
pub mod audit;
mod backend;
mod db;
mod holder;
mod index;
pub mod key;
mod owner;
pub mod pending;
pub mod seal;
pub mod settings;
mod sql;
pub mod tokens;
pub mod transfer;
mod watch;

pub use backend::{LEASE_TTL_SECS, LEASE_WAIT, StoreBackend};
pub use db::{APPLICATION_ID, KeySource, Store, StoreOptions, default_path};
pub use index::CachedToken;
pub use owner::{Owner, Ownership};
pub use transfer::{
    ExportReport, ExportSelection, ImportReport, export_token_file, import_token_file,
};
