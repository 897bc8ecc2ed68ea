//! The SQLite token store on real files: pragmas, reopening, keys, damaged and foreign files,
//! two stores on one file, ownership, pending sign-ins, the audit log, the token index, and no
//! secret in the database, its WAL or its shared memory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use o365_auth_core::Secret;
use o365_auth_core::backend::{AppKey, TokenBackend};
use o365_auth_core::scopes::Scopes;
use o365_auth_core::store::accounts::{AccountSource, AccountStatus};
use o365_auth_core::store::apps::{
    AppFields, AppSource, FlowType, NewAppRegistration, RedirectKind,
};
use o365_auth_core::store::audit::{AuditEvent, AuditPeer, Channel};
use o365_auth_core::store::key::DataKey;
use o365_auth_core::store::pending::PendingSignIn;
use o365_auth_core::store::{
    APPLICATION_ID, KeySource, Ownership, Store, StoreBackend, StoreOptions,
};
use o365_auth_core::token::{AccountIdentity, TokenSet, now_unix};
use sqlx::Connection;

const KEY: [u8; 32] = [7; 32];

fn db_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("nested").join("store.sqlite3")
}

async fn open_at(path: &Path) -> Store {
    Store::open(StoreOptions::at(path).with_key(KeySource::Key(DataKey::from_bytes(KEY))))
        .await
        .expect("open")
}

fn unique(label: &str) -> String {
    format!("{label}-{}", uuid::Uuid::new_v4().simple())
}

fn app_fields(name: &str, client_id: &str) -> AppFields {
    AppFields {
        name: name.into(),
        client_id: client_id.into(),
        tenant: "common".into(),
        environment: "login.microsoftonline.com".into(),
        authority: r#"{"cloud":"global"}"#.into(),
        flow_type: FlowType::Authorization,
        redirect_kind: RedirectKind::Loopback,
        protocol: serde_json::json!({"kind": "graph"}),
        default_scopes: vec!["basic".into(), "mailbox".into()],
    }
}

fn new_app(name: &str, client_id: &str, secret: Option<&str>) -> NewAppRegistration {
    NewAppRegistration {
        fields: app_fields(name, client_id),
        client_secret: secret.map(Secret::new),
        certificate: None,
        source: AppSource::User,
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

fn tokens(access: &str, refresh: Option<&str>, scopes: &str, expires_at: i64) -> TokenSet {
    TokenSet {
        access_token: Secret::new(access),
        token_type: "Bearer".into(),
        refresh_token: refresh.map(Secret::new),
        id_token: None,
        id_token_claims: None,
        client_info: None,
        scopes: Scopes::from_granted(scopes),
        obtained_at: expires_at - 3600,
        expires_at,
        ext_expires_at: Some(expires_at + 3600),
        refresh_on: None,
    }
}

const GRAPH: &str = "https://graph.microsoft.com/User.Read https://graph.microsoft.com/Mail.Read";

#[cfg(unix)]
/// Saves a password-style sign-in of `name` under `app_id` with one access token; its id.
async fn save_sign_in(
    store: &Store,
    app_id: &str,
    name: &str,
    access: &str,
    scopes: &str,
    expires_at: i64,
) -> String {
    store
        .tokens()
        .save(
            app_id,
            &identity(name),
            &tokens(access, Some("rt"), scopes, expires_at),
            AccountSource::SignIn,
        )
        .await
        .expect("save")
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn a_new_store_is_private_and_runs_with_wal_full_sync_busy_timeout_and_foreign_keys() {
    let dir = tempfile::tempdir().expect("dir");
    let path = db_path(&dir);
    let store = open_at(&path).await;
    #[cfg(unix)]
    {
        assert_eq!(mode(path.parent().expect("parent")), 0o700);
        assert_eq!(mode(&path), 0o600);
    }
    let mut connection = store.pool().acquire().await.expect("connection");
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut *connection)
        .await
        .expect("journal");
    let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(&mut *connection)
        .await
        .expect("sync");
    let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(&mut *connection)
        .await
        .expect("busy");
    let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(&mut *connection)
        .await
        .expect("fk");
    let application_id: i64 = sqlx::query_scalar("PRAGMA application_id")
        .fetch_one(&mut *connection)
        .await
        .expect("app id");
    assert_eq!(journal, "wal");
    assert_eq!(synchronous, 2, "FULL");
    assert_eq!(busy, 5000);
    assert_eq!(foreign_keys, 1);
    assert_eq!(application_id, i64::from(APPLICATION_ID));
    drop(connection);
    // Something written makes the WAL and shared-memory files, private like the database.
    store
        .apps()
        .add(&new_app("a", "c", None))
        .await
        .expect("add");
    #[cfg(unix)]
    for suffix in ["-wal", "-shm"] {
        let companion = PathBuf::from(format!("{}{suffix}", path.display()));
        assert_eq!(mode(&companion), 0o600, "{suffix}");
    }
    assert!(uuid::Uuid::parse_str(store.store_id()).is_ok());
}

#[tokio::test]
async fn reopening_keeps_registrations_accounts_tokens_pending_sign_ins_and_audit() {
    let dir = tempfile::tempdir().expect("dir");
    let path = db_path(&dir);
    let store = open_at(&path).await;
    let app = store
        .apps()
        .add(&new_app("work", "client-1", Some("client-secret-value")))
        .await
        .expect("add");
    let account_id = store
        .tokens()
        .save(
            &app.id,
            &identity("alice"),
            &tokens("at-1", Some("rt-1"), GRAPH, now_unix() + 3600),
            AccountSource::SignIn,
        )
        .await
        .expect("save");
    store
        .accounts()
        .set_alias(&account_id, Some("me"))
        .await
        .expect("alias");
    store
        .pending()
        .put(&PendingSignIn {
            state: "state-1".into(),
            app_id: app.id.clone(),
            flow: serde_json::json!({"redirect_uri": "http://localhost:1234"}),
            pkce_verifier: Secret::new("verifier-1"),
            created_at: now_unix(),
            expires_at: now_unix() + 600,
        })
        .await
        .expect("pending");
    store
        .audit()
        .record(&AuditEvent {
            account_id: Some(account_id.clone()),
            username: "alice@Contoso.com".into(),
            scopes: GRAPH.into(),
            channel: Channel::Cli,
            peer: AuditPeer::default(),
        })
        .await
        .expect("audit");
    let store_id = store.store_id().to_owned();
    store.close().await;
    drop(store);

    let store = open_at(&path).await;
    assert_eq!(store.store_id(), store_id);
    let apps = store.apps().list().await.expect("list");
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0].fields, app_fields("work", "client-1"));
    assert!(apps[0].has_client_secret);
    assert_eq!(
        store.apps().client_secret(&app.id).await.expect("secret"),
        Some(Secret::new("client-secret-value"))
    );
    let account = store
        .accounts()
        .find(&app.id, "ALICE@contoso.COM")
        .await
        .expect("find")
        .expect("alice");
    assert_eq!(account.id, account_id);
    assert_eq!(account.alias.as_deref(), Some("me"));
    assert_eq!(account.status, AccountStatus::Fresh);
    assert_eq!(account.identity, identity("alice"));
    let by_alias = store.accounts().find(&app.id, "me").await.expect("alias");
    assert_eq!(by_alias.map(|record| record.id), Some(account_id.clone()));
    let set = store
        .tokens()
        .best(&account_id, None)
        .await
        .expect("best")
        .expect("tokens");
    assert_eq!(set.access_token.expose(), "at-1");
    assert_eq!(set.refresh_token, Some(Secret::new("rt-1")));
    assert_eq!(set.ext_expires_at, Some(set.expires_at + 3600));
    let pending = store.pending().take("state-1").await.expect("take");
    assert_eq!(
        pending.map(|pending| pending.pkce_verifier),
        Some(Secret::new("verifier-1"))
    );
    assert_eq!(store.audit().recent(10).await.expect("recent").len(), 1);
}

