//! The sandbox: a ready-made configuration for "try it without a Microsoft tenant".
//!
//! It registers one tenant, `sandbox.onmicrosoft.com` ([`DEMO_TENANT_ID`]), with:
//!
//! * users (all with the password [`DEMO_PASSWORD`]):
//!   * [`DEMO_USERNAME`] (`demo@sandbox.onmicrosoft.com`), no MFA;
//!   * [`MFA_USERNAME`] (`mfa@sandbox.onmicrosoft.com`), MFA required, code [`MFA_CODE`];
//!   * three colleagues (`adele`, `alex`, `megan`) so that `/v1.0/users` has pages;
//! * the public client "o365-auth sandbox" ([`DEMO_CLIENT_ID`]): multi-tenant, public client
//!   flows allowed (device code, ROPC), redirect URIs `http://localhost` and `http://127.0.0.1`
//!   (mobile & desktop, any port), `o365auth://auth` (custom scheme) and
//!   `https://login.microsoftonline.com/common/oauth2/nativeclient`; static permissions
//!   `User.Read`, `Mail.Read`; no consent given yet (the consent page shows on first sign-in);
//! * the confidential client "o365-auth sandbox daemon" ([`DEMO_CONFIDENTIAL_CLIENT_ID`]) with
//!   the secret [`DEMO_CLIENT_SECRET`], web redirect URI `http://localhost:8400/callback`, and the
//!   application permissions `User.Read.All` and `Mail.Read` for client credentials;
//! * the resources Microsoft Graph, Exchange Online (`https://outlook.office.com`) and
//!   Business Central (`https://api.businesscentral.dynamics.com`).
//!
//! Everything here is a demo: the password and the secret are published on purpose.

use uuid::Uuid;

use crate::config::{
    AppRegistration, ClientSecret, EmulatorConfig, Lifetimes, RedirectKind, RedirectUri,
    ResourceConfig, SignInAudience, TenantConfig, UserConfig,
};

pub const DEMO_TENANT_ID: &str = "5f1c0c6e-9b8a-4d3e-8a52-53a4e1b0d7c2";
pub const DEMO_DOMAIN: &str = "sandbox.onmicrosoft.com";
pub const DEMO_USERNAME: &str = "demo@sandbox.onmicrosoft.com";
pub const DEMO_PASSWORD: &str = "sandbox-demo";
pub const MFA_USERNAME: &str = "mfa@sandbox.onmicrosoft.com";
pub const MFA_CODE: &str = "123456";
pub const DEMO_CLIENT_ID: &str = "3b0e8f4c-6a7d-4c1e-9f2b-7d5a6c8e9f01";
pub const DEMO_CONFIDENTIAL_CLIENT_ID: &str = "8c2d4e6f-1a3b-4c5d-8e7f-9a0b1c2d3e4f";
pub const DEMO_CLIENT_SECRET: &str = "sandbox-client-secret";

const DEMO_USER_OID: &str = "a1c2e3f4-0b1d-4e5f-8a9b-0c1d2e3f4a5b";
const MFA_USER_OID: &str = "b2d3f4a5-1c2e-4f6a-9b0c-1d2e3f4a5b6c";

fn uuid(text: &str) -> Uuid {
    Uuid::parse_str(text).unwrap_or_default()
}

fn user(name: &str, display: &str, oid: Option<Uuid>) -> UserConfig {
    let (given, surname) = display.split_once(' ').unwrap_or((display, ""));
    UserConfig {
        username: format!("{name}@{DEMO_DOMAIN}"),
        display_name: display.to_owned(),
        password: DEMO_PASSWORD.to_owned(),
        object_id: oid,
        mfa_required: false,
        mfa_code: MFA_CODE.to_owned(),
        disabled: false,
        password_expired: false,
        locked: false,
        mail: None,
        given_name: Some(given.to_owned()),
        surname: Some(surname.to_owned()),
        job_title: None,
        messages: None,
    }
}

