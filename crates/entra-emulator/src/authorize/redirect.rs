//! Redirect URIs: matching a request against the registration (reply-url rules) and sending
//! the authorization response back in the requested response mode.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use url::Url;

use crate::authorize::pages;
use crate::config::RedirectKind;
use crate::directory::App;
use crate::sessions::ResponseMode;

fn is_loopback(url: &Url) -> bool {
    url.scheme() == "http"
        && matches!(url.host_str(), Some(host) if host.eq_ignore_ascii_case("localhost") || host == "127.0.0.1")
}

fn same_path(a: &str, b: &str) -> bool {
    let a = if a.is_empty() { "/" } else { a };
    let b = if b.is_empty() { "/" } else { b };
    a == b
}

/// Finds the registered redirect URI that `requested` matches and returns its kind.
///
/// Loopback URIs (`http://localhost`, `http://127.0.0.1`) match on any port, path and query
/// must match (RFC 8252 §7.3, reply-url "localhost exceptions"); http(s) URIs compare as
/// normalised URLs (scheme and host case-insensitive, path case-sensitive); custom schemes
/// compare exactly.
pub fn match_redirect(app: &App, requested: &str) -> Option<RedirectKind> {
    let requested_url = Url::parse(requested).ok();
    app.reg.redirect_uris.iter().find_map(|registered| {
        let matched = match (&requested_url, Url::parse(&registered.uri).ok()) {
            (Some(req), Some(reg)) if is_loopback(&reg) && is_loopback(req) => {
                reg.host_str()
                    .zip(req.host_str())
                    .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b))
                    && same_path(reg.path(), req.path())
                    && reg.query() == req.query()
            }
            (Some(req), Some(reg)) if matches!(reg.scheme(), "http" | "https") => *req == reg,
            _ => registered.uri == requested,
        };
        matched.then_some(registered.kind)
    })
}

/// Sends `params` to the redirect URI in `mode` (302 for query/fragment, an auto-posting page
/// for form_post).
pub fn respond(redirect_uri: &str, mode: ResponseMode, params: &[(String, String)]) -> Response {
    match mode {
        ResponseMode::FormPost => pages::form_post(redirect_uri, params),
        ResponseMode::Query | ResponseMode::Fragment => {
            let location = build_location(redirect_uri, mode, params);
            let mut response = StatusCode::FOUND.into_response();
            if let Ok(value) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, value);
            }
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-store, no-cache"),
            );
            response
        }
    }
}

fn build_location(redirect_uri: &str, mode: ResponseMode, params: &[(String, String)]) -> String {
    let encoded: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    match Url::parse(redirect_uri) {
        Ok(mut url) => {
            if mode == ResponseMode::Fragment {
                url.set_fragment(Some(&encoded));
            } else {
                url.query_pairs_mut().extend_pairs(params);
            }
            url.to_string()
        }
        Err(_) => {
            let separator = if mode == ResponseMode::Fragment {
                '#'
            } else if redirect_uri.contains('?') {
                '&'
            } else {
                '?'
            };
            format!("{redirect_uri}{separator}{encoded}")
        }
    }
}
