//! Importing python-o365 / MSAL token files into the store and exporting accounts to them, on
//! real SQLite and token files: whole files in one transaction, skips with their reasons,
//! selections, merging into an existing cache, and files that are not caches left alone. The
//! same against the real `o365` and `msal` Python packages is in `store_interop.rs`.

use std::path::{Path, PathBuf};

use o365_auth_core::Secret;
use o365_auth_core::backend::{AppKey, FileBackend, TokenBackend};
use o365_auth_core::scopes::Scopes;
use o365_auth_core::store::accounts::{AccountSource, AccountStatus};
use o365_auth_core::store::apps::{
    AppFields, AppSource, FlowType, NewAppRegistration, RedirectKind,
};
use o365_auth_core::store::key::DataKey;
use o365_auth_core::store::transfer::SkipReason;
use o365_auth_core::store::{
    ExportSelection, KeySource, Store, StoreBackend, StoreOptions, export_token_file,
    import_token_file,
};
use o365_auth_core::token::{AccountIdentity, TokenSet, now_unix};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/msal-1.39.0-two-users-and-app.json"
);
const FIXTURE_CLIENT: &str = "9b3c1a2e-5a1e-4f0e-9d7a-0c8f2f7a1b11";
const CLIENT: &str = "11111111-2222-3333-4444-555555555555";
const GRAPH: &str = "https://graph.microsoft.com/User.Read https://graph.microsoft.com/Mail.Read";
const OUTLOOK: &str = "https://outlook.office.com/IMAP.AccessAsUser.All";

async fn open(dir: &tempfile::TempDir) -> Store {
    Store::open(
        StoreOptions::at(dir.path().join("store").join("store.sqlite3"))
            .with_key(KeySource::Key(DataKey::from_bytes([9; 32]))),
    )
    .await
    .expect("open")
}

fn app(client_id: &str) -> AppKey {
    AppKey {
        client_id: client_id.into(),
        environment: "login.microsoftonline.com".into(),
        realm: "common".into(),
    }
}

fn identity(name: &str) -> AccountIdentity {
    AccountIdentity {
        home_account_id: format!("{name}-oid.tenant-1"),
        username: format!("{name}@Contoso.com"),
        display_name: Some(name.into()),
        tenant_id: "tenant-1".into(),
        local_account_id: Some(format!("{name}-oid")),
    }
}

fn tokens(access: &str, refresh: Option<&str>, scopes: &str, obtained_at: i64) -> TokenSet {
    TokenSet {
        access_token: Secret::new(access),
        token_type: "Bearer".into(),
        refresh_token: refresh.map(Secret::new),
        id_token: None,
        id_token_claims: None,
        client_info: None,
        scopes: Scopes::from_granted(scopes),
        obtained_at,
        expires_at: obtained_at + 3600,
        ext_expires_at: None,
        refresh_on: None,
    }
}

