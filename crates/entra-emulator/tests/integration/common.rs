//! Shared helpers: a test directory, an in-process emulator, a cookie-keeping "browser" that
//! follows the sign-in pages, PKCE, token requests and test certificates.

use std::net::SocketAddr;
use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entra_emulator::{
    AppRegistration, ClientSecret, Emulator, EmulatorConfig, RedirectKind, RedirectUri,
    ResourceConfig, SignInAudience, TenantConfig, UserConfig,
};
use reqwest::redirect::Policy;
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub const TENANT: &str = "11111111-2222-4333-8444-555555555555";
pub const DOMAIN: &str = "contoso.onmicrosoft.com";
pub const OTHER_TENANT: &str = "99999999-8888-4777-8666-555555555555";
pub const PASSWORD: &str = "P@ssw0rd!";
/// Public client (desktop), multi-tenant, public client flows allowed.
pub const PUBLIC_APP: &str = "aaaaaaaa-0000-4000-8000-000000000001";
/// Confidential web app with a secret, an expired secret and a certificate; single tenant.
pub const WEB_APP: &str = "aaaaaaaa-0000-4000-8000-000000000002";
/// Single-tenant public client (for AADSTS50194).
pub const SINGLE_TENANT_APP: &str = "aaaaaaaa-0000-4000-8000-000000000003";
/// Public client without "allow public client flows".
pub const NO_PUBLIC_FLOWS_APP: &str = "aaaaaaaa-0000-4000-8000-000000000004";
/// SPA app.
pub const SPA_APP: &str = "aaaaaaaa-0000-4000-8000-000000000005";
/// App with admin-consented scopes.
pub const PRECONSENTED_APP: &str = "aaaaaaaa-0000-4000-8000-000000000006";
pub const SECRET: &str = "web-app-secret";
pub const EXPIRED_SECRET: &str = "old-secret";
pub const ALICE: &str = "alice@contoso.onmicrosoft.com";
pub const BOB_MFA: &str = "bob@contoso.onmicrosoft.com";
pub const MFA_CODE: &str = "246810";
pub const REDIRECT: &str = "http://localhost:53111/callback";
pub const SCOPES: &str = "openid profile offline_access User.Read";

pub struct TestCert {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: Vec<u8>,
}

impl TestCert {
    pub fn x5t(&self) -> String {
        URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(&self.der))
    }
    pub fn x5t_s256(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(&self.der))
    }
}

fn make_cert(cn: &str) -> TestCert {
    use openssl::asn1::Asn1Time;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::{X509, X509NameBuilder};
    let rsa = Rsa::generate(2048).expect("rsa");
    let key = PKey::from_rsa(rsa).expect("pkey");
    let mut name = X509NameBuilder::new().expect("name");
    name.append_entry_by_text("CN", cn).expect("cn");
    let name = name.build();
    let mut builder = X509::builder().expect("x509");
    builder.set_version(2).expect("version");
    builder.set_subject_name(&name).expect("subject");
    builder.set_issuer_name(&name).expect("issuer");
    builder.set_pubkey(&key).expect("pubkey");
    builder
        .set_not_before(&Asn1Time::days_from_now(0).expect("nb"))
        .expect("nb");
    builder
        .set_not_after(&Asn1Time::days_from_now(365).expect("na"))
        .expect("na");
    builder.sign(&key, MessageDigest::sha256()).expect("sign");
    let cert = builder.build();
    TestCert {
        cert_pem: String::from_utf8(cert.to_pem().expect("pem")).expect("utf8"),
        key_pem: String::from_utf8(key.private_key_to_pem_pkcs8().expect("key")).expect("utf8"),
        der: cert.to_der().expect("der"),
    }
}

/// The certificate registered on the web app.
pub fn cert() -> &'static TestCert {
    static CERT: OnceLock<TestCert> = OnceLock::new();
    CERT.get_or_init(|| make_cert("registered"))
}

