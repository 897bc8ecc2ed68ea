//! The Connection against the emulator's Graph: retries and `Retry-After`, writes, refresh on
//! 401 when the local clock disagrees, Graph errors, paging, request spacing, dropped
//! connections and the proxy.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use entra_emulator::sandbox::{
    DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_CONFIDENTIAL_CLIENT_ID, DEMO_PASSWORD, DEMO_TENANT_ID,
    DEMO_USERNAME,
};
use entra_emulator::{Emulator, EmulatorConfig, Fault};
use o365_auth_core::account::{Account, AccountConfig};
use o365_auth_core::authority::{Authority, Tenant};
use o365_auth_core::backend::MemoryBackend;
use o365_auth_core::cloud::Cloud;
use o365_auth_core::connection::{
    Connection, ConnectionSettings, Method, RequestOptions, StaticToken,
};
use o365_auth_core::flows::{AppConfig, ClientCredential, FlowKind};
use o365_auth_core::http::{HttpSettings, ProxySettings};
use o365_auth_core::protocol::Protocol;
use o365_auth_core::{Error, Secret};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

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

struct Fixture {
    emulator: Emulator,
    account: Arc<Account>,
}

fn fast() -> ConnectionSettings {
    ConnectionSettings {
        requests_delay: Duration::from_millis(10),
        backoff_base: Duration::from_millis(50),
        ..ConnectionSettings::default()
    }
}

fn account_config(
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
    config.scopes = vec!["basic".into(), "mailbox".into()];
    config
}

async fn signed_in() -> Fixture {
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

fn requests_to(emulator: &Emulator, path: &str) -> u64 {
    emulator
        .control()
        .stats()
        .endpoints
        .get(path)
        .copied()
        .unwrap_or(0)
}

#[tokio::test]
async fn me_and_the_current_user() {
    let fixture = signed_in().await;
    let connection = fixture.account.connection(fast()).unwrap();
    let me = connection.get("me").await.unwrap().json().unwrap();
    assert_eq!(me["userPrincipalName"], DEMO_USERNAME);
    let user = fixture
        .account
        .current_user(&connection)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user["userPrincipalName"], DEMO_USERNAME);

    let app_only = Arc::new(
        Account::new(
            account_config(
                &fixture.emulator,
                FlowKind::Credentials,
                DEMO_CONFIDENTIAL_CLIENT_ID,
                ClientCredential::Secret(Secret::new(DEMO_CLIENT_SECRET)),
            ),
            Arc::new(MemoryBackend::new()),
        )
        .unwrap(),
    );
    app_only.authenticate_app().await.unwrap();
    let connection = app_only.connection(fast()).unwrap();
    assert!(app_only.current_user(&connection).await.unwrap().is_none());
    let users = connection
        .pages("users")
        .unwrap()
        .collect_all(100)
        .await
        .unwrap();
    assert!(users.len() >= 5, "app-only tokens list the tenant's users");
}

#[tokio::test]
async fn throttling_is_retried_after_retry_after() {
    let fixture = signed_in().await;
    let connection = fixture.account.connection(fast()).unwrap();
    fixture.emulator.control().throttle(2, 1, Some("/v1.0/me"));
    let started = Instant::now();
    let me = connection.get("me").await.unwrap();
    assert_eq!(me.status, 200);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "waited Retry-After twice: {:?}",
        started.elapsed()
    );
    assert_eq!(requests_to(&fixture.emulator, "/v1.0/me"), 3);
}

#[tokio::test]
async fn server_errors_are_retried_then_reported_or_returned() {
    let fixture = signed_in().await;
    let control = fixture.emulator.control();
    let connection = fixture.account.connection(fast()).unwrap();
    control.inject(Fault::status(2, 503).on_path("/v1.0/me"));
    assert_eq!(connection.get("me").await.unwrap().status, 200);

    control.reset_stats();
    control.inject(Fault::status(10, 503).on_path("/v1.0/me"));
    let error = connection.get("me").await.unwrap_err();
    assert_eq!(error.code(), "transient", "{error}");
    assert_eq!(
        requests_to(&fixture.emulator, "/v1.0/me"),
        4,
        "one attempt and three retries"
    );

    control.clear_faults();
    control.inject(Fault::status(10, 503).on_path("/v1.0/me"));
    let lenient = fixture
        .account
        .connection(ConnectionSettings {
            raise_http_errors: false,
            ..fast()
        })
        .unwrap();
    let answer = lenient.get("me").await.unwrap();
    assert_eq!(
        answer.status, 503,
        "exhausted retries return the answer when errors are not raised"
    );
    control.clear_faults();
}

#[tokio::test]
async fn writes_are_retried_on_429_but_not_on_5xx_unless_asked() {
    let fixture = signed_in().await;
    let control = fixture.emulator.control();
    let connection = fixture.account.connection(fast()).unwrap();
    let path = "/v1.0/me/sendMail";
    let send = |retry: bool| RequestOptions {
        body: o365_auth_core::connection::Body::Json(serde_json::json!({ "message": {} })),
        retry_non_idempotent: retry,
        ..Default::default()
    };

    control.inject(Fault::status(1, 503).on_path(path));
    let error = connection
        .request(Method::Post, "me/sendMail", send(false))
        .await
        .unwrap_err();
    assert_eq!(error.code(), "transient");
    assert_eq!(
        requests_to(&fixture.emulator, path),
        1,
        "a POST is not repeated after a 5xx"
    );

    control.reset_stats();
    control.inject(Fault::status(1, 503).on_path(path));
    let _ = connection
        .request(Method::Post, "me/sendMail", send(true))
        .await;
    assert_eq!(requests_to(&fixture.emulator, path), 2, "opted in: retried");

    control.reset_stats();
    control.throttle(1, 1, Some(path));
    let _ = connection
        .request(Method::Post, "me/sendMail", send(false))
        .await;
    assert_eq!(
        requests_to(&fixture.emulator, path),
        2,
        "a throttled POST was not carried out: retried"
    );
}

