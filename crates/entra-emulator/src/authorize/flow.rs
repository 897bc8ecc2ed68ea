//! The sign-in flow across pages: sign-in → MFA → consent → code (or device approval), with
//! the flow's state kept server-side under the opaque id in the pages' hidden `flow` field.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use uuid::Uuid;

use crate::authorize::{ErrorRedirect, pages, redirect};
use crate::directory::{App, User};
use crate::errors::{AadError, ErrorContext};
use crate::form::Params;
use crate::scopes::{DEFAULT, app_static_keys};
use crate::sessions::{FlowKind, FlowSession, Prompt, SSO_COOKIE, SsoSession, cookie_value};
use crate::state::{AppState, Shared};
use crate::store::{AuthCode, DeviceStatus, opaque};

fn action(flow: &FlowSession, page: &str) -> String {
    format!("/{}/{page}", flow.segment)
}

fn expired(ctx: &ErrorContext) -> Response {
    pages::error(&AadError::new(50089).render(ctx))
}

fn load(state: &Shared, flow_id: &str) -> Option<FlowSession> {
    state.store().flows.get(flow_id).cloned()
}

fn app_of<'a>(state: &'a Shared, flow: &FlowSession) -> Option<&'a App> {
    state
        .dir
        .apps
        .iter()
        .find(|a| a.client_id() == flow.client_id)
}

/// The browser's SSO session, if it is valid and its user may still sign in.
pub fn sso_session(state: &Shared, headers: &HeaderMap) -> Option<(String, SsoSession)> {
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    let id = cookie_value(cookies, SSO_COOKIE)?;
    let store = state.store();
    let session = store.sso.get(id)?.clone();
    let flags = store.flags(session.user);
    if session.expires <= state.clock.now() || flags.disabled || flags.locked {
        return None;
    }
    if flags
        .tokens_valid_from
        .is_some_and(|from| session.auth_time < from)
    {
        return None;
    }
    Some((id.to_owned(), session))
}

fn sso_cookie(id: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{SSO_COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax"
    ))
    .ok()
}

fn hint_matches(flow: &FlowSession, user: Option<&User>) -> bool {
    match (&flow.login_hint, user) {
        (Some(hint), Some(user)) => hint.eq_ignore_ascii_case(user.username()),
        _ => true,
    }
}

/// The first page of an interactive flow: SSO reuse, account picker or the sign-in form.
pub fn start(state: &Shared, flow_id: &str, headers: &HeaderMap, ctx: &ErrorContext) -> Response {
    let Some(mut flow) = load(state, flow_id) else {
        return expired(ctx);
    };
    let sso = sso_session(state, headers);
    let sso_user = sso.as_ref().and_then(|(_, s)| state.dir.user(s.user));
    match (flow.prompt, &sso) {
        (Prompt::Login, _) | (_, None) => render_sign_in(state, flow_id, &flow, None),
        (Prompt::SelectAccount, Some(_)) => match sso_user {
            Some(user) => {
                pages::pick_account(&action(&flow, "select_account"), flow_id, user.username())
            }
            None => render_sign_in(state, flow_id, &flow, None),
        },
        (_, Some((id, session))) => {
            if !hint_matches(&flow, sso_user) {
                return render_sign_in(state, flow_id, &flow, None);
            }
            flow.user = Some(session.user);
            flow.auth_time = Some(session.auth_time);
            flow.mfa_done = session.mfa_done;
            flow.sso_id = Some(id.clone());
            state.store().flows.insert(flow_id.to_owned(), flow);
            advance(state, flow_id, ctx)
        }
    }
}

fn render_sign_in(
    state: &Shared,
    flow_id: &str,
    flow: &FlowSession,
    error: Option<&str>,
) -> Response {
    let app_name = app_of(state, flow).map(App::name).unwrap_or_default();
    pages::sign_in(
        &action(flow, "login"),
        flow_id,
        app_name,
        flow.login_hint.as_deref().unwrap_or_default(),
        error,
    )
}

