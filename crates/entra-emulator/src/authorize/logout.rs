//! `GET /{tenant}/oauth2/v2.0/logout` (end_session_endpoint) and `GET /error?code=` (the page
//! `error_uri` points to).

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;

use crate::authorize::{flow, pages, redirect};
use crate::errors::spec;
use crate::form::Params;
use crate::sessions::{ResponseMode, SSO_COOKIE};
use crate::state::AppState;

pub async fn logout(
    State(state): State<AppState>,
    Path(_segment): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    if let Some((id, _)) = flow::sso_session(&state, &headers) {
        state.store().sso.remove(&id);
    }
    // Only a URI registered on some app is followed, as Microsoft validates it.
    let target = params.get("post_logout_redirect_uri").filter(|uri| {
        state
            .dir
            .apps
            .iter()
            .any(|app| redirect::match_redirect(app, uri).is_some())
    });
    let mut response = match target {
        Some(uri) => {
            let mut extra = Vec::new();
            if let Some(state_param) = params.get("state") {
                extra.push(("state".to_owned(), state_param.to_owned()));
            }
            redirect::respond(uri, ResponseMode::Query, &extra)
        }
        None => pages::message(
            "You signed out of your account",
            "signed-out",
            "It's a good idea to close all browser windows.",
        ),
    };
    if let Ok(value) = HeaderValue::from_str(&format!(
        "{SSO_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
    )) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

pub async fn error_info(RawQuery(query): RawQuery) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    let code = params
        .get("code")
        .and_then(|c| c.trim_start_matches("AADSTS").parse::<u32>().ok());
    match code {
        Some(code) => {
            let row = spec(code);
            pages::message(
                &format!("AADSTS{code}"),
                "error-message",
                &format!("{} ({}): {}", row.error, row.status, row.template),
            )
        }
        None => pages::message(
            "Error lookup",
            "error-message",
            "Add ?code=NNNN to look an AADSTS code up.",
        ),
    }
}
