//! Pending sign-ins: an authorization-code sign-in between opening the browser and the
//! redirect coming back, possibly in another process. The PKCE verifier is sealed
//! (`pending_sign_ins:<state>:pkce_verifier`); the rest of the flow is plain JSON (the flows'
//! `PendingFlow` without its verifier). [`Pending::take`] deletes and returns a row in one
//! statement, so a replayed `state` finds nothing.

use serde_json::Value;
use sqlx::Row;

use super::db::Store;
use super::sql::{context, sql_error, unique_or_sql};
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::token::now_unix;

#[derive(Debug, Clone, PartialEq)]
pub struct PendingSignIn {
    /// The OAuth `state`, unique per sign-in.
    pub state: String,
    pub app_id: String,
    /// The flow's other settings (redirect URI, scopes, nonce...), nothing secret.
    pub flow: Value,
    pub pkce_verifier: Secret,
    pub created_at: i64,
    pub expires_at: i64,
}

/// The pending sign-ins of a store: `store.pending()`.
#[derive(Debug, Clone, Copy)]
pub struct Pending<'a> {
    store: &'a Store,
}

impl Store {
    pub fn pending(&self) -> Pending<'_> {
        Pending { store: self }
    }
}

fn verifier_context(state: &str) -> String {
    context("pending_sign_ins", state, "pkce_verifier")
}

impl<'a> Pending<'a> {
    pub async fn put(&self, pending: &PendingSignIn) -> Result<()> {
        let sealed = self
            .store
            .sealer()
            .seal(&pending.pkce_verifier, &verifier_context(&pending.state));
        sqlx::query(
            "INSERT INTO pending_sign_ins (state, app_id, flow, pkce_verifier, expires_at, created_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&pending.state)
        .bind(&pending.app_id)
        .bind(pending.flow.to_string())
        .bind(sealed)
        .bind(pending.expires_at)
        .bind(pending.created_at)
        .execute(&self.store.inner.pool)
        .await
        .map_err(|error| unique_or_sql(error, "state", "a sign-in with this state is pending"))?;
        Ok(())
    }

    /// Removes the sign-in started with `state` and returns it, unless it has expired (an
    /// expired one is removed too). Single use: a second call with the same state gets `None`.
    pub async fn take(&self, state: &str) -> Result<Option<PendingSignIn>> {
        let row = sqlx::query(
            "DELETE FROM pending_sign_ins WHERE state = ? \
             RETURNING app_id, flow, pkce_verifier, expires_at, created_at",
        )
        .bind(state)
        .fetch_optional(&self.store.inner.pool)
        .await
        .map_err(sql_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let expires_at: i64 = row.try_get("expires_at").map_err(sql_error)?;
        if now_unix() >= expires_at {
            return Ok(None);
        }
        let sealed: Vec<u8> = row.try_get("pkce_verifier").map_err(sql_error)?;
        let pkce_verifier = self
            .store
            .sealer()
            .open(&sealed, &verifier_context(state))
            .map_err(Error::Sealed)?;
        let flow: String = row.try_get("flow").map_err(sql_error)?;
        Ok(Some(PendingSignIn {
            state: state.to_owned(),
            app_id: row.try_get("app_id").map_err(sql_error)?,
            flow: serde_json::from_str(&flow).unwrap_or(Value::Null),
            pkce_verifier,
            created_at: row.try_get("created_at").map_err(sql_error)?,
            expires_at,
        }))
    }

    /// Deletes every expired sign-in; returns how many.
    pub async fn purge_expired(&self) -> Result<u64> {
        let done = sqlx::query("DELETE FROM pending_sign_ins WHERE expires_at <= ?")
            .bind(now_unix())
            .execute(&self.store.inner.pool)
            .await
            .map_err(sql_error)?;
        Ok(done.rows_affected())
    }

    /// How many sign-ins are pending (expired ones included until purged).
    pub async fn count(&self) -> Result<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM pending_sign_ins")
            .fetch_one(&self.store.inner.pool)
            .await
            .map_err(sql_error)
    }
}
