//! `grant_type=password` (v2-oauth-ropc): username and password straight to the token
//! endpoint; no MFA, no consent, not on `/common` or `/consumers`.

use crate::directory::Authority;
use crate::errors::AadError;
use crate::grants::TokenRequest;
use crate::grants::client_auth::{Requirement, authenticate};
use crate::grants::delegated::{self, Delegated, mfa_required};
use crate::scopes::Scopes;
use crate::tokens::TokenResponse;

pub fn grant(request: &TokenRequest<'_>) -> Result<TokenResponse, AadError> {
    let state = request.state;
    let app = request.app;
    if matches!(request.authority, Authority::Common | Authority::Consumers) {
        return Err(AadError::new(9001023));
    }
    let need = if app.reg.allow_public_client_flows {
        Requirement::Optional
    } else {
        Requirement::Required
    };
    let client_auth = authenticate(request, need)?;
    let username = request.params.require("username")?;
    let password = request.params.require("password")?;
    let scope_raw = request.params.require("scope")?;
    let scopes = Scopes::parse(scope_raw, &state.dir, &request.tenant_label())?;
    let user = state
        .dir
        .user_for_signin(request.authority, request.segment, app, username)?;
    let flags = state.store().flags(user.oid);
    if flags.locked {
        return Err(AadError::new(50053));
    }
    if password != user.config.password {
        return Err(AadError::new(50126));
    }
    if flags.disabled {
        return Err(AadError::new(50057));
    }
    if flags.password_expired {
        return Err(AadError::new(50055).with_suberror("user_password_expired"));
    }
    if flags.mfa_required {
        let resource = scopes
            .resources
            .first()
            .and_then(|r| state.dir.resource(&r.resource))
            .unwrap_or_else(|| state.dir.graph());
        return Err(mfa_required(&resource.app_id.to_string()));
    }
    tracing::info!(user = %user.username(), "password grant accepted");
    delegated::issue(
        request,
        Delegated {
            user,
            scopes: &scopes,
            scope_raw,
            nonce: None,
            auth_time: state.clock.now(),
            mfa_done: false,
            refresh: scopes.offline_access,
            spa: false,
            client_auth,
        },
    )
}
