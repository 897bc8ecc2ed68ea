//! JSON-RPC 2.0 messages, one per line (docs/ipc.md).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::Error;

/// The largest message either side accepts, newline included.
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;
/// Application errors: `data.code` carries the core's stable machine code.
pub const APPLICATION_ERROR: i64 = -32000;
/// The server is at its connection cap or shutting down.
pub const SERVER_BUSY: i64 = -32001;

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Request {
    pub jsonrpc: String,
    /// Absent for notifications (no answer is sent).
    #[serde(default)]
    pub id: Option<Value>,
    pub method: String,
    #[serde(default)]
    pub params: Value,
}

/// A method's answer, serialised once, straight from the typed value: the response line
/// carries it as it is. (Building a `Value` first and serialising that cost a map, a copy of
/// every string, and a second pass over the access token on each `token.get`.)
pub type Answer = Box<RawValue>;

/// `value` as an [`Answer`].
pub fn answer_of<T: Serialize + ?Sized>(value: &T) -> Result<Answer, RpcError> {
    serde_json::value::to_raw_value(value)
        .map_err(|_| RpcError::new(INTERNAL_ERROR, "unserialisable answer"))
}

const UNSERIALISABLE_RESPONSE: &str =
    r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"unserialisable response"}}"#;

#[derive(Clone, Serialize)]
pub struct Response {
    pub jsonrpc: &'static str,
    pub id: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Answer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<RpcError>,
}

/// Without the answer itself, which may carry an access token.
impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("id", &self.id)
            .field(
                "result",
                &self
                    .result
                    .as_ref()
                    .map(|answer| format!("<{} bytes>", answer.get().len())),
            )
            .field("error", &self.error)
            .finish()
    }
}

impl Response {
    pub fn result(id: Value, result: Answer) -> Self {
        Response {
            jsonrpc: "2.0",
            id,
            result: Some(result),
            error: None,
        }
    }

    pub fn error(id: Value, error: RpcError) -> Self {
        Response {
            jsonrpc: "2.0",
            id,
            result: None,
            error: Some(error),
        }
    }

    /// The response as one line, newline included, in place of what `buffer` held.
    pub fn write_line(&self, buffer: &mut Vec<u8>) {
        buffer.clear();
        if serde_json::to_writer(&mut *buffer, self).is_err() {
            buffer.clear();
            buffer.extend_from_slice(UNSERIALISABLE_RESPONSE.as_bytes());
        }
        buffer.push(b'\n');
    }

