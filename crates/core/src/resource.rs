//! The resource part of an API URL (`me`, `users/{id}`, ...), from the shorthands python-o365
//! accepts (`ApiComponent._parse_resource`).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A resource path under the service URL. [`Resource::service_root`] is the empty resource of
/// app-only flows, where `me` means nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Resource(String);

const SHORTHANDS: [(&str, &str); 3] =
    [("user:", "users"), ("group:", "groups"), ("site:", "sites")];

impl Resource {
    pub fn me() -> Self {
        Resource("me".to_owned())
    }

    /// The service URL itself: what python-o365 uses (`''`) for the credentials and password
    /// flows.
    pub fn service_root() -> Self {
        Resource(String::new())
    }

    /// Parses a resource the way python-o365 does:
    /// - `x@y` (an address) becomes `users/x@y`, also when followed by `/more`;
    /// - `user:x`, `group:x`, `site:x` become `users/x`, `groups/x`, `sites/x`;
    /// - anything else (`me`, `users/x`, `sites/host:/path:`) is kept.
    ///
    /// Unlike python-o365, empty input is an error (use [`Resource::service_root`] for
    /// app-only flows), and so are whitespace, `?`, empty path segments, an unknown `word:`
    /// shorthand and an address with an empty part, which would otherwise become a wrong URL.
    pub fn parse(input: &str) -> Result<Resource> {
        let value = input.trim().trim_matches('/');
        if value.is_empty() {
            return Err(invalid(
                "must not be empty; use `me`, `users/{id}`, an email address, or \
                 `user:`/`group:`/`site:` followed by an id",
            ));
        }
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid(&format!(
                "`{}` contains whitespace",
                value.escape_debug()
            )));
        }
        if value.contains('?') {
            return Err(invalid(&format!(
                "`{value}` contains `?`; a resource has no query"
            )));
        }
        if value.split('/').any(str::is_empty) {
            return Err(invalid(&format!("`{value}` has an empty path segment")));
        }
        let first = value.split('/').next().unwrap_or(value);

        for (shorthand, collection) in SHORTHANDS {
            if let Some(id) = strip_prefix_ignoring_case(value, shorthand) {
                if id.is_empty() {
                    return Err(invalid(&format!("`{value}` names no {shorthand} id")));
                }
                if first.contains('@') {
                    check_address(id.split('/').next().unwrap_or(id))?;
                }
                return Ok(Resource(format!("{collection}/{id}")));
            }
        }
        if first.contains('@') {
            check_address(first)?;
            return Ok(Resource(format!("users/{value}")));
        }
        if let Some((word, _)) = first.split_once(':')
            && !word.contains('.')
        {
            // `host.example.com:/path` is Graph's site-path syntax; a bare `word:` is a typo'd
            // shorthand that python-o365 would send as-is.
            return Err(invalid(&format!(
                "`{word}:` is not a shorthand; use `user:`, `group:` or `site:`"
            )));
        }
        Ok(Resource(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_service_root(&self) -> bool {
        self.0.is_empty()
    }

    pub fn is_me(&self) -> bool {
        self.0 == "me"
    }

    /// The path segments, for appending to a URL with percent-encoding (a guest's address
    /// holds `#EXT#`).
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|segment| !segment.is_empty())
    }
}

fn invalid(reason: &str) -> Error {
    Error::invalid_input("resource", reason)
}

fn strip_prefix_ignoring_case<'a>(value: &'a str, prefix: &str) -> Option<&'a str> {
    let head = value.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &value[prefix.len()..])
}

fn check_address(address: &str) -> Result<()> {
    match address.rsplit_once('@') {
        Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@') =>
        {
            Ok(())
        }
        _ => Err(invalid(&format!("`{address}` is not an email address"))),
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Resource {
    type Error = Error;

    /// The stored form is the parsed form, so `users/x` stays `users/x`; the empty string is
    /// the service root here, because that is how it was stored.
    fn try_from(value: String) -> Result<Resource> {
        if value.is_empty() {
            Ok(Resource::service_root())
        } else {
            Resource::parse(&value)
        }
    }
}

impl From<Resource> for String {
    fn from(value: Resource) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(input: &str) -> String {
        Resource::parse(input).unwrap().to_string()
    }

    #[test]
    fn python_o365_shorthands() {
        assert_eq!(parsed("me"), "me");
        assert_eq!(parsed("users/alice@contoso.com"), "users/alice@contoso.com");
        assert_eq!(parsed("alice@contoso.com"), "users/alice@contoso.com");
        assert_eq!(
            parsed("shared@contoso.com/mailFolders"),
            "users/shared@contoso.com/mailFolders"
        );
        assert_eq!(parsed("user:11112222-bbbb"), "users/11112222-bbbb");
        assert_eq!(parsed("user:alice@contoso.com"), "users/alice@contoso.com");
        assert_eq!(parsed("group:g-123"), "groups/g-123");
        assert_eq!(
            parsed("site:contoso.sharepoint.com"),
            "sites/contoso.sharepoint.com"
        );
        assert_eq!(
            parsed("site:contoso.sharepoint.com:/sites/marketing:"),
            "sites/contoso.sharepoint.com:/sites/marketing:"
        );
    }

    #[test]
    fn surrounding_space_and_slashes_are_trimmed() {
        assert_eq!(parsed("  me "), "me");
        assert_eq!(parsed("/users/x/"), "users/x");
    }

    #[test]
    fn graph_site_paths_pass_through() {
        assert_eq!(
            parsed("sites/contoso.sharepoint.com:/sites/marketing:"),
            "sites/contoso.sharepoint.com:/sites/marketing:"
        );
    }

    #[test]
    fn guest_addresses_keep_their_hash() {
        let guest = Resource::parse("alice_fabrikam.com#EXT#@contoso.onmicrosoft.com").unwrap();
        assert_eq!(
            guest.as_str(),
            "users/alice_fabrikam.com#EXT#@contoso.onmicrosoft.com"
        );
        assert_eq!(guest.segments().count(), 2);
    }

    #[test]
    fn malformed_input_is_refused_with_a_reason() {
        let cases = [
            ("", "must not be empty"),
            ("   ", "must not be empty"),
            ("user:", "names no user: id"),
            ("group:", "names no group: id"),
            ("@contoso.com", "is not an email address"),
            ("alice@", "is not an email address"),
            ("user:alice@", "is not an email address"),
            ("users//x", "empty path segment"),
            ("users/a b", "whitespace"),
            ("me?$select=id", "has no query"),
            ("usr:abc", "`usr:` is not a shorthand"),
        ];
        for (input, reason) in cases {
            let error = Resource::parse(input).unwrap_err();
            assert_eq!(error.code(), "invalid_input");
            assert!(error.to_string().contains(reason), "{input:?}: {error}");
        }
    }

    #[test]
    fn service_root_is_explicit_and_survives_storage() {
        let root = Resource::service_root();
        assert!(root.is_service_root());
        assert!(!root.is_me());
        let json = serde_json::to_string(&root).unwrap();
        assert_eq!(json, r#""""#);
        assert_eq!(serde_json::from_str::<Resource>(&json).unwrap(), root);
        let me: Resource = serde_json::from_str(r#""me""#).unwrap();
        assert!(me.is_me());
        assert!(serde_json::from_str::<Resource>(r#""usr:x""#).is_err());
    }
}
