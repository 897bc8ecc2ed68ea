//! App registrations as people give them (CLI, IPC, UI) and as the service uses them: an
//! [`AppSpec`] becomes a store registration; a registration becomes an [`AccountConfig`].
//!
//! Stored shapes (the `app_registrations` columns that are JSON): `authority` is
//! `{"cloud": <Cloud>}` (or `{"authority": "https://host/tenant"}` for registrations the
//! token backend created), `protocol` is a [`ProtocolSpec`] (`null` = Graph v1.0), and the
//! sealed certificate is a [`CertificateSpec`] as JSON.

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::account::AccountConfig;
use crate::authority::{Authority, Tenant};
use crate::cloud::Cloud;
use crate::error::{Error, Result};
use crate::flows::{AppConfig, Certificate, ClientCredential, FlowKind};
use crate::protocol::{GraphVersion, Protocol};
use crate::secret::Secret;
use crate::store::apps::{
    AppFields, AppRegistration, AppSource, FlowType, NewAppRegistration, RedirectKind,
};

/// A registration to add, as `apps.add` receives it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSpec {
    pub name: String,
    pub client_id: String,
    pub tenant: String,
    /// `authorization`, `public` (default), `credentials`, `password`, `device_code`.
    #[serde(default)]
    pub flow: Option<String>,
    /// `public` (default), `us_gov`, `us_gov_dod`, `china`, or a custom authority URL.
    #[serde(default)]
    pub authority: Option<String>,
    /// `loopback` (default for browser flows), `deep_link`, `native_client`.
    #[serde(default)]
    pub redirect: Option<String>,
    #[serde(default)]
    pub protocol: Option<ProtocolSpec>,
    #[serde(default)]
    pub default_scopes: Vec<String>,
    #[serde(default)]
    pub client_secret: Option<Secret>,
    #[serde(default)]
    pub certificate_pem: Option<String>,
    #[serde(default)]
    pub private_key_pem: Option<Secret>,
    #[serde(default)]
    pub pkcs12_base64: Option<Secret>,
    #[serde(default)]
    pub pkcs12_password: Option<Secret>,
}

/// A change to a registration (`apps.update`): `name` names it, every other field left out
/// stays as it is. `client_secret: null` removes the secret; a new certificate replaces the
/// old one, `remove_certificate: true` removes it (a stored certificate is used before a
/// secret, so switching a confidential app to a secret needs both).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppChange {
    pub name: String,
    #[serde(default)]
    pub new_name: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub tenant: Option<String>,
    #[serde(default)]
    pub flow: Option<String>,
    #[serde(default)]
    pub authority: Option<String>,
    #[serde(default)]
    pub redirect: Option<String>,
    #[serde(default)]
    pub protocol: Option<ProtocolSpec>,
    #[serde(default)]
    pub default_scopes: Option<Vec<String>>,
    #[serde(default, deserialize_with = "crate::store::settings::present")]
    pub client_secret: Option<Option<Secret>>,
    #[serde(default)]
    pub certificate_pem: Option<String>,
    #[serde(default)]
    pub private_key_pem: Option<Secret>,
    #[serde(default)]
    pub pkcs12_base64: Option<Secret>,
    #[serde(default)]
    pub pkcs12_password: Option<Secret>,
    #[serde(default)]
    pub remove_certificate: bool,
}

impl AppChange {
    fn new_certificate(&self) -> bool {
        self.certificate_pem.is_some() || self.pkcs12_base64.is_some()
    }
}

