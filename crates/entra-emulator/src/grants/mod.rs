//! `POST /{tenant}/oauth2/v2.0/token`: common request handling (tenant, client, credentials)
//! and dispatch to one module per grant.

pub mod authorization_code;
pub mod client_auth;
pub mod client_credentials;
pub mod delegated;
pub mod device_code;
pub mod password;
pub mod refresh_token;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::directory::{App, Authority};
use crate::errors::AadError;
use crate::form::Params;
use crate::state::{AppState, Shared};
use crate::tokens::TokenResponse;

pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A credential the client presented.
#[derive(Debug, Clone)]
pub enum Credential {
    Secret(String),
    Assertion {
        assertion_type: Option<String>,
        jwt: String,
    },
}

/// A parsed token request, before the grant-specific checks.
pub struct TokenRequest<'a> {
    pub state: &'a Shared,
    pub segment: &'a str,
    pub authority: Authority,
    pub params: Params,
    pub headers: &'a HeaderMap,
    pub app: &'a App,
    pub credential: Option<Credential>,
}

impl TokenRequest<'_> {
    pub fn wants_client_info(&self) -> bool {
        self.params.get("client_info") == Some("1")
    }

    /// The tenant display name (or segment) for error messages.
    pub fn tenant_label(&self) -> String {
        self.state
            .tenant_label(self.state.dir.tenant_id_of(self.authority), self.segment)
    }
}

/// `Authorization: Basic` → (client_id, secret), both form-url-decoded (RFC 6749 §2.3.1).
fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((decode(id), decode(secret)))
}

pub async fn token(
    State(state): State<AppState>,
    Path(segment): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match handle(&state, &segment, &headers, &body) {
        Ok(response) => response.into_response(),
        Err(error) => {
            tracing::info!(
                code = error.code,
                error = error.error(),
                "token request refused"
            );
            error.render(&state.err_ctx(&headers)).into_response()
        }
    }
}

fn handle(
    state: &Shared,
    segment: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<TokenResponse, AadError> {
    let params = Params::parse(body);
    let grant_type = params.require("grant_type")?.to_owned();
    let known = [
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "password",
        DEVICE_CODE_GRANT,
        "device_code",
    ];
    if !known.contains(&grant_type.as_str()) {
        return Err(AadError::new(70003).arg("grant_type", &grant_type));
    }
    let authority = state.dir.authority(segment)?;
    let basic = basic_auth(headers);
    let client_id = params
        .get("client_id")
        .map(str::to_owned)
        .or_else(|| basic.as_ref().map(|(id, _)| id.clone()))
        .filter(|id| !id.is_empty())
        .ok_or_else(|| AadError::missing("client_id"))?;
    let app = state.dir.app_for(authority, segment, &client_id)?;
    let credential = if let Some(jwt) = params.get("client_assertion") {
        Some(Credential::Assertion {
            assertion_type: params.get("client_assertion_type").map(str::to_owned),
            jwt: jwt.to_owned(),
        })
    } else if let Some(secret) = params.get("client_secret") {
        Some(Credential::Secret(secret.to_owned()))
    } else {
        basic
            .map(|(_, secret)| secret)
            .filter(|s| !s.is_empty())
            .map(Credential::Secret)
    };
    let request = TokenRequest {
        state,
        segment,
        authority,
        params,
        headers,
        app,
        credential,
    };
    match grant_type.as_str() {
        "authorization_code" => authorization_code::grant(&request),
        "refresh_token" => refresh_token::grant(&request),
        "client_credentials" => client_credentials::grant(&request),
        "password" => password::grant(&request),
        _ => device_code::grant(&request),
    }
}
