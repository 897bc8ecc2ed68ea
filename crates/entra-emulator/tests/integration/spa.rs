//! Single-page-app redirect URIs: cross-origin redemption and 24-hour refresh tokens.

use crate::common::*;

#[tokio::test]
async fn spa_codes_need_an_origin_and_spa_refresh_tokens_live_24_hours() {
    let emulator = start().await;
    let base = emulator.base_url();
    let browser = Browser::new(&base);
    let (verifier, challenge) = pkce();
    let redirect = "https://spa.contoso.com/";
    let page = browser
        .authorize(
            TENANT,
            &[
                ("client_id", SPA_APP),
                ("response_type", "code"),
                ("redirect_uri", redirect),
                ("scope", "openid profile email offline_access User.Read"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    let page = browser.sign_in(&page, ALICE, PASSWORD).await;
    let page = browser.accept_consent(&page).await;
    let code = page.redirect_params()["code"].clone();
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", SPA_APP),
        ("code", code.as_str()),
        ("redirect_uri", redirect),
        ("code_verifier", verifier.as_str()),
    ];
    let (status, body) = token(&base, TENANT, &form).await;
    assert_eq!((status, first_code(&body)), (400, 9002327), "{body}");
    let send = |form: Vec<(&'static str, String)>| {
        let base = base.clone();
        async move {
            let response = client()
                .post(format!("{base}/{TENANT}/oauth2/v2.0/token"))
                .header("origin", "https://spa.contoso.com")
                .form(&form)
                .send()
                .await
                .expect("token");
            let status = response.status().as_u16();
            (
                status,
                response.json::<serde_json::Value>().await.expect("json"),
            )
        }
    };
    let owned: Vec<(&'static str, String)> =
        form.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    let (status, body) = send(owned).await;
    assert_eq!(status, 200, "{body}");
    let id = decode_jwt(body["id_token"].as_str().unwrap_or_default());
    assert_eq!(id["email"], ALICE, "email claim with the email scope");
    let rt = body["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let refresh = vec![
        ("grant_type", "refresh_token".to_owned()),
        ("client_id", SPA_APP.to_owned()),
        ("refresh_token", rt),
        ("scope", SCOPES.to_owned()),
    ];
    assert_eq!(send(refresh.clone()).await.0, 200);
    emulator.control().advance_clock(25 * 3600);
    let (status, body) = send(refresh).await;
    assert_eq!((status, first_code(&body)), (400, 700084), "{body}");

    // A non-SPA code redeemed cross-origin: AADSTS9002326.
    let (code, verifier) = alice_code(&browser).await;
    let (status, body) = send(vec![
        ("grant_type", "authorization_code".to_owned()),
        ("client_id", PUBLIC_APP.to_owned()),
        ("code", code),
        ("redirect_uri", "http://127.0.0.1:40000".to_owned()),
        ("code_verifier", verifier),
    ])
    .await;
    assert_eq!((status, first_code(&body)), (400, 9002326), "{body}");
}
