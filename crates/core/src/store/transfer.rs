//! python-o365 / MSAL token files in and out of the store: [`import_token_file`] takes every
//! app and account a file holds, [`export_token_file`] writes accounts to a file python-o365
//! and MSAL scripts read, so they can use tokens o365-auth keeps fresh. One core function per
//! operation; the CLI, the IPC socket and the desktop app only call these.
//!
//! The file side is [`FileBackend`] (MSAL's `SerializableTokenCache` JSON, which python-o365
//! ≥ 2.1 writes too): reading takes whole accounts ([`FileBackend::snapshots`]: every access
//! token, the refresh and ID tokens), writing merges them under the file's lock in one atomic
//! 0600 replacement ([`FileBackend::save_snapshots`]). A file that does not read, or is JSON but
//! not a token cache, is a `token_file` error naming it and is never written.
//!
//! Import writes everything in ONE `BEGIN IMMEDIATE` transaction: registrations it needs
//! (reusing one with the same client id and authority host, else a new one with
//! [`AppSource::Import`]), accounts ([`AccountSource::Import`] when new) and their tokens. It
//! fails as a whole or lands as a whole. Expired access tokens stay behind (a refresh token
//! replaces them); an account with neither a refresh token nor a valid access token, or one
//! the store holds newer tokens for, is skipped, and the report says why.

use std::path::{Path, PathBuf};

use serde::Serialize;
use sqlx::sqlite::SqliteConnection;

use super::accounts::{AccountRecord, AccountSource, AccountStatus, fold};
use super::apps::{
    self, AppFields, AppRegistration, AppSource, FlowType, NewAppRegistration, RedirectKind,
};
use super::db::Store;
use super::sql::sql_error;
use super::tokens::{AccountSecrets, write_access_token, write_account};
use crate::backend::{AccountSnapshot, AppKey, FileBackend};
use crate::error::{Error, Result};
use crate::token::now_unix;

/// Why an account was not imported or exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// No refresh token, and every access token has expired: nothing left to use.
    NothingUsable,
    /// The store already holds this account's tokens from the same time or later (importing
    /// the same file twice lands here the second time).
    StoreIsNewer,
    /// Microsoft no longer accepts the account's refresh token: sign in again, then export.
    NeedsSignIn,
}

impl SkipReason {
    /// A stable machine code.
    pub fn code(self) -> &'static str {
        match self {
            SkipReason::NothingUsable => "nothing_usable",
            SkipReason::StoreIsNewer => "store_is_newer",
            SkipReason::NeedsSignIn => "needs_sign_in",
        }
    }
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SkipReason::NothingUsable => {
                "no refresh token, and every access token has expired: sign in again"
            }
            SkipReason::StoreIsNewer => "the store already holds these tokens or newer ones",
            SkipReason::NeedsSignIn => {
                "Microsoft no longer accepts its refresh token: sign in again, then export"
            }
        })
    }
}

/// An account left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedAccount {
    pub client_id: String,
    pub username: String,
    pub home_account_id: String,
    pub reason: SkipReason,
}

/// A registration an import used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportedApp {
    pub app_id: String,
    pub name: String,
    pub client_id: String,
    pub environment: String,
    pub tenant: String,
    /// `false`: an existing registration of the same client id and authority host was used.
    pub created: bool,
}

/// An account written by an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportedAccount {
    pub account_id: String,
    pub app_id: String,
    pub username: String,
    pub home_account_id: String,
    /// `false`: the account was in the store and its tokens were replaced by the file's newer
    /// ones.
    pub created: bool,
    pub refresh_token: bool,
    /// Valid access tokens taken (one per scope set).
    pub access_tokens: usize,
}

/// What [`import_token_file`] did. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub file: PathBuf,
    pub apps: Vec<ImportedApp>,
    pub accounts: Vec<ImportedAccount>,
    pub skipped: Vec<SkippedAccount>,
}

/// Which accounts [`export_token_file`] writes. The default is every account of every app.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportSelection {
    /// Account names: a username (any case), home account id, alias or store account id.
    /// Empty: every account. A username registered under several apps names each of them.
    pub accounts: Vec<String>,
    /// Only accounts of this registration (its name or id).
    pub app: Option<String>,
}

impl ExportSelection {
    pub fn all() -> Self {
        ExportSelection::default()
    }

