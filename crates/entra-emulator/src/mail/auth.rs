//! SASL XOAUTH2 as Exchange Online checks it ("Authenticate an IMAP, POP or SMTP connection
//! using OAuth", https://learn.microsoft.com/exchange/client-developer/legacy-protocols/how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth):
//! base64 of `user=<mailbox>^Aauth=Bearer <access token>^A^A`; the token must be one this
//! emulator signed, unexpired on the emulator's clock, for Exchange Online
//! (`https://outlook.office.com`, `https://outlook.office365.com` or the app id
//! `00000002-0000-0ff1-ce00-000000000000`), delegated, carrying the protocol's scope, and the
//! mailbox must be the signed-in user's. Every failure gets the same reply on the wire; the
//! reason is only logged.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use uuid::Uuid;

use crate::state::Shared;

/// Exchange Online's application id.
pub const EXCHANGE_APP_ID: &str = "00000002-0000-0ff1-ce00-000000000000";
/// The audiences Exchange accepts.
pub const EXCHANGE_AUDIENCES: &[&str] = &[
    "https://outlook.office.com",
    "https://outlook.office365.com",
    EXCHANGE_APP_ID,
];

/// Which protocol is asking; each has its own delegated permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Imap,
    Smtp,
}

impl Protocol {
    /// `IMAP.AccessAsUser.All` or `SMTP.Send` (on `https://outlook.office.com`).
    pub fn scope(self) -> &'static str {
        match self {
            Protocol::Imap => "IMAP.AccessAsUser.All",
            Protocol::Smtp => "SMTP.Send",
        }
    }
}

/// The mailbox a connection authenticated as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailUser {
    pub oid: Uuid,
    /// The user principal name.
    pub username: String,
    pub mail: String,
}

/// Why an XOAUTH2 attempt failed (for logs and tests; the client sees one reply).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    #[error("the SASL response is not base64")]
    NotBase64,
    #[error("the SASL response is not user=...^Aauth=Bearer ...^A^A")]
    Malformed,
    #[error("the token is not a JWT this emulator signed")]
    BadSignature,
    #[error("the token's audience {0:?} is not Exchange Online")]
    WrongAudience(String),
    #[error("the token is expired")]
    Expired,
    #[error("the token is not yet valid")]
    NotYetValid,
    #[error("app-only tokens are not supported here")]
    AppOnly,
    #[error("the token lacks the {0} scope")]
    MissingScope(&'static str),
    #[error("the token's user is not in the directory")]
    UnknownUser,
    #[error("user={0} is not the token's user")]
    OtherMailbox(String),
}

/// The decoded pieces of an XOAUTH2 initial response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Xoauth2 {
    pub user: String,
    pub token: String,
}

/// Decodes base64 `user=U^Aauth=Bearer T^A^A`.
pub fn parse_xoauth2(encoded: &[u8]) -> Result<Xoauth2, AuthFailure> {
    let compact: Vec<u8> = encoded
        .iter()
        .copied()
        .filter(|byte| !byte.is_ascii_whitespace())
        .collect();
    let decoded = STANDARD
        .decode(&compact)
        .map_err(|_| AuthFailure::NotBase64)?;
    let text = String::from_utf8(decoded).map_err(|_| AuthFailure::Malformed)?;
    let mut user = None;
    let mut token = None;
    let mut parts = text.split('\x01');
    for part in parts.by_ref() {
        if part.is_empty() {
            break;
        }
        if let Some(value) = part.strip_prefix("user=") {
            user = Some(value.to_owned());
        } else if let Some(value) = part.strip_prefix("auth=") {
            let (scheme, credential) = value.split_once(' ').ok_or(AuthFailure::Malformed)?;
            if !scheme.eq_ignore_ascii_case("Bearer") {
                return Err(AuthFailure::Malformed);
            }
            token = Some(credential.trim().to_owned());
        }
    }
    // The message ends with ^A^A: after the empty part, one more empty part and nothing else.
    if parts.next() != Some("") || parts.next().is_some() {
        return Err(AuthFailure::Malformed);
    }
    match (user, token) {
        (Some(user), Some(token)) if !token.is_empty() => Ok(Xoauth2 { user, token }),
        _ => Err(AuthFailure::Malformed),
    }
}

/// Checks a bearer token and the mailbox it is used for, as Exchange Online does.
pub fn check_token(
    state: &Shared,
    user: &str,
    token: &str,
    protocol: Protocol,
) -> Result<MailUser, AuthFailure> {
    let claims = state
        .keys
        .verify(token)
        .map_err(|_| AuthFailure::BadSignature)?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or_default();
    let aud = text("aud").trim_end_matches('/');
    if !EXCHANGE_AUDIENCES
        .iter()
        .any(|wanted| aud.eq_ignore_ascii_case(wanted))
    {
        return Err(AuthFailure::WrongAudience(aud.to_owned()));
    }
    let now = state.clock.unix();
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    let nbf = claims.get("nbf").and_then(Value::as_i64).unwrap_or(0);
    if now >= exp {
        return Err(AuthFailure::Expired);
    }
    if nbf > now + 300 {
        return Err(AuthFailure::NotYetValid);
    }
    if text("idtyp") == "app" {
        return Err(AuthFailure::AppOnly);
    }
    let wanted = protocol.scope();
    if !text("scp")
        .split_whitespace()
        .any(|scope| scope.eq_ignore_ascii_case(wanted))
    {
        return Err(AuthFailure::MissingScope(wanted));
    }
    let oid = Uuid::parse_str(text("oid")).map_err(|_| AuthFailure::UnknownUser)?;
    let found = state.dir.user(oid).ok_or(AuthFailure::UnknownUser)?;
    if !(user.eq_ignore_ascii_case(found.username()) || user.eq_ignore_ascii_case(found.mail())) {
        return Err(AuthFailure::OtherMailbox(user.to_owned()));
    }
    Ok(MailUser {
        oid,
        username: found.username().to_owned(),
        mail: found.mail().to_owned(),
    })
}

/// Parses and checks an XOAUTH2 response in one step.
pub fn authenticate(
    state: &Shared,
    encoded: &[u8],
    protocol: Protocol,
) -> Result<MailUser, AuthFailure> {
    let sasl = parse_xoauth2(encoded)?;
    check_token(state, &sasl.user, &sasl.token, protocol)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(text: &str) -> Vec<u8> {
        STANDARD.encode(text).into_bytes()
    }

    #[test]
    fn xoauth2_responses_are_decoded_and_malformed_ones_refused() {
        let ok = parse_xoauth2(&encode("user=a@b.c\x01auth=Bearer t.o.k\x01\x01")).unwrap();
        assert_eq!(ok.user, "a@b.c");
        assert_eq!(ok.token, "t.o.k");
        assert_eq!(parse_xoauth2(b"%%%"), Err(AuthFailure::NotBase64));
        for bad in [
            "user=a@b.c\x01auth=Bearer t\x01",
            "user=a@b.c\x01auth=Basic t\x01\x01",
            "auth=Bearer t\x01\x01",
            "user=a@b.c\x01\x01",
            "user=a@b.c\x01auth=Bearer t\x01\x01junk",
        ] {
            assert_eq!(
                parse_xoauth2(&encode(bad)),
                Err(AuthFailure::Malformed),
                "{bad:?}"
            );
        }
    }
}
