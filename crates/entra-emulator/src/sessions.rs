//! Server-side sessions: the state of a sign-in in progress (keyed by an opaque id carried in a
//! hidden form field) and browser SSO sessions (keyed by the `ESTSAUTH` cookie).

use time::OffsetDateTime;
use uuid::Uuid;

use crate::config::RedirectKind;
use crate::directory::Authority;
use crate::scopes::Scopes;

/// The SSO cookie's name, as Microsoft's login pages call it.
pub const SSO_COOKIE: &str = "ESTSAUTH";

/// How the authorization response travels back to the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    Query,
    Fragment,
    FormPost,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PkceMethod {
    Plain,
    S256,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    Default,
    Login,
    None,
    Consent,
    SelectAccount,
}

/// The parts of an authorize request needed to finish it.
#[derive(Debug, Clone)]
pub struct AuthorizeRequest {
    pub redirect_uri: String,
    pub redirect_kind: RedirectKind,
    pub response_mode: ResponseMode,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<(String, PkceMethod)>,
}

#[derive(Debug, Clone)]
pub enum FlowKind {
    Authorize(AuthorizeRequest),
    Device { device_code: String },
}

/// A sign-in in progress.
#[derive(Debug, Clone)]
pub struct FlowSession {
    pub kind: FlowKind,
    pub created: OffsetDateTime,
    pub segment: String,
    pub authority: Authority,
    pub client_id: Uuid,
    pub scope_raw: String,
    pub scopes: Scopes,
    pub prompt: Prompt,
    pub login_hint: Option<String>,
    /// Set once the password (or SSO session) identified the user.
    pub user: Option<Uuid>,
    pub auth_time: Option<OffsetDateTime>,
    pub mfa_done: bool,
    /// Consent page already accepted in this flow.
    pub consented: bool,
    /// The SSO session this flow created or used (MFA completion updates it).
    pub sso_id: Option<String>,
}

/// A browser's signed-in session.
#[derive(Debug, Clone)]
pub struct SsoSession {
    pub user: Uuid,
    pub auth_time: OffsetDateTime,
    pub mfa_done: bool,
    pub expires: OffsetDateTime,
}

/// Finds a cookie's value in a `Cookie` header.
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then_some(value)
    })
}
