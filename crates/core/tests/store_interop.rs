//! Import into and export from the SQLite store against the real python-o365 2.1.10 and
//! msal 1.39.0 (installed from PyPI by `scripts/install-deps.sh test`; `make test` passes
//! their interpreter in `O365_AUTH_INTEROP_PYTHON`). Ignored by a plain `cargo test`.
//!
//! The Python side runs offline: the scripts in `tests/interop/` give MSAL an in-process
//! stand-in for the token endpoint (`offline_identity.py`), so python-o365's own sign-in code
//! and MSAL's own cache code write the files, and MSAL's own silent-token code reads ours.

use std::path::{Path, PathBuf};
use std::process::Command;

use o365_auth_core::Secret;
use o365_auth_core::scopes::Scopes;
use o365_auth_core::store::accounts::{AccountRecord, AccountSource};
use o365_auth_core::store::apps::{
    AppFields, AppSource, FlowType, NewAppRegistration, RedirectKind,
};
use o365_auth_core::store::key::DataKey;
use o365_auth_core::store::{
    ExportSelection, KeySource, Store, StoreOptions, export_token_file, import_token_file,
};
use o365_auth_core::token::{AccountIdentity, TokenSet, now_unix};
use serde_json::Value;

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const EXPORT_CLIENT: &str = "3c0c1a2e-5a1e-4f0e-9d7a-0c8f2f7a1e01";
const GRAPH: &str =
    "https://graph.microsoft.com/Mail.ReadWrite https://graph.microsoft.com/User.Read";

fn python() -> PathBuf {
    let python = std::env::var_os("O365_AUTH_INTEROP_PYTHON")
        .expect("O365_AUTH_INTEROP_PYTHON names a Python with o365 and msal (make test sets it)");
    PathBuf::from(python)
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(name)
}

fn run(script: &Path, args: &[&str]) -> Value {
    let output = Command::new(python())
        .arg(script)
        .args(args)
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "{}: {}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the script prints JSON")
}

async fn open(dir: &tempfile::TempDir) -> Store {
    Store::open(
        StoreOptions::at(dir.path().join("store.sqlite3"))
            .with_key(KeySource::Key(DataKey::from_bytes([5; 32]))),
    )
    .await
    .expect("open")
}

fn text<'v>(value: &'v Value, field: &str) -> &'v str {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} in {value}"))
}

/// The store account of the registration with `client_id` and this home account id (an
/// app-only token has none: the app's own identity in its realm).
async fn find(store: &Store, client_id: &str, home: &str, realm: &str) -> AccountRecord {
    let registration = store
        .apps()
        .list()
        .await
        .unwrap()
        .into_iter()
        .find(|registration| registration.fields.client_id == client_id)
        .unwrap_or_else(|| panic!("a registration for {client_id}"));
    let home = if home.is_empty() {
        AccountIdentity::of_app(client_id, realm).home_account_id
    } else {
        home.to_owned()
    };
    store
        .accounts()
        .list(Some(&registration.id))
        .await
        .unwrap()
        .into_iter()
        .find(|account| account.identity.home_account_id == home)
        .unwrap_or_else(|| panic!("{home} of {client_id} in the store"))
}

/// Every account, refresh token and valid access token Python saw in its file is in the store.
async fn assert_store_holds(store: &Store, seen: &Value) {
    for account in seen["accounts"].as_array().unwrap() {
        let home = text(account, "home_account_id");
        let stored = store.accounts().list(None).await.unwrap();
        let matches: Vec<&AccountRecord> = stored
            .iter()
            .filter(|record| record.identity.home_account_id == home)
            .collect();
        assert!(!matches.is_empty(), "{home} imported");
        for record in matches {
            assert_eq!(record.identity.username, text(account, "username"));
            assert_eq!(record.identity.tenant_id, TENANT);
            assert_eq!(record.source, AccountSource::Import);
        }
    }
    let refresh_tokens = seen["refresh_tokens"].as_array().unwrap();
    assert!(!refresh_tokens.is_empty());
    for refresh in refresh_tokens {
        let account = find(
            store,
            text(refresh, "client_id"),
            text(refresh, "home_account_id"),
            "",
        )
        .await;
        let stored = store.accounts().refresh_token(&account.id).await.unwrap();
        assert_eq!(
            stored.as_ref().map(Secret::expose),
            Some(text(refresh, "secret")),
            "refresh token of {} for {}",
            account.identity.username,
            text(refresh, "client_id")
        );
    }
    let now = now_unix();
    for access in seen["access_tokens"].as_array().unwrap() {
        assert!(access["expires_on"].as_i64().unwrap() > now + 60);
        let account = find(
            store,
            text(access, "client_id"),
            text(access, "home_account_id"),
            text(access, "realm"),
        )
        .await;
        let scopes = Scopes::from_granted(text(access, "target"));
        let served = store
            .valid_access_token(&account.id, Some(&scopes), now, 60)
            .await
            .unwrap()
            .unwrap_or_else(|| {
                panic!(
                    "a valid token of {} for {scopes:?}",
                    account.identity.username
                )
            });
        assert_eq!(served.access_token.expose(), text(access, "secret"));
    }
}

