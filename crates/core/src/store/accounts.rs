//! Accounts: who signed in through which app, their state, and the sealed refresh and ID
//! tokens (`accounts:<id>:refresh_token`, `accounts:<id>:id_token`). Tokens are written with
//! the account in one transaction by [`super::tokens::Tokens::save`].

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::db::Store;
use super::sql::{context, sql_error, unique_or_sql};
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::token::AccountIdentity;

/// Where an account stands, as the UI shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    /// Its tokens refresh.
    Fresh,
    /// Microsoft no longer accepts its refresh token: sign in again.
    NeedsSignIn,
    /// An interactive step (MFA, conditional access) is needed.
    InteractionRequired,
    /// The last refresh failed for another reason; `last_error_code` says which.
    Error,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Fresh => "fresh",
            AccountStatus::NeedsSignIn => "needs_sign_in",
            AccountStatus::InteractionRequired => "interaction_required",
            AccountStatus::Error => "error",
        }
    }

    pub fn parse(text: &str) -> Result<Self> {
        Ok(match text {
            "fresh" => AccountStatus::Fresh,
            "needs_sign_in" => AccountStatus::NeedsSignIn,
            "interaction_required" => AccountStatus::InteractionRequired,
            "error" => AccountStatus::Error,
            other => {
                return Err(Error::StoreIo {
                    message: format!("unknown account status `{other}` in the store"),
                });
            }
        })
    }
}

/// How an account came into the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountSource {
    SignIn,
    /// From a python-o365 or MSAL token file (the import arrives later).
    Import,
}

impl AccountSource {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountSource::SignIn => "sign_in",
            AccountSource::Import => "import",
        }
    }

    fn parse(text: &str) -> Self {
        if text == "import" {
            AccountSource::Import
        } else {
            AccountSource::SignIn
        }
    }
}

/// A stored account, without its secrets.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountRecord {
    pub id: String,
    pub app_id: String,
    pub identity: AccountIdentity,
    pub alias: Option<String>,
    pub status: AccountStatus,
    pub last_refresh_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub last_error_code: Option<String>,
    pub has_refresh_token: bool,
    pub source: AccountSource,
    pub created_at: i64,
}

/// The accounts of a store: `store.accounts()`.
#[derive(Debug, Clone, Copy)]
pub struct Accounts<'a> {
    store: &'a Store,
}

pub(crate) const COLUMNS: &str = "id, app_id, home_account_id, username, display_name, alias, \
    tenant_id, local_account_id, status, last_refresh_at, last_used_at, last_error_code, \
    refresh_token IS NOT NULL AS has_refresh_token, source, created_at";

/// Usernames are matched ignoring case (Unicode lower case, as stored in `username_folded`).
pub(crate) fn fold(name: &str) -> String {
    name.to_lowercase()
}

impl Store {
    pub fn accounts(&self) -> Accounts<'_> {
        Accounts { store: self }
    }
}