/// Whether the flow asks for consent keys the user (or an admin) has not granted.
fn consent_missing(state: &Shared, flow: &FlowSession, app: &App, user: Uuid) -> bool {
    let needed = flow.scopes.consent_keys(&app_static_keys(app, &state.dir));
    !needed.is_subset(&crate::consent::granted(state, user, app))
}

/// `prompt=none`: answer without any page.
pub fn silent(
    state: &Shared,
    flow_id: &str,
    headers: &HeaderMap,
    back: &ErrorRedirect<'_>,
    ctx: &ErrorContext,
) -> Response {
    let Some(mut flow) = load(state, flow_id) else {
        return expired(ctx);
    };
    state.store().flows.remove(flow_id);
    let Some((sso_id, session)) = sso_session(state, headers) else {
        return back.send(AadError::new(50058), ctx);
    };
    let (Some(user), Some(app)) = (state.dir.user(session.user), app_of(state, &flow)) else {
        return back.send(AadError::new(50058), ctx);
    };
    if !hint_matches(&flow, Some(user)) {
        return back.send(AadError::new(50058), ctx);
    }
    if state.store().flags(user.oid).mfa_required && !session.mfa_done {
        let resource = state.dir.graph().app_id;
        return back.send(
            AadError::new(50076)
                .arg("resource", resource)
                .with_error("interaction_required"),
            ctx,
        );
    }
    if consent_missing(state, &flow, app, user.oid) {
        return back.send(
            AadError::new(65001)
                .arg("client_id", app.client_id())
                .arg("app_name", app.name())
                .with_error("consent_required"),
            ctx,
        );
    }
    flow.user = Some(user.oid);
    flow.auth_time = Some(session.auth_time);
    flow.mfa_done = session.mfa_done;
    flow.sso_id = Some(sso_id);
    complete(state, flow_id, flow, app, ctx)
}

/// Shows the next page the flow needs, or finishes it.
pub fn advance(state: &Shared, flow_id: &str, ctx: &ErrorContext) -> Response {
    let Some(mut flow) = load(state, flow_id) else {
        return expired(ctx);
    };
    let Some(app) = app_of(state, &flow) else {
        return expired(ctx);
    };
    let Some(user) = flow.user.and_then(|oid| state.dir.user(oid)) else {
        return render_sign_in(state, flow_id, &flow, None);
    };
    let flags = state.store().flags(user.oid);
    if flags.disabled || flags.locked {
        flow.user = None;
        let code = if flags.disabled { 50057 } else { 50053 };
        state.store().flows.insert(flow_id.to_owned(), flow.clone());
        return render_sign_in(state, flow_id, &flow, Some(&AadError::new(code).message()));
    }
    if flags.mfa_required && !flow.mfa_done {
        return pages::mfa(
            &action(&flow, "SAS/ProcessAuth"),
            flow_id,
            user.username(),
            None,
        );
    }
    let wants_consent =
        flow.prompt == Prompt::Consent || consent_missing(state, &flow, app, user.oid);
    if wants_consent && !flow.consented {
        return pages::consent(
            &action(&flow, "Consent/Set"),
            flow_id,
            app.name(),
            user.username(),
            &consent_items(state, &flow, app),
        );
    }
    complete(state, flow_id, flow, app, ctx)
}

fn consent_items(state: &Shared, flow: &FlowSession, app: &App) -> Vec<pages::ConsentItem> {
    let item = |title: &str, detail: &str| pages::ConsentItem {
        title: title.to_owned(),
        detail: detail.to_owned(),
    };
    let mut items = Vec::new();
    if flow.scopes.openid {
        items.push(item("openid", "Sign you in"));
    }
    if flow.scopes.profile {
        items.push(item("profile", "View your basic profile"));
    }
    if flow.scopes.email {
        items.push(item("email", "View your email address"));
    }
    if flow.scopes.offline_access {
        items.push(item(
            "offline_access",
            "Maintain access to data you have given it access to",
        ));
    }
    let statics = app_static_keys(app, &state.dir);
    for entry in &flow.scopes.resources {
        let resource_name = state
            .dir
            .resource(&entry.resource)
            .map(|r| r.display_name.clone())
            .unwrap_or_else(|| entry.resource.clone());
        for name in &entry.names {
            if name == DEFAULT {
                for key in crate::scopes::names_for_resource(&statics, &entry.resource) {
                    items.push(item(&key, &format!("({resource_name})")));
                }
            } else {
                items.push(item(name, &format!("({resource_name})")));
            }
        }
    }
    items
}

