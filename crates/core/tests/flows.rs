//! Every sign-in flow against the Entra emulator: both browser legs with each redirect kind,
//! client credentials (secret and certificate), password, device code, refresh, and the error
//! classes Microsoft's answers map to.

mod support;

use entra_emulator::sandbox::{
    DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_CONFIDENTIAL_CLIENT_ID, DEMO_PASSWORD, DEMO_TENANT_ID,
    DEMO_USERNAME, MFA_USERNAME,
};
use entra_emulator::{Emulator, EmulatorConfig, Fault};
use o365_auth_core::authority::{Authority, Tenant};
use o365_auth_core::cloud::Cloud;
use o365_auth_core::flows::{
    AppConfig, AuthorizeOptions, Certificate, ClientCredential, DEEP_LINK_REDIRECT, IdentityClient,
    LoopbackListener, NATIVE_CLIENT_REDIRECT, Prompt,
};
use o365_auth_core::http::HttpSettings;
use o365_auth_core::scopes::Scopes;
use o365_auth_core::token::AccountIdentity;
use o365_auth_core::{Error, Secret};
use support::browser::Browser;
use support::certificate::self_signed_certificate;

const GRAPH_USER_READ: &str = "https://graph.microsoft.com/User.Read";
const GRAPH_DEFAULT: &str = "https://graph.microsoft.com/.default";

async fn emulator_with(config: EmulatorConfig) -> Emulator {
    Emulator::start(config, "127.0.0.1:0".parse().expect("address"))
        .await
        .expect("emulator starts")
}

/// The sandbox with an administrator's consent to the public app's Graph scopes, so flows that
/// cannot show a consent page (password) work, as they do in a tenant after admin consent.
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
    emulator_with(entra_emulator::sandbox::config()).await
}

fn authority(emulator: &Emulator, tenant: &str) -> Authority {
    Authority::new(
        Cloud::custom(&emulator.base_url()).expect("custom cloud"),
        Tenant::parse(tenant).expect("tenant"),
    )
}

fn client(
    emulator: &Emulator,
    tenant: &str,
    client_id: &str,
    credential: ClientCredential,
) -> IdentityClient {
    IdentityClient::new(
        AppConfig {
            client_id: client_id.to_owned(),
            credential,
            authority: authority(emulator, tenant),
        },
        &HttpSettings::default(),
    )
    .expect("client")
}

fn public(emulator: &Emulator) -> IdentityClient {
    client(
        emulator,
        "organizations",
        DEMO_CLIENT_ID,
        ClientCredential::None,
    )
}

fn scopes(list: &str) -> Scopes {
    Scopes::from_granted(list)
}

#[tokio::test]
async fn public_sign_in_through_the_loopback_listener() {
    let emulator = emulator().await;
    let client = public(&emulator);
    let listener = LoopbackListener::bind(0).await.unwrap();
    let (url, pending) = client
        .authorization_url(
            &scopes(GRAPH_USER_READ),
            &listener.redirect_uri(),
            &AuthorizeOptions::default(),
        )
        .await
        .unwrap();
    for parameter in [
        "code_challenge_method=S256",
        "client_info=1",
        "nonce=",
        "state=",
        "offline_access",
    ] {
        assert!(
            url.as_str().contains(parameter),
            "{parameter} missing from {url}"
        );
    }
    let waiting = tokio::spawn({
        let pending = pending.clone();
        async move { listener.wait_for(&pending).await }
    });
    let browser = Browser::new();
    let redirect = browser
        .sign_in(url.as_str(), DEMO_USERNAME, DEMO_PASSWORD, true)
        .await;
    let location = redirect
        .location
        .expect("redirect to the loopback listener");
    // A knock with another state first: refused, and the listener keeps waiting.
    let port = url::Url::parse(&location).unwrap().port().unwrap();
    let knock = reqwest::get(format!("http://127.0.0.1:{port}/?code=x&state=forged"))
        .await
        .unwrap();
    assert_eq!(knock.status(), 400);
    let landed = browser.open(&location).await;
    assert!(landed.has("signin-complete"), "{}", landed.body);
    let redirected = waiting.await.unwrap().unwrap();

    let tokens = client.complete(&redirected, &pending).await.unwrap();
    assert!(tokens.refresh_token.is_some());
    assert!(tokens.scopes.contains(GRAPH_USER_READ));
    let identity = AccountIdentity::of_user(&tokens).expect("a user");
    assert!(identity.is_named(&DEMO_USERNAME.to_uppercase()));
    assert!(
        identity.home_account_id.ends_with(DEMO_TENANT_ID),
        "{}",
        identity.home_account_id
    );
    assert_eq!(
        tokens
            .id_token_claims
            .as_ref()
            .and_then(|claims| claims.nonce()),
        Some(pending.nonce.as_str())
    );
}

