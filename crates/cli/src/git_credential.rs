//! git's credential-helper protocol (gitcredentials(7), git-credential(1)) for Azure DevOps
//! over HTTPS: git writes `key=value` lines ending in a blank line; for `get` we answer
//! `username=` and `password=` (an Entra access token for Azure DevOps, which it accepts as
//! the password of HTTP basic authentication) and `password_expiry_utc=`, so git never keeps
//! the token past its life.
//!
//! - Hosts other than `dev.azure.com` and `*.visualstudio.com` get no answer (exit 0), so git
//!   asks its next helper.
//! - The account: git's `username` when it names an account the service knows (Azure DevOps
//!   URLs often carry the organisation as user name, which names none), else
//!   `$O365_AUTH_GIT_ACCOUNT`, else the only account.
//! - `store` does nothing: the service keeps the tokens.
//! - `erase` (git was refused with our token) asks the service for a fresh token
//!   (`token.refresh`), so the next `get` does not hand out the refused one again. It never
//!   fails loudly: git ignores a helper's failure on erase.

use std::io::BufRead;

/// The Azure DevOps resource's scope (its application id, `/.default`).
pub const AZURE_DEVOPS_SCOPE: &str = "499b84ac-1321-427f-aa17-267ca6975798/.default";

/// What git told us (the attributes we use; others are ignored).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CredentialRequest {
    pub protocol: Option<String>,
    pub host: Option<String>,
    pub path: Option<String>,
    pub username: Option<String>,
}

/// Reads attributes until a blank line or the end of input. Later values win, as in git;
/// `key[]` arrays and unknown keys are skipped.
pub fn parse(input: impl BufRead) -> std::io::Result<CredentialRequest> {
    let mut request = CredentialRequest::default();
    for line in input.lines() {
        let line = line?;
        let line = line.strip_suffix('\r').unwrap_or(&line);
        if line.is_empty() {
            break;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let owned = Some(value.to_owned());
        match key {
            "protocol" => request.protocol = owned,
            "host" => request.host = owned,
            "path" => request.path = owned,
            "username" => request.username = owned,
            "url" => {
                if let Some(parsed) = parse_url(value) {
                    request = CredentialRequest {
                        path: parsed.path.or(request.path),
                        username: parsed.username.or(request.username),
                        ..parsed
                    };
                }
            }
            _ => {}
        }
    }
    Ok(request)
}

/// `url=` is shorthand for protocol, host, path (and user) in git's protocol.
fn parse_url(url: &str) -> Option<CredentialRequest> {
    let (protocol, rest) = url.split_once("://")?;
    let (authority, path) = match rest.split_once('/') {
        Some((authority, path)) => (authority, Some(path.to_owned())),
        None => (rest, None),
    };
    let (username, host) = match authority.rsplit_once('@') {
        Some((user, host)) => (
            Some(user.split(':').next().unwrap_or(user).to_owned()),
            host,
        ),
        None => (None, authority),
    };
    Some(CredentialRequest {
        protocol: Some(protocol.to_owned()),
        host: Some(host.to_owned()),
        path: path.filter(|path| !path.is_empty()),
        username: username.filter(|user| !user.is_empty()),
    })
}

impl CredentialRequest {
    /// Whether this is Azure DevOps over HTTPS, the one thing this helper answers for.
    pub fn is_azure_devops(&self) -> bool {
        if self
            .protocol
            .as_deref()
            .is_some_and(|protocol| !protocol.eq_ignore_ascii_case("https"))
        {
            return false;
        }
        let Some(host) = self.host.as_deref() else {
            return false;
        };
        let host = host
            .rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map_or(host, |(name, _)| name)
            .trim_end_matches('.')
            .to_ascii_lowercase();
        host == "dev.azure.com"
            || host
                .strip_suffix(".visualstudio.com")
                .is_some_and(|org| !org.is_empty() && !org.contains('.'))
    }

    /// The account names to try, in order (`None`: the only account). git's user name comes
    /// first but may name no account, so a second choice always follows it.
    pub fn account_choices(&self, configured: Option<&str>) -> Vec<Option<String>> {
        let configured = configured
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_owned);
        let mut choices = Vec::new();
        if let Some(user) = self
            .username
            .as_deref()
            .map(str::trim)
            .filter(|user| !user.is_empty())
        {
            choices.push(Some(user.to_owned()));
        }
        if !choices.contains(&configured) {
            choices.push(configured);
        }
        choices
    }
}