fn copy_fixture(dir: &tempfile::TempDir) -> PathBuf {
    let path = dir.path().join("o365_token.txt");
    std::fs::copy(FIXTURE, &path).expect("copy");
    path
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

fn names(list: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut names: Vec<String> = list.into_iter().collect();
    names.sort();
    names
}

async fn registration(store: &Store, name: &str, client_id: &str, tenant: &str) -> String {
    store
        .apps()
        .add(&NewAppRegistration {
            fields: AppFields {
                name: name.into(),
                client_id: client_id.into(),
                tenant: tenant.into(),
                environment: "login.microsoftonline.com".into(),
                authority: "{}".into(),
                flow_type: FlowType::Authorization,
                redirect_kind: RedirectKind::Loopback,
                protocol: serde_json::Value::Null,
                default_scopes: Vec::new(),
            },
            client_secret: None,
            certificate: None,
            source: AppSource::User,
        })
        .await
        .expect("add app")
        .id
}

#[tokio::test]
async fn an_msal_file_is_imported_whole_and_importing_it_again_changes_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let store = open(&dir).await;
    let file = copy_fixture(&dir);

    let report = import_token_file(&store, &file).await.expect("import");
    assert_eq!(report.file, file);
    assert_eq!(report.apps.len(), 1, "{report:?}");
    assert!(report.apps[0].created);
    assert_eq!(report.apps[0].client_id, FIXTURE_CLIENT);
    assert_eq!(report.apps[0].tenant, "common");
    assert_eq!(
        names(report.accounts.iter().map(|a| a.username.clone())),
        ["Alice@Contoso.com", "bob@contoso.com"]
    );
    for account in &report.accounts {
        assert!(account.created && account.refresh_token, "{account:?}");
        assert_eq!(
            account.access_tokens, 0,
            "the fixture's access tokens have expired"
        );
    }
    // The app-only token: no refresh token, expired, so nothing to import.
    assert_eq!(report.skipped.len(), 1, "{report:?}");
    assert_eq!(report.skipped[0].reason, SkipReason::NothingUsable);
    assert_eq!(report.skipped[0].reason.code(), "nothing_usable");
    assert_eq!(
        report.skipped[0].username,
        format!("{FIXTURE_CLIENT}@contoso.onmicrosoft.com")
    );
    let shown = format!(
        "{report:?} {}",
        serde_json::to_string(&report).expect("json")
    );
    assert!(
        !shown.contains("rt-0000"),
        "no token in the report: {shown}"
    );

    let registration = store
        .apps()
        .get(&report.apps[0].app_id)
        .await
        .expect("get")
        .expect("registration");
    assert_eq!(registration.source, AppSource::Import);
    assert_eq!(registration.fields.flow_type, FlowType::Public);
    let stored = store
        .accounts()
        .list(Some(&registration.id))
        .await
        .expect("list");
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(|a| a.source == AccountSource::Import));
    let alice = stored
        .iter()
        .find(|a| a.identity.username == "Alice@Contoso.com")
        .expect("alice");
    assert_eq!(
        alice.identity.home_account_id,
        "00000000-0000-0000-0000-00000000a11c.72f988bf-86f1-41af-91ab-2d7cd011db47"
    );
    assert_eq!(alice.identity.display_name.as_deref(), Some("Alice Ågren"));
    assert_eq!(
        store
            .accounts()
            .refresh_token(&alice.id)
            .await
            .expect("rt")
            .as_ref()
            .map(Secret::expose),
        Some("0.rt-00000000-0000-0000-0000-00000000a11c")
    );

    // Through the TokenBackend an account with only a refresh token loads with an expired,
    // empty access token, so an Account refreshes it (as with the file itself).
    let backend = StoreBackend::new(store.clone());
    let loaded = backend
        .load(&app(FIXTURE_CLIENT), "alice@contoso.com", None)
        .await
        .expect("load")
        .expect("alice");
    assert!(loaded.tokens.is_expired_at(now_unix()));
    assert_eq!(
        loaded.tokens.refresh_token.as_ref().map(Secret::expose),
        Some("0.rt-00000000-0000-0000-0000-00000000a11c")
    );
    assert!(loaded.tokens.id_token_claims.is_some());

    let again = import_token_file(&store, &file).await.expect("again");
    assert!(
        again.apps.is_empty() && again.accounts.is_empty(),
        "{again:?}"
    );
    assert_eq!(
        again
            .skipped
            .iter()
            .filter(|s| s.reason == SkipReason::StoreIsNewer)
            .count(),
        2
    );
    assert_eq!(store.apps().list().await.expect("apps").len(), 1);
    assert_eq!(store.accounts().list(None).await.expect("list").len(), 2);
}

