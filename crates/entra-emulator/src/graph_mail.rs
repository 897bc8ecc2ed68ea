//! Graph's `POST /me/sendMail` (https://learn.microsoft.com/graph/api/user-sendmail): a JSON
//! body with a `message`, or a MIME message in base64 with `Content-Type: text/plain`; 202
//! Accepted with no body. Nothing is delivered: the emulator only counts what it accepted.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::graph::{GraphError, authenticate, me_user};
use crate::state::AppState;

/// Delegated permission the documentation names for sending as the signed-in user.
const SEND_SCOPES: &[&str] = &["Mail.Send"];

/// `POST /v1.0/me/sendMail`, `POST /beta/me/sendMail`.
pub async fn send_mail(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let result = authenticate(&state, &headers)
        .and_then(|caller| me_user(&state, &caller, SEND_SCOPES, "ErrorAccessDenied").map(|_| ()))
        .and_then(|()| check_message(&headers, &body));
    match result {
        Ok(()) => {
            state.stats().mails_accepted += 1;
            StatusCode::ACCEPTED.into_response()
        }
        Err(error) => error.render(&state, &headers),
    }
}

fn check_message(headers: &HeaderMap, body: &[u8]) -> Result<(), GraphError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if content_type.starts_with("text/plain") {
        // MIME format: the whole body is base64 (line breaks allowed, as MIME writers wrap).
        let compact: Vec<u8> = body
            .iter()
            .copied()
            .filter(|byte| !byte.is_ascii_whitespace())
            .collect();
        return match STANDARD.decode(compact) {
            Ok(mime) if !mime.is_empty() => Ok(()),
            _ => Err(GraphError::new(
                StatusCode::BAD_REQUEST,
                "ErrorMimeContentInvalidBase64String",
                "Invalid base64 string for MIME content.",
            )),
        };
    }
    let unreadable = || {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
        )
    };
    if !content_type.starts_with("application/json") {
        return Err(unreadable());
    }
    let payload: Value = serde_json::from_slice(body).map_err(|_| unreadable())?;
    match payload.get("message") {
        Some(Value::Object(_)) => Ok(()),
        _ => Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidParameter",
            "The value of the parameter 'Message' is empty.",
        )),
    }
}
