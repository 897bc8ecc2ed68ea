//! What reached the server: merged headers, bodies and their content types, no token on naive
//! requests, query options, request spacing, and the proxy.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use o365_auth_core::Secret;
use o365_auth_core::connection::{
    AccessTokenSource, Body, Connection, ConnectionSettings, Method, RequestOptions,
};
use o365_auth_core::http::{HttpSettings, ProxySettings};
use serde_json::json;

use crate::relay::Relay;
use crate::{ScriptedSource, fast, signed_in};

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

#[tokio::test]
async fn default_and_own_headers_are_merged_and_prefer_is_combined() {
    let fixture = signed_in().await;
    let relay = Relay::start(fixture.emulator.local_addr()).await;
    let settings = ConnectionSettings {
        default_headers: pairs(&[("Prefer", "IdType=\"ImmutableId\""), ("X-Team", "default")]),
        ..fast()
    };
    let connection = fixture.connection_to(&relay.base_url(), settings);
    let options = RequestOptions {
        headers: pairs(&[
            ("prefer", "outlook.timezone=\"Pacific Standard Time\""),
            ("x-team", "mine"),
        ]),
        query: pairs(&[("$top", "3")]),
        ..Default::default()
    };
    let page = connection
        .request(Method::Get, "me/messages", options)
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        page["value"].as_array().map(Vec::len),
        Some(3),
        "query sent"
    );
    let seen = relay.seen();
    let request = &seen[0];
    assert_eq!(
        request.header("prefer").as_deref(),
        Some("outlook.timezone=\"Pacific Standard Time\", IdType=\"ImmutableId\"")
    );
    assert_eq!(request.header("x-team").as_deref(), Some("mine"));
    assert!(
        request
            .request_line()
            .contains("/v1.0/me/messages?%24top=3")
            || request.request_line().contains("/v1.0/me/messages?$top=3")
    );
    assert!(
        request
            .header("authorization")
            .is_some_and(|value| value.starts_with("Bearer ")),
    );

    relay.clear();
    connection.get("me").await.unwrap();
    assert_eq!(
        relay.seen()[0].header("prefer").as_deref(),
        Some("IdType=\"ImmutableId\""),
        "defaults alone"
    );
}

#[tokio::test]
async fn json_and_raw_bodies_carry_their_content_types() {
    let fixture = signed_in().await;
    let relay = Relay::start(fixture.emulator.local_addr()).await;
    let connection = fixture.connection_to(&relay.base_url(), fast());
    let message = json!({"message": {"subject": "Hi", "toRecipients": [
        {"emailAddress": {"address": "adele@contoso.onmicrosoft.com"}}]}});
    assert_eq!(
        connection
            .post("me/sendMail", message)
            .await
            .unwrap()
            .status,
        202
    );
    let mime = "From: demo\r\nTo: adele@contoso.onmicrosoft.com\r\nSubject: Hi\r\n\r\nHello\r\n";
    let raw = RequestOptions {
        body: Body::Raw {
            content_type: "text/plain".into(),
            bytes: base64::engine::general_purpose::STANDARD
                .encode(mime)
                .into_bytes(),
        },
        ..Default::default()
    };
    let answer = connection
        .request(Method::Post, "me/sendMail", raw)
        .await
        .unwrap();
    assert_eq!(answer.status, 202);
    assert_eq!(
        answer.json().unwrap(),
        serde_json::Value::Null,
        "202 has no body"
    );
    let seen = relay.seen();
    let types: Vec<_> = seen
        .iter()
        .map(|request| request.header("content-type"))
        .collect();
    assert_eq!(
        types,
        [
            Some("application/json".to_owned()),
            Some("text/plain".to_owned())
        ]
    );
    assert_eq!(fixture.emulator.control().stats().mails_accepted, 2);
}

#[tokio::test]
async fn naive_requests_carry_no_token_and_never_ask_for_one() {
    let fixture = signed_in().await;
    let relay = Relay::start(fixture.emulator.local_addr()).await;
    let source = ScriptedSource::new(Secret::new("unused"), Secret::new("unused"));
    let connection = Connection::new(
        fast(),
        url::Url::parse(&format!("{}/v1.0/", relay.base_url())).unwrap(),
        Some(source.clone() as Arc<dyn AccessTokenSource>),
    )
    .unwrap();
    let error = connection
        .naive_request(Method::Get, "me", RequestOptions::default())
        .await
        .unwrap_err();
    assert_eq!(error.service_error().and_then(|d| d.http_status), Some(401));
    assert!(
        source.calls().is_empty(),
        "no token asked, no refresh after the 401"
    );
    let seen = relay.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("authorization"), None);

    let anonymous = Connection::new(
        fast(),
        url::Url::parse(&format!("{}/v1.0/", fixture.emulator.base_url())).unwrap(),
        None,
    )
    .unwrap();
    let error = anonymous.get("me").await.unwrap_err();
    assert_eq!(error.service_error().and_then(|d| d.http_status), Some(401));
}

#[tokio::test]
async fn requests_are_spaced_across_clones_and_tasks() {
    let fixture = signed_in().await;
    let relay = Relay::start(fixture.emulator.local_addr()).await;
    let delay = Duration::from_millis(200);
    let connection = fixture.connection_to(
        &relay.base_url(),
        ConnectionSettings {
            requests_delay: delay,
            ..fast()
        },
    );
    let clone = connection.clone();
    let spawned = connection.clone();
    let task = tokio::spawn(async move {
        for _ in 0..2 {
            spawned.get("me").await.unwrap();
        }
    });
    let (_, _) = tokio::join!(
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
    task.await.unwrap();
    let mut arrivals: Vec<_> = relay.seen().iter().map(|seen| seen.at).collect();
    arrivals.sort();
    assert_eq!(arrivals.len(), 7);
    // Starts are `delay` apart at the client; an arrival can trail its start by the loopback
    // send time, well under a millisecond on a quiet machine but more than 5 ms on a loaded
    // one (seen once beside a release build). Unspaced, the three tasks' requests would
    // arrive together, so a gap of three quarters of `delay` still tells the two apart.
    let allowance = delay / 4;
    for pair in arrivals.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap + allowance >= delay, "gap {gap:?} < {delay:?}");
    }
}

#[tokio::test]
async fn the_proxy_carries_api_calls_with_its_credentials() {
    let fixture = signed_in().await;
    let proxy = Relay::start(fixture.emulator.local_addr()).await;
    let settings = ConnectionSettings {
        http: HttpSettings {
            proxy: Some(ProxySettings {
                host: "127.0.0.1".into(),
                port: proxy.addr.port(),
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
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1);
    let line = seen[0].request_line();
    assert!(
        line.starts_with("GET http://") && line.contains("/v1.0/me"),
        "absolute-form request to the proxy: {line}"
    );
    let expected = base64::engine::general_purpose::STANDARD.encode("proxy-user:p@ss:word");
    assert_eq!(
        seen[0].header("proxy-authorization"),
        Some(format!("Basic {expected}")),
        "credentials with ':' and '@' intact"
    );
}
