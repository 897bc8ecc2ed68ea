//! HTTP to Graph and other protocols (python-o365's `Connection`).
//!
//! - Requests start at least `requests_delay` apart, across every clone and task sharing the
//!   connection (python-o365 spaced only first attempts of one instance, its §4.9).
//! - 429/500/502/503/504 are retried `request_retries` times after `Retry-After` or a capped,
//!   jittered backoff; writes are retried on 429 but not on 5xx unless asked (see `retry`).
//! - The token comes from an [`AccessTokenSource`] before every attempt; a 401 asks it for a
//!   fresh one once and retries once, whatever the local clock thinks of the old one.
//! - Graph's error answers become typed errors (`api_error`, `throttled`, `transient`), or are
//!   returned as they are when `raise_http_errors` is off, exhausted retries included.
//! - Paging follows `@odata.nextLink` only to the host the first page came from.
//! - Logs carry the method, the path without its query, the status and the time, never a
//!   header or a body.

mod api_error;
mod headers;
mod paging;
mod request;
mod retry;
mod token_source;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use crate::error::{Error, Result};
use crate::http::{HttpSettings, Redirects, network_error};
use crate::protocol::Protocol;
use crate::secret::Secret;

pub use paging::Pager;
pub use request::{ApiResponse, Body, Method, RequestOptions};
pub use token_source::{AccessTokenSource, StaticToken};

/// python-o365's Connection settings, with its defaults where it had them.
#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    /// Timeouts, proxy, TLS verification and extra CA certificates.
    pub http: HttpSettings,
    /// Minimum gap between the starts of two requests, retries included (python-o365: 200 ms).
    pub requests_delay: Duration,
    /// Retries after the first attempt on 429, 500, 502, 503, 504 (python-o365: 3).
    pub request_retries: u32,
    /// Backoff when no `Retry-After` came: retry n waits between half and all of
    /// `min(backoff_cap, backoff_base × 2ⁿ)`.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// A `Retry-After` longer than this is not slept through: the request ends at once with the
    /// `throttled`/`transient` error (or the answer) carrying `retry_after`, so the caller can
    /// plan instead of hanging. urllib3 slept up to 6 h.
    pub max_retry_wait: Duration,
    /// On (python-o365's default): an error status is an [`Error`]. Off: the answer is returned
    /// as it is, also after the last retry (python-o365 raised `RetryError` then, its §11.15).
    pub raise_http_errors: bool,
    /// Sent with every request, naive ones too. A request's own header of the same name wins,
    /// except `Prefer`, which becomes `"<request's>, <default>"` (python-o365 §4.5).
    pub default_headers: Vec<(String, String)>,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        ConnectionSettings {
            http: HttpSettings::default(),
            requests_delay: Duration::from_millis(200),
            request_retries: 3,
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(60),
            max_retry_wait: Duration::from_secs(120),
            raise_http_errors: true,
            default_headers: Vec::new(),
        }
    }
}

/// Cheap to clone; clones share the HTTP client (its connection pool) and the request spacing.
#[derive(Clone)]
pub struct Connection {
    client: reqwest::Client,
    settings: Arc<ConnectionSettings>,
    base: Url,
    token: Option<Arc<dyn AccessTokenSource>>,
    last_start: Arc<Mutex<Option<Instant>>>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("base", &self.base.as_str())
            .field("authenticated", &self.token.is_some())
            .finish_non_exhaustive()
    }
}

/// How one attempt ended, before deciding whether to try again.
enum Attempt {
    Answer(ApiResponse),
    Failed {
        error: reqwest::Error,
        never_connected: bool,
    },
}

impl Connection {
    /// `base` is what relative paths are joined to, e.g. a protocol's service URL
    /// (`https://graph.microsoft.com/v1.0/`). `token: None` makes every request naive.
    pub fn new(
        settings: ConnectionSettings,
        base: Url,
        token: Option<Arc<dyn AccessTokenSource>>,
    ) -> Result<Self> {
        let client = settings.http.client(Redirects::Follow)?;
        Ok(Connection {
            client,
            settings: Arc::new(settings),
            base,
            token,
            last_start: Arc::new(Mutex::new(None)),
        })
    }

