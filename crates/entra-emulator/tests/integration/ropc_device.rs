//! The password (ROPC) and device code grants.

use crate::common::*;
use serde_json::Value;

async fn ropc(base: &str, tenant: &str, client: &str, user: &str, password: &str) -> (u16, Value) {
    token(
        base,
        tenant,
        &[
            ("grant_type", "password"),
            ("client_id", client),
            ("username", user),
            ("password", password),
            ("scope", "openid profile offline_access User.Read"),
        ],
    )
    .await
}

#[tokio::test]
async fn ropc_success_and_every_error() {
    let emulator = start().await;
    let base = emulator.base_url();
    let (status, body) = ropc(&base, TENANT, PRECONSENTED_APP, ALICE, PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["refresh_token"].is_string() && body["id_token"].is_string());

    let cases = [
        ("common", PRECONSENTED_APP, ALICE, PASSWORD, 9001023),
        (TENANT, NO_PUBLIC_FLOWS_APP, ALICE, PASSWORD, 7000218),
        (TENANT, PRECONSENTED_APP, ALICE, "wrong", 50126),
        (
            TENANT,
            PRECONSENTED_APP,
            "nobody@contoso.onmicrosoft.com",
            PASSWORD,
            50034,
        ),
        (TENANT, PRECONSENTED_APP, BOB_MFA, PASSWORD, 50076),
        (
            TENANT,
            PRECONSENTED_APP,
            "dave@contoso.onmicrosoft.com",
            PASSWORD,
            50057,
        ),
        (
            TENANT,
            PRECONSENTED_APP,
            "erin@contoso.onmicrosoft.com",
            PASSWORD,
            50053,
        ),
        (
            TENANT,
            PRECONSENTED_APP,
            "frank@contoso.onmicrosoft.com",
            PASSWORD,
            50055,
        ),
        // No consent for this app yet, and ROPC cannot ask.
        (TENANT, PUBLIC_APP, ALICE, PASSWORD, 65001),
    ];
    for (tenant, client, user, password, code) in cases {
        let (status, body) = ropc(&base, tenant, client, user, password).await;
        assert_eq!(first_code(&body), code, "{tenant} {client} {user}: {body}");
        assert!(status == 400 || status == 401, "{body}");
    }
    // An app without personal-account support is refused on /consumers before the grant runs.
    let (_, body) = ropc(&base, "consumers", PRECONSENTED_APP, ALICE, PASSWORD).await;
    assert_eq!(body["error"], "unauthorized_client", "{body}");
    let (_, body) = ropc(&base, TENANT, PRECONSENTED_APP, BOB_MFA, PASSWORD).await;
    assert_eq!(body["error"], "invalid_grant");
    let (status, _) = ropc(&base, "organizations", PRECONSENTED_APP, ALICE, PASSWORD).await;
    assert_eq!(status, 200);
    emulator.control().set_disabled(ALICE, true).expect("user");
    let (_, body) = ropc(&base, TENANT, PRECONSENTED_APP, ALICE, PASSWORD).await;
    assert_eq!(first_code(&body), 50057);
}

async fn start_device(base: &str, client: &str, scope: &str) -> Value {
    let response = client_req()
        .post(format!("{base}/{TENANT}/oauth2/v2.0/devicecode"))
        .form(&[("client_id", client), ("scope", scope)])
        .send()
        .await
        .expect("devicecode");
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.expect("json")
}

fn client_req() -> reqwest::Client {
    client()
}

async fn poll(base: &str, client: &str, device_code: &str) -> (u16, Value) {
    token(
        base,
        TENANT,
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", client),
            ("device_code", device_code),
        ],
    )
    .await
}

