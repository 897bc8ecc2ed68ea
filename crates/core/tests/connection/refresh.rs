//! A 401 asks the token source for a fresh token once; a second 401 is the answer.

use std::sync::Arc;

use o365_auth_core::connection::{AccessTokenSource, Connection, StaticToken};
use o365_auth_core::{Error, Secret};

use crate::{ScriptedSource, fast, signed_in};

#[tokio::test]
async fn a_401_asks_the_source_for_a_fresh_token_once_and_retries() {
    let fixture = signed_in().await;
    let good = fixture.access_token().await;
    // A token the local side believes in but Graph refuses (revoked, another signer).
    let source = ScriptedSource::new(Secret::new("eyJ0.eyJzdGFsZSI6MX0.c2ln"), good);
    let connection = Connection::for_protocol(
        fast(),
        fixture.account.protocol(),
        Some(source.clone() as Arc<dyn AccessTokenSource>),
    )
    .unwrap();
    let me = connection.get("me").await.unwrap();
    assert_eq!(me.status, 200);
    assert_eq!(source.calls(), [false, true], "one forced refresh");
    assert_eq!(fixture.requests_to("/v1.0/me"), 2);
}

#[tokio::test]
async fn a_second_401_is_an_error() {
    let fixture = signed_in().await;
    let source = ScriptedSource::new(Secret::new("bad-token-one"), Secret::new("bad-token-two"));
    let connection = Connection::for_protocol(
        fast(),
        fixture.account.protocol(),
        Some(source.clone() as Arc<dyn AccessTokenSource>),
    )
    .unwrap();
    let error = connection.get("me").await.unwrap_err();
    let detail = error.service_error().expect("detail");
    assert_eq!(
        (error.code(), detail.http_status, detail.error.as_str()),
        ("api_error", Some(401), "InvalidAuthenticationToken")
    );
    assert_eq!(source.calls(), [false, true]);
    assert_eq!(fixture.requests_to("/v1.0/me"), 2, "no third attempt");
    let text = format!("{error} {error:?}");
    assert!(!text.contains("bad-token"), "{text}");

    // Bring your own token: it cannot be refreshed, so the same one is tried twice.
    let fixed = Connection::for_protocol(
        fast(),
        fixture.account.protocol(),
        Some(Arc::new(StaticToken(Secret::new("not-a-token")))),
    )
    .unwrap();
    let error = fixed.get("me").await.unwrap_err();
    assert!(
        matches!(&error, Error::Api(detail) if detail.http_status == Some(401)),
        "{error:?}"
    );
    let mine = Connection::for_protocol(
        fast(),
        fixture.account.protocol(),
        Some(Arc::new(StaticToken(fixture.access_token().await))),
    )
    .unwrap();
    assert_eq!(mine.get("me").await.unwrap().status, 200);
}

#[tokio::test]
async fn a_401_refreshes_even_when_the_local_clock_says_the_token_is_valid() {
    let fixture = signed_in().await;
    let connection = fixture.account.connection(fast()).unwrap();
    connection.get("me").await.unwrap();
    // The service's clock runs two hours ahead: it thinks our token expired, we do not.
    fixture.emulator.control().advance_clock(2 * 3600);
    let me = connection.get("me").await.unwrap();
    assert_eq!(me.status, 200);
    let stats = fixture.emulator.control().stats();
    assert_eq!(stats.grant("refresh_token"), 1);
}