#[tokio::test]
async fn a_declined_consent_reaches_the_loopback_page_as_not_signed_in() {
    let emulator = emulator_with(entra_emulator::sandbox::config()).await;
    let client = public(&emulator);
    let listener = LoopbackListener::bind(0).await.unwrap();
    let (url, pending) = client
        .authorization_url(
            &scopes(GRAPH_USER_READ),
            &listener.redirect_uri(),
            &AuthorizeOptions::default(),
        )
        .await
        .unwrap();
    let waiting = tokio::spawn({
        let pending = pending.clone();
        async move { listener.wait_for(&pending).await }
    });
    let browser = Browser::new();
    let redirect = browser
        .sign_in(url.as_str(), DEMO_USERNAME, DEMO_PASSWORD, false)
        .await;
    let location = redirect.location.expect("a redirect with the error");
    assert!(location.contains("error=access_denied"), "{location}");
    let landed = browser.open(&location).await;
    assert!(landed.has("signin-not-done"), "{}", landed.body);
    assert!(!landed.has("signin-complete"), "{}", landed.body);
    assert!(landed.body.contains("access_denied"), "{}", landed.body);
    let redirected = waiting.await.unwrap().unwrap();
    let error = client.complete(&redirected, &pending).await.unwrap_err();
    assert_eq!(error.code(), "consent_required", "{error}");
}

#[tokio::test]
async fn deep_link_and_native_client_redirects_complete_from_the_pasted_url() {
    let emulator = emulator().await;
    let client = public(&emulator);
    for redirect_uri in [DEEP_LINK_REDIRECT, NATIVE_CLIENT_REDIRECT] {
        let (url, pending) = client
            .authorization_url(
                &scopes(GRAPH_USER_READ),
                redirect_uri,
                &AuthorizeOptions::default(),
            )
            .await
            .unwrap();
        // The pending flow survives a trip through JSON (a restart, another process).
        let pending: o365_auth_core::flows::PendingFlow =
            serde_json::from_str(&serde_json::to_string(&pending).unwrap()).unwrap();
        let redirect = Browser::new()
            .sign_in(url.as_str(), DEMO_USERNAME, DEMO_PASSWORD, true)
            .await;
        let location = redirect.location.expect("redirect");
        assert!(location.starts_with(redirect_uri), "{location}");
        let tokens = client.complete(&location, &pending).await.unwrap();
        assert!(tokens.refresh_token.is_some());

        // The same answer again: the code was redeemed, so the grant is refused.
        let replay = client.complete(&location, &pending).await.unwrap_err();
        assert_eq!(replay.code(), "needs_sign_in", "{replay}");
    }
}

#[tokio::test]
async fn forged_state_foreign_urls_and_cancelled_consent_are_typed_errors() {
    let emulator = emulator().await;
    let client = public(&emulator);
    let (url, pending) = client
        .authorization_url(
            &scopes(GRAPH_USER_READ),
            DEEP_LINK_REDIRECT,
            &AuthorizeOptions::default(),
        )
        .await
        .unwrap();
    let forged = client
        .complete("o365auth://auth?code=abc&state=forged", &pending)
        .await
        .unwrap_err();
    assert!(matches!(forged, Error::StateMismatch), "{forged}");
    let missing = client
        .complete("o365auth://auth?code=abc", &pending)
        .await
        .unwrap_err();
    assert!(matches!(missing, Error::StateMismatch));
    let elsewhere = client
        .complete(
            &format!("https://evil.example/?code=abc&state={}", pending.state),
            &pending,
        )
        .await
        .unwrap_err();
    assert_eq!(elsewhere.code(), "invalid_input");

    let cancelled = Browser::new()
        .sign_in(url.as_str(), DEMO_USERNAME, DEMO_PASSWORD, false)
        .await;
    let location = cancelled.location.expect("error redirect");
    let error = client.complete(&location, &pending).await.unwrap_err();
    assert_eq!(error.code(), "consent_required", "{error}");
    assert_eq!(
        error.service_error().and_then(|detail| detail.aadsts),
        Some(65004)
    );
}