#[tokio::test]
async fn a_401_refreshes_once_even_when_the_local_clock_says_the_token_is_valid() {
    let fixture = signed_in().await;
    let connection = fixture.account.connection(fast()).unwrap();
    connection.get("me").await.unwrap();
    // The service's clock runs two hours ahead: it thinks our token expired, we do not.
    fixture.emulator.control().advance_clock(2 * 3600);
    let me = connection.get("me").await.unwrap();
    assert_eq!(me.status, 200);
    let grants = fixture.emulator.control().stats().grant_types;
    assert_eq!(grants.get("refresh_token").copied(), Some(1));

    // A token that cannot be refreshed: one more try with the same token, then the error.
    let fixed = Connection::new(
        fast(),
        fixture.account.protocol().service_url(),
        Some(Arc::new(StaticToken(Secret::new("not-a-token")))),
    )
    .unwrap();
    let error = fixed.get("me").await.unwrap_err();
    assert!(
        matches!(&error, Error::Api(detail) if detail.http_status == Some(401)),
        "{error:?}"
    );
    assert!(!error.to_string().contains("not-a-token"));
}

#[tokio::test]
async fn graph_errors_are_typed_with_code_and_request_id() {
    let fixture = signed_in().await;
    let connection = fixture.account.connection(fast()).unwrap();
    // Delegated User.Read cannot list the directory.
    let error = connection.get("users").await.unwrap_err();
    let detail = error.service_error().expect("detail");
    assert_eq!((error.code(), detail.http_status), ("api_error", Some(403)));
    assert!(
        !detail.error.is_empty() && detail.trace_id.is_some(),
        "{detail:?}"
    );
}

#[tokio::test]
async fn paging_follows_next_links_to_the_end() {
    let fixture = signed_in().await;
    let connection = fixture.account.connection(fast()).unwrap();
    let all = connection
        .pages("me/messages?$top=10")
        .unwrap()
        .collect_all(1000)
        .await
        .unwrap();
    assert_eq!(all.len(), 25);
    let mut pager = connection.pages("me/messages?$top=10").unwrap();
    let mut sizes = Vec::new();
    while let Some(page) = pager.next_page().await {
        sizes.push(page.unwrap().len());
    }
    assert_eq!(sizes, [10, 10, 5]);
    let capped = connection
        .pages("me/messages?$top=10")
        .unwrap()
        .collect_all(12)
        .await
        .unwrap();
    assert_eq!(capped.len(), 12);
}

#[tokio::test]
async fn requests_are_spaced_and_shared_across_clones() {
    let fixture = signed_in().await;
    let connection = fixture
        .account
        .connection(ConnectionSettings {
            requests_delay: Duration::from_millis(250),
            ..fast()
        })
        .unwrap();
    let clone = connection.clone();
    let started = Instant::now();
    let (first, second) = tokio::join!(
        async {
            for _ in 0..3 {
                connection.get("me").await.unwrap();
            }
        },
        async {
            for _ in 0..2 {
                clone.get("me").await.unwrap();
            }
        }
    );
    let _ = (first, second);
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "five starts 250 ms apart: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_dropped_connection_is_retried_for_a_get() {
    let fixture = signed_in().await;
    let connection = fixture.account.connection(fast()).unwrap();
    fixture
        .emulator
        .control()
        .inject(Fault::drop_connection(1).on_path("/v1.0/me"));
    assert_eq!(connection.get("me").await.unwrap().status, 200);
    assert_eq!(requests_to(&fixture.emulator, "/v1.0/me"), 2);
}

/// A forward proxy for plain http that records each request line it relays.
async fn recording_proxy(
    target: std::net::SocketAddr,
) -> (u16, Arc<AtomicUsize>, Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (count_in, lines_in) = (count.clone(), lines.clone());
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let (count, lines) = (count_in.clone(), lines_in.clone());
            tokio::spawn(async move {
                let mut head = vec![0u8; 16 * 1024];
                let read = client.read(&mut head).await.unwrap_or(0);
                head.truncate(read);
                let text = String::from_utf8_lossy(&head).to_string();
                lines
                    .lock()
                    .unwrap()
                    .push(text.lines().next().unwrap_or_default().to_owned());
                let authorized = text
                    .to_ascii_lowercase()
                    .contains("proxy-authorization: basic");
                count.fetch_add(usize::from(authorized), Ordering::SeqCst);
                let mut upstream = tokio::net::TcpStream::connect(target).await.unwrap();
                upstream.write_all(&head).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    (port, count, lines)
}

#[tokio::test]
async fn the_proxy_carries_api_calls_with_its_credentials() {
    let fixture = signed_in().await;
    let (port, authorized, lines) = recording_proxy(fixture.emulator.local_addr()).await;
    let settings = ConnectionSettings {
        http: HttpSettings {
            proxy: Some(ProxySettings {
                host: "127.0.0.1".into(),
                port,
                username: Some("proxy-user".into()),
                password: Some(Secret::new("p@ss:word")),
                http_only: false,
            }),
            ..HttpSettings::default()
        },
        ..fast()
    };
    let connection = fixture.account.connection(settings).unwrap();
    assert_eq!(connection.get("me").await.unwrap().status, 200);
    let seen = lines.lock().unwrap().clone();
    assert!(
        seen.iter()
            .any(|line| line.starts_with("GET http://") && line.contains("/v1.0/me")),
        "{seen:?}"
    );
    assert!(
        authorized.load(Ordering::SeqCst) >= 1,
        "Proxy-Authorization sent"
    );
}