    /// A connection whose relative paths start at the protocol's service URL.
    pub fn for_protocol(
        settings: ConnectionSettings,
        protocol: &Protocol,
        token: Option<Arc<dyn AccessTokenSource>>,
    ) -> Result<Self> {
        Connection::new(settings, protocol.service_url(), token)
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    pub fn settings(&self) -> &ConnectionSettings {
        &self.settings
    }

    /// An absolute `http(s)` URL as it is, or a path relative to the base (`me/messages`,
    /// `/me/messages`).
    pub fn url(&self, target: &str) -> Result<Url> {
        if target.starts_with("https://") || target.starts_with("http://") {
            return Url::parse(target).map_err(|_| Error::invalid_input("URL", "it is not a URL"));
        }
        self.base
            .join(target.trim_start_matches('/'))
            .map_err(|_| Error::invalid_input("path", "it cannot be joined to the API's URL"))
    }

    pub async fn get(&self, target: &str) -> Result<ApiResponse> {
        self.request(Method::Get, target, RequestOptions::default())
            .await
    }

    pub async fn post(&self, target: &str, body: serde_json::Value) -> Result<ApiResponse> {
        self.request(Method::Post, target, RequestOptions::json(body))
            .await
    }

    pub async fn put(&self, target: &str, body: serde_json::Value) -> Result<ApiResponse> {
        self.request(Method::Put, target, RequestOptions::json(body))
            .await
    }

    pub async fn patch(&self, target: &str, body: serde_json::Value) -> Result<ApiResponse> {
        self.request(Method::Patch, target, RequestOptions::json(body))
            .await
    }

    pub async fn delete(&self, target: &str) -> Result<ApiResponse> {
        self.request(Method::Delete, target, RequestOptions::default())
            .await
    }

    /// An authenticated request (naive when the connection has no token source).
    pub async fn request(
        &self,
        method: Method,
        target: &str,
        options: RequestOptions,
    ) -> Result<ApiResponse> {
        self.send(method, target, options, self.token.as_deref())
            .await
    }

    /// A request without a token, whatever the connection has (python-o365's `naive_request`),
    /// with the same spacing, retries, default headers and error handling.
    pub async fn naive_request(
        &self,
        method: Method,
        target: &str,
        options: RequestOptions,
    ) -> Result<ApiResponse> {
        self.send(method, target, options, None).await
    }

    /// Pages through a collection, following `@odata.nextLink`.
    pub fn pages(&self, target: &str) -> Result<Pager> {
        Ok(Pager::new(self.clone(), self.url(target)?))
    }

    async fn send(
        &self,
        method: Method,
        target: &str,
        options: RequestOptions,
        token: Option<&dyn AccessTokenSource>,
    ) -> Result<ApiResponse> {
        let url = self.url(target)?;
        let headers = headers::merge(&self.settings.default_headers, &options.headers)?;
        let mut retries_done: u32 = 0;
        let mut refreshed_after_401 = false;
        loop {
            let bearer = match token {
                Some(source) => Some(source.access_token(refreshed_after_401).await?),
                None => None,
            };
            let attempt = self
                .attempt(method, &url, &headers, &options, bearer.as_ref())
                .await;
            let retries_left = retries_done < self.settings.request_retries;
            let answer = match attempt {
                Attempt::Answer(answer) => answer,
                Attempt::Failed {
                    error,
                    never_connected,
                } => {
                    let retried = retry::failure_is_retried(
                        method,
                        options.retry_non_idempotent,
                        never_connected,
                    );
                    if !(retried && retries_left) {
                        return Err(network_error(error));
                    }
                    self.pause_before_retry(method, &url, None, retries_done)
                        .await;
                    retries_done += 1;
                    continue;
                }
            };

            if answer.status == 401 && bearer.is_some() && !refreshed_after_401 {
                // Refreshing cannot satisfy a claims challenge; only a sign-in can.
                if let Some(challenge) = api_error::claims_challenge(&answer) {
                    return if self.settings.raise_http_errors {
                        Err(challenge)
                    } else {
                        Ok(answer)
                    };
                }
                refreshed_after_401 = true;
                continue;
            }
            if retries_left
                && retry::status_is_retried(answer.status, method, options.retry_non_idempotent)
            {
                let asked = api_error::retry_after(&answer);
                if asked.is_none_or(|wait| wait <= self.settings.max_retry_wait) {
                    self.pause_before_retry(method, &url, asked, retries_done)
                        .await;
                    retries_done += 1;
                    continue;
                }
            }
            if answer.status >= 400 && self.settings.raise_http_errors {
                return Err(api_error::from_response(&answer));
            }
            return Ok(answer);
        }
    }

    /// One request on the wire, after waiting for its turn. The body is read here so that a
    /// connection dropped halfway through the answer counts as a failed attempt.
    async fn attempt(
        &self,
        method: Method,
        url: &Url,
        headers: &reqwest::header::HeaderMap,
        options: &RequestOptions,
        bearer: Option<&Secret>,
    ) -> Attempt {
        let mut request = self
            .client
            .request(method.as_reqwest(), url.clone())
            .headers(headers.clone())
            .query(&options.query);
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer.expose());
        }
        request = match &options.body {
            Body::None => request,
            Body::Json(value) => request.json(value),
            Body::Raw {
                content_type,
                bytes,
            } => request
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(bytes.clone()),
        };
        self.wait_for_turn().await;
        let started = Instant::now();
        let failed = |error: reqwest::Error| {
            tracing::debug!(
                method = ?method,
                path = url.path(),
                elapsed_ms = elapsed_ms(started),
                "API request got no answer"
            );
            Attempt::Failed {
                never_connected: error.is_connect(),
                error,
            }
        };
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return failed(error),
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = match response.bytes().await {
            Ok(body) => body.to_vec(),
            Err(error) => return failed(error),
        };
        tracing::debug!(
            method = ?method,
            path = url.path(),
            status,
            elapsed_ms = elapsed_ms(started),
            "API request"
        );
        Attempt::Answer(ApiResponse {
            status,
            headers,
            body,
        })
    }

    async fn pause_before_retry(
        &self,
        method: Method,
        url: &Url,
        retry_after: Option<Duration>,
        retries_done: u32,
    ) {
        let wait = retry_after.unwrap_or_else(|| {
            retry::backoff(
                self.settings.backoff_base,
                self.settings.backoff_cap,
                retries_done,
            )
        });
        tracing::debug!(
            method = ?method,
            path = url.path(),
            wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            from_retry_after = retry_after.is_some(),
            "retrying API request"
        );
        tokio::time::sleep(wait).await;
    }

    /// Waits until `requests_delay` has passed since the previous request started. The lock is
    /// held while waiting, so concurrent callers queue and start one gap apart.
    async fn wait_for_turn(&self) {
        let mut last_start = self.last_start.lock().await;
        if let Some(previous) = *last_start {
            tokio::time::sleep_until(previous + self.settings.requests_delay).await;
        }
        *last_start = Some(Instant::now());
    }
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}
