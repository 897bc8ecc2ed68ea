//! The admin HTTP API under `/_emulator/` (a prefix Microsoft never uses): the operations of
//! [`crate::Control`] for tests that drive the emulator as a separate process.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::control::{Control, ControlError};
use crate::faults::Fault;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/_emulator/faults",
            post(add_fault).delete(clear_faults).get(list_faults),
        )
        .route("/_emulator/latency", post(set_latency))
        .route("/_emulator/clock", get(clock))
        .route("/_emulator/clock/advance", post(advance_clock))
        .route("/_emulator/users/{username}", get(user_status))
        .route("/_emulator/users/{username}/revoke", post(revoke))
        .route("/_emulator/users/{username}/mfa", post(set_mfa))
        .route("/_emulator/users/{username}/disabled", post(set_disabled))
        .route("/_emulator/users/{username}/locked", post(set_locked))
        .route("/_emulator/stats", get(stats).delete(reset_stats))
        .route("/_emulator/reset", post(reset))
}

fn control(state: AppState) -> Control {
    Control::new(state)
}

fn bad_request(message: impl std::fmt::Display) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": message.to_string()})),
    )
        .into_response()
}

/// Parses a JSON body by hand so that malformed input gets a JSON error.
fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, serde_json::Error> {
    serde_json::from_slice(body)
}

fn user_result(result: Result<(), ControlError>) -> Response {
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": error.to_string()})),
        )
            .into_response(),
    }
}

async fn add_fault(State(state): State<AppState>, body: axum::body::Bytes) -> Response {
    match parse::<Fault>(&body) {
        Ok(fault) => {
            control(state).inject(fault);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(error) => bad_request(error),
    }
}

async fn list_faults(State(state): State<AppState>) -> Response {
    Json(control(state).pending_faults()).into_response()
}

async fn clear_faults(State(state): State<AppState>) -> Response {
    control(state).clear_faults();
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct Latency {
    millis: u64,
}

async fn set_latency(State(state): State<AppState>, body: axum::body::Bytes) -> Response {
    match parse::<Latency>(&body) {
        Ok(latency) => {
            control(state).set_latency(std::time::Duration::from_millis(latency.millis));
            StatusCode::NO_CONTENT.into_response()
        }
        Err(error) => bad_request(error),
    }
}

async fn clock(State(state): State<AppState>) -> Response {
    let control = control(state);
    Json(json!({
        "now": crate::clock::iso(control.now()),
        "unix": control.now().unix_timestamp(),
        "offset_seconds": control.clock_offset_seconds(),
    }))
    .into_response()
}

#[derive(Deserialize)]
struct Advance {
    seconds: i64,
}

async fn advance_clock(State(state): State<AppState>, body: axum::body::Bytes) -> Response {
    match parse::<Advance>(&body) {
        Ok(advance) => {
            let control = control(state.clone());
            control.advance_clock(advance.seconds);
            clock(State(state)).await
        }
        Err(error) => bad_request(error),
    }
}

async fn user_status(State(state): State<AppState>, Path(username): Path<String>) -> Response {
    match control(state).user_status(&username) {
        Ok(status) => Json(status).into_response(),
        Err(error) => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": error.to_string()})),
        )
            .into_response(),
    }
}

async fn revoke(State(state): State<AppState>, Path(username): Path<String>) -> Response {
    user_result(control(state).revoke_refresh_tokens(&username))
}

#[derive(Deserialize)]
struct MfaSwitch {
    required: bool,
}

async fn set_mfa(
    State(state): State<AppState>,
    Path(username): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    match parse::<MfaSwitch>(&body) {
        Ok(switch) => user_result(control(state).set_mfa_required(&username, switch.required)),
        Err(error) => bad_request(error),
    }
}

#[derive(Deserialize)]
struct DisabledSwitch {
    disabled: bool,
}

async fn set_disabled(
    State(state): State<AppState>,
    Path(username): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    match parse::<DisabledSwitch>(&body) {
        Ok(switch) => user_result(control(state).set_disabled(&username, switch.disabled)),
        Err(error) => bad_request(error),
    }
}

#[derive(Deserialize)]
struct LockedSwitch {
    locked: bool,
}

async fn set_locked(
    State(state): State<AppState>,
    Path(username): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    match parse::<LockedSwitch>(&body) {
        Ok(switch) => user_result(control(state).set_locked(&username, switch.locked)),
        Err(error) => bad_request(error),
    }
}

async fn stats(State(state): State<AppState>) -> Response {
    Json(control(state).stats()).into_response()
}

async fn reset_stats(State(state): State<AppState>) -> Response {
    control(state).reset_stats();
    StatusCode::NO_CONTENT.into_response()
}

async fn reset(State(state): State<AppState>) -> Response {
    control(state).reset();
    StatusCode::NO_CONTENT.into_response()
}
