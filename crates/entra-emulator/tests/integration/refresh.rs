//! The refresh_token grant.

use crate::common::*;

async fn refresh(base: &str, rt: &str, scope: &str) -> (u16, serde_json::Value) {
    token(
        base,
        TENANT,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", PUBLIC_APP),
            ("refresh_token", rt),
            ("scope", scope),
        ],
    )
    .await
}

#[tokio::test]
async fn refresh_rotates_and_the_old_token_stays_valid_by_default() {
    let emulator = start().await;
    let base = emulator.base_url();
    let first = alice_tokens(&base).await;
    let rt1 = first["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (status, second) = refresh(&base, &rt1, SCOPES).await;
    assert_eq!(status, 200, "{second}");
    let rt2 = second["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        !rt2.is_empty() && rt2 != rt1,
        "a new refresh token every time"
    );
    assert!(second["id_token"].is_string());
    assert_ne!(second["access_token"], first["access_token"]);
    // Microsoft does not revoke the old refresh token.
    let (status, body) = refresh(&base, &rt1, SCOPES).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(emulator.control().stats().grant("refresh_token"), 2);
}

#[tokio::test]
async fn strict_mode_revokes_rotated_refresh_tokens() {
    let mut config = config();
    config.lifetimes.revoke_rotated_refresh_tokens = true;
    let emulator = start_with(config).await;
    let base = emulator.base_url();
    let rt1 = alice_tokens(&base).await["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(refresh(&base, &rt1, SCOPES).await.0, 200);
    let (status, body) = refresh(&base, &rt1, SCOPES).await;
    assert_eq!((status, first_code(&body)), (400, 70008), "{body}");
}

#[tokio::test]
async fn idle_and_absolute_lifetimes_are_enforced_on_the_emulator_clock() {
    let mut config = config();
    config.lifetimes.refresh_token_max_age_seconds = Some(30 * 86_400);
    let emulator = start_with(config).await;
    let base = emulator.base_url();
    let control = emulator.control();
    let rt = alice_tokens(&base).await["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // 20 days idle is fine and yields a new token.
    control.advance_clock(20 * 86_400);
    let (status, body) = refresh(&base, &rt, SCOPES).await;
    assert_eq!(status, 200, "{body}");
    let newer = body["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // 31 days after sign-in the absolute limit hits, even for the fresh token.
    control.advance_clock(11 * 86_400);
    let (status, body) = refresh(&base, &newer, SCOPES).await;
    assert_eq!((status, first_code(&body)), (400, 70008), "{body}");

    // Default config: 91 days idle → AADSTS700082.
    let emulator = start().await;
    let base = emulator.base_url();
    let rt = alice_tokens(&base).await["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    emulator.control().advance_clock(89 * 86_400);
    let (status, body) = refresh(&base, &rt, SCOPES).await;
    assert_eq!(status, 200, "{body}");
    emulator.control().advance_clock(2 * 86_400);
    let (status, body) = refresh(&base, &rt, SCOPES).await;
    assert_eq!((status, first_code(&body)), (400, 700082), "{body}");
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn revoked_user_gets_50173_and_new_mfa_requirement_gets_50076_with_claims() {
    let emulator = start().await;
    let base = emulator.base_url();
    let control = emulator.control();
    let rt = alice_tokens(&base).await["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    control.set_mfa_required(ALICE, true).expect("user");
    let (status, body) = refresh(&base, &rt, SCOPES).await;
    assert_eq!((status, first_code(&body)), (400, 50076), "{body}");
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(body["suberror"], "basic_action");
    assert!(
        body["claims"]
            .as_str()
            .unwrap_or_default()
            .contains("access_token")
    );
    control.set_mfa_required(ALICE, false).expect("user");
    assert_eq!(refresh(&base, &rt, SCOPES).await.0, 200);

    control.advance_clock(1);
    control.revoke_refresh_tokens(ALICE).expect("user");
    let (status, body) = refresh(&base, &rt, SCOPES).await;
    assert_eq!((status, first_code(&body)), (400, 50173), "{body}");
    assert!(
        control
            .revoke_refresh_tokens("ghost@contoso.onmicrosoft.com")
            .is_err()
    );
}

#[tokio::test]
async fn scopes_consent_resources_and_client_binding() {
    let emulator = start().await;
    let base = emulator.base_url();
    let rt = alice_tokens(&base).await["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // Not consented: AADSTS65001.
    let (status, body) = refresh(&base, &rt, "openid Mail.Read").await;
    assert_eq!((status, first_code(&body)), (400, 65001), "{body}");
    assert_eq!(body["suberror"], "consent_required");
    // Two resources in one request.
    let (status, body) =
        refresh(&base, &rt, "User.Read https://outlook.office.com/SMTP.Send").await;
    assert_eq!((status, first_code(&body)), (400, 700022), "{body}");
    // Another client's refresh token.
    let (status, body) = token(
        &base,
        TENANT,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", NO_PUBLIC_FLOWS_APP),
            ("refresh_token", &rt),
            ("scope", SCOPES),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    // Garbage.
    let (status, body) = refresh(&base, "not-a-token", SCOPES).await;
    assert_eq!((status, first_code(&body)), (400, 9002313), "{body}");
}

#[tokio::test]
async fn one_refresh_token_redeems_for_another_consented_resource() {
    let emulator = start().await;
    let base = emulator.base_url();
    let browser = Browser::new(&base);
    let (verifier, challenge) = pkce();
    let mut params = auth_params("s", &challenge);
    params.retain(|(k, _)| *k != "scope");
    params.push((
        "scope",
        "openid profile offline_access User.Read https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/SMTP.Send",
    ));
    let page = browser.authorize(TENANT, &params).await;
    let page = browser.sign_in(&page, ALICE, PASSWORD).await;
    assert!(
        page.list("consent-scopes")
            .contains("IMAP.AccessAsUser.All")
    );
    let page = browser.accept_consent(&page).await;
    let code = page.redirect_params()["code"].clone();
    let (status, body) = redeem(&base, &code, &verifier).await;
    assert_eq!(status, 200, "{body}");
    let rt = body["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (status, body) = refresh(
        &base,
        &rt,
        "https://outlook.office.com/IMAP.AccessAsUser.All offline_access",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let access = decode_jwt(body["access_token"].as_str().unwrap_or_default());
    assert_eq!(access["aud"], "https://outlook.office.com");
    assert!(
        access["scp"]
            .as_str()
            .unwrap_or_default()
            .contains("IMAP.AccessAsUser.All")
    );
    let scope = body["scope"].as_str().unwrap_or_default();
    assert!(
        scope.contains("https://outlook.office.com/IMAP.AccessAsUser.All"),
        "{scope}"
    );
    assert!(
        scope.contains("https://outlook.office.com/SMTP.Send"),
        "{scope}"
    );
}

#[tokio::test]
async fn confidential_refresh_tokens_need_the_client_secret() {
    let emulator = start().await;
    let base = emulator.base_url();
    let browser = Browser::new(&base);
    let page = browser
        .authorize(
            TENANT,
            &[
                ("client_id", WEB_APP),
                ("response_type", "code"),
                ("redirect_uri", REDIRECT),
                ("scope", SCOPES),
            ],
        )
        .await;
    let page = browser.sign_in(&page, ALICE, PASSWORD).await;
    let page = browser.accept_consent(&page).await;
    let code = page.redirect_params()["code"].clone();
    let (status, body) = token(
        &base,
        TENANT,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", WEB_APP),
            ("client_secret", SECRET),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let rt = body["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", WEB_APP),
        ("refresh_token", rt.as_str()),
        ("scope", SCOPES),
    ];
    let (status, body) = token(&base, TENANT, &form).await;
    assert_eq!((status, first_code(&body)), (401, 7000218), "{body}");
    // HTTP Basic authentication works as well as client_secret in the body.
    let response = client()
        .post(format!("{base}/{TENANT}/oauth2/v2.0/token"))
        .basic_auth(WEB_APP, Some(SECRET))
        .form(
            &form[..1]
                .iter()
                .chain(&form[2..])
                .copied()
                .collect::<Vec<_>>(),
        )
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 200);
}
