//! The AADSTS error table and Microsoft-shaped error responses.
//!
//! Every error the identity endpoints return is a row here: code → OAuth `error`, HTTP status
//! and message template. Templates name their arguments in braces (`{client_id}`); arguments
//! missing at render time stay visible as `{name}` so a gap is noticed, never a panic.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::clock::aad_timestamp;

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct AadstsSpec {
    pub code: u32,
    /// OAuth 2.0 `error` value.
    pub error: &'static str,
    pub status: u16,
    pub template: &'static str,
}

macro_rules! table {
    ($($code:literal, $error:literal, $status:literal, $template:literal;)*) => {
        /// Every AADSTS code the emulator can return.
        pub static TABLE: &[AadstsSpec] = &[
            $(AadstsSpec { code: $code, error: $error, status: $status, template: $template },)*
        ];
    };
}

table! {
    // Requests and parameters
    900144, "invalid_request", 400, "The request body must contain the following parameter: '{param}'.";
    9002313, "invalid_request", 400, "Invalid request. Request is malformed or invalid.";
    90002, "invalid_request", 400, "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.";
    9001023, "invalid_request", 400, "The grant type isn't supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.";
    50059, "invalid_request", 400, "No tenant-identifying information found in either the request or implied by any provided credentials.";
    70003, "unsupported_grant_type", 400, "The app requested an unsupported grant type '{grant_type}'.";
    700054, "unsupported_response_type", 400, "response_type '{response_type}' is not enabled for the application.";
    // App registration
    700016, "unauthorized_client", 400, "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.";
    50194, "invalid_request", 400, "Application '{client_id}'({app_name}) is not configured as a multi-tenant application. Usage of the /common endpoint is not supported for such applications created after '10/15/2018'. Use a tenant-specific endpoint or configure the application to be multi-tenant.";
    50011, "invalid_request", 400, "The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{client_id}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this.";
    500112, "invalid_grant", 400, "The reply address '{redirect_uri}' does not match the reply address '{original}' provided when requesting Authorization code.";
    9002327, "invalid_request", 400, "Tokens issued for the 'Single-Page Application' client-type may only be redeemed via cross-origin requests.";
    9002326, "invalid_request", 400, "Cross-origin token redemption is permitted only for the 'Single-Page Application' client-type. Request origin: '{origin}'.";
    // Scopes and resources
    70011, "invalid_scope", 400, "The provided value for the input parameter 'scope' is not valid. The scope '{scope}' is not valid.";
    700022, "invalid_scope", 400, "The provided value for the input parameter scope is not valid because it contains more than one resource. Scope {scope} is not valid.";
    1002012, "invalid_scope", 400, "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).";
    500011, "invalid_resource", 400, "The resource principal named {resource} was not found in the tenant named {tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.";
    // PKCE and codes
    50149, "invalid_request", 400, "Invalid Code_Challenge_method parameter.";
    501491, "invalid_request", 400, "Invalid size of Code_Challenge parameter.";
    50148, "invalid_grant", 400, "The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.";
    501481, "invalid_grant", 400, "The Code_Verifier does not match the code_challenge supplied in the authorization request.";
    54005, "invalid_grant", 400, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.";
    70000, "invalid_grant", 400, "Provided grant is invalid or malformed.";
    70008, "invalid_grant", 400, "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.";
    // Refresh tokens
    700082, "invalid_grant", 400, "The refresh token has expired due to inactivity. The token was issued on {issued} and was inactive for {inactive}.";
    700084, "invalid_grant", 400, "The refresh token was issued to a single page app (SPA), and therefore has a fixed, limited lifetime of 1.00:00:00, which cannot be extended. It is now expired and a new sign in request must be sent by the SPA to the sign in page. The token was issued on {issued}.";
    50173, "invalid_grant", 400, "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '{issued}' and the TokensValidFrom date (before which tokens are not valid) for this user is '{valid_from}'.";
    // Interaction, MFA, consent
    50058, "login_required", 400, "A silent sign-in request was sent but no user is signed in.";
    50076, "invalid_grant", 400, "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '{resource}'.";
    500121, "invalid_grant", 400, "Authentication failed during strong authentication request.";
    65001, "invalid_grant", 400, "The user or administrator has not consented to use the application with ID '{client_id}' named '{app_name}'. Send an interactive authorization request for this user and resource.";
    65004, "access_denied", 400, "User declined to consent to access the app.";
    50089, "invalid_request", 400, "Authentication failed due to flow token expired. Expected - auth codes, refresh tokens, and sessions expire over time or are revoked by the user or an admin. The app will request a new login from the user.";
    // User credentials
    50126, "invalid_grant", 400, "Error validating credentials due to invalid username or password.";
    50034, "invalid_grant", 400, "The user account {username} does not exist in the {tenant} directory. To sign into this application, the account must be added to the directory.";
    50020, "invalid_grant", 400, "User account '{username}' from identity provider 'live.com' does not exist in tenant '{tenant}' and cannot access the application '{client_id}'({app_name}) in that tenant. The account needs to be added as an external user in the tenant first. Sign out and sign in again with a different Microsoft Entra user account.";
    50057, "invalid_grant", 400, "The user account is disabled.";
    50053, "invalid_grant", 400, "Your account is locked because you've tried to sign in too many times with an incorrect user ID or password.";
    50055, "invalid_grant", 400, "The password is expired.";
    // Client authentication
    7000218, "invalid_client", 401, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.";
    7000215, "invalid_client", 401, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'.";
    7000222, "invalid_client", 401, "The provided client secret keys for app '{client_id}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.";
    700025, "invalid_client", 401, "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.";
    700027, "invalid_client", 401, "Client assertion failed signature validation. [Reason - {reason}, Thumbprint of key used by client: '{thumbprint}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{client_id}'.]";
    700024, "invalid_client", 401, "Client assertion is not within its valid time range. Current time: {now}, assertion valid from {nbf}, expiry time of assertion {exp}. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .";
    700023, "invalid_client", 401, "Client assertion audience claim does not match Realm issuer. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .";
    700021, "invalid_client", 401, "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .";
    50027, "invalid_request", 400, "JWT token is invalid or malformed.";
    50013, "invalid_client", 401, "Assertion is invalid because of various reasons: {reason}";
    // Device code
    70016, "authorization_pending", 400, "OAuth 2.0 device flow error. Authorization is pending. Continue polling.";
    70019, "expired_token", 400, "Verification code expired.";
    70018, "bad_verification_code", 400, "Invalid verification code due to User typing in wrong user code for device code flow.";
    // Service
    50000, "server_error", 500, "There was an error issuing a token or an issue with our sign-in service.";
    90033, "temporarily_unavailable", 503, "A transient error has occurred. Please try again.";
    90055, "temporarily_unavailable", 429, "TenantThrottlingError - There are too many incoming requests. This exception is thrown for blocked tenants.";
}

