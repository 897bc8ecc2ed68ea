//! `grant_type=refresh_token` (v2-oauth2-auth-code-flow "refresh the access token",
//! refresh-tokens): rotation, idle/absolute/SPA lifetimes, revocation, MFA step-up, consent
//! and cross-resource redemption.

use crate::errors::AadError;
use crate::grants::TokenRequest;
use crate::grants::client_auth::{Requirement, authenticate};
use crate::grants::delegated::{self, Delegated, mfa_required};
use crate::scopes::Scopes;
use crate::tokens::TokenResponse;

fn days(seconds: i64) -> String {
    let days = seconds / 86_400;
    let rest = seconds % 86_400;
    format!(
        "{days}.{:02}:{:02}:{:02}",
        rest / 3600,
        (rest % 3600) / 60,
        rest % 60
    )
}

pub fn grant(request: &TokenRequest<'_>) -> Result<TokenResponse, AadError> {
    let state = request.state;
    let app = request.app;
    let token = request.params.require("refresh_token")?;
    let record = state
        .store()
        .refresh_tokens
        .get(token)
        .cloned()
        .ok_or_else(|| AadError::new(9002313))?;
    if record.client_id != app.client_id() {
        return Err(AadError::new(70000));
    }
    let need = if record.confidential {
        Requirement::Required
    } else {
        Requirement::Optional
    };
    let client_auth = authenticate(request, need)?;
    let lifetimes = state.lifetimes();
    if record.rotated && lifetimes.revoke_rotated_refresh_tokens {
        return Err(AadError::new(70008));
    }
    let now = state.clock.now();
    let user = state
        .dir
        .user(record.user)
        .ok_or_else(|| AadError::new(70000))?;
    let flags = state.store().flags(user.oid);
    if let Some(valid_from) = flags.tokens_valid_from
        && record.auth_time < valid_from
    {
        return Err(AadError::new(50173)
            .arg("issued", crate::clock::iso(record.auth_time))
            .arg("valid_from", crate::clock::iso(valid_from)));
    }
    if flags.disabled {
        return Err(AadError::new(50057));
    }
    if flags.locked {
        return Err(AadError::new(50053));
    }
    if record.spa && (now - record.auth_time).whole_seconds() > lifetimes.spa_refresh_token_seconds
    {
        return Err(AadError::new(700084).arg("issued", crate::clock::iso(record.auth_time)));
    }
    let idle = (now - record.issued_at).whole_seconds();
    if idle > lifetimes.refresh_token_idle_seconds {
        return Err(AadError::new(700082)
            .arg("issued", crate::clock::iso(record.issued_at))
            .arg("inactive", days(idle)));
    }
    if lifetimes
        .refresh_token_max_age_seconds
        .is_some_and(|max| (now - record.auth_time).whole_seconds() > max)
    {
        return Err(AadError::new(70008));
    }
    let scope_raw = request.params.get("scope").unwrap_or_default();
    let scopes = Scopes::parse(scope_raw, &state.dir, &request.tenant_label())?;
    if flags.mfa_required && !record.mfa_done {
        let resource = scopes
            .resources
            .first()
            .and_then(|r| state.dir.resource(&r.resource))
            .unwrap_or_else(|| state.dir.graph());
        return Err(mfa_required(&resource.app_id.to_string()));
    }
    let response = delegated::issue(
        request,
        Delegated {
            user,
            scopes: &scopes,
            scope_raw,
            nonce: None,
            auth_time: record.auth_time,
            mfa_done: record.mfa_done,
            refresh: true,
            spa: record.spa,
            client_auth,
        },
    )?;
    if let Some(old) = state.store().refresh_tokens.get_mut(token) {
        old.rotated = true;
    }
    Ok(response)
}
