//! The authorize endpoint and its pages, driven by form posts like a browser.

use crate::common::*;

#[tokio::test]
async fn auth_code_pkce_s256_full_flow_issues_tokens_with_nonce_and_client_info() {
    let emulator = start().await;
    let base = emulator.base_url();
    let browser = Browser::new(&base);
    let (verifier, challenge) = pkce();
    let page = browser
        .authorize(DOMAIN, &auth_params("s-1", &challenge))
        .await;
    assert_eq!(page.status, 200);
    assert!(page.has("username") && page.has("password") && page.has("signin"));
    let page = browser.sign_in(&page, ALICE, PASSWORD).await;
    assert!(page.has("consent-scopes"), "{}", page.body);
    assert!(page.list("consent-scopes").contains("User.Read"));
    let page = browser.accept_consent(&page).await;
    assert_eq!(page.status, 302);
    let params = page.redirect_params();
    assert_eq!(params["state"], "s-1");
    assert!(
        page.location
            .as_deref()
            .unwrap_or_default()
            .starts_with("http://127.0.0.1:40000/?")
    );
    let (status, body) = redeem(&base, &params["code"], &verifier).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["ext_expires_in"], 3600);
    assert!(body["refresh_token"].is_string());
    let scope = body["scope"].as_str().unwrap_or_default();
    assert!(scope.split(' ').any(|s| s == "User.Read"), "{scope}");
    assert!(scope.split(' ').any(|s| s == "openid"), "{scope}");
    let id = decode_jwt(body["id_token"].as_str().unwrap_or_default());
    assert_eq!(id["nonce"], "nonce-1");
    assert_eq!(id["aud"], PUBLIC_APP);
    assert_eq!(id["tid"], TENANT);
    assert_eq!(id["preferred_username"], ALICE);
    assert_eq!(id["iss"], format!("{base}/{TENANT}/v2.0"));
    let access = decode_jwt(body["access_token"].as_str().unwrap_or_default());
    assert_eq!(access["aud"], "https://graph.microsoft.com");
    assert_eq!(access["appid"], PUBLIC_APP);
    assert_eq!(access["upn"], ALICE);
    assert!(
        access["scp"]
            .as_str()
            .unwrap_or_default()
            .contains("User.Read")
    );
    assert_eq!(access["oid"], id["oid"]);
    let info: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            body["client_info"].as_str().unwrap_or_default(),
        )
        .expect("client_info b64"),
    )
    .expect("client_info json");
    assert_eq!(info["utid"], TENANT);
    assert_eq!(info["uid"], id["oid"]);
}

#[tokio::test]
async fn pkce_plain_is_accepted_and_a_wrong_verifier_is_501481() {
    let emulator = start().await;
    let base = emulator.base_url();
    let browser = Browser::new(&base);
    let verifier = "plain-verifier-plain-verifier-plain-verifier-0123";
    let mut params = auth_params("s", verifier);
    params.retain(|(k, _)| *k != "code_challenge_method");
    params.push(("code_challenge_method", "plain"));
    let page = browser.authorize(TENANT, &params).await;
    let page = browser.sign_in(&page, ALICE, PASSWORD).await;
    let page = browser.accept_consent(&page).await;
    let code = page.redirect_params()["code"].clone();
    let (status, body) = redeem(
        &base,
        &code,
        "wrong-verifier-wrong-verifier-wrong-verifier-00",
    )
    .await;
    assert_eq!((status, first_code(&body)), (400, 501481), "{body}");
    assert_eq!(body["error"], "invalid_grant");
    let (status, body) = redeem(&base, &code, verifier).await;
    assert_eq!(status, 200, "{body}");

    // A missing verifier for a code with a challenge is AADSTS50148.
    let (code, _) = alice_code(&browser).await;
    let (status, body) = token(
        &base,
        TENANT,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", PUBLIC_APP),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:40000"),
        ],
    )
    .await;
    assert_eq!((status, first_code(&body)), (400, 50148), "{body}");
}

#[tokio::test]
async fn a_code_is_single_use_and_expires_after_ten_minutes() {
    let emulator = start().await;
    let base = emulator.base_url();
    let browser = Browser::new(&base);
    let (code, verifier) = alice_code(&browser).await;
    assert_eq!(redeem(&base, &code, &verifier).await.0, 200);
    let (status, body) = redeem(&base, &code, &verifier).await;
    assert_eq!((status, first_code(&body)), (400, 54005), "{body}");
    assert_eq!(body["error"], "invalid_grant");

    let (code, verifier) = alice_code(&browser).await;
    emulator.control().advance_clock(601);
    let (status, body) = redeem(&base, &code, &verifier).await;
    assert_eq!((status, first_code(&body)), (400, 70008), "{body}");
}

