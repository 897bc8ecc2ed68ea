//! Tokens: one access token per (account, scope set), sealed as
//! `tokens:<account id>:<scope key>:access_token`; the refresh and ID tokens live on the
//! account row. [`Tokens::save`] writes the account (identity, rotated refresh token, status)
//! and the access token in ONE `BEGIN IMMEDIATE` transaction: a crash leaves the old state or
//! the new one, never a new access token beside a lost refresh token.

use std::collections::HashMap;

use sqlx::Row;
use sqlx::sqlite::{SqliteConnection, SqliteRow};

use super::accounts::{AccountRecord, AccountSource, fold};
use super::db::Store;
use super::seal::Sealer;
use super::sql::{context, new_id, sql_error};
use crate::backend::{AccountSnapshot, best_token};
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

/// What the account row holds besides the identity, as [`write_account`] writes it. `None`
/// keeps what the row has.
pub(crate) struct AccountSecrets<'s> {
    pub refresh_token: Option<&'s Secret>,
    pub id_token: Option<&'s Secret>,
    pub id_token_claims: Option<&'s IdTokenClaims>,
    pub client_info: Option<&'s ClientInfo>,
    pub refreshed_at: Option<i64>,
}

impl<'s> AccountSecrets<'s> {
    fn of(tokens: &'s TokenSet) -> Self {
        AccountSecrets {
            refresh_token: tokens.refresh_token.as_ref(),
            id_token: tokens.id_token.as_ref(),
            id_token_claims: tokens.id_token_claims.as_ref(),
            client_info: tokens.client_info.as_ref(),
            refreshed_at: Some(tokens.obtained_at),
        }
    }
}

