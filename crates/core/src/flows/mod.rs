//! Microsoft identity platform flows, on the `oauth2` crate: authorization code + PKCE
//! (confidential and public clients, two legs with a serialisable [`PendingFlow`]), client
//! credentials (secret or certificate), password (ROPC), device code, and refresh.
//!
//! [`IdentityClient`] is one app registration at one authority. Every grant returns a
//! [`TokenSet`] or an [`Error`] classified from Microsoft's answer (status, `error`, AADSTS code,
//! `Retry-After`).

mod authorization;
mod credential;
mod device_code;
mod discovery;
mod loopback;
mod response;
mod transport;

use std::borrow::Cow;

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
};
use oauth2::{
    AuthType, AuthUrl, ClientId, ClientSecret, DeviceAuthorizationUrl, EndpointNotSet, EndpointSet,
    RefreshToken, ResourceOwnerPassword, ResourceOwnerUsername, Scope, StandardRevocableToken,
    TokenUrl,
};
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use crate::authority::{Authority, Endpoints};
use crate::error::{Error, Result};
use crate::http::{HttpSettings, Redirects};
use crate::scopes::Scopes;
use crate::secret::Secret;
use crate::token::{TokenSet, now_unix};

pub use authorization::{
    AuthorizeOptions, DEEP_LINK_REDIRECT, NATIVE_CLIENT_REDIRECT, PendingFlow, Prompt,
};
pub use credential::{Certificate, ClientCredential};
pub use device_code::DeviceCodeChallenge;
pub use loopback::LoopbackListener;
use response::{MicrosoftTokenResponse, token_set};
use transport::Recorder;

/// python-o365's `auth_flow_type`, plus the device code flow it lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowKind {
    /// Authorization code + PKCE for a confidential client (secret or certificate).
    Authorization,
    /// Authorization code + PKCE for a public client (desktop, CLI): no secret.
    Public,
    /// Client credentials: the app signs in as itself.
    Credentials,
    /// Resource owner password (ROPC). Microsoft advises against it: no MFA, no consent.
    Password,
    /// Device code: sign in on another device.
    DeviceCode,
}

impl FlowKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowKind::Authorization => "authorization",
            FlowKind::Public => "public",
            FlowKind::Credentials => "credentials",
            FlowKind::Password => "password",
            FlowKind::DeviceCode => "device_code",
        }
    }

    /// Whether tokens belong to a user (and come with a refresh token).
    pub fn is_delegated(self) -> bool {
        self != FlowKind::Credentials
    }
}

/// One app registration at one authority.
#[derive(Debug, Clone)]
pub struct AppConfig {
    pub client_id: String,
    pub credential: ClientCredential,
    pub authority: Authority,
}

type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    MicrosoftTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// Talks to the identity platform for one app. Cheap to clone; endpoints are discovered once.
#[derive(Debug, Clone)]
pub struct IdentityClient {
    app: AppConfig,
    http: reqwest::Client,
    endpoints: std::sync::Arc<OnceCell<Endpoints>>,
}

impl IdentityClient {
    pub fn new(app: AppConfig, settings: &HttpSettings) -> Result<Self> {
        if app.client_id.trim().is_empty() {
            return Err(Error::invalid_input("client id", "it is empty"));
        }
        Ok(IdentityClient {
            app,
            // A redirect from a token endpoint is an attack or a misconfiguration: never follow.
            http: settings.client(Redirects::Never)?,
            endpoints: Default::default(),
        })
    }

    pub fn app(&self) -> &AppConfig {
        &self.app
    }

    /// The authority's endpoints, from its discovery document (fetched once).
    pub async fn endpoints(&self) -> Endpoints {
        self.endpoints
            .get_or_init(|| discovery::discover(&self.http, &self.app.authority))
            .await
            .clone()
    }

    async fn oauth(&self) -> Result<(OAuthClient, Endpoints)> {
        let endpoints = self.endpoints().await;
        let mut client = oauth2::Client::new(ClientId::new(self.app.client_id.clone()))
            .set_auth_uri(AuthUrl::from_url(endpoints.authorize.clone()))
            .set_token_uri(TokenUrl::from_url(endpoints.token.clone()))
            .set_device_authorization_url(DeviceAuthorizationUrl::from_url(
                endpoints.device_code.clone(),
            ))
            // MSAL sends client credentials in the body; Microsoft accepts both.
            .set_auth_type(AuthType::RequestBody);
        if let ClientCredential::Secret(secret) = &self.app.credential {
            client = client.set_client_secret(ClientSecret::new(secret.expose().to_owned()));
        }
        Ok((client, endpoints))
    }

