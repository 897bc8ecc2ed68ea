//! client_credentials with secrets and certificate assertions.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::common::*;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

#[derive(Clone, Copy)]
enum Thumb {
    Sha1,
    Sha256,
}

fn assertion(
    cert: &TestCert,
    alg: Algorithm,
    thumb: Thumb,
    aud: &str,
    now: i64,
    jti: &str,
) -> String {
    let mut header = Header::new(alg);
    header.typ = Some("JWT".to_owned());
    match thumb {
        Thumb::Sha1 => header.x5t = Some(cert.x5t()),
        Thumb::Sha256 => header.x5t_s256 = Some(cert.x5t_s256()),
    }
    let claims = json!({
        "aud": aud, "iss": WEB_APP, "sub": WEB_APP, "jti": jti,
        "nbf": now - 10, "iat": now - 10, "exp": now + 600,
    });
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(cert.key_pem.as_bytes()).expect("key"),
    )
    .expect("sign")
}

async fn with_assertion(base: &str, jwt: &str) -> (u16, serde_json::Value) {
    token(
        base,
        TENANT,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", WEB_APP),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", jwt),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[tokio::test]
async fn secret_gives_an_app_token_with_roles_and_nothing_else() {
    let emulator = start().await;
    let base = emulator.base_url();
    let (status, body) = token(
        &base,
        DOMAIN,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", WEB_APP),
            ("client_secret", SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body.get("refresh_token").is_none() && body.get("id_token").is_none());
    let access = decode_jwt(body["access_token"].as_str().unwrap_or_default());
    assert_eq!(access["roles"], json!(["User.Read.All"]));
    assert!(access.get("scp").is_none());
    assert_eq!(access["idtyp"], "app");
    assert_eq!(access["tid"], TENANT);
    assert_eq!(access["appid"], WEB_APP);

    let (status, body) = token(
        &base,
        TENANT,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", WEB_APP),
            ("client_secret", SECRET),
            ("scope", "https://outlook.office.com/.default"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let access = decode_jwt(body["access_token"].as_str().unwrap_or_default());
    assert_eq!(access["roles"], json!(["full_access_as_app"]));
    assert_eq!(access["aud"], "https://outlook.office.com");
}

#[tokio::test]
async fn secret_errors() {
    let emulator = start().await;
    let base = emulator.base_url();
    let run = |secret: &'static str, scope: &'static str, tenant: &'static str| {
        let base = base.clone();
        async move {
            token(
                &base,
                tenant,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", WEB_APP),
                    ("client_secret", secret),
                    ("scope", scope),
                ],
            )
            .await
        }
    };
    let graph = "https://graph.microsoft.com/.default";
    let (status, body) = run("wrong", graph, TENANT).await;
    assert_eq!(
        (status, first_code(&body), body["error"].as_str()),
        (401, 7000215, Some("invalid_client"))
    );
    let (status, body) = run(EXPIRED_SECRET, graph, TENANT).await;
    assert_eq!((status, first_code(&body)), (401, 7000222), "{body}");
    let (status, body) = run(SECRET, "User.Read.All", TENANT).await;
    assert_eq!(
        (status, first_code(&body), body["error"].as_str()),
        (400, 1002012, Some("invalid_scope"))
    );
    let (status, body) = run(
        SECRET,
        "https://graph.microsoft.com/.default openid",
        TENANT,
    )
    .await;
    assert_eq!((status, first_code(&body)), (400, 1002012), "{body}");
    let (status, body) = run(SECRET, graph, "common").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        first_code(&body),
        50194,
        "single-tenant app on /common: {body}"
    );
    let (status, body) = token(
        &base,
        TENANT,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", WEB_APP),
            ("scope", graph),
        ],
    )
    .await;
    assert_eq!((status, first_code(&body)), (401, 7000218), "{body}");
}

#[tokio::test]
async fn multi_tenant_app_on_common_is_refused_for_client_credentials() {
    let emulator = start().await;
    let (status, body) = token(
        &emulator.base_url(),
        "organizations",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", PRECONSENTED_APP),
            ("client_secret", "x"),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    assert_eq!((status, first_code(&body)), (400, 50059), "{body}");
}

#[tokio::test]
async fn certificate_assertions_rs256_x5t_and_ps256_x5t_s256() {
    let emulator = start().await;
    let base = emulator.base_url();
    let aud = format!("{base}/{TENANT}/oauth2/v2.0/token");
    for (alg, thumb, jti) in [
        (Algorithm::RS256, Thumb::Sha1, "jti-rs"),
        (Algorithm::PS256, Thumb::Sha256, "jti-ps"),
    ] {
        let jwt = assertion(cert(), alg, thumb, &aud, now(), jti);
        let (status, body) = with_assertion(&base, &jwt).await;
        assert_eq!(status, 200, "{body}");
        let access = decode_jwt(body["access_token"].as_str().unwrap_or_default());
        assert_eq!(access["appidacr"], "2");
    }
}

#[tokio::test]
async fn certificate_assertion_errors() {
    let emulator = start().await;
    let base = emulator.base_url();
    let aud = format!("{base}/{TENANT}/oauth2/v2.0/token");

    let jwt = assertion(
        other_cert(),
        Algorithm::PS256,
        Thumb::Sha256,
        &aud,
        now(),
        "a",
    );
    let (status, body) = with_assertion(&base, &jwt).await;
    assert_eq!(
        (status, first_code(&body)),
        (401, 700027),
        "unregistered certificate: {body}"
    );

    // Registered thumbprint, but signed by another key.
    let mut header = Header::new(Algorithm::RS256);
    header.x5t = Some(cert().x5t());
    let forged = jsonwebtoken::encode(
        &header,
        &json!({"aud": aud, "iss": WEB_APP, "sub": WEB_APP, "jti": "f", "exp": now() + 600, "nbf": now()}),
        &EncodingKey::from_rsa_pem(other_cert().key_pem.as_bytes()).expect("key"),
    )
    .expect("sign");
    let (status, body) = with_assertion(&base, &forged).await;
    assert_eq!(
        (status, first_code(&body)),
        (401, 700027),
        "bad signature: {body}"
    );

    let jwt = assertion(
        cert(),
        Algorithm::PS256,
        Thumb::Sha256,
        &aud,
        now() - 3600,
        "old",
    );
    let (status, body) = with_assertion(&base, &jwt).await;
    assert_eq!(
        (status, first_code(&body)),
        (401, 700024),
        "expired: {body}"
    );

    let jwt = assertion(
        cert(),
        Algorithm::PS256,
        Thumb::Sha256,
        "https://elsewhere/token",
        now(),
        "aud",
    );
    let (status, body) = with_assertion(&base, &jwt).await;
    assert_eq!(
        (status, first_code(&body)),
        (401, 700023),
        "audience: {body}"
    );

    let jwt = assertion(cert(), Algorithm::PS256, Thumb::Sha256, &aud, now(), "once");
    assert_eq!(with_assertion(&base, &jwt).await.0, 200);
    let (status, body) = with_assertion(&base, &jwt).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "replayed jti: {body}"
    );
    assert_eq!(first_code(&body), 50013);

    // The emulator clock decides expiry.
    let jwt = assertion(
        cert(),
        Algorithm::PS256,
        Thumb::Sha256,
        &aud,
        now(),
        "clock",
    );
    emulator.control().advance_clock(601);
    let (status, body) = with_assertion(&base, &jwt).await;
    assert_eq!((status, first_code(&body)), (401, 700024), "{body}");
}