    pub fn accounts<S: Into<String>>(names: impl IntoIterator<Item = S>) -> Self {
        ExportSelection {
            accounts: names.into_iter().map(Into::into).collect(),
            app: None,
        }
    }

    pub fn in_app(mut self, app: impl Into<String>) -> Self {
        self.app = Some(app.into());
        self
    }
}

/// An account written by an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportedAccount {
    pub account_id: String,
    pub app_id: String,
    pub app_name: String,
    pub client_id: String,
    pub username: String,
    pub home_account_id: String,
    pub refresh_token: bool,
    /// Valid access tokens written (one per scope set).
    pub access_tokens: usize,
}

/// What [`export_token_file`] did. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportReport {
    pub file: PathBuf,
    pub accounts: Vec<ExportedAccount>,
    pub skipped: Vec<SkippedAccount>,
}

fn skipped(client_id: &str, snapshot: &AccountSnapshot, reason: SkipReason) -> SkippedAccount {
    SkippedAccount {
        client_id: client_id.to_owned(),
        username: snapshot.identity.username.clone(),
        home_account_id: snapshot.identity.home_account_id.clone(),
        reason,
    }
}

/// Drops the expired access tokens; `None` when nothing usable is left.
fn usable(mut snapshot: AccountSnapshot, now: i64) -> Option<AccountSnapshot> {
    snapshot
        .access_tokens
        .retain(|tokens| tokens.expires_at > now);
    (snapshot.refresh_token.is_some() || !snapshot.access_tokens.is_empty()).then_some(snapshot)
}

/// Imports every app and account of a python-o365 or MSAL token file at `path`: identities,
/// refresh tokens, ID tokens and valid access tokens, in one transaction. A file that is
/// missing or does not read is a `token_file` error naming it, and nothing is stored.
pub async fn import_token_file(store: &Store, path: &Path) -> Result<ImportReport> {
    let file = FileBackend::new(path);
    let now = now_unix();
    let mut report = ImportReport {
        file: path.to_owned(),
        apps: Vec::new(),
        accounts: Vec::new(),
        skipped: Vec::new(),
    };
    let mut wanted: Vec<(AppKey, Vec<AccountSnapshot>)> = Vec::new();
    for (app, snapshots) in file.snapshots().await? {
        let mut keep = Vec::new();
        for snapshot in snapshots {
            let shown = skipped(&app.client_id, &snapshot, SkipReason::NothingUsable);
            match usable(snapshot, now) {
                Some(snapshot) => keep.push(snapshot),
                None => report.skipped.push(shown),
            }
        }
        if !keep.is_empty() {
            wanted.push((app, keep));
        }
    }

    let sealer = store.sealer();
    let mut transaction = store
        .inner
        .pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(sql_error)?;
    for (app, snapshots) in wanted {
        let existing = registration_for(&mut transaction, &app).await?;
        let mut accounts = Vec::new();
        for snapshot in snapshots {
            if let Some(registration) = &existing
                && store_is_newer(&mut transaction, &registration.id, &snapshot).await?
            {
                report
                    .skipped
                    .push(skipped(&app.client_id, &snapshot, SkipReason::StoreIsNewer));
                continue;
            }
            accounts.push(snapshot);
        }
        if accounts.is_empty() {
            continue;
        }
        let (registration, created) = match existing {
            Some(registration) => (registration, false),
            None => {
                let app_only = accounts.iter().all(|account| account.identity.is_app());
                let registration =
                    create_registration(&mut transaction, store, &app, app_only).await?;
                (registration, true)
            }
        };
        report.apps.push(ImportedApp {
            app_id: registration.id.clone(),
            name: registration.fields.name.clone(),
            client_id: registration.fields.client_id.clone(),
            environment: registration.fields.environment.clone(),
            tenant: registration.fields.tenant.clone(),
            created,
        });
        for snapshot in accounts {
            let secrets = AccountSecrets {
                refresh_token: snapshot.refresh_token.as_ref(),
                id_token: snapshot.id_token.as_ref(),
                id_token_claims: snapshot.id_token_claims.as_ref(),
                client_info: snapshot.client_info.as_ref(),
                refreshed_at: snapshot.updated_at,
            };
            let (account_id, created) = write_account(
                &mut transaction,
                sealer,
                &registration.id,
                &snapshot.identity,
                &secrets,
                AccountSource::Import,
                now,
            )
            .await?;
            for tokens in &snapshot.access_tokens {
                write_access_token(&mut transaction, sealer, &account_id, tokens, now).await?;
            }
            report.accounts.push(ImportedAccount {
                account_id,
                app_id: registration.id.clone(),
                username: snapshot.identity.username.clone(),
                home_account_id: snapshot.identity.home_account_id.clone(),
                created,
                refresh_token: snapshot.refresh_token.is_some(),
                access_tokens: snapshot.access_tokens.len(),
            });
        }
    }
    transaction.commit().await.map_err(sql_error)?;
    store.inner.index.clear();
    tracing::info!(
        file = %path.display(),
        apps = report.apps.len(),
        accounts = report.accounts.len(),
        skipped = report.skipped.len(),
        "imported a token file"
    );
    Ok(report)
}