/// Issues the code (authorize) or approves the device code, and ends the flow.
fn complete(
    state: &Shared,
    flow_id: &str,
    flow: FlowSession,
    app: &App,
    ctx: &ErrorContext,
) -> Response {
    let (Some(user), Some(auth_time)) = (flow.user, flow.auth_time) else {
        return expired(ctx);
    };
    let now = state.clock.now();
    let mut store = state.store();
    store.flows.remove(flow_id);
    if flow.consented {
        let keys = flow.scopes.consent_keys(&app_static_keys(app, &state.dir));
        store.add_consent(user, app.client_id(), &keys);
    }
    match flow.kind {
        FlowKind::Authorize(request) => {
            let code = format!("1.A{}", opaque(96));
            store.codes.insert(
                code.clone(),
                AuthCode {
                    client_id: app.client_id(),
                    authority: flow.authority,
                    redirect_uri: request.redirect_uri.clone(),
                    redirect_kind: request.redirect_kind,
                    scope_raw: flow.scope_raw.clone(),
                    scopes: flow.scopes.clone(),
                    user,
                    nonce: request.nonce.clone(),
                    code_challenge: request.code_challenge.clone(),
                    issued_at: now,
                    auth_time,
                    mfa_done: flow.mfa_done,
                    redeemed: false,
                },
            );
            drop(store);
            let mut params = vec![("code".to_owned(), code)];
            if let Some(state_param) = &request.state {
                params.push(("state".to_owned(), state_param.clone()));
            }
            params.push(("session_state".to_owned(), Uuid::new_v4().to_string()));
            redirect::respond(&request.redirect_uri, request.response_mode, &params)
        }
        FlowKind::Device { device_code } => {
            if let Some(device) = store.devices.get_mut(&device_code) {
                device.status = DeviceStatus::Approved {
                    user,
                    auth_time,
                    mfa_done: flow.mfa_done,
                };
            }
            drop(store);
            pages::message(
                "You're signed in",
                "device-done",
                &format!(
                    "You have signed in to the {} application on your device. You may now close this window.",
                    app.name()
                ),
            )
        }
    }
}

fn flow_from_form(state: &Shared, params: &Params) -> Option<(String, FlowSession)> {
    let flow_id = params.get("flow")?;
    let flow = load(state, flow_id)?;
    Some((flow_id.to_owned(), flow))
}

