//! Tenants and authorities: `{cloud sign-in host}/{tenant}`, with the OpenID discovery URL and
//! the standard v2.0 endpoint paths to fall back on when discovery is not used.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use url::Url;
use uuid::Uuid;

use crate::cloud::Cloud;
use crate::error::{Error, Result};

/// The tenant segment of an authority.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Tenant {
    /// Work or school and personal accounts.
    Common,
    /// Work or school accounts only.
    Organizations,
    /// Personal Microsoft accounts only.
    Consumers,
    /// A tenant id.
    Id(Uuid),
    /// A verified domain of the tenant, e.g. `contoso.onmicrosoft.com`, kept in lower case.
    Domain(String),
}

impl Tenant {
    /// Parses a tenant as python-o365's `tenant_id` accepts it, refusing what Microsoft would:
    /// anything that is neither a well-known name, a GUID nor a DNS domain.
    pub fn parse(input: &str) -> Result<Tenant> {
        let value = input.trim();
        if value.is_empty() {
            return Err(Error::invalid_input("tenant", "must not be empty"));
        }
        for (name, tenant) in [
            ("common", Tenant::Common),
            ("organizations", Tenant::Organizations),
            ("consumers", Tenant::Consumers),
        ] {
            if value.eq_ignore_ascii_case(name) {
                return Ok(tenant);
            }
        }
        if let Ok(id) = Uuid::try_parse(value) {
            return Ok(Tenant::Id(id));
        }
        if is_domain(value) {
            return Ok(Tenant::Domain(value.to_ascii_lowercase()));
        }
        Err(Error::invalid_input(
            "tenant",
            format!(
                "`{value}` is not `common`, `organizations`, `consumers`, a tenant id (GUID) \
                 or a domain such as contoso.onmicrosoft.com"
            ),
        ))
    }

    /// A single tenant, as client credentials and the password grant require: Microsoft refuses
    /// them on `common`/`consumers` (AADSTS9001023) and issues app tokens per tenant.
    pub fn is_specific(&self) -> bool {
        matches!(self, Tenant::Id(_) | Tenant::Domain(_))
    }

    pub fn as_segment(&self) -> String {
        self.to_string()
    }
}

/// DNS name with at least two labels of letters, digits and inner hyphens.
fn is_domain(value: &str) -> bool {
    let labels: Vec<&str> = value.split('.').collect();
    value.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|label| {
            (1..=63).contains(&label.len())
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
        && labels
            .last()
            .is_some_and(|top| top.chars().any(|c| c.is_ascii_alphabetic()))
}

impl fmt::Display for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tenant::Common => f.write_str("common"),
            Tenant::Organizations => f.write_str("organizations"),
            Tenant::Consumers => f.write_str("consumers"),
            Tenant::Id(id) => write!(f, "{}", id.hyphenated()),
            Tenant::Domain(domain) => f.write_str(domain),
        }
    }
}

impl FromStr for Tenant {
    type Err = Error;

    fn from_str(input: &str) -> Result<Tenant> {
        Tenant::parse(input)
    }
}

impl TryFrom<String> for Tenant {
    type Error = Error;

    fn try_from(value: String) -> Result<Tenant> {
        Tenant::parse(&value)
    }
}

impl From<Tenant> for String {
    fn from(value: Tenant) -> Self {
        value.to_string()
    }
}

/// Where to sign in: a cloud and a tenant. python-o365 always uses
/// `https://login.microsoftonline.com/{tenant_id}`, default `common`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authority {
    pub cloud: Cloud,
    pub tenant: Tenant,
}

/// The v2.0 endpoints of an authority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoints {
    pub authorize: Url,
    pub token: Url,
    pub device_code: Url,
}

impl Authority {
    pub fn new(cloud: Cloud, tenant: Tenant) -> Self {
        Authority { cloud, tenant }
    }

    /// `https://login.microsoftonline.com/common`, python-o365's default.
    pub fn public_common() -> Self {
        Authority::new(Cloud::Public, Tenant::Common)
    }

    /// `{host}/{tenant}`, without a trailing slash, as MSAL writes authorities.
    pub fn url(&self) -> Url {
        self.join("")
    }

    /// `{host}/{tenant}/v2.0/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> Url {
        self.join("/v2.0/.well-known/openid-configuration")
    }

    /// The standard endpoint paths, for when discovery is skipped or fails: Microsoft's are
    /// fixed per authority (`/oauth2/v2.0/authorize`, `/token`, `/devicecode`).
    pub fn endpoints(&self) -> Endpoints {
        Endpoints {
            authorize: self.join("/oauth2/v2.0/authorize"),
            token: self.join("/oauth2/v2.0/token"),
            device_code: self.join("/oauth2/v2.0/devicecode"),
        }
    }

    /// The MSAL cache's `environment`: the sign-in host, with its port when it has one.
    pub fn environment(&self) -> String {
        let host = self.cloud.authority_host();
        let name = host.host_str().unwrap_or_default();
        match host.port() {
            Some(port) => format!("{name}:{port}"),
            None => name.to_owned(),
        }
    }

    /// Refuses multi-tenant authorities for flows that need one tenant (client credentials,
    /// password); `flow` names the flow in the message.
    pub fn require_specific_tenant(&self, flow: &str) -> Result<()> {
        if self.tenant.is_specific() {
            Ok(())
        } else {
            Err(Error::invalid_input(
                "tenant",
                format!(
                    "the {flow} flow needs a specific tenant (its id or domain), not `{}`",
                    self.tenant
                ),
            ))
        }
    }

    fn join(&self, path: &str) -> Url {
        let mut url = self.cloud.authority_host();
        // The host URL ends in '/' (see `BaseUrl`); the tenant is a validated single segment.
        let full = format!("{}{}{path}", url.path(), self.tenant);
        url.set_path(&full);
        url
    }
}