/// The registration an app key of a file goes to: the one with this exact key, else the only
/// one with the same client id and authority host (registered by a person for another tenant
/// segment), else none.
async fn registration_for(
    connection: &mut SqliteConnection,
    app: &AppKey,
) -> Result<Option<AppRegistration>> {
    let rows = sqlx::query(&format!(
        "SELECT {} FROM app_registrations WHERE client_id = ? COLLATE NOCASE \
         AND environment = ? COLLATE NOCASE ORDER BY tenant = ? COLLATE NOCASE DESC, created_at",
        apps::COLUMNS
    ))
    .bind(&app.client_id)
    .bind(&app.environment)
    .bind(&app.realm)
    .fetch_all(&mut *connection)
    .await
    .map_err(sql_error)?;
    let registrations = rows
        .iter()
        .map(apps::read_row)
        .collect::<Result<Vec<_>>>()?;
    let exact = registrations
        .iter()
        .position(|registration| registration.fields.tenant.eq_ignore_ascii_case(&app.realm));
    Ok(match (exact, registrations.len()) {
        (Some(index), _) => registrations.into_iter().nth(index),
        (None, 1) => registrations.into_iter().next(),
        _ => None,
    })
}

/// Whether the store's copy of the account is at least as new as the file's.
async fn store_is_newer(
    connection: &mut SqliteConnection,
    app_id: &str,
    snapshot: &AccountSnapshot,
) -> Result<bool> {
    let row: Option<(bool, Option<i64>)> = sqlx::query_as(
        "SELECT refresh_token IS NOT NULL, last_refresh_at FROM accounts \
         WHERE app_id = ? AND home_account_id = ?",
    )
    .bind(app_id)
    .bind(&snapshot.identity.home_account_id)
    .fetch_optional(&mut *connection)
    .await
    .map_err(sql_error)?;
    Ok(match row {
        // An account without a refresh token (app-only) is newer when its time is.
        Some((has_refresh, stored_at)) => {
            (has_refresh || snapshot.refresh_token.is_none())
                && stored_at.unwrap_or(0) >= snapshot.updated_at.unwrap_or(0)
        }
        None => false,
    })
}

async fn create_registration(
    connection: &mut SqliteConnection,
    store: &Store,
    app: &AppKey,
    app_only: bool,
) -> Result<AppRegistration> {
    let base = format!("{}@{}/{}", app.client_id, app.environment, app.realm);
    let mut name = base.clone();
    for attempt in 2.. {
        let taken: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM app_registrations WHERE name = ?)")
                .bind(&name)
                .fetch_one(&mut *connection)
                .await
                .map_err(sql_error)?;
        if !taken {
            break;
        }
        name = format!("{base} ({attempt})");
    }
    let new = NewAppRegistration {
        fields: AppFields {
            name,
            client_id: app.client_id.clone(),
            tenant: app.realm.clone(),
            environment: app.environment.clone(),
            authority: serde_json::json!({
                "authority": format!("https://{}/{}", app.environment, app.realm)
            })
            .to_string(),
            flow_type: if app_only {
                FlowType::Credentials
            } else {
                FlowType::Public
            },
            redirect_kind: RedirectKind::None,
            protocol: serde_json::Value::Null,
            default_scopes: Vec::new(),
        },
        client_secret: None,
        certificate: None,
        source: AppSource::Import,
    };
    let id = apps::insert_registration(connection, store.sealer(), &new).await?;
    let row = sqlx::query(&format!(
        "SELECT {} FROM app_registrations WHERE id = ?",
        apps::COLUMNS
    ))
    .bind(&id)
    .fetch_one(&mut *connection)
    .await
    .map_err(sql_error)?;
    apps::read_row(&row)
}

