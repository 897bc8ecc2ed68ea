//! The Connection's logs carry method, path, status and time, never a token, a body or a
//! query. A binary of its own so that its subscriber sees every event (see `connection/main.rs`).

#[path = "connection/fixture.rs"]
mod fixture;

use std::io::Write;
use std::sync::{Arc, Mutex};

use o365_auth_core::Secret;
use o365_auth_core::connection::{AccessTokenSource, Connection, Method, RequestOptions};
use serde_json::json;

use fixture::{ScriptedSource, fast, signed_in};

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

#[tokio::test]
async fn requests_leave_no_token_body_or_query_in_the_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let fixture = signed_in().await;
    let good = fixture.access_token().await;
    let stale = "eyJ0.c3RhbGUtdG9rZW4.c2ln";
    let source = ScriptedSource::new(Secret::new(stale), good.clone());
    let connection = Connection::for_protocol(
        fast(),
        fixture.account.protocol(),
        Some(source as Arc<dyn AccessTokenSource>),
    )
    .unwrap();
    // A 401 and the retry with the fresh token, a query, a body with something private.
    connection.get("me?$select=secretive-select").await.unwrap();
    connection
        .request(
            Method::Post,
            "me/sendMail",
            RequestOptions::json(json!({"message": {"subject": "private-subject-line"}})),
        )
        .await
        .unwrap();
    let error = connection.get("users").await.unwrap_err();
    drop(_guard);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("API request"),
        "the requests are logged: {logs}"
    );
    assert!(
        logs.contains("/v1.0/me") && logs.contains("status=401"),
        "{logs}"
    );
    for needle in [
        good.expose(),
        stale,
        "secretive-select",
        "private-subject-line",
        "Bearer",
    ] {
        assert!(!logs.contains(needle), "`{needle}` leaked into the logs");
        assert!(!format!("{error} {error:?} {connection:?}").contains(needle));
    }
}
