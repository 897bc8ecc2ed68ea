//! `grant_type=urn:ietf:params:oauth:grant-type:device_code` (v2-oauth2-device-code, RFC 8628):
//! polling until the user finishes on `/devicelogin`.

use time::Duration;

use crate::errors::AadError;
use crate::grants::TokenRequest;
use crate::grants::client_auth::{Requirement, authenticate};
use crate::grants::delegated::{self, Delegated};
use crate::store::DeviceStatus;
use crate::tokens::TokenResponse;

pub fn grant(request: &TokenRequest<'_>) -> Result<TokenResponse, AadError> {
    let state = request.state;
    let app = request.app;
    let need = if app.reg.allow_public_client_flows {
        Requirement::Optional
    } else {
        Requirement::Required
    };
    let client_auth = authenticate(request, need)?;
    let device_code = request
        .params
        .get("device_code")
        .or_else(|| request.params.get("code"))
        .ok_or_else(|| AadError::missing("device_code"))?;
    let now = state.clock.now();
    let approved = {
        let mut store = state.store();
        let device = match store.devices.get_mut(device_code) {
            Some(device) if device.client_id == app.client_id() => device,
            _ => return Err(AadError::new(70018)),
        };
        if now >= device.expires {
            return Err(AadError::new(70019));
        }
        match device.status.clone() {
            DeviceStatus::Declined => {
                return Err(AadError::bare(
                    "authorization_declined",
                    "The end user denied the authorization request.",
                ));
            }
            DeviceStatus::Redeemed => return Err(AadError::new(70000)),
            DeviceStatus::Pending => {
                let too_fast = device
                    .last_poll
                    .is_some_and(|last| now - last < Duration::seconds(device.interval));
                device.last_poll = Some(now);
                if too_fast && state.config.device_code_slow_down {
                    device.interval += 5;
                    return Err(AadError::bare(
                        "slow_down",
                        "The client is polling too frequently; wait at least the interval (now increased by 5 seconds) between requests.",
                    ));
                }
                return Err(AadError::new(70016));
            }
            DeviceStatus::Approved {
                user,
                auth_time,
                mfa_done,
            } => {
                device.status = DeviceStatus::Redeemed;
                (device.clone(), user, auth_time, mfa_done)
            }
        }
    };
    let (device, user, auth_time, mfa_done) = approved;
    let user = state.dir.user(user).ok_or_else(|| AadError::new(70000))?;
    delegated::issue(
        request,
        Delegated {
            user,
            scopes: &device.scopes,
            scope_raw: &device.scope_raw,
            nonce: None,
            auth_time,
            mfa_done,
            refresh: device.scopes.offline_access,
            spa: false,
            client_auth,
        },
    )
}