#[tokio::test]
async fn redemption_needs_the_same_redirect_uri_and_client() {
    let emulator = start().await;
    let base = emulator.base_url();
    let browser = Browser::new(&base);
    let (code, verifier) = alice_code(&browser).await;
    let form = |redirect: &'static str, client: &'static str| {
        vec![
            ("grant_type", "authorization_code"),
            ("client_id", client),
            ("redirect_uri", redirect),
        ]
    };
    let mut other_redirect = form("http://127.0.0.1:40001", PUBLIC_APP);
    other_redirect.extend([
        ("code", code.as_str()),
        ("code_verifier", verifier.as_str()),
    ]);
    let (status, body) = token(&base, TENANT, &other_redirect).await;
    assert_eq!((status, first_code(&body)), (400, 500112), "{body}");
    let mut unregistered = form("https://evil.example/cb", PUBLIC_APP);
    unregistered.extend([
        ("code", code.as_str()),
        ("code_verifier", verifier.as_str()),
    ]);
    let (status, body) = token(&base, TENANT, &unregistered).await;
    assert_eq!((status, first_code(&body)), (400, 50011), "{body}");
    let mut other_client = form("http://127.0.0.1:40000", NO_PUBLIC_FLOWS_APP);
    other_client.extend([
        ("code", code.as_str()),
        ("code_verifier", verifier.as_str()),
    ]);
    let (status, body) = token(&base, TENANT, &other_client).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    // Still redeemable by its own client after those failures.
    assert_eq!(redeem(&base, &code, &verifier).await.0, 200);
}

#[tokio::test]
async fn wrong_password_re_renders_sign_in_with_50126_and_account_states_have_their_codes() {
    let emulator = start().await;
    let browser = Browser::new(&emulator.base_url());
    let (_, challenge) = pkce();
    let page = browser
        .authorize(TENANT, &auth_params("s", &challenge))
        .await;
    let page = browser.sign_in(&page, ALICE, "nope").await;
    assert!(page.has("password"));
    assert!(
        page.text("error").starts_with("AADSTS50126"),
        "{}",
        page.body
    );
    for (user, code) in [
        ("dave@contoso.onmicrosoft.com", "AADSTS50057"),
        ("erin@contoso.onmicrosoft.com", "AADSTS50053"),
        ("frank@contoso.onmicrosoft.com", "AADSTS50055"),
        ("nobody@contoso.onmicrosoft.com", "AADSTS50034"),
        ("zoe@fabrikam.onmicrosoft.com", "AADSTS50020"),
    ] {
        let page = browser.sign_in(&page, user, PASSWORD).await;
        assert!(
            page.text("error").starts_with(code),
            "{user}: {}",
            page.body
        );
    }
    // The flow survives the errors.
    let page = browser.sign_in(&page, ALICE, PASSWORD).await;
    assert!(page.has("consent-accept"));
}

#[tokio::test]
async fn mfa_user_gets_the_mfa_page_and_a_wrong_code_is_refused() {
    let emulator = start().await;
    let browser = Browser::new(&emulator.base_url());
    let (_, challenge) = pkce();
    let page = browser
        .authorize(TENANT, &auth_params("s", &challenge))
        .await;
    let page = browser.sign_in(&page, BOB_MFA, PASSWORD).await;
    assert!(
        page.has("mfa-code") && page.has("mfa-submit"),
        "{}",
        page.body
    );
    let page = browser.submit(&page, &[("otc", "000000")]).await;
    assert!(page.has("mfa-code"));
    assert!(page.text("error").contains("AADSTS500121"));
    let page = browser.submit(&page, &[("otc", MFA_CODE)]).await;
    let page = browser.accept_consent(&page).await;
    assert_eq!(page.status, 302);
    let code = page.redirect_params()["code"].clone();
    assert!(!code.is_empty());
}

#[tokio::test]
async fn consent_cancel_redirects_access_denied_65004_with_state() {
    let emulator = start().await;
    let browser = Browser::new(&emulator.base_url());
    let (_, challenge) = pkce();
    let page = browser
        .authorize(TENANT, &auth_params("keep-me", &challenge))
        .await;
    let page = browser.sign_in(&page, ALICE, PASSWORD).await;
    let page = browser.submit(&page, &[("action", "cancel")]).await;
    let params = page.redirect_params();
    assert_eq!(params["error"], "access_denied");
    assert!(params["error_description"].starts_with("AADSTS65004"));
    assert_eq!(params["state"], "keep-me");
    assert!(!params.contains_key("code"));
}

