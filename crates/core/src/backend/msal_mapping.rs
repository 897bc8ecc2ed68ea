//! Accounts and tokens in MSAL's unified cache ([`MsalCache`]), the format python-o365 ≥ 2.1 and
//! every MSAL library read and write: one Account entry per user, one AccessToken per scope
//! set, one RefreshToken per user and app, the raw IdToken, and AppMetadata.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::{AccountSnapshot, AppKey, StoredAccount, best_token};
use crate::msal_cache::{
    ACCESS_TOKEN, AccountEntry, CredentialEntry, ID_TOKEN, MsalCache, REFRESH_TOKEN, keys,
};
use crate::scopes::Scopes;
use crate::secret::Secret;
use crate::token::{AccountIdentity, ClientInfo, IdTokenClaims, TokenSet, now_unix};

fn epoch_string(seconds: i64) -> Value {
    Value::String(seconds.to_string())
}

fn epoch_of(entry: &CredentialEntry, field: &str) -> Option<i64> {
    entry.extra.get(field)?.as_str()?.parse().ok()
}

fn belongs_to_app(entry: &CredentialEntry, app: &AppKey) -> bool {
    entry.client_id.eq_ignore_ascii_case(&app.client_id)
        && entry.environment.eq_ignore_ascii_case(&app.environment)
}

fn is_app_only(entry: &CredentialEntry) -> bool {
    entry.home_account_id.as_deref().is_none_or(str::is_empty)
}

/// Whether `entry` belongs to `identity` (of `app`). App-only tokens carry no account, only
/// the tenant they were issued in (the realm): one app identity per tenant, as
/// [`identities`] lists them, so a token for one tenant is never handed out for another.
fn owned_by(entry: &CredentialEntry, app: &AppKey, identity: &AccountIdentity) -> bool {
    if !belongs_to_app(entry, app) {
        return false;
    }
    if identity.is_app() {
        let realm = entry.realm.as_deref().unwrap_or(&app.realm);
        is_app_only(entry) && realm.eq_ignore_ascii_case(&identity.tenant_id)
    } else {
        entry.home_account_id.as_deref() == Some(identity.home_account_id.as_str())
    }
}

/// Every identity with tokens of `app`: users from their Account entries (in file order), then
/// app-only tokens as the app's own identity. Linear in the size of the cache.
pub(crate) fn identities(cache: &MsalCache, app: &AppKey) -> Vec<AccountIdentity> {
    let credentials: Vec<CredentialEntry> = [ACCESS_TOKEN, REFRESH_TOKEN, ID_TOKEN]
        .into_iter()
        .flat_map(|section| cache.credentials(section).unwrap_or_default())
        .filter(|entry| belongs_to_app(entry, app))
        .collect();
    let with_tokens: HashSet<&str> = credentials
        .iter()
        .filter_map(|entry| entry.home_account_id.as_deref())
        .collect();
    let mut seen: HashSet<String> = HashSet::new();
    let mut found: Vec<AccountIdentity> = Vec::new();
    for account in cache.accounts().unwrap_or_default() {
        if with_tokens.contains(account.home_account_id.as_str())
            && account.environment.eq_ignore_ascii_case(&app.environment)
            && seen.insert(account.home_account_id.clone())
        {
            found.push(identity_of(&account));
        }
    }
    for entry in credentials.iter().filter(|entry| is_app_only(entry)) {
        let realm = entry.realm.clone().unwrap_or_else(|| app.realm.clone());
        let identity = AccountIdentity::of_app(&app.client_id, &realm);
        if seen.insert(identity.home_account_id.clone()) {
            found.push(identity);
        }
    }
    found
}

fn identity_of(account: &AccountEntry) -> AccountIdentity {
    let tenant_id = account
        .home_account_id
        .split_once('.')
        .map(|(_, utid)| utid.to_owned())
        .unwrap_or_else(|| account.realm.clone());
    AccountIdentity {
        home_account_id: account.home_account_id.clone(),
        username: account.username.clone(),
        display_name: account
            .extra
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_owned),
        tenant_id,
        local_account_id: Some(account.local_account_id.clone()).filter(|id| !id.is_empty()),
    }
}

/// Everything the cache holds for `identity` (one of [`identities`]): its newest refresh
/// token, its ID token and every access token, in file order.
pub(crate) fn snapshot(
    cache: &MsalCache,
    app: &AppKey,
    identity: &AccountIdentity,
) -> AccountSnapshot {
    let mine = |section: &'static str| -> Vec<CredentialEntry> {
        cache
            .credentials(section)
            .unwrap_or_default()
            .into_iter()
            .filter(|entry| owned_by(entry, app, identity))
            .collect()
    };
    build_snapshot(
        identity,
        mine(REFRESH_TOKEN),
        mine(ID_TOKEN),
        mine(ACCESS_TOKEN),
    )
}

