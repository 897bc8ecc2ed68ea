//! Token files shared with the real python-o365 2.1.10 and msal 1.39 (installed from PyPI by
//! `scripts/install-deps.sh test`; `make test` passes their interpreter in
//! `O365_AUTH_INTEROP_PYTHON`). Ignored by a plain `cargo test`, run by `make test`.

use std::path::{Path, PathBuf};
use std::process::Command;

use o365_auth_core::Secret;
use o365_auth_core::backend::{AppKey, FileBackend, TokenBackend};
use o365_auth_core::scopes::Scopes;
use o365_auth_core::token::{AccountIdentity, TokenSet};
use serde_json::Value;

const CLIENT_ID: &str = "9b3c1a2e-5a1e-4f0e-9d7a-0c8f2f7a1b11";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

fn python() -> PathBuf {
    let python = std::env::var_os("O365_AUTH_INTEROP_PYTHON")
        .expect("O365_AUTH_INTEROP_PYTHON names a Python with o365 and msal (make test sets it)");
    PathBuf::from(python)
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(script: &Path, args: &[&str]) -> String {
    let output = Command::new(python())
        .arg(script)
        .args(args)
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

fn app(realm: &str) -> AppKey {
    AppKey {
        client_id: CLIENT_ID.into(),
        environment: "login.microsoftonline.com".into(),
        realm: realm.into(),
    }
}

#[tokio::test]
#[ignore = "needs the real python-o365 and msal: run by make test"]
async fn python_o365_reads_what_we_write() {
    let dir = tempfile::tempdir().unwrap();
    let backend = FileBackend::in_directory(dir.path());
    let now = o365_auth_core::token::now_unix();
    for (name, oid) in [
        ("Alice@Contoso.com", "0000a11c"),
        ("bob@contoso.com", "00000b0b"),
    ] {
        let identity = AccountIdentity {
            home_account_id: format!("{oid}.{TENANT}"),
            username: name.into(),
            display_name: Some(name.into()),
            tenant_id: TENANT.into(),
            local_account_id: Some(oid.into()),
        };
        let tokens = TokenSet {
            access_token: Secret::new(format!("at-{oid}")),
            token_type: "Bearer".into(),
            refresh_token: Some(Secret::new(format!("rt-{oid}"))),
            id_token: None,
            id_token_claims: None,
            client_info: None,
            scopes: Scopes::from_granted(
                "https://graph.microsoft.com/User.Read https://graph.microsoft.com/Mail.Read",
            ),
            obtained_at: now,
            expires_at: now + 3600,
            ext_expires_at: None,
            refresh_on: None,
        };
        backend
            .save(&app("common"), &identity, &tokens)
            .await
            .unwrap();
    }
    let seen: Value = serde_json::from_str(&run(
        &repository().join("tests/interop/read_with_python_o365.py"),
        &[backend.path().to_str().unwrap(), CLIENT_ID, "common"],
    ))
    .unwrap();
    assert_eq!(seen["is_authenticated"], true, "{seen}");
    assert_eq!(
        seen["usernames"],
        serde_json::json!(["Alice@Contoso.com", "bob@contoso.com"])
    );
    assert_eq!(seen["access_tokens"]["Alice@Contoso.com"], "at-0000a11c");
    assert_eq!(seen["refresh_tokens"]["bob@contoso.com"], "rt-00000b0b");
}

#[tokio::test]
#[ignore = "needs the real python-o365 and msal: run by make test"]
async fn we_read_what_msal_and_python_o365_write() {
    let dir = tempfile::tempdir().unwrap();
    run(
        &repository().join("crates/core/tests/fixtures/make_msal_cache.py"),
        &[dir.path().to_str().unwrap()],
    );
    let backend = FileBackend::new(dir.path().join("msal-1.39.0-two-users-and-app.json"));
    let users = backend.accounts(&app("common")).await.unwrap();
    let names: Vec<&str> = users.iter().map(|user| user.username.as_str()).collect();
    assert_eq!(
        names,
        [
            "Alice@Contoso.com",
            "bob@contoso.com",
            &format!("{CLIENT_ID}@contoso.onmicrosoft.com")[..]
        ]
    );
    let alice = backend
        .load(&app("common"), "alice@contoso.com", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        alice.tokens.refresh_token.as_ref().map(Secret::expose),
        Some("0.rt-00000000-0000-0000-0000-00000000a11c")
    );
    assert!(
        alice
            .tokens
            .scopes
            .contains("https://graph.microsoft.com/Mail.Send")
    );
    assert_eq!(
        alice.identity.display_name.as_deref(),
        None.or(alice.identity.display_name.as_deref())
    );

    // Rewriting one account keeps every other entry, byte for byte in MSAL's format.
    backend
        .save(&app("common"), &alice.identity, &alice.tokens)
        .await
        .unwrap();
    let after = o365_auth_core::msal_cache::MsalCache::parse(
        &std::fs::read_to_string(backend.path()).unwrap(),
    )
    .unwrap();
    assert_eq!(after.accounts().unwrap().len(), 2);
    let seen: Value = serde_json::from_str(&run(
        &repository().join("tests/interop/read_with_python_o365.py"),
        &[backend.path().to_str().unwrap(), CLIENT_ID, "common"],
    ))
    .unwrap();
    assert_eq!(
        seen["refresh_tokens"]["Alice@Contoso.com"], "0.rt-00000000-0000-0000-0000-00000000a11c",
        "{seen}"
    );
}