#[tokio::test]
async fn a_wrong_key_or_passphrase_is_a_clear_error_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let path = db_path(&dir);
    let store = open_at(&path).await;
    store
        .apps()
        .add(&new_app("a", "c", Some("s")))
        .await
        .expect("add");
    store.close().await;
    drop(store);

    let error =
        Store::open(StoreOptions::at(&path).with_key(KeySource::Key(DataKey::from_bytes([8; 32]))))
            .await
            .expect_err("wrong key");
    assert_eq!(error.code(), "store_key_mismatch", "{error}");
    assert!(error.to_string().contains("does not open"), "{error}");

    let error =
        Store::open(StoreOptions::at(&path).with_key(KeySource::Passphrase(Secret::new("pass"))))
            .await
            .expect_err("wrong source");
    assert_eq!(error.code(), "store_key_mismatch", "{error}");
    assert!(error.to_string().contains("explicit"), "{error}");

    // The right key still opens it, secrets intact.
    let store = open_at(&path).await;
    let app = store.apps().by_name("a").await.expect("get").expect("a");
    assert_eq!(
        store.apps().client_secret(&app.id).await.expect("secret"),
        Some(Secret::new("s"))
    );
}

#[tokio::test]
async fn a_passphrase_store_opens_with_its_passphrase_only() {
    let dir = tempfile::tempdir().expect("dir");
    let path = db_path(&dir);
    let options =
        |phrase: &str| StoreOptions::at(&path).with_key(KeySource::Passphrase(Secret::new(phrase)));
    let store = Store::open(options("correct horse")).await.expect("create");
    store
        .apps()
        .add(&new_app("a", "c", Some("s")))
        .await
        .expect("add");
    store.close().await;
    drop(store);
    let error = Store::open(options("wrong horse"))
        .await
        .expect_err("wrong");
    assert_eq!(error.code(), "store_key_mismatch", "{error}");
    let error = Store::open(options("")).await.expect_err("empty");
    assert_eq!(error.code(), "passphrase_empty", "{error}");
    let store = Store::open(options("correct horse")).await.expect("reopen");
    assert_eq!(store.apps().list().await.expect("list").len(), 1);
}

fn assert_untouched(path: &Path, before: &[u8]) {
    assert_eq!(
        std::fs::read(path).expect("read"),
        before,
        "the file was modified"
    );
}