/// [`snapshot`] of every identity of `app`, reading each section once: linear in the size of
/// the cache, for imports of thousands of accounts.
pub(crate) fn snapshots(cache: &MsalCache, app: &AppKey) -> Vec<AccountSnapshot> {
    let owner = |entry: &CredentialEntry| -> String {
        if is_app_only(entry) {
            format!(
                "app:{}",
                entry.realm.as_deref().unwrap_or(&app.realm).to_lowercase()
            )
        } else {
            entry.home_account_id.clone().unwrap_or_default()
        }
    };
    let mut groups: HashMap<String, [Vec<CredentialEntry>; 3]> = HashMap::new();
    for (index, section) in [REFRESH_TOKEN, ID_TOKEN, ACCESS_TOKEN]
        .into_iter()
        .enumerate()
    {
        for entry in cache.credentials(section).unwrap_or_default() {
            if belongs_to_app(&entry, app) {
                groups.entry(owner(&entry)).or_default()[index].push(entry);
            }
        }
    }
    identities(cache, app)
        .iter()
        .map(|identity| {
            let key = if identity.is_app() {
                format!("app:{}", identity.tenant_id.to_lowercase())
            } else {
                identity.home_account_id.clone()
            };
            let [refresh, id, access] = groups.remove(&key).unwrap_or_default();
            build_snapshot(identity, refresh, id, access)
        })
        .collect()
}

/// An account's snapshot from its own credential entries.
fn build_snapshot(
    identity: &AccountIdentity,
    refresh_tokens: Vec<CredentialEntry>,
    id_tokens: Vec<CredentialEntry>,
    access_tokens: Vec<CredentialEntry>,
) -> AccountSnapshot {
    let refresh = refresh_tokens
        .into_iter()
        .max_by_key(|entry| epoch_of(entry, "last_modification_time").unwrap_or(0));
    let refreshed_at = refresh
        .as_ref()
        .and_then(|entry| epoch_of(entry, "last_modification_time"));
    let refresh_token = refresh.map(|entry| Secret::new(entry.secret));
    let id_token = id_tokens
        .into_iter()
        .next()
        .map(|entry| Secret::new(entry.secret));
    let id_token_claims = id_token
        .as_ref()
        .and_then(|token| IdTokenClaims::decode(token).ok());
    let client_info = (!identity.is_app())
        .then_some(identity.home_account_id.as_str())
        .and_then(|home| home.split_once('.'))
        .map(|(uid, utid)| ClientInfo {
            uid: uid.to_owned(),
            utid: utid.to_owned(),
        });
    let access_tokens: Vec<TokenSet> = access_tokens
        .into_iter()
        .map(|entry| TokenSet {
            access_token: Secret::new(entry.secret.as_str()),
            token_type: entry
                .extra
                .get("token_type")
                .and_then(Value::as_str)
                .unwrap_or("Bearer")
                .to_owned(),
            refresh_token: None,
            id_token: None,
            id_token_claims: None,
            client_info: None,
            scopes: Scopes::from_granted(entry.target.as_deref().unwrap_or_default()),
            obtained_at: epoch_of(&entry, "cached_at").unwrap_or(0),
            expires_at: epoch_of(&entry, "expires_on").unwrap_or(0),
            ext_expires_at: epoch_of(&entry, "extended_expires_on"),
            refresh_on: epoch_of(&entry, "refresh_on"),
        })
        .collect();
    let newest_access = access_tokens
        .iter()
        .map(|tokens| tokens.obtained_at)
        .filter(|at| *at > 0)
        .max();
    // Files MSAL wrote have no name in the Account entry; MSAL itself takes it from the ID
    // token.
    let mut identity = identity.clone();
    if identity.display_name.is_none() {
        identity.display_name = id_token_claims
            .as_ref()
            .and_then(IdTokenClaims::display_name)
            .map(str::to_owned);
    }
    AccountSnapshot {
        identity,
        refresh_token,
        id_token,
        id_token_claims,
        client_info,
        access_tokens,
        updated_at: refreshed_at.max(newest_access),
    }
}