/// Looks a code up; unknown codes fall back to a generic `invalid_request`.
pub fn spec(code: u32) -> AadstsSpec {
    TABLE
        .iter()
        .find(|row| row.code == code)
        .copied()
        .unwrap_or(AadstsSpec {
            code,
            error: "invalid_request",
            status: 400,
            template: "Unknown error.",
        })
}

/// An identity-platform error about to be returned: a table code plus its arguments.
#[derive(Debug, Clone)]
pub struct AadError {
    pub code: u32,
    args: Vec<(&'static str, String)>,
    /// Overrides the table's `error` (e.g. `interaction_required` on the authorize endpoint).
    error: Option<&'static str>,
    /// Errors Microsoft sends without an AADSTS code (RFC 8628 `slow_down`, `authorization_declined`).
    bare: Option<(&'static str, &'static str)>,
    pub suberror: Option<&'static str>,
    pub claims: Option<String>,
}

impl AadError {
    pub fn new(code: u32) -> Self {
        AadError {
            code,
            args: Vec::new(),
            error: None,
            bare: None,
            suberror: None,
            claims: None,
        }
    }

    /// What login.live.com answers (no AADSTS code) when an app without personal-account support
    /// uses `/consumers`.
    pub fn not_enabled_for_consumers() -> Self {
        AadError::bare(
            "unauthorized_client",
            "The client does not exist or is not enabled for consumers. If you are the application developer, configure a new application through the App Registrations in the Azure Portal at https://go.microsoft.com/fwlink/?linkid=2083908.",
        )
    }

    /// An error without an AADSTS number.
    pub fn bare(error: &'static str, description: &'static str) -> Self {
        AadError {
            bare: Some((error, description)),
            ..AadError::new(0)
        }
    }

    pub fn missing(param: &str) -> Self {
        AadError::new(900144).arg("param", param)
    }

    pub fn arg(mut self, name: &'static str, value: impl std::fmt::Display) -> Self {
        self.args.push((name, value.to_string()));
        self
    }

    pub fn with_error(mut self, error: &'static str) -> Self {
        self.error = Some(error);
        self
    }

    pub fn with_suberror(mut self, suberror: &'static str) -> Self {
        self.suberror = Some(suberror);
        self
    }

    pub fn with_claims(mut self, claims: impl Into<String>) -> Self {
        self.claims = Some(claims.into());
        self
    }

