//! The core's error type, with a stable machine code per variant, and the classifier that turns
//! a Microsoft identity platform error answer into one of them.

mod classify;
mod microsoft;

use std::path::PathBuf;
use std::time::Duration;

pub use classify::{
    CLASSIFICATION_RULES, ClassificationRule, ErrorClass, classify, parse_retry_after,
};
pub use microsoft::{MicrosoftErrorResponse, ServiceError};

use crate::store::key::KeyError;
use crate::store::seal::SealError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every failure the core reports. Messages are for a person and say what to do; [`Error::code`]
/// is for programs (UI, IPC, CLI exit codes) and never changes once published. No variant ever
/// carries a secret: inputs that may be secret are described, never echoed.
///
/// Identity-platform variants box their [`ServiceError`] so `Result<T, Error>` stays small.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(
        "Sign in again: Microsoft no longer accepts this account's saved sign-in \
         (it expired, was revoked, or the password changed). {0}"
    )]
    NeedsSignIn(Box<ServiceError>),

    /// `claims` is the challenge to pass to the next interactive sign-in, unchanged.
    #[error(
        "Sign in interactively: Microsoft asks for an extra step (multi-factor authentication, \
         a device or conditional-access check). {detail}"
    )]
    InteractionRequired {
        detail: Box<ServiceError>,
        claims: Option<String>,
    },

    #[error(
        "Consent needed: you or an administrator of the tenant must approve the permissions \
         this app asks for, then sign in again. {0}"
    )]
    ConsentRequired(Box<ServiceError>),

    #[error(
        "The account could not sign in with these credentials: check the user name and \
         password, and whether the account is locked, disabled or its password expired. {0}"
    )]
    BadCredentials(Box<ServiceError>),

    #[error(
        "The app registration or its settings are wrong (client id, secret or certificate, \
         redirect URI, tenant, scopes); fix them in the app settings or the Entra admin center. \
         Retrying will not help. {0}"
    )]
    AppMisconfigured(Box<ServiceError>),

    #[error("Waiting for the sign-in to be completed in the browser. {0}")]
    AuthorizationPending(Box<ServiceError>),

    #[error("Polling the sign-in too fast; wait longer between checks. {0}")]
    SlowDown(Box<ServiceError>),

    #[error("The sign-in was declined; start it again if that was not intended. {0}")]
    SignInDeclined(Box<ServiceError>),

    #[error("The sign-in code has expired or is not valid; start the sign-in again. {0}")]
    CodeExpired(Box<ServiceError>),

    #[error("Microsoft is throttling requests; {}. {detail}", wait_hint(*.retry_after))]
    Throttled {
        detail: Box<ServiceError>,
        retry_after: Option<Duration>,
    },

    #[error("Microsoft's service is temporarily unavailable; {}. {detail}", wait_hint(*.retry_after))]
    Transient {
        detail: Box<ServiceError>,
        retry_after: Option<Duration>,
    },

    /// No answer at all: connection refused or reset, DNS, TLS, timeout. `message` never holds a
    /// URL's query string.
    #[error(
        "Could not reach {host}: {message}. Check the network connection and the proxy settings."
    )]
    Network { host: String, message: String },

    #[error("Cancelled.")]
    Cancelled,

    /// A token file (python-o365/MSAL format) could not be read or written; `path` says
    /// which, `reason` why. Nothing was overwritten.
    #[error("Token file {path}: {reason}")]
    TokenFile { path: String, reason: String },

    /// Nothing is stored for this account name (or no account at all when `name` is empty).
    #[error("{}", no_account_message(.name))]
    NoAccount { name: String },

    /// A sign-in answer whose `state` matches no sign-in started here: forged, replayed, or
    /// from an attempt that was already completed or has expired.
    #[error("{}", ambiguous_message(.name, .candidates))]
    AccountAmbiguous {
        name: String,
        candidates: Vec<String>,
    },

    #[error(
        "This sign-in answer does not belong to a sign-in started here (its state does not \
         match): it was forged, replayed, or comes from an older attempt. Start the sign-in again."
    )]
    StateMismatch,

    /// A sign-in started across calls (`login.start`) has not finished yet: the person has
    /// not completed it in the browser or on the device page. Waiting again is the answer.
    #[error("The sign-in has not been completed yet; wait again.")]
    LoginPending,

    /// An API (Graph, Business Central) refused a request with a 4xx other than throttling;
    /// `detail.error` is the API's error code (e.g. `ErrorItemNotFound`).
    #[error("The API refused the request: {0}")]
    Api(Box<ServiceError>),

    /// `what` names the input (e.g. "scope", "tenant"); `reason` says what is wrong with it.
    #[error("Invalid {what}: {reason}")]
    InvalidInput { what: &'static str, reason: String },

    /// Microsoft (or whatever answered) said something we cannot act on. Usually our bug or a
    /// proxy in the way; report it with the correlation id.
    #[error("Unexpected answer from the identity service: {message}{}", detail_suffix(.detail.as_deref()))]
    Protocol {
        message: String,
        detail: Option<Box<ServiceError>>,
    },

    /// The store file exists but is not a usable o365-auth store (not SQLite, truncated, or
    /// failing SQLite's own check). It was not modified; `Store::set_aside` moves it away.
    #[error(
        "The token store {} is damaged ({reason}). It was left untouched: move it aside \
         (`set_aside` keeps it as <name>.corrupt-<time>) to start a new store, or restore a backup.",
        .path.display()
    )]
    StoreCorrupt { path: PathBuf, reason: String },

    /// The store path holds another program's SQLite database. It was not modified.
    #[error(
        "{} is not an o365-auth token store but another program's database ({reason}). \
         It was left untouched; choose another store path.",
        .path.display()
    )]
    StoreForeign { path: PathBuf, reason: String },

    /// The key given (keyring entry, passphrase or explicit key) is not the one the store was
    /// sealed with, or the store was protected another way.
    #[error("The token store cannot be unlocked: {reason}")]
    StoreKeyMismatch { reason: String },

    /// Another process (the desktop app or `o365-auth daemon`) runs the token service for
    /// this store; only one may.
    #[error(
        "{} already runs the token service for {}; use it (o365-auth talks to it) or stop it first",
        .owner_pid.map_or_else(|| "another process".to_owned(), |pid| format!("process {pid}")),
        .path.display()
    )]
    StoreOwned {
        path: PathBuf,
        owner_pid: Option<u32>,
    },

    /// SQLite or the file system failed under the store (disk full, permissions, locked).
    #[error("The token store could not be used: {message}")]
    StoreIo { message: String },

    /// The store's key could not be obtained (no keyring, a timeout, an empty passphrase).
    #[error(transparent)]
    Key(KeyError),

    /// A sealed secret in the store did not open.
    #[error(transparent)]
    Sealed(SealError),
}

