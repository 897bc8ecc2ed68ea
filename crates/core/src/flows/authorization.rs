//! The authorization code flow with PKCE, in two legs: [`IdentityClient::authorization_url`]
//! builds the URL and a serialisable [`PendingFlow`]; [`IdentityClient::complete`] takes the URL
//! the browser was redirected to, checks it belongs to that flow, and redeems the code.

use std::collections::HashMap;

use oauth2::{AuthorizationCode, CsrfToken, PkceCodeChallenge, PkceCodeVerifier};
use serde::{Deserialize, Serialize};
use url::Url;

use super::{IdentityClient, oauth_scopes, redirect_url};
use crate::error::{Error, MicrosoftErrorResponse, Result, classify};
use crate::scopes::Scopes;
use crate::secret::Secret;
use crate::token::{TokenSet, now_unix};

/// The app's deep link (`tauri-plugin-deep-link` delivers it to the running app).
pub const DEEP_LINK_REDIRECT: &str = "o365auth://auth";

/// Microsoft's page for apps that cannot receive a redirect: the person copies the URL it
/// shows back into the app (python-o365's console flow and default redirect).
pub const NATIVE_CLIENT_REDIRECT: &str =
    "https://login.microsoftonline.com/common/oauth2/nativeclient";

/// How long a started sign-in may take before its answer is refused. Longer than an
/// authorization code lives (10 minutes) because the person may be slow to type a password.
const PENDING_LIFETIME_SECONDS: i64 = 30 * 60;

/// The `prompt` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prompt {
    Login,
    None,
    Consent,
    SelectAccount,
    Create,
}

impl Prompt {
    fn as_str(self) -> &'static str {
        match self {
            Prompt::Login => "login",
            Prompt::None => "none",
            Prompt::Consent => "consent",
            Prompt::SelectAccount => "select_account",
            Prompt::Create => "create",
        }
    }
}

/// Authorize-URL options python-o365 silently drops (its issue #992); we send them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizeOptions {
    pub prompt: Option<Prompt>,
    pub login_hint: Option<String>,
    pub domain_hint: Option<String>,
    /// A claims challenge from an `interaction_required` answer or a Graph 401, unchanged.
    pub claims: Option<String>,
}

/// Everything the second leg needs. Serialisable so it survives a restart or travels to the
/// process that receives the redirect. It holds the PKCE verifier: store it sealed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingFlow {
    pub state: String,
    pub pkce_verifier: Secret,
    pub nonce: String,
    pub redirect_uri: String,
    /// The scopes asked for, OIDC scopes included.
    pub scopes: Scopes,
    pub client_id: String,
    pub auth_url: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl PendingFlow {
    pub fn is_expired_at(&self, now: i64) -> bool {
        now >= self.expires_at
    }
}

impl IdentityClient {
    /// The URL to open in a browser, and the flow to keep until the redirect comes back.
    /// `redirect_uri` must be registered on the app: [`DEEP_LINK_REDIRECT`], a loopback URL
    /// from [`super::LoopbackListener`], or [`NATIVE_CLIENT_REDIRECT`].
    pub async fn authorization_url(
        &self,
        scopes: &Scopes,
        redirect_uri: &str,
        options: &AuthorizeOptions,
    ) -> Result<(Url, PendingFlow)> {
        let scopes = scopes.clone().with_sign_in_scopes();
        let (client, _) = self.oauth().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = CsrfToken::new_random().secret().to_owned();
        let mut request = client
            .authorize_url(CsrfToken::new_random)
            .set_pkce_challenge(challenge)
            .set_redirect_uri(redirect_url(redirect_uri)?)
            .add_scopes(oauth_scopes(&scopes))
            .add_extra_param("nonce", nonce.clone())
            .add_extra_param("client_info", "1")
            .add_extra_param("response_mode", "query");
        if let Some(prompt) = options.prompt {
            request = request.add_extra_param("prompt", prompt.as_str());
        }
        for (name, value) in [
            ("login_hint", &options.login_hint),
            ("domain_hint", &options.domain_hint),
            ("claims", &options.claims),
        ] {
            if let Some(value) = value.as_deref().filter(|value| !value.trim().is_empty()) {
                request = request.add_extra_param(name, value.to_owned());
            }
        }
        let (url, state) = request.url();
        let now = now_unix();
        let pending = PendingFlow {
            state: state.secret().to_owned(),
            pkce_verifier: Secret::new(verifier.secret().as_str()),
            nonce,
            redirect_uri: redirect_uri.to_owned(),
            scopes,
            client_id: self.app.client_id.clone(),
            auth_url: url.to_string(),
            created_at: now,
            expires_at: now + PENDING_LIFETIME_SECONDS,
        };
        Ok((url, pending))
    }