    /// Extra form fields every token request of this app carries: the certificate assertion
    /// (fresh each time: Microsoft accepts a `jti` once) and `client_info=1` for the account id.
    fn token_params(&self, endpoints: &Endpoints) -> Result<Vec<(&'static str, String)>> {
        let mut params = vec![("client_info", "1".to_owned())];
        if let ClientCredential::Certificate(certificate) = &self.app.credential {
            let assertion =
                certificate.client_assertion(&self.app.client_id, endpoints.token.as_str())?;
            params.push((
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
            ));
            params.push(("client_assertion", assertion.expose().to_owned()));
        }
        Ok(params)
    }

    /// Client credentials: a token for the app itself. `scopes` must be one `{resource}/.default`
    /// (python-o365 forces this too); the tenant must be specific.
    pub async fn acquire_for_client(&self, scopes: &Scopes) -> Result<TokenSet> {
        self.app
            .authority
            .require_specific_tenant("client credentials")?;
        if !self.app.credential.is_confidential() {
            return Err(Error::invalid_input(
                "client credential",
                "the client credentials flow needs a client secret or a certificate",
            ));
        }
        let scopes = scopes.clone().without_oidc_scopes();
        let is_default = scopes.len() == 1 && scopes.iter().all(|s| s.ends_with("/.default"));
        if !is_default {
            return Err(Error::invalid_input(
                "scopes",
                "the client credentials flow takes exactly one `{resource}/.default` scope \
                 (the app's permissions are granted in the app registration)",
            ));
        }
        let (client, endpoints) = self.oauth().await?;
        let mut request = client
            .exchange_client_credentials()
            .add_scopes(oauth_scopes(&scopes));
        for (name, value) in self.token_params(&endpoints)? {
            if name != "client_info" {
                request = request.add_extra_param(name, value);
            }
        }
        let recorder = Recorder::new(&self.http);
        let obtained_at = now_unix();
        let response = request
            .request_async(&recorder)
            .await
            .map_err(|failure| recorder.error(failure))?;
        token_set(&response, &scopes, obtained_at)
    }

    /// Resource owner password credentials. Microsoft documents this flow as not recommended
    /// (no MFA, no consent prompt, no personal accounts); it exists for parity and test rigs.
    pub async fn acquire_by_password(
        &self,
        username: &str,
        password: &Secret,
        scopes: &Scopes,
    ) -> Result<TokenSet> {
        self.app.authority.require_specific_tenant("password")?;
        if username.trim().is_empty() {
            return Err(Error::invalid_input("username", "it is empty"));
        }
        let scopes = scopes.clone().with_sign_in_scopes();
        let (client, endpoints) = self.oauth().await?;
        let username = ResourceOwnerUsername::new(username.to_owned());
        let password = ResourceOwnerPassword::new(password.expose().to_owned());
        let mut request = client
            .exchange_password(&username, &password)
            .add_scopes(oauth_scopes(&scopes));
        for (name, value) in self.token_params(&endpoints)? {
            request = request.add_extra_param(name, value);
        }
        let recorder = Recorder::new(&self.http);
        let obtained_at = now_unix();
        let response = request
            .request_async(&recorder)
            .await
            .map_err(|failure| recorder.error(failure))?;
        token_set(&response, &scopes, obtained_at)
    }

    /// Redeems a refresh token for `scopes` (OIDC scopes are re-added, as MSAL does). The
    /// answer usually rotates the refresh token; when it does not, keep the old one
    /// ([`TokenSet::inherit_from`]).
    pub async fn refresh(&self, refresh_token: &Secret, scopes: &Scopes) -> Result<TokenSet> {
        let scopes = scopes.clone().without_oidc_scopes().with_sign_in_scopes();
        let (client, endpoints) = self.oauth().await?;
        let refresh_token = RefreshToken::new(refresh_token.expose().to_owned());
        let mut request = client
            .exchange_refresh_token(&refresh_token)
            .add_scopes(oauth_scopes(&scopes));
        for (name, value) in self.token_params(&endpoints)? {
            request = request.add_extra_param(name, value);
        }
        let recorder = Recorder::new(&self.http);
        let obtained_at = now_unix();
        let response = request
            .request_async(&recorder)
            .await
            .map_err(|failure| recorder.error(failure))?;
        token_set(&response, &scopes, obtained_at)
    }
}

fn oauth_scopes(scopes: &Scopes) -> Vec<Scope> {
    scopes
        .iter()
        .map(|scope| Scope::new(scope.to_owned()))
        .collect()
}

fn redirect_url(uri: &str) -> Result<Cow<'static, oauth2::RedirectUrl>> {
    oauth2::RedirectUrl::new(uri.to_owned())
        .map(Cow::Owned)
        .map_err(|_| Error::invalid_input("redirect URI", format!("`{uri}` is not a URL")))
}