/// The full spec a change makes of a stored registration, to be checked like a new one.
pub(crate) fn changed_spec(
    view: &AppView,
    secret: Option<Secret>,
    certificate: Option<Secret>,
    change: AppChange,
) -> Result<AppSpec> {
    let new_certificate = change.new_certificate();
    if new_certificate && change.remove_certificate {
        return Err(Error::invalid_input(
            "remove_certificate",
            "give a new certificate or remove the stored one, not both",
        ));
    }
    let protocol = match change.protocol {
        Some(protocol) => Some(protocol),
        None => serde_json::from_value(view.protocol.clone()).ok(),
    };
    let mut spec = AppSpec {
        name: change.new_name.clone().unwrap_or_else(|| view.name.clone()),
        client_id: change
            .client_id
            .clone()
            .unwrap_or_else(|| view.client_id.clone()),
        tenant: change.tenant.clone().unwrap_or_else(|| view.tenant.clone()),
        flow: Some(change.flow.clone().unwrap_or_else(|| view.flow.to_owned())),
        authority: Some(
            change
                .authority
                .clone()
                .unwrap_or_else(|| view.cloud.clone()),
        ),
        redirect: Some(
            change
                .redirect
                .clone()
                .unwrap_or_else(|| view.redirect.to_owned()),
        ),
        protocol,
        default_scopes: change
            .default_scopes
            .clone()
            .unwrap_or_else(|| view.default_scopes.clone()),
        client_secret: match change.client_secret.clone() {
            Some(replaced) => replaced,
            None => secret,
        },
        certificate_pem: None,
        private_key_pem: None,
        pkcs12_base64: None,
        pkcs12_password: None,
    };
    let flow = spec.flow.as_deref().unwrap_or("public");
    if matches!(flow, "public" | "device_code") {
        // A public client holds no credential: switching an app to such a flow drops the
        // stored ones rather than refusing the change (a new one given here is still refused).
        if change.client_secret.is_none() {
            spec.client_secret = None;
        }
        if !new_certificate {
            return Ok(spec);
        }
    }
    if new_certificate {
        spec.certificate_pem = change.certificate_pem;
        spec.private_key_pem = change.private_key_pem;
        spec.pkcs12_base64 = change.pkcs12_base64;
        spec.pkcs12_password = change.pkcs12_password;
    } else if let Some(stored) = certificate.filter(|_| !change.remove_certificate) {
        match serde_json::from_str::<CertificateSpec>(stored.expose()) {
            Ok(CertificateSpec::Pem { pem, key }) => {
                spec.certificate_pem = Some(pem);
                spec.private_key_pem = Some(key);
            }
            Ok(CertificateSpec::Pkcs12 { pkcs12, password }) => {
                spec.pkcs12_base64 = Some(pkcs12);
                spec.pkcs12_password = Some(password);
            }
            Err(_) => {
                return Err(Error::protocol(
                    "the app's stored certificate is unreadable; give it again",
                ));
            }
        }
    }
    Ok(spec)
}

/// Which API an app's accounts call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ProtocolSpec {
    Graph {
        #[serde(default)]
        version: Option<GraphVersion>,
    },
    BusinessCentral {
        environment: String,
        #[serde(default)]
        tenant_in_url: bool,
    },
    Custom {
        url: String,
        api_version: String,
    },
}

/// A certificate as it is kept (sealed) in the store.
#[derive(Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum CertificateSpec {
    Pem { pem: String, key: Secret },
    Pkcs12 { pkcs12: Secret, password: Secret },
}

/// A registration as the service shows it: no secrets, only whether there are some.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppView {
    pub id: String,
    pub name: String,
    pub client_id: String,
    pub tenant: String,
    /// The sign-in host's URL.
    pub authority: String,
    /// As `apps.add` takes it: `public`, `us_gov`, `us_gov_dod`, `china`, or the custom
    /// authority URL (GCC High and DoD share a sign-in host, so `authority` cannot tell them).
    pub cloud: String,
    pub flow: &'static str,
    pub redirect: &'static str,
    pub protocol: Value,
    pub default_scopes: Vec<String>,
    pub has_client_secret: bool,
    pub has_certificate: bool,
    pub source: &'static str,
    pub accounts: usize,
}

impl AppView {
    pub(crate) fn new(registration: &AppRegistration, accounts: usize) -> Self {
        let fields = &registration.fields;
        AppView {
            id: registration.id.clone(),
            name: fields.name.clone(),
            client_id: fields.client_id.clone(),
            tenant: fields.tenant.clone(),
            authority: stored_cloud(fields)
                .map(|cloud| Authority::new(cloud, Tenant::Common).cloud.authority_host())
                .map(|url| url.to_string())
                .unwrap_or_default(),
            cloud: stored_cloud(fields)
                .map(|cloud| match cloud {
                    Cloud::Public => "public".to_owned(),
                    Cloud::UsGovernment => "us_gov".to_owned(),
                    Cloud::UsGovernmentDod => "us_gov_dod".to_owned(),
                    Cloud::China => "china".to_owned(),
                    custom => Authority::new(custom, Tenant::Common)
                        .cloud
                        .authority_host()
                        .to_string(),
                })
                .unwrap_or_default(),
            flow: fields.flow_type.as_str(),
            redirect: fields.redirect_kind.as_str(),
            protocol: fields.protocol.clone(),
            default_scopes: fields.default_scopes.clone(),
            has_client_secret: registration.has_client_secret,
            has_certificate: registration.has_certificate,
            source: registration.source.as_str(),
            accounts,
        }
    }
}