/// The account named `name` with its best token for `scopes`.
pub(crate) fn load(
    cache: &MsalCache,
    app: &AppKey,
    name: &str,
    scopes: Option<&Scopes>,
) -> Option<StoredAccount> {
    let identity = identities(cache, app)
        .into_iter()
        .find(|identity| identity.is_named(name))?;
    let snapshot = snapshot(cache, app, &identity);
    let tokens = match best_token(&snapshot.access_tokens, scopes) {
        Some(best) => snapshot.with_account_secrets(best),
        // Only a refresh token left (MSAL purges expired access tokens): an expired, empty
        // access token makes the caller refresh.
        None if snapshot.refresh_token.is_some() => {
            snapshot.with_account_secrets(&refresh_only_template())
        }
        None => return None,
    };
    Some(StoredAccount {
        identity: snapshot.identity,
        tokens,
    })
}

/// An expired, empty access token: what an account with only a refresh token loads as, so the
/// caller refreshes.
pub(crate) fn refresh_only_template() -> TokenSet {
    TokenSet {
        access_token: Secret::default(),
        token_type: "Bearer".to_owned(),
        refresh_token: None,
        id_token: None,
        id_token_claims: None,
        client_info: None,
        scopes: Scopes::default(),
        obtained_at: 0,
        expires_at: 0,
        ext_expires_at: None,
        refresh_on: None,
    }
}

/// Writes whole accounts the way MSAL would: each one's Account entry, every access token of
/// its snapshot, its refresh token and its ID token. Other accounts and apps are kept. The
/// refresh tokens these accounts replace are removed in one pass over the section, so writing
/// thousands of accounts stays linear.
pub(crate) fn save_snapshots(cache: &mut MsalCache, accounts: &[(AppKey, AccountSnapshot)]) {
    let replaced: HashSet<(String, String, String)> = accounts
        .iter()
        .filter(|(_, snapshot)| snapshot.refresh_token.is_some() && !snapshot.identity.is_app())
        .map(|(app, snapshot)| {
            (
                snapshot.identity.home_account_id.clone(),
                app.client_id.to_lowercase(),
                app.environment.to_lowercase(),
            )
        })
        .collect();
    if !replaced.is_empty() {
        cache.retain_refresh_tokens(|home, client_id, environment| {
            !replaced.contains(&(
                home.to_owned(),
                client_id.to_lowercase(),
                environment.to_lowercase(),
            ))
        });
    }
    for (app, snapshot) in accounts {
        // The account's refresh token goes with the scopes of its newest access token.
        let newest = snapshot
            .access_tokens
            .iter()
            .max_by_key(|tokens| tokens.obtained_at)
            .cloned()
            .unwrap_or_else(refresh_only_template);
        write_account(
            cache,
            app,
            &snapshot.identity,
            &snapshot.with_account_secrets(&newest),
        );
        for tokens in &snapshot.access_tokens {
            write_access_token(cache, app, &snapshot.identity, tokens);
        }
    }
}

/// Writes one account's tokens the way MSAL would after this token answer.
pub(crate) fn save(
    cache: &mut MsalCache,
    app: &AppKey,
    identity: &AccountIdentity,
    tokens: &TokenSet,
) {
    if tokens.refresh_token.is_some() && !identity.is_app() {
        // One refresh token per user and app: a rotated one replaces every older entry.
        cache.retain_refresh_tokens(|home, client_id, environment| {
            !(home == identity.home_account_id
                && client_id.eq_ignore_ascii_case(&app.client_id)
                && environment.eq_ignore_ascii_case(&app.environment))
        });
    }
    write_account(cache, app, identity, tokens);
    write_access_token(cache, app, identity, tokens);
}

/// Upserts the access token of `tokens` (its scope set).
fn write_access_token(
    cache: &mut MsalCache,
    app: &AppKey,
    identity: &AccountIdentity,
    tokens: &TokenSet,
) {
    let home = (!identity.is_app()).then(|| identity.home_account_id.clone());
    let realm = realm_of(app, identity);
    let target = keys::target(tokens.scopes.as_slice());
    let mut at_extra = Map::new();
    at_extra.insert(
        "token_type".into(),
        Value::String(tokens.token_type.clone()),
    );
    at_extra.insert("cached_at".into(), epoch_string(tokens.obtained_at));
    at_extra.insert("expires_on".into(), epoch_string(tokens.expires_at));
    at_extra.insert(
        "extended_expires_on".into(),
        epoch_string(tokens.ext_expires_at.unwrap_or(tokens.expires_at)),
    );
    if let Some(refresh_on) = tokens.refresh_on {
        at_extra.insert("refresh_on".into(), epoch_string(refresh_on));
    }
    cache.upsert_credential(CredentialEntry {
        credential_type: ACCESS_TOKEN.into(),
        secret: tokens.access_token.expose().to_owned(),
        home_account_id: home.clone(),
        environment: app.environment.clone(),
        client_id: app.client_id.clone(),
        target: Some(target),
        realm: Some(realm),
        extra: at_extra,
    });
}

