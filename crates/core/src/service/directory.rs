//! Which stored account a name means. People and scripts name accounts by username (any
//! case), alias, home account id or record id, optionally as `APP/NAME` when one person signed
//! in through two apps; no name means the only account there is.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::store::accounts::AccountRecord;
use crate::store::apps::AppRegistration;

/// A snapshot of every account and app registration, rebuilt when the service changes them
/// (or a name is not found, in case another process added it).
#[derive(Debug, Default)]
pub(crate) struct Directory {
    pub(crate) accounts: Vec<Arc<AccountRecord>>,
    pub(crate) apps: HashMap<String, AppRegistration>,
}

impl Directory {
    pub(crate) fn new(accounts: Vec<AccountRecord>, apps: Vec<AppRegistration>) -> Self {
        Directory {
            accounts: accounts.into_iter().map(Arc::new).collect(),
            apps: apps.into_iter().map(|app| (app.id.clone(), app)).collect(),
        }
    }

    pub(crate) fn app_name(&self, app_id: &str) -> &str {
        self.apps
            .get(app_id)
            .map(|app| app.fields.name.as_str())
            .unwrap_or("")
    }

    pub(crate) fn app_by_name(&self, name: &str) -> Option<&AppRegistration> {
        self.apps
            .values()
            .find(|app| app.fields.name.eq_ignore_ascii_case(name) || app.id == name)
    }

    /// The one account `name` means; `None` = the only account.
    pub(crate) fn resolve(&self, name: Option<&str>) -> Result<&Arc<AccountRecord>> {
        let name = name.map(str::trim).filter(|name| !name.is_empty());
        let (app, wanted) = match name.and_then(|name| name.split_once('/')) {
            Some((app, rest)) if self.app_by_name(app).is_some() => (Some(app), Some(rest)),
            _ => (None, name),
        };
        let app_id = app.and_then(|app| self.app_by_name(app)).map(|app| &app.id);
        let matches: Vec<&Arc<AccountRecord>> = self
            .accounts
            .iter()
            .filter(|record| app_id.is_none_or(|id| &record.app_id == id))
            .filter(|record| wanted.is_none_or(|wanted| names(record, wanted)))
            .collect();
        match matches.as_slice() {
            [one] => Ok(one),
            [] => Err(Error::NoAccount {
                name: name.unwrap_or_default().to_owned(),
            }),
            several => Err(Error::AccountAmbiguous {
                name: name.unwrap_or_default().to_owned(),
                candidates: several
                    .iter()
                    .map(|record| self.qualified_name(record))
                    .collect(),
            }),
        }
    }

    /// `APP/username`, which always names one account.
    pub(crate) fn qualified_name(&self, record: &AccountRecord) -> String {
        format!(
            "{}/{}",
            self.app_name(&record.app_id),
            record.identity.username
        )
    }
}

fn names(record: &AccountRecord, name: &str) -> bool {
    record.id == name
        || record.identity.home_account_id == name
        || record.identity.username.eq_ignore_ascii_case(name)
        || record
            .alias
            .as_deref()
            .is_some_and(|alias| alias.eq_ignore_ascii_case(name))
}

/// An account as the service shows it (`accounts.list`): no secrets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountView {
    /// The home account id (`<oid>.<tid>`), or `app:<client>@<tenant>` for an app-only one.
    pub id: String,
    pub username: String,
    pub alias: Option<String>,
    pub display_name: Option<String>,
    pub app: String,
    pub tenant: String,
    /// `fresh`, `needs_sign_in`, `interaction_required` or `error`.
    pub status: &'static str,
    /// When the newest access token expires (Unix seconds), if there is one.
    pub expires_at: Option<i64>,
    /// What that access token grants, named as in `token.get` answers.
    pub scopes: Vec<String>,
    pub last_refresh_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub last_error_code: Option<String>,
    pub source: &'static str,
}

impl AccountView {
    pub(crate) fn new(
        directory: &Directory,
        record: &AccountRecord,
        expires_at: Option<i64>,
    ) -> Self {
        AccountView {
            id: record.identity.home_account_id.clone(),
            username: record.identity.username.clone(),
            alias: record.alias.clone(),
            display_name: record.identity.display_name.clone(),
            app: directory.app_name(&record.app_id).to_owned(),
            tenant: record.identity.tenant_id.clone(),
            status: record.status.as_str(),
            expires_at,
            scopes: Vec::new(),
            last_refresh_at: record.last_refresh_at,
            last_used_at: record.last_used_at,
            last_error_code: record.last_error_code.clone(),
            source: record.source.as_str(),
        }
    }
}