/// The answer to `get`.
pub fn answer(username: &str, token: &str, expires_at: Option<i64>) -> String {
    let mut out = format!("username={username}\npassword={token}\n");
    if let Some(expires_at) = expires_at {
        out.push_str(&format!("password_expiry_utc={expires_at}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(text: &str) -> CredentialRequest {
        parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn git_input_is_read_up_to_the_blank_line() {
        let got = request(
            "capability[]=authtype\nprotocol=https\nhost=dev.azure.com\npath=org/proj/_git/repo\n\
             username=org\nwwwauth[]=Bearer authorization_uri=x\n\nhost=ignored.example\n",
        );
        assert_eq!(
            got,
            CredentialRequest {
                protocol: Some("https".into()),
                host: Some("dev.azure.com".into()),
                path: Some("org/proj/_git/repo".into()),
                username: Some("org".into()),
            }
        );
        // CRLF and a missing final blank line are tolerated; values may hold `=`.
        let crlf = request("protocol=https\r\nhost=x.visualstudio.com\r\nusername=a=b\r\n");
        assert_eq!(crlf.username.as_deref(), Some("a=b"));
        assert!(crlf.is_azure_devops());
    }

    #[test]
    fn a_url_attribute_expands() {
        let got = request("url=https://org@dev.azure.com/org/p/_git/r\n\n");
        assert_eq!(got.host.as_deref(), Some("dev.azure.com"));
        assert_eq!(got.username.as_deref(), Some("org"));
        assert_eq!(got.path.as_deref(), Some("org/p/_git/r"));
        assert!(got.is_azure_devops());
    }

    #[test]
    fn only_azure_devops_over_https_is_answered() {
        let is = |protocol: &str, host: &str| {
            CredentialRequest {
                protocol: Some(protocol.into()),
                host: Some(host.into()),
                ..Default::default()
            }
            .is_azure_devops()
        };
        assert!(is("https", "dev.azure.com"));
        assert!(is("https", "DEV.Azure.com:443"));
        assert!(is("https", "contoso.visualstudio.com"));
        assert!(!is("http", "dev.azure.com"));
        assert!(!is("https", "github.com"));
        assert!(!is("https", "visualstudio.com"));
        assert!(!is("https", "evil.dev.azure.com.example"));
        assert!(!is("https", "a.b.visualstudio.com"));
        assert!(!is("https", "notdev.azure.com"));
    }

    #[test]
    fn the_account_is_gits_user_then_the_configured_then_the_only_one() {
        let with_user = CredentialRequest {
            username: Some("adele@contoso.com".into()),
            ..Default::default()
        };
        assert_eq!(
            with_user.account_choices(None),
            vec![Some("adele@contoso.com".into()), None]
        );
        assert_eq!(
            with_user.account_choices(Some("work")),
            vec![Some("adele@contoso.com".into()), Some("work".into())]
        );
        assert_eq!(
            with_user.account_choices(Some("adele@contoso.com")),
            vec![Some("adele@contoso.com".into())]
        );
        let anonymous = CredentialRequest::default();
        assert_eq!(anonymous.account_choices(Some(" ")), vec![None]);
        assert_eq!(
            anonymous.account_choices(Some("work")),
            vec![Some("work".into())]
        );
    }

    #[test]
    fn the_answer_is_gits_format() {
        assert_eq!(
            answer("adele@contoso.com", "eyJ0", Some(1763803600)),
            "username=adele@contoso.com\npassword=eyJ0\npassword_expiry_utc=1763803600\n"
        );
    }
}