fn realm_of(app: &AppKey, identity: &AccountIdentity) -> String {
    if identity.is_app() {
        identity.tenant_id.clone()
    } else {
        app.realm.clone()
    }
}

/// Writes what MSAL keeps per account rather than per scope set: the Account entry, the
/// refresh token (when `tokens` carries one; the caller removed older ones) and the ID token.
fn write_account(
    cache: &mut MsalCache,
    app: &AppKey,
    identity: &AccountIdentity,
    tokens: &TokenSet,
) {
    let home = (!identity.is_app()).then(|| identity.home_account_id.clone());
    let realm = realm_of(app, identity);
    let target = keys::target(tokens.scopes.as_slice());
    let now = now_unix();
    if let Some(home) = &home {
        // An existing entry keeps its extra fields (other tools' additions, the grant MSAL
        // recorded in `account_source`); a new one says what MSAL would.
        let mut extra = cache
            .account(&keys::account(home, &app.environment, &realm))
            .map(|account| account.extra)
            .unwrap_or_default();
        extra
            .entry("account_source")
            .or_insert_with(|| Value::String("authorization_code".into()));
        // Not an MSAL field (MSAL reads the name from the ID token); MSAL keeps unknown fields.
        if let Some(name) = &identity.display_name {
            extra.insert("name".into(), Value::String(name.clone()));
        }
        cache.upsert_account(AccountEntry {
            home_account_id: home.clone(),
            environment: app.environment.clone(),
            realm: realm.clone(),
            local_account_id: identity.local_account_id.clone().unwrap_or_default(),
            username: identity.username.clone(),
            authority_type: "MSSTS".into(),
            extra,
        });
    }
    if let (Some(home), Some(refresh_token)) = (&home, &tokens.refresh_token) {
        let mut extra = Map::new();
        extra.insert("last_modification_time".into(), epoch_string(now));
        cache.upsert_credential(CredentialEntry {
            credential_type: REFRESH_TOKEN.into(),
            secret: refresh_token.expose().to_owned(),
            home_account_id: Some(home.clone()),
            environment: app.environment.clone(),
            client_id: app.client_id.clone(),
            target: Some(target),
            realm: None,
            extra,
        });
    }
    if let (Some(home), Some(id_token)) = (&home, &tokens.id_token) {
        cache.upsert_credential(CredentialEntry {
            credential_type: ID_TOKEN.into(),
            secret: id_token.expose().to_owned(),
            home_account_id: Some(home.clone()),
            environment: app.environment.clone(),
            client_id: app.client_id.clone(),
            target: None,
            realm: Some(realm),
            extra: Map::new(),
        });
    }
}

/// Removes the account's tokens for `app` (and its Account entry when no other app has tokens
/// for it). `false` when nothing matched.
pub(crate) fn remove(cache: &mut MsalCache, app: &AppKey, name: &str) -> bool {
    let Some(identity) = identities(cache, app)
        .into_iter()
        .find(|identity| identity.is_named(name))
    else {
        return false;
    };
    for section in [ACCESS_TOKEN, REFRESH_TOKEN, ID_TOKEN] {
        cache.retain_credentials(section, |entry| !owned_by(entry, app, &identity));
    }
    let home = (!identity.is_app()).then_some(identity.home_account_id);
    if let Some(home) = home {
        let still_used = [ACCESS_TOKEN, REFRESH_TOKEN, ID_TOKEN]
            .into_iter()
            .any(|section| {
                cache
                    .credentials(section)
                    .unwrap_or_default()
                    .iter()
                    .any(|entry| entry.home_account_id.as_deref() == Some(home.as_str()))
            });
        if !still_used {
            cache.remove_account(&home);
        }
    }
    true
}

/// The apps a cache holds tokens for: distinct client id and environment, with the tenant
/// segment of their first access or ID token (`common` when only refresh tokens are left).
pub(crate) fn apps(cache: &MsalCache) -> Vec<AppKey> {
    let mut found: Vec<AppKey> = Vec::new();
    for section in [ACCESS_TOKEN, ID_TOKEN, REFRESH_TOKEN] {
        for entry in cache.credentials(section).unwrap_or_default() {
            if !found.iter().any(|app| belongs_to_app(&entry, app)) {
                found.push(AppKey {
                    realm: entry.realm.clone().unwrap_or_else(|| "common".to_owned()),
                    client_id: entry.client_id,
                    environment: entry.environment,
                });
            }
        }
    }
    found
}