    /// The second leg: `redirected` is the whole URL the browser was sent to. Refuses a
    /// foreign, replayed or late answer ([`Error::StateMismatch`]), turns an `error=` redirect
    /// into its classified error, redeems the code and checks the ID token's nonce.
    pub async fn complete(&self, redirected: &str, pending: &PendingFlow) -> Result<TokenSet> {
        let params = redirect_params(redirected, &pending.redirect_uri)?;
        let state_matches = params.get("state").is_some_and(|state| {
            Secret::new(state.as_str()) == Secret::new(pending.state.as_str())
        });
        if !state_matches || pending.client_id != self.app.client_id {
            return Err(Error::StateMismatch);
        }
        if pending.is_expired_at(now_unix()) {
            return Err(Error::StateMismatch);
        }
        if let Some(error) = params.get("error") {
            return Err(redirect_error(error, &params));
        }
        let code = params
            .get("code")
            .filter(|code| !code.is_empty())
            .ok_or_else(|| Error::protocol("the sign-in answer has neither a code nor an error"))?;

        let (client, endpoints) = self.oauth().await?;
        let mut request = client
            .exchange_code(AuthorizationCode::new(code.clone()))
            .set_pkce_verifier(PkceCodeVerifier::new(
                pending.pkce_verifier.expose().to_owned(),
            ))
            .set_redirect_uri(redirect_url(&pending.redirect_uri)?)
            .add_extra_param("scope", pending.scopes.to_request_string());
        for (name, value) in self.token_params(&endpoints)? {
            request = request.add_extra_param(name, value);
        }
        let recorder = super::Recorder::new(&self.http);
        let obtained_at = now_unix();
        let response = request
            .request_async(&recorder)
            .await
            .map_err(|failure| recorder.error(failure))?;
        let tokens = super::token_set(&response, &pending.scopes, obtained_at)?;
        check_id_token(&tokens, pending)?;
        Ok(tokens)
    }
}

/// The redirect's parameters (query, else fragment), after checking it went to this flow's
/// redirect URI: a pasted URL from another sign-in or site is refused with a clear message.
fn redirect_params(redirected: &str, redirect_uri: &str) -> Result<HashMap<String, String>> {
    let url = Url::parse(redirected.trim()).map_err(|_| {
        Error::invalid_input("redirected URL", "it is not a URL; paste the whole address")
    })?;
    let expected = Url::parse(redirect_uri)
        .map_err(|_| Error::invalid_input("redirect URI", "it is not a URL"))?;
    let same_target = url.scheme() == expected.scheme()
        && url.host_str() == expected.host_str()
        && url.port_or_known_default() == expected.port_or_known_default()
        && url.path().trim_end_matches('/') == expected.path().trim_end_matches('/');
    if !same_target {
        return Err(Error::invalid_input(
            "redirected URL",
            format!("it does not go to this sign-in's redirect URI ({redirect_uri})"),
        ));
    }
    let source = match url.query() {
        Some(query) if !query.is_empty() => query.to_owned(),
        _ => url.fragment().unwrap_or_default().to_owned(),
    };
    Ok(url::form_urlencoded::parse(source.as_bytes())
        .into_owned()
        .collect())
}

/// An `error=` redirect, classified like a token answer. Redirects carry no `error_codes`,
/// so the AADSTS number is read from the front of the description, where Microsoft puts it.
fn redirect_error(error: &str, params: &HashMap<String, String>) -> Error {
    let description = params.get("error_description").cloned();
    let aadsts = description
        .as_deref()
        .and_then(|text| text.strip_prefix("AADSTS"))
        .map(|rest| {
            rest.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .and_then(|digits| digits.parse().ok());
    classify(
        MicrosoftErrorResponse {
            error: error.to_owned(),
            error_description: description,
            error_codes: aadsts.into_iter().collect(),
            error_uri: params.get("error_uri").cloned(),
            correlation_id: params.get("correlation_id").cloned(),
            trace_id: params.get("trace_id").cloned(),
            claims: params.get("claims").cloned(),
            ..Default::default()
        },
        None,
        None,
    )
}

/// The ID token must carry this flow's nonce (else it was issued for another sign-in and
/// replayed) and be issued to this app.
fn check_id_token(tokens: &TokenSet, pending: &PendingFlow) -> Result<()> {
    let Some(claims) = &tokens.id_token_claims else {
        return Ok(());
    };
    if claims.nonce() != Some(pending.nonce.as_str()) {
        return Err(Error::protocol(
            "the ID token does not carry this sign-in's nonce (a replayed or foreign token)",
        ));
    }
    if claims
        .audience()
        .is_some_and(|audience| audience != pending.client_id)
    {
        return Err(Error::protocol("the ID token was issued to another app"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_to_another_target_are_refused() {
        let ok = redirect_params(
            "http://127.0.0.1:5000/?code=c&state=s",
            "http://127.0.0.1:5000",
        )
        .unwrap();
        assert_eq!(ok["code"], "c");
        let fragment =
            redirect_params("o365auth://auth#code=c&state=s", "o365auth://auth").unwrap();
        assert_eq!(fragment["state"], "s");
        let error =
            redirect_params("http://127.0.0.1:5001/?code=c", "http://127.0.0.1:5000").unwrap_err();
        assert_eq!(error.code(), "invalid_input");
        assert!(redirect_params("not a url", "o365auth://auth").is_err());
    }

    #[test]
    fn error_redirects_keep_their_aadsts_code() {
        let params: HashMap<String, String> = [(
            "error_description".to_owned(),
            "AADSTS65004: User declined to consent to access the app.".to_owned(),
        )]
        .into();
        let error = redirect_error("access_denied", &params);
        assert_eq!(error.code(), "consent_required");
        assert_eq!(error.service_error().and_then(|e| e.aadsts), Some(65004));
    }
}