/// Checks a spec completely (tenant, flow and credentials agree, the certificate opens, the
/// scopes expand) and turns it into a registration to store.
pub fn registration_from_spec(spec: AppSpec) -> Result<NewAppRegistration> {
    let name = spec.name.trim().to_owned();
    if name.is_empty() || name.len() > 100 || name.contains('/') {
        return Err(Error::invalid_input(
            "app name",
            "must be 1 to 100 characters without `/`",
        ));
    }
    let client_id = spec.client_id.trim().to_owned();
    if uuid::Uuid::try_parse(&client_id).is_err() {
        return Err(Error::invalid_input(
            "client id",
            "must be the app's Application (client) ID, a GUID",
        ));
    }
    let tenant = Tenant::parse(&spec.tenant)?;
    let cloud = parse_cloud(spec.authority.as_deref())?;
    let flow_type = match spec.flow.as_deref().unwrap_or("public") {
        "authorization" => FlowType::Authorization,
        "public" => FlowType::Public,
        "credentials" => FlowType::Credentials,
        "password" => FlowType::Password,
        "device_code" => FlowType::DeviceCode,
        other => {
            return Err(Error::invalid_input(
                "flow",
                format!(
                    "`{other}` is not one of authorization, public, credentials, password, device_code"
                ),
            ));
        }
    };
    let redirect_kind = match (spec.redirect.as_deref(), flow_type) {
        (Some("loopback"), _) => RedirectKind::Loopback,
        (Some("deep_link"), _) => RedirectKind::DeepLink,
        (Some("native_client"), _) => RedirectKind::NativeClient,
        (Some("none"), _) => RedirectKind::None,
        (Some(other), _) => {
            return Err(Error::invalid_input(
                "redirect",
                format!("`{other}` is not one of loopback, deep_link, native_client, none"),
            ));
        }
        (None, FlowType::Authorization | FlowType::Public) => RedirectKind::Loopback,
        (None, _) => RedirectKind::None,
    };
    let certificate = certificate_spec(&spec)?;
    let protocol = spec
        .protocol
        .clone()
        .unwrap_or(ProtocolSpec::Graph { version: None });
    let fields = AppFields {
        name,
        client_id,
        tenant: tenant.to_string(),
        environment: Authority::new(cloud.clone(), tenant.clone()).environment(),
        authority: serde_json::json!({ "cloud": cloud }).to_string(),
        flow_type,
        redirect_kind,
        protocol: serde_json::to_value(&protocol).unwrap_or(Value::Null),
        default_scopes: spec
            .default_scopes
            .iter()
            .map(|scope| scope.trim().to_owned())
            .filter(|scope| !scope.is_empty())
            .collect(),
    };
    let certificate = match certificate {
        Some(certificate) => Some(Secret::new(
            serde_json::to_string(&certificate)
                .map_err(|_| Error::protocol("the certificate could not be encoded"))?,
        )),
        None => None,
    };
    let new = NewAppRegistration {
        fields,
        client_secret: spec.client_secret.filter(|secret| !secret.is_empty()),
        certificate,
        source: AppSource::User,
    };
    // Building the account proves the pieces fit (credential for the flow, tenant, scopes):
    // the config alone checks none of them.
    let config = account_config(&new.fields, credential(&new)?, None)?;
    crate::account::Account::new(
        config,
        std::sync::Arc::new(crate::backend::MemoryBackend::new()),
    )?;
    Ok(new)
}

fn certificate_spec(spec: &AppSpec) -> Result<Option<CertificateSpec>> {
    match (
        &spec.certificate_pem,
        &spec.private_key_pem,
        &spec.pkcs12_base64,
    ) {
        (None, None, None) => Ok(None),
        (Some(pem), key, None) => {
            // A PEM file may hold the key after the certificate.
            let key = key.clone().unwrap_or_else(|| Secret::new(pem.clone()));
            Certificate::from_pem(pem.as_bytes(), &key)?;
            Ok(Some(CertificateSpec::Pem {
                pem: pem.clone(),
                key,
            }))
        }
        (None, None, Some(pkcs12)) => {
            let password = spec.pkcs12_password.clone().unwrap_or_default();
            open_pkcs12(pkcs12, &password)?;
            Ok(Some(CertificateSpec::Pkcs12 {
                pkcs12: pkcs12.clone(),
                password,
            }))
        }
        _ => Err(Error::invalid_input(
            "certificate",
            "give either a PEM certificate (and its key) or a PKCS#12 file, not both",
        )),
    }
}

