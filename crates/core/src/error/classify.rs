//! From a Microsoft identity platform error answer to an [`Error`].
//!
//! Microsoft's guidance (error-code reference): branch on `error`, then on the first number of
//! `error_codes`; never parse `error_description`; codes may change, so keep the mapping as data
//! and default to signing in again. [`CLASSIFICATION_RULES`] is that data, one table read top to
//! bottom, first match wins.

use std::time::{Duration, SystemTime};

use super::{Error, MicrosoftErrorResponse, ServiceError};
use ErrorClass::*;

/// What the manager should do about an identity-platform error. Each class is one [`Error`]
/// variant and shares its machine code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The grant is dead (refresh token expired or revoked, code reused): mark the account and
    /// ask the person to sign in again.
    NeedsSignIn,
    /// MFA, conditional access or device checks: sign in interactively with the same scopes,
    /// passing the claims challenge.
    InteractionRequired,
    ConsentRequired,
    BadCredentials,
    /// The app registration or our configuration is wrong; retrying cannot help.
    AppMisconfigured,
    AuthorizationPending,
    SlowDown,
    SignInDeclined,
    CodeExpired,
    Throttled,
    Transient,
    /// A malformed request or an answer we cannot act on: our bug, or something in the way.
    Protocol,
}

impl ErrorClass {
    pub fn code(self) -> &'static str {
        match self {
            ErrorClass::NeedsSignIn => "needs_sign_in",
            ErrorClass::InteractionRequired => "interaction_required",
            ErrorClass::ConsentRequired => "consent_required",
            ErrorClass::BadCredentials => "bad_credentials",
            ErrorClass::AppMisconfigured => "app_misconfigured",
            ErrorClass::AuthorizationPending => "authorization_pending",
            ErrorClass::SlowDown => "slow_down",
            ErrorClass::SignInDeclined => "sign_in_declined",
            ErrorClass::CodeExpired => "code_expired",
            ErrorClass::Throttled => "throttled",
            ErrorClass::Transient => "transient",
            ErrorClass::Protocol => "protocol",
        }
    }
}

/// One row of the table: `None` matches anything.
#[derive(Debug, Clone, Copy)]
pub struct ClassificationRule {
    pub error: Option<&'static str>,
    pub aadsts: Option<u32>,
    pub class: ErrorClass,
}

const fn on_error(error: &'static str, class: ErrorClass) -> ClassificationRule {
    ClassificationRule {
        error: Some(error),
        aadsts: None,
        class,
    }
}

const fn on_code(aadsts: u32, class: ErrorClass) -> ClassificationRule {
    ClassificationRule {
        error: None,
        aadsts: Some(aadsts),
        class,
    }
}