#[tokio::test]
async fn valid_access_tokens_come_along_and_only_newer_file_tokens_replace_the_stores() {
    let dir = tempfile::tempdir().expect("dir");
    let store = open(&dir).await;
    let path = dir.path().join("tokens.json");
    let file = FileBackend::new(&path);
    let now = now_unix();
    let (alice, bob) = (identity("alice"), identity("bob"));
    file.save(
        &app(CLIENT),
        &alice,
        &tokens("at-graph", Some("rt-alice-1"), GRAPH, now),
    )
    .await
    .expect("save");
    file.save(&app(CLIENT), &alice, &tokens("at-imap", None, OUTLOOK, now))
        .await
        .expect("save");
    file.save(
        &app(CLIENT),
        &bob,
        &tokens("at-bob-old", Some("rt-bob-1"), GRAPH, now - 7200),
    )
    .await
    .expect("save");

    let report = import_token_file(&store, &path).await.expect("import");
    let counts: Vec<(String, usize)> = report
        .accounts
        .iter()
        .map(|a| (a.username.clone(), a.access_tokens))
        .collect();
    assert_eq!(
        counts,
        [
            ("alice@Contoso.com".to_owned(), 2),
            ("bob@Contoso.com".to_owned(), 0)
        ],
        "expired access tokens stay behind"
    );
    let alice_id = report.accounts[0].account_id.clone();
    let imap = Scopes::from_granted(OUTLOOK);
    let served = store
        .valid_access_token(&alice_id, Some(&imap), now_unix(), 60)
        .await
        .expect("lookup")
        .expect("valid");
    assert_eq!(served.access_token.expose(), "at-imap");

    // The store refreshed alice later than the file was written: the file does not win.
    store
        .tokens()
        .save(
            &report.accounts[0].app_id,
            &alice,
            &tokens("at-store", Some("rt-alice-store"), GRAPH, now + 600),
            AccountSource::SignIn,
        )
        .await
        .expect("refresh");
    // A python-o365 script refreshed bob in the file since the import: the file wins.
    file.save(
        &app(CLIENT),
        &bob,
        &tokens("at-bob-new", Some("rt-bob-2"), GRAPH, now + 60),
    )
    .await
    .expect("save");
    let report = import_token_file(&store, &path).await.expect("import");
    assert_eq!(report.accounts.len(), 1, "{report:?}");
    assert_eq!(report.accounts[0].username, "bob@Contoso.com");
    assert!(!report.accounts[0].created);
    assert_eq!(report.accounts[0].access_tokens, 1);
    assert_eq!(report.skipped.len(), 1);
    assert_eq!(report.skipped[0].username, "alice@Contoso.com");
    assert_eq!(report.skipped[0].reason, SkipReason::StoreIsNewer);
    let rt = |id: String| {
        let store = store.clone();
        async move {
            store
                .accounts()
                .refresh_token(&id)
                .await
                .expect("rt")
                .map(|rt| rt.expose().to_owned())
        }
    };
    assert_eq!(rt(alice_id).await.as_deref(), Some("rt-alice-store"));
    assert_eq!(
        rt(report.accounts[0].account_id.clone()).await.as_deref(),
        Some("rt-bob-2")
    );
}

#[tokio::test]
async fn an_existing_registration_of_the_same_client_id_is_reused() {
    let dir = tempfile::tempdir().expect("dir");
    let store = open(&dir).await;
    let mine = registration(&store, "Contoso mail", FIXTURE_CLIENT, "organizations").await;
    registration(&store, "Other app", CLIENT, "common").await;
    let report = import_token_file(&store, &copy_fixture(&dir))
        .await
        .expect("import");
    assert_eq!(report.apps.len(), 1);
    assert!(!report.apps[0].created);
    assert_eq!(report.apps[0].app_id, mine);
    assert_eq!(report.apps[0].name, "Contoso mail");
    assert_eq!(store.apps().list().await.expect("apps").len(), 2);
    assert!(report.accounts.iter().all(|a| a.app_id == mine));
    let registration = store.apps().get(&mine).await.expect("get").expect("app");
    assert_eq!(
        registration.source,
        AppSource::User,
        "a person's registration stays theirs"
    );
}

#[tokio::test]
async fn an_import_that_fails_halfway_stores_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let store = open(&dir).await;
    let file = copy_fixture(&dir);
    // The second account's insert fails after the registration and the first account were
    // written in the same transaction.
    sqlx::query(
        "CREATE TRIGGER refuse_bob BEFORE INSERT ON accounts \
         WHEN NEW.username = 'bob@contoso.com' BEGIN SELECT RAISE(ABORT, 'disk on fire'); END",
    )
    .execute(store.pool())
    .await
    .expect("trigger");
    let error = import_token_file(&store, &file).await.expect_err("fails");
    assert_eq!(error.code(), "store_io", "{error}");
    assert!(store.apps().list().await.expect("apps").is_empty());
    assert!(
        store
            .accounts()
            .list(None)
            .await
            .expect("accounts")
            .is_empty()
    );

    sqlx::query("DROP TRIGGER refuse_bob")
        .execute(store.pool())
        .await
        .expect("drop");
    let report = import_token_file(&store, &file).await.expect("import");
    assert_eq!(report.accounts.len(), 2);
}

