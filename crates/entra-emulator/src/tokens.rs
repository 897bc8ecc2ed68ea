//! Minting access tokens, ID tokens, refresh tokens and the token response.

use axum::Json;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::config::ResourceConfig;
use crate::directory::{App, User};
use crate::errors::AadError;
use crate::state::Shared;
use crate::store::{RefreshRecord, opaque};

/// Microsoft's token response.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub token_type: &'static str,
    /// Absent for client credentials, as in Microsoft's responses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    pub expires_in: i64,
    pub ext_expires_in: i64,
    pub access_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_info: Option<String>,
}

impl IntoResponse for TokenResponse {
    fn into_response(self) -> Response {
        let mut response = Json(self).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store, no-cache"),
        );
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        response
    }
}

/// How the client authenticated (`appidacr`/`azpacr`: 0 public, 1 secret, 2 certificate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    Public,
    Secret,
    Certificate,
}

impl ClientAuth {
    pub fn acr(self) -> &'static str {
        match self {
            ClientAuth::Public => "0",
            ClientAuth::Secret => "1",
            ClientAuth::Certificate => "2",
        }
    }
    pub fn confidential(self) -> bool {
        self != ClientAuth::Public
    }
}

/// What a new refresh token carries forward.
#[derive(Debug, Clone, Copy)]
pub struct RefreshSeed {
    pub auth_time: OffsetDateTime,
    pub mfa_done: bool,
    pub spa: bool,
}

/// Everything needed to answer a delegated (user) token request.
pub struct UserGrant<'a> {
    pub app: &'a App,
    pub user: &'a User,
    pub resource: &'a ResourceConfig,
    /// Granted scope names on `resource` (bare names).
    pub scope_names: Vec<String>,
    pub openid: bool,
    pub profile: bool,
    pub email: bool,
    pub nonce: Option<String>,
    pub refresh: Option<RefreshSeed>,
    pub client_info: bool,
    pub auth_time: OffsetDateTime,
    pub mfa_done: bool,
    pub client_auth: ClientAuth,
}

fn server_error(error: impl std::fmt::Display) -> AadError {
    tracing::error!(%error, "token signing failed");
    AadError::new(50000)
}

/// Pairwise subject: stable per user and app, different across apps.
pub fn pairwise_sub(user: Uuid, client: Uuid) -> String {
    let digest = Sha256::digest(format!("{user}:{client}").as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..32])
}

fn insert(map: &mut Map<String, Value>, key: &str, value: impl Into<Value>) {
    map.insert(key.to_owned(), value.into());
}

