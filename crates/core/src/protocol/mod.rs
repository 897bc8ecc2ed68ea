//! [`Protocol`]: which API a connection talks to (service URL, API version, default resource,
//! key casing, scope prefix and helpers, time zone, page size). python-o365: `Protocol`,
//! `MSGraphProtocol`, `MSBusinessCentral365Protocol`.

pub mod casing;
pub mod timezone;

use serde::{Deserialize, Serialize};
use url::Url;

pub use casing::{Casing, to_camel_case, to_pascal_case, to_snake_case};
pub use timezone::TimeZone;

use crate::cloud::{BaseUrl, Cloud};
use crate::error::{Error, Result};
use crate::resource::Resource;
use crate::scopes::{self, HelperTable, Scopes};

/// The Graph API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GraphVersion {
    #[serde(rename = "v1.0")]
    V1,
    #[serde(rename = "beta")]
    Beta,
}

impl GraphVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            GraphVersion::V1 => "v1.0",
            GraphVersion::Beta => "beta",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProtocolKind {
    Graph,
    BusinessCentral,
    Custom,
}

/// python-o365 caps `$top` at 500 on the base protocol and 999 on Graph and Business Central.
const GRAPH_MAX_TOP: u32 = 999;
const DEFAULT_MAX_TOP: u32 = 500;

const BUSINESS_CENTRAL_ROOT: &str = "https://api.businesscentral.dynamics.com/";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Protocol {
    kind: ProtocolKind,
    /// Everything before the API version, ending in `/`.
    service_root: BaseUrl,
    api_version: String,
    default_resource: Resource,
    casing: Casing,
    scope_prefix: String,
    helpers: HelperTable,
    time_zone: TimeZone,
    max_top: u32,
}

impl Protocol {
    /// Microsoft Graph v1.0 on `cloud`: python-o365's default `MSGraphProtocol()`.
    pub fn graph(cloud: &Cloud) -> Self {
        Protocol::graph_version(cloud, GraphVersion::V1)
    }

    pub fn graph_version(cloud: &Cloud, version: GraphVersion) -> Self {
        Protocol {
            kind: ProtocolKind::Graph,
            service_root: graph_root(cloud),
            api_version: version.as_str().to_owned(),
            default_resource: Resource::me(),
            casing: Casing::CamelCase,
            scope_prefix: cloud.graph_scope_prefix(),
            helpers: HelperTable::Graph,
            time_zone: TimeZone::utc(),
            max_top: GRAPH_MAX_TOP,
        }
    }

