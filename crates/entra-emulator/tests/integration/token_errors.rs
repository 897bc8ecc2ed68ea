//! Token endpoint errors common to every grant, and the error response shape.

use crate::common::*;

#[tokio::test]
async fn error_shape_is_microsofts() {
    let emulator = start().await;
    let response = client()
        .post(format!(
            "{}/{TENANT}/oauth2/v2.0/token",
            emulator.base_url()
        ))
        .header("client-request-id", "6a1c8a1e-0000-4000-8000-000000000abc")
        .form(&[("client_id", PUBLIC_APP)])
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 400);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["error"], "invalid_request");
    let description = body["error_description"].as_str().unwrap_or_default();
    assert!(description.starts_with(
        "AADSTS900144: The request body must contain the following parameter: 'grant_type'.\r\nTrace ID: "
    ), "{description}");
    assert!(
        description
            .contains("\r\nCorrelation ID: 6a1c8a1e-0000-4000-8000-000000000abc\r\nTimestamp: ")
    );
    assert_eq!(body["error_codes"], serde_json::json!([900144]));
    assert_eq!(
        body["correlation_id"],
        "6a1c8a1e-0000-4000-8000-000000000abc"
    );
    assert!(body["trace_id"].is_string());
    let timestamp = body["timestamp"].as_str().unwrap_or_default();
    assert_eq!(timestamp.len(), "2016-01-09 02:02:12Z".len(), "{timestamp}");
    assert!(
        body["error_uri"]
            .as_str()
            .unwrap_or_default()
            .ends_with("/error?code=900144")
    );
}

#[tokio::test]
async fn common_token_errors() {
    let emulator = start().await;
    let base = emulator.base_url();
    type Case = (
        &'static str,
        Vec<(&'static str, &'static str)>,
        u16,
        &'static str,
        u64,
    );
    let cases: Vec<Case> = vec![
        (
            TENANT,
            vec![("grant_type", "magic"), ("client_id", PUBLIC_APP)],
            400,
            "unsupported_grant_type",
            70003,
        ),
        (
            "nowhere.onmicrosoft.com",
            vec![
                ("grant_type", "refresh_token"),
                ("client_id", PUBLIC_APP),
                ("refresh_token", "x"),
            ],
            400,
            "invalid_request",
            90002,
        ),
        (
            TENANT,
            vec![
                ("grant_type", "refresh_token"),
                ("client_id", "00000000-0000-4000-8000-00000000dead"),
                ("refresh_token", "x"),
            ],
            400,
            "unauthorized_client",
            700016,
        ),
        (
            TENANT,
            vec![("grant_type", "refresh_token"), ("refresh_token", "x")],
            400,
            "invalid_request",
            900144,
        ),
        (
            TENANT,
            vec![("grant_type", "refresh_token"), ("client_id", PUBLIC_APP)],
            400,
            "invalid_request",
            900144,
        ),
        (
            "common",
            vec![
                ("grant_type", "refresh_token"),
                ("client_id", SINGLE_TENANT_APP),
                ("refresh_token", "x"),
            ],
            400,
            "invalid_request",
            50194,
        ),
        (
            TENANT,
            vec![
                ("grant_type", "password"),
                ("client_id", PUBLIC_APP),
                ("client_secret", "s"),
                ("username", ALICE),
                ("password", PASSWORD),
                ("scope", "User.Read"),
            ],
            401,
            "invalid_client",
            700025,
        ),
    ];
    for (tenant, form, status, error, code) in cases {
        let (got_status, body) = token(&base, tenant, &form).await;
        assert_eq!(
            (got_status, body["error"].as_str(), first_code(&body)),
            (status, Some(error), code),
            "{form:?}: {body}"
        );
    }
    let (_, body) = token(
        &base,
        TENANT,
        &[("grant_type", "refresh_token"), ("client_id", PUBLIC_APP)],
    )
    .await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("'refresh_token'")
    );
}
