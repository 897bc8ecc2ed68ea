//! The emulator, a signed-in account and token sources for the Connection tests. Shared by the
//! `connection` and `connection_logs` test binaries; each uses part of it.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use entra_emulator::sandbox::{
    DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_CONFIDENTIAL_CLIENT_ID, DEMO_PASSWORD, DEMO_TENANT_ID,
    DEMO_USERNAME,
};
use entra_emulator::{Emulator, EmulatorConfig};
use futures_util::future::BoxFuture;
use o365_auth_core::account::{Account, AccountConfig};
use o365_auth_core::authority::{Authority, Tenant};
use o365_auth_core::backend::MemoryBackend;
use o365_auth_core::cloud::Cloud;
use o365_auth_core::connection::{AccessTokenSource, Connection, ConnectionSettings};
use o365_auth_core::flows::{AppConfig, ClientCredential, FlowKind};
use o365_auth_core::protocol::Protocol;
use o365_auth_core::{Result, Secret};

/// The sandbox, with the demo desktop app consented for reading the user and mail and for
/// sending mail, so ROPC gets a token without a consent page.
pub fn consented_config() -> EmulatorConfig {
    let mut config = entra_emulator::sandbox::config();
    for app in config
        .tenants
        .iter_mut()
        .flat_map(|tenant| tenant.apps.iter_mut())
    {
        if app.client_id.to_string() == DEMO_CLIENT_ID {
            app.delegated_permissions.push("Mail.Send".to_owned());
            app.pre_consented_scopes = ["User.Read", "Mail.Read", "Mail.Send", "offline_access"]
                .map(str::to_owned)
                .to_vec();
        }
    }
    config
}

pub struct Fixture {
    pub emulator: Emulator,
    pub account: Arc<Account>,
}

impl Fixture {
    pub fn requests_to(&self, path: &str) -> u64 {
        self.emulator.control().stats().endpoint(path)
    }

    /// A valid access token for the signed-in user, as the Account hands it out.
    pub async fn access_token(&self) -> Secret {
        self.account
            .token_source()
            .access_token(false)
            .await
            .unwrap()
    }

    /// A Connection whose relative paths go to `base` (the emulator, or a relay in front of
    /// it), with the account's token.
    pub fn connection_to(&self, base: &str, settings: ConnectionSettings) -> Connection {
        let source: Arc<dyn AccessTokenSource> = Arc::new(self.account.token_source());
        let base = url::Url::parse(&format!("{base}/v1.0/")).unwrap();
        Connection::new(settings, base, Some(source)).unwrap()
    }
}

/// Short waits so retries do not slow the suite; the behaviour is the same as the defaults'.
pub fn fast() -> ConnectionSettings {
    ConnectionSettings {
        requests_delay: Duration::from_millis(10),
        backoff_base: Duration::from_millis(50),
        ..ConnectionSettings::default()
    }
}

pub fn account_config(
    emulator: &Emulator,
    flow: FlowKind,
    client_id: &str,
    credential: ClientCredential,
) -> AccountConfig {
    let cloud = Cloud::custom(&emulator.base_url()).unwrap();
    let app = AppConfig {
        client_id: client_id.into(),
        credential,
        authority: Authority::new(cloud.clone(), Tenant::parse(DEMO_TENANT_ID).unwrap()),
    };
    let mut config = AccountConfig::new(app, flow, Protocol::graph(&cloud));
    config.scopes = vec!["basic".into(), "mailbox".into(), "message_send".into()];
    config
}

/// The demo user signed in by password (ROPC), stats reset.
pub async fn signed_in() -> Fixture {
    let emulator = Emulator::start(consented_config(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let config = account_config(
        &emulator,
        FlowKind::Password,
        DEMO_CLIENT_ID,
        ClientCredential::None,
    );
    let account = Arc::new(Account::new(config, Arc::new(MemoryBackend::new())).unwrap());
    account
        .authenticate_with_password(DEMO_USERNAME, &Secret::new(DEMO_PASSWORD))
        .await
        .unwrap();
    emulator.control().reset_stats();
    Fixture { emulator, account }
}

/// The demo confidential app signed in with client credentials (app-only, `User.Read.All`).
pub async fn app_only(emulator: &Emulator) -> Arc<Account> {
    let account = Arc::new(
        Account::new(
            account_config(
                emulator,
                FlowKind::Credentials,
                DEMO_CONFIDENTIAL_CLIENT_ID,
                ClientCredential::Secret(Secret::new(DEMO_CLIENT_SECRET)),
            ),
            Arc::new(MemoryBackend::new()),
        )
        .unwrap(),
    );
    account.authenticate_app().await.unwrap();
    account
}

/// A token source that hands out `first` until asked to refresh, then `refreshed`, and
/// remembers every call's `force_refresh`.
pub struct ScriptedSource {
    first: Secret,
    refreshed: Secret,
    pub calls: Mutex<Vec<bool>>,
}

impl ScriptedSource {
    pub fn new(first: Secret, refreshed: Secret) -> Arc<Self> {
        Arc::new(ScriptedSource {
            first,
            refreshed,
            calls: Mutex::new(Vec::new()),
        })
    }

    pub fn calls(&self) -> Vec<bool> {
        self.calls.lock().unwrap().clone()
    }
}

impl AccessTokenSource for ScriptedSource {
    fn access_token(&self, force_refresh: bool) -> BoxFuture<'_, Result<Secret>> {
        let mut calls = self.calls.lock().unwrap();
        let refreshed_before = calls.contains(&true);
        calls.push(force_refresh);
        let token = if force_refresh || refreshed_before {
            self.refreshed.clone()
        } else {
            self.first.clone()
        };
        Box::pin(async move { Ok(token) })
    }
}