#[tokio::test]
async fn authorize_options_reach_the_url() {
    let emulator = emulator().await;
    let options = AuthorizeOptions {
        prompt: Some(Prompt::SelectAccount),
        login_hint: Some(DEMO_USERNAME.into()),
        domain_hint: Some("sandbox.onmicrosoft.com".into()),
        claims: None,
    };
    let (url, _) = public(&emulator)
        .authorization_url(&scopes(GRAPH_USER_READ), DEEP_LINK_REDIRECT, &options)
        .await
        .unwrap();
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    for (name, value) in [
        ("prompt", "select_account"),
        ("login_hint", DEMO_USERNAME),
        ("domain_hint", "sandbox.onmicrosoft.com"),
        ("response_mode", "query"),
    ] {
        assert!(
            pairs.contains(&(name.to_owned(), value.to_owned())),
            "{name} in {url}"
        );
    }
}

#[tokio::test]
async fn confidential_authorization_with_a_secret_and_refresh_rotation() {
    let emulator = emulator().await;
    let client = client(
        &emulator,
        DEMO_TENANT_ID,
        DEMO_CONFIDENTIAL_CLIENT_ID,
        ClientCredential::Secret(Secret::new(DEMO_CLIENT_SECRET)),
    );
    let redirect_uri = "http://localhost:8400/callback";
    let (url, pending) = client
        .authorization_url(
            &scopes(GRAPH_USER_READ),
            redirect_uri,
            &AuthorizeOptions::default(),
        )
        .await
        .unwrap();
    let redirect = Browser::new()
        .sign_in(url.as_str(), DEMO_USERNAME, DEMO_PASSWORD, true)
        .await;
    let tokens = client
        .complete(&redirect.location.expect("redirect"), &pending)
        .await
        .unwrap();
    let first_refresh = tokens.refresh_token.clone().expect("refresh token");

    let refreshed = client
        .refresh(&first_refresh, &tokens.scopes)
        .await
        .unwrap();
    let rotated = refreshed
        .refresh_token
        .clone()
        .expect("a rotated refresh token");
    assert_ne!(rotated, first_refresh);
    assert_ne!(refreshed.access_token, tokens.access_token);
    assert_eq!(refreshed.home_account_id(), tokens.home_account_id());

    let wrong_secret = self::client(
        &emulator,
        DEMO_TENANT_ID,
        DEMO_CONFIDENTIAL_CLIENT_ID,
        ClientCredential::Secret(Secret::new("not-the-secret")),
    );
    let error = wrong_secret
        .refresh(&rotated, &tokens.scopes)
        .await
        .unwrap_err();
    assert_eq!(error.code(), "app_misconfigured", "{error}");
    assert!(!error.to_string().contains("not-the-secret"));
}

#[tokio::test]
async fn refresh_errors_classify_dead_grants_throttling_and_outages() {
    let emulator = emulator_with(consented_config()).await;
    let client = client(
        &emulator,
        DEMO_TENANT_ID,
        DEMO_CLIENT_ID,
        ClientCredential::None,
    );
    let tokens = client
        .acquire_by_password(
            DEMO_USERNAME,
            &Secret::new(DEMO_PASSWORD),
            &scopes(GRAPH_USER_READ),
        )
        .await
        .unwrap();
    let refresh_token = tokens.refresh_token.clone().expect("refresh token");
    let control = emulator.control();

    control.throttle(1, 7, None);
    let throttled = client
        .refresh(&refresh_token, &tokens.scopes)
        .await
        .unwrap_err();
    assert_eq!(throttled.code(), "throttled");
    assert_eq!(
        throttled.retry_after(),
        Some(std::time::Duration::from_secs(7))
    );

    control.inject(Fault::status(1, 503));
    let outage = client
        .refresh(&refresh_token, &tokens.scopes)
        .await
        .unwrap_err();
    assert_eq!(outage.code(), "transient", "{outage}");
    assert!(outage.is_retryable());

    control.revoke_refresh_tokens(DEMO_USERNAME).unwrap();
    let dead = client
        .refresh(&refresh_token, &tokens.scopes)
        .await
        .unwrap_err();
    assert_eq!(dead.code(), "needs_sign_in", "{dead}");
    assert!(
        dead.service_error()
            .and_then(|detail| detail.correlation_id.as_ref())
            .is_some()
    );
}