    pub fn error(&self) -> &'static str {
        if let Some((error, _)) = self.bare {
            return error;
        }
        self.error.unwrap_or(spec(self.code).error)
    }

    pub fn status(&self) -> StatusCode {
        if self.bare.is_some() {
            return StatusCode::BAD_REQUEST;
        }
        StatusCode::from_u16(spec(self.code).status).unwrap_or(StatusCode::BAD_REQUEST)
    }

    pub fn error_codes(&self) -> Vec<u32> {
        if self.bare.is_some() {
            Vec::new()
        } else {
            vec![self.code]
        }
    }

    /// `AADSTSnnnn: message`, without the trace lines.
    pub fn message(&self) -> String {
        if let Some((_, description)) = self.bare {
            return description.to_owned();
        }
        let mut text = spec(self.code).template.to_owned();
        for (name, value) in &self.args {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        format!("AADSTS{}: {}", self.code, text)
    }

    /// Renders with trace and correlation ids, as every Microsoft error carries.
    pub fn render(&self, ctx: &ErrorContext) -> RenderedError {
        let timestamp = aad_timestamp(ctx.now);
        let description = format!(
            "{}\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: {}",
            self.message(),
            ctx.trace_id,
            ctx.correlation_id,
            timestamp
        );
        RenderedError {
            error: self.error(),
            description,
            codes: self.error_codes(),
            timestamp,
            trace_id: ctx.trace_id.clone(),
            correlation_id: ctx.correlation_id.clone(),
            error_uri: if self.bare.is_some() {
                format!("{}/error", ctx.base_url)
            } else {
                format!("{}/error?code={}", ctx.base_url, self.code)
            },
            suberror: self.suberror,
            claims: self.claims.clone(),
            status: self.status(),
        }
    }
}

/// Where and when an error happened.
#[derive(Debug, Clone)]
pub struct ErrorContext {
    pub base_url: String,
    pub now: OffsetDateTime,
    pub trace_id: String,
    pub correlation_id: String,
}

impl ErrorContext {
    /// `client_request_id` is echoed as the correlation id, as Microsoft does.
    pub fn new(base_url: &str, now: OffsetDateTime, client_request_id: Option<&str>) -> Self {
        ErrorContext {
            base_url: base_url.to_owned(),
            now,
            trace_id: Uuid::new_v4().to_string(),
            correlation_id: client_request_id
                .and_then(|id| Uuid::parse_str(id).ok())
                .unwrap_or_else(Uuid::new_v4)
                .to_string(),
        }
    }
}

/// An error with all its fields filled in.
#[derive(Debug, Clone)]
pub struct RenderedError {
    pub error: &'static str,
    pub description: String,
    pub codes: Vec<u32>,
    pub timestamp: String,
    pub trace_id: String,
    pub correlation_id: String,
    pub error_uri: String,
    pub suberror: Option<&'static str>,
    pub claims: Option<String>,
    pub status: StatusCode,
}

impl RenderedError {
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "error": self.error,
            "error_description": self.description,
            "error_codes": self.codes,
            "timestamp": self.timestamp,
            "trace_id": self.trace_id,
            "correlation_id": self.correlation_id,
            "error_uri": self.error_uri,
        });
        if let Some(map) = body.as_object_mut() {
            if let Some(suberror) = self.suberror {
                map.insert("suberror".into(), json!(suberror));
            }
            if let Some(claims) = &self.claims {
                map.insert("claims".into(), json!(claims));
            }
        }
        body
    }

    /// Query/fragment/form parameters of an error sent back to the redirect URI.
    pub fn redirect_params(&self) -> Vec<(String, String)> {
        let mut params = vec![
            ("error".to_owned(), self.error.to_owned()),
            ("error_description".to_owned(), self.description.clone()),
            ("error_uri".to_owned(), self.error_uri.clone()),
        ];
        if let Some(suberror) = self.suberror {
            params.push(("error_subcode".to_owned(), suberror.to_owned()));
        }
        params
    }
}

impl IntoResponse for RenderedError {
    fn into_response(self) -> Response {
        let status = self.status;
        let mut response = (status, Json(self.to_json())).into_response();
        response.headers_mut().insert(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-store, no-cache"),
        );
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_templates_fill() {
        let mut seen = std::collections::HashSet::new();
        for row in TABLE {
            assert!(seen.insert(row.code), "duplicate {}", row.code);
        }
        let message = AadError::missing("grant_type").message();
        assert_eq!(
            message,
            "AADSTS900144: The request body must contain the following parameter: 'grant_type'."
        );
        assert_eq!(AadError::new(7000215).status(), StatusCode::UNAUTHORIZED);
    }
}