fn wait_hint(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(delay) => format!("try again in {} s", delay.as_secs().max(1)),
        None => "try again in a little while".to_owned(),
    }
}

fn ambiguous_message(name: &str, candidates: &[String]) -> String {
    let which = if name.is_empty() {
        "No account was named and there are several".to_owned()
    } else {
        format!("`{name}` names several accounts")
    };
    format!("{which}: name one of {}", candidates.join(", "))
}

fn no_account_message(name: &str) -> String {
    if name.is_empty() {
        "No account is signed in yet; sign in first.".to_owned()
    } else {
        format!("No signed-in account is named `{name}`; sign in with it first.")
    }
}

fn detail_suffix(detail: Option<&ServiceError>) -> String {
    detail
        .map(|detail| format!(" ({detail})"))
        .unwrap_or_default()
}

impl Error {
    /// A copy for a second caller of one operation (the sign-in a deep link finished, which
    /// `login.wait` reports too). Errors of the store's key and seals keep only their text.
    pub fn duplicate(&self) -> Error {
        match self {
            Error::NeedsSignIn(detail) => Error::NeedsSignIn(detail.clone()),
            Error::InteractionRequired { detail, claims } => Error::InteractionRequired {
                detail: detail.clone(),
                claims: claims.clone(),
            },
            Error::ConsentRequired(detail) => Error::ConsentRequired(detail.clone()),
            Error::BadCredentials(detail) => Error::BadCredentials(detail.clone()),
            Error::AppMisconfigured(detail) => Error::AppMisconfigured(detail.clone()),
            Error::AuthorizationPending(detail) => Error::AuthorizationPending(detail.clone()),
            Error::SlowDown(detail) => Error::SlowDown(detail.clone()),
            Error::SignInDeclined(detail) => Error::SignInDeclined(detail.clone()),
            Error::CodeExpired(detail) => Error::CodeExpired(detail.clone()),
            Error::Throttled {
                detail,
                retry_after,
            } => Error::Throttled {
                detail: detail.clone(),
                retry_after: *retry_after,
            },
            Error::Transient {
                detail,
                retry_after,
            } => Error::Transient {
                detail: detail.clone(),
                retry_after: *retry_after,
            },
            Error::Network { host, message } => Error::Network {
                host: host.clone(),
                message: message.clone(),
            },
            Error::Cancelled => Error::Cancelled,
            Error::TokenFile { path, reason } => Error::TokenFile {
                path: path.clone(),
                reason: reason.clone(),
            },
            Error::NoAccount { name } => Error::NoAccount { name: name.clone() },
            Error::AccountAmbiguous { name, candidates } => Error::AccountAmbiguous {
                name: name.clone(),
                candidates: candidates.clone(),
            },
            Error::StateMismatch => Error::StateMismatch,
            Error::LoginPending => Error::LoginPending,
            Error::Api(detail) => Error::Api(detail.clone()),
            Error::InvalidInput { what, reason } => Error::InvalidInput {
                what,
                reason: reason.clone(),
            },
            Error::Protocol { message, detail } => Error::Protocol {
                message: message.clone(),
                detail: detail.clone(),
            },
            Error::StoreCorrupt { path, reason } => Error::StoreCorrupt {
                path: path.clone(),
                reason: reason.clone(),
            },
            Error::StoreForeign { path, reason } => Error::StoreForeign {
                path: path.clone(),
                reason: reason.clone(),
            },
            Error::StoreKeyMismatch { reason } => Error::StoreKeyMismatch {
                reason: reason.clone(),
            },
            Error::StoreIo { message } => Error::StoreIo {
                message: message.clone(),
            },
            Error::StoreOwned { path, owner_pid } => Error::StoreOwned {
                path: path.clone(),
                owner_pid: *owner_pid,
            },
            Error::Key(error) => Error::StoreIo {
                message: error.to_string(),
            },
            Error::Sealed(error) => Error::StoreIo {
                message: error.to_string(),
            },
        }
    }