#[tokio::test]
async fn sso_cookie_skips_the_password_and_consent_is_remembered() {
    let emulator = start().await;
    let browser = Browser::new(&emulator.base_url());
    alice_code(&browser).await;
    let (_, challenge) = pkce();
    let page = browser
        .authorize(TENANT, &auth_params("again", &challenge))
        .await;
    assert_eq!(page.status, 302, "no page expected: {}", page.body);
    assert!(page.redirect_params().contains_key("code"));

    // prompt=login forces the password.
    let mut params = auth_params("again", &challenge);
    params.push(("prompt", "login"));
    let page = browser.authorize(TENANT, &params).await;
    assert!(page.has("password"));

    // prompt=consent forces the consent page.
    let mut params = auth_params("again", &challenge);
    params.push(("prompt", "consent"));
    let page = browser.authorize(TENANT, &params).await;
    assert!(page.has("consent-accept"), "{}", page.body);

    // prompt=select_account shows the picker.
    let mut params = auth_params("again", &challenge);
    params.push(("prompt", "select_account"));
    let page = browser.authorize(TENANT, &params).await;
    assert!(page.has("account-current"), "{}", page.body);
    let page = browser.submit(&page, &[("choice", "current")]).await;
    assert_eq!(page.status, 302);

    // A new browser has no session.
    let other = Browser::new(&emulator.base_url());
    let page = other.authorize(TENANT, &auth_params("x", &challenge)).await;
    assert!(page.has("username"));
}

#[tokio::test]
async fn prompt_none_answers_without_ui() {
    let emulator = start().await;
    let base = emulator.base_url();
    let (_, challenge) = pkce();
    let mut params = auth_params("silent", &challenge);
    params.push(("prompt", "none"));

    let fresh = Browser::new(&base);
    let page = fresh.authorize(TENANT, &params).await;
    let redirect = page.redirect_params();
    assert_eq!(redirect["error"], "login_required");
    assert!(redirect["error_description"].starts_with("AADSTS50058"));
    assert_eq!(redirect["state"], "silent");

    // Signed in, but consent never given.
    let browser = Browser::new(&base);
    let page = browser
        .authorize(TENANT, &auth_params("s", &challenge))
        .await;
    let page = browser.sign_in(&page, ALICE, PASSWORD).await;
    assert!(page.has("consent-cancel"));
    let page = browser.authorize(TENANT, &params).await;
    assert_eq!(page.redirect_params()["error"], "consent_required");

    // Consented: a code, silently.
    alice_code(&browser).await;
    let page = browser.authorize(TENANT, &params).await;
    assert!(page.redirect_params().contains_key("code"));

    // MFA now required and not done in this session: interaction_required.
    emulator
        .control()
        .set_mfa_required(ALICE, true)
        .expect("user");
    let page = browser.authorize(TENANT, &params).await;
    let redirect = page.redirect_params();
    assert_eq!(redirect["error"], "interaction_required");
    assert!(redirect["error_description"].starts_with("AADSTS50076"));
}