#[tokio::test]
async fn a_missing_or_unreadable_file_is_a_token_file_error_naming_it_and_is_left_alone() {
    let dir = tempfile::tempdir().expect("dir");
    let store = open(&dir).await;
    let missing = dir.path().join("nowhere.json");
    let error = import_token_file(&store, &missing)
        .await
        .expect_err("missing");
    assert_eq!(error.code(), "token_file");
    assert!(error.to_string().contains("nowhere.json"), "{error}");
    assert!(!missing.exists());

    let path = dir.path().join("o365_token.txt");
    for content in [
        "{\"AccessToken\": {\"k\": {\"secret\": \"eyJ-secret-cut",
        "{\"access_token\": \"old-secret\", \"refresh_token\": \"old-secret-rt\"}",
        "{\"RefreshToken\": {\"k\": \"0.old-secret\"}}",
    ] {
        std::fs::write(&path, content).expect("write");
        let error = import_token_file(&store, &path)
            .await
            .expect_err("bad file");
        assert_eq!(error.code(), "token_file");
        let shown = format!("{error} {error:?}");
        assert!(shown.contains("o365_token.txt"), "{shown}");
        assert!(!shown.contains("secret"), "no token in errors: {shown}");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), content);
    }
    assert!(store.apps().list().await.expect("apps").is_empty());

    std::fs::write(&path, "").expect("write");
    let report = import_token_file(&store, &path).await.expect("empty file");
    assert!(report.accounts.is_empty() && report.skipped.is_empty());
}

/// A store with alice and bob (refresh tokens; alice's access token valid, bob's expired),
/// carol (needs sign-in) and dave (no refresh token, expired access token), in app `Mail`.
async fn populated(store: &Store) -> String {
    let app_id = registration(store, "Mail", CLIENT, "common").await;
    let now = now_unix();
    let save = |name: &'static str, set: TokenSet| {
        let app_id = app_id.clone();
        async move {
            store
                .tokens()
                .save(&app_id, &identity(name), &set, AccountSource::SignIn)
                .await
                .expect("save")
        }
    };
    save("alice", tokens("at-alice", Some("rt-alice"), GRAPH, now)).await;
    save("alice", tokens("at-alice-imap", None, OUTLOOK, now)).await;
    save("bob", tokens("at-bob", Some("rt-bob"), GRAPH, now - 7200)).await;
    let carol = save("carol", tokens("at-carol", Some("rt-carol"), GRAPH, now)).await;
    store
        .accounts()
        .set_status(&carol, AccountStatus::NeedsSignIn, Some("invalid_grant"))
        .await
        .expect("status");
    save("dave", tokens("at-dave", None, GRAPH, now - 7200)).await;
    app_id
}