/// Upserts the account of `app_id` named by `identity.home_account_id` inside the caller's
/// transaction: identity, status `fresh` with no error code, and the secrets `secrets` carries.
/// Returns its id and whether it is new.
pub(crate) async fn write_account(
    connection: &mut SqliteConnection,
    sealer: &Sealer,
    app_id: &str,
    identity: &AccountIdentity,
    secrets: &AccountSecrets<'_>,
    source: AccountSource,
    now: i64,
) -> Result<(String, bool)> {
    let existing: Option<String> =
        sqlx::query_scalar("SELECT id FROM accounts WHERE app_id = ? AND home_account_id = ?")
            .bind(app_id)
            .bind(&identity.home_account_id)
            .fetch_optional(&mut *connection)
            .await
            .map_err(sql_error)?;
    let created = existing.is_none();
    let account_id = existing.unwrap_or_else(new_id);
    let refresh = secrets
        .refresh_token
        .map(|secret| sealer.seal(secret, &context("accounts", &account_id, "refresh_token")));
    let id_token = secrets
        .id_token
        .map(|secret| sealer.seal(secret, &context("accounts", &account_id, "id_token")));
    let claims = secrets
        .id_token_claims
        .and_then(|claims| serde_json::to_string(claims).ok());
    let client_info = secrets
        .client_info
        .and_then(|info| serde_json::to_string(info).ok());
    if created {
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
        .bind(secrets.refreshed_at)
        .bind(now)
        .execute(&mut *connection)
        .await
        .map_err(sql_error)?;
    } else {
        sqlx::query(
            "UPDATE accounts SET username = ?, username_folded = ?, display_name = ?, \
             tenant_id = ?, local_account_id = ?, status = 'fresh', last_error_code = NULL, \
             last_refresh_at = COALESCE(?, last_refresh_at), \
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
        .bind(secrets.refreshed_at)
        .bind(refresh)
        .bind(id_token)
        .bind(claims)
        .bind(client_info)
        .bind(&account_id)
        .execute(&mut *connection)
        .await
        .map_err(sql_error)?;
    }
    Ok((account_id, created))
}

/// Upserts the account's access token for `tokens.scopes` inside the caller's transaction.
pub(crate) async fn write_access_token(
    connection: &mut SqliteConnection,
    sealer: &Sealer,
    account_id: &str,
    tokens: &TokenSet,
    now: i64,
) -> Result<()> {
    let scope_key = tokens.scopes.cache_key();
    let sealed = sealer.seal(
        &tokens.access_token,
        &access_context(account_id, &scope_key),
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
    .bind(account_id)
    .bind(&scope_key)
    .bind(scopes)
    .bind(&tokens.token_type)
    .bind(tokens.obtained_at)
    .bind(tokens.expires_at)
    .bind(tokens.ext_expires_at)
    .bind(tokens.refresh_on)
    .bind(sealed)
    .bind(now)
    .execute(&mut *connection)
    .await
    .map_err(sql_error)?;
    Ok(())
}

/// An account's secrets and access tokens, opened.
struct AccountTokens {
    refresh_token: Option<Secret>,
    id_token: Option<Secret>,
    id_token_claims: Option<IdTokenClaims>,
    client_info: Option<ClientInfo>,
    last_refresh_at: Option<i64>,
    /// Oldest first; the account's fields above are not filled in.
    access_tokens: Vec<TokenSet>,
}

impl AccountTokens {
    fn with_account_secrets(&self, tokens: TokenSet) -> TokenSet {
        TokenSet {
            refresh_token: self.refresh_token.clone(),
            id_token: self.id_token.clone(),
            id_token_claims: self.id_token_claims.clone(),
            client_info: self.client_info.clone(),
            ..tokens
        }
    }
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
        let now = now_unix();
        let mut transaction = self
            .store
            .inner
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(sql_error)?;
        let (account_id, _) = write_account(
            &mut transaction,
            sealer,
            app_id,
            identity,
            &AccountSecrets::of(tokens),
            source,
            now,
        )
        .await?;
        write_access_token(&mut transaction, sealer, &account_id, tokens, now).await?;
        transaction.commit().await.map_err(sql_error)?;
        self.store.inner.index.forget(&account_id);
        Ok(account_id)
    }

    /// Each account's latest access-token expiry (unix seconds), in one query and without
    /// opening a token: what the scheduler needs at start for every account at once. An
    /// account with no access token is absent.
    pub async fn latest_expiries(&self) -> Result<HashMap<String, i64>> {
        let rows = sqlx::query(
            "SELECT account_id, MAX(expires_at) AS expires_at FROM tokens GROUP BY account_id",
        )
        .fetch_all(&self.store.inner.pool)
        .await
        .map_err(sql_error)?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("account_id").map_err(sql_error)?,
                    row.try_get("expires_at").map_err(sql_error)?,
                ))
            })
            .collect()
    }

    /// Every token set of the account, opened, each carrying the account's refresh token,
    /// ID token and client info.
    pub async fn for_account(&self, account_id: &str) -> Result<Vec<TokenSet>> {
        let Some(account) = self.read(account_id).await? else {
            return Ok(Vec::new());
        };
        Ok(account
            .access_tokens
            .iter()
            .map(|tokens| account.with_account_secrets(tokens.clone()))
            .collect())
    }

    /// The token set covering `scopes` (the newest such), else with no scopes asked the
    /// newest: [`best_token`] over [`Tokens::for_account`]. An account with a refresh token
    /// but no access token for `scopes` (none at all when imported that way, or only ones for
    /// other scopes) gives an expired, empty access token, so the caller redeems the refresh
    /// token for them, as the file backend does.
    pub async fn best(
        &self,
        account_id: &str,
        scopes: Option<&Scopes>,
    ) -> Result<Option<TokenSet>> {
        let Some(account) = self.read(account_id).await? else {
            return Ok(None);
        };
        Ok(match best_token(&account.access_tokens, scopes) {
            Some(best) => Some(account.with_account_secrets(best.clone())),
            None if account.refresh_token.is_some() => Some(
                account.with_account_secrets(crate::backend::msal_mapping::refresh_only_template()),
            ),
            None => None,
        })
    }

    /// Everything stored for the account (its refresh and ID tokens, every access token):
    /// what an export writes. `None` when no account has this id.
    pub async fn snapshot(&self, account: &AccountRecord) -> Result<Option<AccountSnapshot>> {
        let Some(tokens) = self.read(&account.id).await? else {
            return Ok(None);
        };
        let newest_access = tokens
            .access_tokens
            .iter()
            .map(|tokens| tokens.obtained_at)
            .max();
        Ok(Some(AccountSnapshot {
            identity: account.identity.clone(),
            updated_at: tokens.last_refresh_at.max(newest_access),
            refresh_token: tokens.refresh_token,
            id_token: tokens.id_token,
            id_token_claims: tokens.id_token_claims,
            client_info: tokens.client_info,
            access_tokens: tokens.access_tokens,
        }))
    }

    async fn read(&self, account_id: &str) -> Result<Option<AccountTokens>> {
        let pool = &self.store.inner.pool;
        let mut transaction = pool.begin().await.map_err(sql_error)?;
        let account = sqlx::query(
            "SELECT refresh_token, id_token, id_token_claims, client_info, last_refresh_at \
             FROM accounts WHERE id = ?",
        )
        .bind(account_id)
        .fetch_optional(&mut *transaction)
        .await
        .map_err(sql_error)?;
        let Some(account) = account else {
            return Ok(None);
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
        Ok(Some(AccountTokens {
            refresh_token: open("refresh_token")?,
            id_token: open("id_token")?,
            id_token_claims: account
                .try_get::<Option<String>, _>("id_token_claims")
                .map_err(sql_error)?
                .and_then(|text| serde_json::from_str(&text).ok()),
            client_info: account
                .try_get::<Option<String>, _>("client_info")
                .map_err(sql_error)?
                .and_then(|text| serde_json::from_str(&text).ok()),
            last_refresh_at: account.try_get("last_refresh_at").map_err(sql_error)?,
            access_tokens: rows
                .iter()
                .map(|row| read_token(self.store, account_id, row))
                .collect::<Result<_>>()?,
        }))
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