/// The table, after platform-notes §5.6. Three bands, in order:
/// 1. device-code polling states, decided by `error` alone (their codes only repeat it);
/// 2. AADSTS codes, whichever `error` carries them, because Microsoft sends e.g. MFA (50076)
///    and consent (65001) under `invalid_grant`, and the code is the precise answer;
/// 3. the default for each `error` when its code is missing or unknown: unknown codes under
///    `invalid_grant` mean the grant is unusable, so the person signs in again.
///
/// Anything still unmatched falls back on the HTTP status in [`classify`].
pub const CLASSIFICATION_RULES: &[ClassificationRule] = &[
    // 1. device-code polling
    on_error("authorization_pending", AuthorizationPending),
    on_error("slow_down", SlowDown),
    on_error("authorization_declined", SignInDeclined),
    on_error("expired_token", CodeExpired),
    on_error("bad_verification_code", CodeExpired),
    // 2. codes: the grant is dead
    on_code(70008, NeedsSignIn),  // ExpiredOrRevokedGrant
    on_code(700082, NeedsSignIn), // refresh token expired by inactivity
    on_code(700084, NeedsSignIn), // SPA refresh token past 24 h
    on_code(50173, NeedsSignIn),  // FreshTokenNeeded: grant revoked
    on_code(70043, NeedsSignIn),  // sign-in frequency (conditional access)
    on_code(50089, NeedsSignIn),  // flow token expired
    on_code(70000, NeedsSignIn),  // invalid refresh token
    on_code(54005, NeedsSignIn),  // authorization code already redeemed
    on_code(501481, NeedsSignIn), // PKCE verifier mismatch
    // interaction (MFA, conditional access, device)
    on_code(50076, InteractionRequired),  // MFA required
    on_code(50079, InteractionRequired),  // MFA enrolment required
    on_code(50072, InteractionRequired),  // enrol a second factor
    on_code(50074, InteractionRequired),  // strong authentication not passed
    on_code(50078, InteractionRequired),  // MFA expired
    on_code(50158, InteractionRequired),  // external security challenge
    on_code(53003, InteractionRequired),  // blocked by conditional access
    on_code(53000, InteractionRequired),  // device not compliant
    on_code(53001, InteractionRequired),  // device not domain-joined
    on_code(50097, InteractionRequired),  // device authentication required
    on_code(700020, InteractionRequired), // interaction required
    // consent
    on_code(65001, ConsentRequired),  // DelegationDoesNotExist
    on_code(65004, ConsentRequired),  // the user declined consent
    on_code(90094, ConsentRequired),  // admin consent required
    on_code(90095, ConsentRequired),  // admin consent required (workflow)
    on_code(650057, ConsentRequired), // permission not configured on the app
    on_code(650056, ConsentRequired), // misconfigured application permissions
    // the user's credentials or account
    on_code(50126, BadCredentials), // bad user name or password
    on_code(50053, BadCredentials), // account locked or malicious IP
    on_code(50055, BadCredentials), // password expired
    on_code(50057, BadCredentials), // user disabled
    on_code(50034, BadCredentials), // user not found
    on_code(50020, BadCredentials), // external user not in tenant
    // the app registration or our configuration
    on_code(50011, AppMisconfigured),   // redirect URI mismatch
    on_code(700016, AppMisconfigured),  // app not found in tenant
    on_code(7000215, AppMisconfigured), // invalid client secret
    on_code(7000222, AppMisconfigured), // client secret expired
    on_code(700027, AppMisconfigured),  // client assertion signature invalid
    on_code(700025, AppMisconfigured),  // public client sent a credential
    on_code(7000218, AppMisconfigured), // public client flows disabled / missing credential
    on_code(50194, AppMisconfigured),   // single-tenant app on /common
    on_code(9001023, AppMisconfigured), // grant not supported on /common or /consumers
    on_code(90002, AppMisconfigured),   // tenant not found
    on_code(70011, AppMisconfigured),   // invalid scope
    on_code(700022, AppMisconfigured),  // scopes for more than one resource
    // device-code polling codes that sometimes come under another error
    on_code(70016, AuthorizationPending),
    on_code(70019, CodeExpired),
    on_code(70018, CodeExpired),
    // back off
    on_code(50196, Throttled), // LoopDetected: too many identical requests
    on_code(90055, Throttled), // tenant throttled
    on_code(90033, Transient), // service unavailable
    on_code(90006, Transient),
    on_code(90090, Transient),
    on_code(50033, Transient), // retryable
    // 3. defaults per error
    on_error("invalid_grant", NeedsSignIn),
    on_error("interaction_required", InteractionRequired),
    on_error("login_required", InteractionRequired),
    on_error("consent_required", ConsentRequired),
    on_error("invalid_client", AppMisconfigured),
    on_error("unauthorized_client", AppMisconfigured),
    on_error("invalid_scope", AppMisconfigured),
    on_error("invalid_resource", AppMisconfigured),
    on_error("unsupported_grant_type", AppMisconfigured),
    on_error("unsupported_response_type", AppMisconfigured),
    on_error("access_denied", SignInDeclined),
    on_error("temporarily_unavailable", Transient),
    on_error("server_error", Transient),
    on_error("invalid_request", Protocol),
];

fn lookup(error: &str, aadsts: Option<u32>) -> Option<ErrorClass> {
    CLASSIFICATION_RULES
        .iter()
        .find(|rule| {
            rule.error.is_none_or(|wanted| wanted == error)
                && rule.aadsts.is_none_or(|wanted| Some(wanted) == aadsts)
        })
        .map(|rule| rule.class)
}

