//! `grant_type=client_credentials` (v2-oauth2-client-creds-grant-flow): app-only tokens with
//! the app's application permissions as `roles`, for `{resource}/.default` only.

use crate::config::{GRAPH_RESOURCE, ResourceConfig};
use crate::directory::{App, Authority};
use crate::errors::AadError;
use crate::grants::TokenRequest;
use crate::grants::client_auth::{Requirement, authenticate};
use crate::scopes::DEFAULT;
use crate::tokens::{TokenResponse, issue_app_token};

/// The app roles granted to `app` on `resource`.
pub fn roles_for(app: &App, resource: &ResourceConfig) -> Vec<String> {
    let uri = resource.uri.trim_end_matches('/');
    app.reg
        .application_permissions
        .iter()
        .filter_map(|permission| {
            let (owner, name) = match permission.rfind('/') {
                Some(at) => (&permission[..at], &permission[at + 1..]),
                None => (GRAPH_RESOURCE, permission.as_str()),
            };
            let same = owner.trim_end_matches('/').eq_ignore_ascii_case(uri)
                || owner.eq_ignore_ascii_case(&resource.app_id.to_string());
            same.then(|| {
                resource
                    .app_roles
                    .iter()
                    .find(|role| role.eq_ignore_ascii_case(name))
                    .cloned()
                    .unwrap_or_else(|| name.to_owned())
            })
        })
        .collect()
}

pub fn grant(request: &TokenRequest<'_>) -> Result<TokenResponse, AadError> {
    let state = request.state;
    let Authority::Tenant(tenant) = request.authority else {
        return Err(AadError::new(50059));
    };
    let client_auth = authenticate(request, Requirement::Required)?;
    let scope = request.params.require("scope")?;
    let tokens: Vec<&str> = scope.split_whitespace().collect();
    let [single] = tokens.as_slice() else {
        return Err(AadError::new(1002012).arg("scope", scope));
    };
    let Some(resource_id) = single
        .strip_suffix(DEFAULT)
        .map(|r| r.trim_end_matches('/'))
        .filter(|r| !r.is_empty())
    else {
        return Err(AadError::new(1002012).arg("scope", scope));
    };
    let resource = state.dir.resource(resource_id).ok_or_else(|| {
        AadError::new(500011)
            .arg("resource", resource_id)
            .arg("tenant", request.tenant_label())
    })?;
    let roles = roles_for(request.app, resource);
    issue_app_token(state, request.app, tenant, resource, roles, client_auth)
}
