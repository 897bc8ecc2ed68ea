//! Small helpers shared by the store's modules: error mapping and sealing contexts.

use std::path::Path;

use crate::error::Error;

/// A database failure (locked past the busy timeout, disk full, I/O). sqlx's messages never
/// carry bound values, so no secret reaches the error text.
pub(crate) fn sql_error(error: sqlx::Error) -> Error {
    Error::StoreIo {
        message: error.to_string(),
    }
}

pub(crate) fn io_error(path: &Path, error: std::io::Error) -> Error {
    Error::StoreIo {
        message: format!("{}: {error}", path.display()),
    }
}

/// A unique constraint hit is the caller's input clashing with a stored row.
pub(crate) fn unique_or_sql(error: sqlx::Error, what: &'static str, reason: &str) -> Error {
    match &error {
        sqlx::Error::Database(database) if database.is_unique_violation() => {
            Error::invalid_input(what, reason.to_owned())
        }
        _ => sql_error(error),
    }
}

/// The associated data a secret column is sealed with: `<table>:<row id>:<column>`.
pub(crate) fn context(table: &str, row: &str, column: &str) -> String {
    format!("{table}:{row}:{column}")
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