/// Issues the access token (and ID token, refresh token, client_info as asked) for a user.
pub fn issue_user_tokens(state: &Shared, grant: UserGrant<'_>) -> Result<TokenResponse, AadError> {
    let now = state.clock.now();
    let iat = now.unix_timestamp();
    let lifetime = state.lifetimes().access_token_seconds;
    let tid = grant.user.tenant_id.to_string();
    let client_id = grant.app.client_id().to_string();
    let resource = grant.resource;
    let mut amr = vec!["pwd"];
    if grant.mfa_done {
        amr.push("mfa");
    }

    let mut claims = Map::new();
    let v2 = resource.access_token_version == 2;
    if v2 {
        insert(&mut claims, "aud", resource.app_id.to_string());
        insert(&mut claims, "iss", state.issuer(&tid));
    } else {
        insert(&mut claims, "aud", resource.uri.trim_end_matches('/'));
        insert(
            &mut claims,
            "iss",
            format!("https://sts.windows.net/{tid}/"),
        );
    }
    insert(&mut claims, "iat", iat);
    insert(&mut claims, "nbf", iat);
    insert(&mut claims, "exp", iat + lifetime);
    insert(&mut claims, "acr", "1");
    insert(&mut claims, "aio", opaque(24));
    insert(&mut claims, "amr", json!(amr));
    insert(&mut claims, "app_displayname", grant.app.name());
    if v2 {
        insert(&mut claims, "azp", client_id.clone());
        insert(&mut claims, "azpacr", grant.client_auth.acr());
        insert(&mut claims, "preferred_username", grant.user.username());
    } else {
        insert(&mut claims, "appid", client_id.clone());
        insert(&mut claims, "appidacr", grant.client_auth.acr());
        insert(&mut claims, "upn", grant.user.username());
        insert(&mut claims, "unique_name", grant.user.username());
        if let Some(given) = &grant.user.config.given_name {
            insert(&mut claims, "given_name", given.as_str());
        }
        if let Some(family) = &grant.user.config.surname {
            insert(&mut claims, "family_name", family.as_str());
        }
    }
    insert(&mut claims, "idtyp", "user");
    insert(&mut claims, "name", grant.user.config.display_name.as_str());
    insert(&mut claims, "oid", grant.user.oid.to_string());
    insert(&mut claims, "scp", grant.scope_names.join(" "));
    insert(
        &mut claims,
        "sub",
        pairwise_sub(grant.user.oid, grant.app.client_id()),
    );
    insert(&mut claims, "tid", tid.clone());
    insert(&mut claims, "uti", opaque(16));
    insert(&mut claims, "ver", if v2 { "2.0" } else { "1.0" });
    let access_token = state.keys.sign(&claims).map_err(server_error)?;

    let id_token = if grant.openid {
        let mut id = Map::new();
        insert(&mut id, "aud", client_id.clone());
        insert(&mut id, "iss", state.issuer(&tid));
        insert(&mut id, "iat", iat);
        insert(&mut id, "nbf", iat);
        insert(&mut id, "exp", iat + 3600);
        if grant.profile {
            insert(&mut id, "name", grant.user.config.display_name.as_str());
            insert(&mut id, "oid", grant.user.oid.to_string());
            insert(&mut id, "preferred_username", grant.user.username());
        }
        if grant.email {
            insert(&mut id, "email", grant.user.mail());
        }
        if let Some(nonce) = &grant.nonce {
            insert(&mut id, "nonce", nonce.as_str());
        }
        insert(&mut id, "rh", opaque(24));
        insert(
            &mut id,
            "sub",
            pairwise_sub(grant.user.oid, grant.app.client_id()),
        );
        insert(&mut id, "tid", tid.clone());
        insert(&mut id, "uti", opaque(16));
        insert(&mut id, "ver", "2.0");
        Some(state.keys.sign(&id).map_err(server_error)?)
    } else {
        None
    };

    let refresh_token = grant.refresh.map(|seed| {
        let token = format!("1.A{}", opaque(160));
        state.store().refresh_tokens.insert(
            token.clone(),
            RefreshRecord {
                client_id: grant.app.client_id(),
                user: grant.user.oid,
                issued_at: now,
                auth_time: seed.auth_time,
                mfa_done: seed.mfa_done,
                confidential: grant.client_auth.confidential(),
                spa: seed.spa,
                rotated: false,
            },
        );
        token
    });

    let client_info = grant.client_info.then(|| {
        URL_SAFE_NO_PAD.encode(json!({"uid": grant.user.oid.to_string(), "utid": tid}).to_string())
    });

    let mut scope = crate::scopes::display_scopes(&resource.uri, &grant.scope_names);
    if grant.openid || grant.profile || grant.email {
        let flags = crate::scopes::Scopes {
            openid: grant.openid,
            profile: grant.profile,
            email: grant.email,
            ..Default::default()
        };
        scope.extend(flags.oidc_names().into_iter().map(str::to_owned));
    }
    Ok(TokenResponse {
        token_type: "Bearer",
        scope: Some(scope.join(" ")),
        expires_in: lifetime,
        ext_expires_in: lifetime,
        access_token,
        refresh_token,
        id_token,
        client_info,
    })
}

/// Issues an app-only access token (client credentials).
pub fn issue_app_token(
    state: &Shared,
    app: &App,
    tenant: Uuid,
    resource: &ResourceConfig,
    roles: Vec<String>,
    client_auth: ClientAuth,
) -> Result<TokenResponse, AadError> {
    let now = state.clock.now().unix_timestamp();
    let lifetime = state.lifetimes().access_token_seconds;
    let tid = tenant.to_string();
    let v2 = resource.access_token_version == 2;
    let mut claims = Map::new();
    if v2 {
        insert(&mut claims, "aud", resource.app_id.to_string());
        insert(&mut claims, "iss", state.issuer(&tid));
        insert(&mut claims, "azp", app.client_id().to_string());
        insert(&mut claims, "azpacr", client_auth.acr());
    } else {
        insert(&mut claims, "aud", resource.uri.trim_end_matches('/'));
        insert(
            &mut claims,
            "iss",
            format!("https://sts.windows.net/{tid}/"),
        );
        insert(&mut claims, "appid", app.client_id().to_string());
        insert(&mut claims, "appidacr", client_auth.acr());
        insert(
            &mut claims,
            "idp",
            format!("https://sts.windows.net/{tid}/"),
        );
    }
    insert(&mut claims, "iat", now);
    insert(&mut claims, "nbf", now);
    insert(&mut claims, "exp", now + lifetime);
    insert(&mut claims, "aio", opaque(24));
    insert(&mut claims, "app_displayname", app.name());
    insert(&mut claims, "idtyp", "app");
    insert(&mut claims, "oid", app.sp_oid.to_string());
    if !roles.is_empty() {
        insert(&mut claims, "roles", json!(roles));
    }
    insert(&mut claims, "sub", app.sp_oid.to_string());
    insert(&mut claims, "tid", tid);
    insert(&mut claims, "uti", opaque(16));
    insert(&mut claims, "ver", if v2 { "2.0" } else { "1.0" });
    let access_token = state.keys.sign(&claims).map_err(server_error)?;
    Ok(TokenResponse {
        token_type: "Bearer",
        scope: None,
        expires_in: lifetime,
        ext_expires_in: lifetime,
        access_token,
        refresh_token: None,
        id_token: None,
        client_info: None,
    })
}
