//! The token store. Today: how secrets are sealed at rest and where the sealing key lives;
//! the SQLite schema arrives with the store issue.

pub mod key;
pub mod seal;