#[tokio::test]
async fn export_writes_a_private_msal_file_with_every_usable_account() {
    let dir = tempfile::tempdir().expect("dir");
    let store = open(&dir).await;
    populated(&store).await;
    let path = dir.path().join("out").join("o365_token.txt");
    let report = export_token_file(&store, &path, &ExportSelection::all())
        .await
        .expect("export");
    let exported: Vec<(String, bool, usize)> = report
        .accounts
        .iter()
        .map(|a| (a.username.clone(), a.refresh_token, a.access_tokens))
        .collect();
    assert_eq!(
        exported,
        [
            ("alice@Contoso.com".to_owned(), true, 2),
            ("bob@Contoso.com".to_owned(), true, 0)
        ]
    );
    let skipped: Vec<(String, SkipReason)> = report
        .skipped
        .iter()
        .map(|s| (s.username.clone(), s.reason))
        .collect();
    assert_eq!(
        skipped,
        [
            ("carol@Contoso.com".to_owned(), SkipReason::NeedsSignIn),
            ("dave@Contoso.com".to_owned(), SkipReason::NothingUsable)
        ]
    );
    assert_eq!(mode(&path), 0o600);
    let shown = format!("{report:?}");
    assert!(!shown.contains("rt-") && !shown.contains("at-"), "{shown}");

    let file = FileBackend::new(&path);
    let users = file.accounts(&app(CLIENT)).await.expect("accounts");
    assert_eq!(
        names(users.into_iter().map(|u| u.username)),
        ["alice@Contoso.com", "bob@Contoso.com"]
    );
    let imap = Scopes::from_granted(OUTLOOK);
    let alice = file
        .load(&app(CLIENT), "alice@contoso.com", Some(&imap))
        .await
        .expect("load")
        .expect("alice");
    assert_eq!(alice.tokens.access_token.expose(), "at-alice-imap");
    assert_eq!(
        alice.tokens.refresh_token.as_ref().map(Secret::expose),
        Some("rt-alice")
    );
    assert_eq!(alice.identity.home_account_id, "alice-oid.tenant-1");
    let bob = file
        .load(&app(CLIENT), "bob@contoso.com", None)
        .await
        .expect("load")
        .expect("bob");
    assert_eq!(
        bob.tokens.refresh_token.as_ref().map(Secret::expose),
        Some("rt-bob")
    );
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(!text.contains("at-bob") && !text.contains("carol") && !text.contains("dave"));
}

#[tokio::test]
async fn export_takes_a_selection_by_name_and_app_and_checks_it_before_writing() {
    let dir = tempfile::tempdir().expect("dir");
    let store = open(&dir).await;
    populated(&store).await;
    let other = registration(&store, "Calendar", FIXTURE_CLIENT, "common").await;
    store
        .tokens()
        .save(
            &other,
            &identity("alice"),
            &tokens("at-cal", Some("rt-cal"), GRAPH, now_unix()),
            AccountSource::SignIn,
        )
        .await
        .expect("save");
    let path = dir.path().join("o365_token.txt");

    let unknown = export_token_file(
        &store,
        &path,
        &ExportSelection::accounts(["ALICE@contoso.com", "nobody@contoso.com"]),
    )
    .await
    .expect_err("unknown name");
    assert_eq!(unknown.code(), "no_account");
    assert!(
        unknown.to_string().contains("nobody@contoso.com"),
        "{unknown}"
    );
    let unknown_app = export_token_file(&store, &path, &ExportSelection::all().in_app("Nope"))
        .await
        .expect_err("unknown app");
    assert_eq!(unknown_app.code(), "invalid_input");
    assert!(
        !path.exists(),
        "nothing written for a selection that does not hold"
    );

    // A username names the account in every app.
    let both = export_token_file(
        &store,
        &path,
        &ExportSelection::accounts(["ALICE@contoso.com"]),
    )
    .await
    .expect("export");
    assert_eq!(
        names(both.accounts.iter().map(|a| a.app_name.clone())),
        ["Calendar", "Mail"]
    );
    let file = FileBackend::new(&path);
    let cal = file
        .load(&app(FIXTURE_CLIENT), "alice@contoso.com", None)
        .await
        .expect("load")
        .expect("alice in calendar");
    assert_eq!(
        cal.tokens.refresh_token.as_ref().map(Secret::expose),
        Some("rt-cal")
    );

    let one_path = dir.path().join("one.json");
    let one = export_token_file(
        &store,
        &one_path,
        &ExportSelection::accounts(["bob-oid.tenant-1"]).in_app("Mail"),
    )
    .await
    .expect("export");
    assert_eq!(one.accounts.len(), 1);
    assert_eq!(one.accounts[0].username, "bob@Contoso.com");
    let only = FileBackend::new(&one_path);
    assert_eq!(
        only.accounts(&app(CLIENT)).await.expect("accounts").len(),
        1
    );
    assert!(
        only.accounts(&app(FIXTURE_CLIENT))
            .await
            .expect("accounts")
            .is_empty()
    );

    // Nothing usable selected: the file is not created.
    let none_path = dir.path().join("none.json");
    let none = export_token_file(
        &store,
        &none_path,
        &ExportSelection::accounts(["dave@contoso.com"]),
    )
    .await
    .expect("export");
    assert!(none.accounts.is_empty());
    assert!(!none_path.exists());
}