/// A certificate nobody registered.
pub fn other_cert() -> &'static TestCert {
    static CERT: OnceLock<TestCert> = OnceLock::new();
    CERT.get_or_init(|| make_cert("stranger"))
}

fn user(name: &str) -> UserConfig {
    UserConfig {
        username: format!("{name}@{DOMAIN}"),
        display_name: format!("{}{} Test", name[..1].to_uppercase(), &name[1..]),
        password: PASSWORD.to_owned(),
        object_id: None,
        mfa_required: false,
        mfa_code: MFA_CODE.to_owned(),
        disabled: false,
        password_expired: false,
        locked: false,
        mail: None,
        given_name: None,
        surname: None,
        job_title: None,
        messages: None,
    }
}

fn app(client_id: &str, name: &str) -> AppRegistration {
    AppRegistration {
        client_id: Uuid::parse_str(client_id).expect("uuid"),
        display_name: name.to_owned(),
        sign_in_audience: SignInAudience::AzureADMultipleOrgs,
        client_secrets: Vec::new(),
        certificates: Vec::new(),
        redirect_uris: vec![
            RedirectUri::new("http://localhost/callback", RedirectKind::PublicClient),
            RedirectUri::new("http://127.0.0.1", RedirectKind::PublicClient),
            RedirectUri::new("o365auth://auth", RedirectKind::PublicClient),
        ],
        allow_public_client_flows: true,
        application_permissions: Vec::new(),
        delegated_permissions: Vec::new(),
        pre_consented_scopes: Vec::new(),
    }
}

/// Contoso: users alice (plain), bob (MFA), carol..; apps above.
pub fn config() -> EmulatorConfig {
    let mut bob = user("bob");
    bob.mfa_required = true;
    let mut disabled = user("dave");
    disabled.disabled = true;
    let mut locked = user("erin");
    locked.locked = true;
    let mut expired = user("frank");
    expired.password_expired = true;
    let mut users = vec![user("alice"), bob, disabled, locked, expired];
    for i in 0..7 {
        users.push(user(&format!("user{i}")));
    }
    let mut web = app(WEB_APP, "Contoso web");
    web.sign_in_audience = SignInAudience::AzureADMyOrg;
    web.redirect_uris = vec![
        RedirectUri::new("https://app.contoso.com/signin", RedirectKind::Web),
        RedirectUri::new(REDIRECT, RedirectKind::Web),
    ];
    web.allow_public_client_flows = false;
    web.client_secrets = vec![
        ClientSecret {
            value: SECRET.to_owned(),
            expires_at: None,
        },
        ClientSecret {
            value: EXPIRED_SECRET.to_owned(),
            expires_at: Some(time::macros::datetime!(2020-01-01 00:00 UTC)),
        },
    ];
    web.certificates = vec![cert().cert_pem.clone()];
    web.application_permissions = vec![
        "User.Read.All".to_owned(),
        "https://outlook.office.com/full_access_as_app".to_owned(),
    ];
    let mut single = app(SINGLE_TENANT_APP, "Contoso single tenant");
    single.sign_in_audience = SignInAudience::AzureADMyOrg;
    let mut no_public = app(NO_PUBLIC_FLOWS_APP, "Contoso no public flows");
    no_public.allow_public_client_flows = false;
    let mut spa = app(SPA_APP, "Contoso SPA");
    spa.redirect_uris = vec![RedirectUri::new(
        "https://spa.contoso.com/",
        RedirectKind::Spa,
    )];
    let mut pre = app(PRECONSENTED_APP, "Contoso preconsented");
    pre.pre_consented_scopes = vec![
        "User.Read".to_owned(),
        "User.Read.All".to_owned(),
        "Mail.Read".to_owned(),
        "offline_access".to_owned(),
        "https://outlook.office.com/SMTP.Send".to_owned(),
    ];
    EmulatorConfig {
        tenants: vec![
            TenantConfig {
                id: Uuid::parse_str(TENANT).expect("uuid"),
                display_name: "Contoso".to_owned(),
                domains: vec![DOMAIN.to_owned()],
                users,
                apps: vec![
                    app(PUBLIC_APP, "Contoso desktop"),
                    web,
                    single,
                    no_public,
                    spa,
                    pre,
                ],
            },
            TenantConfig {
                id: Uuid::parse_str(OTHER_TENANT).expect("uuid"),
                display_name: "Fabrikam".to_owned(),
                domains: vec!["fabrikam.onmicrosoft.com".to_owned()],
                users: vec![UserConfig {
                    username: "zoe@fabrikam.onmicrosoft.com".to_owned(),
                    ..user("zoe")
                }],
                apps: Vec::new(),
            },
        ],
        resources: vec![ResourceConfig {
            uri: "https://outlook.office.com".to_owned(),
            app_id: Uuid::parse_str("00000002-0000-0ff1-ce00-000000000000").expect("uuid"),
            display_name: "Office 365 Exchange Online".to_owned(),
            scopes: vec!["IMAP.AccessAsUser.All".to_owned(), "SMTP.Send".to_owned()],
            app_roles: vec!["full_access_as_app".to_owned()],
            access_token_version: 1,
        }],
        messages_per_user: 23,
        ..EmulatorConfig::default()
    }
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().expect("addr")
}

