//! What a Connection sends and what it gives back: the method, the body, per-request options
//! and the answer.

use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::error::{Error, Result};

/// python-o365's allowed methods (its §4.3): no HEAD or OPTIONS, which Graph does not serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub(super) fn as_reqwest(self) -> reqwest::Method {
        match self {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        }
    }

    /// RFC 9110 §9.2.2: repeating GET, PUT or DELETE has the effect of doing it once.
    pub fn is_idempotent(self) -> bool {
        matches!(self, Method::Get | Method::Put | Method::Delete)
    }

    /// A method name in any case (python-o365 accepted `"get"`); anything else is refused.
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

/// A request body: JSON by default (python-o365 §4.6), sent with `Content-Type:
/// application/json`; or raw bytes with their own content type (uploads, MIME mail).
#[derive(Clone, Default)]
pub enum Body {
    #[default]
    None,
    Json(Value),
    Raw {
        content_type: String,
        bytes: Vec<u8>,
    },
}

/// Bodies can hold anything a caller sends (passwords in a user update, mail): never printed.
impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::None => f.write_str("None"),
            Body::Json(_) => f.write_str("Json(..)"),
            Body::Raw {
                content_type,
                bytes,
            } => write!(f, "Raw({content_type}, {} bytes)", bytes.len()),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct RequestOptions {
    /// Added to the URL's own query.
    pub query: Vec<(String, String)>,
    /// Merged over the connection's default headers: see `ConnectionSettings::default_headers`.
    pub headers: Vec<(String, String)>,
    pub body: Body,
    /// Retry a POST or PATCH on 5xx and on connections lost after sending too. Off by default:
    /// the first attempt may have been carried out (a mail sent twice). A 429 is retried
    /// regardless, because a throttled request was not carried out.
    pub retry_non_idempotent: bool,
}

impl RequestOptions {
    pub fn json(body: Value) -> Self {
        RequestOptions {
            body: Body::Json(body),
            ..Default::default()
        }
    }
}

/// An API answer: what comes back when it is a success, or when `raise_http_errors` is off.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl ApiResponse {
    /// The body as JSON; an empty body (204, 202) is `null`.
    pub fn json(&self) -> Result<Value> {
        if self.body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&self.body)
            .map_err(|_| Error::protocol("the API's answer is not JSON"))
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A header's value, when it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_parse_in_any_case_and_head_is_refused() {
        assert_eq!(Method::parse("get").unwrap(), Method::Get);
        assert_eq!(Method::parse("PaTcH").unwrap(), Method::Patch);
        for refused in ["HEAD", "OPTIONS", "TRACE", ""] {
            assert_eq!(Method::parse(refused).unwrap_err().code(), "invalid_input");
        }
        assert!(Method::Put.is_idempotent() && !Method::Post.is_idempotent());
    }

    #[test]
    fn bodies_are_not_printed() {
        let secret = RequestOptions::json(serde_json::json!({"passwordProfile": "hunter2"}));
        assert!(!format!("{secret:?}").contains("hunter2"));
        let raw = Body::Raw {
            content_type: "text/plain".into(),
            bytes: b"hunter2".to_vec(),
        };
        assert_eq!(format!("{raw:?}"), "Raw(text/plain, 7 bytes)");
    }
}