#[tokio::test]
#[ignore = "needs the real python-o365 and msal: run by make test"]
async fn a_token_file_python_o365_saved_is_imported_with_every_app_and_account() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("o365_token.txt");
    let seen = run(
        &script("write_with_python_o365.py"),
        &[file.to_str().unwrap()],
    );
    let store = open(&dir).await;
    let report = import_token_file(&store, &file).await.unwrap();
    assert_eq!(report.apps.len(), 2, "{report:?}");
    assert!(
        report
            .apps
            .iter()
            .all(|app| app.created && app.tenant == "common")
    );
    assert_eq!(
        report.accounts.len(),
        3,
        "carol in two apps, dave in one: {report:?}"
    );
    assert!(report.skipped.is_empty(), "{report:?}");
    for app in &report.apps {
        let registration = store.apps().get(&app.app_id).await.unwrap().unwrap();
        assert_eq!(registration.source, AppSource::Import);
    }
    assert_store_holds(&store, &seen).await;
}

#[tokio::test]
#[ignore = "needs the real python-o365 and msal: run by make test"]
async fn an_msal_cache_filled_by_msal_is_imported_with_every_app_and_account() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("msal_cache.json");
    let seen = run(&script("fill_msal_cache.py"), &[file.to_str().unwrap()]);
    let store = open(&dir).await;
    let report = import_token_file(&store, &file).await.unwrap();
    assert_eq!(report.apps.len(), 2, "{report:?}");
    let mut imported: Vec<(String, usize, bool)> = report
        .accounts
        .iter()
        .map(|a| (a.username.clone(), a.access_tokens, a.refresh_token))
        .collect();
    imported.sort();
    assert_eq!(
        imported,
        [
            (
                "7a1c1a2e-5a1e-4f0e-9d7a-0c8f2f7a1c02@contoso.onmicrosoft.com".to_owned(),
                1,
                false
            ),
            ("Erin@Contoso.com".to_owned(), 1, true),
            ("Erin@Contoso.com".to_owned(), 2, true),
            ("frank@contoso.com".to_owned(), 1, true),
        ]
    );
    assert_store_holds(&store, &seen).await;
}

/// A store with three users of one app: two with valid access tokens, one whose access
/// token has expired (only its refresh token is usable).
async fn store_with_users(dir: &tempfile::TempDir) -> Store {
    let store = open(dir).await;
    let app = store
        .apps()
        .add(&NewAppRegistration {
            fields: AppFields {
                name: "Scripts".into(),
                client_id: EXPORT_CLIENT.into(),
                tenant: "common".into(),
                environment: "login.microsoftonline.com".into(),
                authority: "{}".into(),
                flow_type: FlowType::Public,
                redirect_kind: RedirectKind::Loopback,
                protocol: Value::Null,
                default_scopes: Vec::new(),
            },
            client_secret: None,
            certificate: None,
            source: AppSource::User,
        })
        .await
        .unwrap();
    let now = now_unix();
    for (name, oid, obtained_at) in [
        (
            "Grace@Contoso.com",
            "00000000-0000-0000-0000-000000009ace",
            now,
        ),
        (
            "heidi@contoso.com",
            "00000000-0000-0000-0000-00000000he1d",
            now,
        ),
        (
            "ivan@contoso.com",
            "00000000-0000-0000-0000-000000001fa0",
            now - 7200,
        ),
    ] {
        let identity = AccountIdentity {
            home_account_id: format!("{oid}.{TENANT}"),
            username: name.into(),
            display_name: Some(name.into()),
            tenant_id: TENANT.into(),
            local_account_id: Some(oid.into()),
        };
        let tokens = TokenSet {
            access_token: Secret::new(format!("at-store-{oid}")),
            token_type: "Bearer".into(),
            refresh_token: Some(Secret::new(format!("0.rt-store-{oid}"))),
            id_token: None,
            id_token_claims: None,
            client_info: None,
            scopes: Scopes::from_granted(GRAPH),
            obtained_at,
            expires_at: obtained_at + 3600,
            ext_expires_at: None,
            refresh_on: None,
        };
        store
            .tokens()
            .save(&app.id, &identity, &tokens, AccountSource::SignIn)
            .await
            .unwrap();
    }
    store
}