    /// The response as one line, newline included.
    pub fn to_line(&self) -> String {
        let mut line =
            serde_json::to_string(self).unwrap_or_else(|_| UNSERIALISABLE_RESPONSE.to_owned());
        line.push('\n');
        line
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub fn invalid_params(message: impl Into<String>) -> Self {
        RpcError::new(INVALID_PARAMS, message)
    }

    pub fn method_not_found(method: &str) -> Self {
        // The method name is the client's input: echo a bounded, printable prefix only.
        let shown: String = method
            .chars()
            .filter(|c| !c.is_control())
            .take(64)
            .collect();
        RpcError::new(METHOD_NOT_FOUND, format!("no method `{shown}`"))
    }
}

/// A core error as an application error: the message for people, `data.code` for programs,
/// and Microsoft's AADSTS code and correlation id when there are some. A value the service
/// refuses is `-32602` (invalid params) with `data.field` naming it; an ambiguous account
/// name lists the accounts it could mean in `data.candidates`.
impl From<&Error> for RpcError {
    fn from(error: &Error) -> Self {
        let mut data = serde_json::json!({ "code": error.code() });
        let mut code = APPLICATION_ERROR;
        match error {
            Error::InvalidInput { what, .. } => {
                code = INVALID_PARAMS;
                data["field"] = serde_json::json!(parameter_of(what));
            }
            Error::AccountAmbiguous { candidates, .. } => {
                data["candidates"] = serde_json::json!(candidates);
            }
            _ => {}
        }
        if let Some(detail) = error.service_error() {
            // As docs/ipc.md shows it and people search for it: `AADSTS700082`.
            data["aadsts"] =
                serde_json::json!(detail.aadsts.map(|number| format!("AADSTS{number}")));
            data["correlation_id"] = serde_json::json!(detail.correlation_id);
        }
        if let Some(retry_after) = error.retry_after() {
            data["retry_after_s"] = serde_json::json!(retry_after.as_secs());
        }
        RpcError {
            code,
            message: error.to_string(),
            data: Some(data),
        }
    }
}

/// The request parameter an input error is about, for forms that show it next to the field
/// (docs/ipc.md: `data.field` names the parameter); the message keeps the words people read.
fn parameter_of(what: &str) -> &str {
    match what {
        "app name" => "name",
        "client id" => "client_id",
        "client credential" => "client_secret",
        "certificate" | "certificate file" | "private key" | "PKCS#12 file" => "certificate",
        "certificate password" => "pkcs12_password",
        "base URL" | "cloud" => "authority",
        "scope" => "scopes",
        "Business Central environment"
        | "API version"
        | "time zone"
        | "max top"
        | "scope prefix" => "protocol",
        "redirected URL" | "address" => "redirected_url",
        other => other,
    }
}

/// Reads one line into a request, or the error response owed for it (`None` for a
/// notification that failed, which gets no answer either).
pub fn parse_request(line: &[u8]) -> Result<Request, Box<Response>> {
    let value: Value = serde_json::from_slice(line).map_err(|_| {
        Box::new(Response::error(
            Value::Null,
            RpcError::new(PARSE_ERROR, "not valid JSON"),
        ))
    })?;
    if value.is_array() {
        return Err(Box::new(Response::error(
            Value::Null,
            RpcError::new(
                INVALID_REQUEST,
                "batches are not supported; send one request per line",
            ),
        )));
    }
    let id = value.get("id").cloned().unwrap_or(Value::Null);
    let invalid = |message: &str| {
        Box::new(Response::error(
            id.clone(),
            RpcError::new(INVALID_REQUEST, message),
        ))
    };
    if !matches!(id, Value::Null | Value::String(_) | Value::Number(_)) {
        return Err(invalid("`id` must be a string, a number or null"));
    }
    let request: Request = serde_json::from_value(value).map_err(|_| {
        invalid("a request needs `jsonrpc`, `method` and optional `id` and `params`")
    })?;
    if request.jsonrpc != "2.0" {
        return Err(invalid("`jsonrpc` must be \"2.0\""));
    }
    if !matches!(
        request.params,
        Value::Null | Value::Object(_) | Value::Array(_)
    ) {
        return Err(invalid("`params` must be an object or an array"));
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_shown_for_debugging_hides_its_answer() {
        let answer = answer_of(&serde_json::json!({ "access_token": "eyJ0eXAi.secret" })).unwrap();
        let shown = format!("{:?}", Response::result(serde_json::json!(1), answer));
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("bytes"), "{shown}");
    }

    #[test]
    fn requests_parse_and_bad_ones_get_the_right_codes() {
        let ok = parse_request(br#"{"jsonrpc":"2.0","id":7,"method":"status"}"#).unwrap();
        assert_eq!(
            (ok.id, ok.method.as_str()),
            (Some(serde_json::json!(7)), "status")
        );
        let code = |line: &[u8]| parse_request(line).unwrap_err().error.unwrap().code;
        assert_eq!(code(b"{not json"), PARSE_ERROR);
        assert_eq!(code(b"[1,2]"), INVALID_REQUEST);
        assert_eq!(
            code(br#"{"jsonrpc":"1.0","id":1,"method":"status"}"#),
            INVALID_REQUEST
        );
        assert_eq!(
            code(br#"{"jsonrpc":"2.0","id":{},"method":"status"}"#),
            INVALID_REQUEST
        );
        assert_eq!(
            code(br#"{"jsonrpc":"2.0","id":1,"method":"x","params":5}"#),
            INVALID_REQUEST
        );
        assert_eq!(code(br#"{"jsonrpc":"2.0","id":1}"#), INVALID_REQUEST);
    }

    #[test]
    fn core_errors_keep_their_machine_code() {
        let error = RpcError::from(&Error::NoAccount { name: "x".into() });
        assert_eq!(error.code, APPLICATION_ERROR);
        assert_eq!(error.data.unwrap()["code"], "no_account");
        let refused = RpcError::from(&Error::invalid_input("client id", "must be a GUID"));
        assert_eq!(refused.code, INVALID_PARAMS);
        let data = refused.data.unwrap();
        assert_eq!(
            (data["code"].as_str(), data["field"].as_str()),
            (Some("invalid_input"), Some("client_id"))
        );
        let ambiguous = RpcError::from(&Error::AccountAmbiguous {
            name: String::new(),
            candidates: vec!["a/x@y".into(), "a/z@y".into()],
        });
        assert_eq!(ambiguous.code, APPLICATION_ERROR);
        assert_eq!(
            ambiguous.data.unwrap()["candidates"],
            serde_json::json!(["a/x@y", "a/z@y"])
        );
        let shown = RpcError::method_not_found(&format!("{}\u{7}", "m".repeat(500)));
        assert!(shown.message.len() < 100 && !shown.message.contains('\u{7}'));
    }
}
