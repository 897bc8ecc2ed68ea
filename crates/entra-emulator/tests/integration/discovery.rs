//! Discovery, JWKS, the sandbox configuration and the binary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::common::*;

async fn get_json(url: &str) -> (u16, Value) {
    let response = client().get(url).send().await.expect("GET");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

#[tokio::test]
async fn discovery_documents_follow_microsofts_shape() {
    let emulator = start().await;
    let base = emulator.base_url();
    let (status, doc) = get_json(&format!(
        "{base}/organizations/v2.0/.well-known/openid-configuration"
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(doc["issuer"], format!("{base}/{{tenantid}}/v2.0"));
    assert_eq!(
        doc["authorization_endpoint"],
        format!("{base}/organizations/oauth2/v2.0/authorize")
    );
    assert_eq!(
        doc["token_endpoint"],
        format!("{base}/organizations/oauth2/v2.0/token")
    );
    assert_eq!(
        doc["device_authorization_endpoint"],
        format!("{base}/organizations/oauth2/v2.0/devicecode")
    );
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
    for field in [
        "jwks_uri",
        "end_session_endpoint",
        "response_modes_supported",
        "scopes_supported",
        "claims_supported",
        "token_endpoint_auth_methods_supported",
        "msgraph_host",
        "cloud_instance_name",
    ] {
        assert!(!doc[field].is_null(), "{field}");
    }
    let (_, doc) = get_json(&format!(
        "{base}/{DOMAIN}/v2.0/.well-known/openid-configuration"
    ))
    .await;
    assert_eq!(doc["issuer"], format!("{base}/{TENANT}/v2.0"));
    assert_eq!(
        doc["token_endpoint"],
        format!("{base}/{TENANT}/oauth2/v2.0/token")
    );
    let (status, doc) = get_json(&format!(
        "{base}/nope.example/v2.0/.well-known/openid-configuration"
    ))
    .await;
    assert_eq!(
        (status, doc["error"].as_str(), first_code(&doc)),
        (400, Some("invalid_tenant"), 90002)
    );
}

#[tokio::test]
async fn the_jwks_verifies_issued_tokens() {
    let emulator = start().await;
    let base = emulator.base_url();
    let tokens = alice_tokens(&base).await;
    let (_, doc) = get_json(&format!(
        "{base}/{TENANT}/v2.0/.well-known/openid-configuration"
    ))
    .await;
    let (_, jwks) = get_json(doc["jwks_uri"].as_str().unwrap_or_default()).await;
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["kid"], key["x5t"]);
    let decoding = DecodingKey::from_rsa_components(
        key["n"].as_str().unwrap_or_default(),
        key["e"].as_str().unwrap_or_default(),
    )
    .expect("jwk");
    for name in ["access_token", "id_token"] {
        let jwt = tokens[name].as_str().unwrap_or_default();
        let header = jsonwebtoken::decode_header(jwt).expect("header");
        assert_eq!(header.kid.as_deref(), key["kid"].as_str());
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_aud = false;
        jsonwebtoken::decode::<Value>(jwt, &decoding, &validation).expect("signature verifies");
    }
    // A tampered token does not verify.
    let jwt = tokens["id_token"].as_str().unwrap_or_default();
    let mut parts: Vec<&str> = jwt.split('.').collect();
    let forged_payload = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        br#"{"aud":"someone-else"}"#,
    );
    parts[1] = &forged_payload;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    assert!(jsonwebtoken::decode::<Value>(&parts.join("."), &decoding, &validation).is_err());
}

#[tokio::test]
async fn the_sandbox_signs_its_demo_user_in() {
    use entra_emulator::sandbox;
    let emulator = start_with(sandbox::config()).await;
    let base = emulator.base_url();
    let browser = Browser::new(&base);
    let (verifier, challenge) = pkce();
    let page = browser
        .authorize(
            "organizations",
            &[
                ("client_id", sandbox::DEMO_CLIENT_ID),
                ("response_type", "code"),
                ("redirect_uri", "http://127.0.0.1:51234"),
                ("scope", SCOPES),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("prompt", "select_account"),
            ],
        )
        .await;
    let page = browser
        .sign_in(&page, sandbox::DEMO_USERNAME, sandbox::DEMO_PASSWORD)
        .await;
    let page = browser.accept_consent(&page).await;
    let code = page.redirect_params()["code"].clone();
    let (status, body) = token(
        &base,
        "organizations",
        &[
            ("grant_type", "authorization_code"),
            ("client_id", sandbox::DEMO_CLIENT_ID),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:51234"),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        decode_jwt(body["access_token"].as_str().unwrap_or_default())["tid"],
        sandbox::DEMO_TENANT_ID
    );
    let (status, body) = token(
        &base,
        sandbox::DEMO_TENANT_ID,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", sandbox::DEMO_CONFIDENTIAL_CLIENT_ID),
            ("client_secret", sandbox::DEMO_CLIENT_SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // The MFA user meets the MFA page.
    let other = Browser::new(&base);
    let page = other
        .authorize(
            sandbox::DEMO_DOMAIN,
            &[
                ("client_id", sandbox::DEMO_CLIENT_ID),
                ("response_type", "code"),
                ("redirect_uri", "o365auth://auth"),
                ("scope", SCOPES),
            ],
        )
        .await;
    let page = other
        .sign_in(&page, sandbox::MFA_USERNAME, sandbox::DEMO_PASSWORD)
        .await;
    assert!(page.has("mfa-code"));
}

#[test]
fn the_example_config_loads() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/contoso.toml");
    let config = entra_emulator::EmulatorConfig::load(&path).expect("example parses");
    config.validate().expect("example is valid");
    assert!(!config.tenants.is_empty());
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let emulator = start().await;
    let base = emulator.base_url();
    emulator.shutdown().await;
    assert!(
        client()
            .get(format!("{base}/common/discovery/v2.0/keys"))
            .send()
            .await
            .is_err()
    );
}

#[test]
fn the_binary_prints_its_listening_line_and_refuses_remote_addresses() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_entra-emulator"))
        .args(["--sandbox", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("line");
    let url = line
        .trim()
        .strip_prefix("entra-emulator listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"),
        "{url}"
    );
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let discovery = runtime.block_on(async {
        get_json(&format!(
            "{url}/{}/v2.0/.well-known/openid-configuration",
            entra_emulator::sandbox::DEMO_TENANT_ID
        ))
        .await
    });
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(discovery.0, 200);
    assert_eq!(
        discovery.1["issuer"],
        format!("{url}/{}/v2.0", entra_emulator::sandbox::DEMO_TENANT_ID)
    );

    let status = Command::new(env!("CARGO_BIN_EXE_entra-emulator"))
        .args(["--sandbox", "--port", "0", "--host", "0.0.0.0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run");
    assert!(
        !status.success(),
        "non-loopback without --allow-remote must fail"
    );

    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/contoso.toml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_entra-emulator"))
        .arg("--config")
        .arg(&example)
        .args(["--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("line");
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        line.starts_with("entra-emulator listening on http://127.0.0.1:"),
        "{line}"
    );
}