#[tokio::test]
async fn random_bytes_are_a_corrupt_store_left_untouched_until_set_aside() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("store.sqlite3");
    let bytes: Vec<u8> = (0..8192u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&path, &bytes).expect("write");
    let error = Store::open(StoreOptions::at(&path).with_key(KeySource::Key(DataKey::random())))
        .await
        .expect_err("corrupt");
    assert_eq!(error.code(), "store_corrupt", "{error}");
    assert!(
        error.to_string().contains("not an SQLite database"),
        "{error}"
    );
    assert!(error.to_string().contains("store.sqlite3"), "{error}");
    assert_untouched(&path, &bytes);

    let aside = Store::set_aside(&path).expect("set aside");
    assert!(!path.exists());
    assert!(
        aside
            .file_name()
            .expect("name")
            .to_string_lossy()
            .starts_with("store.sqlite3.corrupt-"),
        "{}",
        aside.display()
    );
    assert_untouched(&aside, &bytes);
    // A new store starts in its place.
    let store = open_at(&path).await;
    assert!(store.apps().list().await.expect("list").is_empty());
}

#[tokio::test]
async fn a_truncated_store_is_corrupt_and_left_untouched() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("store.sqlite3");
    let store = open_at(&path).await;
    for index in 0..40 {
        store
            .apps()
            .add(&new_app(
                &format!("app-{index}"),
                &format!("c-{index}"),
                Some("s"),
            ))
            .await
            .expect("add");
    }
    store.close().await;
    drop(store);
    let full = std::fs::read(&path).expect("read");
    assert!(full.len() > 3 * 4096, "{} bytes", full.len());
    let truncated = &full[..full.len() / 2];
    std::fs::write(&path, truncated).expect("truncate");
    let error = open_store_expecting_error(&path).await;
    assert_eq!(error.code(), "store_corrupt", "{error}");
    assert!(error.to_string().contains("truncated"), "{error}");
    assert_untouched(&path, truncated);

    // Shorter than the header: still corrupt, still untouched.
    std::fs::write(&path, &full[..60]).expect("truncate");
    let error = open_store_expecting_error(&path).await;
    assert_eq!(error.code(), "store_corrupt", "{error}");
    assert_untouched(&path, &full[..60]);
}

async fn open_store_expecting_error(path: &Path) -> o365_auth_core::Error {
    Store::open(StoreOptions::at(path).with_key(KeySource::Key(DataKey::from_bytes(KEY))))
        .await
        .expect_err("must not open")
}

#[tokio::test]
async fn a_damaged_page_fails_quick_check_and_is_left_untouched() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("store.sqlite3");
    let store = open_at(&path).await;
    for index in 0..40 {
        store
            .apps()
            .add(&new_app(
                &format!("app-{index}"),
                &format!("c-{index}"),
                None,
            ))
            .await
            .expect("add");
    }
    store.close().await;
    drop(store);
    let mut bytes = std::fs::read(&path).expect("read");
    // Scribble over the second page (b-tree pages start after the 4096-byte first page).
    for byte in &mut bytes[4096..4096 + 200] {
        *byte = 0xA5;
    }
    std::fs::write(&path, &bytes).expect("write");
    let error = open_store_expecting_error(&path).await;
    assert_eq!(error.code(), "store_corrupt", "{error}");
    assert_untouched(&path, &bytes);
}

async fn foreign_database(path: &Path, application_id: i32) {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true);
    let mut connection = sqlx::SqliteConnection::connect_with(&options)
        .await
        .expect("connect");
    sqlx::query(&format!("PRAGMA application_id = {application_id}"))
        .execute(&mut connection)
        .await
        .expect("id");
    sqlx::query("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        .execute(&mut connection)
        .await
        .expect("table");
    sqlx::query("INSERT INTO notes (body) VALUES ('someone else''s data')")
        .execute(&mut connection)
        .await
        .expect("row");
    connection.close().await.expect("close");
}

#[tokio::test]
async fn another_programs_database_is_foreign_and_left_untouched() {
    let dir = tempfile::tempdir().expect("dir");
    for (name, application_id) in [("tagged.db", 0x1234_5678), ("plain.db", 0)] {
        let path = dir.path().join(name);
        foreign_database(&path, application_id).await;
        let before = std::fs::read(&path).expect("read");
        let error = open_store_expecting_error(&path).await;
        assert_eq!(error.code(), "store_foreign", "{name}: {error}");
        assert!(error.to_string().contains("left untouched"), "{error}");
        assert_untouched(&path, &before);
        let aside = Store::set_aside(&path).expect("aside");
        assert_untouched(&aside, &before);
    }
}

#[tokio::test]
async fn two_stores_on_one_file_write_concurrently_without_corruption() {
    let dir = tempfile::tempdir().expect("dir");
    let path = db_path(&dir);
    let first = open_at(&path).await;
    let second = open_at(&path).await;
    assert_eq!(first.store_id(), second.store_id());
    let app = first
        .apps()
        .add(&new_app("shared", "client-1", None))
        .await
        .expect("add");
    let writers = [("a", first.clone()), ("b", second.clone())].map(|(label, store)| {
        let app_id = app.id.clone();
        tokio::spawn(async move {
            for index in 0..150 {
                let who = identity(&format!("{label}{}", index % 10));
                store
                    .tokens()
                    .save(
                        &app_id,
                        &who,
                        &tokens(
                            &format!("at-{label}-{index}"),
                            Some("rt"),
                            GRAPH,
                            10_000 + index,
                        ),
                        AccountSource::SignIn,
                    )
                    .await
                    .expect("save");
            }
        })
    });
    for writer in writers {
        writer.await.expect("writer");
    }
    let accounts = second.accounts().list(Some(&app.id)).await.expect("list");
    assert_eq!(accounts.len(), 20);
    let check: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(first.pool())
        .await
        .expect("integrity");
    assert_eq!(check, ["ok"]);
    let last = first
        .accounts()
        .find(&app.id, "b9@contoso.com")
        .await
        .expect("find")
        .expect("b9");
    let set = second
        .tokens()
        .best(&last.id, None)
        .await
        .expect("best")
        .expect("set");
    assert_eq!(set.access_token.expose(), "at-b-149");
}

