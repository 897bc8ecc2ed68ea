//! Fault injection, the admin API and stats.

use std::time::{Duration, Instant};

use entra_emulator::Fault;
use serde_json::{Value, json};

use crate::common::*;

fn refresh_form() -> Vec<(&'static str, &'static str)> {
    vec![
        ("grant_type", "refresh_token"),
        ("client_id", PUBLIC_APP),
        ("refresh_token", "x"),
    ]
}

#[tokio::test]
async fn throttle_answers_429_with_retry_after_for_the_next_n_matching_requests() {
    let emulator = start().await;
    let base = emulator.base_url();
    let token_path = format!("/{TENANT}/oauth2/v2.0/token");
    emulator.control().throttle(2, 7, Some(&token_path));
    // Other paths are not affected.
    let discovery = client()
        .get(format!(
            "{base}/{TENANT}/v2.0/.well-known/openid-configuration"
        ))
        .send()
        .await
        .expect("discovery");
    assert_eq!(discovery.status().as_u16(), 200);
    for _ in 0..2 {
        let response = client()
            .post(format!("{base}{token_path}"))
            .form(&refresh_form())
            .send()
            .await
            .expect("token");
        assert_eq!(response.status().as_u16(), 429);
        assert_eq!(response.headers()["retry-after"], "7");
        let body: Value = response.json().await.expect("json");
        assert!(
            body["error"].is_string() && body["error_codes"].is_array(),
            "{body}"
        );
    }
    let (status, _) = token(&base, TENANT, &refresh_form()).await;
    assert_eq!(status, 400, "the third request reaches the grant");
    let stats = emulator.control().stats();
    assert_eq!(stats.endpoint("/{tenant}/oauth2/v2.0/token"), 3);
    assert_eq!(stats.grant("refresh_token"), 3);
    assert_eq!(stats.faults_injected, 2);
}

#[tokio::test]
async fn server_errors_are_shaped_like_the_service_they_hit() {
    let emulator = start().await;
    let base = emulator.base_url();
    let control = emulator.control();
    control.inject(Fault::status(1, 503).on_path("/common/"));
    let response = client()
        .post(format!("{base}/common/oauth2/v2.0/token"))
        .form(&refresh_form())
        .send()
        .await
        .expect("token");
    assert_eq!(response.status().as_u16(), 503);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"], "temporarily_unavailable");

    control.inject(Fault::status(1, 500).on_path("/v1.0/"));
    control.inject(Fault::throttle(1, 3).on_path("/v1.0/"));
    let response = client()
        .get(format!("{base}/v1.0/me"))
        .send()
        .await
        .expect("graph");
    assert_eq!(response.status().as_u16(), 500);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "generalException");
    let response = client()
        .get(format!("{base}/v1.0/me"))
        .send()
        .await
        .expect("graph");
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(response.headers()["retry-after"], "3");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "TooManyRequests");
    let response = client()
        .get(format!("{base}/v1.0/me"))
        .send()
        .await
        .expect("graph");
    assert_eq!(response.status().as_u16(), 401, "faults used up");
}

#[tokio::test]
async fn latency_once_and_persistent() {
    let emulator = start().await;
    let base = emulator.base_url();
    let control = emulator.control();
    let url = format!("{base}/{TENANT}/discovery/v2.0/keys");
    let http = client();
    let timed = || async {
        let started = Instant::now();
        let response = http.get(&url).send().await.expect("keys");
        assert_eq!(response.status().as_u16(), 200);
        started.elapsed()
    };
    control.inject(Fault::latency(1, Duration::from_millis(300)));
    assert!(timed().await >= Duration::from_millis(300));
    assert!(timed().await < Duration::from_millis(300));
    control.set_latency(Duration::from_millis(120));
    assert!(timed().await >= Duration::from_millis(120));
    assert!(timed().await >= Duration::from_millis(120));
    control.set_latency(Duration::ZERO);
    assert!(timed().await < Duration::from_millis(120));
}

