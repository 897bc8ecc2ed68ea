//! The configuration indexed for lookups: tenants by id or domain, apps by client id, users by
//! name, certificates parsed, object ids assigned. Immutable once the emulator runs; per-user
//! switches the control API flips live in [`crate::store`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::traits::PublicKeyParts;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use uuid::Uuid;
use x509_cert::der::{DecodePem, Encode};

use crate::config::{
    AppRegistration, CONSUMERS_TENANT_ID, ConfigError, EmulatorConfig, ResourceConfig,
    SignInAudience, UserConfig,
};
use crate::errors::AadError;

/// The tenant segment of a URL, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authority {
    Common,
    Organizations,
    Consumers,
    Tenant(Uuid),
}

impl Authority {
    /// `common`, `organizations` or `consumers`: no single tenant named.
    pub fn is_multi(self) -> bool {
        !matches!(self, Authority::Tenant(_))
    }
}

#[derive(Debug)]
pub struct Tenant {
    pub id: Uuid,
    pub display_name: String,
    pub domains: Vec<String>,
    pub consumers: bool,
}

#[derive(Debug)]
pub struct User {
    pub oid: Uuid,
    pub tenant_id: Uuid,
    pub config: UserConfig,
}

impl User {
    pub fn username(&self) -> &str {
        &self.config.username
    }
    pub fn mail(&self) -> &str {
        self.config.mail.as_deref().unwrap_or(&self.config.username)
    }
}

/// A registered certificate: its thumbprints and public key.
#[derive(Debug, Clone)]
pub struct Certificate {
    /// base64url SHA-1 of the DER (`x5t`).
    pub x5t: String,
    /// base64url SHA-256 of the DER (`x5t#S256`).
    pub x5t_s256: String,
    pub n: Vec<u8>,
    pub e: Vec<u8>,
}

impl Certificate {
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let cert = x509_cert::Certificate::from_pem(pem.trim().as_bytes())
            .map_err(|error| format!("not a PEM certificate: {error}"))?;
        let der = cert
            .to_der()
            .map_err(|error| format!("cannot re-encode certificate: {error}"))?;
        let spki = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|error| format!("cannot encode public key: {error}"))?;
        let public = <rsa::RsaPublicKey as rsa::pkcs8::DecodePublicKey>::from_public_key_der(&spki)
            .map_err(|error| format!("certificate key is not RSA: {error}"))?;
        Ok(Certificate {
            x5t: URL_SAFE_NO_PAD.encode(Sha1::digest(&der)),
            x5t_s256: URL_SAFE_NO_PAD.encode(Sha256::digest(&der)),
            n: public.n().to_bytes_be(),
            e: public.e().to_bytes_be(),
        })
    }
}

#[derive(Debug)]
pub struct App {
    pub tenant_id: Uuid,
    pub reg: AppRegistration,
    pub certificates: Vec<Certificate>,
    /// Object id of the app's service principal (`oid`/`sub` of app-only tokens).
    pub sp_oid: Uuid,
}

impl App {
    pub fn client_id(&self) -> Uuid {
        self.reg.client_id
    }
    pub fn name(&self) -> &str {
        &self.reg.display_name
    }
    pub fn audience(&self) -> SignInAudience {
        self.reg.sign_in_audience
    }
}

#[derive(Debug)]
pub struct Directory {
    pub tenants: Vec<Tenant>,
    pub users: Vec<User>,
    pub apps: Vec<App>,
    pub resources: Vec<ResourceConfig>,
}