pub async fn start_with(config: EmulatorConfig) -> Emulator {
    Emulator::start(config, loopback())
        .await
        .expect("emulator starts")
}

pub async fn start() -> Emulator {
    start_with(config()).await
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
}

pub fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

pub fn decode_jwt(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("jwt payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("json")
}

pub fn first_code(body: &Value) -> u64 {
    body["error_codes"][0].as_u64().unwrap_or(0)
}

/// POSTs a token request; returns status and JSON body.
pub async fn token(base: &str, tenant: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let response = client()
        .post(format!("{base}/{tenant}/oauth2/v2.0/token"))
        .form(form)
        .send()
        .await
        .expect("token request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("token json"))
}

/// A browser: keeps cookies, never follows redirects.
pub struct Browser {
    pub client: reqwest::Client,
    pub base: String,
}

/// A page the browser is on.
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Page {
    pub fn has(&self, id: &str) -> bool {
        self.body.contains(&format!("id=\"{id}\""))
    }
    fn attr_after(&self, marker: &str, attr: &str) -> Option<String> {
        let at = self.body.find(marker)?;
        let rest = &self.body[at..];
        let start = rest.find(&format!("{attr}=\""))? + attr.len() + 2;
        let end = rest[start..].find('"')?;
        Some(unescape(&rest[start..start + end]))
    }
    pub fn flow(&self) -> String {
        self.attr_after("name=\"flow\"", "value")
            .expect("flow field")
    }
    pub fn action(&self) -> String {
        self.attr_after("<form", "action").expect("form action")
    }
    /// Text of the element with this id.
    pub fn text(&self, id: &str) -> String {
        let marker = format!("id=\"{id}\"");
        let Some(at) = self.body.find(&marker) else {
            return String::new();
        };
        let rest = &self.body[at..];
        let start = rest.find('>').map(|i| i + 1).unwrap_or(0);
        let end = rest[start..].find("</").unwrap_or(0);
        unescape(&rest[start..start + end])
    }
    /// Raw HTML of the list with this id.
    pub fn list(&self, id: &str) -> String {
        let marker = format!("id=\"{id}\"");
        let Some(at) = self.body.find(&marker) else {
            return String::new();
        };
        let rest = &self.body[at..];
        rest[..rest.find("</ul>").unwrap_or(rest.len())].to_owned()
    }
    /// Query (or fragment) parameters of the redirect.
    pub fn redirect_params(&self) -> std::collections::HashMap<String, String> {
        let location = self.location.clone().expect("a redirect");
        let url = url::Url::parse(&location).expect("redirect url");
        let source = url
            .query()
            .or(url.fragment())
            .unwrap_or_default()
            .to_owned();
        url::form_urlencoded::parse(source.as_bytes())
            .into_owned()
            .collect()
    }
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

impl Browser {
    pub fn new(base: &str) -> Self {
        Browser {
            client: reqwest::Client::builder()
                .redirect(Policy::none())
                .cookie_store(true)
                .build()
                .expect("client"),
            base: base.to_owned(),
        }
    }

    async fn page(response: reqwest::Response) -> Page {
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Page {
            status,
            location,
            body: response.text().await.expect("body"),
        }
    }

    pub async fn get(&self, url: &str) -> Page {
        Self::page(self.client.get(url).send().await.expect("GET")).await
    }

    pub async fn authorize(&self, tenant: &str, params: &[(&str, &str)]) -> Page {
        let mut url =
            url::Url::parse(&format!("{}/{tenant}/oauth2/v2.0/authorize", self.base)).expect("url");
        url.query_pairs_mut().extend_pairs(params);
        self.get(url.as_str()).await
    }

    /// Submits the page's form with `fields` plus the hidden flow id.
    pub async fn submit(&self, page: &Page, fields: &[(&str, &str)]) -> Page {
        let flow = page.flow();
        let mut form: Vec<(&str, &str)> = vec![("flow", flow.as_str())];
        form.extend_from_slice(fields);
        let url = format!("{}{}", self.base, page.action());
        Self::page(
            self.client
                .post(url)
                .form(&form)
                .send()
                .await
                .expect("POST"),
        )
        .await
    }

    pub async fn sign_in(&self, page: &Page, username: &str, password: &str) -> Page {
        assert!(page.has("username"), "not the sign-in page: {}", page.body);
        self.submit(page, &[("username", username), ("password", password)])
            .await
    }

    pub async fn accept_consent(&self, page: &Page) -> Page {
        assert!(
            page.has("consent-accept"),
            "not the consent page: {}",
            page.body
        );
        self.submit(page, &[("action", "accept")]).await
    }
}

/// Standard authorize parameters for the public app with PKCE S256.
pub fn auth_params<'a>(state: &'a str, challenge: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("client_id", PUBLIC_APP),
        ("response_type", "code"),
        ("redirect_uri", "http://127.0.0.1:40000"),
        ("scope", SCOPES),
        ("state", state),
        ("nonce", "nonce-1"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

/// Signs alice in through the pages and returns (code, verifier).
pub async fn alice_code(browser: &Browser) -> (String, String) {
    let (verifier, challenge) = pkce();
    let page = browser
        .authorize(TENANT, &auth_params("st", &challenge))
        .await;
    let page = if page.has("username") {
        browser.sign_in(&page, ALICE, PASSWORD).await
    } else {
        page
    };
    let page = if page.has("consent-accept") {
        browser.accept_consent(&page).await
    } else {
        page
    };
    assert_eq!(page.status, 302, "{}", page.body);
    let params = page.redirect_params();
    (params["code"].clone(), verifier)
}

/// Redeems a code from `alice_code`.
pub async fn redeem(base: &str, code: &str, verifier: &str) -> (u16, Value) {
    token(
        base,
        TENANT,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", PUBLIC_APP),
            ("code", code),
            ("redirect_uri", "http://127.0.0.1:40000"),
            ("code_verifier", verifier),
            ("scope", SCOPES),
            ("client_info", "1"),
        ],
    )
    .await
}

/// alice's tokens via the browser flow.
pub async fn alice_tokens(base: &str) -> Value {
    let browser = Browser::new(base);
    let (code, verifier) = alice_code(&browser).await;
    let (status, body) = redeem(base, &code, &verifier).await;
    assert_eq!(status, 200, "{body}");
    body
}
