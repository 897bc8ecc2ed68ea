//! Scope strings: OpenID Connect scopes, resource-qualified scopes (`https://outlook.office.com/SMTP.Send`),
//! bare scopes (Graph's), and `{resource}/.default`.

use std::collections::BTreeSet;

use crate::config::GRAPH_RESOURCE;
use crate::directory::{App, Directory};
use crate::errors::AadError;

pub const DEFAULT: &str = ".default";

/// Scopes requested for one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceScopes {
    /// The resource's canonical application ID URI.
    pub resource: String,
    /// Scope names as the resource spells them (may include `.default`).
    pub names: Vec<String>,
}

/// A parsed `scope` parameter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes {
    pub openid: bool,
    pub profile: bool,
    pub email: bool,
    pub offline_access: bool,
    /// In request order.
    pub resources: Vec<ResourceScopes>,
}

impl Scopes {
    /// Parses a space-separated scope string; bare names belong to Microsoft Graph.
    pub fn parse(raw: &str, dir: &Directory, tenant_label: &str) -> Result<Self, AadError> {
        let mut scopes = Scopes::default();
        for token in raw.split_whitespace() {
            match token.to_ascii_lowercase().as_str() {
                "openid" => scopes.openid = true,
                "profile" => scopes.profile = true,
                "email" => scopes.email = true,
                "offline_access" => scopes.offline_access = true,
                _ => scopes.add_resource_scope(token, dir, tenant_label)?,
            }
        }
        for entry in &scopes.resources {
            if entry.names.iter().any(|n| n == DEFAULT) && entry.names.len() > 1 {
                return Err(AadError::new(70011).arg("scope", raw));
            }
        }
        Ok(scopes)
    }

    fn add_resource_scope(
        &mut self,
        token: &str,
        dir: &Directory,
        tenant_label: &str,
    ) -> Result<(), AadError> {
        let (resource_id, name) = match token.rfind('/') {
            Some(at) => (&token[..at], &token[at + 1..]),
            None => (GRAPH_RESOURCE, token),
        };
        if name.is_empty() || resource_id.is_empty() {
            return Err(AadError::new(70011).arg("scope", token));
        }
        let resource = dir.resource(resource_id).ok_or_else(|| {
            AadError::new(500011)
                .arg("resource", resource_id)
                .arg("tenant", tenant_label)
        })?;
        let name = if name == DEFAULT {
            DEFAULT.to_owned()
        } else if resource.scopes.is_empty() {
            name.to_owned()
        } else {
            resource
                .scopes
                .iter()
                .find(|known| known.eq_ignore_ascii_case(name))
                .cloned()
                .ok_or_else(|| AadError::new(70011).arg("scope", token))?
        };
        let uri = resource.uri.trim_end_matches('/').to_owned();
        match self.resources.iter_mut().find(|r| r.resource == uri) {
            Some(entry) => {
                if !entry.names.contains(&name) {
                    entry.names.push(name);
                }
            }
            None => self.resources.push(ResourceScopes {
                resource: uri,
                names: vec![name],
            }),
        }
        Ok(())
    }

    /// The one resource a token request names (AADSTS700022 for more than one).
    pub fn single_resource(&self, raw: &str) -> Result<Option<&ResourceScopes>, AadError> {
        if self.resources.len() > 1 {
            return Err(AadError::new(700022).arg("scope", raw));
        }
        Ok(self.resources.first())
    }

    /// What a user must have consented to for this request: resource scopes as consent keys
    /// (`{resource}/{name}`, `.default` expanded to the app's static permissions) and
    /// `offline_access`. `openid`, `profile` and `email` need no consent.
    pub fn consent_keys(&self, app_static: &BTreeSet<String>) -> BTreeSet<String> {
        let mut keys = BTreeSet::new();
        for entry in &self.resources {
            for name in &entry.names {
                if name == DEFAULT {
                    let prefix = format!("{}/", entry.resource.to_ascii_lowercase());
                    keys.extend(
                        app_static
                            .iter()
                            .filter(|k| k.to_ascii_lowercase().starts_with(&prefix))
                            .cloned(),
                    );
                } else {
                    keys.insert(consent_key(&entry.resource, name));
                }
            }
        }
        if self.offline_access {
            keys.insert("offline_access".to_owned());
        }
        keys
    }

    /// The requested OpenID Connect scopes, in Microsoft's response order.
    pub fn oidc_names(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.profile {
            names.push("profile");
        }
        if self.openid {
            names.push("openid");
        }
        if self.email {
            names.push("email");
        }
        names
    }
}

/// `https://graph.microsoft.com/User.Read`.
pub fn consent_key(resource: &str, name: &str) -> String {
    format!("{}/{}", resource.trim_end_matches('/'), name)
}

/// Parses scope lists from an app registration (`delegated_permissions`, `pre_consented_scopes`)
/// into consent keys.
pub fn static_keys(list: &[String], dir: &Directory) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for entry in list {
        if entry.eq_ignore_ascii_case("offline_access") {
            keys.insert("offline_access".to_owned());
            continue;
        }
        if let Ok(scopes) = Scopes::parse(entry, dir, "") {
            for resource in &scopes.resources {
                for name in &resource.names {
                    keys.insert(consent_key(&resource.resource, name));
                }
            }
        }
    }
    keys
}

/// The app's statically configured delegated permissions as consent keys.
pub fn app_static_keys(app: &App, dir: &Directory) -> BTreeSet<String> {
    static_keys(&app.reg.delegated_permissions, dir)
}

/// Scope names of `resource` among consent keys, as Microsoft prints them in `scope`/`scp`:
/// bare for Graph, resource-qualified otherwise (`scp` always bare).
pub fn names_for_resource(keys: &BTreeSet<String>, resource: &str) -> Vec<String> {
    let prefix = format!("{}/", resource.trim_end_matches('/').to_ascii_lowercase());
    keys.iter()
        .filter(|k| k.to_ascii_lowercase().starts_with(&prefix))
        .map(|k| k[prefix.len()..].to_owned())
        .collect()
}

/// How the `scope` field of a token response prints a resource's scope names.
pub fn display_scopes(resource: &str, names: &[String]) -> Vec<String> {
    if resource
        .trim_end_matches('/')
        .eq_ignore_ascii_case(GRAPH_RESOURCE)
    {
        names.to_vec()
    } else {
        names.iter().map(|n| consent_key(resource, n)).collect()
    }
}
