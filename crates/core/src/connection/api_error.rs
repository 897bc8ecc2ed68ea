//! An API's error answer as a typed error. Graph's shape (graph/errors):
//! `{"error": {"code", "message", "innerError": {"request-id", "client-request-id", "date"}}}`.

use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::ApiResponse;
use crate::error::{Error, ServiceError, parse_retry_after};

/// 429 → throttled, 5xx → transient, other 4xx → `api_error`, each with Graph's code,
/// message and request ids.
pub(super) fn from_response(answer: &ApiResponse) -> Error {
    let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    let error = &body["error"];
    let inner = error
        .get("innerError")
        .or_else(|| error.get("innererror"))
        .unwrap_or(&Value::Null);
    let text = |value: &Value| value.as_str().map(str::to_owned);
    let header = |name: &str| {
        answer
            .headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let detail = Box::new(ServiceError {
        error: text(&error["code"]).unwrap_or_else(|| format!("http_{}", answer.status)),
        aadsts: None,
        description: text(&error["message"]),
        suberror: None,
        correlation_id: text(&inner["client-request-id"]).or_else(|| header("client-request-id")),
        trace_id: text(&inner["request-id"]).or_else(|| header("request-id")),
        http_status: Some(answer.status),
    });
    match answer.status {
        429 => Error::Throttled {
            detail,
            retry_after: retry_after(answer),
        },
        500..=599 => Error::Transient {
            detail,
            retry_after: retry_after(answer),
        },
        _ => Error::Api(detail),
    }
}

pub(super) fn retry_after(answer: &ApiResponse) -> Option<Duration> {
    answer
        .headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| parse_retry_after(value, SystemTime::now()))
}

/// A 401 whose `WWW-Authenticate` carries a claims challenge (continuous access evaluation,
/// conditional access step-up): refreshing silently cannot satisfy it, the person must sign in
/// interactively with these claims. python-o365 does not parse it (its §11.5).
pub(super) fn claims_challenge(answer: &ApiResponse) -> Option<Error> {
    let header = answer
        .headers
        .get_all(reqwest::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.contains("insufficient_claims"))?;
    let encoded = parameter(header, "claims")?;
    let claims = STANDARD
        .decode(encoded.trim_end_matches('='))
        .or_else(|_| STANDARD.decode(&encoded))
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or(encoded);
    let mut detail = match from_response(answer) {
        Error::Api(detail) => detail,
        _ => return None,
    };
    detail.error = "insufficient_claims".to_owned();
    Some(Error::InteractionRequired {
        detail,
        claims: Some(claims),
    })
}

/// `name="value"` from an auth-param list.
fn parameter(header: &str, name: &str) -> Option<String> {
    let start = header.find(&format!("{name}=\""))? + name.len() + 2;
    let end = header[start..].find('"')?;
    Some(header[start..start + end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> ApiResponse {
        let mut map = reqwest::header::HeaderMap::new();
        for (name, value) in headers {
            map.append(
                reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        ApiResponse {
            status,
            headers: map,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn graph_errors_keep_code_message_and_request_ids() {
        let error = from_response(&answer(
            404,
            &[],
            r#"{"error":{"code":"ErrorItemNotFound","message":"Not found.","innerError":{"request-id":"r-1","client-request-id":"c-1"}}}"#,
        ));
        assert_eq!(error.code(), "api_error");
        let detail = error.service_error().unwrap();
        assert_eq!(
            (
                detail.error.as_str(),
                detail.trace_id.as_deref(),
                detail.correlation_id.as_deref()
            ),
            ("ErrorItemNotFound", Some("r-1"), Some("c-1"))
        );
        let throttled = from_response(&answer(429, &[("retry-after", "3")], "not json"));
        assert_eq!(throttled.retry_after(), Some(Duration::from_secs(3)));
        assert_eq!(from_response(&answer(503, &[], "")).code(), "transient");
    }

    #[test]
    fn a_claims_challenge_asks_for_an_interactive_sign_in() {
        let claims = r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#;
        let header = format!(
            r#"Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims", claims="{}""#,
            STANDARD.encode(claims)
        );
        let error = claims_challenge(&answer(401, &[("www-authenticate", &header)], "{}")).unwrap();
        assert_eq!(error.code(), "interaction_required");
        assert_eq!(error.claims(), Some(claims));
        let plain = answer(
            401,
            &[("www-authenticate", r#"Bearer error="invalid_token""#)],
            "{}",
        );
        assert!(claims_challenge(&plain).is_none());
    }
}
