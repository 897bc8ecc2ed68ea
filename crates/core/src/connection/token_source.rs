//! Where a Connection gets its bearer token. The Connection does not know about refresh tokens,
//! stores or flows: it asks before each authenticated request and, after a 401, asks once more
//! with `force_refresh`. `Account` implements this over its token backend.

use futures_util::future::BoxFuture;

use crate::error::Result;
use crate::secret::Secret;

/// A source of bearer tokens for one identity.
///
/// Contract:
/// - `access_token(false)` returns a token valid for at least the source's margin, refreshing
///   first if the one it holds is expired or close to expiry. The Connection calls it before
///   every attempt, so a source should answer from memory when nothing is due.
/// - `access_token(true)` comes after the API answered 401 to the token last handed out: the
///   service disagrees with the local clock (revocation, clock skew, python-o365's §11.5), so
///   the source must not hand the same token back unless it cannot do better (see
///   [`StaticToken`]). The Connection asks at most once per request.
/// - Errors are the source's own (`needs_sign_in`, `throttled`, ...) and end the request as
///   they are.
pub trait AccessTokenSource: Send + Sync {
    fn access_token(&self, force_refresh: bool) -> BoxFuture<'_, Result<Secret>>;
}

/// A token the caller already has ("bring your own token", python-o365 issue #987), also handy
/// in tests. It cannot be refreshed: after a 401 the same token is tried once more, then the
/// 401 is the answer.
pub struct StaticToken(pub Secret);

impl AccessTokenSource for StaticToken {
    fn access_token(&self, _force_refresh: bool) -> BoxFuture<'_, Result<Secret>> {
        let token = self.0.clone();
        Box::pin(async move { Ok(token) })
    }
}
