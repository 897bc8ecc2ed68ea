//! The Graph slice: /me, /users, /me/messages, token validation and Graph errors.

use crate::common::*;
use serde_json::Value;

async fn get(url: &str, token: &str) -> (u16, Option<String>, Value) {
    let response = client()
        .get(url)
        .bearer_auth(token)
        .header("client-request-id", "11111111-1111-4111-8111-111111111111")
        .send()
        .await
        .expect("graph request");
    let status = response.status().as_u16();
    let authenticate = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (
        status,
        authenticate,
        response.json().await.unwrap_or(Value::Null),
    )
}

/// A token for the pre-consented app by ROPC (no pages needed).
async fn preconsented_token(base: &str, scope: &str) -> String {
    let (status, body) = token(
        base,
        TENANT,
        &[
            ("grant_type", "password"),
            ("client_id", PRECONSENTED_APP),
            ("username", ALICE),
            ("password", PASSWORD),
            ("scope", scope),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn me_returns_the_signed_in_user_on_v1_and_beta() {
    let emulator = start().await;
    let base = emulator.base_url();
    let tokens = alice_tokens(&base).await;
    let access = tokens["access_token"].as_str().unwrap_or_default();
    for version in ["v1.0", "beta"] {
        let (status, _, body) = get(&format!("{base}/{version}/me"), access).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["userPrincipalName"], ALICE);
        assert_eq!(body["id"], decode_jwt(access)["oid"]);
        assert!(
            body["@odata.context"]
                .as_str()
                .unwrap_or_default()
                .contains(&format!("/{version}/$metadata#users/$entity"))
        );
    }
}

#[tokio::test]
async fn expired_bad_and_missing_tokens_are_401_with_www_authenticate() {
    let emulator = start().await;
    let base = emulator.base_url();
    let access = preconsented_token(&base, "User.Read").await;
    emulator.control().advance_clock(3601);
    let (status, authenticate, body) = get(&format!("{base}/v1.0/me"), &access).await;
    assert_eq!(status, 401);
    assert!(authenticate.unwrap_or_default().starts_with("Bearer "));
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("expired")
    );
    assert_eq!(
        body["error"]["innerError"]["client-request-id"],
        "11111111-1111-4111-8111-111111111111"
    );
    assert!(body["error"]["innerError"]["request-id"].is_string());
    assert!(body["error"]["innerError"]["date"].is_string());

    let (status, _, body) = get(&format!("{base}/v1.0/me"), "garbage").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("InvalidAuthenticationToken"))
    );
    let response = client()
        .get(format!("{base}/v1.0/me"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 401);

    // A token from another emulator (another key) fails the signature check.
    let other = start().await;
    let foreign = preconsented_token(&other.base_url(), "User.Read").await;
    let (status, _, _) = get(&format!("{base}/v1.0/me"), &foreign).await;
    assert_eq!(status, 401);

    // A token for another resource has the wrong audience.
    let emulator = start().await;
    let base = emulator.base_url();
    let outlook = preconsented_token(&base, "https://outlook.office.com/SMTP.Send").await;
    let (status, _, body) = get(&format!("{base}/v1.0/me"), &outlook).await;
    assert_eq!(status, 401);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("audience")
    );
}

#[tokio::test]
async fn missing_scopes_are_403() {
    let emulator = start().await;
    let base = emulator.base_url();
    let access = preconsented_token(&base, "User.Read").await;
    // Pre-consented Mail.Read comes along in scp (all consented scopes of the resource), so use
    // an app whose consent is only User.Read: alice's interactive token.
    let interactive = alice_tokens(&base).await;
    let only_user_read = interactive["access_token"].as_str().unwrap_or_default();
    let (status, _, body) = get(&format!("{base}/v1.0/me/messages"), only_user_read).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("ErrorAccessDenied")),
        "{body}"
    );
    let (status, _, body) = get(&format!("{base}/v1.0/users"), only_user_read).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("Authorization_RequestDenied")),
        "{body}"
    );
    let (status, _, _) = get(&format!("{base}/v1.0/me/messages"), &access).await;
    assert_eq!(status, 200);
}

async fn follow_all(base_url: &str, token: &str) -> (usize, usize) {
    let mut url = base_url.to_owned();
    let (mut items, mut pages) = (0, 0);
    loop {
        let (status, _, body) = get(&url, token).await;
        assert_eq!(status, 200, "{body}");
        pages += 1;
        items += body["value"].as_array().map(Vec::len).unwrap_or(0);
        match body["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(next.starts_with("http://"), "absolute nextLink: {next}");
                url = next.to_owned();
            }
            None => return (items, pages),
        }
    }
}

#[tokio::test]
async fn paging_follows_next_links_to_the_end() {
    let emulator = start().await;
    let base = emulator.base_url();
    let access = preconsented_token(&base, "User.Read.All").await;
    let (items, pages) = follow_all(&format!("{base}/v1.0/users?$top=5"), &access).await;
    assert_eq!((items, pages), (12, 3));
    let (_, _, body) = get(&format!("{base}/v1.0/users?$top=5"), &access).await;
    assert!(
        body["@odata.nextLink"]
            .as_str()
            .unwrap_or_default()
            .contains("$skiptoken=")
    );
    assert!(
        body["@odata.context"]
            .as_str()
            .unwrap_or_default()
            .ends_with("$metadata#users")
    );

    let mail = preconsented_token(&base, "Mail.Read").await;
    let (items, pages) = follow_all(&format!("{base}/v1.0/me/messages?$top=10"), &mail).await;
    assert_eq!((items, pages), (23, 3));
    let (status, _, body) = get(&format!("{base}/v1.0/users?$top=0"), &access).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("Request_UnsupportedQuery"))
    );
}

#[tokio::test]
async fn app_only_tokens_list_users_but_not_me() {
    let emulator = start().await;
    let base = emulator.base_url();
    let (status, body) = token(
        &base,
        TENANT,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", WEB_APP),
            ("client_secret", SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let access = body["access_token"].as_str().unwrap_or_default();
    let (status, _, body) = get(&format!("{base}/v1.0/users"), access).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["value"].as_array().map(Vec::len), Some(12));
    let (status, _, body) = get(&format!("{base}/v1.0/me"), access).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("BadRequest"))
    );
}