impl Directory {
    pub fn build(config: &EmulatorConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let mut tenants = Vec::new();
        let mut users = Vec::new();
        let mut apps = Vec::new();
        for tenant in &config.tenants {
            tenants.push(Tenant {
                id: tenant.id,
                display_name: tenant.display_name.clone(),
                domains: tenant.domains.clone(),
                consumers: tenant.is_consumers(),
            });
            for user in &tenant.users {
                users.push(User {
                    oid: user.object_id.unwrap_or_else(Uuid::new_v4),
                    tenant_id: tenant.id,
                    config: user.clone(),
                });
            }
            for reg in &tenant.apps {
                let certificates = reg
                    .certificates
                    .iter()
                    .map(|pem| Certificate::from_pem(pem))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|error| {
                        ConfigError::Invalid(format!("app {}: {error}", reg.client_id))
                    })?;
                apps.push(App {
                    tenant_id: tenant.id,
                    reg: reg.clone(),
                    certificates,
                    sp_oid: Uuid::new_v5(&tenant.id, reg.client_id.as_bytes()),
                });
            }
        }
        let mut resources = vec![ResourceConfig::graph()];
        for resource in &config.resources {
            if resource
                .uri
                .trim_end_matches('/')
                .eq_ignore_ascii_case(crate::config::GRAPH_RESOURCE)
            {
                resources[0] = resource.clone();
            } else {
                resources.push(resource.clone());
            }
        }
        Ok(Directory {
            tenants,
            users,
            apps,
            resources,
        })
    }

    /// Resolves the `{tenant}` URL segment (AADSTS90002 when unknown).
    pub fn authority(&self, segment: &str) -> Result<Authority, AadError> {
        match segment.to_ascii_lowercase().as_str() {
            "common" => return Ok(Authority::Common),
            "organizations" => return Ok(Authority::Organizations),
            "consumers" => return Ok(Authority::Consumers),
            _ => {}
        }
        let found = if let Ok(id) = Uuid::parse_str(segment) {
            self.tenants.iter().find(|t| t.id == id)
        } else {
            self.tenants
                .iter()
                .find(|t| t.domains.iter().any(|d| d.eq_ignore_ascii_case(segment)))
        };
        match found {
            Some(tenant) => Ok(Authority::Tenant(tenant.id)),
            None if segment.eq_ignore_ascii_case(CONSUMERS_TENANT_ID) => Ok(Authority::Consumers),
            None => Err(AadError::new(90002).arg("tenant", segment)),
        }
    }

    pub fn tenant(&self, id: Uuid) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.id == id)
    }

    pub fn consumers_tenant(&self) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.consumers)
    }

    /// The tenant id tokens carry for a request on `authority` (none for `common`/`organizations`).
    pub fn tenant_id_of(&self, authority: Authority) -> Option<Uuid> {
        match authority {
            Authority::Tenant(id) => Some(id),
            Authority::Consumers => Uuid::parse_str(CONSUMERS_TENANT_ID).ok(),
            _ => None,
        }
    }

    /// Finds the app a request names, applying the audience rules of the tenant segment.
    pub fn app_for(
        &self,
        authority: Authority,
        segment: &str,
        client_id: &str,
    ) -> Result<&App, AadError> {
        let not_found = || {
            AadError::new(700016)
                .arg("client_id", client_id)
                .arg("tenant", segment)
        };
        let id = Uuid::parse_str(client_id.trim()).map_err(|_| not_found())?;
        let app = self
            .apps
            .iter()
            .find(|a| a.client_id() == id)
            .ok_or_else(not_found)?;
        match authority {
            Authority::Common | Authority::Organizations => {
                if !app.audience().multi_tenant() {
                    return Err(AadError::new(50194)
                        .arg("client_id", app.client_id())
                        .arg("app_name", app.name()));
                }
            }
            Authority::Consumers => {
                if !app.audience().allows_personal() {
                    return Err(AadError::not_enabled_for_consumers());
                }
            }
            Authority::Tenant(tenant) => {
                if app.tenant_id != tenant && !app.audience().multi_tenant() {
                    return Err(not_found());
                }
            }
        }
        Ok(app)
    }

    pub fn user_by_name(&self, username: &str) -> Option<&User> {
        let username = username.trim();
        self.users
            .iter()
            .find(|u| u.config.username.eq_ignore_ascii_case(username))
    }

    pub fn user(&self, oid: Uuid) -> Option<&User> {
        self.users.iter().find(|u| u.oid == oid)
    }

    pub fn users_of(&self, tenant: Uuid) -> impl Iterator<Item = &User> {
        self.users.iter().filter(move |u| u.tenant_id == tenant)
    }

    /// Finds the user signing in on `authority` to `app` (AADSTS50034 unknown, 50020 not allowed).
    pub fn user_for_signin(
        &self,
        authority: Authority,
        segment: &str,
        app: &App,
        username: &str,
    ) -> Result<&User, AadError> {
        let tenant_label = match authority {
            Authority::Tenant(id) => self
                .tenant(id)
                .map(|t| t.display_name.clone())
                .unwrap_or_else(|| segment.to_owned()),
            _ => segment.to_owned(),
        };
        let user = self.user_by_name(username).ok_or_else(|| {
            AadError::new(50034)
                .arg("username", username)
                .arg("tenant", &tenant_label)
        })?;
        let consumer = self.tenant(user.tenant_id).is_some_and(|t| t.consumers);
        let not_allowed = || {
            AadError::new(50020)
                .arg("username", user.username())
                .arg("tenant", &tenant_label)
                .arg("client_id", app.client_id())
                .arg("app_name", app.name())
        };
        let segment_ok = match authority {
            Authority::Common => true,
            Authority::Organizations => !consumer,
            Authority::Consumers => consumer,
            Authority::Tenant(id) => user.tenant_id == id,
        };
        if !segment_ok {
            if matches!(authority, Authority::Consumers) {
                return Err(AadError::new(50034)
                    .arg("username", username)
                    .arg("tenant", &tenant_label));
            }
            return Err(not_allowed());
        }
        let audience_ok = match app.audience() {
            SignInAudience::AzureADMyOrg => user.tenant_id == app.tenant_id,
            SignInAudience::AzureADMultipleOrgs => !consumer,
            SignInAudience::AzureADandPersonalMicrosoftAccount => true,
            SignInAudience::PersonalMicrosoftAccount => consumer,
        };
        if !audience_ok {
            return Err(not_allowed());
        }
        Ok(user)
    }

    pub fn graph(&self) -> &ResourceConfig {
        &self.resources[0]
    }

    /// Finds a resource by application ID URI (case-insensitive, trailing slash ignored) or app id.
    pub fn resource(&self, id_or_uri: &str) -> Option<&ResourceConfig> {
        let wanted = id_or_uri.trim_end_matches('/');
        if let Ok(id) = Uuid::parse_str(wanted) {
            return self.resources.iter().find(|r| r.app_id == id);
        }
        self.resources
            .iter()
            .find(|r| r.uri.trim_end_matches('/').eq_ignore_ascii_case(wanted))
    }
}
