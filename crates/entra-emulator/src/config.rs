//! The emulator's configuration: tenants, their users and app registrations, known resources
//! and token lifetimes. Every field that Microsoft gives a default has the same default here.

use std::path::Path;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// Microsoft Graph's resource URI; always known to the emulator.
pub const GRAPH_RESOURCE: &str = "https://graph.microsoft.com";
/// Microsoft Graph's application id.
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
/// The tenant id Microsoft uses for personal (consumer) accounts; a tenant configured with this
/// id is the `consumers` tenant.
pub const CONSUMERS_TENANT_ID: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// Everything the emulator serves.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmulatorConfig {
    /// Work/school tenants, plus optionally the consumers tenant (id [`CONSUMERS_TENANT_ID`]).
    #[serde(default)]
    pub tenants: Vec<TenantConfig>,
    /// Resources (APIs) besides Microsoft Graph, which is always known.
    #[serde(default)]
    pub resources: Vec<ResourceConfig>,
    #[serde(default)]
    pub lifetimes: Lifetimes,
    /// Start the emulator's clock this many seconds away from real time.
    #[serde(default)]
    pub clock_offset_seconds: i64,
    /// Answer `slow_down` (RFC 8628) when a device code is polled faster than its interval.
    /// Microsoft documents no `slow_down`; this is on by default because clients must handle it.
    #[serde(default = "yes")]
    pub device_code_slow_down: bool,
    /// Reject a client assertion whose `jti` was already used (RFC 7523 allows the server to).
    #[serde(default = "yes")]
    pub reject_replayed_assertions: bool,
    /// Generated messages in every user's mailbox unless the user sets `messages`.
    #[serde(default = "default_messages")]
    pub messages_per_user: u32,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            tenants: Vec::new(),
            resources: Vec::new(),
            lifetimes: Lifetimes::default(),
            clock_offset_seconds: 0,
            device_code_slow_down: true,
            reject_replayed_assertions: true,
            messages_per_user: default_messages(),
        }
    }
}

/// One directory (tenant).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    pub id: Uuid,
    pub display_name: String,
    /// Verified domains, e.g. `contoso.onmicrosoft.com`; usable as the tenant segment of a URL.
    #[serde(default)]
    pub domains: Vec<String>,
    #[serde(default)]
    pub users: Vec<UserConfig>,
    #[serde(default)]
    pub apps: Vec<AppRegistration>,
}

impl TenantConfig {
    pub fn is_consumers(&self) -> bool {
        self.id.to_string() == CONSUMERS_TENANT_ID
    }
}

/// A user account.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// The sign-in name (UPN), e.g. `adele@contoso.onmicrosoft.com`.
    pub username: String,
    pub display_name: String,
    pub password: String,
    /// Immutable object id; generated at start when absent.
    #[serde(default)]
    pub object_id: Option<Uuid>,
    #[serde(default)]
    pub mfa_required: bool,
    /// The one-time code the MFA page accepts.
    #[serde(default = "default_mfa_code")]
    pub mfa_code: String,
    #[serde(default)]
    pub disabled: bool,
    #[serde(default)]
    pub password_expired: bool,
    #[serde(default)]
    pub locked: bool,
    /// Mail address; defaults to the username.
    #[serde(default)]
    pub mail: Option<String>,
    #[serde(default)]
    pub given_name: Option<String>,
    #[serde(default)]
    pub surname: Option<String>,
    #[serde(default)]
    pub job_title: Option<String>,
    /// Generated messages in this user's mailbox (default: `messages_per_user`).
    #[serde(default)]
    pub messages: Option<u32>,
}

/// Who may sign in to an app (`signInAudience` in the app manifest).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignInAudience {
    #[default]
    AzureADMyOrg,
    AzureADMultipleOrgs,
    AzureADandPersonalMicrosoftAccount,
    PersonalMicrosoftAccount,
}

impl SignInAudience {
    pub fn multi_tenant(self) -> bool {
        self != SignInAudience::AzureADMyOrg
    }
    pub fn allows_personal(self) -> bool {
        matches!(
            self,
            SignInAudience::AzureADandPersonalMicrosoftAccount
                | SignInAudience::PersonalMicrosoftAccount
        )
    }
    pub fn allows_work(self) -> bool {
        self != SignInAudience::PersonalMicrosoftAccount
    }
}

