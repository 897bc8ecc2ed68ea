use o365_auth_core::ipc::protocol::RpcError;
use serde::Serialize;
use serde_json::Value;

/// What a command returns to the web UI on failure: a stable machine code, a sentence for a
/// person, and the JSON-RPC error's `data` (AADSTS code, correlation id, field...). The UI
/// shows them; tests match on the code.
#[derive(Debug, Clone, Serialize)]
pub struct CommandError {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl From<&o365_auth_core::Error> for CommandError {
    fn from(error: &o365_auth_core::Error) -> Self {
        CommandError::from(RpcError::from(error))
    }
}

impl From<RpcError> for CommandError {
    fn from(error: RpcError) -> Self {
        let code = error
            .data
            .as_ref()
            .and_then(|data| data.get("code"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| {
                match error.code {
                    -32700 => "parse_error",
                    -32600 => "invalid_request",
                    -32601 => "method_not_found",
                    -32602 => "invalid_params",
                    -32001 => "server_busy",
                    _ => "internal_error",
                }
                .to_owned()
            });
        CommandError {
            code,
            message: error.message,
            data: error.data,
        }
    }
}

impl CommandError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        CommandError {
            code: code.to_owned(),
            message: message.into(),
            data: None,
        }
    }
}
