//! Microsoft clouds: which sign-in host and which Graph host to use (platform-notes §5.1).
//! python-o365 only knows the public cloud.

use std::fmt;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::{Error, Result};

/// A Microsoft cloud instance, or a custom one (the bundled emulator, a test server).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Cloud {
    /// `login.microsoftonline.com`, `graph.microsoft.com`.
    Public,
    /// US Government L4 (GCC High): `login.microsoftonline.us`, `graph.microsoft.us`.
    UsGovernment,
    /// US Government L5 (DoD): `login.microsoftonline.us`, `dod-graph.microsoft.us`.
    UsGovernmentDod,
    /// China, operated by 21Vianet: `login.partner.microsoftonline.cn`,
    /// `microsoftgraph.chinacloudapi.cn`.
    China,
    /// Any other sign-in host. Graph calls go to `graph` when given, else to the same host
    /// (the emulator serves both). Scopes keep the public Graph resource id, because an
    /// emulator stands in for the public cloud.
    Custom {
        authority: BaseUrl,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        graph: Option<BaseUrl>,
    },
}

const PUBLIC_GRAPH: &str = "https://graph.microsoft.com/";

impl Cloud {
    /// A custom cloud at `authority`, e.g. `http://127.0.0.1:47615` for the sandbox emulator.
    pub fn custom(authority: &str) -> Result<Cloud> {
        Ok(Cloud::Custom {
            authority: BaseUrl::parse(authority)?,
            graph: None,
        })
    }

    /// The base URL of the sign-in host, ending in `/`.
    pub fn authority_host(&self) -> Url {
        match self {
            Cloud::Public => known("https://login.microsoftonline.com/"),
            Cloud::UsGovernment | Cloud::UsGovernmentDod => {
                known("https://login.microsoftonline.us/")
            }
            Cloud::China => known("https://login.partner.microsoftonline.cn/"),
            Cloud::Custom { authority, .. } => authority.url().clone(),
        }
    }

    /// Where Graph requests go, ending in `/` (before the API version).
    pub fn graph_api_root(&self) -> Url {
        match self {
            Cloud::Public => known(PUBLIC_GRAPH),
            Cloud::UsGovernment => known("https://graph.microsoft.us/"),
            Cloud::UsGovernmentDod => known("https://dod-graph.microsoft.us/"),
            Cloud::China => known("https://microsoftgraph.chinacloudapi.cn/"),
            Cloud::Custom { authority, graph } => graph.as_ref().unwrap_or(authority).url().clone(),
        }
    }

    /// The Graph resource id that prefixes scopes: each national cloud has its own
    /// (`https://graph.microsoft.us/User.Read`), custom clouds use the public one.
    pub fn graph_scope_prefix(&self) -> String {
        match self {
            Cloud::Custom { .. } => PUBLIC_GRAPH.to_owned(),
            national => national.graph_api_root().to_string(),
        }
    }
}

/// The URLs above are constants; a failure here is a typo caught by the tests.
fn known(url: &str) -> Url {
    Url::parse(url).unwrap_or_else(|error| unreachable!("built-in URL {url}: {error}"))
}

/// A validated base URL for a custom host: `https`, or plain `http` on a loopback address
/// only (tokens must not cross a network in clear text); no credentials, query or fragment;
/// the path always ends in `/` so that joining keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BaseUrl(Url);