/// Writes the selected accounts of the store to the python-o365 / MSAL token file at `path`:
/// identity, refresh token, ID token and every valid access token, merged into the file if
/// it exists (other accounts, apps and entries stay), in one atomic 0600 write. Checks the
/// whole selection before writing anything: an unknown app is `invalid_input`, an account
/// name that matches nothing is `no_account`. When nothing is left to write the file is not
/// touched.
pub async fn export_token_file(
    store: &Store,
    path: &Path,
    selection: &ExportSelection,
) -> Result<ExportReport> {
    let registrations = store.apps().list().await?;
    let registrations: Vec<AppRegistration> = match &selection.app {
        Some(wanted) => {
            let found: Vec<AppRegistration> = registrations
                .into_iter()
                .filter(|registration| {
                    registration.id == *wanted || registration.fields.name == *wanted
                })
                .collect();
            if found.is_empty() {
                return Err(Error::invalid_input(
                    "app",
                    format!("no app registration is named `{wanted}`"),
                ));
            }
            found
        }
        None => registrations,
    };
    let accounts: Vec<AccountRecord> = store
        .accounts()
        .list(None)
        .await?
        .into_iter()
        .filter(|account| {
            registrations
                .iter()
                .any(|registration| registration.id == account.app_id)
        })
        .collect();
    let chosen: Vec<&AccountRecord> = if selection.accounts.is_empty() {
        accounts.iter().collect()
    } else {
        for name in &selection.accounts {
            if !accounts.iter().any(|account| is_named(account, name)) {
                return Err(Error::NoAccount { name: name.clone() });
            }
        }
        accounts
            .iter()
            .filter(|account| {
                selection
                    .accounts
                    .iter()
                    .any(|name| is_named(account, name))
            })
            .collect()
    };

    let now = now_unix();
    let mut report = ExportReport {
        file: path.to_owned(),
        accounts: Vec::new(),
        skipped: Vec::new(),
    };
    let mut writes: Vec<(AppKey, AccountSnapshot)> = Vec::new();
    for account in chosen {
        let Some(registration) = registrations
            .iter()
            .find(|registration| registration.id == account.app_id)
        else {
            continue;
        };
        let client_id = &registration.fields.client_id;
        // Removed meanwhile by another process: nothing to export.
        let Some(snapshot) = store.tokens().snapshot(account).await? else {
            continue;
        };
        if account.status == AccountStatus::NeedsSignIn {
            report
                .skipped
                .push(skipped(client_id, &snapshot, SkipReason::NeedsSignIn));
            continue;
        }
        let shown = skipped(client_id, &snapshot, SkipReason::NothingUsable);
        let Some(snapshot) = usable(snapshot, now) else {
            report.skipped.push(shown);
            continue;
        };
        report.accounts.push(ExportedAccount {
            account_id: account.id.clone(),
            app_id: registration.id.clone(),
            app_name: registration.fields.name.clone(),
            client_id: client_id.clone(),
            username: account.identity.username.clone(),
            home_account_id: account.identity.home_account_id.clone(),
            refresh_token: snapshot.refresh_token.is_some(),
            access_tokens: snapshot.access_tokens.len(),
        });
        let app = AppKey {
            client_id: client_id.clone(),
            environment: registration.fields.environment.clone(),
            realm: registration.fields.tenant.clone(),
        };
        writes.push((app, snapshot));
    }
    if !writes.is_empty() {
        FileBackend::new(path).save_snapshots(writes).await?;
    }
    tracing::info!(
        file = %path.display(),
        accounts = report.accounts.len(),
        skipped = report.skipped.len(),
        "exported accounts to a token file"
    );
    Ok(report)
}

fn is_named(account: &AccountRecord, name: &str) -> bool {
    account.id == name
        || account.identity.home_account_id == name
        || fold(&account.identity.username) == fold(name)
        || account.alias.as_deref() == Some(name)
}