/// `POST /{tenant}/login`: username and password.
pub async fn login(
    State(state): State<AppState>,
    Path(_segment): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ctx = state.err_ctx(&headers);
    let params = Params::parse(&body);
    let Some((flow_id, mut flow)) = flow_from_form(&state, &params) else {
        return expired(&ctx);
    };
    let Some(app) = app_of(&state, &flow) else {
        return expired(&ctx);
    };
    let username = params.get("username").unwrap_or_default().trim();
    let password = params.get("password").unwrap_or_default();
    flow.login_hint = Some(username.to_owned()).filter(|u| !u.is_empty());
    let user = match state
        .dir
        .user_for_signin(flow.authority, &flow.segment, app, username)
    {
        Ok(user) => user,
        Err(error) => {
            return render_sign_in(&state, &flow_id, &flow, Some(&error.message()));
        }
    };
    let flags = state.store().flags(user.oid);
    let failure = if flags.locked {
        Some(50053)
    } else if password != user.config.password {
        Some(50126)
    } else if flags.disabled {
        Some(50057)
    } else if flags.password_expired {
        Some(50055)
    } else {
        None
    };
    if let Some(code) = failure {
        tracing::info!(user = %user.username(), code, "sign-in refused");
        return render_sign_in(
            &state,
            &flow_id,
            &flow,
            Some(&AadError::new(code).message()),
        );
    }
    let now = state.clock.now();
    let sso_id = opaque(32);
    flow.user = Some(user.oid);
    flow.auth_time = Some(now);
    flow.mfa_done = false;
    flow.sso_id = Some(sso_id.clone());
    {
        let mut store = state.store();
        store.sso.insert(
            sso_id.clone(),
            SsoSession {
                user: user.oid,
                auth_time: now,
                mfa_done: false,
                expires: crate::clock::later(now, state.lifetimes().sso_session_seconds),
            },
        );
        store.flows.insert(flow_id.clone(), flow);
    }
    tracing::info!(user = %user.username(), "signed in");
    let mut response = advance(&state, &flow_id, &ctx);
    if let Some(cookie) = sso_cookie(&sso_id) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// `POST /{tenant}/SAS/ProcessAuth`: the MFA code.
pub async fn mfa(
    State(state): State<AppState>,
    Path(_segment): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ctx = state.err_ctx(&headers);
    let params = Params::parse(&body);
    let Some((flow_id, mut flow)) = flow_from_form(&state, &params) else {
        return expired(&ctx);
    };
    let Some(user) = flow.user.and_then(|oid| state.dir.user(oid)) else {
        return expired(&ctx);
    };
    let code = params.get("otc").unwrap_or_default().trim();
    if code != user.config.mfa_code {
        return pages::mfa(
            &action(&flow, "SAS/ProcessAuth"),
            &flow_id,
            user.username(),
            Some(&AadError::new(500121).message()),
        );
    }
    flow.mfa_done = true;
    {
        let mut store = state.store();
        if let Some(session) = flow.sso_id.as_ref().and_then(|id| store.sso.get_mut(id)) {
            session.mfa_done = true;
        }
        store.flows.insert(flow_id.clone(), flow);
    }
    advance(&state, &flow_id, &ctx)
}

/// `POST /{tenant}/Consent/Set`: Accept or Cancel.
pub async fn consent(
    State(state): State<AppState>,
    Path(_segment): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ctx = state.err_ctx(&headers);
    let params = Params::parse(&body);
    let Some((flow_id, mut flow)) = flow_from_form(&state, &params) else {
        return expired(&ctx);
    };
    if flow.user.is_none() {
        return expired(&ctx);
    }
    if params.get("action") == Some("accept") {
        flow.consented = true;
        state.store().flows.insert(flow_id.clone(), flow);
        return advance(&state, &flow_id, &ctx);
    }
    state.store().flows.remove(&flow_id);
    match flow.kind {
        FlowKind::Authorize(request) => {
            let back = ErrorRedirect {
                redirect_uri: &request.redirect_uri,
                mode: request.response_mode,
                state: request.state.as_deref(),
            };
            back.send(AadError::new(65004).with_suberror("cancel"), &ctx)
        }
        FlowKind::Device { device_code } => {
            if let Some(device) = state.store().devices.get_mut(&device_code) {
                device.status = DeviceStatus::Declined;
            }
            pages::message(
                "Sign-in declined",
                "device-declined",
                "You declined to sign in to the application on your device. You may now close this window.",
            )
        }
    }
}

/// `POST /{tenant}/select_account`: the account picker.
pub async fn select_account(
    State(state): State<AppState>,
    Path(_segment): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ctx = state.err_ctx(&headers);
    let params = Params::parse(&body);
    let Some((flow_id, mut flow)) = flow_from_form(&state, &params) else {
        return expired(&ctx);
    };
    match (params.get("choice"), sso_session(&state, &headers)) {
        (Some("current"), Some((id, session))) => {
            flow.user = Some(session.user);
            flow.auth_time = Some(session.auth_time);
            flow.mfa_done = session.mfa_done;
            flow.sso_id = Some(id);
            state.store().flows.insert(flow_id.clone(), flow);
            advance(&state, &flow_id, &ctx)
        }
        _ => render_sign_in(&state, &flow_id, &flow, None),
    }
}