    /// Business Central online: `https://api.businesscentral.dynamics.com/v2.0/[{tenant}/]
    /// {environment}/api/{api_version}/`, API version `v2.0` unless changed with
    /// [`Protocol::with_api_version`].
    ///
    /// Differences from python-o365's `MSBusinessCentral365Protocol`: the environment is
    /// required (without it python-o365 builds the retired `v1.0/api/` endpoint); the tenant
    /// may be put in the URL, which app-only (client credentials) calls need; the scopes are
    /// Business Central's own (`Financials.ReadWrite.All`, `.default`), not Graph's helpers
    /// with Business Central's prefix; the API version defaults to v2.0 (v1.0 is deprecated);
    /// the default resource is the service root, since `me` does not exist there; and no Graph
    /// keywords are carried.
    pub fn business_central(
        environment: &str,
        tenant: Option<&crate::authority::Tenant>,
    ) -> Result<Self> {
        let environment = environment.trim();
        if environment.is_empty()
            || environment.len() > 30
            || !environment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(Error::invalid_input(
                "Business Central environment",
                format!(
                    "`{environment}` must be 1 to 30 letters, digits, `-` or `_` (e.g. `production`)"
                ),
            ));
        }
        let tenant_segment = tenant
            .map(|tenant| format!("{tenant}/"))
            .unwrap_or_default();
        let root = BaseUrl::parse(&format!(
            "{BUSINESS_CENTRAL_ROOT}v2.0/{tenant_segment}{environment}/api/"
        ))?;
        Ok(Protocol {
            kind: ProtocolKind::BusinessCentral,
            service_root: root,
            api_version: "v2.0".to_owned(),
            default_resource: Resource::service_root(),
            casing: Casing::CamelCase,
            scope_prefix: BUSINESS_CENTRAL_ROOT.to_owned(),
            helpers: HelperTable::BusinessCentral,
            time_zone: TimeZone::utc(),
            max_top: GRAPH_MAX_TOP,
        })
    }

    /// Any other API: python-o365's `Protocol(protocol_url=..., api_version=...)`. Keys are
    /// left unchanged, no scope prefix, no helpers, `$top` up to 500, resource `me`, until set
    /// with the `with_` methods.
    pub fn custom(service_root: &str, api_version: &str) -> Result<Self> {
        Ok(Protocol {
            kind: ProtocolKind::Custom,
            service_root: BaseUrl::parse(service_root)?,
            api_version: check_api_version(api_version)?,
            default_resource: Resource::me(),
            casing: Casing::Unchanged,
            scope_prefix: String::new(),
            helpers: HelperTable::None,
            time_zone: TimeZone::utc(),
            max_top: DEFAULT_MAX_TOP,
        })
    }

    pub fn with_api_version(mut self, api_version: &str) -> Result<Self> {
        self.api_version = check_api_version(api_version)?;
        Ok(self)
    }

    pub fn with_default_resource(mut self, resource: Resource) -> Self {
        self.default_resource = resource;
        self
    }

    pub fn with_casing(mut self, casing: Casing) -> Self {
        self.casing = casing;
        self
    }

    /// The prefix for scopes that name no resource, e.g. `api://my-api/`; it must end in `/`
    /// (or be empty), since it is joined to scope names as it is.
    pub fn with_scope_prefix(mut self, prefix: &str) -> Result<Self> {
        let prefix = prefix.trim();
        if !prefix.is_empty()
            && (!prefix.ends_with('/')
                || !prefix.contains("://")
                || prefix.chars().any(char::is_whitespace))
        {
            return Err(Error::invalid_input(
                "scope prefix",
                format!(
                    "`{prefix}` must be a resource URI ending in `/`, e.g. `https://graph.microsoft.com/`"
                ),
            ));
        }
        self.scope_prefix = prefix.to_owned();
        Ok(self)
    }

    pub fn with_helpers(mut self, helpers: HelperTable) -> Self {
        self.helpers = helpers;
        self
    }

    pub fn with_time_zone(mut self, time_zone: TimeZone) -> Self {
        self.time_zone = time_zone;
        self
    }

    pub fn with_max_top(mut self, max_top: u32) -> Result<Self> {
        if max_top == 0 {
            return Err(Error::invalid_input("max top", "must be at least 1"));
        }
        self.max_top = max_top;
        Ok(self)
    }

    pub fn kind(&self) -> ProtocolKind {
        self.kind
    }

    pub fn api_version(&self) -> &str {
        &self.api_version
    }

    /// `{service root}{api version}/`, e.g. `https://graph.microsoft.com/v1.0/`.
    pub fn service_url(&self) -> Url {
        let mut url = self.service_root.url().clone();
        let path = format!("{}{}/", url.path(), self.api_version);
        url.set_path(&path);
        url
    }

    /// The base URL of a resource: `https://graph.microsoft.com/v1.0/users/x@y`. Segments are
    /// percent-encoded where a URL needs it (a guest's `#EXT#`). The service root gives the
    /// service URL without its trailing `/`, as python-o365 does.
    pub fn resource_url(&self, resource: &Resource) -> Url {
        let mut url = self.service_url();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty();
            for segment in resource.segments() {
                segments.push(segment);
            }
        }
        url
    }

    pub fn default_resource(&self) -> &Resource {
        &self.default_resource
    }

    pub fn casing(&self) -> Casing {
        self.casing
    }

    /// A key as the API spells it: python-o365's `convert_case`.
    pub fn to_protocol_case(&self, key: &str) -> String {
        self.casing.apply(key)
    }

    /// A key of the API as we spell it (snake_case): python-o365's `to_api_case`.
    pub fn to_snake_case(&self, key: &str) -> String {
        to_snake_case(key)
    }

    pub fn scope_prefix(&self) -> &str {
        &self.scope_prefix
    }

    pub fn helpers(&self) -> HelperTable {
        self.helpers
    }

    /// python-o365's `get_scopes_for(list)`; see [`crate::scopes`] for the differences.
    pub fn expand_scopes<S: AsRef<str>>(&self, requested: &[S]) -> Result<Scopes> {
        scopes::expand_scopes(requested, self.helpers, &self.scope_prefix)
    }

    /// python-o365's `get_scopes_for(None)`: every helper's scopes.
    pub fn all_helper_scopes(&self) -> Scopes {
        scopes::all_helper_scopes(self.helpers, &self.scope_prefix)
    }

    /// `{prefix}.default`: the only scope of app-only (client credentials) requests.
    pub fn app_only_scopes(&self) -> Result<Scopes> {
        if self.scope_prefix.is_empty() {
            return Err(Error::invalid_input(
                "scope prefix",
                "app-only tokens need the resource's `.default` scope, and this protocol has no scope prefix to name the resource",
            ));
        }
        self.expand_scopes(&[".default"])
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.time_zone
    }

    /// `outlook.timezone="<Windows name>"`, for the `Prefer` header.
    pub fn prefer_timezone_header(&self) -> String {
        self.time_zone.prefer_header_value()
    }

    pub fn max_top(&self) -> u32 {
        self.max_top
    }

    /// python-o365's `get_service_keyword`: API strings that differ between protocols.
    pub fn service_keyword(&self, keyword: &str) -> Option<String> {
        let graph_only = match keyword {
            "message_type" => Some("microsoft.graph.message"),
            "event_message_type" => Some("microsoft.graph.eventMessage"),
            "file_attachment_type" => Some("#microsoft.graph.fileAttachment"),
            "item_attachment_type" => Some("#microsoft.graph.itemAttachment"),
            "prefer_timezone_header" if self.kind != ProtocolKind::Custom => {
                return Some(self.prefer_timezone_header());
            }
            _ => None,
        };
        graph_only
            .filter(|_| self.kind == ProtocolKind::Graph)
            .map(str::to_owned)
    }
}