/// An app registration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppRegistration {
    pub client_id: Uuid,
    pub display_name: String,
    #[serde(default)]
    pub sign_in_audience: SignInAudience,
    #[serde(default)]
    pub client_secrets: Vec<ClientSecret>,
    /// PEM of each public certificate uploaded to the registration.
    #[serde(default)]
    pub certificates: Vec<String>,
    #[serde(default)]
    pub redirect_uris: Vec<RedirectUri>,
    /// "Allow public client flows" (device code, ROPC without a secret).
    #[serde(default)]
    pub allow_public_client_flows: bool,
    /// Application permissions (app roles) granted with admin consent, for client credentials;
    /// bare names are Graph's (`User.Read.All`), others resource-qualified.
    #[serde(default)]
    pub application_permissions: Vec<String>,
    /// Statically configured delegated permissions (what `{resource}/.default` means).
    #[serde(default)]
    pub delegated_permissions: Vec<String>,
    /// Delegated scopes an admin already consented to for every user (may include `offline_access`).
    #[serde(default)]
    pub pre_consented_scopes: Vec<String>,
}

impl AppRegistration {
    /// A confidential client: it has a credential to present.
    pub fn has_credentials(&self) -> bool {
        !self.client_secrets.is_empty() || !self.certificates.is_empty()
    }
}

/// A client secret (the value, as shown once in the portal).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSecret {
    pub value: String,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

/// A registered redirect URI and its platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedirectUri {
    pub uri: String,
    pub kind: RedirectKind,
}

impl RedirectUri {
    pub fn new(uri: impl Into<String>, kind: RedirectKind) -> Self {
        RedirectUri {
            uri: uri.into(),
            kind,
        }
    }
}

/// The platform a redirect URI is registered under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedirectKind {
    /// "Web": a confidential client redeems the code with its credential.
    Web,
    /// "Mobile and desktop applications": public client, no credential.
    #[serde(alias = "mobile_and_desktop", alias = "desktop", alias = "native")]
    PublicClient,
    /// "Single-page application": public client, cross-origin redemption, 24 h refresh tokens.
    Spa,
}

/// A resource (API) that tokens can be issued for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceConfig {
    /// Application ID URI, e.g. `https://outlook.office.com`.
    pub uri: String,
    pub app_id: Uuid,
    pub display_name: String,
    /// Delegated scopes it exposes; empty accepts any name.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Application roles it exposes; empty accepts any name.
    #[serde(default)]
    pub app_roles: Vec<String>,
    /// Access token format: 1 (Graph and most Microsoft APIs) or 2.
    #[serde(default = "default_token_version")]
    pub access_token_version: u8,
}

impl ResourceConfig {
    /// Microsoft Graph, with the delegated scopes and app roles the emulator knows.
    pub fn graph() -> Self {
        ResourceConfig {
            uri: GRAPH_RESOURCE.to_owned(),
            app_id: Uuid::from_u128(0x00000003_0000_0000_c000_000000000000),
            display_name: "Microsoft Graph".to_owned(),
            scopes: GRAPH_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            app_roles: GRAPH_ROLES.iter().map(|s| (*s).to_owned()).collect(),
            access_token_version: 1,
        }
    }
}

const GRAPH_SCOPES: &[&str] = &[
    "User.Read",
    "User.ReadWrite",
    "User.ReadBasic.All",
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "Directory.AccessAsUser.All",
    "Mail.Read",
    "Mail.ReadBasic",
    "Mail.ReadWrite",
    "Mail.Send",
    "Mail.Read.Shared",
    "Calendars.Read",
    "Calendars.ReadWrite",
    "Contacts.Read",
    "Contacts.ReadWrite",
    "Files.Read",
    "Files.ReadWrite",
    "Files.Read.All",
    "Files.ReadWrite.All",
    "Sites.Read.All",
    "Sites.ReadWrite.All",
    "Group.Read.All",
    "Group.ReadWrite.All",
    "People.Read",
    "Tasks.ReadWrite",
    "Notes.Read",
    "Chat.Read",
    "Team.ReadBasic.All",
    "IMAP.AccessAsUser.All",
    "POP.AccessAsUser.All",
    "SMTP.Send",
    "EWS.AccessAsUser.All",
    "email",
    "openid",
    "profile",
    "offline_access",
];

const GRAPH_ROLES: &[&str] = &[
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "Mail.Read",
    "Mail.ReadWrite",
    "Mail.Send",
    "Calendars.Read",
    "Files.Read.All",
    "Sites.Read.All",
    "Group.Read.All",
    "Application.Read.All",
];

