//! The error answer of the Microsoft identity platform and what we keep of it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The JSON body of an error answer from the token or device-code endpoint, or the query of an
/// error redirect. Every field is optional because the emulator, national clouds and older
/// endpoints each leave some out; unknown fields are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MicrosoftErrorResponse {
    #[serde(default)]
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error_codes: Vec<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suberror: Option<String>,
    /// A JSON claims challenge (conditional access, MFA step-up) to send back with the next
    /// interactive sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_uri: Option<String>,
}

/// What a classified error keeps of Microsoft's answer, for support and for the person: the
/// OAuth error, the AADSTS code, the description and the ids Microsoft support asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceError {
    /// The OAuth `error` value, e.g. `invalid_grant`.
    pub error: String,
    /// The first AADSTS number of `error_codes`: Microsoft documents it as the one to branch on.
    pub aadsts: Option<u32>,
    pub description: Option<String>,
    pub suberror: Option<String>,
    pub correlation_id: Option<String>,
    pub trace_id: Option<String>,
    pub http_status: Option<u16>,
}

impl ServiceError {
    pub fn from_response(response: &MicrosoftErrorResponse, http_status: Option<u16>) -> Self {
        ServiceError {
            error: response.error.clone(),
            aadsts: response.error_codes.first().copied(),
            description: response.error_description.clone(),
            suberror: response.suberror.clone(),
            correlation_id: response.correlation_id.clone(),
            trace_id: response.trace_id.clone(),
            http_status,
        }
    }

    /// The first line of the description: Microsoft appends trace id, correlation id and a
    /// timestamp on further lines, which we show separately.
    pub fn summary(&self) -> Option<&str> {
        self.description
            .as_deref()
            .and_then(|text| text.lines().next())
            .map(str::trim)
            .filter(|line| !line.is_empty())
    }
}

/// `AADSTS70008 invalid_grant: <first description line> (correlation id …)`.
impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.aadsts {
            Some(code) => write!(f, "AADSTS{code} {}", self.error)?,
            None => f.write_str(&self.error)?,
        }
        if let Some(summary) = self.summary() {
            // Microsoft's summaries already start with "AADSTS<code>: "; do not say it twice.
            let summary = summary
                .strip_prefix(&format!("AADSTS{}:", self.aadsts.unwrap_or_default()))
                .map(str::trim_start)
                .unwrap_or(summary);
            write!(f, ": {summary}")?;
        }
        if let Some(correlation_id) = &self.correlation_id {
            write!(f, " (correlation id {correlation_id})")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of a real `invalid_grant` answer, from Microsoft's error-code reference.
    const EXPIRED_REFRESH_TOKEN: &str = r#"{
        "error": "invalid_grant",
        "error_description": "AADSTS700082: The refresh token has expired due to inactivity.\r\nTrace ID: 0000aaaa-11bb-cccc-dd22-eeeeee333333\r\nCorrelation ID: aaaa0000-bb11-2222-33cc-444444dddddd\r\nTimestamp: 2026-11-20 10:00:00Z",
        "error_codes": [700082, 50000],
        "timestamp": "2026-11-20 10:00:00Z",
        "trace_id": "0000aaaa-11bb-cccc-dd22-eeeeee333333",
        "correlation_id": "aaaa0000-bb11-2222-33cc-444444dddddd",
        "error_uri": "https://login.microsoftonline.com/error?code=700082",
        "unexpected_field": 1
    }"#;

    #[test]
    fn parses_a_full_answer_and_ignores_unknown_fields() {
        let response: MicrosoftErrorResponse = serde_json::from_str(EXPIRED_REFRESH_TOKEN).unwrap();
        assert_eq!(response.error, "invalid_grant");
        assert_eq!(response.error_codes, vec![700082, 50000]);
        assert_eq!(
            response.correlation_id.as_deref(),
            Some("aaaa0000-bb11-2222-33cc-444444dddddd")
        );
        assert_eq!(response.claims, None);
    }

    #[test]
    fn parses_a_bare_answer() {
        let response: MicrosoftErrorResponse =
            serde_json::from_str(r#"{"error":"authorization_pending"}"#).unwrap();
        assert_eq!(response.error, "authorization_pending");
        assert!(response.error_codes.is_empty());
    }

    #[test]
    fn service_error_keeps_the_first_code_and_shows_one_line() {
        let response: MicrosoftErrorResponse = serde_json::from_str(EXPIRED_REFRESH_TOKEN).unwrap();
        let detail = ServiceError::from_response(&response, Some(400));
        assert_eq!(detail.aadsts, Some(700082));
        assert_eq!(detail.http_status, Some(400));
        assert_eq!(
            detail.to_string(),
            "AADSTS700082 invalid_grant: The refresh token has expired due to inactivity. \
             (correlation id aaaa0000-bb11-2222-33cc-444444dddddd)"
        );
    }

    #[test]
    fn service_error_display_without_code_or_description() {
        let detail = ServiceError::from_response(
            &MicrosoftErrorResponse {
                error: "server_error".into(),
                ..Default::default()
            },
            None,
        );
        assert_eq!(detail.to_string(), "server_error");
    }
}
