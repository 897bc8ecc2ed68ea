//! Scope helpers and scope lists: python-o365's helper table, expansion of a list that mixes
//! helper names and literal scopes, prefixing with the protocol's resource, de-duplication.
//!
//! Where we differ from python-o365 (see `docs/parity.md`):
//! - The reserved OpenID Connect scopes (`openid`, `profile`, `offline_access`, `email`) are
//!   never prefixed. python-o365 turns `offline_access` into
//!   `https://graph.microsoft.com/offline_access`, which Microsoft does not treat as the
//!   reserved scope. Delegated flows add them with [`Scopes::with_sign_in_scopes`], the way
//!   MSAL does; client credentials must not.
//! - The order of the request is kept (python-o365 returns a set, in arbitrary order), and
//!   duplicates are dropped ignoring case, because Microsoft compares scopes case-insensitively.
//! - A bare, dot-less, lower-case word such as `mailbx` is taken as a helper name when the
//!   protocol has helpers, and an unknown one is an error instead of a scope Microsoft would
//!   reject later. Every Graph permission has a dot (`User.Read`), so no real scope is lost;
//!   for others write the scope fully qualified (`https://host/user_impersonation`). Any other
//!   unknown string is a literal scope, as in python-o365.
//! - Empty scopes and scopes with whitespace or characters outside RFC 6749's scope-token
//!   alphabet are rejected.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A named group of scopes, e.g. `message_all` = `Mail.ReadWrite` + `Mail.Send`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScopeHelper {
    pub name: &'static str,
    pub scopes: &'static [&'static str],
}

const fn helper(name: &'static str, scopes: &'static [&'static str]) -> ScopeHelper {
    ScopeHelper { name, scopes }
}

/// python-o365's `DEFAULT_SCOPES`, in its order: 25 helpers, 24 distinct scopes
/// (`settings_all` repeats `mailbox_settings`).
pub const GRAPH_SCOPE_HELPERS: &[ScopeHelper] = &[
    helper("basic", &["User.Read"]),
    helper("mailbox", &["Mail.Read"]),
    helper("mailbox_shared", &["Mail.Read.Shared"]),
    helper("mailbox_settings", &["MailboxSettings.ReadWrite"]),
    helper("message_send", &["Mail.Send"]),
    helper("message_send_shared", &["Mail.Send.Shared"]),
    helper("message_all", &["Mail.ReadWrite", "Mail.Send"]),
    helper(
        "message_all_shared",
        &["Mail.ReadWrite.Shared", "Mail.Send.Shared"],
    ),
    helper("address_book", &["Contacts.Read"]),
    helper("address_book_shared", &["Contacts.Read.Shared"]),
    helper("address_book_all", &["Contacts.ReadWrite"]),
    helper("address_book_all_shared", &["Contacts.ReadWrite.Shared"]),
    helper("calendar", &["Calendars.Read"]),
    helper("calendar_shared", &["Calendars.Read.Shared"]),
    helper("calendar_all", &["Calendars.ReadWrite"]),
    helper("calendar_shared_all", &["Calendars.ReadWrite.Shared"]),
    helper("users", &["User.ReadBasic.All"]),
    helper("onedrive", &["Files.Read.All"]),
    helper("onedrive_all", &["Files.ReadWrite.All"]),
    helper("sharepoint", &["Sites.Read.All"]),
    helper("sharepoint_all", &["Sites.ReadWrite.All"]),
    helper("settings_all", &["MailboxSettings.ReadWrite"]),
    helper("tasks", &["Tasks.Read"]),
    helper("tasks_all", &["Tasks.ReadWrite"]),
    helper("presence", &["Presence.Read"]),
];

/// Business Central's delegated permissions. python-o365 reuses the Graph table here, which
/// yields scopes that do not exist (`https://api.businesscentral.dynamics.com/User.Read`).
pub const BUSINESS_CENTRAL_SCOPE_HELPERS: &[ScopeHelper] = &[
    helper("financials", &["Financials.ReadWrite.All"]),
    helper("user_impersonation", &["user_impersonation"]),
];

/// Which helper table a protocol uses. Serialisable, unlike the tables themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HelperTable {
    Graph,
    BusinessCentral,
    None,
}

