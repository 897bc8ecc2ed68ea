//! Tokens: one access token per (account, scope set), sealed as
//! `tokens:<account id>:<scope key>:access_token`; the refresh and ID tokens live on the
//! account row. [`Tokens::save`] writes the account (identity, rotated refresh token, status)
//! and the access token in ONE `BEGIN IMMEDIATE` transaction: a crash leaves the old state or
//! the new one, never a new access token beside a lost refresh token.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::accounts::{AccountSource, fold};
use super::db::Store;
use super::sql::{context, new_id, sql_error};
use crate::backend::best_token;
use crate::error::{Error, Result};
use crate::scopes::Scopes;
use crate::secret::Secret;
use crate::token::{AccountIdentity, ClientInfo, IdTokenClaims, TokenSet, now_unix};

/// The tokens of a store: `store.tokens()`.
#[derive(Debug, Clone, Copy)]
pub struct Tokens<'a> {
    store: &'a Store,
}

impl Store {
    pub fn tokens(&self) -> Tokens<'_> {
        Tokens { store: self }
    }
}

pub(crate) fn access_context(account_id: &str, scope_key: &str) -> String {
    context(
        "tokens",
        &format!("{account_id}:{scope_key}"),
        "access_token",
    )
}

impl<'a> Tokens<'a> {
    /// Upserts the account named by `identity.home_account_id` under `app_id` and its access
    /// token for `tokens.scopes`, in one transaction. The refresh token and ID token are
    /// replaced only when the answer carries them; the account's status becomes `fresh`, its
    /// error code is cleared, `last_refresh_at` is the answer's time. Returns the account id.
    pub async fn save(
        &self,
        app_id: &str,
        identity: &AccountIdentity,
        tokens: &TokenSet,
        source: AccountSource,
    ) -> Result<String> {
        let sealer = self.store.sealer();
        let pool = &self.store.inner.pool;
        let now = now_unix();
        let mut transaction = pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(sql_error)?;
        let existing: Option<String> =
            sqlx::query_scalar("SELECT id FROM accounts WHERE app_id = ? AND home_account_id = ?")
                .bind(app_id)
                .bind(&identity.home_account_id)
                .fetch_optional(&mut *transaction)
                .await
                .map_err(sql_error)?;
        let account_id = existing.clone().unwrap_or_else(new_id);
        let refresh = tokens
            .refresh_token
            .as_ref()
            .map(|secret| sealer.seal(secret, &context("accounts", &account_id, "refresh_token")));
        let id_token = tokens
            .id_token
            .as_ref()
            .map(|secret| sealer.seal(secret, &context("accounts", &account_id, "id_token")));
        let claims = tokens
            .id_token_claims
            .as_ref()
            .and_then(|claims| serde_json::to_string(claims).ok());
        let client_info = tokens
            .client_info
            .as_ref()
            .and_then(|info| serde_json::to_string(info).ok());
        if existing.is_some() {
            sqlx::query(
                "UPDATE accounts SET username = ?, username_folded = ?, display_name = ?, \
                 tenant_id = ?, local_account_id = ?, status = 'fresh', last_error_code = NULL, \
                 last_refresh_at = ?, \
                 refresh_token = COALESCE(?, refresh_token), \
                 id_token = COALESCE(?, id_token), \
                 id_token_claims = COALESCE(?, id_token_claims), \
                 client_info = COALESCE(?, client_info) \
                 WHERE id = ?",
            )
            .bind(&identity.username)
            .bind(fold(&identity.username))
            .bind(&identity.display_name)
            .bind(&identity.tenant_id)
            .bind(&identity.local_account_id)
            .bind(tokens.obtained_at)
            .bind(refresh)
            .bind(id_token)
            .bind(claims)
            .bind(client_info)
            .bind(&account_id)
            .execute(&mut *transaction)
            .await
            .map_err(sql_error)?;
        } else {
            sqlx::query(
                "INSERT INTO accounts (id, app_id, home_account_id, username, username_folded, \
                 display_name, tenant_id, local_account_id, source, status, refresh_token, \
                 id_token, id_token_claims, client_info, last_refresh_at, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'fresh', ?, ?, ?, ?, ?, ?)",
            )
            .bind(&account_id)
            .bind(app_id)
            .bind(&identity.home_account_id)
            .bind(&identity.username)
            .bind(fold(&identity.username))
            .bind(&identity.display_name)
            .bind(&identity.tenant_id)
            .bind(&identity.local_account_id)
            .bind(source.as_str())
            .bind(refresh)
            .bind(id_token)
            .bind(claims)
            .bind(client_info)
            .bind(tokens.obtained_at)
            .bind(now)
            .execute(&mut *transaction)
            .await
            .map_err(sql_error)?;
        }
        let scope_key = tokens.scopes.cache_key();
        let sealed = sealer.seal(
            &tokens.access_token,
            &access_context(&account_id, &scope_key),
        );
        let scopes = serde_json::to_string(&tokens.scopes).unwrap_or_else(|_| "[]".into());
        sqlx::query(
            "INSERT INTO tokens (account_id, scope_key, scopes, token_type, obtained_at, \
             expires_at, ext_expires_at, refresh_on, access_token, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (account_id, scope_key) DO UPDATE SET scopes = excluded.scopes, \
             token_type = excluded.token_type, obtained_at = excluded.obtained_at, \
             expires_at = excluded.expires_at, ext_expires_at = excluded.ext_expires_at, \
             refresh_on = excluded.refresh_on, access_token = excluded.access_token, \
             updated_at = excluded.updated_at",
        )
        .bind(&account_id)
        .bind(&scope_key)
        .bind(scopes)
        .bind(&tokens.token_type)
        .bind(tokens.obtained_at)
        .bind(tokens.expires_at)
        .bind(tokens.ext_expires_at)
        .bind(tokens.refresh_on)
        .bind(sealed)
        .bind(now)
        .execute(&mut *transaction)
        .await
        .map_err(sql_error)?;
        transaction.commit().await.map_err(sql_error)?;
        self.store.inner.index.forget(&account_id);
        Ok(account_id)
    }

