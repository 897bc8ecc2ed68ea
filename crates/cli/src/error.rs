//! What can go wrong, and the exit status each kind gets: 1 the service refused (or a local
//! failure such as an unreadable file), 2 usage, 3 the service cannot be reached or started.
//! Messages never carry a secret: they are built from the service's messages (which never
//! quote tokens) and from paths and names.

use std::fmt;

use serde_json::Value;

pub const EXIT_FAILURE: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_UNREACHABLE: i32 = 3;

#[derive(Debug)]
pub enum Failure {
    /// A JSON-RPC error from the service: its message, and `data` (with the machine `code`).
    Service {
        message: String,
        rpc_code: i64,
        data: Option<Value>,
    },
    /// No service answers and none could be started (or it closed on us).
    Unreachable(String),
    /// The command line asks for something impossible (clap catches most of these).
    Usage(String),
    /// A local failure: a file that cannot be read, a terminal that cannot be used.
    Local(String),
}

impl Failure {
    pub fn local(message: impl Into<String>) -> Self {
        Failure::Local(message.into())
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Failure::Usage(message.into())
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Service { .. } | Failure::Local(_) => EXIT_FAILURE,
            Failure::Usage(_) => EXIT_USAGE,
            Failure::Unreachable(_) => EXIT_UNREACHABLE,
        }
    }

    /// The service's machine code (`data.code`), if this is a service error with one.
    pub fn service_code(&self) -> Option<&str> {
        match self {
            Failure::Service {
                data: Some(data), ..
            } => data.get("code")?.as_str(),
            _ => None,
        }
    }

    /// A hint for the person, by machine code.
    fn hint(&self) -> Option<&'static str> {
        Some(match self.service_code()? {
            "needs_sign_in" | "interaction_required" | "consent_required" => {
                "sign in again with `o365-auth login`"
            }
            "account_required" | "account_ambiguous" => {
                "name the account (username, alias or APP/NAME); `o365-auth accounts` lists them"
            }
            "no_account" => "`o365-auth accounts` lists the accounts; `o365-auth login` adds one",
            _ => return None,
        })
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Service {
                message,
                rpc_code,
                data,
            } => {
                write!(f, "{message}")?;
                match self.service_code() {
                    Some(code) => write!(f, " ({code})")?,
                    None if *rpc_code != -32000 => write!(f, " (JSON-RPC {rpc_code})")?,
                    None => {}
                }
                let field = |name: &str| {
                    data.as_ref()
                        .and_then(|data| data.get(name))
                        .and_then(Value::as_str)
                        .filter(|value| !value.is_empty())
                };
                if let Some(aadsts) = field("aadsts") {
                    write!(f, "\n  Microsoft's code: {aadsts}")?;
                }
                if let Some(correlation) = field("correlation_id") {
                    write!(f, "\n  correlation id: {correlation}")?;
                }
                if let Some(wait) = data
                    .as_ref()
                    .and_then(|data| data.get("retry_after_s"))
                    .and_then(Value::as_u64)
                {
                    write!(f, "\n  try again in {wait} s")?;
                }
                if let Some(hint) = self.hint() {
                    write!(f, "\n  hint: {hint}")?;
                }
                Ok(())
            }
            Failure::Unreachable(message) | Failure::Usage(message) | Failure::Local(message) => {
                write!(f, "{message}")
            }
        }
    }
}

pub type Result<T, E = Failure> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn service_errors_show_their_code_and_details() {
        let failure = Failure::Service {
            message: "Sign in again: the refresh token expired".into(),
            rpc_code: -32000,
            data: Some(json!({"code": "needs_sign_in", "aadsts": "AADSTS700082",
                              "correlation_id": "c-1"})),
        };
        assert_eq!(failure.exit_code(), 1);
        assert_eq!(
            failure.to_string(),
            "Sign in again: the refresh token expired (needs_sign_in)\n  Microsoft's code: \
             AADSTS700082\n  correlation id: c-1\n  hint: sign in again with `o365-auth login`"
        );
        let protocol = Failure::Service {
            message: "no method `x`".into(),
            rpc_code: -32601,
            data: None,
        };
        assert_eq!(protocol.to_string(), "no method `x` (JSON-RPC -32601)");
    }

    #[test]
    fn exit_codes_by_kind() {
        assert_eq!(Failure::Unreachable("x".into()).exit_code(), 3);
        assert_eq!(Failure::usage("x").exit_code(), 2);
        assert_eq!(Failure::local("x").exit_code(), 1);
    }
}