#[tokio::test]
async fn a_dropped_connection_gets_no_response() {
    let emulator = start().await;
    let base = emulator.base_url();
    emulator
        .control()
        .inject(Fault::drop_connection(1).on_path(format!("/{TENANT}/oauth2/v2.0/token")));
    let result = client()
        .post(format!("{base}/{TENANT}/oauth2/v2.0/token"))
        .form(&refresh_form())
        .send()
        .await;
    let error = result.expect_err("no response expected");
    assert!(!error.is_status() && !error.is_timeout(), "{error}");
    let (status, _) = token(&base, TENANT, &refresh_form()).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn admin_api_drives_the_same_controls() {
    let emulator = start().await;
    let base = emulator.base_url();
    let http = client();
    let post = |path: &str, body: Value| {
        http.post(format!("{base}/_emulator/{path}"))
            .json(&body)
            .send()
    };
    let response = post(
        "faults",
        json!({"kind": "throttle", "retry_after_seconds": 4, "count": 1, "path_prefix": "/v1.0/"}),
    )
    .await
    .expect("admin");
    assert_eq!(response.status().as_u16(), 204);
    let response = http
        .get(format!("{base}/v1.0/me"))
        .send()
        .await
        .expect("graph");
    assert_eq!(
        (
            response.status().as_u16(),
            response.headers()["retry-after"].to_str().ok()
        ),
        (429, Some("4"))
    );

    let clock: Value = post("clock/advance", json!({"seconds": 90}))
        .await
        .expect("admin")
        .json()
        .await
        .expect("json");
    assert_eq!(clock["offset_seconds"], 90);
    assert_eq!(emulator.control().clock_offset_seconds(), 90);

    let response = post(&format!("users/{ALICE}/mfa"), json!({"required": true}))
        .await
        .expect("admin");
    assert_eq!(response.status().as_u16(), 204);
    let status: Value = http
        .get(format!("{base}/_emulator/users/{ALICE}"))
        .send()
        .await
        .expect("admin")
        .json()
        .await
        .expect("json");
    assert_eq!(status["mfa_required"], true);
    let response = post(
        &format!("users/{ALICE}/disabled"),
        json!({"disabled": true}),
    )
    .await
    .expect("admin");
    assert_eq!(response.status().as_u16(), 204);
    let response = post(&format!("users/{ALICE}/revoke"), json!({}))
        .await
        .expect("admin");
    assert_eq!(response.status().as_u16(), 204);
    let response = post("users/ghost@nowhere/revoke", json!({}))
        .await
        .expect("admin");
    assert_eq!(response.status().as_u16(), 404);
    let response = post("latency", json!({"millis": "soon"}))
        .await
        .expect("admin");
    assert_eq!(response.status().as_u16(), 400);

    let stats: Value = http
        .get(format!("{base}/_emulator/stats"))
        .send()
        .await
        .expect("admin")
        .json()
        .await
        .expect("json");
    assert_eq!(stats["total"], 1, "admin calls are not counted: {stats}");
    assert_eq!(stats["endpoints"]["/v1.0/me"], 1);
    assert_eq!(stats["faults_injected"], 1);

    let response = post("reset", json!({})).await.expect("admin");
    assert_eq!(response.status().as_u16(), 204);
    assert_eq!(emulator.control().clock_offset_seconds(), 0);
    assert!(
        !emulator
            .control()
            .user_status(ALICE)
            .expect("user")
            .mfa_required
    );
    assert_eq!(emulator.control().stats().total, 0);
}

#[tokio::test]
async fn absurd_clock_moves_never_break_the_server() {
    let emulator = start().await;
    let base = emulator.base_url();
    emulator.control().advance_clock(i64::MAX);
    let (status, body) = token(&base, TENANT, &refresh_form()).await;
    assert_eq!(status, 400, "{body}");
    emulator.control().advance_clock(i64::MIN);
    let response = client()
        .get(format!(
            "{base}/v1.0/users?$skiptoken=OjE4NDQ2NzQ0MDczNzA5NTUxNjE1"
        ))
        .send()
        .await
        .expect("graph");
    assert_eq!(response.status().as_u16(), 401);
}