#[tokio::test]
async fn login_hint_prefills_and_domain_hint_is_accepted() {
    let emulator = start().await;
    let browser = Browser::new(&emulator.base_url());
    let (_, challenge) = pkce();
    let mut params = auth_params("s", &challenge);
    params.push(("login_hint", ALICE));
    params.push(("domain_hint", "contoso.com"));
    let page = browser.authorize(TENANT, &params).await;
    assert!(
        page.body.contains(&format!("value=\"{ALICE}\"")),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn unknown_client_and_redirect_mismatch_show_error_pages_without_redirect() {
    let emulator = start().await;
    let browser = Browser::new(&emulator.base_url());
    let (_, challenge) = pkce();
    let mut params = auth_params("s", &challenge);
    params[0] = ("client_id", "00000000-1111-4222-8333-444444444444");
    let page = browser.authorize(TENANT, &params).await;
    assert_eq!(page.status, 400);
    assert!(page.location.is_none());
    assert_eq!(page.text("error-code"), "AADSTS700016");

    let mut params = auth_params("s", &challenge);
    params[2] = ("redirect_uri", "https://attacker.example/cb");
    let page = browser.authorize(TENANT, &params).await;
    assert!(page.location.is_none());
    assert_eq!(page.text("error-code"), "AADSTS50011");

    // Loopback: any port matches, but the path must.
    let mut params = auth_params("s", &challenge);
    params[2] = ("redirect_uri", "http://localhost:1234/other");
    let page = browser.authorize(TENANT, &params).await;
    assert_eq!(page.text("error-code"), "AADSTS50011");
    params[2] = ("redirect_uri", "http://localhost:1234/callback");
    let page = browser.authorize(TENANT, &params).await;
    assert!(page.has("username"));
    params[2] = ("redirect_uri", "o365auth://auth");
    let page = browser.authorize(TENANT, &params).await;
    assert!(page.has("username"));
    params[2] = ("redirect_uri", "o365auth://auth/x");
    let page = browser.authorize(TENANT, &params).await;
    assert_eq!(page.text("error-code"), "AADSTS50011");

    // Unknown tenant.
    let page = browser
        .authorize("nope.onmicrosoft.com", &auth_params("s", &challenge))
        .await;
    assert_eq!(page.text("error-code"), "AADSTS90002");

    // Single-tenant app on /common.
    let mut params = auth_params("s", &challenge);
    params[0] = ("client_id", SINGLE_TENANT_APP);
    let page = browser.authorize("common", &params).await;
    assert_eq!(page.text("error-code"), "AADSTS50194");
}

#[tokio::test]
async fn redirectable_errors_go_back_with_state() {
    let emulator = start().await;
    let browser = Browser::new(&emulator.base_url());
    let (_, challenge) = pkce();
    let cases: Vec<(&str, &str, &str, u64)> = vec![
        (
            "response_type",
            "token",
            "unsupported_response_type",
            700054,
        ),
        ("scope", "User.Read Not.AScope", "invalid_scope", 70011),
        (
            "scope",
            "https://unknown.example/x",
            "invalid_resource",
            500011,
        ),
        ("code_challenge_method", "S512", "invalid_request", 50149),
        ("code_challenge", "short", "invalid_request", 501491),
    ];
    for (name, value, error, code) in cases {
        let mut params = auth_params("st8", &challenge);
        params.retain(|(k, _)| *k != name);
        params.push((name, value));
        let page = browser.authorize(TENANT, &params).await;
        let redirect = page.redirect_params();
        assert_eq!(redirect["error"], error, "{name}={value}");
        assert!(
            redirect["error_description"].starts_with(&format!("AADSTS{code}:")),
            "{name}={value}: {}",
            redirect["error_description"]
        );
        assert_eq!(redirect["state"], "st8");
        assert!(redirect.contains_key("error_uri"));
    }
}

#[tokio::test]
async fn response_modes_fragment_and_form_post() {
    let emulator = start().await;
    let browser = Browser::new(&emulator.base_url());
    alice_code(&browser).await;
    let (_, challenge) = pkce();
    let mut params = auth_params("frag", &challenge);
    params.push(("response_mode", "fragment"));
    let page = browser.authorize(TENANT, &params).await;
    let location = page.location.clone().expect("redirect");
    assert!(location.contains("#code="), "{location}");
    assert_eq!(page.redirect_params()["state"], "frag");

    let mut params = auth_params("posted", &challenge);
    params.push(("response_mode", "form_post"));
    let page = browser.authorize(TENANT, &params).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("action=\"http://127.0.0.1:40000\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("name=\"code\""));
    assert!(page.body.contains("name=\"state\" value=\"posted\""));
}

#[tokio::test]
async fn confidential_web_redirect_needs_the_secret_and_public_redirect_refuses_one() {
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
    let base_form = [
        ("grant_type", "authorization_code"),
        ("client_id", WEB_APP),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let (status, body) = token(&base, TENANT, &base_form).await;
    assert_eq!((status, first_code(&body)), (401, 7000218), "{body}");
    assert_eq!(body["error"], "invalid_client");
    let mut with_secret = base_form.to_vec();
    with_secret.push(("client_secret", SECRET));
    let (status, body) = token(&base, TENANT, &with_secret).await;
    assert_eq!(status, 200, "{body}");
    let access = decode_jwt(body["access_token"].as_str().unwrap_or_default());
    assert_eq!(access["appidacr"], "1");

    // A public-client redirect with a secret: AADSTS700025.
    let (code, verifier) = alice_code(&browser).await;
    let (status, body) = token(
        &base,
        TENANT,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", PUBLIC_APP),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:40000"),
            ("code_verifier", &verifier),
            ("client_secret", "anything"),
        ],
    )
    .await;
    assert_eq!((status, first_code(&body)), (401, 700025), "{body}");
}