fn graph_root(cloud: &Cloud) -> BaseUrl {
    let root = cloud.graph_api_root();
    // Built-in roots are https; a custom cloud's root was validated as a BaseUrl already.
    BaseUrl::parse(root.as_str()).unwrap_or_else(|error| unreachable!("graph root {root}: {error}"))
}

fn check_api_version(api_version: &str) -> Result<String> {
    let version = api_version.trim().trim_matches('/');
    if version.is_empty()
        || !version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        return Err(Error::invalid_input(
            "API version",
            format!("`{version}` must be a single path segment such as `v1.0` or `beta`"),
        ));
    }
    Ok(version.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authority::Tenant;

    #[test]
    fn graph_service_urls_per_version_and_cloud() {
        assert_eq!(
            Protocol::graph(&Cloud::Public).service_url().as_str(),
            "https://graph.microsoft.com/v1.0/"
        );
        assert_eq!(
            Protocol::graph_version(&Cloud::Public, GraphVersion::Beta)
                .service_url()
                .as_str(),
            "https://graph.microsoft.com/beta/"
        );
        assert_eq!(
            Protocol::graph(&Cloud::UsGovernmentDod)
                .service_url()
                .as_str(),
            "https://dod-graph.microsoft.us/v1.0/"
        );
        assert_eq!(
            Protocol::graph(&Cloud::China).service_url().as_str(),
            "https://microsoftgraph.chinacloudapi.cn/v1.0/"
        );
        let emulator = Protocol::graph(&Cloud::custom("http://127.0.0.1:47615").unwrap());
        assert_eq!(
            emulator.service_url().as_str(),
            "http://127.0.0.1:47615/v1.0/"
        );
        assert_eq!(emulator.scope_prefix(), "https://graph.microsoft.com/");
    }

    #[test]
    fn graph_defaults_match_python_o365() {
        let graph = Protocol::graph(&Cloud::Public);
        assert_eq!(graph.kind(), ProtocolKind::Graph);
        assert!(graph.default_resource().is_me());
        assert_eq!(graph.max_top(), 999);
        assert_eq!(graph.to_protocol_case("is_read"), "isRead");
        assert_eq!(
            graph.to_snake_case("receivedDateTime"),
            "received_date_time"
        );
        assert_eq!(graph.scope_prefix(), "https://graph.microsoft.com/");
    }

    #[test]
    fn national_clouds_prefix_scopes_with_their_graph_host() {
        let scopes = Protocol::graph(&Cloud::UsGovernment)
            .expand_scopes(&["basic"])
            .unwrap();
        assert_eq!(scopes.as_slice(), ["https://graph.microsoft.us/User.Read"]);
    }

    #[test]
    fn resource_urls() {
        let graph = Protocol::graph(&Cloud::Public);
        let url = |resource: &str| {
            graph
                .resource_url(&Resource::parse(resource).unwrap())
                .to_string()
        };
        assert_eq!(url("me"), "https://graph.microsoft.com/v1.0/me");
        assert_eq!(
            url("alice@contoso.com"),
            "https://graph.microsoft.com/v1.0/users/alice@contoso.com"
        );
        assert_eq!(
            url("alice_fabrikam.com#EXT#@contoso.onmicrosoft.com"),
            "https://graph.microsoft.com/v1.0/users/alice_fabrikam.com%23EXT%23@contoso.onmicrosoft.com"
        );
        assert_eq!(
            graph.resource_url(&Resource::service_root()).as_str(),
            "https://graph.microsoft.com/v1.0"
        );
    }

    #[test]
    fn the_prefer_header_follows_the_time_zone() {
        let graph = Protocol::graph(&Cloud::Public)
            .with_time_zone(TimeZone::parse("Europe/Madrid").unwrap());
        assert_eq!(
            graph.prefer_timezone_header(),
            r#"outlook.timezone="Romance Standard Time""#
        );
        assert_eq!(
            graph.service_keyword("prefer_timezone_header").as_deref(),
            Some(r#"outlook.timezone="Romance Standard Time""#)
        );
    }

    #[test]
    fn graph_keywords_match_python_o365() {
        let graph = Protocol::graph(&Cloud::Public);
        let cases = [
            ("message_type", "microsoft.graph.message"),
            ("event_message_type", "microsoft.graph.eventMessage"),
            ("file_attachment_type", "#microsoft.graph.fileAttachment"),
            ("item_attachment_type", "#microsoft.graph.itemAttachment"),
        ];
        for (keyword, value) in cases {
            assert_eq!(
                graph.service_keyword(keyword).as_deref(),
                Some(value),
                "{keyword}"
            );
        }
        assert_eq!(graph.service_keyword("no_such_keyword"), None);
    }

    #[test]
    fn business_central_urls_and_scopes() {
        let tenant = Tenant::parse("contoso.onmicrosoft.com").unwrap();
        let bc = Protocol::business_central("production", Some(&tenant)).unwrap();
        assert_eq!(
            bc.service_url().as_str(),
            "https://api.businesscentral.dynamics.com/v2.0/contoso.onmicrosoft.com/production/api/v2.0/"
        );
        let no_tenant = Protocol::business_central("sandbox", None)
            .unwrap()
            .with_api_version("v1.0")
            .unwrap();
        assert_eq!(
            no_tenant.service_url().as_str(),
            "https://api.businesscentral.dynamics.com/v2.0/sandbox/api/v1.0/"
        );
        assert_eq!(
            bc.expand_scopes(&["financials"]).unwrap().as_slice(),
            ["https://api.businesscentral.dynamics.com/Financials.ReadWrite.All"]
        );
        assert_eq!(
            bc.app_only_scopes().unwrap().as_slice(),
            ["https://api.businesscentral.dynamics.com/.default"]
        );
        assert!(
            bc.expand_scopes(&["basic"]).is_err(),
            "Graph helpers are not Business Central scopes"
        );
        assert!(bc.default_resource().is_service_root());
        assert_eq!(bc.max_top(), 999);
        assert_eq!(bc.service_keyword("file_attachment_type"), None);
    }

    #[test]
    fn business_central_environment_is_validated() {
        for bad in [
            "",
            "prod/../x",
            "has space",
            "a-very-long-environment-name-over-30",
        ] {
            assert!(Protocol::business_central(bad, None).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn custom_protocols_carry_every_setting() {
        let custom = Protocol::custom("https://api.example.test/", "v2")
            .unwrap()
            .with_casing(Casing::PascalCase)
            .with_scope_prefix("api://my-api/")
            .unwrap()
            .with_default_resource(Resource::parse("group:g1").unwrap())
            .with_time_zone(TimeZone::parse("Asia/Tokyo").unwrap())
            .with_max_top(100)
            .unwrap();
        assert_eq!(custom.kind(), ProtocolKind::Custom);
        assert_eq!(
            custom.service_url().as_str(),
            "https://api.example.test/v2/"
        );
        assert_eq!(custom.to_protocol_case("is_read"), "IsRead");
        assert_eq!(
            custom
                .expand_scopes(&["access_as_user"])
                .unwrap()
                .as_slice(),
            ["api://my-api/access_as_user"]
        );
        assert_eq!(custom.default_resource().as_str(), "groups/g1");
        assert_eq!(custom.max_top(), 100);
        assert_eq!(custom.time_zone().windows_name(), "Tokyo Standard Time");
        assert_eq!(
            custom.service_keyword("prefer_timezone_header"),
            None,
            "python-o365's base protocol has no keywords"
        );
    }

    #[test]
    fn custom_protocol_defaults_match_python_o365_base() {
        let custom = Protocol::custom("https://api.example.test", "v1").unwrap();
        assert_eq!(custom.to_protocol_case("is_read"), "is_read");
        assert_eq!(custom.max_top(), 500);
        assert!(custom.default_resource().is_me());
        assert!(custom.app_only_scopes().is_err());
    }

    #[test]
    fn custom_protocol_input_is_validated() {
        assert!(
            Protocol::custom("http://api.example.test/", "v1").is_err(),
            "clear text off loopback"
        );
        assert!(Protocol::custom("https://api.example.test/", "").is_err());
        assert!(Protocol::custom("https://api.example.test/", "v1/../x").is_err());
        let custom = Protocol::custom("https://api.example.test/", "v1").unwrap();
        assert!(custom.clone().with_scope_prefix("api://no-slash").is_err());
        assert!(custom.clone().with_scope_prefix("not a uri/").is_err());
        assert!(custom.clone().with_max_top(0).is_err());
    }

    #[test]
    fn protocols_round_trip_through_serde() {
        let graph = Protocol::graph_version(&Cloud::UsGovernment, GraphVersion::Beta)
            .with_time_zone(TimeZone::parse("Europe/Madrid").unwrap());
        let json = serde_json::to_string(&graph).unwrap();
        assert!(json.contains(r#""api_version":"beta""#), "{json}");
        assert_eq!(serde_json::from_str::<Protocol>(&json).unwrap(), graph);
    }
}
