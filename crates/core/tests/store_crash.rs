//! A process refreshing accounts in the store is killed with SIGKILL at random moments, many
//! times; afterwards the database passes `PRAGMA integrity_check`, every account is there with
//! a refresh token, and every account still refreshes against the emulator.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use entra_emulator::sandbox::{DEMO_CLIENT_ID, DEMO_PASSWORD, DEMO_TENANT_ID};
use entra_emulator::{Emulator, EmulatorConfig};
use o365_auth_core::Secret;
use o365_auth_core::account::{Account, AccountConfig};
use o365_auth_core::authority::{Authority, Tenant};
use o365_auth_core::cloud::Cloud;
use o365_auth_core::flows::{AppConfig, ClientCredential, FlowKind};
use o365_auth_core::protocol::Protocol;
use o365_auth_core::store::key::DataKey;
use o365_auth_core::store::{KeySource, Store, StoreBackend, StoreOptions};
use rand::Rng;
use tokio::io::{AsyncBufReadExt, BufReader};

const USERS: [&str; 3] = [
    "demo@sandbox.onmicrosoft.com",
    "adele@sandbox.onmicrosoft.com",
    "alex@sandbox.onmicrosoft.com",
];
const KILLS: usize = 40;

fn consented_config() -> EmulatorConfig {
    let mut config = entra_emulator::sandbox::config();
    for app in config
        .tenants
        .iter_mut()
        .flat_map(|tenant| tenant.apps.iter_mut())
    {
        if app.client_id.to_string() == DEMO_CLIENT_ID {
            app.pre_consented_scopes = ["User.Read", "offline_access"].map(str::to_owned).to_vec();
        }
    }
    config
}

/// The helper binary the test kills (`examples/refresh_cycles.rs`). A whole-workspace
/// `cargo test`/`nextest` run has built it already; a run of this file alone builds it here.
fn child_binary() -> PathBuf {
    let deps = std::env::current_exe().expect("test binary path");
    let profile_dir = deps
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target directory");
    let binary = profile_dir.join("examples").join("refresh_cycles");
    if !binary.exists() {
        let release = profile_dir
            .file_name()
            .is_some_and(|name| name == "release");
        let mut build = Command::new(env!("CARGO"));
        build.args([
            "build",
            "-q",
            "-p",
            "o365-auth-core",
            "--example",
            "refresh_cycles",
        ]);
        if release {
            build.arg("--release");
        }
        assert!(
            build.status().expect("cargo runs").success(),
            "building the helper failed"
        );
    }
    binary
}

fn account(cloud: &Cloud, store: Store) -> Account {
    let app = AppConfig {
        client_id: DEMO_CLIENT_ID.into(),
        credential: ClientCredential::None,
        authority: Authority::new(cloud.clone(), Tenant::parse(DEMO_TENANT_ID).unwrap()),
    };
    let mut config = AccountConfig::new(app, FlowKind::Password, Protocol::graph(cloud));
    config.scopes = vec!["basic".into()];
    Account::new(config, Arc::new(StoreBackend::new(store))).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_refresh_cycles_loses_nothing() {
    let emulator = Emulator::start(consented_config(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let cloud = Cloud::custom(&emulator.base_url()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite3");
    let key: [u8; 32] = rand::thread_rng().r#gen();
    let key_hex: String = key.iter().map(|byte| format!("{byte:02x}")).collect();
    let open =
        || Store::open(StoreOptions::at(&path).with_key(KeySource::Key(DataKey::from_bytes(key))));

    {
        let account = account(&cloud, open().await.unwrap());
        for user in USERS {
            account
                .authenticate_with_password(user, &Secret::new(DEMO_PASSWORD))
                .await
                .unwrap();
        }
    }

    let binary = child_binary();
    let mut cycles_seen = 0;
    for _ in 0..KILLS {
        let mut child = tokio::process::Command::new(&binary)
            .args([
                path.to_str().unwrap(),
                &emulator.base_url(),
                DEMO_TENANT_ID,
                DEMO_CLIENT_ID,
                &key_hex,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("child starts");
        // Wait for the first full round, so every kill lands among refresh writes, then let
        // it run a random while longer.
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line()).await;
        let Ok(Ok(Some(line))) = first else {
            let output = child.wait_with_output().await.unwrap();
            panic!(
                "the child never completed a round: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        };
        assert!(line.starts_with("cycle "), "{line}");
        cycles_seen += 1;
        let pause = rand::thread_rng().gen_range(0..120);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let pid = child.id().expect("running") as i32;
        let killed = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let _ = child.wait().await;
    }
    assert_eq!(cycles_seen, KILLS);

    let store = open().await.unwrap();
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(integrity, "ok");
    let account = account(&cloud, store);
    let names: Vec<String> = account
        .accounts()
        .await
        .unwrap()
        .into_iter()
        .map(|identity| identity.username)
        .collect();
    assert_eq!(names.len(), USERS.len(), "{names:?}");
    for user in USERS {
        let refreshed = account.refresh(user).await.unwrap();
        assert!(refreshed.refresh_token.is_some(), "{user} is still usable");
    }
    let refreshes = emulator
        .control()
        .stats()
        .grant_types
        .get("refresh_token")
        .copied()
        .unwrap_or(0);
    assert!(
        refreshes as usize >= KILLS * USERS.len(),
        "the children really refreshed: {refreshes}"
    );
}
