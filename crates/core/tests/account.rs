//! `Account` against the emulator: sign-in, refresh on expiry, single flight, dead refresh
//! tokens, switching users, app-only renewal — python-o365's behaviour and its defects fixed.

use std::sync::Arc;

use entra_emulator::sandbox::{
    DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_CONFIDENTIAL_CLIENT_ID, DEMO_PASSWORD, DEMO_TENANT_ID,
    DEMO_USERNAME,
};
use entra_emulator::{Emulator, EmulatorConfig};
use o365_auth_core::Secret;
use o365_auth_core::account::{Account, AccountConfig};
use o365_auth_core::authority::{Authority, Tenant};
use o365_auth_core::backend::{MemoryBackend, TokenBackend};
use o365_auth_core::cloud::Cloud;
use o365_auth_core::connection::AccessTokenSource;
use o365_auth_core::flows::{AppConfig, ClientCredential, FlowKind};
use o365_auth_core::protocol::Protocol;
use o365_auth_core::resource::Resource;

const ADELE: &str = "adele@sandbox.onmicrosoft.com";

fn consented_config() -> EmulatorConfig {
    let mut config = entra_emulator::sandbox::config();
    for app in config
        .tenants
        .iter_mut()
        .flat_map(|tenant| tenant.apps.iter_mut())
    {
        if app.client_id.to_string() == DEMO_CLIENT_ID {
            app.pre_consented_scopes = ["User.Read", "Mail.Read", "offline_access"]
                .map(str::to_owned)
                .to_vec();
        }
    }
    config
}

async fn emulator() -> Emulator {
    Emulator::start(consented_config(), "127.0.0.1:0".parse().expect("address"))
        .await
        .expect("emulator")
}

fn config(
    emulator: &Emulator,
    flow: FlowKind,
    client_id: &str,
    credential: ClientCredential,
) -> AccountConfig {
    let cloud = Cloud::custom(&emulator.base_url()).expect("cloud");
    let authority = Authority::new(
        cloud.clone(),
        Tenant::parse(DEMO_TENANT_ID).expect("tenant"),
    );
    let app = AppConfig {
        client_id: client_id.to_owned(),
        credential,
        authority,
    };
    let mut config = AccountConfig::new(app, flow, Protocol::graph(&cloud));
    config.scopes = vec!["basic".into(), "mailbox".into()];
    config
}

fn password_account(emulator: &Emulator, backend: Arc<dyn TokenBackend>) -> Account {
    Account::new(
        config(
            emulator,
            FlowKind::Password,
            DEMO_CLIENT_ID,
            ClientCredential::None,
        ),
        backend,
    )
    .expect("account")
}

fn refreshes(emulator: &Emulator) -> u64 {
    emulator
        .control()
        .stats()
        .grant_types
        .get("refresh_token")
        .copied()
        .unwrap_or(0)
}

