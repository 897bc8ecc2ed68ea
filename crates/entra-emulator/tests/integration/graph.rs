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

async fn send_mail(base: &str, token: &str, content_type: &str, body: &str) -> (u16, Value) {
    let response = client()
        .post(format!("{base}/v1.0/me/sendMail"))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body.to_owned())
        .send()
        .await
        .expect("sendMail request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn send_mail_accepts_json_and_mime_messages_with_202() {
    let mut config = config();
    for app in &mut config.tenants[0].apps {
        if app.client_id.to_string() == PRECONSENTED_APP {
            app.pre_consented_scopes.push("Mail.Send".to_owned());
        }
    }
    let emulator = start_with(config).await;
    let base = emulator.base_url();
    let access = preconsented_token(&base, "Mail.Send").await;
    let message = r#"{"message":{"subject":"Hi","body":{"contentType":"Text","content":"Hello"},
        "toRecipients":[{"emailAddress":{"address":"bob@contoso.onmicrosoft.com"}}]},
        "saveToSentItems":false}"#;
    let (status, body) = send_mail(&base, &access, "application/json", message).await;
    assert_eq!((status, body), (202, Value::Null), "no body with 202");
    let mime = "RnJvbTogYWxpY2VAY29udG9zby5vbm1pY3Jvc29mdC5jb20KVG86IGJvYkBjb250b3NvLm9ubWljcm9z\nb2Z0LmNvbQpTdWJqZWN0OiBIaQoKSGVsbG8K";
    let (status, _) = send_mail(&base, &access, "text/plain", mime).await;
    assert_eq!(status, 202);
    assert_eq!(emulator.control().stats().mails_accepted, 2);

    let (status, body) = send_mail(&base, &access, "text/plain", "not base64!").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("ErrorMimeContentInvalidBase64String"))
    );
    let (status, body) = send_mail(&base, &access, "application/json", "{}").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("ErrorInvalidParameter"))
    );
    let (status, body) = send_mail(&base, &access, "application/json", "{not json").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("BadRequest"))
    );
    assert!(body["error"]["innerError"]["request-id"].is_string());
    assert_eq!(
        emulator.control().stats().mails_accepted,
        2,
        "refused ones not counted"
    );

    // Mail.Read is not Mail.Send.
    let default = start().await;
    let base = default.base_url();
    let read_only = preconsented_token(&base, "Mail.Read").await;
    let (status, body) = send_mail(&base, &read_only, "application/json", message).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("ErrorAccessDenied"))
    );
}

#[tokio::test]
async fn a_user_is_read_by_id_or_name_and_nobody_is_404() {
    let emulator = start().await;
    let base = emulator.base_url();
    let all = preconsented_token(&base, "User.Read.All").await;
    let (status, _, me) = get(&format!("{base}/v1.0/me"), &all).await;
    assert_eq!(status, 200);
    let id = me["id"].as_str().unwrap_or_default();
    let (status, _, by_id) = get(&format!("{base}/v1.0/users/{id}"), &all).await;
    assert_eq!(
        (status, &by_id["userPrincipalName"]),
        (200, &me["userPrincipalName"])
    );
    let (status, _, other) = get(&format!("{base}/v1.0/users/user3@{DOMAIN}"), &all).await;
    assert_eq!(status, 200, "{other}");
    assert!(
        other["@odata.context"]
            .as_str()
            .unwrap_or_default()
            .ends_with("/v1.0/$metadata#users/$entity")
    );

    let (status, _, body) = get(&format!("{base}/v1.0/users/nobody@{DOMAIN}"), &all).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("Request_ResourceNotFound")),
        "{body}"
    );
    assert!(body["error"]["innerError"]["request-id"].is_string());
    // Another tenant's user is not in this directory either.
    let (status, _, _) = get(
        &format!("{base}/v1.0/users/zoe@fabrikam.onmicrosoft.com"),
        &all,
    )
    .await;
    assert_eq!(status, 404);

    // User.Read reads its own entry only.
    let interactive = alice_tokens(&base).await;
    let only_user_read = interactive["access_token"].as_str().unwrap_or_default();
    let (status, _, _) = get(&format!("{base}/v1.0/users/{ALICE}"), only_user_read).await;
    assert_eq!(status, 200);
    let (status, _, body) = get(&format!("{base}/v1.0/users/user3@{DOMAIN}"), only_user_read).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("Authorization_RequestDenied"))
    );
}
