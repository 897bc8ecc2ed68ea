//! The part every user-token grant shares: pick the one resource, check consent, issue.

use time::OffsetDateTime;

use crate::directory::User;
use crate::errors::AadError;
use crate::grants::TokenRequest;
use crate::scopes::{Scopes, app_static_keys, names_for_resource};
use crate::tokens::{ClientAuth, RefreshSeed, TokenResponse, UserGrant, issue_user_tokens};

pub struct Delegated<'a> {
    pub user: &'a User,
    /// The scopes of this token request (the resource and `openid`/`profile`/`email`).
    pub scopes: &'a Scopes,
    pub scope_raw: &'a str,
    pub nonce: Option<String>,
    pub auth_time: OffsetDateTime,
    pub mfa_done: bool,
    /// Issue a refresh token (`offline_access` granted).
    pub refresh: bool,
    pub spa: bool,
    pub client_auth: ClientAuth,
}

pub fn issue(request: &TokenRequest<'_>, grant: Delegated<'_>) -> Result<TokenResponse, AadError> {
    let state = request.state;
    let app = request.app;
    let entry = grant.scopes.single_resource(grant.scope_raw)?;
    let resource = match entry {
        Some(entry) => state
            .dir
            .resource(&entry.resource)
            .unwrap_or_else(|| state.dir.graph()),
        None => state.dir.graph(),
    };
    let granted = crate::consent::granted(state, grant.user.oid, app);
    let needed = grant.scopes.consent_keys(&app_static_keys(app, &state.dir));
    if !needed.is_subset(&granted) {
        return Err(AadError::new(65001)
            .arg("client_id", app.client_id())
            .arg("app_name", app.name())
            .with_suberror("consent_required"));
    }
    let scope_names = names_for_resource(&granted, &resource.uri);
    issue_user_tokens(
        state,
        UserGrant {
            app,
            user: grant.user,
            resource,
            scope_names,
            openid: grant.scopes.openid,
            profile: grant.scopes.profile,
            email: grant.scopes.email,
            nonce: grant.nonce,
            refresh: grant.refresh.then_some(RefreshSeed {
                auth_time: grant.auth_time,
                mfa_done: grant.mfa_done,
                spa: grant.spa,
            }),
            client_info: request.wants_client_info(),
            auth_time: grant.auth_time,
            mfa_done: grant.mfa_done,
            client_auth: grant.client_auth,
        },
    )
}

/// AADSTS50076 as the token endpoint returns it: `invalid_grant` with `suberror` and a
/// claims challenge.
pub fn mfa_required(resource_app_id: &str) -> AadError {
    AadError::new(50076)
        .arg("resource", resource_app_id)
        .with_suberror("basic_action")
        .with_claims(
            r#"{"access_token":{"capolids":{"essential":true,"values":["4a3c1b4e-0000-4d6a-9a6e-6d8c1f0e0000"]}}}"#,
        )
}
