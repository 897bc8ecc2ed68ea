//! The HTML pages of the sign-in experience. Plain, accessible markup with the element ids
//! browser tests drive: `#username`, `#password`, `#signin`, `#error`, `#mfa-code`,
//! `#mfa-submit`, `#consent-scopes`, `#consent-accept`, `#consent-cancel`, `#user-code`,
//! `#device-continue`, `#error-code`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::errors::RenderedError;

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:'Segoe UI',system-ui,sans-serif;background:#f2f2f2;margin:0}\
main{max-width:440px;margin:48px auto;background:#fff;padding:44px;box-shadow:0 2px 6px rgba(0,0,0,.2)}\
h1{font-size:1.5rem;font-weight:600;margin:0 0 16px}label{display:block;margin:12px 0 4px}\
input[type=text],input[type=password],input[type=email]{width:100%;box-sizing:border-box;padding:6px;font-size:1rem}\
button{margin-top:20px;padding:8px 24px;font-size:1rem;background:#0067b8;color:#fff;border:0;cursor:pointer}\
button.secondary{background:#ccc;color:#000}#error,.error{color:#e81123}.app{color:#555}\
.note{font-size:.8rem;color:#666;margin-top:24px}";

/// Wraps page content in the shared layout.
pub fn layout(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{}</title><style>{STYLE}</style></head><body><main>{body}\
<p class=\"note\">Microsoft identity platform emulator (entra-emulator). Not a Microsoft service.</p>\
</main></body></html>",
        escape(title)
    )
}

/// An HTML response that is never cached.
pub fn html(status: StatusCode, page: String) -> Response {
    let mut response = (status, Html(page)).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    response
}

fn error_block(error: Option<&str>) -> String {
    match error {
        Some(message) => format!("<p id=\"error\" role=\"alert\">{}</p>", escape(message)),
        None => String::new(),
    }
}

fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
        escape(name),
        escape(value)
    )
}

pub fn sign_in(
    action: &str,
    flow: &str,
    app_name: &str,
    username: &str,
    error: Option<&str>,
) -> Response {
    let body = format!(
        "<h1>Sign in</h1><p class=\"app\">to continue to {app}</p>{error}\
<form method=\"post\" action=\"{action}\">{flow}\
<label for=\"username\">Email, phone, or Skype</label>\
<input type=\"text\" inputmode=\"email\" id=\"username\" name=\"username\" autocomplete=\"username\" value=\"{username}\" required>\
<label for=\"password\">Password</label>\
<input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" required>\
<button type=\"submit\" id=\"signin\">Sign in</button></form>",
        app = escape(app_name),
        error = error_block(error),
        action = escape(action),
        flow = hidden("flow", flow),
        username = escape(username),
    );
    html(StatusCode::OK, layout("Sign in to your account", &body))
}

pub fn mfa(action: &str, flow: &str, username: &str, error: Option<&str>) -> Response {
    let body = format!(
        "<h1>Enter code</h1><p>{user}</p><p>Enter the code displayed in the authenticator app on your mobile device.</p>{error}\
<form method=\"post\" action=\"{action}\">{flow}\
<label for=\"mfa-code\">Code</label>\
<input type=\"text\" inputmode=\"numeric\" id=\"mfa-code\" name=\"otc\" autocomplete=\"one-time-code\" required>\
<button type=\"submit\" id=\"mfa-submit\">Verify</button></form>",
        user = escape(username),
        error = error_block(error),
        action = escape(action),
        flow = hidden("flow", flow),
    );
    html(StatusCode::OK, layout("Verify your identity", &body))
}

/// One line of the consent list.
pub struct ConsentItem {
    pub title: String,
    pub detail: String,
}

pub fn consent(
    action: &str,
    flow: &str,
    app_name: &str,
    username: &str,
    items: &[ConsentItem],
) -> Response {
    let list: String = items
        .iter()
        .map(|item| {
            format!(
                "<li><strong>{}</strong> <span>{}</span></li>",
                escape(&item.title),
                escape(&item.detail)
            )
        })
        .collect();
    let body = format!(
        "<h1>Permissions requested</h1><p>{user}</p><p class=\"app\">{app}</p>\
<p>This app would like to:</p><ul id=\"consent-scopes\">{list}</ul>\
<form method=\"post\" action=\"{action}\">{flow}\
<button type=\"submit\" id=\"consent-cancel\" name=\"action\" value=\"cancel\" class=\"secondary\">Cancel</button> \
<button type=\"submit\" id=\"consent-accept\" name=\"action\" value=\"accept\">Accept</button></form>",
        user = escape(username),
        app = escape(app_name),
        action = escape(action),
        flow = hidden("flow", flow),
    );
    html(StatusCode::OK, layout("Permissions requested", &body))
}

pub fn pick_account(action: &str, flow: &str, username: &str) -> Response {
    let body = format!(
        "<h1>Pick an account</h1>\
<form method=\"post\" action=\"{action}\">{flow}\
<button type=\"submit\" id=\"account-current\" name=\"choice\" value=\"current\">{user}</button><br>\
<button type=\"submit\" id=\"account-other\" name=\"choice\" value=\"other\" class=\"secondary\">Use another account</button></form>",
        action = escape(action),
        flow = hidden("flow", flow),
        user = escape(username),
    );
    html(StatusCode::OK, layout("Pick an account", &body))
}

/// The generic error page (no redirect): shows the AADSTS code in `#error-code`.
pub fn error(rendered: &RenderedError) -> Response {
    let code = rendered
        .codes
        .first()
        .map(|c| format!("AADSTS{c}"))
        .unwrap_or_else(|| rendered.error.to_owned());
    let body = format!(
        "<h1>Sorry, but we're having trouble signing you in.</h1>\
<p id=\"error-code\">{code}</p><p id=\"error-message\">{message}</p>\
<dl><dt>Request Id</dt><dd>{trace}</dd><dt>Correlation Id</dt><dd>{corr}</dd><dt>Timestamp</dt><dd>{ts}</dd></dl>",
        code = escape(&code),
        message = escape(rendered.description.lines().next().unwrap_or_default()),
        trace = escape(&rendered.trace_id),
        corr = escape(&rendered.correlation_id),
        ts = escape(&rendered.timestamp),
    );
    html(
        StatusCode::BAD_REQUEST,
        layout("Sign in to your account", &body),
    )
}

/// `response_mode=form_post`: a page that posts the response to the redirect URI.
pub fn form_post(action: &str, params: &[(String, String)]) -> Response {
    let fields: String = params.iter().map(|(k, v)| hidden(k, v)).collect();
    let page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Working...</title></head>\
<body onload=\"document.forms[0].submit()\"><form method=\"POST\" name=\"hiddenform\" action=\"{}\">{fields}\
<noscript><p>Script is disabled. Click Submit to continue.</p><input type=\"submit\" value=\"Submit\"></noscript>\
</form></body></html>",
        escape(action)
    );
    html(StatusCode::OK, page)
}

pub fn device_code_entry(action: &str, error: Option<&str>) -> Response {
    let body = format!(
        "<h1>Enter code</h1><p>Enter the code displayed on your app or device.</p>{error}\
<form method=\"post\" action=\"{action}\">\
<label for=\"user-code\">Code</label>\
<input type=\"text\" id=\"user-code\" name=\"otc\" autocomplete=\"off\" required>\
<button type=\"submit\" id=\"device-continue\">Next</button></form>",
        error = error_block(error),
        action = escape(action),
    );
    html(StatusCode::OK, layout("Enter code", &body))
}

pub fn message(title: &str, id: &str, text: &str) -> Response {
    let body = format!(
        "<h1>{}</h1><p id=\"{}\">{}</p>",
        escape(title),
        escape(id),
        escape(text)
    );
    html(StatusCode::OK, layout(title, &body))
}
