//! What the scope picker shows: the helper table of a protocol and the exact scopes a sign-in
//! would request.

use serde::Serialize;

use super::TokenService;
use super::apps::{ProtocolSpec, protocol_from_spec};
use super::tokens::shown_scopes;
use crate::authority::Tenant;
use crate::cloud::Cloud;
use crate::error::Result;
use crate::protocol::Protocol;
use crate::scopes::{helper_description, is_oidc_scope, unknown_entries};

#[derive(Debug, Clone, Serialize)]
pub struct HelperView {
    pub name: &'static str,
    pub description: &'static str,
    /// As the protocol expands them (Graph's without a prefix, others qualified).
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScopePreview {
    /// Exactly what a delegated sign-in asks Microsoft for, in order.
    pub scopes: Vec<String>,
    /// Entries that are neither a helper nor a scope, each with the reason.
    pub unknown: Vec<UnknownEntry>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UnknownEntry {
    pub entry: String,
    pub reason: String,
}

fn protocol_of(spec: Option<&ProtocolSpec>) -> Result<Protocol> {
    let spec = spec
        .cloned()
        .unwrap_or(ProtocolSpec::Graph { version: None });
    protocol_from_spec(&spec, &Cloud::Public, &Tenant::Common)
}

impl TokenService {
    pub fn scope_helpers(&self, protocol: Option<&ProtocolSpec>) -> Result<Vec<HelperView>> {
        let protocol = protocol_of(protocol)?;
        Ok(protocol
            .helpers()
            .helpers()
            .iter()
            .map(|helper| HelperView {
                name: helper.name,
                description: helper_description(helper.name),
                scopes: protocol
                    .expand_scopes(&[helper.name])
                    .map(|scopes| shown_scopes(&scopes, protocol.scope_prefix()))
                    .unwrap_or_default(),
            })
            .collect())
    }

    /// The scopes a sign-in with `requested` would ask for: helpers expanded, literal
    /// scopes prefixed, duplicates dropped, the sign-in scopes Microsoft expects added.
    pub fn preview_scopes(
        &self,
        protocol: Option<&ProtocolSpec>,
        requested: &[String],
    ) -> Result<ScopePreview> {
        let protocol = protocol_of(protocol)?;
        let unknown: Vec<UnknownEntry> = unknown_entries(requested, protocol.helpers())
            .into_iter()
            .map(|(entry, reason)| UnknownEntry { entry, reason })
            .collect();
        let usable: Vec<&str> = requested
            .iter()
            .map(String::as_str)
            .filter(|item| !unknown.iter().any(|bad| bad.entry == *item))
            .collect();
        let mut scopes: Vec<String> = protocol
            .expand_scopes(&usable)?
            .with_sign_in_scopes()
            .iter()
            .map(str::to_owned)
            .collect();
        // Microsoft answers with the OpenID scopes last; show them where people expect them.
        scopes.sort_by_key(|scope| is_oidc_scope(scope));
        Ok(ScopePreview { scopes, unknown })
    }
}
