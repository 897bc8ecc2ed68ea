//! The device code flow (RFC 8628): the person signs in on another device with a short code
//! while we poll the token endpoint.

use std::future::Future;
use std::time::Duration;

use oauth2::{DeviceAuthorizationResponse, ExtraDeviceAuthorizationFields};
use serde::{Deserialize, Serialize};

use super::IdentityClient;
use super::response::parse_token_body;
use super::transport::{Recorder, error_from_answer, send};
use crate::error::{Error, Result};
use crate::http::network_error;
use crate::scopes::Scopes;
use crate::secret::Secret;
use crate::token::{TokenSet, now_unix};

/// RFC 8628 §3.5: each `slow_down` adds five seconds to the polling interval.
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
struct MicrosoftDeviceFields {
    #[serde(default)]
    message: Option<String>,
}

impl ExtraDeviceAuthorizationFields for MicrosoftDeviceFields {}

/// What to show the person, and what the poll needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceCodeChallenge {
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    /// Microsoft's ready-made instruction ("To sign in, use a web browser to open …").
    pub message: String,
    pub expires_at: i64,
    pub interval: Duration,
    device_code: Secret,
    scopes: Scopes,
}

impl IdentityClient {
    /// Starts a device code sign-in; show the result to the person, then call
    /// [`IdentityClient::finish_device_code`].
    pub async fn start_device_code(&self, scopes: &Scopes) -> Result<DeviceCodeChallenge> {
        let scopes = scopes.clone().with_sign_in_scopes();
        let (client, _) = self.oauth().await?;
        let recorder = Recorder::new(&self.http);
        let details: DeviceAuthorizationResponse<MicrosoftDeviceFields> = client
            .exchange_device_code()
            .add_scopes(super::oauth_scopes(&scopes))
            .request_async(&recorder)
            .await
            .map_err(|failure| recorder.error(failure))?;
        let verification_uri = details.verification_uri().to_string();
        let user_code = details.user_code().secret().to_owned();
        let message = details.extra_fields().message.clone().unwrap_or_else(|| {
            format!("To sign in, open {verification_uri} and enter the code {user_code}.")
        });
        Ok(DeviceCodeChallenge {
            verification_uri_complete: details
                .verification_uri_complete()
                .map(|uri| uri.secret().to_owned()),
            expires_at: now_unix()
                .saturating_add(i64::try_from(details.expires_in().as_secs()).unwrap_or(900)),
            interval: details.interval().max(Duration::from_secs(1)),
            device_code: Secret::new(details.device_code().secret().as_str()),
            user_code,
            verification_uri,
            message,
            scopes,
        })
    }

    /// Polls until the person signs in, declines, or the code expires. Dropping the future
    /// cancels the sign-in.
    pub async fn finish_device_code(&self, challenge: &DeviceCodeChallenge) -> Result<TokenSet> {
        poll_until_done(
            challenge.interval,
            challenge.expires_at,
            tokio::time::sleep,
            || self.poll_device_code_once(challenge),
        )
        .await
    }

    async fn poll_device_code_once(&self, challenge: &DeviceCodeChallenge) -> Result<TokenSet> {
        let endpoints = self.endpoints().await;
        let mut form: Vec<(&str, String)> = vec![
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:device_code".to_owned(),
            ),
            ("client_id", self.app.client_id.clone()),
            ("device_code", challenge.device_code.expose().to_owned()),
        ];
        if let super::ClientCredential::Secret(secret) = &self.app.credential {
            form.push(("client_secret", secret.expose().to_owned()));
        }
        form.extend(self.token_params(&endpoints)?);
        let request = self
            .http
            .post(endpoints.token.clone())
            .form(&form)
            .build()
            .map_err(network_error)?;
        let request = http::Request::try_from(request)
            .map_err(|_| Error::protocol("the device code poll could not be built"))?;
        let answer = send(
            &self.http,
            request.map(|body| body.as_bytes().map(<[u8]>::to_vec).unwrap_or_default()),
        )
        .await
        .map_err(|failure| network_error(failure.0))?;
        if answer.status == 200 {
            parse_token_body(&answer.body, &challenge.scopes)
        } else {
            Err(error_from_answer(&answer))
        }
    }
}

/// The polling loop, apart from HTTP so its rules are tested on their own: wait `interval`
/// before each poll, keep going on `authorization_pending`, slow down on `slow_down`, stop on
/// anything else or when the code has expired.
async fn poll_until_done<S, SF, P, PF>(
    interval: Duration,
    expires_at: i64,
    sleep: S,
    mut poll: P,
) -> Result<TokenSet>
where
    S: Fn(Duration) -> SF,
    SF: Future<Output = ()>,
    P: FnMut() -> PF,
    PF: Future<Output = Result<TokenSet>>,
{
    let mut interval = interval;
    loop {
        sleep(interval).await;
        match poll().await {
            Err(Error::AuthorizationPending(_)) => {}
            Err(Error::SlowDown(_)) => interval += SLOW_DOWN_STEP,
            Err(error) if error.is_retryable() && now_unix() < expires_at => {
                // A network blip or a 5xx is no reason to abandon a sign-in in progress.
                tracing::debug!(code = error.code(), "device code poll failed; polling on");
            }
            outcome => return outcome,
        }
        if now_unix() >= expires_at {
            return Err(Error::protocol(
                "the device code expired before the sign-in was completed; start again",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::VecDeque;

    use super::*;
    use crate::error::{MicrosoftErrorResponse, classify};

    fn answer(error: &str) -> Error {
        classify(
            MicrosoftErrorResponse {
                error: error.into(),
                ..Default::default()
            },
            Some(400),
            None,
        )
    }

    #[tokio::test]
    async fn pending_then_slow_down_then_declined() {
        let script = RefCell::new(VecDeque::from([
            answer("authorization_pending"),
            answer("slow_down"),
            answer("authorization_pending"),
            answer("authorization_declined"),
        ]));
        let waits = RefCell::new(Vec::new());
        let outcome = poll_until_done(
            Duration::from_secs(5),
            now_unix() + 900,
            |wait| {
                waits.borrow_mut().push(wait.as_secs());
                async {}
            },
            || {
                let next = script.borrow_mut().pop_front();
                async move { Err(next.unwrap_or(Error::Cancelled)) }
            },
        )
        .await;
        assert_eq!(outcome.unwrap_err().code(), "sign_in_declined");
        assert_eq!(*waits.borrow(), [5, 5, 10, 10]);
    }

    #[tokio::test]
    async fn an_expired_code_ends_the_poll() {
        let outcome = poll_until_done(
            Duration::from_secs(1),
            now_unix() + 900,
            |_| async {},
            || async { Err(answer("expired_token")) },
        )
        .await;
        assert_eq!(outcome.unwrap_err().code(), "code_expired");
        let outcome = poll_until_done(
            Duration::from_secs(1),
            now_unix() - 1,
            |_| async {},
            || async { Err(answer("authorization_pending")) },
        )
        .await;
        assert_eq!(outcome.unwrap_err().code(), "protocol");
    }
}