#[tokio::test]
#[ignore = "needs the real python-o365 and msal: run by make test"]
async fn accounts_exported_from_the_store_are_read_by_python_o365_and_msal() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_users(&dir).await;
    let file = dir.path().join("scripts").join("o365_token.txt");
    let report = export_token_file(&store, &file, &ExportSelection::all())
        .await
        .unwrap();
    assert_eq!(report.accounts.len(), 3, "{report:?}");

    let o365 = run(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/read_with_python_o365.py"),
        &[file.to_str().unwrap(), EXPORT_CLIENT, "common"],
    );
    assert_eq!(o365["is_authenticated"], true, "{o365}");
    assert_eq!(
        o365["usernames"],
        serde_json::json!(["Grace@Contoso.com", "heidi@contoso.com", "ivan@contoso.com"])
    );
    for (name, oid) in [
        ("Grace@Contoso.com", "00000000-0000-0000-0000-000000009ace"),
        ("heidi@contoso.com", "00000000-0000-0000-0000-00000000he1d"),
        ("ivan@contoso.com", "00000000-0000-0000-0000-000000001fa0"),
    ] {
        assert_eq!(
            o365["refresh_tokens"][name],
            format!("0.rt-store-{oid}"),
            "{o365}"
        );
    }
    assert_eq!(
        o365["access_tokens"]["Grace@Contoso.com"],
        "at-store-00000000-0000-0000-0000-000000009ace"
    );
    assert!(
        o365["access_tokens"]["ivan@contoso.com"].is_null(),
        "an expired access token is not exported: {o365}"
    );

    let mut scopes = vec![file.to_str().unwrap(), EXPORT_CLIENT, "common"];
    scopes.extend(GRAPH.split(' '));
    let msal = run(&script("read_with_msal.py"), &scopes);
    assert_eq!(
        msal["usernames"],
        serde_json::json!(["Grace@Contoso.com", "heidi@contoso.com", "ivan@contoso.com"]),
        "{msal}"
    );
    // A valid access token comes from the file; ivan's expired one made MSAL redeem his
    // refresh token; forcing a refresh shows MSAL found each account's refresh token.
    assert_eq!(
        msal["access_tokens"]["heidi@contoso.com"],
        "at-store-00000000-0000-0000-0000-00000000he1d"
    );
    assert!(
        msal["access_tokens"]["ivan@contoso.com"].is_null(),
        "{msal}"
    );
    for (name, oid) in [
        ("Grace@Contoso.com", "00000000-0000-0000-0000-000000009ace"),
        ("heidi@contoso.com", "00000000-0000-0000-0000-00000000he1d"),
        ("ivan@contoso.com", "00000000-0000-0000-0000-000000001fa0"),
    ] {
        assert_eq!(
            msal["refresh_tokens"][name],
            format!("0.rt-store-{oid}"),
            "{msal}"
        );
    }
}

#[tokio::test]
#[ignore = "needs the real python-o365 and msal: run by make test"]
async fn an_export_into_a_file_python_o365_wrote_keeps_its_accounts_for_python_o365() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("o365_token.txt");
    let written = run(
        &script("write_with_python_o365.py"),
        &[file.to_str().unwrap()],
    );
    let store = store_with_users(&dir).await;
    export_token_file(
        &store,
        &file,
        &ExportSelection::accounts(["grace@contoso.com"]),
    )
    .await
    .unwrap();

    // python-o365's token backend is not per app: it lists every Account entry and hands
    // out the first refresh token of a user. Its users come first, with their own tokens.
    let o365 = run(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/read_with_python_o365.py"),
        &[file.to_str().unwrap(), EXPORT_CLIENT, "common"],
    );
    assert_eq!(o365["is_authenticated"], true, "{o365}");
    assert_eq!(
        o365["usernames"],
        serde_json::json!(["Carol@Contoso.com", "dave@contoso.com", "Grace@Contoso.com"]),
        "{o365}"
    );
    assert_eq!(
        o365["refresh_tokens"]["Grace@Contoso.com"],
        "0.rt-store-00000000-0000-0000-0000-000000009ace"
    );
    for account in written["accounts"].as_array().unwrap() {
        let first = written["refresh_tokens"]
            .as_array()
            .unwrap()
            .iter()
            .find(|refresh| refresh["home_account_id"] == account["home_account_id"])
            .unwrap();
        assert_eq!(
            o365["refresh_tokens"][text(account, "username")],
            first["secret"],
            "{o365}"
        );
    }

    // MSAL, which is per app, finds our account's refresh token under our app and every
    // python-o365 user's under theirs.
    let mut args = vec![file.to_str().unwrap(), EXPORT_CLIENT, "common"];
    args.extend(GRAPH.split(' '));
    let msal = run(&script("read_with_msal.py"), &args);
    assert_eq!(
        msal["refresh_tokens"],
        serde_json::json!({"Grace@Contoso.com": "0.rt-store-00000000-0000-0000-0000-000000009ace"}),
        "{msal}"
    );
    for refresh in written["refresh_tokens"].as_array().unwrap() {
        let client_id = text(refresh, "client_id");
        let mut args = vec![file.to_str().unwrap(), client_id, "common"];
        args.extend(GRAPH.split(' '));
        let theirs = run(&script("read_with_msal.py"), &args);
        let name = written["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["home_account_id"] == refresh["home_account_id"])
            .map(|a| text(a, "username"))
            .unwrap();
        assert_eq!(
            theirs["refresh_tokens"][name], refresh["secret"],
            "{client_id}: {theirs}"
        );
        assert!(
            theirs["refresh_tokens"]["Grace@Contoso.com"].is_null(),
            "{theirs}"
        );
    }
}