#[tokio::test]
async fn one_store_owns_refreshing_the_other_is_a_client() {
    let dir = tempfile::tempdir().expect("dir");
    let path = db_path(&dir);
    let first = open_at(&path).await;
    let second = open_at(&path).await;
    let owner = first.try_become_owner().expect("try");
    assert!(owner.is_owner());
    // A separately opened lock file conflicts like another process would (flock semantics).
    match second.try_become_owner().expect("try") {
        Ownership::NotOwner { owner_pid } => assert_eq!(owner_pid, Some(std::process::id())),
        Ownership::Owner(_) => panic!("two owners"),
    }
    assert!(!first.try_become_owner().expect("again").is_owner());
    drop(owner);
    assert!(second.try_become_owner().expect("after release").is_owner());
}

#[tokio::test]
async fn a_pending_sign_in_is_taken_once_and_expired_ones_are_purged() {
    let dir = tempfile::tempdir().expect("dir");
    let store = open_at(&db_path(&dir)).await;
    let app = store
        .apps()
        .add(&new_app("a", "c", None))
        .await
        .expect("app");
    let now = now_unix();
    let pending = |state: &str, expires_at: i64| PendingSignIn {
        state: state.into(),
        app_id: app.id.clone(),
        flow: serde_json::json!({"scopes": ["User.Read"]}),
        pkce_verifier: Secret::new(format!("verifier-{state}")),
        created_at: now - 10,
        expires_at,
    };
    store
        .pending()
        .put(&pending("live", now + 600))
        .await
        .expect("put");
    store
        .pending()
        .put(&pending("old-1", now - 1))
        .await
        .expect("put");
    store
        .pending()
        .put(&pending("old-2", now - 100))
        .await
        .expect("put");
    let duplicate = store.pending().put(&pending("live", now + 600)).await;
    assert_eq!(duplicate.expect_err("dup").code(), "invalid_input");

    let taken = store
        .pending()
        .take("live")
        .await
        .expect("take")
        .expect("live");
    assert_eq!(taken, pending("live", now + 600));
    assert!(
        store.pending().take("live").await.expect("again").is_none(),
        "replayed state"
    );
    assert!(
        store
            .pending()
            .take("unknown")
            .await
            .expect("unknown")
            .is_none()
    );
    assert!(
        store
            .pending()
            .take("old-1")
            .await
            .expect("expired")
            .is_none()
    );
    assert_eq!(store.pending().purge_expired().await.expect("purge"), 1);
    assert_eq!(store.pending().count().await.expect("count"), 0);
}

#[tokio::test]
async fn the_audit_log_records_who_got_which_token_newest_first() {
    let dir = tempfile::tempdir().expect("dir");
    let store = open_at(&db_path(&dir)).await;
    for (index, channel) in [Channel::Ipc, Channel::Http, Channel::Tray]
        .into_iter()
        .enumerate()
    {
        store
            .audit()
            .record(&AuditEvent {
                account_id: Some(format!("acct-{index}")),
                username: "alice@contoso.com".into(),
                scopes: "https://graph.microsoft.com/Mail.Read".into(),
                channel,
                peer: AuditPeer {
                    pid: Some(100 + index as i32),
                    uid: Some(1000),
                    exe: Some("/usr/bin/mutt".into()),
                },
            })
            .await
            .expect("record");
    }
    let recent = store.audit().recent(2).await.expect("recent");
    assert_eq!(recent.len(), 2);
    assert_eq!(recent[0].event.channel, Channel::Tray);
    assert_eq!(recent[1].event.channel, Channel::Http);
    assert_eq!(recent[0].event.peer.pid, Some(102));
    assert_eq!(recent[0].event.peer.uid, Some(1000));
    assert_eq!(recent[0].event.peer.exe.as_deref(), Some("/usr/bin/mutt"));
    assert!(recent[0].at >= now_unix() - 5);
}

