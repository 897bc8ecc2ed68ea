//! `GET /{tenant}/oauth2/v2.0/authorize`: request validation, then the sign-in pages.
//!
//! Errors about the client or the redirect URI are shown as an error page and never redirected
//! (the redirect URI is not trusted yet); every later error goes back to the redirect URI with
//! `error`, `error_description`, `error_uri` and `state`.

pub mod flow;
pub mod logout;
pub mod pages;
pub mod redirect;

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;

use crate::errors::{AadError, ErrorContext};
use crate::form::Params;
use crate::scopes::Scopes;
use crate::sessions::{AuthorizeRequest, FlowKind, FlowSession, PkceMethod, Prompt, ResponseMode};
use crate::state::AppState;
use crate::store::opaque;

/// Where an authorize error goes once the redirect URI is validated.
pub struct ErrorRedirect<'a> {
    pub redirect_uri: &'a str,
    pub mode: ResponseMode,
    pub state: Option<&'a str>,
}

impl ErrorRedirect<'_> {
    pub fn send(&self, error: AadError, ctx: &ErrorContext) -> Response {
        let mut params = error.render(ctx).redirect_params();
        if let Some(state) = self.state {
            params.push(("state".to_owned(), state.to_owned()));
        }
        redirect::respond(self.redirect_uri, self.mode, &params)
    }
}

fn parse_prompt(value: Option<&str>) -> Prompt {
    match value.map(str::to_ascii_lowercase).as_deref() {
        Some("login") => Prompt::Login,
        Some("none") => Prompt::None,
        Some("consent") => Prompt::Consent,
        Some("select_account") => Prompt::SelectAccount,
        _ => Prompt::Default,
    }
}

fn parse_pkce(params: &Params) -> Result<Option<(String, PkceMethod)>, AadError> {
    let Some(challenge) = params.get("code_challenge") else {
        return Ok(None);
    };
    let method = match params.get("code_challenge_method") {
        None => PkceMethod::Plain,
        Some(m) if m.eq_ignore_ascii_case("S256") => PkceMethod::S256,
        Some(m) if m.eq_ignore_ascii_case("plain") => PkceMethod::Plain,
        Some(_) => return Err(AadError::new(50149)),
    };
    let size_ok = match method {
        PkceMethod::S256 => challenge.len() == 43,
        PkceMethod::Plain => (43..=128).contains(&challenge.len()),
    };
    if !size_ok {
        return Err(AadError::new(501491));
    }
    Ok(Some((challenge.to_owned(), method)))
}

pub async fn authorize(
    State(state): State<AppState>,
    Path(segment): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    let ctx = state.err_ctx(&headers);
    let page = |error: AadError| pages::error(&error.render(&ctx));

    let authority = match state.dir.authority(&segment) {
        Ok(authority) => authority,
        Err(error) => return page(error),
    };
    let client_id = match params.require("client_id") {
        Ok(id) => id,
        Err(error) => return page(error),
    };
    let app = match state.dir.app_for(authority, &segment, client_id) {
        Ok(app) => app,
        Err(error) => return page(error),
    };
    let redirect_uri = match params.require("redirect_uri") {
        Ok(uri) => uri,
        Err(error) => return page(error),
    };
    let Some(redirect_kind) = redirect::match_redirect(app, redirect_uri) else {
        return page(
            AadError::new(50011)
                .arg("redirect_uri", redirect_uri)
                .arg("client_id", app.client_id()),
        );
    };

    let mode = match params.get("response_mode") {
        Some("fragment") => ResponseMode::Fragment,
        Some("form_post") => ResponseMode::FormPost,
        _ => ResponseMode::Query,
    };
    let back = ErrorRedirect {
        redirect_uri,
        mode,
        state: params.get("state"),
    };
    match params.get("response_type") {
        None => return back.send(AadError::missing("response_type"), &ctx),
        Some(rt) if rt.trim() == "code" => {}
        Some(rt) => {
            return back.send(AadError::new(700054).arg("response_type", rt), &ctx);
        }
    }
    let scope_raw = match params.require("scope") {
        Ok(scope) => scope,
        Err(error) => return back.send(error, &ctx),
    };
    let label = state.tenant_label(state.dir.tenant_id_of(authority), &segment);
    let scopes = match Scopes::parse(scope_raw, &state.dir, &label) {
        Ok(scopes) => scopes,
        Err(error) => return back.send(error, &ctx),
    };
    let code_challenge = match parse_pkce(&params) {
        Ok(challenge) => challenge,
        Err(error) => return back.send(error, &ctx),
    };
    let prompt = parse_prompt(params.get("prompt"));

    let flow_id = opaque(32);
    let flow = FlowSession {
        kind: FlowKind::Authorize(AuthorizeRequest {
            redirect_uri: redirect_uri.to_owned(),
            redirect_kind,
            response_mode: mode,
            state: params.get("state").map(str::to_owned),
            nonce: params.get("nonce").map(str::to_owned),
            code_challenge,
        }),
        created: state.clock.now(),
        segment: segment.clone(),
        authority,
        client_id: app.client_id(),
        scope_raw: scope_raw.to_owned(),
        scopes,
        prompt,
        login_hint: params.get("login_hint").map(str::to_owned),
        user: None,
        auth_time: None,
        mfa_done: false,
        consented: false,
        sso_id: None,
    };
    {
        let mut store = state.store();
        store.sweep(state.clock.now());
        store.flows.insert(flow_id.clone(), flow);
    }
    if prompt == Prompt::None {
        return flow::silent(&state, &flow_id, &headers, &back, &ctx);
    }
    flow::start(&state, &flow_id, &headers, &ctx)
}