/// Classifies an error answer. `http_status` and `retry_after` (already parsed, see
/// [`parse_retry_after`]) come from the HTTP response; pass `None` for an error redirect.
///
/// An HTTP 429 is throttling whatever the body says. An answer the table does not know is
/// transient on a 5xx and otherwise means signing in again, as Microsoft advises.
pub fn classify(
    response: MicrosoftErrorResponse,
    http_status: Option<u16>,
    retry_after: Option<Duration>,
) -> Error {
    let detail = Box::new(ServiceError::from_response(&response, http_status));
    let class = if http_status == Some(429) {
        Throttled
    } else {
        lookup(&response.error, detail.aadsts).unwrap_or(match http_status {
            Some(500..=599) => Transient,
            _ if response.error.is_empty() => Protocol,
            _ => NeedsSignIn,
        })
    };
    match class {
        NeedsSignIn => Error::NeedsSignIn(detail),
        InteractionRequired => Error::InteractionRequired {
            detail,
            claims: response.claims.filter(|claims| !claims.trim().is_empty()),
        },
        ConsentRequired => Error::ConsentRequired(detail),
        BadCredentials => Error::BadCredentials(detail),
        AppMisconfigured => Error::AppMisconfigured(detail),
        AuthorizationPending => Error::AuthorizationPending(detail),
        SlowDown => Error::SlowDown(detail),
        SignInDeclined => Error::SignInDeclined(detail),
        CodeExpired => Error::CodeExpired(detail),
        Throttled => Error::Throttled {
            detail,
            retry_after,
        },
        Transient => Error::Transient {
            detail,
            retry_after,
        },
        Protocol => Error::Protocol {
            message: if response.error.is_empty() {
                "an error answer without an `error` field".to_owned()
            } else {
                format!("the request was rejected as `{}`", response.error)
            },
            detail: Some(detail),
        },
    }
}