impl HelperTable {
    pub fn helpers(self) -> &'static [ScopeHelper] {
        match self {
            HelperTable::Graph => GRAPH_SCOPE_HELPERS,
            HelperTable::BusinessCentral => BUSINESS_CENTRAL_SCOPE_HELPERS,
            HelperTable::None => &[],
        }
    }

    pub fn find(self, name: &str) -> Option<&'static ScopeHelper> {
        self.helpers().iter().find(|helper| helper.name == name)
    }
}

/// The OpenID Connect scopes Microsoft reserves; they name no resource and are never prefixed.
pub const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "offline_access", "email"];

/// What MSAL adds to every delegated sign-in, in MSAL's order: a refresh token
/// (`offline_access`), an ID token (`openid`) and the `oid`/`preferred_username` claims
/// (`profile`).
pub const SIGN_IN_SCOPES: [&str; 3] = ["offline_access", "openid", "profile"];

pub fn is_oidc_scope(scope: &str) -> bool {
    OIDC_SCOPES
        .iter()
        .any(|reserved| reserved.eq_ignore_ascii_case(scope))
}

/// An ordered list of scopes without duplicates (compared ignoring case).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Scopes(Vec<String>);

impl Scopes {
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|known| known.eq_ignore_ascii_case(scope))
    }

    /// Scopes exactly as a token answer or a cache lists them (space-separated, already
    /// qualified): nothing is expanded or prefixed, duplicates are dropped.
    pub fn from_granted(granted: &str) -> Self {
        granted.split_whitespace().map(str::to_owned).collect()
    }

    /// The scopes sorted, lower-cased and space-joined: how a cache or store keys a token.
    pub fn cache_key(&self) -> String {
        let mut scopes: Vec<String> = self.0.iter().map(|s| s.to_ascii_lowercase()).collect();
        scopes.sort();
        scopes.join(" ")
    }

    /// Whether every scope of `wanted` is among these (ignoring case).
    pub fn covers(&self, wanted: &Scopes) -> bool {
        wanted.iter().all(|scope| self.contains(scope))
    }

    /// Whether these scopes cover every scope of `wanted` that grants access: OpenID Connect
    /// scopes (`openid`, `profile`, ...) are not in access tokens and are left out.
    pub fn covers_access(&self, wanted: &Scopes) -> bool {
        wanted
            .iter()
            .filter(|scope| !is_oidc_scope(scope))
            .all(|scope| self.contains(scope))
    }

    /// The `scope` parameter of an OAuth request: space-separated.
    pub fn to_request_string(&self) -> String {
        self.0.join(" ")
    }

    fn push(&mut self, scope: String) {
        if !self.contains(&scope) {
            self.0.push(scope);
        }
    }

    /// Adds `offline_access openid profile` (those missing), as MSAL does for delegated flows.
    pub fn with_sign_in_scopes(mut self) -> Self {
        for scope in SIGN_IN_SCOPES {
            self.push(scope.to_owned());
        }
        self
    }

    /// Drops the OpenID Connect scopes: what a refresh re-requests from a cached scope list
    /// (python-o365 strips `profile openid offline_access` the same way) and what a
    /// client-credentials request must not contain.
    pub fn without_oidc_scopes(mut self) -> Self {
        self.0.retain(|scope| !is_oidc_scope(scope));
        self
    }

    /// The distinct resources named, e.g. `https://graph.microsoft.com`; OIDC scopes name none
    /// and bare scopes (no prefix configured) are Graph's by Microsoft's default.
    pub fn resources(&self) -> Vec<&str> {
        let mut resources: Vec<&str> = Vec::new();
        for scope in self.iter().filter(|scope| !is_oidc_scope(scope)) {
            let resource = resource_of(scope);
            if !resources
                .iter()
                .any(|known| known.eq_ignore_ascii_case(resource))
            {
                resources.push(resource);
            }
        }
        resources
    }

    /// Checks what Microsoft would reject in a token request: scopes of more than one resource
    /// (AADSTS700022) and `.default` mixed with other scopes of its resource (AADSTS70011).
    /// An authorize request may span resources (consent for all at once), so this is for the
    /// token, refresh and client-credentials requests only.
    pub fn check_token_request(&self) -> Result<()> {
        let resources = self.resources();
        if resources.len() > 1 {
            return Err(Error::invalid_input(
                "scopes",
                format!(
                    "a token request can name one resource only, these name {}: {}; \
                     request a token per resource",
                    resources.len(),
                    resources.join(", ")
                ),
            ));
        }
        let resource_scopes: Vec<&str> = self.iter().filter(|s| !is_oidc_scope(s)).collect();
        let has_default = resource_scopes.iter().any(|scope| is_default_scope(scope));
        if has_default && resource_scopes.len() > 1 {
            return Err(Error::invalid_input(
                "scopes",
                "`.default` cannot be combined with other scopes of the same resource",
            ));
        }
        Ok(())
    }
}