impl fmt::Display for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.url().as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_tenants_parse_in_any_case() {
        assert_eq!(Tenant::parse("common").unwrap(), Tenant::Common);
        assert_eq!(
            Tenant::parse("Organizations").unwrap(),
            Tenant::Organizations
        );
        assert_eq!(Tenant::parse(" CONSUMERS ").unwrap(), Tenant::Consumers);
    }

    #[test]
    fn guid_and_domain_tenants_are_normalised_to_lower_case() {
        let id = Tenant::parse("72F988BF-86F1-41AF-91AB-2D7CD011DB47").unwrap();
        assert_eq!(id.to_string(), "72f988bf-86f1-41af-91ab-2d7cd011db47");
        assert!(id.is_specific());
        let domain = Tenant::parse("Contoso.OnMicrosoft.com").unwrap();
        assert_eq!(domain, Tenant::Domain("contoso.onmicrosoft.com".into()));
        assert!(domain.is_specific());
        assert!(!Tenant::Common.is_specific());
        assert!(!Tenant::Organizations.is_specific());
    }

    #[test]
    fn malformed_tenants_are_refused() {
        for bad in [
            "",
            "  ",
            "contoso",
            "contoso..com",
            "-contoso.com",
            "contoso.com/evil",
            "a b.com",
            "1.2.3.4",
            "72f988bf-86f1",
        ] {
            let error = Tenant::parse(bad).unwrap_err();
            assert_eq!(error.code(), "invalid_input", "{bad:?}");
        }
    }

    #[test]
    fn public_authority_urls() {
        let authority = Authority::public_common();
        assert_eq!(
            authority.url().as_str(),
            "https://login.microsoftonline.com/common"
        );
        assert_eq!(
            authority.discovery_url().as_str(),
            "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration"
        );
        let endpoints = authority.endpoints();
        assert_eq!(
            endpoints.authorize.as_str(),
            "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"
        );
        assert_eq!(
            endpoints.token.as_str(),
            "https://login.microsoftonline.com/common/oauth2/v2.0/token"
        );
        assert_eq!(
            endpoints.device_code.as_str(),
            "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode"
        );
        assert_eq!(authority.environment(), "login.microsoftonline.com");
    }

    #[test]
    fn national_and_custom_authorities() {
        let china = Authority::new(
            Cloud::China,
            Tenant::parse("contoso.partner.onmschina.cn").unwrap(),
        );
        assert_eq!(
            china.endpoints().token.as_str(),
            "https://login.partner.microsoftonline.cn/contoso.partner.onmschina.cn/oauth2/v2.0/token"
        );
        let emulator = Authority::new(
            Cloud::custom("http://127.0.0.1:47615").unwrap(),
            Tenant::Organizations,
        );
        assert_eq!(
            emulator.discovery_url().as_str(),
            "http://127.0.0.1:47615/organizations/v2.0/.well-known/openid-configuration"
        );
        assert_eq!(emulator.environment(), "127.0.0.1:47615");
        let behind_a_path = Authority::new(
            Cloud::custom("https://idp.example.test/login").unwrap(),
            Tenant::Common,
        );
        assert_eq!(
            behind_a_path.endpoints().token.as_str(),
            "https://idp.example.test/login/common/oauth2/v2.0/token"
        );
    }

    #[test]
    fn flows_needing_one_tenant_refuse_multi_tenant_authorities() {
        let error = Authority::public_common()
            .require_specific_tenant("client credentials")
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("client credentials flow needs a specific tenant"),
            "{error}"
        );
        let specific = Authority::new(Cloud::Public, Tenant::parse("contoso.com").unwrap());
        assert!(specific.require_specific_tenant("password").is_ok());
    }

    #[test]
    fn authorities_round_trip_through_serde_and_validate() {
        let authority = Authority::new(
            Cloud::UsGovernment,
            Tenant::parse("72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap(),
        );
        let json = serde_json::to_string(&authority).unwrap();
        assert_eq!(
            json,
            r#"{"cloud":{"kind":"us_government"},"tenant":"72f988bf-86f1-41af-91ab-2d7cd011db47"}"#
        );
        assert_eq!(serde_json::from_str::<Authority>(&json).unwrap(), authority);
        let bad = r#"{"cloud":{"kind":"public"},"tenant":"not a tenant"}"#;
        assert!(serde_json::from_str::<Authority>(bad).is_err());
    }
}