/// Token and session lifetimes, in seconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Lifetimes {
    /// Access tokens (Microsoft: a random 60–90 minutes; 3600 here).
    pub access_token_seconds: i64,
    /// Authorization codes (Microsoft: about 10 minutes).
    pub auth_code_seconds: i64,
    /// Refresh token inactivity window (Microsoft: 90 days).
    pub refresh_token_idle_seconds: i64,
    /// Absolute refresh-token age since the original sign-in (Microsoft: until revoked).
    pub refresh_token_max_age_seconds: Option<i64>,
    /// Refresh tokens issued to SPA redirect URIs (Microsoft: 24 hours, fixed).
    pub spa_refresh_token_seconds: i64,
    /// Device codes (Microsoft: 15 minutes).
    pub device_code_seconds: i64,
    /// Device code polling interval (Microsoft: 5 seconds).
    pub device_code_interval_seconds: i64,
    /// Browser SSO session.
    pub sso_session_seconds: i64,
    /// Strict mode: a refresh token stops working once it has been exchanged for a new one.
    /// Microsoft does NOT do this (old refresh tokens stay valid), hence false by default.
    pub revoke_rotated_refresh_tokens: bool,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Lifetimes {
            access_token_seconds: 3600,
            auth_code_seconds: 600,
            refresh_token_idle_seconds: 90 * 24 * 3600,
            refresh_token_max_age_seconds: None,
            spa_refresh_token_seconds: 24 * 3600,
            device_code_seconds: 900,
            device_code_interval_seconds: 5,
            sso_session_seconds: 24 * 3600,
            revoke_rotated_refresh_tokens: false,
        }
    }
}

fn yes() -> bool {
    true
}
fn default_messages() -> u32 {
    25
}
fn default_mfa_code() -> String {
    "123456".to_owned()
}
fn default_token_version() -> u8 {
    1
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid TOML configuration: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("invalid JSON configuration: {0}")]
    Json(#[from] serde_json::Error),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl EmulatorConfig {
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        Ok(toml::from_str(text)?)
    }

    pub fn from_json_str(text: &str) -> Result<Self, ConfigError> {
        Ok(serde_json::from_str(text)?)
    }

    /// Reads a `.json` file as JSON and anything else as TOML.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let is_json = path
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("json"));
        if is_json {
            Self::from_json_str(&text)
        } else {
            Self::from_toml_str(&text)
        }
    }

    /// Checks what serde cannot: unique ids, domains and usernames.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut tenant_ids = std::collections::HashSet::new();
        let mut client_ids = std::collections::HashSet::new();
        let mut names = std::collections::HashSet::new();
        for tenant in &self.tenants {
            if !tenant_ids.insert(tenant.id) {
                return Err(ConfigError::Invalid(format!(
                    "tenant {} appears twice",
                    tenant.id
                )));
            }
            for domain in &tenant.domains {
                if !names.insert(domain.to_ascii_lowercase()) {
                    return Err(ConfigError::Invalid(format!(
                        "domain {domain} appears twice"
                    )));
                }
            }
            for app in &tenant.apps {
                if !client_ids.insert(app.client_id) {
                    return Err(ConfigError::Invalid(format!(
                        "client id {} appears twice",
                        app.client_id
                    )));
                }
            }
        }
        const TEN_YEARS: i64 = 10 * 366 * 86_400;
        let l = &self.lifetimes;
        for (name, value) in [
            ("access_token_seconds", l.access_token_seconds),
            ("auth_code_seconds", l.auth_code_seconds),
            ("refresh_token_idle_seconds", l.refresh_token_idle_seconds),
            (
                "refresh_token_max_age_seconds",
                l.refresh_token_max_age_seconds.unwrap_or(1),
            ),
            ("spa_refresh_token_seconds", l.spa_refresh_token_seconds),
            ("device_code_seconds", l.device_code_seconds),
            (
                "device_code_interval_seconds",
                l.device_code_interval_seconds,
            ),
            ("sso_session_seconds", l.sso_session_seconds),
        ] {
            if !(1..=TEN_YEARS).contains(&value) {
                return Err(ConfigError::Invalid(format!(
                    "lifetimes.{name} must be between 1 second and 10 years"
                )));
            }
        }
        if self.clock_offset_seconds.abs() > 100 * TEN_YEARS {
            return Err(ConfigError::Invalid(
                "clock_offset_seconds is out of range".into(),
            ));
        }
        let mut users = std::collections::HashSet::new();
        for user in self.tenants.iter().flat_map(|t| &t.users) {
            if !users.insert(user.username.to_ascii_lowercase()) {
                return Err(ConfigError::Invalid(format!(
                    "user {} appears twice",
                    user.username
                )));
            }
        }
        Ok(())
    }
}