#[tokio::test]
async fn password_flow_answers_and_its_errors() {
    let emulator = emulator_with(consented_config()).await;
    let client = client(
        &emulator,
        DEMO_TENANT_ID,
        DEMO_CLIENT_ID,
        ClientCredential::None,
    );
    let tokens = client
        .acquire_by_password(
            DEMO_USERNAME,
            &Secret::new(DEMO_PASSWORD),
            &scopes(GRAPH_USER_READ),
        )
        .await
        .unwrap();
    assert!(
        AccountIdentity::of_user(&tokens)
            .unwrap()
            .is_named(DEMO_USERNAME)
    );

    let wrong = client
        .acquire_by_password(
            DEMO_USERNAME,
            &Secret::new("wrong-password"),
            &scopes(GRAPH_USER_READ),
        )
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), "bad_credentials", "{wrong}");
    assert!(!wrong.to_string().contains("wrong-password"));
    let mfa = client
        .acquire_by_password(
            MFA_USERNAME,
            &Secret::new(DEMO_PASSWORD),
            &scopes(GRAPH_USER_READ),
        )
        .await
        .unwrap_err();
    assert_eq!(mfa.code(), "interaction_required", "{mfa}");

    let common = public(&emulator)
        .acquire_by_password(
            DEMO_USERNAME,
            &Secret::new(DEMO_PASSWORD),
            &scopes(GRAPH_USER_READ),
        )
        .await
        .unwrap_err();
    assert_eq!(common.code(), "invalid_input");
}

#[tokio::test]
async fn client_credentials_with_a_secret_need_a_tenant_and_the_default_scope() {
    let emulator = emulator().await;
    let secret = ClientCredential::Secret(Secret::new(DEMO_CLIENT_SECRET));
    let client = client(
        &emulator,
        DEMO_TENANT_ID,
        DEMO_CONFIDENTIAL_CLIENT_ID,
        secret.clone(),
    );
    let tokens = client
        .acquire_for_client(&scopes(GRAPH_DEFAULT))
        .await
        .unwrap();
    assert!(tokens.refresh_token.is_none() && tokens.id_token.is_none());
    assert!(tokens.home_account_id().is_none());

    let not_default = client
        .acquire_for_client(&scopes(GRAPH_USER_READ))
        .await
        .unwrap_err();
    assert!(
        not_default.to_string().contains(".default"),
        "{not_default}"
    );
    let common = self::client(&emulator, "common", DEMO_CONFIDENTIAL_CLIENT_ID, secret)
        .acquire_for_client(&scopes(GRAPH_DEFAULT))
        .await
        .unwrap_err();
    assert!(common.to_string().contains("specific tenant"), "{common}");
    let no_secret = self::client(
        &emulator,
        DEMO_TENANT_ID,
        DEMO_CONFIDENTIAL_CLIENT_ID,
        ClientCredential::None,
    )
    .acquire_for_client(&scopes(GRAPH_DEFAULT))
    .await
    .unwrap_err();
    assert_eq!(no_secret.code(), "invalid_input");
}