    pub fn invalid_input(what: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            what,
            reason: reason.into(),
        }
    }

    pub fn protocol(message: impl Into<String>) -> Self {
        Error::Protocol {
            message: message.into(),
            detail: None,
        }
    }

    /// The stable machine code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Cancelled => "cancelled",
            Error::InvalidInput { .. } => "invalid_input",
            Error::StateMismatch => "state_mismatch",
            Error::LoginPending => "login_pending",
            Error::NoAccount { .. } => "no_account",
            Error::AccountAmbiguous { .. } => "account_ambiguous",
            Error::TokenFile { .. } => "token_file",
            Error::Api(_) => "api_error",
            Error::StoreCorrupt { .. } => "store_corrupt",
            Error::StoreForeign { .. } => "store_foreign",
            Error::StoreKeyMismatch { .. } => "store_key_mismatch",
            Error::StoreIo { .. } => "store_io",
            Error::StoreOwned { .. } => "store_owned",
            Error::Key(error) => error.code(),
            Error::Sealed(error) => error.code(),
            other => other.class().map(ErrorClass::code).unwrap_or("protocol"),
        }
    }

    /// The identity-platform class of this error, if it came from Microsoft's answer.
    pub fn class(&self) -> Option<ErrorClass> {
        Some(match self {
            Error::NeedsSignIn(_) => ErrorClass::NeedsSignIn,
            Error::InteractionRequired { .. } => ErrorClass::InteractionRequired,
            Error::ConsentRequired(_) => ErrorClass::ConsentRequired,
            Error::BadCredentials(_) => ErrorClass::BadCredentials,
            Error::AppMisconfigured(_) => ErrorClass::AppMisconfigured,
            Error::AuthorizationPending(_) => ErrorClass::AuthorizationPending,
            Error::SlowDown(_) => ErrorClass::SlowDown,
            Error::SignInDeclined(_) => ErrorClass::SignInDeclined,
            Error::CodeExpired(_) => ErrorClass::CodeExpired,
            Error::Throttled { .. } => ErrorClass::Throttled,
            Error::Transient { .. } => ErrorClass::Transient,
            Error::Protocol { .. } => ErrorClass::Protocol,
            Error::Network { .. } => ErrorClass::Transient,
            Error::Cancelled
            | Error::InvalidInput { .. }
            | Error::StateMismatch
            | Error::LoginPending
            | Error::NoAccount { .. }
            | Error::AccountAmbiguous { .. }
            | Error::TokenFile { .. }
            | Error::StoreCorrupt { .. }
            | Error::StoreForeign { .. }
            | Error::StoreKeyMismatch { .. }
            | Error::StoreIo { .. }
            | Error::StoreOwned { .. }
            | Error::Key(_)
            | Error::Sealed(_)
            | Error::Api(_) => return None,
        })
    }

    /// What Microsoft said, when this error came from its answer.
    pub fn service_error(&self) -> Option<&ServiceError> {
        match self {
            Error::NeedsSignIn(detail)
            | Error::ConsentRequired(detail)
            | Error::BadCredentials(detail)
            | Error::AppMisconfigured(detail)
            | Error::AuthorizationPending(detail)
            | Error::SlowDown(detail)
            | Error::SignInDeclined(detail)
            | Error::CodeExpired(detail)
            | Error::Api(detail)
            | Error::InteractionRequired { detail, .. }
            | Error::Throttled { detail, .. }
            | Error::Transient { detail, .. } => Some(detail),
            Error::Protocol { detail, .. } => detail.as_deref(),
            Error::Network { .. }
            | Error::Cancelled
            | Error::InvalidInput { .. }
            | Error::NoAccount { .. }
            | Error::AccountAmbiguous { .. }
            | Error::TokenFile { .. }
            | Error::StoreCorrupt { .. }
            | Error::StoreForeign { .. }
            | Error::StoreKeyMismatch { .. }
            | Error::StoreIo { .. }
            | Error::StoreOwned { .. }
            | Error::Key(_)
            | Error::Sealed(_)
            | Error::StateMismatch
            | Error::LoginPending => None,
        }
    }

    /// How long Microsoft asked us to wait (`Retry-After`), for throttled and transient errors.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Throttled { retry_after, .. } | Error::Transient { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// The claims challenge to send with the next interactive sign-in.
    pub fn claims(&self) -> Option<&str> {
        match self {
            Error::InteractionRequired { claims, .. } => claims.as_deref(),
            _ => None,
        }
    }

    /// Whether the same request may succeed later without anyone doing anything.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Throttled { .. }
                | Error::Transient { .. }
                | Error::Network { .. }
                | Error::AuthorizationPending(_)
                | Error::SlowDown(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail() -> Box<ServiceError> {
        Box::new(ServiceError {
            error: "invalid_grant".into(),
            aadsts: Some(70008),
            description: Some("AADSTS70008: The refresh token has expired.".into()),
            suberror: None,
            correlation_id: Some("corr-1".into()),
            trace_id: Some("trace-1".into()),
            http_status: Some(400),
        })
    }

    #[test]
    fn every_variant_has_a_distinct_stable_code() {
        let all = [
            Error::NeedsSignIn(detail()),
            Error::InteractionRequired {
                detail: detail(),
                claims: None,
            },
            Error::ConsentRequired(detail()),
            Error::BadCredentials(detail()),
            Error::AppMisconfigured(detail()),
            Error::AuthorizationPending(detail()),
            Error::SlowDown(detail()),
            Error::SignInDeclined(detail()),
            Error::CodeExpired(detail()),
            Error::Throttled {
                detail: detail(),
                retry_after: None,
            },
            Error::Transient {
                detail: detail(),
                retry_after: None,
            },
            Error::Cancelled,
            Error::invalid_input("scope", "is empty"),
            Error::protocol("not JSON"),
            Error::StateMismatch,
            Error::LoginPending,
            Error::Api(detail()),
            Error::NoAccount { name: "x".into() },
            Error::TokenFile {
                path: "p".into(),
                reason: "r".into(),
            },
            Error::StoreCorrupt {
                path: "/s".into(),
                reason: "not SQLite".into(),
            },
            Error::StoreForeign {
                path: "/s".into(),
                reason: "application id 1".into(),
            },
            Error::StoreKeyMismatch {
                reason: "wrong key".into(),
            },
            Error::StoreIo {
                message: "disk full".into(),
            },
            Error::StoreOwned {
                path: "/s".into(),
                owner_pid: Some(42),
            },
            Error::Key(KeyError::EmptyPassphrase),
            Error::Sealed(SealError::Tampered),
        ];
        let codes: Vec<&str> = all.iter().map(Error::code).collect();
        assert_eq!(
            codes,
            [
                "needs_sign_in",
                "interaction_required",
                "consent_required",
                "bad_credentials",
                "app_misconfigured",
                "authorization_pending",
                "slow_down",
                "sign_in_declined",
                "code_expired",
                "throttled",
                "transient",
                "cancelled",
                "invalid_input",
                "protocol",
                "state_mismatch",
                "login_pending",
                "api_error",
                "no_account",
                "token_file",
                "store_corrupt",
                "store_foreign",
                "store_key_mismatch",
                "store_io",
                "store_owned",
                "passphrase_empty",
                "secret_tampered",
            ]
        );
    }

    #[test]
    fn display_says_what_to_do_and_keeps_code_and_correlation_id() {
        let text = Error::NeedsSignIn(detail()).to_string();
        assert!(text.starts_with("Sign in again"), "{text}");
        assert!(text.contains("AADSTS70008"), "{text}");
        assert!(text.contains("corr-1"), "{text}");
    }

    #[test]
    fn throttled_display_names_the_wait() {
        let with_delay = Error::Throttled {
            detail: detail(),
            retry_after: Some(Duration::from_secs(60)),
        };
        assert!(
            with_delay.to_string().contains("try again in 60 s"),
            "{with_delay}"
        );
        assert_eq!(with_delay.retry_after(), Some(Duration::from_secs(60)));
        assert!(with_delay.is_retryable());
        let without = Error::Throttled {
            detail: detail(),
            retry_after: None,
        };
        assert!(without.to_string().contains("a little while"), "{without}");
    }

    #[test]
    fn accessors_reach_the_service_error_and_claims() {
        let error = Error::InteractionRequired {
            detail: detail(),
            claims: Some(r#"{"access_token":{"acrs":{"essential":true}}}"#.into()),
        };
        assert_eq!(error.service_error().and_then(|d| d.aadsts), Some(70008));
        assert!(error.claims().is_some_and(|claims| claims.contains("acrs")));
        assert!(!error.is_retryable());
        assert!(Error::Cancelled.service_error().is_none());
        assert_eq!(Error::Cancelled.class(), None);
    }

    #[test]
    fn protocol_display_includes_detail_when_present() {
        let bare = Error::protocol("the body is not JSON");
        assert_eq!(
            bare.to_string(),
            "Unexpected answer from the identity service: the body is not JSON"
        );
        let with_detail = Error::Protocol {
            message: "unknown request".into(),
            detail: Some(detail()),
        };
        assert!(
            with_detail.to_string().contains("(AADSTS70008"),
            "{with_detail}"
        );
    }

    #[test]
    fn invalid_input_names_the_input() {
        assert_eq!(
            Error::invalid_input("tenant", "must not be empty").to_string(),
            "Invalid tenant: must not be empty"
        );
    }
}
