//! No token, password, client secret, code or PKCE verifier reaches the logs (every target, at
//! TRACE), `Debug` output or error text during sign-ins, refreshes and failures.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use entra_emulator::Emulator;
use entra_emulator::sandbox::{
    DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_CONFIDENTIAL_CLIENT_ID, DEMO_PASSWORD, DEMO_TENANT_ID,
    DEMO_USERNAME,
};
use o365_auth_core::Secret;
use o365_auth_core::authority::{Authority, Tenant};
use o365_auth_core::cloud::Cloud;
use o365_auth_core::flows::{AppConfig, ClientCredential, DEEP_LINK_REDIRECT, IdentityClient};
use o365_auth_core::http::HttpSettings;
use o365_auth_core::scopes::Scopes;
use support::browser::Browser;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn client(emulator: &Emulator, client_id: &str, credential: ClientCredential) -> IdentityClient {
    let authority = Authority::new(
        Cloud::custom(&emulator.base_url()).unwrap(),
        Tenant::parse(DEMO_TENANT_ID).unwrap(),
    );
    IdentityClient::new(
        AppConfig {
            client_id: client_id.into(),
            credential,
            authority,
        },
        &HttpSettings::default(),
    )
    .unwrap()
}

#[tokio::test]
async fn sign_in_refresh_and_failures_leave_no_secret_behind() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let emulator = Emulator::start(
        entra_emulator::sandbox::config(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let confidential = client(
        &emulator,
        DEMO_CONFIDENTIAL_CLIENT_ID,
        ClientCredential::Secret(Secret::new(DEMO_CLIENT_SECRET)),
    );
    let scopes = Scopes::from_granted("https://graph.microsoft.com/User.Read");
    let (url, pending) = confidential
        .authorization_url(
            &scopes,
            "http://localhost:8400/callback",
            &Default::default(),
        )
        .await
        .unwrap();
    let redirect = Browser::new()
        .sign_in(url.as_str(), DEMO_USERNAME, DEMO_PASSWORD, true)
        .await;
    let location = redirect.location.unwrap();
    let code = url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(name, _)| name == "code")
        .map(|(_, value)| value.into_owned())
        .unwrap();
    let tokens = confidential.complete(&location, &pending).await.unwrap();
    let refreshed = confidential
        .refresh(tokens.refresh_token.as_ref().unwrap(), &tokens.scopes)
        .await
        .unwrap();

    // An API call through the Connection with the refreshed token, and a failing one.
    let graph = o365_auth_core::connection::Connection::new(
        o365_auth_core::connection::ConnectionSettings::default(),
        url::Url::parse(&format!("{}/v1.0/", emulator.base_url())).unwrap(),
        Some(std::sync::Arc::new(
            o365_auth_core::connection::StaticToken(refreshed.access_token.clone()),
        )),
    )
    .unwrap();
    graph.get("me").await.unwrap();
    let forbidden = graph.get("users").await.unwrap_err();

    let mut texts = vec![
        format!("{forbidden} {forbidden:?} {graph:?}"),
        format!("{tokens:?}"),
        format!("{refreshed:?}"),
        format!("{pending:?}"),
        format!("{confidential:?}"),
    ];
    let wrong = client(
        &emulator,
        DEMO_CONFIDENTIAL_CLIENT_ID,
        ClientCredential::Secret(Secret::new("wrong-secret-value")),
    );
    let error = wrong
        .refresh(refreshed.refresh_token.as_ref().unwrap(), &scopes)
        .await
        .unwrap_err();
    texts.push(format!("{error} {error:?}"));
    let public = client(&emulator, DEMO_CLIENT_ID, ClientCredential::None);
    let error = public
        .acquire_by_password(DEMO_USERNAME, &Secret::new("a-wrong-password"), &scopes)
        .await
        .unwrap_err();
    texts.push(format!("{error} {error:?}"));
    let (_, deep) = public
        .authorization_url(&scopes, DEEP_LINK_REDIRECT, &Default::default())
        .await
        .unwrap();
    let error = public
        .complete(
            &format!("o365auth://auth?code={code}&state={}", deep.state),
            &deep,
        )
        .await
        .unwrap_err();
    texts.push(format!("{error} {error:?}"));

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.len() > 1000, "the capture works: {} bytes", logs.len());
    texts.push(logs);
    let secrets = [
        tokens.access_token.expose(),
        tokens.refresh_token.as_ref().unwrap().expose(),
        tokens.id_token.as_ref().unwrap().expose(),
        refreshed.access_token.expose(),
        refreshed.refresh_token.as_ref().unwrap().expose(),
        pending.pkce_verifier.expose(),
        code.as_str(),
        DEMO_CLIENT_SECRET,
        "wrong-secret-value",
        DEMO_PASSWORD,
        "a-wrong-password",
    ];
    for text in &texts {
        for secret in secrets {
            assert!(
                !text.contains(secret),
                "a secret leaked into: {}",
                &text[..text.len().min(300)]
            );
        }
    }
}