#[tokio::test]
async fn registrations_update_and_removal_cascades_to_accounts_tokens_and_pending() {
    let dir = tempfile::tempdir().expect("dir");
    let store = open_at(&db_path(&dir)).await;
    let app = store
        .apps()
        .add(&new_app("a", "c", Some("s")))
        .await
        .expect("add");
    let clash = store.apps().add(&new_app("a", "other", None)).await;
    assert_eq!(clash.expect_err("same name").code(), "invalid_input");
    let mut fields = app_fields("renamed", "c");
    fields.flow_type = FlowType::DeviceCode;
    assert!(store.apps().update(&app.id, &fields).await.expect("update"));
    assert_eq!(
        store
            .apps()
            .get(&app.id)
            .await
            .expect("get")
            .expect("app")
            .fields,
        fields
    );
    assert!(
        store
            .apps()
            .set_client_secret(&app.id, None)
            .await
            .expect("clear")
    );
    assert_eq!(
        store.apps().client_secret(&app.id).await.expect("secret"),
        None
    );
    store
        .apps()
        .set_certificate(&app.id, Some(&Secret::new("-----BEGIN PRIVATE KEY-----")))
        .await
        .expect("cert");
    assert!(
        store
            .apps()
            .certificate(&app.id)
            .await
            .expect("cert")
            .is_some()
    );

    let account_id = store
        .tokens()
        .save(
            &app.id,
            &identity("bob"),
            &tokens("at", Some("rt"), GRAPH, 5_000),
            AccountSource::SignIn,
        )
        .await
        .expect("save");
    store
        .accounts()
        .set_status(
            &account_id,
            AccountStatus::NeedsSignIn,
            Some("needs_sign_in"),
        )
        .await
        .expect("status");
    let record = store
        .accounts()
        .get(&account_id)
        .await
        .expect("get")
        .expect("bob");
    assert_eq!(record.status, AccountStatus::NeedsSignIn);
    assert_eq!(record.last_error_code.as_deref(), Some("needs_sign_in"));
    // A successful save makes it fresh again.
    store
        .tokens()
        .save(
            &app.id,
            &identity("bob"),
            &tokens("at2", None, GRAPH, 6_000),
            AccountSource::SignIn,
        )
        .await
        .expect("save");
    let record = store
        .accounts()
        .get(&account_id)
        .await
        .expect("get")
        .expect("bob");
    assert_eq!(record.status, AccountStatus::Fresh);
    assert_eq!(record.last_error_code, None);
    assert_eq!(
        store
            .accounts()
            .refresh_token(&account_id)
            .await
            .expect("rt"),
        Some(Secret::new("rt")),
        "an answer without a refresh token keeps the old one"
    );
    store
        .pending()
        .put(&PendingSignIn {
            state: "s".into(),
            app_id: app.id.clone(),
            flow: serde_json::Value::Null,
            pkce_verifier: Secret::new("v"),
            created_at: 0,
            expires_at: now_unix() + 60,
        })
        .await
        .expect("pending");

    assert!(store.apps().remove(&app.id).await.expect("remove"));
    assert!(!store.apps().remove(&app.id).await.expect("again"));
    assert!(store.accounts().list(None).await.expect("list").is_empty());
    let tokens_left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tokens")
        .fetch_one(store.pool())
        .await
        .expect("count");
    assert_eq!(tokens_left, 0);
    assert_eq!(store.pending().count().await.expect("count"), 0);
}

#[tokio::test]
async fn a_replaced_registration_changes_fields_and_credentials_together_or_not_at_all() {
    let dir = tempfile::tempdir().expect("dir");
    let store = open_at(&db_path(&dir)).await;
    let app = store
        .apps()
        .add(&new_app("a", "c", Some("old-secret")))
        .await
        .expect("add");
    store
        .apps()
        .add(&new_app("b", "other", None))
        .await
        .expect("add");
    let certificate = Secret::new("-----BEGIN PRIVATE KEY-----");
    let renamed = app_fields("renamed", "c");
    assert!(
        store
            .apps()
            .replace(&app.id, &renamed, None, Some(&certificate))
            .await
            .expect("replace")
    );
    let stored = store.apps().get(&app.id).await.expect("get").expect("app");
    assert_eq!(stored.fields, renamed);
    assert!(!stored.has_client_secret && stored.has_certificate);
    assert_eq!(
        store.apps().certificate(&app.id).await.expect("cert"),
        Some(certificate.clone())
    );

    // A name taken by the other app: refused, and neither the fields nor the credentials move.
    let clash = store
        .apps()
        .replace(
            &app.id,
            &app_fields("b", "c"),
            Some(&Secret::new("new-secret")),
            None,
        )
        .await;
    assert_eq!(clash.expect_err("taken").code(), "invalid_input");
    let kept = store.apps().get(&app.id).await.expect("get").expect("app");
    assert_eq!(kept.fields, renamed);
    assert!(!kept.has_client_secret && kept.has_certificate);
}

#[tokio::test]
async fn the_token_index_serves_valid_tokens_and_sees_other_stores_writes() {
    let dir = tempfile::tempdir().expect("dir");
    let path = db_path(&dir);
    let store = open_at(&path).await;
    let other = open_at(&path).await;
    let app = store
        .apps()
        .add(&new_app("a", "c", None))
        .await
        .expect("app");
    let now = now_unix();
    let account_id = store
        .tokens()
        .save(
            &app.id,
            &identity("alice"),
            &tokens("at-graph", Some("rt"), GRAPH, now + 3600),
            AccountSource::SignIn,
        )
        .await
        .expect("save");
    let mail = Scopes::from_granted("https://graph.microsoft.com/mail.read openid");
    let found = store
        .valid_access_token(&account_id, Some(&mail), now, 300)
        .await
        .expect("lookup")
        .expect("valid");
    assert_eq!(found.access_token.expose(), "at-graph");
    assert_eq!(store.indexed_accounts(), 1);
    // Inside the margin it is not valid any more.
    assert!(
        store
            .valid_access_token(&account_id, Some(&mail), now + 3400, 300)
            .await
            .expect("lookup")
            .is_none()
    );
    let imap = Scopes::from_granted("https://outlook.office.com/IMAP.AccessAsUser.All");
    assert!(
        store
            .valid_access_token(&account_id, Some(&imap), now, 0)
            .await
            .expect("lookup")
            .is_none()
    );
    // Another store (as another process would) refreshes: the index notices.
    other
        .tokens()
        .save(
            &app.id,
            &identity("alice"),
            &tokens("at-graph-2", Some("rt-2"), GRAPH, now + 7200),
            AccountSource::SignIn,
        )
        .await
        .expect("save");
    // Another process's commit reaches the index within a millisecond (store/watch.rs).
    tokio::time::sleep(Duration::from_millis(2)).await;
    let found = store
        .valid_access_token(&account_id, None, now, 0)
        .await
        .expect("lookup")
        .expect("valid");
    assert_eq!(found.access_token.expose(), "at-graph-2");
    assert_eq!(found.expires_at, now + 7200);
}