#[tokio::test]
async fn device_code_pending_slow_down_approved_and_redeemed_once() {
    let emulator = start().await;
    let base = emulator.base_url();
    let control = emulator.control();
    let start = start_device(&base, PUBLIC_APP, SCOPES).await;
    assert_eq!(start["interval"], 5);
    assert_eq!(start["expires_in"], 900);
    assert_eq!(start["verification_uri"], format!("{base}/devicelogin"));
    let user_code = start["user_code"].as_str().unwrap_or_default().to_owned();
    assert!(
        start["message"]
            .as_str()
            .unwrap_or_default()
            .contains(&user_code)
    );
    let device_code = start["device_code"].as_str().unwrap_or_default().to_owned();

    let (status, body) = poll(&base, PUBLIC_APP, &device_code).await;
    assert_eq!(
        (status, body["error"].as_str(), first_code(&body)),
        (400, Some("authorization_pending"), 70016)
    );
    let (_, body) = poll(&base, PUBLIC_APP, &device_code).await;
    assert_eq!(body["error"], "slow_down", "polled again at once: {body}");
    control.advance_clock(11);
    let (_, body) = poll(&base, PUBLIC_APP, &device_code).await;
    assert_eq!(body["error"], "authorization_pending");

    // The user enters the code (lower case, with a dash) and signs in.
    let browser = Browser::new(&base);
    let page = browser.get(&format!("{base}/devicelogin")).await;
    assert!(page.has("user-code") && page.has("device-continue"));
    let wrong = browser
        .client
        .post(format!("{base}/devicelogin"))
        .form(&[("otc", "NOPE")])
        .send()
        .await
        .expect("post")
        .text()
        .await
        .expect("text");
    assert!(wrong.contains("AADSTS70018"));
    let typed = format!("{}-{}", &user_code[..4], &user_code[4..]).to_lowercase();
    let response = browser
        .client
        .post(format!("{base}/devicelogin"))
        .form(&[("otc", typed.as_str())])
        .send()
        .await
        .expect("post");
    let page = Page {
        status: response.status().as_u16(),
        location: None,
        body: response.text().await.expect("body"),
    };
    let page = browser.sign_in(&page, ALICE, PASSWORD).await;
    let page = browser.accept_consent(&page).await;
    assert!(page.has("device-done"), "{}", page.body);

    control.advance_clock(11);
    let (status, body) = poll(&base, PUBLIC_APP, &device_code).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["refresh_token"].is_string());
    let id = decode_jwt(body["id_token"].as_str().unwrap_or_default());
    assert_eq!(id["preferred_username"], ALICE);
    let (status, body) = poll(&base, PUBLIC_APP, &device_code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
}

#[tokio::test]
async fn device_code_declined_expired_bad_and_not_public() {
    let emulator = start().await;
    let base = emulator.base_url();
    let start = start_device(&base, PUBLIC_APP, SCOPES).await;
    let device_code = start["device_code"].as_str().unwrap_or_default().to_owned();
    let user_code = start["user_code"].as_str().unwrap_or_default().to_owned();
    let browser = Browser::new(&base);
    let response = browser
        .client
        .post(format!("{base}/devicelogin"))
        .form(&[("otc", user_code.as_str())])
        .send()
        .await
        .expect("post");
    let page = Page {
        status: 200,
        location: None,
        body: response.text().await.expect("body"),
    };
    let page = browser.sign_in(&page, ALICE, PASSWORD).await;
    let page = browser.submit(&page, &[("action", "cancel")]).await;
    assert!(page.has("device-declined"));
    let (_, body) = poll(&base, PUBLIC_APP, &device_code).await;
    assert_eq!(body["error"], "authorization_declined", "{body}");

    let start = start_device(&base, PUBLIC_APP, SCOPES).await;
    let device_code = start["device_code"].as_str().unwrap_or_default().to_owned();
    emulator.control().advance_clock(901);
    let (_, body) = poll(&base, PUBLIC_APP, &device_code).await;
    assert_eq!(
        (body["error"].as_str(), first_code(&body)),
        (Some("expired_token"), 70019),
        "{body}"
    );

    let (_, body) = poll(&base, PUBLIC_APP, "no-such-code").await;
    assert_eq!(body["error"], "bad_verification_code", "{body}");

    let start = start_device(&base, NO_PUBLIC_FLOWS_APP, SCOPES).await;
    let device_code = start["device_code"].as_str().unwrap_or_default().to_owned();
    let (status, body) = poll(&base, NO_PUBLIC_FLOWS_APP, &device_code).await;
    assert_eq!((status, first_code(&body)), (401, 7000218), "{body}");
}
