//! OpenID Connect discovery and the JWKS.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::config::CONSUMERS_TENANT_ID;
use crate::directory::Authority;
use crate::state::AppState;

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`.
pub async fn openid_configuration(
    State(state): State<AppState>,
    Path(segment): Path<String>,
    headers: HeaderMap,
) -> Response {
    let authority = match state.dir.authority(&segment) {
        Ok(authority) => authority,
        Err(error) => {
            let mut rendered = error.render(&state.err_ctx(&headers));
            rendered.error = "invalid_tenant";
            return rendered.into_response();
        }
    };
    // Microsoft templates the issuer for the multi-tenant segments and names the tenant id
    // (not the domain) everywhere else.
    let (issuer_tid, path_segment, region_scope) = match authority {
        Authority::Common => ("{tenantid}".to_owned(), "common".to_owned(), None),
        Authority::Organizations => ("{tenantid}".to_owned(), "organizations".to_owned(), None),
        Authority::Consumers => (CONSUMERS_TENANT_ID.to_owned(), "consumers".to_owned(), None),
        Authority::Tenant(id) => (id.to_string(), id.to_string(), Some("EU")),
    };
    let base = &state.base_url;
    let host = base
        .trim_start_matches("http://")
        .trim_start_matches("https://");
    Json(json!({
        "token_endpoint": format!("{base}/{path_segment}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/{path_segment}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": state.issuer(&issuer_tid),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("{base}/oidc/userinfo"),
        "authorization_endpoint": format!("{base}/{path_segment}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/{path_segment}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}/{path_segment}/oauth2/v2.0/logout"),
        "claims_supported": [
            "sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
            "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username",
            "name", "tid", "ver", "at_hash", "c_hash", "email"
        ],
        "kerberos_endpoint": format!("{base}/{path_segment}/kerberos"),
        "tenant_region_scope": region_scope,
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": host,
        "rbac_url": "https://pas.windows.net",
    }))
    .into_response()
}

/// `GET /{tenant}/discovery/v2.0/keys`.
pub async fn keys(
    State(state): State<AppState>,
    Path(segment): Path<String>,
    headers: HeaderMap,
) -> Response {
    let issuer_tid = match state.dir.authority(&segment) {
        Ok(Authority::Tenant(id)) => id.to_string(),
        Ok(Authority::Consumers) => CONSUMERS_TENANT_ID.to_owned(),
        Ok(_) => "{tenantid}".to_owned(),
        Err(error) => {
            let mut rendered = error.render(&state.err_ctx(&headers));
            rendered.error = "invalid_tenant";
            return rendered.into_response();
        }
    };
    Json(json!({"keys": [state.keys.jwk(&state.issuer(&issuer_tid))]})).into_response()
}