#[tokio::test]
async fn a_write_to_one_account_drops_only_that_account_from_the_token_index() {
    let dir = tempfile::tempdir().expect("dir");
    let path = db_path(&dir);
    let store = open_at(&path).await;
    let other = open_at(&path).await;
    let app = store
        .apps()
        .add(&new_app("a", "c", None))
        .await
        .expect("app");
    let now = now_unix();
    let mut ids = Vec::new();
    for n in 0..5 {
        let (name, access) = (format!("user{n}"), format!("at-{n}"));
        ids.push(save_sign_in(&store, &app.id, &name, &access, GRAPH, now + 3600).await);
    }
    let lookup = |store: &Store, id: String| {
        let store = store.clone();
        async move {
            store
                .valid_access_token(&id, None, now, 0)
                .await
                .expect("lookup")
                .map(|token| token.access_token.expose().to_owned())
        }
    };
    for id in &ids {
        lookup(&store, id.clone()).await;
    }
    assert_eq!(store.indexed_accounts(), 5);

    // This store refreshes one account: the others stay indexed.
    save_sign_in(&store, &app.id, "user0", "at-0-new", GRAPH, now + 7200).await;
    assert_eq!(
        lookup(&store, ids[1].clone()).await.as_deref(),
        Some("at-1")
    );
    assert_eq!(store.indexed_accounts(), 4, "only user0 dropped");
    assert_eq!(
        lookup(&store, ids[0].clone()).await.as_deref(),
        Some("at-0-new")
    );
    assert_eq!(store.indexed_accounts(), 5);

    // Another store (another process) refreshes one and removes one: those two go, and are
    // read again; the rest stay.
    save_sign_in(&other, &app.id, "user2", "at-2-other", GRAPH, now + 7200).await;
    assert!(other.accounts().remove(&ids[3]).await.expect("remove"));
    tokio::time::sleep(Duration::from_millis(2)).await;
    assert_eq!(
        lookup(&store, ids[4].clone()).await.as_deref(),
        Some("at-4")
    );
    assert_eq!(store.indexed_accounts(), 3, "user2 and user3 dropped");
    assert_eq!(
        lookup(&store, ids[2].clone()).await.as_deref(),
        Some("at-2-other")
    );
    assert_eq!(lookup(&store, ids[3].clone()).await, None, "removed");
}

#[tokio::test]
async fn latest_expiries_give_each_accounts_newest_access_token_expiry() {
    let dir = tempfile::tempdir().expect("dir");
    let store = open_at(&db_path(&dir)).await;
    let app = store
        .apps()
        .add(&new_app("a", "c", None))
        .await
        .expect("app");
    let now = now_unix();
    let alice = save_sign_in(&store, &app.id, "alice", "at-graph", GRAPH, now + 600).await;
    let imap = "https://outlook.office.com/IMAP.AccessAsUser.All";
    save_sign_in(&store, &app.id, "alice", "at-imap", imap, now + 3000).await;
    let bob = save_sign_in(&store, &app.id, "bob", "at-bob", GRAPH, now - 10).await;
    let expiries = store.tokens().latest_expiries().await.expect("expiries");
    assert_eq!(expiries.len(), 2, "{expiries:?}");
    assert_eq!(expiries.get(&alice), Some(&(now + 3000)));
    // An expired token still counts: the scheduler refreshes it at once.
    assert_eq!(expiries.get(&bob), Some(&(now - 10)));
}

#[tokio::test]
async fn the_audit_trail_does_not_empty_the_token_index_and_records_the_last_use() {
    let dir = tempfile::tempdir().expect("dir");
    let store = open_at(&db_path(&dir)).await;
    let app = store
        .apps()
        .add(&new_app("a", "c", None))
        .await
        .expect("app");
    let now = now_unix();
    let mut ids = Vec::new();
    for name in ["alice", "bob"] {
        let id = store
            .tokens()
            .save(
                &app.id,
                &identity(name),
                &tokens(&format!("at-{name}"), Some("rt"), GRAPH, now + 3600),
                AccountSource::SignIn,
            )
            .await
            .expect("save");
        ids.push(id);
    }
    for id in &ids {
        store
            .valid_access_token(id, None, now, 0)
            .await
            .expect("lookup")
            .expect("valid");
    }
    assert_eq!(store.indexed_accounts(), 2);
    store
        .audit()
        .record_all(&[(
            now,
            AuditEvent {
                account_id: Some(ids[0].clone()),
                username: "alice@contoso.com".into(),
                scopes: "User.Read".into(),
                channel: Channel::Ipc,
                peer: AuditPeer::default(),
            },
        )])
        .await
        .expect("audit");
    store
        .valid_access_token(&ids[0], None, now, 0)
        .await
        .expect("lookup")
        .expect("valid");
    assert_eq!(
        store.indexed_accounts(),
        2,
        "the audit commit left the other account's tokens in memory"
    );
    let record = store
        .accounts()
        .list(None)
        .await
        .expect("accounts")
        .into_iter()
        .find(|record| record.id == ids[0])
        .expect("the account");
    assert_eq!(record.last_used_at, Some(now));
}

