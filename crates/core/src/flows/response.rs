//! The token endpoint's success answer, Microsoft's extra fields included, as a [`TokenSet`].

use oauth2::basic::BasicTokenType;
use oauth2::{ExtraTokenFields, StandardTokenResponse, TokenResponse};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::scopes::{Scopes, is_oidc_scope};
use crate::secret::Secret;
use crate::token::{ClientInfo, IdTokenClaims, TokenSet, now_unix};

/// What Microsoft adds to RFC 6749's token answer.
#[derive(Clone, Default, Deserialize, Serialize)]
pub(crate) struct MicrosoftTokenFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_info: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext_expires_in: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_in: Option<u64>,
}

impl std::fmt::Debug for MicrosoftTokenFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MicrosoftTokenFields")
            .field("id_token", &self.id_token)
            .field("ext_expires_in", &self.ext_expires_in)
            .field("refresh_in", &self.refresh_in)
            .finish_non_exhaustive()
    }
}

impl ExtraTokenFields for MicrosoftTokenFields {}

pub(crate) type MicrosoftTokenResponse =
    StandardTokenResponse<MicrosoftTokenFields, BasicTokenType>;

/// Converts a success answer. `requested` stands in for the granted scopes when the answer
/// names none (client credentials answers carry no `scope`).
pub(crate) fn token_set(
    response: &MicrosoftTokenResponse,
    requested: &Scopes,
    obtained_at: i64,
) -> Result<TokenSet> {
    let extra = response.extra_fields();
    let id_token_claims = extra
        .id_token
        .as_ref()
        .map(IdTokenClaims::decode)
        .transpose()?;
    let client_info = extra
        .client_info
        .as_deref()
        .map(ClientInfo::parse)
        .transpose()?;
    let scopes = match response.scopes() {
        Some(granted) if !granted.is_empty() => {
            qualify_granted(granted.iter().map(|scope| scope.to_string()), requested)
        }
        _ => requested.clone(),
    };
    // Microsoft always sends expires_in; an answer without it gets the minimum Microsoft issues
    // (one hour is the default, but a short guess only costs an early refresh).
    let lifetime = response
        .expires_in()
        .map(|lifetime| lifetime.as_secs())
        .unwrap_or(300);
    let after =
        |seconds: u64| obtained_at.saturating_add(i64::try_from(seconds).unwrap_or(i64::MAX));
    Ok(TokenSet {
        access_token: Secret::new(response.access_token().secret().as_str()),
        token_type: "Bearer".to_owned(),
        refresh_token: response
            .refresh_token()
            .map(|token| Secret::new(token.secret().as_str())),
        id_token: extra.id_token.clone(),
        id_token_claims,
        client_info,
        scopes,
        obtained_at,
        expires_at: after(lifetime),
        ext_expires_at: extra.ext_expires_in.map(after),
        refresh_on: extra.refresh_in.map(after),
    })
}

/// Microsoft lists Graph's scopes bare in the answer (`User.Read`) however they were asked
/// (`https://graph.microsoft.com/User.Read`). Each bare resource scope gets back the form it was
/// requested in, else the requested resource's prefix, so cached tokens match later requests.
fn qualify_granted(granted: impl Iterator<Item = String>, requested: &Scopes) -> Scopes {
    let resource = requested
        .resources()
        .first()
        .map(|resource| resource.to_string());
    granted
        .map(|scope| {
            if scope.contains('/') || is_oidc_scope(&scope) {
                return scope;
            }
            let asked = requested.iter().find(|asked| {
                asked
                    .rsplit_once('/')
                    .is_some_and(|(_, name)| name.eq_ignore_ascii_case(&scope))
            });
            match (asked, &resource) {
                (Some(asked), _) => asked.to_owned(),
                (None, Some(resource)) if resource.contains("://") => {
                    format!("{}/{scope}", resource.trim_end_matches('/'))
                }
                _ => scope,
            }
        })
        .collect()
}

/// Parses a raw success body (the device-code poll reads it without `oauth2`).
pub(crate) fn parse_token_body(body: &[u8], requested: &Scopes) -> Result<TokenSet> {
    let response: MicrosoftTokenResponse = serde_json::from_slice(body).map_err(|_| {
        crate::Error::protocol("the identity service's token answer is not a valid token response")
    })?;
    token_set(&response, requested, now_unix())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microsoft_fields_become_the_token_set() {
        let body = br#"{"token_type":"Bearer","scope":"https://graph.microsoft.com/User.Read openid","expires_in":3599,"ext_expires_in":7199,"refresh_in":1800,"access_token":"at-1","refresh_token":"rt-1","client_info":"eyJ1aWQiOiJ1IiwidXRpZCI6InQifQ"}"#;
        let set = parse_token_body(body, &Scopes::default()).unwrap();
        assert_eq!(set.access_token.expose(), "at-1");
        assert_eq!(set.refresh_token.as_ref().map(Secret::expose), Some("rt-1"));
        assert_eq!(set.home_account_id().as_deref(), Some("u.t"));
        assert_eq!(set.expires_at - set.obtained_at, 3599);
        assert_eq!(set.refresh_on, Some(set.obtained_at + 1800));
        assert_eq!(set.ext_expires_at, Some(set.obtained_at + 7199));
        assert!(set.scopes.contains("https://graph.microsoft.com/user.read"));
    }

    #[test]
    fn bare_granted_scopes_take_the_requested_form() {
        let requested = Scopes::from_granted(
            "https://graph.microsoft.com/User.Read https://graph.microsoft.com/Mail.Read offline_access",
        );
        let granted = qualify_granted(
            ["user.read", "Calendars.Read", "openid"]
                .map(str::to_owned)
                .into_iter(),
            &requested,
        );
        assert_eq!(
            granted.as_slice(),
            [
                "https://graph.microsoft.com/User.Read",
                "https://graph.microsoft.com/Calendars.Read",
                "openid"
            ]
        );
    }

    #[test]
    fn answers_without_scope_keep_the_requested_ones() {
        let body = br#"{"token_type":"Bearer","expires_in":3599,"access_token":"at"}"#;
        let requested = Scopes::from_granted("https://graph.microsoft.com/.default");
        let set = parse_token_body(body, &requested).unwrap();
        assert_eq!(set.scopes, requested);
        assert!(set.refresh_token.is_none());
        let error = parse_token_body(b"<html>", &requested).unwrap_err();
        assert_eq!(error.code(), "protocol");
    }
}
