//! HTTP for the `oauth2` crate, through our reqwest client, keeping what `oauth2` throws away.
//!
//! `oauth2` reduces a failed token request to its body, so the HTTP status and `Retry-After`
//! (both needed to classify throttling, and 5xx as transient) would be lost. [`Recorder`] is the
//! `AsyncHttpClient` given to `oauth2` for one request: it remembers the raw answer, and
//! [`Recorder::error`] classifies failures from it with [`crate::error::classify`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::SystemTime;

use oauth2::{HttpRequest, HttpResponse, RequestTokenError};

use crate::error::{Error, MicrosoftErrorResponse, classify, parse_retry_after};
use crate::http::network_error;

/// The raw answer to one identity-platform request.
#[derive(Clone)]
pub(crate) struct RawAnswer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: Vec<u8>,
}

/// A failure to get any answer. Wraps reqwest's error so `oauth2` can hold it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct TransportError(#[source] pub reqwest::Error);

/// The `AsyncHttpClient` for a single `oauth2` request.
pub(crate) struct Recorder<'a> {
    client: &'a reqwest::Client,
    answer: Mutex<Option<RawAnswer>>,
}

impl<'a> Recorder<'a> {
    pub fn new(client: &'a reqwest::Client) -> Self {
        Recorder {
            client,
            answer: Mutex::new(None),
        }
    }

    fn last_answer(&self) -> Option<RawAnswer> {
        self.answer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Our error for a failed `oauth2` request.
    pub fn error<E: oauth2::ErrorResponse + 'static>(
        &self,
        failure: RequestTokenError<TransportError, E>,
    ) -> Error {
        if let RequestTokenError::Request(TransportError(cause)) = failure {
            return network_error(cause);
        }
        match self.last_answer() {
            Some(answer) if answer.status != 200 => error_from_answer(&answer),
            Some(_) => {
                Error::protocol("the identity service's token answer is not a valid token response")
            }
            None => Error::protocol("the token request could not be built"),
        }
    }
}

/// Classifies an error answer (any non-200) of the identity platform.
pub(crate) fn error_from_answer(answer: &RawAnswer) -> Error {
    let retry_after = answer
        .retry_after
        .as_deref()
        .and_then(|value| parse_retry_after(value, SystemTime::now()));
    // A body that is not Microsoft's JSON (a proxy's HTML page, an empty 503) still classifies
    // by its status: 429 throttled, 5xx transient, otherwise a protocol error.
    let response: MicrosoftErrorResponse = serde_json::from_slice(&answer.body).unwrap_or_default();
    classify(response, Some(answer.status), retry_after)
}

impl<'c> oauth2::AsyncHttpClient<'c> for Recorder<'_> {
    type Error = TransportError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, TransportError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let answer = send(self.client, request).await?;
            let response = http::Response::builder()
                .status(answer.status)
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(answer.body.clone());
            *self
                .answer
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(answer);
            // Status and body come from a real answer, so building cannot fail; if it somehow
            // did, an empty 500 classifies as transient.
            Ok(response.unwrap_or_else(|_| {
                let mut fallback = http::Response::new(Vec::new());
                *fallback.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                fallback
            }))
        })
    }
}

/// Sends one request and reads its whole answer.
pub(crate) async fn send(
    client: &reqwest::Client,
    request: HttpRequest,
) -> Result<RawAnswer, TransportError> {
    let request = reqwest::Request::try_from(request).map_err(TransportError)?;
    let response = client.execute(request).await.map_err(TransportError)?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let body = response.bytes().await.map_err(TransportError)?.to_vec();
    Ok(RawAnswer {
        status,
        retry_after,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, retry_after: Option<&str>, body: &str) -> RawAnswer {
        RawAnswer {
            status,
            retry_after: retry_after.map(str::to_owned),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn answers_classify_by_body_then_status() {
        let dead = answer(
            400,
            None,
            r#"{"error":"invalid_grant","error_codes":[70008],"correlation_id":"c-1"}"#,
        );
        let error = error_from_answer(&dead);
        assert_eq!(error.code(), "needs_sign_in");
        assert_eq!(
            error
                .service_error()
                .and_then(|e| e.correlation_id.as_deref()),
            Some("c-1")
        );

        let throttled = error_from_answer(&answer(429, Some("7"), "<html>slow down</html>"));
        assert_eq!(throttled.code(), "throttled");
        assert_eq!(
            throttled.retry_after(),
            Some(std::time::Duration::from_secs(7))
        );

        assert_eq!(
            error_from_answer(&answer(503, None, "")).code(),
            "transient"
        );
        assert_eq!(
            error_from_answer(&answer(404, None, "not json")).code(),
            "protocol"
        );
    }
}