#[tokio::test]
async fn client_credentials_with_a_certificate_from_pem_or_pkcs12() {
    let (certificate_pem, key_pem, pfx) = self_signed_certificate();
    let mut config = entra_emulator::sandbox::config();
    for app in config
        .tenants
        .iter_mut()
        .flat_map(|tenant| tenant.apps.iter_mut())
    {
        if app.client_id.to_string() == DEMO_CONFIDENTIAL_CLIENT_ID {
            app.certificates
                .push(String::from_utf8(certificate_pem.clone()).unwrap());
        }
    }
    let emulator = emulator_with(config).await;
    for certificate in [
        Certificate::from_pem(&certificate_pem, &key_pem).unwrap(),
        Certificate::from_pkcs12(&pfx, &Secret::new("pfx-pass")).unwrap(),
    ] {
        let client = client(
            &emulator,
            DEMO_TENANT_ID,
            DEMO_CONFIDENTIAL_CLIENT_ID,
            ClientCredential::Certificate(certificate),
        );
        // Twice: each assertion carries a fresh jti, which Microsoft accepts once.
        for _ in 0..2 {
            let tokens = client
                .acquire_for_client(&scopes(GRAPH_DEFAULT))
                .await
                .unwrap();
            assert!(!tokens.access_token.is_empty());
        }
    }

    let (other_pem, other_key, _) = self_signed_certificate();
    let unregistered = client(
        &emulator,
        DEMO_TENANT_ID,
        DEMO_CONFIDENTIAL_CLIENT_ID,
        ClientCredential::Certificate(Certificate::from_pem(&other_pem, &other_key).unwrap()),
    );
    let error = unregistered
        .acquire_for_client(&scopes(GRAPH_DEFAULT))
        .await
        .unwrap_err();
    assert_eq!(error.code(), "app_misconfigured", "{error}");
}

#[tokio::test]
async fn device_code_sign_in_approved_and_declined() {
    let mut config = entra_emulator::sandbox::config();
    config.lifetimes.device_code_interval_seconds = 1;
    let emulator = emulator_with(config).await;
    let client = public(&emulator);

    let challenge = client
        .start_device_code(&scopes(GRAPH_USER_READ))
        .await
        .unwrap();
    assert!(challenge.message.contains(&challenge.user_code));
    let polling = tokio::spawn({
        let client = client.clone();
        let challenge = challenge.clone();
        async move { client.finish_device_code(&challenge).await }
    });
    let done = Browser::new()
        .enter_device_code(
            &challenge.verification_uri,
            &challenge.user_code,
            DEMO_USERNAME,
            DEMO_PASSWORD,
            true,
        )
        .await;
    assert!(done.has("device-done"), "{}", done.body);
    let tokens = polling.await.unwrap().unwrap();
    assert!(
        AccountIdentity::of_user(&tokens)
            .unwrap()
            .is_named(DEMO_USERNAME)
    );

    let challenge = client
        .start_device_code(&scopes(GRAPH_USER_READ))
        .await
        .unwrap();
    let polling = tokio::spawn({
        let client = client.clone();
        let challenge = challenge.clone();
        async move { client.finish_device_code(&challenge).await }
    });
    let declined = Browser::new()
        .enter_device_code(
            &challenge.verification_uri,
            &challenge.user_code,
            "adele@sandbox.onmicrosoft.com",
            DEMO_PASSWORD,
            false,
        )
        .await;
    assert!(declined.has("device-declined"), "{}", declined.body);
    let error = polling.await.unwrap().unwrap_err();
    assert!(
        matches!(error.code(), "sign_in_declined" | "consent_required"),
        "{error}"
    );
}

#[tokio::test]
async fn discovery_failure_falls_back_to_the_standard_paths() {
    let emulator = emulator().await;
    emulator
        .control()
        .inject(Fault::status(1, 500).on_path("/organizations/v2.0/.well-known"));
    let client = public(&emulator);
    let endpoints = client.endpoints().await;
    assert!(
        emulator.control().pending_faults().is_empty(),
        "discovery was asked"
    );
    assert!(
        endpoints
            .token
            .as_str()
            .ends_with("/organizations/oauth2/v2.0/token")
    );
    // And a working discovery document names the same endpoints.
    let discovered = self::public(&emulator).endpoints().await;
    assert_eq!(discovered.token, endpoints.token);
}

#[tokio::test]
async fn an_unreachable_authority_is_a_network_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let client = IdentityClient::new(
        AppConfig {
            client_id: DEMO_CLIENT_ID.into(),
            credential: ClientCredential::None,
            authority: Authority::new(
                Cloud::custom(&format!("http://127.0.0.1:{port}")).unwrap(),
                Tenant::parse(DEMO_TENANT_ID).unwrap(),
            ),
        },
        &HttpSettings::default(),
    )
    .unwrap();
    let error = client
        .acquire_by_password(
            DEMO_USERNAME,
            &Secret::new(DEMO_PASSWORD),
            &scopes(GRAPH_USER_READ),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Network { .. }), "{error:?}");
    assert_eq!(error.code(), "transient");
    assert!(error.to_string().contains("127.0.0.1"), "{error}");
}