fn open_pkcs12(pkcs12: &Secret, password: &Secret) -> Result<Certificate> {
    let der = base64::engine::general_purpose::STANDARD
        .decode(pkcs12.expose().trim())
        .map_err(|_| Error::invalid_input("PKCS#12 file", "must be sent as base64"))?;
    Certificate::from_pkcs12(&der, password)
}

fn credential(new: &NewAppRegistration) -> Result<ClientCredential> {
    credential_from(new.client_secret.clone(), new.certificate.clone())
}

/// The client credential of a stored registration, from its sealed secret or certificate.
pub(crate) fn credential_from(
    client_secret: Option<Secret>,
    certificate: Option<Secret>,
) -> Result<ClientCredential> {
    if let Some(certificate) = certificate {
        let spec: CertificateSpec = serde_json::from_str(certificate.expose())
            .map_err(|_| Error::protocol("the stored certificate is unreadable"))?;
        let certificate = match spec {
            CertificateSpec::Pem { pem, key } => Certificate::from_pem(pem.as_bytes(), &key)?,
            CertificateSpec::Pkcs12 { pkcs12, password } => open_pkcs12(&pkcs12, &password)?,
        };
        return Ok(ClientCredential::Certificate(certificate));
    }
    Ok(match client_secret {
        Some(secret) => ClientCredential::Secret(secret),
        None => ClientCredential::None,
    })
}

/// The account settings of a registration; `flow` overrides its flow for one sign-in
/// (device code with a public app, say).
pub(crate) fn account_config(
    fields: &AppFields,
    credential: ClientCredential,
    flow: Option<FlowKind>,
) -> Result<AccountConfig> {
    let cloud = stored_cloud(fields)?;
    let tenant = Tenant::parse(&fields.tenant)?;
    let protocol = protocol(fields, &cloud, &tenant)?;
    let app = AppConfig {
        client_id: fields.client_id.clone(),
        credential,
        authority: Authority::new(cloud, tenant),
    };
    let flow = flow.unwrap_or(match fields.flow_type {
        FlowType::Authorization => FlowKind::Authorization,
        FlowType::Public => FlowKind::Public,
        FlowType::Credentials => FlowKind::Credentials,
        FlowType::Password => FlowKind::Password,
        FlowType::DeviceCode => FlowKind::DeviceCode,
    });
    let mut config = AccountConfig::new(app, flow, protocol);
    if !fields.default_scopes.is_empty() {
        config.scopes = fields.default_scopes.clone();
    }
    Ok(config)
}

fn protocol(fields: &AppFields, cloud: &Cloud, tenant: &Tenant) -> Result<Protocol> {
    if fields.protocol.is_null() {
        return Ok(Protocol::graph(cloud));
    }
    let spec: ProtocolSpec = serde_json::from_value(fields.protocol.clone()).map_err(|_| {
        Error::invalid_input(
            "protocol",
            format!(
                "the app `{}` has a protocol this version cannot read",
                fields.name
            ),
        )
    })?;
    protocol_from_spec(&spec, cloud, tenant)
}

pub(crate) fn protocol_from_spec(
    spec: &ProtocolSpec,
    cloud: &Cloud,
    tenant: &Tenant,
) -> Result<Protocol> {
    match spec {
        ProtocolSpec::Graph { version } => Ok(Protocol::graph_version(
            cloud,
            version.unwrap_or(GraphVersion::V1),
        )),
        ProtocolSpec::BusinessCentral {
            environment,
            tenant_in_url,
        } => Protocol::business_central(environment, tenant_in_url.then_some(tenant)),
        ProtocolSpec::Custom { url, api_version } => Protocol::custom(url, api_version),
    }
}

fn parse_cloud(authority: Option<&str>) -> Result<Cloud> {
    match authority.map(str::trim) {
        None | Some("" | "public") => Ok(Cloud::Public),
        Some("us_gov") => Ok(Cloud::UsGovernment),
        Some("us_gov_dod") => Ok(Cloud::UsGovernmentDod),
        Some("china") => Ok(Cloud::China),
        Some(url) => cloud_of_host_url(url),
    }
}

/// A sign-in host URL as a cloud: Microsoft's hosts by name, anything else custom.
fn cloud_of_host_url(url: &str) -> Result<Cloud> {
    let parsed = url::Url::parse(url)
        .map_err(|_| Error::invalid_input("authority", format!("`{url}` is not a URL")))?;
    for cloud in [Cloud::Public, Cloud::UsGovernment, Cloud::China] {
        if cloud.authority_host().host_str() == parsed.host_str() && parsed.scheme() == "https" {
            return Ok(cloud);
        }
    }
    let mut base = parsed.clone();
    base.set_path("/");
    Cloud::custom(base.as_str())
}

