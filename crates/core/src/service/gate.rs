//! One refresh at a time per account across every caller of the service, and what the last
//! one taught shared with the callers that waited for it.
//!
//! The Account's single flight keeps concurrent refreshes of one account to one, but only a
//! success is shared: each caller waiting behind a failed refresh would try again, so a
//! thousand callers of a revoked or throttled account became a thousand token requests to
//! Microsoft, one after the other. The gate remembers the failure instead:
//! - callers that were already waiting when a refresh failed get its error;
//! - while Microsoft's `Retry-After` runs, everyone (the scheduler too) gets `throttled` with
//!   the time left, and nothing is sent;
//! - an account that needs the person (sign in again, MFA, consent) gets that answer until
//!   they sign in again; only an explicit `token.refresh` tries once more.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::lock;
use crate::error::{Error, ErrorClass};

/// The turn and the memory of one account.
#[derive(Default)]
pub(super) struct Gate {
    failure: Option<Failure>,
    last_success: Option<Instant>,
}

struct Failure {
    /// A copy of what Microsoft answered (the original went to the caller that asked).
    error: Error,
    at: Instant,
    /// Throttled: nothing is sent before this.
    until: Option<Instant>,
}

/// The gates of every account, by record id.
#[derive(Default)]
pub(super) struct Gates {
    accounts: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Gate>>>>,
}

impl Gates {
    /// The account's turn: lock it for as long as the refresh runs.
    pub(super) fn turn(&self, record_id: &str) -> Arc<tokio::sync::Mutex<Gate>> {
        lock(&self.accounts)
            .entry(record_id.to_owned())
            .or_default()
            .clone()
    }

    /// Forgets what the account's refreshes taught (it signed in again, or is gone).
    pub(super) fn forget(&self, record_id: &str) {
        lock(&self.accounts).remove(record_id);
    }
}

impl Gate {
    /// The answer owed without asking Microsoft, for a caller that arrived at `arrived`;
    /// `retry` (an explicit `token.refresh`) tries again an account that needs the person.
    pub(super) fn refusal(&self, arrived: Instant, retry: bool) -> Option<Error> {
        let failure = self.failure.as_ref()?;
        let now = Instant::now();
        if let Some(until) = failure.until
            && until > now
        {
            return Some(throttled_for(&failure.error, until - now));
        }
        let needs_person = matches!(
            failure.error.class(),
            Some(
                ErrorClass::NeedsSignIn
                    | ErrorClass::InteractionRequired
                    | ErrorClass::ConsentRequired
            )
        );
        if (needs_person && !retry) || failure.at >= arrived {
            return copy(&failure.error);
        }
        None
    }

    /// Whether a refresh succeeded after `arrived`: a caller that waited for it has a token
    /// at least as new as the one it asked to be refreshed.
    pub(super) fn refreshed_since(&self, arrived: Instant) -> bool {
        self.last_success.is_some_and(|at| at >= arrived)
    }

    pub(super) fn record<T>(&mut self, outcome: &crate::error::Result<T>) {
        let now = Instant::now();
        match outcome {
            Ok(_) => {
                self.failure = None;
                self.last_success = Some(now);
            }
            Err(error) => {
                // Only what Microsoft (or the network) answered is remembered; a local
                // failure (the store, a bad request) is the next caller's to meet afresh.
                self.failure = copy(error).map(|error| Failure {
                    until: match (&error, error.retry_after()) {
                        (Error::Throttled { .. }, Some(wait)) => Some(now + wait),
                        _ => None,
                    },
                    error,
                    at: now,
                });
            }
        }
    }
}

/// A copy of an identity-platform or network error (`Error` is not `Clone`: most variants
/// carry things that must not be duplicated, such as I/O sources).
fn copy(error: &Error) -> Option<Error> {
    // Only what Microsoft answered is remembered; our own failures are each caller's.
    matches!(
        error,
        Error::NeedsSignIn(_)
            | Error::InteractionRequired { .. }
            | Error::ConsentRequired(_)
            | Error::Throttled { .. }
            | Error::Transient { .. }
            | Error::Network { .. }
    )
    .then(|| error.duplicate())
}

/// The throttling error with the wait that is left (whole seconds, rounded up).
fn throttled_for(error: &Error, left: Duration) -> Error {
    let left = Duration::from_secs(left.as_secs() + u64::from(left.subsec_nanos() > 0));
    match error {
        Error::Throttled { detail, .. } => Error::Throttled {
            detail: detail.clone(),
            retry_after: Some(left),
        },
        _ => copy(error).unwrap_or(Error::Cancelled),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ServiceError;

    fn detail() -> Box<ServiceError> {
        Box::new(ServiceError {
            error: "invalid_grant".into(),
            aadsts: Some(50173),
            description: None,
            suberror: None,
            correlation_id: None,
            trace_id: None,
            http_status: Some(400),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn failures_are_shared_with_waiters_and_throttling_with_everyone_until_it_ends() {
        let mut gate = Gate::default();
        let early = Instant::now();
        tokio::time::advance(Duration::from_secs(1)).await;
        gate.record::<()>(&Err(Error::Transient {
            detail: detail(),
            retry_after: None,
        }));
        assert_eq!(gate.refusal(early, false).unwrap().code(), "transient");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(
            gate.refusal(Instant::now(), false).is_none(),
            "a new caller tries"
        );

        gate.record::<()>(&Err(Error::Throttled {
            detail: detail(),
            retry_after: Some(Duration::from_secs(30)),
        }));
        tokio::time::advance(Duration::from_millis(10_500)).await;
        let refused = gate.refusal(Instant::now(), true).unwrap();
        assert_eq!(refused.code(), "throttled");
        assert_eq!(refused.retry_after(), Some(Duration::from_secs(20)));
        tokio::time::advance(Duration::from_secs(20)).await;
        assert!(gate.refusal(Instant::now(), false).is_none());

        gate.record::<()>(&Err(Error::NeedsSignIn(detail())));
        tokio::time::advance(Duration::from_secs(3600)).await;
        let refused = gate.refusal(Instant::now(), false).unwrap();
        assert_eq!(refused.code(), "needs_sign_in");
        assert!(
            gate.refusal(Instant::now(), true).is_none(),
            "token.refresh tries"
        );

        let asked = Instant::now();
        gate.record(&Ok(()));
        assert!(gate.refusal(Instant::now(), false).is_none());
        assert!(gate.refreshed_since(asked));

        gate.record::<()>(&Err(Error::protocol("odd")));
        assert!(
            gate.refusal(asked, false).is_none(),
            "local failures are not kept"
        );
    }
}