impl BaseUrl {
    pub fn parse(input: &str) -> Result<BaseUrl> {
        let invalid =
            |reason: &str| Error::invalid_input("base URL", format!("`{input}` {reason}"));
        let mut url = Url::parse(input.trim())
            .map_err(|error| invalid(&format!("is not a URL ({error})")))?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&url) => {}
            "http" => {
                return Err(invalid(
                    "uses http on a host that is not loopback; use https",
                ));
            }
            _ => return Err(invalid("must be an http(s) URL")),
        }
        if url.host().is_none() {
            return Err(invalid("has no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            // Not echoed: the input holds credentials.
            return Err(Error::invalid_input(
                "base URL",
                "must not contain a user name or password",
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("must not have a query or fragment"));
        }
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(BaseUrl(url))
    }

    pub fn url(&self) -> &Url {
        &self.0
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        None => false,
    }
}

impl TryFrom<String> for BaseUrl {
    type Error = Error;

    fn try_from(value: String) -> Result<Self> {
        BaseUrl::parse(&value)
    }
}

impl From<BaseUrl> for String {
    fn from(value: BaseUrl) -> Self {
        value.0.into()
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cloud_has_its_hosts() {
        let cases = [
            (
                Cloud::Public,
                "login.microsoftonline.com",
                "graph.microsoft.com",
            ),
            (
                Cloud::UsGovernment,
                "login.microsoftonline.us",
                "graph.microsoft.us",
            ),
            (
                Cloud::UsGovernmentDod,
                "login.microsoftonline.us",
                "dod-graph.microsoft.us",
            ),
            (
                Cloud::China,
                "login.partner.microsoftonline.cn",
                "microsoftgraph.chinacloudapi.cn",
            ),
        ];
        for (cloud, login, graph) in cases {
            assert_eq!(cloud.authority_host().as_str(), format!("https://{login}/"));
            assert_eq!(cloud.graph_api_root().as_str(), format!("https://{graph}/"));
            assert_eq!(cloud.graph_scope_prefix(), format!("https://{graph}/"));
        }
    }

    #[test]
    fn custom_cloud_serves_graph_on_its_own_host_with_public_scopes() {
        let cloud = Cloud::custom("http://127.0.0.1:47615").unwrap();
        assert_eq!(cloud.authority_host().as_str(), "http://127.0.0.1:47615/");
        assert_eq!(cloud.graph_api_root().as_str(), "http://127.0.0.1:47615/");
        assert_eq!(cloud.graph_scope_prefix(), "https://graph.microsoft.com/");

        let split = Cloud::Custom {
            authority: BaseUrl::parse("https://login.example.test/tenant-proxy").unwrap(),
            graph: Some(BaseUrl::parse("https://graph.example.test").unwrap()),
        };
        assert_eq!(
            split.authority_host().as_str(),
            "https://login.example.test/tenant-proxy/"
        );
        assert_eq!(
            split.graph_api_root().as_str(),
            "https://graph.example.test/"
        );
    }

    #[test]
    fn base_urls_refuse_clear_text_off_loopback_and_odd_parts() {
        for good in [
            "http://127.0.0.1:1234",
            "http://localhost:8080/",
            "http://[::1]:9/",
            "https://idp.example.test",
        ] {
            assert!(BaseUrl::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "http://192.168.1.10:8080",
            "ftp://127.0.0.1/",
            "not a url",
            "https://idp.example.test/?x=1",
            "https://idp.example.test/#frag",
            "",
        ] {
            let error = BaseUrl::parse(bad).unwrap_err();
            assert_eq!(error.code(), "invalid_input", "{bad}");
        }
    }

    #[test]
    fn base_url_errors_do_not_echo_credentials() {
        let error = BaseUrl::parse("https://user:hunter2@idp.example.test/").unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }

    #[test]
    fn clouds_round_trip_through_serde() {
        for cloud in [
            Cloud::Public,
            Cloud::UsGovernmentDod,
            Cloud::China,
            Cloud::custom("http://127.0.0.1:47615").unwrap(),
        ] {
            let json = serde_json::to_string(&cloud).unwrap();
            let back: Cloud = serde_json::from_str(&json).unwrap();
            assert_eq!(back, cloud, "{json}");
        }
        assert_eq!(
            serde_json::to_string(&Cloud::UsGovernment).unwrap(),
            r#"{"kind":"us_government"}"#
        );
        assert_eq!(
            serde_json::to_string(&Cloud::custom("http://127.0.0.1:5").unwrap()).unwrap(),
            r#"{"kind":"custom","authority":"http://127.0.0.1:5/"}"#
        );
    }

    #[test]
    fn deserialising_validates_custom_urls() {
        let stored = r#"{"kind":"custom","authority":"http://10.0.0.1:5/"}"#;
        assert!(serde_json::from_str::<Cloud>(stored).is_err());
    }
}