fn stored_cloud(fields: &AppFields) -> Result<Cloud> {
    let unreadable = || {
        Error::invalid_input(
            "authority",
            format!(
                "the app `{}` has an authority this version cannot read",
                fields.name
            ),
        )
    };
    let value: Value = serde_json::from_str(&fields.authority).map_err(|_| unreadable())?;
    if let Some(cloud) = value.get("cloud") {
        return serde_json::from_value(cloud.clone()).map_err(|_| unreadable());
    }
    // Registrations the token backend created know only the host.
    let host = &fields.environment;
    let loopback = host.starts_with("127.0.0.1") || host.starts_with("localhost");
    let scheme = if loopback { "http" } else { "https" };
    cloud_of_host_url(&format!("{scheme}://{host}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> AppSpec {
        AppSpec {
            name: "contoso".into(),
            client_id: "9b3c1a2e-5a1e-4f0e-9d7a-0c8f2f7a1b11".into(),
            tenant: "contoso.onmicrosoft.com".into(),
            ..AppSpec::default()
        }
    }

    #[test]
    fn a_public_app_defaults_to_graph_and_a_loopback_redirect() {
        let new = registration_from_spec(spec()).unwrap();
        assert_eq!(new.fields.flow_type, FlowType::Public);
        assert_eq!(new.fields.redirect_kind, RedirectKind::Loopback);
        assert_eq!(new.fields.environment, "login.microsoftonline.com");
        let config = account_config(&new.fields, ClientCredential::None, None).unwrap();
        assert_eq!(config.flow, FlowKind::Public);
        assert_eq!(
            config.protocol.service_url().as_str(),
            "https://graph.microsoft.com/v1.0/"
        );
    }

    #[test]
    fn mismatched_flows_and_credentials_are_refused_with_the_reason() {
        let confidential = AppSpec {
            flow: Some("credentials".into()),
            ..spec()
        };
        let error = registration_from_spec(confidential).unwrap_err();
        assert!(
            error.to_string().contains("secret or a certificate"),
            "{error}"
        );
        let common = AppSpec {
            flow: Some("credentials".into()),
            tenant: "common".into(),
            client_secret: Some(Secret::new("s3cret")),
            ..spec()
        };
        assert!(registration_from_spec(common).is_err());
        let bad_flow = AppSpec {
            flow: Some("implicit".into()),
            ..spec()
        };
        assert!(
            registration_from_spec(bad_flow)
                .unwrap_err()
                .to_string()
                .contains("implicit")
        );
        let bad_id = AppSpec {
            client_id: "not-a-guid".into(),
            ..spec()
        };
        assert!(registration_from_spec(bad_id).is_err());
    }

    #[test]
    fn clouds_are_read_back_as_written() {
        for (given, host) in [
            (None, "login.microsoftonline.com"),
            (Some("china"), "login.partner.microsoftonline.cn"),
            (Some("http://127.0.0.1:47615"), "127.0.0.1"),
        ] {
            let new = registration_from_spec(AppSpec {
                authority: given.map(str::to_owned),
                ..spec()
            })
            .unwrap();
            let cloud = stored_cloud(&new.fields).unwrap();
            assert_eq!(cloud.authority_host().host_str(), Some(host));
        }
    }

    #[test]
    fn business_central_takes_its_own_scopes() {
        let new = registration_from_spec(AppSpec {
            protocol: Some(ProtocolSpec::BusinessCentral {
                environment: "production".into(),
                tenant_in_url: false,
            }),
            default_scopes: vec!["https://api.businesscentral.dynamics.com/.default".into()],
            ..spec()
        })
        .unwrap();
        let config = account_config(&new.fields, ClientCredential::None, None).unwrap();
        assert!(
            config
                .protocol
                .service_url()
                .as_str()
                .contains("production")
        );
    }

    #[test]
    fn secrets_do_not_show_in_debug() {
        let spec = AppSpec {
            flow: Some("authorization".into()),
            client_secret: Some(Secret::new("hunter2-client-secret")),
            ..spec()
        };
        assert!(!format!("{spec:?}").contains("hunter2"));
        let new = registration_from_spec(spec).unwrap();
        assert!(!format!("{new:?}").contains("hunter2"));
    }
}