#[tokio::test]
async fn export_merges_into_a_cache_and_refuses_files_that_are_not_token_caches() {
    let dir = tempfile::tempdir().expect("dir");
    let store = open(&dir).await;
    populated(&store).await;

    // An existing cache: its other app and its unknown section stay.
    let path = copy_fixture(&dir);
    let before = std::fs::read_to_string(&path).expect("read");
    export_token_file(
        &store,
        &path,
        &ExportSelection::accounts(["alice@contoso.com"]),
    )
    .await
    .expect("export");
    let file = FileBackend::new(&path);
    let apps = file.apps().await.expect("apps");
    assert_eq!(apps.len(), 2, "{apps:?}");
    let fixture_users = file.accounts(&app(FIXTURE_CLIENT)).await.expect("users");
    assert_eq!(fixture_users.len(), 3, "the file's own accounts stay");
    assert!(
        file.load(&app(CLIENT), "alice@contoso.com", None)
            .await
            .expect("load")
            .is_some()
    );
    assert_ne!(std::fs::read_to_string(&path).expect("read"), before);

    let store_file = store.path().to_owned();
    for (name, content) in [
        (
            "tsconfig.json",
            Some("{\"compilerOptions\": {\"strict\": true}}"),
        ),
        (
            "package.json",
            Some("{\"name\": \"x\", \"version\": \"1.0.0\"}"),
        ),
        ("broken.json", Some("{\"AccessToken\": {")),
        (
            "legacy.txt",
            Some("{\"access_token\": \"x\", \"refresh_token\": \"y\"}"),
        ),
        ("store", None),
    ] {
        let target = match content {
            Some(content) => {
                let target = dir.path().join(name);
                std::fs::write(&target, content).expect("write");
                target
            }
            None => store_file.clone(),
        };
        let original = std::fs::read(&target).expect("read");
        let error = export_token_file(&store, &target, &ExportSelection::all())
            .await
            .expect_err(name);
        assert_eq!(error.code(), "token_file", "{name}: {error}");
        let shown = format!("{error} {error:?}");
        assert!(
            shown.contains(target.file_name().and_then(|n| n.to_str()).expect("name")),
            "{shown}"
        );
        assert!(
            !shown.contains("rt-alice") && !shown.contains("at-alice"),
            "{shown}"
        );
        assert_eq!(
            std::fs::read(&target).expect("read"),
            original,
            "{name} untouched"
        );
    }
    // The store still opens and holds its accounts.
    assert_eq!(store.accounts().list(None).await.expect("list").len(), 4);
}

#[tokio::test]
async fn what_is_imported_exports_back_with_the_same_refresh_tokens() {
    let dir = tempfile::tempdir().expect("dir");
    let store = open(&dir).await;
    let source = copy_fixture(&dir);
    import_token_file(&store, &source).await.expect("import");
    let out = dir.path().join("exported.json");
    let report = export_token_file(&store, &out, &ExportSelection::all())
        .await
        .expect("export");
    assert_eq!(report.accounts.len(), 2);
    let (from, to) = (FileBackend::new(&source), FileBackend::new(&out));
    for name in ["alice@contoso.com", "bob@contoso.com"] {
        let original = from
            .load(&app(FIXTURE_CLIENT), name, None)
            .await
            .expect("load")
            .expect("original");
        let round_trip = to
            .load(&app(FIXTURE_CLIENT), name, None)
            .await
            .expect("load")
            .expect("exported");
        assert_eq!(
            round_trip.identity.home_account_id,
            original.identity.home_account_id
        );
        assert_eq!(round_trip.identity.username, original.identity.username);
        assert_eq!(
            round_trip.tokens.refresh_token.as_ref().map(Secret::expose),
            original.tokens.refresh_token.as_ref().map(Secret::expose)
        );
        assert_eq!(
            round_trip.tokens.id_token.as_ref().map(Secret::expose),
            original.tokens.id_token.as_ref().map(Secret::expose)
        );
    }
}
