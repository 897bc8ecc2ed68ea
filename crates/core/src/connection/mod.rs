//! HTTP to Graph and other protocols (python-o365's `Connection`): a minimum gap between
//! requests, retries on 429/5xx honouring `Retry-After`, a token refreshed before expiry and once
//! more after a 401, Graph's errors as typed errors, and paging through `@odata.nextLink`.

mod api_error;
mod headers;
mod paging;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use reqwest::header::HeaderMap;
use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use crate::error::{Error, Result};
use crate::http::{HttpSettings, Redirects, network_error};
use crate::secret::Secret;

pub use paging::Pager;

/// Where a Connection gets its bearer token. The source refreshes a token that expires soon;
/// `force_refresh` comes after the API answered 401 to the token last handed out.
pub trait AccessTokenSource: Send + Sync {
    fn access_token(&self, force_refresh: bool) -> BoxFuture<'_, Result<Secret>>;
}

/// A token the caller already has ("bring your own token", python-o365's #987). It cannot be
/// refreshed: a 401 is final.
pub struct StaticToken(pub Secret);

impl AccessTokenSource for StaticToken {
    fn access_token(&self, _force_refresh: bool) -> BoxFuture<'_, Result<Secret>> {
        let token = self.0.clone();
        Box::pin(async move { Ok(token) })
    }
}

/// python-o365's allowed methods: no HEAD or OPTIONS (its §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    fn as_reqwest(self) -> reqwest::Method {
        match self {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        }
    }

    /// RFC 9110 §9.2.2: repeating GET, PUT or DELETE has the effect of doing it once.
    fn is_idempotent(self) -> bool {
        matches!(self, Method::Get | Method::Put | Method::Delete)
    }

    pub fn parse(name: &str) -> Result<Method> {
        match name.to_ascii_uppercase().as_str() {
            "GET" => Ok(Method::Get),
            "POST" => Ok(Method::Post),
            "PUT" => Ok(Method::Put),
            "PATCH" => Ok(Method::Patch),
            "DELETE" => Ok(Method::Delete),
            _ => Err(Error::invalid_input(
                "HTTP method",
                "use GET, POST, PUT, PATCH or DELETE",
            )),
        }
    }
}

/// A request body: JSON by default (python-o365 §4.6), or raw bytes with their content type.
#[derive(Debug, Clone, Default)]
pub enum Body {
    #[default]
    None,
    Json(Value),
    Raw {
        content_type: String,
        bytes: Vec<u8>,
    },
}

#[derive(Debug, Clone, Default)]
pub struct RequestOptions {
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Body,
    /// Retry a POST or PATCH on 5xx and lost connections too. Off by default: the first
    /// attempt may have been carried out (a mail sent twice). 429 is retried regardless,
    /// because a throttled request was not carried out.
    pub retry_non_idempotent: bool,
}

/// python-o365's Connection settings, with its defaults.
#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    pub http: HttpSettings,
    /// Minimum gap between the starts of two requests (python-o365: 200 ms).
    pub requests_delay: Duration,
    /// Retries after the first attempt on 429, 500, 502, 503, 504 (python-o365: 3).
    pub request_retries: u32,
    /// First backoff when no `Retry-After` came; doubled each retry, capped by `backoff_cap`.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// Off: an error status is returned as the response instead of an error.
    pub raise_http_errors: bool,
    /// Sent with every request; a per-request header of the same name wins, except `Prefer`,
    /// whose values are combined.
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
            raise_http_errors: true,
            default_headers: Vec::new(),
        }
    }
}

/// An API answer.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl ApiResponse {
    pub fn json(&self) -> Result<Value> {
        serde_json::from_slice(&self.body)
            .map_err(|_| Error::protocol("the API's answer is not JSON"))
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

const RETRIED_STATUSES: [u16; 5] = [429, 500, 502, 503, 504];

/// Cheap to clone; clones share the request spacing.
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

    pub fn base(&self) -> &Url {
        &self.base
    }

    /// An absolute URL, or a path relative to the base (`me/messages`).
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

    pub async fn post(&self, target: &str, body: Value) -> Result<ApiResponse> {
        self.request(Method::Post, target, json_body(body)).await
    }

    pub async fn put(&self, target: &str, body: Value) -> Result<ApiResponse> {
        self.request(Method::Put, target, json_body(body)).await
    }

    pub async fn patch(&self, target: &str, body: Value) -> Result<ApiResponse> {
        self.request(Method::Patch, target, json_body(body)).await
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

    /// A request without a token, whatever the connection has (python-o365's `naive_request`).
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
        Pager::new(self.clone(), self.url(target)?)
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
        let may_retry_failure = method.is_idempotent() || options.retry_non_idempotent;
        let mut retries_left = self.settings.request_retries;
        let mut refreshed_after_401 = false;
        let mut attempt: u32 = 0;
        loop {
            let bearer = match token {
                Some(source) => Some(source.access_token(refreshed_after_401).await?),
                None => None,
            };
            self.wait_for_turn().await;
            let started = Instant::now();
            let mut request = self
                .client
                .request(method.as_reqwest(), url.clone())
                .headers(headers.clone())
                .query(&options.query);
            if let Some(bearer) = &bearer {
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
            let outcome = request.send().await;
            let response = match outcome {
                Ok(response) => response,
                Err(error) => {
                    // A connection that was never made carried nothing out: safe to retry.
                    let retry = retries_left > 0 && (may_retry_failure || error.is_connect());
                    tracing::debug!(method = ?method, path = url.path(), "request failed before an answer");
                    if !retry {
                        return Err(network_error(error));
                    }
                    retries_left -= 1;
                    tokio::time::sleep(self.backoff(attempt)).await;
                    attempt += 1;
                    continue;
                }
            };
            let status = response.status().as_u16();
            let response_headers = response.headers().clone();
            let body = response.bytes().await.map_err(network_error)?.to_vec();
            tracing::debug!(
                method = ?method,
                path = url.path(),
                status,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "API request"
            );
            let answer = ApiResponse {
                status,
                headers: response_headers,
                body,
            };

            if status == 401 && bearer.is_some() && !refreshed_after_401 {
                if let Some(challenge) = api_error::claims_challenge(&answer) {
                    return Err(challenge);
                }
                refreshed_after_401 = true;
                continue;
            }
            let retryable =
                RETRIED_STATUSES.contains(&status) && (status == 429 || may_retry_failure);
            if retryable && retries_left > 0 {
                retries_left -= 1;
                let delay =
                    api_error::retry_after(&answer).unwrap_or_else(|| self.backoff(attempt));
                tokio::time::sleep(delay).await;
                attempt += 1;
                continue;
            }
            if status >= 400 && self.settings.raise_http_errors {
                return Err(api_error::from_response(&answer));
            }
            return Ok(answer);
        }
    }

    /// Waits until `requests_delay` has passed since the previous request started.
    async fn wait_for_turn(&self) {
        let mut last_start = self.last_start.lock().await;
        if let Some(previous) = *last_start {
            let ready = previous + self.settings.requests_delay;
            tokio::time::sleep_until(ready).await;
        }
        *last_start = Some(Instant::now());
    }

    fn backoff(&self, attempt: u32) -> Duration {
        self.settings
            .backoff_base
            .saturating_mul(2u32.saturating_pow(attempt.min(16)))
            .min(self.settings.backoff_cap)
    }
}

fn json_body(body: Value) -> RequestOptions {
    RequestOptions {
        body: Body::Json(body),
        ..Default::default()
    }
}