/// Makes the stored token of `name` look expired, as after a night's sleep.
async fn expire(account: &Account, backend: &Arc<dyn TokenBackend>, name: &str) {
    let mut stored = backend
        .load(account.app_key(), name, None)
        .await
        .unwrap()
        .unwrap();
    stored.tokens.expires_at = 0;
    backend
        .save(account.app_key(), &stored.identity, &stored.tokens)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_fresh_token_is_reused_and_an_expired_one_refreshed_once_for_many_callers() {
    let emulator = emulator().await;
    let backend: Arc<dyn TokenBackend> = Arc::new(MemoryBackend::new());
    let account = Arc::new(password_account(&emulator, backend.clone()));
    assert!(!account.is_authenticated().await);
    let who = account
        .authenticate_with_password(DEMO_USERNAME, &Secret::new(DEMO_PASSWORD))
        .await
        .unwrap();
    assert!(account.is_authenticated().await);
    assert_eq!(
        account.current_username().await.unwrap().as_deref(),
        Some(who.username.as_str())
    );

    let first = account.access_token(None).await.unwrap();
    assert_eq!(account.access_token(None).await.unwrap(), first);
    assert_eq!(refreshes(&emulator), 0);

    expire(&account, &backend, DEMO_USERNAME).await;
    let callers: Vec<_> = (0..8)
        .map(|_| {
            let account = account.clone();
            tokio::spawn(async move { account.access_token(None).await })
        })
        .collect();
    let mut tokens = Vec::new();
    for caller in callers {
        tokens.push(caller.await.unwrap().unwrap());
    }
    assert_eq!(
        refreshes(&emulator),
        1,
        "single flight: one refresh for eight callers"
    );
    assert!(tokens.iter().all(|token| *token == tokens[0]));
    assert_ne!(tokens[0], first);
}

#[tokio::test]
async fn a_rejected_token_is_refreshed_even_when_the_clock_says_it_is_valid() {
    let emulator = emulator().await;
    let backend: Arc<dyn TokenBackend> = Arc::new(MemoryBackend::new());
    let account = Arc::new(password_account(&emulator, backend));
    account
        .authenticate_with_password(DEMO_USERNAME, &Secret::new(DEMO_PASSWORD))
        .await
        .unwrap();
    let source = account.token_source();
    let first = source.access_token(false).await.unwrap();
    let second = source.access_token(true).await.unwrap();
    assert_ne!(first, second);
    assert_eq!(refreshes(&emulator), 1);
    // Forcing after someone else already replaced the token reuses theirs.
    let refreshed = account.refresh(DEMO_USERNAME).await.unwrap();
    assert_eq!(refreshes(&emulator), 2);
    assert_eq!(
        account.access_token(Some(&second)).await.unwrap(),
        refreshed.access_token
    );
    assert_eq!(refreshes(&emulator), 2);
}

#[tokio::test]
async fn a_dead_refresh_token_makes_the_account_unauthenticated() {
    let emulator = emulator().await;
    let backend: Arc<dyn TokenBackend> = Arc::new(MemoryBackend::new());
    let account = password_account(&emulator, backend.clone());
    account
        .authenticate_with_password(DEMO_USERNAME, &Secret::new(DEMO_PASSWORD))
        .await
        .unwrap();
    emulator
        .control()
        .revoke_refresh_tokens(DEMO_USERNAME)
        .unwrap();
    expire(&account, &backend, DEMO_USERNAME).await;
    let error = account.access_token(None).await.unwrap_err();
    assert_eq!(error.code(), "needs_sign_in", "{error}");
    assert!(
        !account.is_authenticated().await,
        "python-o365 still says yes here"
    );
    // Signing in again revives it.
    account
        .authenticate_with_password(DEMO_USERNAME, &Secret::new(DEMO_PASSWORD))
        .await
        .unwrap();
    assert!(account.is_authenticated().await);
}

#[tokio::test]
async fn switching_to_an_idle_user_refreshes_it_and_names_ignore_case() {
    let emulator = emulator().await;
    let backend: Arc<dyn TokenBackend> = Arc::new(MemoryBackend::new());
    let account = password_account(&emulator, backend.clone());
    account
        .authenticate_with_password(DEMO_USERNAME, &Secret::new(DEMO_PASSWORD))
        .await
        .unwrap();
    account
        .authenticate_with_password(ADELE, &Secret::new(DEMO_PASSWORD))
        .await
        .unwrap();
    assert_eq!(
        account.current_username().await.unwrap().as_deref(),
        Some(ADELE),
        "the last sign-in is current"
    );
    let names: Vec<String> = account
        .accounts()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.username)
        .collect();
    assert_eq!(names, [DEMO_USERNAME, ADELE]);

    expire(&account, &backend, DEMO_USERNAME).await;
    account
        .switch_user(&DEMO_USERNAME.to_uppercase())
        .await
        .unwrap();
    let token = account.access_token(None).await.unwrap();
    assert!(!token.is_empty());
    assert_eq!(
        refreshes(&emulator),
        1,
        "the idle user was refreshed silently"
    );

    let unknown = account
        .switch_user("nobody@sandbox.onmicrosoft.com")
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), "no_account");
    assert!(account.sign_out(DEMO_USERNAME).await.unwrap());
    assert_eq!(account.accounts().await.unwrap().len(), 1);
    account.clear_token_cache().await.unwrap();
    assert!(account.accounts().await.unwrap().is_empty());
    assert!(!account.is_authenticated().await);
}

#[tokio::test]
async fn app_only_tokens_renew_and_use_the_service_root() {
    let emulator = emulator().await;
    let backend: Arc<dyn TokenBackend> = Arc::new(MemoryBackend::new());
    let account = Account::new(
        config(
            &emulator,
            FlowKind::Credentials,
            DEMO_CONFIDENTIAL_CLIENT_ID,
            ClientCredential::Secret(Secret::new(DEMO_CLIENT_SECRET)),
        ),
        backend.clone(),
    )
    .unwrap();
    assert_eq!(account.main_resource(), Resource::service_root());
    assert_eq!(
        account.scopes().to_request_string(),
        "https://graph.microsoft.com/.default"
    );
    let identity = account.authenticate_app().await.unwrap();
    assert!(identity.is_app());
    let first = account.access_token(None).await.unwrap();
    expire(&account, &backend, &identity.home_account_id).await;
    let renewed = account.access_token(None).await.unwrap();
    assert_ne!(
        first, renewed,
        "python-o365 stops renewing app-only tokens (its #1195)"
    );
    assert_eq!(
        emulator
            .control()
            .stats()
            .grant_types
            .get("client_credentials")
            .copied(),
        Some(2)
    );
}

#[tokio::test]
async fn flows_and_credentials_that_do_not_fit_are_refused() {
    let emulator = emulator().await;
    let backend: Arc<dyn TokenBackend> = Arc::new(MemoryBackend::new());
    let secret = ClientCredential::Secret(Secret::new("s3cr3t-value"));
    for (flow, credential) in [
        (FlowKind::Authorization, ClientCredential::None),
        (FlowKind::Credentials, ClientCredential::None),
        (FlowKind::Public, secret.clone()),
        (FlowKind::Password, secret),
    ] {
        let error = Account::new(
            config(&emulator, flow, DEMO_CLIENT_ID, credential),
            backend.clone(),
        )
        .unwrap_err();
        assert_eq!(error.code(), "invalid_input", "{flow:?}");
        assert!(!error.to_string().contains("s3cr3t-value"));
    }
    let account = password_account(&emulator, backend);
    let error = account
        .authorization_url("o365auth://auth", &Default::default())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("password"), "{error}");
    assert_eq!(
        format!("{account:?}"),
        format!("Account Client Id: {DEMO_CLIENT_ID}")
    );
}