#[tokio::test]
async fn an_account_is_found_by_home_account_id_first_then_the_first_saved_name_or_alias() {
    let dir = tempfile::tempdir().expect("dir");
    let store = open_at(&db_path(&dir)).await;
    let app = store
        .apps()
        .add(&new_app("a", "c", None))
        .await
        .expect("app");
    let other = store
        .apps()
        .add(&new_app("b", "d", None))
        .await
        .expect("other app");
    let now = now_unix();
    let save = |app_id: String, identity: AccountIdentity| {
        let store = store.clone();
        async move {
            store
                .tokens()
                .save(
                    &app_id,
                    &identity,
                    &tokens("at", Some("rt"), GRAPH, now + 3600),
                    AccountSource::SignIn,
                )
                .await
                .expect("save")
        }
    };
    // Saved first: an account whose username is another's home account id.
    let mut odd = identity("odd");
    odd.username = "carol-oid.tenant-1".into();
    let odd_id = save(app.id.clone(), odd).await;
    let carol_id = save(app.id.clone(), identity("carol")).await;
    let elsewhere_id = save(other.id.clone(), identity("dave")).await;
    store
        .accounts()
        .set_alias(&carol_id, Some("cc"))
        .await
        .expect("alias");
    let found = |name: &'static str, app_id: String| {
        let store = store.clone();
        async move {
            store
                .accounts()
                .find(&app_id, name)
                .await
                .expect("find")
                .map(|record| record.id)
        }
    };
    assert_eq!(
        found("carol-oid.tenant-1", app.id.clone()).await,
        Some(carol_id.clone()),
        "the home account id wins over an earlier username"
    );
    assert_eq!(
        found("CAROL@contoso.com", app.id.clone()).await,
        Some(carol_id.clone())
    );
    assert_eq!(found("cc", app.id.clone()).await, Some(carol_id.clone()));
    assert_eq!(
        found("odd-oid.tenant-1", app.id.clone()).await,
        Some(odd_id)
    );
    assert_eq!(
        found("dave@contoso.com", app.id.clone()).await,
        None,
        "another app's"
    );
    assert_eq!(
        found("cc", other.id.clone()).await,
        None,
        "an alias of another app's"
    );
    assert_eq!(
        found("dave-oid.tenant-1", other.id.clone()).await,
        Some(elsewhere_id)
    );
}

fn handed_out(account_id: &str, pid: i32, scopes: &str) -> AuditEvent {
    AuditEvent {
        account_id: Some(account_id.to_owned()),
        username: "alice@contoso.com".into(),
        scopes: scopes.into(),
        channel: Channel::Ipc,
        peer: AuditPeer {
            pid: Some(pid),
            uid: Some(1000),
            exe: Some("/usr/bin/msmtp".into()),
        },
    }
}

#[tokio::test]
async fn identical_hand_outs_in_one_batch_are_one_audit_row_counting_them() {
    let dir = tempfile::tempdir().expect("dir");
    let store = open_at(&db_path(&dir)).await;
    let now = now_unix();
    let mut batch = Vec::new();
    for second in 0..1000 {
        batch.push((now + second % 7, handed_out("acct", 41, "Mail.Read")));
    }
    batch.push((now, handed_out("acct", 42, "Mail.Read")));
    batch.push((now + 1, handed_out("acct", 41, "User.Read")));
    batch.push((now + 2, handed_out("acct", 41, "Mail.Read")));
    store.audit().record_all(&batch).await.expect("audit");

    let recent = store.audit().recent(10).await.expect("recent");
    let rows: Vec<(Option<i32>, &str, i64, i64)> = recent
        .iter()
        .map(|row| {
            (
                row.event.peer.pid,
                row.event.scopes.as_str(),
                row.times,
                row.at,
            )
        })
        .collect();
    // Newest first: in the order each first appeared, reversed.
    assert_eq!(
        rows,
        vec![
            (Some(41), "User.Read", 1, now + 1),
            (Some(42), "Mail.Read", 1, now),
            (Some(41), "Mail.Read", 1001, now + 6),
        ]
    );
}

#[tokio::test]
async fn an_audit_batch_waits_for_another_writer_then_lands() {
    let dir = tempfile::tempdir().expect("dir");
    let path = db_path(&dir);
    let store = open_at(&path).await;
    let mut other = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("another connection");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .expect("the other connection takes the write lock");
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .audit()
                .record_all(&[(now_unix(), handed_out("acct", 7, "Mail.Read"))])
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !writer.is_finished(),
        "the batch went on while the lock was held"
    );
    // Lookups go on meanwhile: the watch connection is not held while the batch waits.
    assert!(
        store
            .valid_access_token("acct", None, now_unix(), 0)
            .await
            .expect("a lookup during the wait")
            .is_none()
    );
    sqlx::query("COMMIT")
        .execute(&mut other)
        .await
        .expect("commit");
    writer.await.expect("joined").expect("the batch landed");
    let recent = store.audit().recent(10).await.expect("recent");
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].event.peer.pid, Some(7));
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

