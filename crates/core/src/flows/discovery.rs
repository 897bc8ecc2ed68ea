//! Endpoints from the authority's OpenID Connect discovery document, with Microsoft's standard
//! paths when there is none, so a generic OpenID Connect provider works too.

use serde::Deserialize;
use url::Url;

use crate::authority::{Authority, Endpoints};
use crate::cloud::BaseUrl;

#[derive(Deserialize)]
struct DiscoveryDocument {
    authorization_endpoint: String,
    token_endpoint: String,
    #[serde(default)]
    device_authorization_endpoint: Option<String>,
}

/// Fetches and reads the discovery document; any failure (unreachable, not JSON, an endpoint
/// that is neither https nor loopback http) falls back to the standard paths, because a token
/// request to them gives the clearer error if the authority is really down.
pub(crate) async fn discover(client: &reqwest::Client, authority: &Authority) -> Endpoints {
    let fallback = authority.endpoints();
    match fetch(client, authority).await {
        Some(document) => Endpoints {
            authorize: safe_url(&document.authorization_endpoint).unwrap_or(fallback.authorize),
            token: safe_url(&document.token_endpoint).unwrap_or(fallback.token),
            device_code: document
                .device_authorization_endpoint
                .as_deref()
                .and_then(safe_url)
                .unwrap_or(fallback.device_code),
        },
        None => fallback,
    }
}

async fn fetch(client: &reqwest::Client, authority: &Authority) -> Option<DiscoveryDocument> {
    let response = client.get(authority.discovery_url()).send().await.ok()?;
    if !response.status().is_success() {
        tracing::debug!(status = %response.status(), "no discovery document; using standard endpoint paths");
        return None;
    }
    response.json().await.ok()
}

/// An endpoint we are willing to send credentials to: https, or http on loopback (the
/// emulator), as [`BaseUrl`] enforces for configured authorities.
fn safe_url(candidate: &str) -> Option<Url> {
    BaseUrl::parse(candidate).ok()?;
    Url::parse(candidate).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_endpoints_are_used() {
        assert!(safe_url("https://login.example.com/t/oauth2/v2.0/token").is_some());
        assert!(safe_url("http://127.0.0.1:4000/t/oauth2/v2.0/token").is_some());
        assert!(safe_url("http://evil.example.com/token").is_none());
        assert!(safe_url("not a url").is_none());
    }
}