/// Reads a `Retry-After` header: delay-seconds or an HTTP-date (RFC 9110 §10.2.3). A date in
/// the past means "now" (zero); anything unreadable is `None`, so callers use their own backoff.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|byte| byte.is_ascii_digit()) {
        return value.parse::<u64>().ok().map(Duration::from_secs);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(error: &str, codes: &[u32]) -> MicrosoftErrorResponse {
        MicrosoftErrorResponse {
            error: error.into(),
            error_codes: codes.to_vec(),
            error_description: Some(format!(
                "AADSTS{}: something happened.\r\nTrace ID: t\r\nCorrelation ID: c",
                codes.first().copied().unwrap_or_default()
            )),
            correlation_id: Some("c0rre1at10n".into()),
            trace_id: Some("tr4ce".into()),
            ..Default::default()
        }
    }

    fn code_of(error: &str, codes: &[u32], status: Option<u16>) -> &'static str {
        classify(answer(error, codes), status, None).code()
    }

    #[test]
    fn dead_grants_need_sign_in() {
        for code in [
            70008, 700082, 700084, 50173, 70043, 50089, 70000, 54005, 501481,
        ] {
            assert_eq!(
                code_of("invalid_grant", &[code], Some(400)),
                "needs_sign_in",
                "{code}"
            );
        }
    }

    #[test]
    fn unknown_codes_under_invalid_grant_need_sign_in() {
        assert_eq!(
            code_of("invalid_grant", &[999_999], Some(400)),
            "needs_sign_in"
        );
        assert_eq!(code_of("invalid_grant", &[], Some(400)), "needs_sign_in");
    }

    #[test]
    fn the_first_code_decides_not_the_later_ones() {
        // 50076 (MFA) first, 70008 (dead grant) second: this is an MFA step-up.
        assert_eq!(
            code_of("invalid_grant", &[50076, 70008], Some(400)),
            "interaction_required"
        );
        assert_eq!(
            code_of("invalid_grant", &[70008, 50076], Some(400)),
            "needs_sign_in"
        );
    }

    #[test]
    fn codes_refine_the_error_they_come_under() {
        let cases: &[(&str, u32, &str)] = &[
            ("invalid_grant", 50076, "interaction_required"),
            ("interaction_required", 53003, "interaction_required"),
            ("invalid_grant", 65001, "consent_required"),
            ("access_denied", 65004, "consent_required"),
            ("invalid_grant", 50126, "bad_credentials"),
            ("invalid_grant", 50057, "bad_credentials"),
            ("invalid_client", 7000215, "app_misconfigured"),
            ("invalid_client", 7000222, "app_misconfigured"),
            ("invalid_request", 50011, "app_misconfigured"),
            ("invalid_request", 90002, "app_misconfigured"),
            ("invalid_scope", 70011, "app_misconfigured"),
            ("invalid_request", 9001023, "app_misconfigured"),
            ("invalid_grant", 50196, "throttled"),
            ("invalid_request", 90055, "throttled"),
            ("temporarily_unavailable", 90033, "transient"),
        ];
        for (error, code, expected) in cases {
            assert_eq!(
                code_of(error, &[*code], Some(400)),
                *expected,
                "{error} {code}"
            );
        }
    }

    #[test]
    fn device_code_polling_is_decided_by_the_error() {
        assert_eq!(
            code_of("authorization_pending", &[70016], Some(400)),
            "authorization_pending"
        );
        assert_eq!(
            code_of("authorization_pending", &[], Some(400)),
            "authorization_pending"
        );
        assert_eq!(code_of("slow_down", &[], Some(400)), "slow_down");
        assert_eq!(
            code_of("authorization_declined", &[], Some(400)),
            "sign_in_declined"
        );
        assert_eq!(
            code_of("expired_token", &[70019], Some(400)),
            "code_expired"
        );
        assert_eq!(
            code_of("bad_verification_code", &[70018], Some(400)),
            "code_expired"
        );
    }

    #[test]
    fn error_defaults_apply_without_a_code() {
        assert_eq!(
            code_of("interaction_required", &[], None),
            "interaction_required"
        );
        assert_eq!(code_of("login_required", &[], None), "interaction_required");
        assert_eq!(code_of("consent_required", &[], None), "consent_required");
        assert_eq!(
            code_of("invalid_client", &[], Some(401)),
            "app_misconfigured"
        );
        assert_eq!(
            code_of("unauthorized_client", &[], Some(400)),
            "app_misconfigured"
        );
        assert_eq!(code_of("access_denied", &[], None), "sign_in_declined");
        assert_eq!(code_of("server_error", &[], Some(500)), "transient");
        assert_eq!(code_of("invalid_request", &[12345], Some(400)), "protocol");
    }

    #[test]
    fn http_429_is_throttled_whatever_the_body_and_keeps_retry_after() {
        let error = classify(
            answer("invalid_client", &[7000215]),
            Some(429),
            Some(Duration::from_secs(60)),
        );
        assert_eq!(error.code(), "throttled");
        assert_eq!(error.retry_after(), Some(Duration::from_secs(60)));
    }

    #[test]
    fn unknown_answers_fall_back_on_the_status() {
        assert_eq!(code_of("something_new", &[], Some(503)), "transient");
        assert_eq!(code_of("something_new", &[], Some(400)), "needs_sign_in");
        assert_eq!(code_of("", &[], Some(502)), "transient");
        assert_eq!(code_of("", &[], Some(400)), "protocol");
    }

    #[test]
    fn interaction_required_keeps_the_claims_challenge() {
        let claims = r#"{"access_token":{"capolids":{"essential":true,"values":["c1"]}}}"#;
        let mut response = answer("interaction_required", &[53003]);
        response.claims = Some(claims.into());
        let error = classify(response, Some(400), None);
        assert_eq!(error.claims(), Some(claims));
    }

    #[test]
    fn classified_errors_keep_code_description_and_correlation_id() {
        let error = classify(answer("invalid_grant", &[700082, 50000]), Some(400), None);
        let detail = error
            .service_error()
            .expect("classified errors carry the answer");
        assert_eq!(detail.aadsts, Some(700082));
        assert_eq!(detail.error, "invalid_grant");
        assert_eq!(detail.correlation_id.as_deref(), Some("c0rre1at10n"));
        assert_eq!(detail.trace_id.as_deref(), Some("tr4ce"));
        assert!(
            detail
                .description
                .as_deref()
                .unwrap_or_default()
                .contains("something happened")
        );
        let text = error.to_string();
        assert!(
            text.contains("AADSTS700082") && text.contains("c0rre1at10n"),
            "{text}"
        );
        assert!(
            !text.contains("Trace ID"),
            "only the first description line is shown: {text}"
        );
    }

    #[test]
    fn every_code_row_is_reachable_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for rule in CLASSIFICATION_RULES {
            let key = (rule.error, rule.aadsts);
            assert!(seen.insert(key), "duplicate rule {key:?}");
            // A row shadowed by an earlier one would never apply.
            let error = rule.error.unwrap_or("invalid_grant");
            assert_eq!(
                lookup(error, rule.aadsts),
                Some(rule.class),
                "{rule:?} is shadowed"
            );
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2026 07:28:00 GMT").unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 5 ", now), Some(Duration::from_secs(5)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2026 07:29:30 GMT", now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2026 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }
}
