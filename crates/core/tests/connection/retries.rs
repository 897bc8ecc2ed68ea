//! Retries: `Retry-After`, 5xx, exhausted retries, writes, dropped connections.

use std::time::Duration;

use entra_emulator::Fault;
use o365_auth_core::Error;
use o365_auth_core::connection::{Body, ConnectionSettings, Method, RequestOptions};
use serde_json::json;

use crate::relay::Relay;
use crate::{fast, signed_in};

#[tokio::test]
async fn throttling_is_retried_after_retry_after() {
    let fixture = signed_in().await;
    let relay = Relay::start(fixture.emulator.local_addr()).await;
    let connection = fixture.connection_to(&relay.base_url(), fast());
    fixture.emulator.control().throttle(2, 1, Some("/v1.0/me"));
    let me = connection.get("me").await.unwrap();
    assert_eq!(me.status, 200);
    assert_eq!(fixture.requests_to("/v1.0/me"), 3);
    // The client sleeps after the 429 arrived, so arrival times are at least Retry-After apart.
    let arrivals: Vec<_> = relay.seen().iter().map(|seen| seen.at).collect();
    assert_eq!(arrivals.len(), 3);
    for pair in arrivals.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= Duration::from_secs(1),
            "Retry-After: 1 honoured: {gap:?}"
        );
    }
}

#[tokio::test]
async fn a_retry_after_beyond_the_limit_ends_the_request_with_it() {
    let fixture = signed_in().await;
    let settings = ConnectionSettings {
        max_retry_wait: Duration::from_secs(1),
        ..fast()
    };
    let connection = fixture.account.connection(settings).unwrap();
    fixture.emulator.control().throttle(1, 30, Some("/v1.0/me"));
    let error = connection.get("me").await.unwrap_err();
    assert_eq!(error.code(), "throttled", "{error}");
    assert_eq!(error.retry_after(), Some(Duration::from_secs(30)));
    assert_eq!(
        fixture.requests_to("/v1.0/me"),
        1,
        "not retried, not slept through"
    );
}

#[tokio::test]
async fn server_errors_are_retried_then_reported_or_returned() {
    let fixture = signed_in().await;
    let control = fixture.emulator.control();
    let connection = fixture.account.connection(fast()).unwrap();
    control.inject(Fault::status(2, 503).on_path("/v1.0/me"));
    assert_eq!(connection.get("me").await.unwrap().status, 200);
    assert_eq!(fixture.requests_to("/v1.0/me"), 3);

    for status in [500, 502, 504] {
        control.reset_stats();
        control.inject(Fault::status(1, status).on_path("/v1.0/me"));
        assert_eq!(connection.get("me").await.unwrap().status, 200, "{status}");
        assert_eq!(fixture.requests_to("/v1.0/me"), 2, "{status} retried");
    }

    control.reset_stats();
    control.inject(Fault::status(10, 503).on_path("/v1.0/me"));
    let error = connection.get("me").await.unwrap_err();
    assert_eq!(error.code(), "transient", "{error}");
    let detail = error.service_error().expect("Graph's error detail");
    assert_eq!(detail.http_status, Some(503));
    assert_eq!(
        fixture.requests_to("/v1.0/me"),
        4,
        "one attempt and three retries"
    );

    control.clear_faults();
    control.reset_stats();
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
        "exhausted retries return the last answer when errors are not raised"
    );
    assert_eq!(fixture.requests_to("/v1.0/me"), 4);
    control.clear_faults();

    control.reset_stats();
    let none = fixture
        .account
        .connection(ConnectionSettings {
            request_retries: 0,
            ..fast()
        })
        .unwrap();
    control.inject(Fault::status(1, 503).on_path("/v1.0/me"));
    assert_eq!(none.get("me").await.unwrap_err().code(), "transient");
    assert_eq!(
        fixture.requests_to("/v1.0/me"),
        1,
        "request_retries 0: no retry"
    );
}

fn mail(retry_non_idempotent: bool) -> RequestOptions {
    RequestOptions {
        body: Body::Json(json!({
            "message": {
                "subject": "Lunch",
                "body": {"contentType": "Text", "content": "At noon?"},
                "toRecipients": [{"emailAddress": {"address": "adele@contoso.onmicrosoft.com"}}]
            }
        })),
        retry_non_idempotent,
        ..Default::default()
    }
}

