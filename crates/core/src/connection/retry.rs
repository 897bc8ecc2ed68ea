//! When a request is tried again, and after how long.
//!
//! Retried statuses are python-o365's (urllib3's force list): 429, 500, 502, 503, 504.
//! - A 429 is retried for every method: the request was refused, not carried out. python-o365
//!   never retried POST or PATCH (its §4.11, defect §11.14), so writes got no throttling help.
//! - A 5xx or a connection lost after sending is retried for GET, PUT and DELETE, and for POST
//!   and PATCH only when the caller opts in: the server may have carried the first one out.
//! - A connection that was never made is retried for every method: nothing was sent.
//!
//! The wait is the server's `Retry-After` when it gives one (seconds or an HTTP date). Without
//! one it is exponential backoff with "equal jitter": the n-th retry waits a random time
//! between half and all of `min(cap, base × 2ⁿ)` (1 s, 2 s, 4 s … with the defaults), so many
//! clients that failed together do not come back together, and none retries at once.
//! python-o365 waited 0, 1, 2 s with no jitter (§4.12).

use std::time::Duration;

use rand::Rng;

use super::request::Method;

pub(super) const RETRIED_STATUSES: [u16; 5] = [429, 500, 502, 503, 504];

/// Whether an answer with this status may be sent again.
pub(super) fn status_is_retried(status: u16, method: Method, retry_non_idempotent: bool) -> bool {
    RETRIED_STATUSES.contains(&status)
        && (status == 429 || method.is_idempotent() || retry_non_idempotent)
}

/// Whether a request that got no answer may be sent again. `never_connected`: the failure
/// happened before the request left (refused, DNS, TLS handshake).
pub(super) fn failure_is_retried(
    method: Method,
    retry_non_idempotent: bool,
    never_connected: bool,
) -> bool {
    never_connected || method.is_idempotent() || retry_non_idempotent
}

/// The wait before retry number `retry` (0 for the first), with equal jitter.
pub(super) fn backoff(base: Duration, cap: Duration, retry: u32) -> Duration {
    let ceiling = base
        .saturating_mul(2u32.saturating_pow(retry.min(20)))
        .min(cap);
    let floor = ceiling / 2;
    if ceiling.is_zero() {
        return ceiling;
    }
    rand::thread_rng().gen_range(floor..=ceiling)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_never_waits_less_than_half() {
        let (base, cap) = (Duration::from_secs(1), Duration::from_secs(10));
        for _ in 0..200 {
            for (retry, ceiling) in [(0, 1), (1, 2), (2, 4), (3, 8), (4, 10), (40, 10)] {
                let wait = backoff(base, cap, retry);
                let ceiling = Duration::from_secs(ceiling);
                assert!(wait <= ceiling && wait >= ceiling / 2, "{retry}: {wait:?}");
            }
        }
        assert_eq!(backoff(Duration::ZERO, cap, 3), Duration::ZERO);
    }

    #[test]
    fn writes_are_retried_on_429_and_on_5xx_only_when_asked() {
        for status in RETRIED_STATUSES {
            assert!(status_is_retried(status, Method::Get, false));
            assert!(status_is_retried(status, Method::Delete, false));
            assert!(status_is_retried(status, Method::Post, true));
            assert_eq!(
                status_is_retried(status, Method::Post, false),
                status == 429
            );
            assert_eq!(
                status_is_retried(status, Method::Patch, false),
                status == 429
            );
        }
        for status in [400, 401, 403, 404, 409, 413, 501] {
            assert!(!status_is_retried(status, Method::Get, true), "{status}");
        }
        assert!(failure_is_retried(Method::Post, false, true));
        assert!(!failure_is_retried(Method::Post, false, false));
        assert!(failure_is_retried(Method::Put, false, false));
    }
}