/// The sandbox configuration (see the module documentation for what it registers).
pub fn config() -> EmulatorConfig {
    let mut mfa = user("mfa", "Mfa User", Some(uuid(MFA_USER_OID)));
    mfa.mfa_required = true;
    let public_app = AppRegistration {
        client_id: uuid(DEMO_CLIENT_ID),
        display_name: "o365-auth sandbox".to_owned(),
        sign_in_audience: SignInAudience::AzureADMultipleOrgs,
        client_secrets: Vec::new(),
        certificates: Vec::new(),
        redirect_uris: vec![
            RedirectUri::new("http://localhost", RedirectKind::PublicClient),
            RedirectUri::new("http://127.0.0.1", RedirectKind::PublicClient),
            RedirectUri::new("o365auth://auth", RedirectKind::PublicClient),
            RedirectUri::new(
                "https://login.microsoftonline.com/common/oauth2/nativeclient",
                RedirectKind::PublicClient,
            ),
        ],
        allow_public_client_flows: true,
        application_permissions: Vec::new(),
        delegated_permissions: vec!["User.Read".to_owned(), "Mail.Read".to_owned()],
        pre_consented_scopes: Vec::new(),
    };
    let daemon = AppRegistration {
        client_id: uuid(DEMO_CONFIDENTIAL_CLIENT_ID),
        display_name: "o365-auth sandbox daemon".to_owned(),
        sign_in_audience: SignInAudience::AzureADMyOrg,
        client_secrets: vec![ClientSecret {
            value: DEMO_CLIENT_SECRET.to_owned(),
            expires_at: None,
        }],
        certificates: Vec::new(),
        redirect_uris: vec![RedirectUri::new(
            "http://localhost:8400/callback",
            RedirectKind::Web,
        )],
        allow_public_client_flows: false,
        application_permissions: vec!["User.Read.All".to_owned(), "Mail.Read".to_owned()],
        delegated_permissions: vec!["User.Read".to_owned()],
        pre_consented_scopes: Vec::new(),
    };
    EmulatorConfig {
        tenants: vec![TenantConfig {
            id: uuid(DEMO_TENANT_ID),
            display_name: "Sandbox".to_owned(),
            domains: vec![DEMO_DOMAIN.to_owned()],
            users: vec![
                user("demo", "Demo User", Some(uuid(DEMO_USER_OID))),
                mfa,
                user("adele", "Adele Vance", None),
                user("alex", "Alex Wilber", None),
                user("megan", "Megan Bowen", None),
            ],
            apps: vec![public_app, daemon],
        }],
        resources: vec![
            ResourceConfig {
                uri: "https://outlook.office.com".to_owned(),
                app_id: uuid("00000002-0000-0ff1-ce00-000000000000"),
                display_name: "Office 365 Exchange Online".to_owned(),
                scopes: [
                    "IMAP.AccessAsUser.All",
                    "POP.AccessAsUser.All",
                    "SMTP.Send",
                    "EWS.AccessAsUser.All",
                    "Mail.Read",
                    "Mail.Send",
                ]
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
                app_roles: vec!["full_access_as_app".to_owned(), "Mail.Read".to_owned()],
                access_token_version: 1,
            },
            ResourceConfig {
                uri: "https://api.businesscentral.dynamics.com".to_owned(),
                app_id: uuid("996def3d-b36c-4153-8607-a6fd3c01b89f"),
                display_name: "Dynamics 365 Business Central".to_owned(),
                scopes: vec![
                    "user_impersonation".to_owned(),
                    "Financials.ReadWrite.All".to_owned(),
                ],
                app_roles: vec!["API.ReadWrite.All".to_owned()],
                access_token_version: 1,
            },
        ],
        lifetimes: Lifetimes::default(),
        clock_offset_seconds: 0,
        device_code_slow_down: true,
        reject_replayed_assertions: true,
        messages_per_user: 25,
    }
}
