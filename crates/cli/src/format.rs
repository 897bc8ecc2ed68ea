//! How `o365-auth token` prints a token: raw, JSON, an HTTP header, the SASL XOAUTH2 and
//! OAUTHBEARER strings mail tools send, or shell `export` lines.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::cli::TokenFormat;
use crate::error::{Failure, Result};

/// A token as `token.get` answers it.
pub struct Issued<'a> {
    pub access_token: &'a str,
    pub account: &'a str,
    pub expires_at: Option<i64>,
}

impl<'a> Issued<'a> {
    pub fn from_answer(answer: &'a Value) -> Result<Self> {
        let access_token = answer
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| Failure::local("the service's answer has no access token"))?;
        Ok(Issued {
            access_token,
            account: answer.get("account").and_then(Value::as_str).unwrap_or(""),
            expires_at: answer.get("expires_at").and_then(Value::as_i64),
        })
    }
}

/// The OAUTHBEARER `host` and `port` (RFC 7628 §3.1: both optional).
#[derive(Debug, Default, Clone)]
pub struct SaslTarget<'a> {
    pub host: Option<&'a str>,
    pub port: Option<u16>,
}

/// The text to print for `format`, newline included.
pub fn render(
    format: TokenFormat,
    answer: &Value,
    issued: &Issued<'_>,
    target: &SaslTarget<'_>,
) -> Result<String> {
    let token = issued.access_token;
    Ok(match format {
        TokenFormat::Raw => format!("{token}\n"),
        TokenFormat::Json => {
            let mut line = serde_json::to_string(answer)
                .map_err(|error| Failure::local(format!("cannot encode the answer: {error}")))?;
            line.push('\n');
            line
        }
        TokenFormat::Header => format!("Authorization: Bearer {token}\n"),
        TokenFormat::Xoauth2 => format!("{}\n", xoauth2(require_user(issued)?, token)),
        TokenFormat::Oauthbearer => {
            format!("{}\n", oauthbearer(require_user(issued)?, token, target))
        }
        TokenFormat::Env => env_lines(issued),
    })
}

fn require_user<'a>(issued: &Issued<'a>) -> Result<&'a str> {
    if issued.account.is_empty() {
        return Err(Failure::local(
            "the service did not say which user the token is for, which SASL needs",
        ));
    }
    Ok(issued.account)
}

/// SASL XOAUTH2 (Google's and Microsoft's IMAP/POP/SMTP documentation):
/// base64 of `user=<user>^Aauth=Bearer <token>^A^A`.
pub fn xoauth2(user: &str, token: &str) -> String {
    STANDARD.encode(format!("user={user}\x01auth=Bearer {token}\x01\x01"))
}

/// SASL OAUTHBEARER (RFC 7628 §3.1): base64 of the GS2 header `n,a=<saslname>,` (no channel
/// binding, the user as authorization identity, RFC 5801 escaping), then `^A`, the optional
/// `host=` and `port=` pairs, `auth=Bearer <token>`, each ending in `^A`, and a final `^A`.
pub fn oauthbearer(user: &str, token: &str, target: &SaslTarget<'_>) -> String {
    let mut message = format!("n,a={},\x01", saslname(user));
    if let Some(host) = target.host {
        message.push_str(&format!("host={host}\x01"));
    }
    if let Some(port) = target.port {
        message.push_str(&format!("port={port}\x01"));
    }
    message.push_str(&format!("auth=Bearer {token}\x01\x01"));
    STANDARD.encode(message)
}

/// RFC 5801 `saslname`: `=` and `,` are written `=3D` and `=2C`.
fn saslname(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

/// `export NAME='value'` lines a POSIX shell can `eval`.
fn env_lines(issued: &Issued<'_>) -> String {
    let mut lines = format!(
        "export O365_ACCESS_TOKEN={}\n",
        shell_quote(issued.access_token)
    );
    if let Some(expires_at) = issued.expires_at {
        lines.push_str(&format!(
            "export O365_ACCESS_TOKEN_EXPIRES_AT={expires_at}\n"
        ));
    }
    if !issued.account.is_empty() {
        lines.push_str(&format!(
            "export O365_ACCOUNT={}\n",
            shell_quote(issued.account)
        ));
    }
    lines
}

/// Single-quotes `value` for a POSIX shell (`'` becomes `'\''`).
pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn xoauth2_matches_the_published_example() {
        // The example in Google's "OAuth 2.0 Mechanism" page for IMAP/SMTP (XOAUTH2), which
        // Microsoft's Exchange Online documentation describes the same way.
        assert_eq!(
            xoauth2(
                "someuser@example.com",
                "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"
            ),
            "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNr\
             QmhkSFJoZG1semRHRXVZMjl0Q2cBAQ=="
        );
    }

    #[test]
    fn oauthbearer_matches_rfc_7628_section_4_1() {
        // RFC 7628 §4.1: n,a=user@example.com,^Ahost=server.example.com^Aport=143^A
        // auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==^A^A
        let target = SaslTarget {
            host: Some("server.example.com"),
            port: Some(143),
        };
        assert_eq!(
            oauthbearer(
                "user@example.com",
                "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
                &target
            ),
            "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVh\
             cmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB"
        );
    }

    #[test]
    fn oauthbearer_without_host_and_port_and_with_escaped_names() {
        let decoded = |encoded: String| String::from_utf8(STANDARD.decode(encoded).unwrap());
        assert_eq!(
            decoded(oauthbearer("a@b.c", "T", &SaslTarget::default())).unwrap(),
            "n,a=a@b.c,\x01auth=Bearer T\x01\x01"
        );
        assert_eq!(
            decoded(oauthbearer("we,ird=x", "T", &SaslTarget::default())).unwrap(),
            "n,a=we=2Cird=3Dx,\x01auth=Bearer T\x01\x01"
        );
    }

    #[test]
    fn every_format_prints_the_token_as_documented() {
        let answer = json!({"access_token": "eyJ.a'b", "token_type": "Bearer",
                            "expires_at": 1763803600, "scopes": ["User.Read"],
                            "account": "adele@contoso.com"});
        let issued = Issued::from_answer(&answer).unwrap();
        let show = |format| render(format, &answer, &issued, &SaslTarget::default()).unwrap();
        assert_eq!(show(TokenFormat::Raw), "eyJ.a'b\n");
        assert_eq!(show(TokenFormat::Header), "Authorization: Bearer eyJ.a'b\n");
        let json: Value = serde_json::from_str(&show(TokenFormat::Json)).unwrap();
        assert_eq!(json, answer);
        assert_eq!(
            show(TokenFormat::Env),
            "export O365_ACCESS_TOKEN='eyJ.a'\\''b'\nexport O365_ACCESS_TOKEN_EXPIRES_AT=\
             1763803600\nexport O365_ACCOUNT='adele@contoso.com'\n"
        );
        assert_eq!(
            STANDARD
                .decode(show(TokenFormat::Xoauth2).trim_end())
                .unwrap(),
            b"user=adele@contoso.com\x01auth=Bearer eyJ.a'b\x01\x01"
        );
    }

    #[test]
    fn an_answer_without_a_token_or_user_is_refused() {
        assert!(Issued::from_answer(&json!({"account": "x"})).is_err());
        let answer = json!({"access_token": "t"});
        let issued = Issued::from_answer(&answer).unwrap();
        assert!(
            render(
                TokenFormat::Xoauth2,
                &answer,
                &issued,
                &SaslTarget::default()
            )
            .is_err()
        );
    }
}
