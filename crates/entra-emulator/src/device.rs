//! The device authorization endpoint and the `/devicelogin` page where the user enters the
//! code; sign-in, MFA and consent then use the same pages as the authorize flow.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use rand::Rng;
use serde_json::json;

use crate::authorize::{flow, pages};
use crate::errors::AadError;
use crate::form::Params;
use crate::scopes::Scopes;
use crate::sessions::{FlowKind, FlowSession, Prompt};
use crate::state::AppState;
use crate::store::{DeviceAuth, DeviceStatus, opaque};

const USER_CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

fn user_code() -> String {
    let mut rng = rand::thread_rng();
    (0..9)
        .map(|_| char::from(USER_CODE_ALPHABET[rng.gen_range(0..USER_CODE_ALPHABET.len())]))
        .collect()
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`.
pub async fn devicecode(
    State(state): State<AppState>,
    Path(segment): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ctx = state.err_ctx(&headers);
    let params = Params::parse(&body);
    let result = (|| {
        let authority = state.dir.authority(&segment)?;
        let client_id = params.require("client_id")?;
        let app = state.dir.app_for(authority, &segment, client_id)?;
        let scope_raw = params.require("scope")?;
        let label = state.tenant_label(state.dir.tenant_id_of(authority), &segment);
        let scopes = Scopes::parse(scope_raw, &state.dir, &label)?;
        let lifetimes = state.lifetimes();
        let device_code = format!("DAQABAAEAAAA{}", opaque(96));
        let code = user_code();
        state.store().devices.insert(
            device_code.clone(),
            DeviceAuth {
                user_code: code.clone(),
                client_id: app.client_id(),
                segment: segment.clone(),
                authority,
                scope_raw: scope_raw.to_owned(),
                scopes,
                expires: crate::clock::later(state.clock.now(), lifetimes.device_code_seconds),
                interval: lifetimes.device_code_interval_seconds,
                last_poll: None,
                status: DeviceStatus::Pending,
            },
        );
        let verification_uri = format!("{}/devicelogin", state.base_url);
        Ok::<_, AadError>(json!({
            "user_code": code,
            "device_code": device_code,
            "verification_uri": verification_uri,
            "expires_in": lifetimes.device_code_seconds,
            "interval": lifetimes.device_code_interval_seconds,
            "message": format!("To sign in, use a web browser to open the page {verification_uri} and enter the code {code} to authenticate."),
        }))
    })();
    match result {
        Ok(body) => Json(body).into_response(),
        Err(error) => error.render(&ctx).into_response(),
    }
}

/// `GET /devicelogin`.
pub async fn entry_page() -> Response {
    pages::device_code_entry("/devicelogin", None)
}

/// `POST /devicelogin`: the user code, then the sign-in pages.
pub async fn submit_code(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ctx = state.err_ctx(&headers);
    let params = Params::parse(&body);
    let entered: String = params
        .get("otc")
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_uppercase();
    let now = state.clock.now();
    let found = state
        .store()
        .devices
        .iter()
        .find(|(_, d)| d.user_code == entered && d.status == DeviceStatus::Pending)
        .map(|(code, d)| (code.clone(), d.clone()));
    let Some((device_code, device)) = found else {
        return pages::device_code_entry("/devicelogin", Some(&AadError::new(70018).message()));
    };
    if now >= device.expires {
        return pages::device_code_entry("/devicelogin", Some(&AadError::new(70019).message()));
    }
    let flow_id = opaque(32);
    state.store().flows.insert(
        flow_id.clone(),
        FlowSession {
            kind: FlowKind::Device { device_code },
            created: now,
            segment: device.segment.clone(),
            authority: device.authority,
            client_id: device.client_id,
            scope_raw: device.scope_raw.clone(),
            scopes: device.scopes.clone(),
            prompt: Prompt::Default,
            login_hint: None,
            user: None,
            auth_time: None,
            mfa_done: false,
            consented: false,
            sso_id: None,
        },
    );
    flow::start(&state, &flow_id, &headers, &ctx)
}
