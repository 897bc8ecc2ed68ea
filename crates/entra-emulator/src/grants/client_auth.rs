//! Client authentication at the token endpoint: client secrets (body or HTTP Basic) and
//! certificate assertions (RFC 7523 `private_key_jwt`, as certificate-credentials describes).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::clock::iso;
use crate::directory::Authority;
use crate::errors::AadError;
use crate::grants::{Credential, TokenRequest};
use crate::tokens::ClientAuth;

pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// What the grant needs from the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// A credential must be presented (confidential client).
    Required,
    /// The request is a public-client request: a credential is an error (AADSTS700025).
    PublicOnly,
    /// Public unless the client presents a credential, which is then verified.
    Optional,
}

pub fn authenticate(request: &TokenRequest<'_>, need: Requirement) -> Result<ClientAuth, AadError> {
    let app = request.app;
    let Some(credential) = &request.credential else {
        return match need {
            Requirement::Required => Err(AadError::new(7000218)),
            _ => Ok(ClientAuth::Public),
        };
    };
    if need == Requirement::PublicOnly || !app.reg.has_credentials() {
        return Err(AadError::new(700025));
    }
    match credential {
        Credential::Secret(secret) => verify_secret(request, secret),
        Credential::Assertion {
            assertion_type,
            jwt,
        } => verify_assertion(request, assertion_type.as_deref(), jwt),
    }
}

/// Compares digests so that the comparison time does not depend on the secret.
fn same_secret(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

fn verify_secret(request: &TokenRequest<'_>, secret: &str) -> Result<ClientAuth, AadError> {
    let app = request.app;
    let now = request.state.clock.now();
    match app
        .reg
        .client_secrets
        .iter()
        .find(|s| same_secret(&s.value, secret))
    {
        None => Err(AadError::new(7000215).arg("client_id", app.client_id())),
        Some(s) if s.expires_at.is_some_and(|expiry| expiry <= now) => {
            Err(AadError::new(7000222).arg("client_id", app.client_id()))
        }
        Some(_) => Ok(ClientAuth::Secret),
    }
}

fn hex_thumbprint(b64: &str) -> String {
    match URL_SAFE_NO_PAD.decode(b64.trim_end_matches('=')) {
        Ok(bytes) => bytes.iter().map(|b| format!("{b:02X}")).collect(),
        Err(_) => b64.to_owned(),
    }
}

/// Audiences Microsoft accepts: the token endpoint (by the segment used, the tenant id or a
/// domain) or the tenant's issuer.
fn valid_audiences(request: &TokenRequest<'_>) -> Vec<String> {
    let state = request.state;
    let mut segments = vec![request.segment.to_owned()];
    let tenant = match request.authority {
        Authority::Tenant(id) => Some(id),
        _ => Some(request.app.tenant_id),
    };
    if let Some(tenant) = tenant.and_then(|id| state.dir.tenant(id)) {
        segments.push(tenant.id.to_string());
        segments.extend(tenant.domains.iter().cloned());
    }
    let mut audiences = Vec::new();
    for segment in segments {
        audiences.push(state.token_endpoint(&segment));
        audiences.push(format!("{}/{segment}/oauth2/token", state.base_url));
        audiences.push(state.issuer(&segment));
    }
    audiences
}

fn verify_assertion(
    request: &TokenRequest<'_>,
    assertion_type: Option<&str>,
    jwt: &str,
) -> Result<ClientAuth, AadError> {
    let app = request.app;
    match assertion_type {
        None => return Err(AadError::missing("client_assertion_type")),
        Some(JWT_BEARER) => {}
        Some(_) => return Err(AadError::new(50027)),
    }
    let header = jsonwebtoken::decode_header(jwt).map_err(|_| AadError::new(50027))?;
    if !matches!(header.alg, Algorithm::RS256 | Algorithm::PS256) {
        return Err(AadError::new(50027));
    }
    let thumbprint = header
        .x5t_s256
        .clone()
        .or_else(|| header.x5t.clone())
        .unwrap_or_default();
    let certificate = app
        .certificates
        .iter()
        .find(|c| {
            header.x5t_s256.as_deref() == Some(c.x5t_s256.as_str())
                || header.x5t.as_deref() == Some(c.x5t.as_str())
        })
        .ok_or_else(|| {
            AadError::new(700027)
                .arg("reason", "The key was not found.")
                .arg("thumbprint", hex_thumbprint(&thumbprint))
                .arg("client_id", app.client_id())
        })?;
    let key = DecodingKey::from_rsa_raw_components(&certificate.n, &certificate.e);
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Value>(jwt, &key, &validation)
        .map_err(|_| {
            AadError::new(700027)
                .arg(
                    "reason",
                    "The key was found, but the signature could not be verified.",
                )
                .arg("thumbprint", hex_thumbprint(&thumbprint))
                .arg("client_id", app.client_id())
        })?
        .claims;

    let client_id = app.client_id().to_string();
    let claim = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
    };
    if claim("iss").as_deref() != Some(client_id.as_str())
        || claim("sub").as_deref() != Some(client_id.as_str())
    {
        return Err(AadError::new(700021));
    }
    let audiences: Vec<String> = match claims.get("aud") {
        Some(Value::String(aud)) => vec![aud.clone()],
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    let valid = valid_audiences(request);
    if !audiences
        .iter()
        .any(|aud| valid.iter().any(|v| v.eq_ignore_ascii_case(aud)))
    {
        return Err(AadError::new(700023));
    }
    let now = request.state.clock.now();
    let unix = now.unix_timestamp();
    let exp = claims.get("exp").and_then(Value::as_i64);
    let nbf = claims.get("nbf").and_then(Value::as_i64);
    let fmt = |t: Option<i64>| {
        t.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
            .map(iso)
            .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
    };
    let expired = exp.is_none_or(|exp| unix >= exp);
    let early = nbf.is_some_and(|nbf| unix < nbf);
    if expired || early {
        return Err(AadError::new(700024)
            .arg("now", iso(now))
            .arg("nbf", fmt(nbf))
            .arg("exp", fmt(exp)));
    }
    if request.state.config.reject_replayed_assertions
        && let Some(jti) = claims.get("jti").and_then(Value::as_str)
    {
        let mut store = request.state.store();
        if store.used_jtis.contains_key(jti) {
            return Err(AadError::new(50013).arg(
                "reason",
                format!("the client assertion with jti '{jti}' was already used."),
            ));
        }
        store.used_jtis.insert(jti.to_owned(), exp.unwrap_or(unix));
    }
    Ok(ClientAuth::Certificate)
}
