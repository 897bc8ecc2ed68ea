//! `grant_type=authorization_code` (v2-oauth2-auth-code-flow): single-use, short-lived codes
//! bound to client, redirect URI and PKCE challenge.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::authorize::redirect::match_redirect;
use crate::config::RedirectKind;
use crate::errors::AadError;
use crate::grants::TokenRequest;
use crate::grants::client_auth::{Requirement, authenticate};
use crate::grants::delegated::{self, Delegated};
use crate::scopes::Scopes;
use crate::sessions::PkceMethod;
use crate::tokens::TokenResponse;

fn pkce_matches(verifier: &str, challenge: &str, method: PkceMethod) -> bool {
    match method {
        PkceMethod::Plain => verifier == challenge,
        PkceMethod::S256 => {
            URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == challenge
        }
    }
}

pub fn grant(request: &TokenRequest<'_>) -> Result<TokenResponse, AadError> {
    let state = request.state;
    let app = request.app;
    let code_value = request.params.require("code")?;
    let redirect_uri = request.params.require("redirect_uri")?;
    let code = state
        .store()
        .codes
        .get(code_value)
        .cloned()
        .ok_or_else(|| AadError::new(70000))?;
    if code.client_id != app.client_id() {
        return Err(AadError::new(70000));
    }
    let need = match code.redirect_kind {
        RedirectKind::Web => Requirement::Required,
        RedirectKind::PublicClient | RedirectKind::Spa => Requirement::PublicOnly,
    };
    let client_auth = authenticate(request, need)?;
    let origin = request.headers.get("origin").and_then(|v| v.to_str().ok());
    match (code.redirect_kind, origin) {
        (RedirectKind::Spa, None) => return Err(AadError::new(9002327)),
        (RedirectKind::Web | RedirectKind::PublicClient, Some(origin)) => {
            return Err(AadError::new(9002326).arg("origin", origin));
        }
        _ => {}
    }
    if code.redeemed {
        return Err(AadError::new(54005));
    }
    let now = state.clock.now();
    if (now - code.issued_at).whole_seconds() > state.lifetimes().auth_code_seconds {
        return Err(AadError::new(70008));
    }
    if redirect_uri != code.redirect_uri {
        if match_redirect(app, redirect_uri).is_none() {
            return Err(AadError::new(50011)
                .arg("redirect_uri", redirect_uri)
                .arg("client_id", app.client_id()));
        }
        return Err(AadError::new(500112)
            .arg("redirect_uri", redirect_uri)
            .arg("original", &code.redirect_uri));
    }
    if let Some((challenge, method)) = &code.code_challenge {
        let verifier = request
            .params
            .get("code_verifier")
            .ok_or_else(|| AadError::new(50148))?;
        if !pkce_matches(verifier, challenge, *method) {
            return Err(AadError::new(501481));
        }
    }
    {
        let mut store = state.store();
        match store.codes.get_mut(code_value) {
            Some(stored) if !stored.redeemed => stored.redeemed = true,
            _ => return Err(AadError::new(54005)),
        }
    }
    let user = state
        .dir
        .user(code.user)
        .ok_or_else(|| AadError::new(70000))?;
    let requested;
    let (scopes, scope_raw) = match request.params.get("scope") {
        Some(raw) => {
            requested = Scopes::parse(raw, &state.dir, &request.tenant_label())?;
            (&requested, raw)
        }
        None => (&code.scopes, code.scope_raw.as_str()),
    };
    let merged = Scopes {
        openid: code.scopes.openid,
        profile: code.scopes.profile,
        email: code.scopes.email,
        offline_access: false,
        resources: scopes.resources.clone(),
    };
    delegated::issue(
        request,
        Delegated {
            user,
            scopes: &merged,
            scope_raw,
            nonce: code.nonce.clone(),
            auth_time: code.auth_time,
            mfa_done: code.mfa_done,
            refresh: code.scopes.offline_access,
            spa: code.redirect_kind == RedirectKind::Spa,
            client_auth,
        },
    )
}