#[tokio::test]
async fn writes_are_retried_on_429_but_not_on_5xx_unless_asked() {
    let fixture = signed_in().await;
    let control = fixture.emulator.control();
    let connection = fixture.account.connection(fast()).unwrap();
    let path = "/v1.0/me/sendMail";
    let sent = || fixture.emulator.control().stats().mails_accepted;

    let answer = connection
        .request(Method::Post, "me/sendMail", mail(false))
        .await
        .unwrap();
    assert_eq!((answer.status, sent()), (202, 1));

    control.reset_stats();
    control.inject(Fault::status(1, 503).on_path(path));
    let error = connection
        .request(Method::Post, "me/sendMail", mail(false))
        .await
        .unwrap_err();
    assert_eq!(error.code(), "transient");
    assert_eq!(
        (fixture.requests_to(path), sent()),
        (1, 0),
        "a POST is not repeated after a 5xx: the server may have carried it out"
    );

    control.reset_stats();
    control.inject(Fault::status(1, 503).on_path(path));
    let answer = connection
        .request(Method::Post, "me/sendMail", mail(true))
        .await
        .unwrap();
    assert_eq!(
        (answer.status, fixture.requests_to(path), sent()),
        (202, 2, 1),
        "opted in: retried"
    );

    control.reset_stats();
    control.throttle(1, 1, Some(path));
    let answer = connection
        .request(Method::Post, "me/sendMail", mail(false))
        .await
        .unwrap();
    assert_eq!(
        (answer.status, fixture.requests_to(path), sent()),
        (202, 2, 1),
        "a throttled POST was not carried out: retried, sent once"
    );

    // PATCH the same way (the emulator has no PATCH route: only the attempts are counted).
    control.reset_stats();
    control.inject(Fault::status(1, 502).on_path("/v1.0/me"));
    let _ = connection.patch("me", json!({"jobTitle": "Lead"})).await;
    assert_eq!(
        fixture.requests_to("/v1.0/me"),
        1,
        "a PATCH is not repeated after a 5xx"
    );
    control.reset_stats();
    control.throttle(1, 1, Some("/v1.0/me"));
    let _ = connection.patch("me", json!({"jobTitle": "Lead"})).await;
    assert_eq!(
        fixture.requests_to("/v1.0/me"),
        2,
        "a throttled PATCH is retried"
    );
}

#[tokio::test]
async fn dropped_connections_are_retried_for_reads_only() {
    let fixture = signed_in().await;
    let control = fixture.emulator.control();
    let connection = fixture.account.connection(fast()).unwrap();
    control.inject(Fault::drop_connection(1).on_path("/v1.0/me"));
    assert_eq!(connection.get("me").await.unwrap().status, 200);
    assert_eq!(fixture.requests_to("/v1.0/me"), 2);

    control.reset_stats();
    control.inject(Fault::drop_connection(10).on_path("/v1.0/me"));
    let error = connection.get("me").await.unwrap_err();
    assert!(matches!(error, Error::Network { .. }), "{error:?}");
    assert_eq!(error.code(), "transient", "a network failure is transient");
    assert_eq!(
        fixture.requests_to("/v1.0/me"),
        4,
        "one attempt and three retries"
    );
    control.clear_faults();

    control.reset_stats();
    control.inject(Fault::drop_connection(1).on_path("/v1.0/me/sendMail"));
    let error = connection
        .request(Method::Post, "me/sendMail", mail(false))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Network { .. }), "{error:?}");
    assert_eq!(
        fixture.requests_to("/v1.0/me/sendMail"),
        1,
        "a POST whose answer was lost is not sent again"
    );
}

#[tokio::test]
async fn a_refused_connection_is_a_network_error_after_the_retries() {
    // A port nobody listens on: bind one, note it, let it go.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let connection = o365_auth_core::connection::Connection::new(
        fast(),
        url::Url::parse(&format!("http://127.0.0.1:{port}/v1.0/")).unwrap(),
        None,
    )
    .unwrap();
    let error = connection
        .request(Method::Post, "me/sendMail", mail(false))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Network { host, .. } if host == "127.0.0.1"),
        "{error:?}"
    );
}