    /// Every token set of the account, opened, each carrying the account's refresh token,
    /// ID token and client info.
    pub async fn for_account(&self, account_id: &str) -> Result<Vec<TokenSet>> {
        let pool = &self.store.inner.pool;
        let mut transaction = pool.begin().await.map_err(sql_error)?;
        let account = sqlx::query(
            "SELECT refresh_token, id_token, id_token_claims, client_info FROM accounts WHERE id = ?",
        )
        .bind(account_id)
        .fetch_optional(&mut *transaction)
        .await
        .map_err(sql_error)?;
        let Some(account) = account else {
            return Ok(Vec::new());
        };
        let rows = sqlx::query(
            "SELECT scope_key, scopes, token_type, obtained_at, expires_at, ext_expires_at, \
             refresh_on, access_token FROM tokens WHERE account_id = ? ORDER BY updated_at",
        )
        .bind(account_id)
        .fetch_all(&mut *transaction)
        .await
        .map_err(sql_error)?;
        transaction.commit().await.map_err(sql_error)?;

        let sealer = self.store.sealer();
        let open = |column: &str| -> Result<Option<Secret>> {
            let sealed: Option<Vec<u8>> = account.try_get(column).map_err(sql_error)?;
            sealed
                .map(|sealed| {
                    sealer
                        .open(&sealed, &context("accounts", account_id, column))
                        .map_err(Error::Sealed)
                })
                .transpose()
        };
        let refresh_token = open("refresh_token")?;
        let id_token = open("id_token")?;
        let id_token_claims: Option<IdTokenClaims> = account
            .try_get::<Option<String>, _>("id_token_claims")
            .map_err(sql_error)?
            .and_then(|text| serde_json::from_str(&text).ok());
        let client_info: Option<ClientInfo> = account
            .try_get::<Option<String>, _>("client_info")
            .map_err(sql_error)?
            .and_then(|text| serde_json::from_str(&text).ok());
        rows.iter()
            .map(|row| {
                let mut set = read_token(self.store, account_id, row)?;
                set.refresh_token = refresh_token.clone();
                set.id_token = id_token.clone();
                set.id_token_claims = id_token_claims.clone();
                set.client_info = client_info.clone();
                Ok(set)
            })
            .collect()
    }

    /// The token set covering `scopes` (the newest such), else with no scopes asked the
    /// newest: [`best_token`] over [`Tokens::for_account`].
    pub async fn best(
        &self,
        account_id: &str,
        scopes: Option<&Scopes>,
    ) -> Result<Option<TokenSet>> {
        let all = self.for_account(account_id).await?;
        Ok(best_token(&all, scopes).cloned())
    }
}

fn read_token(store: &Store, account_id: &str, row: &SqliteRow) -> Result<TokenSet> {
    let scope_key: String = row.try_get("scope_key").map_err(sql_error)?;
    let sealed: Vec<u8> = row.try_get("access_token").map_err(sql_error)?;
    let access_token = store
        .sealer()
        .open(&sealed, &access_context(account_id, &scope_key))
        .map_err(Error::Sealed)?;
    let scopes_text: String = row.try_get("scopes").map_err(sql_error)?;
    Ok(TokenSet {
        access_token,
        token_type: row.try_get("token_type").map_err(sql_error)?,
        refresh_token: None,
        id_token: None,
        id_token_claims: None,
        client_info: None,
        scopes: serde_json::from_str(&scopes_text).unwrap_or_default(),
        obtained_at: row.try_get("obtained_at").map_err(sql_error)?,
        expires_at: row.try_get("expires_at").map_err(sql_error)?,
        ext_expires_at: row.try_get("ext_expires_at").map_err(sql_error)?,
        refresh_on: row.try_get("refresh_on").map_err(sql_error)?,
    })
}