impl<'a> Accounts<'a> {
    /// The accounts of one app (or of every app), in the order they were first saved.
    pub async fn list(&self, app_id: Option<&str>) -> Result<Vec<AccountRecord>> {
        let rows = match app_id {
            Some(app_id) => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM accounts WHERE app_id = ? ORDER BY rowid"
                ))
                .bind(app_id)
                .fetch_all(&self.store.inner.pool)
                .await
            }
            None => {
                sqlx::query(&format!("SELECT {COLUMNS} FROM accounts ORDER BY rowid"))
                    .fetch_all(&self.store.inner.pool)
                    .await
            }
        }
        .map_err(sql_error)?;
        rows.iter().map(read_row).collect()
    }

    pub async fn get(&self, id: &str) -> Result<Option<AccountRecord>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM accounts WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.store.inner.pool)
            .await
            .map_err(sql_error)?;
        row.as_ref().map(read_row).transpose()
    }

    /// The account of `app_id` named `name`: its username (any case), home account id or alias.
    pub async fn find(&self, app_id: &str, name: &str) -> Result<Option<AccountRecord>> {
        // A home account id match first, else the first saved of the username and alias
        // matches. Three indexed lookups: written as one `OR`, SQLite scanned every account
        // of the app (20 ms at 10,000 accounts, on every refresh).
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM accounts WHERE rowid = (SELECT row FROM ( \
                 SELECT rowid AS row, 0 AS rank FROM accounts \
                     WHERE app_id = ?1 AND home_account_id = ?2 \
                 UNION ALL SELECT rowid, 1 FROM accounts \
                     WHERE app_id = ?1 AND username_folded = ?3 \
                 UNION ALL SELECT rowid, 1 FROM accounts WHERE alias = ?2 AND app_id = ?1 \
             ) ORDER BY rank, row LIMIT 1)"
        ))
        .bind(app_id)
        .bind(name)
        .bind(fold(name))
        .fetch_optional(&self.store.inner.pool)
        .await
        .map_err(sql_error)?;
        row.as_ref().map(read_row).transpose()
    }

    /// Names an account with a short alias (unique in the store); `None` removes it.
    pub async fn set_alias(&self, id: &str, alias: Option<&str>) -> Result<bool> {
        let done = sqlx::query("UPDATE accounts SET alias = ? WHERE id = ?")
            .bind(alias)
            .bind(id)
            .execute(&self.store.inner.pool)
            .await
            .map_err(|error| unique_or_sql(error, "alias", "another account has this alias"))?;
        Ok(done.rows_affected() > 0)
    }

    /// Records the outcome of a refresh that did not produce tokens (a success is recorded by
    /// [`super::tokens::Tokens::save`] with the tokens).
    pub async fn set_status(
        &self,
        id: &str,
        status: AccountStatus,
        error_code: Option<&str>,
    ) -> Result<bool> {
        let done = sqlx::query("UPDATE accounts SET status = ?, last_error_code = ? WHERE id = ?")
            .bind(status.as_str())
            .bind(error_code)
            .bind(id)
            .execute(&self.store.inner.pool)
            .await
            .map_err(sql_error)?;
        Ok(done.rows_affected() > 0)
    }

    /// The account's refresh token, opened.
    pub async fn refresh_token(&self, id: &str) -> Result<Option<Secret>> {
        let sealed: Option<Option<Vec<u8>>> =
            sqlx::query_scalar("SELECT refresh_token FROM accounts WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.store.inner.pool)
                .await
                .map_err(sql_error)?;
        sealed
            .flatten()
            .map(|sealed| {
                self.store
                    .sealer()
                    .open(&sealed, &context("accounts", id, "refresh_token"))
                    .map_err(Error::Sealed)
            })
            .transpose()
    }

    /// Forgets the account and its tokens. `false` when no account has this id.
    pub async fn remove(&self, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM accounts WHERE id = ?")
            .bind(id)
            .execute(&self.store.inner.pool)
            .await
            .map_err(sql_error)?;
        self.store.inner.index.forget(id);
        Ok(done.rows_affected() > 0)
    }

    /// Forgets every account of an app (the registration stays).
    pub async fn remove_all(&self, app_id: &str) -> Result<u64> {
        let done = sqlx::query("DELETE FROM accounts WHERE app_id = ?")
            .bind(app_id)
            .execute(&self.store.inner.pool)
            .await
            .map_err(sql_error)?;
        self.store.inner.index.clear();
        Ok(done.rows_affected())
    }
}

pub(crate) fn read_row(row: &SqliteRow) -> Result<AccountRecord> {
    let get_text = |name: &str| row.try_get::<String, _>(name).map_err(sql_error);
    let get_option = |name: &str| row.try_get::<Option<String>, _>(name).map_err(sql_error);
    Ok(AccountRecord {
        id: get_text("id")?,
        app_id: get_text("app_id")?,
        identity: AccountIdentity {
            home_account_id: get_text("home_account_id")?,
            username: get_text("username")?,
            display_name: get_option("display_name")?,
            tenant_id: get_text("tenant_id")?,
            local_account_id: get_option("local_account_id")?,
        },
        alias: get_option("alias")?,
        status: AccountStatus::parse(&get_text("status")?)?,
        last_refresh_at: row.try_get("last_refresh_at").map_err(sql_error)?,
        last_used_at: row.try_get("last_used_at").map_err(sql_error)?,
        last_error_code: get_option("last_error_code")?,
        has_refresh_token: row.try_get("has_refresh_token").map_err(sql_error)?,
        source: AccountSource::parse(&get_text("source")?),
        created_at: row.try_get("created_at").map_err(sql_error)?,
    })
}