fn scan_files(path: &Path, secrets: &[String]) -> usize {
    let mut scanned = 0;
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        scanned += bytes.len();
        for secret in secrets {
            assert!(
                !contains(&bytes, secret),
                "a secret is in {}",
                file.display()
            );
        }
    }
    scanned
}

#[tokio::test]
async fn no_secret_reaches_the_database_its_wal_or_its_shared_memory() {
    let dir = tempfile::tempdir().expect("dir");
    let path = db_path(&dir);
    let store = open_at(&path).await;
    let secrets: Vec<String> = [
        "client-secret",
        "certificate",
        "access-graph",
        "access-imap",
        "refresh-1",
        "refresh-2",
        "id-token",
        "pkce-verifier",
    ]
    .iter()
    .map(|label| unique(label))
    .collect();
    let app = store
        .apps()
        .add(&NewAppRegistration {
            certificate: Some(Secret::new(&secrets[1])),
            ..new_app("a", "c", Some(&secrets[0]))
        })
        .await
        .expect("app");
    let backend = StoreBackend::new(store.clone());
    let key = AppKey {
        client_id: "c".into(),
        environment: "login.microsoftonline.com".into(),
        realm: "common".into(),
    };
    let mut first = tokens(&secrets[2], Some(&secrets[4]), GRAPH, now_unix() + 3600);
    first.id_token = Some(Secret::new(&secrets[6]));
    backend
        .save(&key, &identity("carol"), &first)
        .await
        .expect("save");
    // A refresh that rotates the refresh token, and a second scope set.
    backend
        .save(
            &key,
            &identity("carol"),
            &tokens(
                &secrets[3],
                Some(&secrets[5]),
                "https://outlook.office.com/IMAP.AccessAsUser.All",
                now_unix() + 3600,
            ),
        )
        .await
        .expect("save");
    store
        .pending()
        .put(&PendingSignIn {
            state: "st".into(),
            app_id: app.id.clone(),
            flow: serde_json::json!({}),
            pkce_verifier: Secret::new(&secrets[7]),
            created_at: 0,
            expires_at: now_unix() + 60,
        })
        .await
        .expect("pending");
    // Everything reads back, so the values really went through the files.
    let loaded = backend
        .load(&key, "carol@contoso.com", None)
        .await
        .expect("load")
        .expect("carol");
    assert_eq!(loaded.tokens.refresh_token, Some(Secret::new(&secrets[5])));
    assert_eq!(loaded.tokens.id_token, Some(Secret::new(&secrets[6])));

    // While open: the WAL holds the recent writes.
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    assert!(
        std::fs::metadata(&wal)
            .map(|meta| meta.len() > 0)
            .unwrap_or(false)
    );
    let scanned = scan_files(&path, &secrets);
    assert!(scanned > 8192, "scanned {scanned} bytes");
    // And after the checkpoint on close.
    store.close().await;
    drop((store, backend));
    scan_files(&path, &secrets);
    // The scan does find plain text that is not secret.
    let bytes = std::fs::read(&path).expect("db");
    assert!(contains(&bytes, "carol@Contoso.com"));
}

#[test]
fn without_a_keyring_the_store_refuses_to_open_and_says_how_to_get_one() {
    // SAFETY: nextest runs each test in its own process and no other thread exists yet.
    unsafe {
        std::env::set_var(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/o365-auth-test-bus",
        );
        std::env::remove_var("DISPLAY");
    }
    let dir = tempfile::tempdir().expect("dir");
    let path = db_path(&dir);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let error = runtime
        .block_on(Store::open(StoreOptions::at(&path)))
        .expect_err("no keyring");
    assert_eq!(error.code(), "keyring_unavailable", "{error}");
    let message = error.to_string();
    assert!(message.contains("gnome-keyring"), "{message}");
    assert!(message.contains("passphrase"), "{message}");
    // The refusal left no key behind, so the user can still choose a passphrase for this file.
    let opened = runtime.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(30),
            Store::open(StoreOptions::at(&path).with_key(KeySource::Passphrase(Secret::new("p")))),
        )
        .await
    });
    assert!(
        opened.expect("in time").is_ok(),
        "a passphrase store still opens"
    );
}

#[tokio::test]
#[ignore = "needs an unlocked Secret Service: run through scripts/test-all.sh"]
async fn a_keyring_store_keeps_its_key_in_the_secret_service() {
    let dir = tempfile::tempdir().expect("dir");
    let path = db_path(&dir);
    let store = Store::open(StoreOptions::at(&path))
        .await
        .expect("open with keyring");
    let app = store
        .apps()
        .add(&new_app("a", "c", Some("kept")))
        .await
        .expect("add");
    let store_id = store.store_id().to_owned();
    store.close().await;
    drop(store);
    let store = Store::open(StoreOptions::at(&path)).await.expect("reopen");
    assert_eq!(
        store.apps().client_secret(&app.id).await.expect("secret"),
        Some(Secret::new("kept"))
    );
    store.close().await;
    drop(store);
    let slot = o365_auth_core::store::key::KeyringSlot::new(&store_id);
    slot.delete().await.expect("delete");
    // Without its keyring entry the store says so instead of making a new key.
    let error = Store::open(StoreOptions::at(&path))
        .await
        .expect_err("no entry");
    assert_eq!(error.code(), "store_key_mismatch", "{error}");
    assert!(error.to_string().contains("keyring has no key"), "{error}");
    assert!(slot.load().await.expect("reachable").is_none());
}