impl FromIterator<String> for Scopes {
    fn from_iter<I: IntoIterator<Item = String>>(iter: I) -> Self {
        let mut scopes = Scopes::default();
        for scope in iter {
            scopes.push(scope);
        }
        scopes
    }
}

impl<'a> IntoIterator for &'a Scopes {
    type Item = &'a String;
    type IntoIter = std::slice::Iter<'a, String>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

fn is_default_scope(scope: &str) -> bool {
    scope == ".default" || scope.ends_with("/.default")
}

/// `https://graph.microsoft.com/User.Read` → `https://graph.microsoft.com`; a bare scope is
/// Graph's, as Microsoft assumes.
fn resource_of(scope: &str) -> &str {
    match scope.rfind('/') {
        Some(slash) => &scope[..slash],
        None => "https://graph.microsoft.com",
    }
}

/// Checks one scope against RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
/// The scope is not echoed when it holds a character that has no business in one, in case
/// someone pasted a secret into the wrong field.
pub fn validate_scope(scope: &str) -> Result<()> {
    if scope.trim().is_empty() {
        return Err(Error::invalid_input("scope", "a scope must not be empty"));
    }
    if scope.chars().any(char::is_whitespace) {
        return Err(Error::invalid_input(
            "scope",
            format!(
                "`{}` contains whitespace; give each scope as its own item",
                scope.trim()
            ),
        ));
    }
    if let Some(bad) = scope
        .chars()
        .find(|&c| !matches!(c, '\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E'))
    {
        return Err(Error::invalid_input(
            "scope",
            format!(
                "a scope contains the character {bad:?}, which scopes cannot contain \
                 (printable ASCII except `\"` and `\\`)"
            ),
        ));
    }
    Ok(())
}

/// Adds `prefix` to a scope that names no resource. Reserved OIDC scopes (always written in
/// lower case, as Microsoft documents them) and scopes that already name a resource (contain a
/// `/`: `https://host/Scope`, `api://id/Scope`, `{app id}/Scope`) are left alone; a bare
/// `.default` becomes `{prefix}.default`.
pub fn prefix_scope(scope: &str, prefix: &str) -> String {
    if is_oidc_scope(scope) {
        return scope.to_ascii_lowercase();
    }
    if prefix.is_empty() || scope.contains('/') {
        return scope.to_owned();
    }
    format!("{prefix}{scope}")
}

/// A bare, dot-less, lower-case word: what a helper name looks like and no Graph permission
/// does.
fn looks_like_helper(item: &str) -> bool {
    item.starts_with(|c: char| c.is_ascii_lowercase())
        && item
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !is_oidc_scope(item)
}

/// Expands a user's list of helper names and literal scopes into prefixed scopes, keeping the
/// order of first appearance. python-o365: `Protocol.get_scopes_for(list)`.
pub fn expand_scopes<S: AsRef<str>>(
    requested: &[S],
    table: HelperTable,
    prefix: &str,
) -> Result<Scopes> {
    let mut scopes = Scopes::default();
    for item in requested {
        let item = item.as_ref();
        validate_scope(item)?;
        if let Some(helper) = table.find(item) {
            for scope in helper.scopes {
                scopes.push(prefix_scope(scope, prefix));
            }
        } else if !table.helpers().is_empty() && looks_like_helper(item) {
            return Err(unknown_helper(item, table, prefix));
        } else {
            scopes.push(prefix_scope(item, prefix));
        }
    }
    Ok(scopes)
}

/// Every helper's scopes: python-o365's `get_scopes_for(None)`.
pub fn all_helper_scopes(table: HelperTable, prefix: &str) -> Scopes {
    let mut scopes = Scopes::default();
    for helper in table.helpers() {
        for scope in helper.scopes {
            scopes.push(prefix_scope(scope, prefix));
        }
    }
    scopes
}

fn unknown_helper(item: &str, table: HelperTable, prefix: &str) -> Error {
    let known: Vec<&str> = table.helpers().iter().map(|helper| helper.name).collect();
    Error::invalid_input(
        "scope",
        format!(
            "`{item}` is not a scope helper (known helpers: {}); if it is a scope, write it \
             fully qualified, e.g. `{prefix}{item}`",
            known.join(", ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRAPH: &str = "https://graph.microsoft.com/";

    fn expand(items: &[&str]) -> Result<Vec<String>> {
        expand_scopes(items, HelperTable::Graph, GRAPH).map(|scopes| scopes.as_slice().to_vec())
    }

    #[test]
    fn access_cover_ignores_openid_connect_scopes_and_case() {
        let held = Scopes::from_granted("https://graph.microsoft.com/Mail.Read User.Read");
        let wanted = |text: &str| Scopes::from_granted(text);
        assert!(held.covers_access(&wanted("openid profile offline_access user.read")));
        assert!(held.covers_access(&wanted("openid")));
        assert!(held.covers_access(&wanted("")));
        assert!(!held.covers_access(&wanted("openid Mail.Send")));
        assert!(
            !held.covers(&wanted("openid User.Read")),
            "covers counts every scope"
        );
    }

    #[test]
    fn graph_table_matches_python_o365() {
        // The exact table of python-o365 2.1.10 (O365/connection.py DEFAULT_SCOPES).
        let expected: &[(&str, &[&str])] = &[
            ("basic", &["User.Read"]),
            ("mailbox", &["Mail.Read"]),
            ("mailbox_shared", &["Mail.Read.Shared"]),
            ("mailbox_settings", &["MailboxSettings.ReadWrite"]),
            ("message_send", &["Mail.Send"]),
            ("message_send_shared", &["Mail.Send.Shared"]),
            ("message_all", &["Mail.ReadWrite", "Mail.Send"]),
            (
                "message_all_shared",
                &["Mail.ReadWrite.Shared", "Mail.Send.Shared"],
            ),
            ("address_book", &["Contacts.Read"]),
            ("address_book_shared", &["Contacts.Read.Shared"]),
            ("address_book_all", &["Contacts.ReadWrite"]),
            ("address_book_all_shared", &["Contacts.ReadWrite.Shared"]),
            ("calendar", &["Calendars.Read"]),
            ("calendar_shared", &["Calendars.Read.Shared"]),
            ("calendar_all", &["Calendars.ReadWrite"]),
            ("calendar_shared_all", &["Calendars.ReadWrite.Shared"]),
            ("users", &["User.ReadBasic.All"]),
            ("onedrive", &["Files.Read.All"]),
            ("onedrive_all", &["Files.ReadWrite.All"]),
            ("sharepoint", &["Sites.Read.All"]),
            ("sharepoint_all", &["Sites.ReadWrite.All"]),
            ("settings_all", &["MailboxSettings.ReadWrite"]),
            ("tasks", &["Tasks.Read"]),
            ("tasks_all", &["Tasks.ReadWrite"]),
            ("presence", &["Presence.Read"]),
        ];
        let actual: Vec<(&str, &[&str])> = GRAPH_SCOPE_HELPERS
            .iter()
            .map(|helper| (helper.name, helper.scopes))
            .collect();
        assert_eq!(actual, expected);
    }

    #[test]
    fn all_helpers_expand_to_24_distinct_prefixed_scopes() {
        let all = all_helper_scopes(HelperTable::Graph, GRAPH);
        assert_eq!(all.len(), 24);
        assert_eq!(all.as_slice()[0], "https://graph.microsoft.com/User.Read");
        assert!(all.iter().all(|scope| scope.starts_with(GRAPH)));
    }

    #[test]
    fn helpers_and_literals_mix_and_keep_order() {
        assert_eq!(
            expand(&["message_all", "Calendars.Read", "basic"]).unwrap(),
            [
                "https://graph.microsoft.com/Mail.ReadWrite",
                "https://graph.microsoft.com/Mail.Send",
                "https://graph.microsoft.com/Calendars.Read",
                "https://graph.microsoft.com/User.Read",
            ]
        );
    }

    #[test]
    fn duplicates_are_dropped_ignoring_case_keeping_the_first() {
        assert_eq!(
            expand(&[
                "mailbox_settings",
                "settings_all",
                "mailboxsettings.readwrite",
                "basic",
                "User.Read"
            ])
            .unwrap(),
            [
                "https://graph.microsoft.com/MailboxSettings.ReadWrite",
                "https://graph.microsoft.com/User.Read",
            ]
        );
    }

    #[test]
    fn reserved_oidc_scopes_are_never_prefixed() {
        assert_eq!(
            expand(&["offline_access", "openid", "Profile", "email", "basic"]).unwrap(),
            [
                "offline_access",
                "openid",
                "profile",
                "email",
                "https://graph.microsoft.com/User.Read"
            ]
        );
    }

    #[test]
    fn qualified_scopes_stay_as_they_are_and_bare_default_is_prefixed() {
        assert_eq!(
            expand(&[
                "https://graph.microsoft.com/Mail.Read",
                "api://11112222-bbbb-3333-cccc-4444dddd5555/access_as_user",
                "https://api.businesscentral.dynamics.com/.default",
                ".default",
            ])
            .unwrap(),
            [
                "https://graph.microsoft.com/Mail.Read",
                "api://11112222-bbbb-3333-cccc-4444dddd5555/access_as_user",
                "https://api.businesscentral.dynamics.com/.default",
                "https://graph.microsoft.com/.default",
            ]
        );
    }

    #[test]
    fn a_string_is_taken_literally_when_it_is_no_helper() {
        // python-o365 keeps unknown strings as scopes; so do we when they look like scopes.
        assert_eq!(
            expand(&["Mail.Read.Shared", "Sites.Selected"]).unwrap(),
            [
                "https://graph.microsoft.com/Mail.Read.Shared",
                "https://graph.microsoft.com/Sites.Selected"
            ]
        );
    }

    #[test]
    fn unknown_helper_names_are_errors_with_the_known_list() {
        let error = expand(&["basic", "mailbx"]).unwrap_err();
        assert_eq!(error.code(), "invalid_input");
        let text = error.to_string();
        assert!(text.contains("`mailbx` is not a scope helper"), "{text}");
        assert!(text.contains("mailbox_shared"), "{text}");
        assert!(
            text.contains("https://graph.microsoft.com/mailbx"),
            "{text}"
        );
    }

    #[test]
    fn without_a_helper_table_bare_words_are_scopes() {
        let scopes =
            expand_scopes(&["access_as_user"], HelperTable::None, "api://my-api/").unwrap();
        assert_eq!(scopes.as_slice(), ["api://my-api/access_as_user"]);
    }

    #[test]
    fn empty_prefix_leaves_bare_scopes_bare() {
        let scopes = expand_scopes(&["basic", "Mail.Read"], HelperTable::Graph, "").unwrap();
        assert_eq!(scopes.as_slice(), ["User.Read", "Mail.Read"]);
    }

    #[test]
    fn empty_and_whitespace_scopes_are_rejected() {
        for bad in ["", "   ", "Mail.Read Mail.Send", "Mail.Read\n", "\tbasic"] {
            let error = expand(&[bad]).unwrap_err();
            assert_eq!(error.code(), "invalid_input", "{bad:?}");
        }
        for bad in ["Mail\"Read", "Mail\\Read", "Mäil.Read"] {
            assert!(validate_scope(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rejection_does_not_echo_strange_characters() {
        let error = validate_scope("sêcret-value").unwrap_err();
        assert!(!error.to_string().contains("sêcret-value"), "{error}");
    }

    #[test]
    fn business_central_helpers_do_not_contain_graph_helpers() {
        let prefix = "https://api.businesscentral.dynamics.com/";
        let scopes = expand_scopes(&["financials"], HelperTable::BusinessCentral, prefix).unwrap();
        assert_eq!(
            scopes.as_slice(),
            ["https://api.businesscentral.dynamics.com/Financials.ReadWrite.All"]
        );
        let error = expand_scopes(&["basic"], HelperTable::BusinessCentral, prefix).unwrap_err();
        assert!(
            error.to_string().contains("`basic` is not a scope helper"),
            "{error}"
        );
    }

    #[test]
    fn sign_in_scopes_are_added_once_in_msal_order() {
        let scopes = expand_scopes(&["basic", "openid"], HelperTable::Graph, GRAPH)
            .unwrap()
            .with_sign_in_scopes();
        assert_eq!(
            scopes.as_slice(),
            [
                "https://graph.microsoft.com/User.Read",
                "openid",
                "offline_access",
                "profile"
            ]
        );
        assert_eq!(
            scopes.to_request_string(),
            "https://graph.microsoft.com/User.Read openid offline_access profile"
        );
        assert_eq!(
            scopes.without_oidc_scopes().as_slice(),
            ["https://graph.microsoft.com/User.Read"]
        );
    }

    #[test]
    fn token_requests_name_one_resource() {
        let one = expand_scopes(
            &["basic", "mailbox", "offline_access"],
            HelperTable::Graph,
            GRAPH,
        )
        .unwrap();
        assert_eq!(one.resources(), ["https://graph.microsoft.com"]);
        assert!(one.check_token_request().is_ok());

        let two = expand_scopes(
            &[
                "basic",
                "https://api.businesscentral.dynamics.com/Financials.ReadWrite.All",
            ],
            HelperTable::Graph,
            GRAPH,
        )
        .unwrap();
        let error = two.check_token_request().unwrap_err();
        assert!(error.to_string().contains("one resource only"), "{error}");
    }

    #[test]
    fn default_cannot_be_mixed_with_other_scopes() {
        let mixed = expand_scopes(&[".default", "basic"], HelperTable::Graph, GRAPH).unwrap();
        assert!(mixed.check_token_request().is_err());
        let alone = expand_scopes(&[".default"], HelperTable::Graph, GRAPH).unwrap();
        assert!(alone.check_token_request().is_ok());
    }

    #[test]
    fn scopes_serialise_as_a_plain_list() {
        let scopes = expand_scopes(&["basic"], HelperTable::Graph, GRAPH).unwrap();
        let json = serde_json::to_string(&scopes).unwrap();
        assert_eq!(json, r#"["https://graph.microsoft.com/User.Read"]"#);
    }
}

/// What a helper lets an app do, in a person's words (for the scope picker).
pub fn helper_description(name: &str) -> &'static str {
    match name {
        "basic" => "Sign you in and read your profile",
        "mailbox" => "Read your mail",
        "mailbox_shared" => "Read mail in mailboxes shared with you",
        "mailbox_settings" | "settings_all" => {
            "Read and change your mailbox settings (automatic replies, time zone)"
        }
        "message_send" => "Send mail as you",
        "message_send_shared" => "Send mail as you from shared mailboxes",
        "message_all" => "Read, change, delete and send your mail",
        "message_all_shared" => "Read, change, delete and send mail in shared mailboxes",
        "address_book" => "Read your contacts",
        "address_book_shared" => "Read contacts shared with you",
        "address_book_all" => "Read and change your contacts",
        "address_book_all_shared" => "Read and change contacts shared with you",
        "calendar" => "Read your calendars",
        "calendar_shared" => "Read calendars shared with you",
        "calendar_all" => "Read and change your calendars",
        "calendar_shared_all" => "Read and change calendars shared with you",
        "users" => "Read the basic profiles of everyone in your organisation",
        "onedrive" => "Read every file you can open",
        "onedrive_all" => "Read and change every file you can open",
        "sharepoint" => "Read items in every SharePoint site",
        "sharepoint_all" => "Read and change items in every SharePoint site",
        "tasks" => "Read your tasks",
        "tasks_all" => "Read and change your tasks",
        "presence" => "Read your Teams presence",
        "financials" => "Read and change Business Central data as you",
        "user_impersonation" => "Use Business Central as you",
        _ => "",
    }
}

/// How a scope picker entry would be read: helper names that do not exist and strings that
/// are not scopes, each with the reason.
pub fn unknown_entries<S: AsRef<str>>(
    requested: &[S],
    table: HelperTable,
) -> Vec<(String, String)> {
    requested
        .iter()
        .map(AsRef::as_ref)
        .filter_map(|item| {
            if let Err(error) = validate_scope(item) {
                return Some((item.to_owned(), error.to_string()));
            }
            (table.find(item).is_none() && !table.helpers().is_empty() && looks_like_helper(item))
                .then(|| (item.to_owned(), format!("`{item}` is not a scope helper")))
        })
        .collect()
}

#[cfg(test)]
mod description_tests {
    use super::*;

    #[test]
    fn every_helper_has_a_description() {
        for table in [HelperTable::Graph, HelperTable::BusinessCentral] {
            for helper in table.helpers() {
                assert!(
                    !helper_description(helper.name).is_empty(),
                    "{}",
                    helper.name
                );
            }
        }
    }

    #[test]
    fn unknown_entries_are_named_and_the_rest_pass() {
        let unknown = unknown_entries(
            &["basic", "mailbx", "Mail.Read", "bad scope"],
            HelperTable::Graph,
        );
        let names: Vec<&str> = unknown.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["mailbx", "bad scope"]);
    }
}
