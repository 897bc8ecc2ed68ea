//! MSAL's unified token-cache format, the one python-o365 (≥ 2.1) and every MSAL library write.
//!
//! The document is kept whole: sections and fields this code does not know (other SDKs add
//! some) survive a read-modify-write untouched. Typed views sit on top for the entries o365-auth
//! uses. Serialisation matches Python's `json.dumps(obj, indent=4)` byte for byte, so a file we
//! write is indistinguishable from one MSAL writes.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub const ACCESS_TOKEN: &str = "AccessToken";
pub const REFRESH_TOKEN: &str = "RefreshToken";
pub const ID_TOKEN: &str = "IdToken";
pub const ACCOUNT: &str = "Account";
pub const APP_METADATA: &str = "AppMetadata";

/// Section order as MSAL creates them when it adds a user token.
const SECTIONS: [&str; 5] = [ACCESS_TOKEN, ACCOUNT, ID_TOKEN, REFRESH_TOKEN, APP_METADATA];

#[derive(Debug, thiserror::Error)]
pub enum CacheFormatError {
    #[error(
        "this token file is in python-o365's pre-2.1 format (a top-level \"access_token\"); sign in again to create a new one"
    )]
    LegacyPythonO365,
    #[error("the token cache is not valid JSON: {0}")]
    Json(String),
    #[error("the token cache must be a JSON object of sections, found {0}")]
    NotAnObject(&'static str),
    #[error("the token cache's \"{section}\" section must be an object of entries")]
    BadSection { section: String },
    #[error("the token cache's {section} entry \"{key}\" is malformed: {reason}")]
    BadEntry {
        section: &'static str,
        key: String,
        reason: String,
    },
}

impl CacheFormatError {
    pub fn code(&self) -> &'static str {
        match self {
            CacheFormatError::LegacyPythonO365 => "cache_legacy_format",
            _ => "cache_malformed",
        }
    }
}

/// A whole MSAL cache document.
#[derive(Clone, Default, PartialEq)]
pub struct MsalCache {
    sections: Map<String, Value>,
}

// Entries hold tokens: show only what is there, never the values.
impl std::fmt::Debug for MsalCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut map = f.debug_map();
        for (name, section) in &self.sections {
            map.entry(name, &section.as_object().map_or(0, Map::len));
        }
        map.finish()
    }
}

/// Timestamps are strings of epoch seconds in this format.
fn epoch(value: &str) -> Option<i64> {
    value.parse().ok()
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountEntry {
    pub home_account_id: String,
    pub environment: String,
    pub realm: String,
    pub local_account_id: String,
    pub username: String,
    pub authority_type: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl std::fmt::Debug for AccountEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountEntry")
            .field("home_account_id", &self.home_account_id)
            .field("environment", &self.environment)
            .field("realm", &self.realm)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A refresh, access or id token entry. `secret` is the token itself.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct CredentialEntry {
    pub credential_type: String,
    pub secret: String,
    /// `null` for app-only tokens.
    pub home_account_id: Option<String>,
    pub environment: String,
    pub client_id: String,
    /// Sorted, space-separated scopes (absent on id tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The authority's tenant segment (absent on refresh tokens, which are cross-tenant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl std::fmt::Debug for CredentialEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialEntry")
            .field("credential_type", &self.credential_type)
            .field("secret", &"***")
            .field("home_account_id", &self.home_account_id)
            .field("client_id", &self.client_id)
            .field("target", &self.target)
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

impl CredentialEntry {
    /// Expiry of an access token, in epoch seconds.
    pub fn expires_on(&self) -> Option<i64> {
        self.extra.get("expires_on")?.as_str().and_then(epoch)
    }

    pub fn scopes(&self) -> Vec<&str> {
        self.target
            .as_deref()
            .map(|target| target.split(' ').filter(|s| !s.is_empty()).collect())
            .unwrap_or_default()
    }
}

/// The key grammar of MSAL's cache (MSAL lower-cases every key but AppMetadata's).
pub mod keys {
    fn join(parts: &[&str]) -> String {
        parts.join("-").to_lowercase()
    }

    pub fn account(home_account_id: &str, environment: &str, realm: &str) -> String {
        join(&[home_account_id, environment, realm])
    }

    pub fn access_token(
        home_account_id: Option<&str>,
        environment: &str,
        client_id: &str,
        realm: &str,
        target: &str,
    ) -> String {
        join(&[
            home_account_id.unwrap_or(""),
            environment,
            "accesstoken",
            client_id,
            realm,
            target,
        ])
    }

    pub fn refresh_token(
        home_account_id: Option<&str>,
        environment: &str,
        client_id: &str,
        target: &str,
    ) -> String {
        join(&[
            home_account_id.unwrap_or(""),
            environment,
            "refreshtoken",
            client_id,
            "",
            target,
        ])
    }

    pub fn id_token(
        home_account_id: &str,
        environment: &str,
        client_id: &str,
        realm: &str,
    ) -> String {
        join(&[
            home_account_id,
            environment,
            "idtoken",
            client_id,
            realm,
            "",
        ])
    }

    pub fn app_metadata(environment: &str, client_id: &str) -> String {
        format!("appmetadata-{environment}-{client_id}")
    }

    /// MSAL's `target`: scopes sorted and space-joined, original case kept.
    pub fn target<S: AsRef<str>>(scopes: &[S]) -> String {
        let mut sorted: Vec<&str> = scopes.iter().map(AsRef::as_ref).collect();
        sorted.sort_unstable();
        sorted.dedup();
        sorted.join(" ")
    }
}

impl MsalCache {
    /// Reads a cache file's text. An empty file is an empty cache, as MSAL treats it.
    pub fn parse(text: &str) -> Result<Self, CacheFormatError> {
        if text.trim().is_empty() {
            return Ok(MsalCache::default());
        }
        let value: Value = serde_json::from_str(text)
            .map_err(|error| CacheFormatError::Json(error.to_string()))?;
        let Value::Object(sections) = value else {
            return Err(CacheFormatError::NotAnObject(json_kind(&value)));
        };
        if sections.contains_key("access_token") {
            return Err(CacheFormatError::LegacyPythonO365);
        }
        for (name, section) in &sections {
            if !section.is_object() {
                return Err(CacheFormatError::BadSection {
                    section: name.clone(),
                });
            }
        }
        let cache = MsalCache { sections };
        // Surface malformed entries now rather than at first use.
        cache.accounts()?;
        for section in [ACCESS_TOKEN, REFRESH_TOKEN, ID_TOKEN] {
            cache.credentials(section)?;
        }
        Ok(cache)
    }

    /// The document as MSAL's `SerializableTokenCache.serialize()` writes it.
    pub fn to_json(&self) -> String {
        let mut out = Vec::new();
        let mut serializer =
            serde_json::Serializer::with_formatter(&mut out, python::JsonDumpsIndent4::default());
        // Serialising a Map into a Vec cannot fail.
        let _ = Value::Object(self.sections.clone()).serialize(&mut serializer);
        String::from_utf8(out).unwrap_or_default()
    }

    /// Whether the document is (or could become) a token cache: it has no sections yet, or
    /// at least one of MSAL's. A JSON object of other sections (a settings file, say) is not
    /// one, and an export refuses to write tokens into it.
    pub fn is_token_cache(&self) -> bool {
        self.sections.is_empty()
            || SECTIONS
                .iter()
                .any(|name| self.sections.contains_key(*name))
    }

    pub fn is_empty(&self) -> bool {
        self.sections
            .values()
            .all(|section| section.as_object().is_none_or(Map::is_empty))
    }

    fn section(&self, name: &str) -> impl Iterator<Item = (&String, &Value)> {
        self.sections
            .get(name)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
    }

    fn section_mut(&mut self, name: &str) -> &mut Map<String, Value> {
        if !self.sections.contains_key(name) {
            // Keep MSAL's section order for sections we create.
            let position = SECTIONS.iter().position(|known| *known == name);
            let mut rebuilt = Map::new();
            let mut inserted = false;
            for (existing, value) in std::mem::take(&mut self.sections) {
                let existing_position = SECTIONS.iter().position(|known| *known == existing);
                if !inserted && position.is_some() && existing_position > position {
                    rebuilt.insert(name.to_owned(), Value::Object(Map::new()));
                    inserted = true;
                }
                rebuilt.insert(existing, value);
            }
            if !inserted {
                rebuilt.insert(name.to_owned(), Value::Object(Map::new()));
            }
            self.sections = rebuilt;
        }
        match self.sections.get_mut(name) {
            Some(Value::Object(map)) => map,
            // `parse` guarantees objects and the branch above inserts one.
            _ => unreachable!("cache section {name} is an object"),
        }
    }

    pub fn accounts(&self) -> Result<Vec<AccountEntry>, CacheFormatError> {
        self.section(ACCOUNT)
            .map(|(key, value)| {
                entry_object(ACCOUNT, key, value)?;
                AccountEntry::deserialize(value).map_err(|error| CacheFormatError::BadEntry {
                    section: ACCOUNT,
                    key: key.clone(),
                    reason: error.to_string(),
                })
            })
            .collect()
    }

    pub fn credentials(
        &self,
        section: &'static str,
    ) -> Result<Vec<CredentialEntry>, CacheFormatError> {
        self.section(section)
            .map(|(key, value)| {
                entry_object(section, key, value)?;
                CredentialEntry::deserialize(value).map_err(|error| CacheFormatError::BadEntry {
                    section,
                    key: key.clone(),
                    reason: error.to_string(),
                })
            })
            .collect()
    }

    /// Accounts whose username matches, ignoring case as MSAL does.
    pub fn accounts_named(&self, username: &str) -> Result<Vec<AccountEntry>, CacheFormatError> {
        let wanted = username.to_lowercase();
        Ok(self
            .accounts()?
            .into_iter()
            .filter(|account| account.username.to_lowercase() == wanted)
            .collect())
    }

    /// The Account entry stored under `key` ([`keys::account`]), if it reads as one.
    pub fn account(&self, key: &str) -> Option<AccountEntry> {
        let value = self.sections.get(ACCOUNT)?.get(key)?;
        AccountEntry::deserialize(value).ok()
    }

    pub fn upsert_account(&mut self, account: AccountEntry) {
        let key = keys::account(
            &account.home_account_id,
            &account.environment,
            &account.realm,
        );
        self.insert(ACCOUNT, key, &account);
    }

    pub fn upsert_credential(&mut self, entry: CredentialEntry) {
        let home = entry.home_account_id.as_deref();
        let target = entry.target.as_deref().unwrap_or("");
        let realm = entry.realm.as_deref().unwrap_or("");
        let (section, key) = match entry.credential_type.as_str() {
            REFRESH_TOKEN => (
                REFRESH_TOKEN,
                keys::refresh_token(home, &entry.environment, &entry.client_id, target),
            ),
            ID_TOKEN => (
                ID_TOKEN,
                keys::id_token(
                    home.unwrap_or(""),
                    &entry.environment,
                    &entry.client_id,
                    realm,
                ),
            ),
            _ => (
                ACCESS_TOKEN,
                keys::access_token(home, &entry.environment, &entry.client_id, realm, target),
            ),
        };
        if section == ID_TOKEN {
            // MSAL writes an id token's realm before its client id.
            let mut value = Map::new();
            value.insert(
                "credential_type".into(),
                Value::String(entry.credential_type.clone()),
            );
            value.insert("secret".into(), Value::String(entry.secret.clone()));
            value.insert(
                "home_account_id".into(),
                entry.home_account_id.clone().into(),
            );
            value.insert(
                "environment".into(),
                Value::String(entry.environment.clone()),
            );
            value.insert("realm".into(), entry.realm.clone().into());
            value.insert("client_id".into(), Value::String(entry.client_id.clone()));
            value.extend(entry.extra.clone());
            self.section_mut(section).insert(key, Value::Object(value));
        } else {
            self.insert(section, key, &entry);
        }
        let metadata = keys::app_metadata(&entry.environment, &entry.client_id);
        let apps = self.section_mut(APP_METADATA);
        if !apps.contains_key(&metadata) {
            let mut app = Map::new();
            app.insert("client_id".into(), Value::String(entry.client_id.clone()));
            app.insert(
                "environment".into(),
                Value::String(entry.environment.clone()),
            );
            apps.insert(metadata, Value::Object(app));
        }
    }

    fn insert<T: Serialize>(&mut self, section: &str, key: String, entry: &T) {
        if let Ok(value) = serde_json::to_value(entry) {
            self.section_mut(section).insert(key, value);
        }
    }

    /// Keeps only the entries of a credential section for which `keep` is true; entries that
    /// do not read as credentials are kept untouched.
    pub fn retain_credentials(
        &mut self,
        section: &'static str,
        mut keep: impl FnMut(&CredentialEntry) -> bool,
    ) {
        if let Some(Value::Object(entries)) = self.sections.get_mut(section) {
            entries.retain(|_, value| {
                CredentialEntry::deserialize(&*value).map_or(true, |entry| keep(&entry))
            });
        }
    }

    /// Keeps the refresh tokens for which `keep(home_account_id, client_id, environment)` is
    /// true, reading only those fields of each entry (not the whole entry): an export of
    /// thousands of accounts goes through the section once. Entries without these fields
    /// are kept.
    pub fn retain_refresh_tokens(&mut self, mut keep: impl FnMut(&str, &str, &str) -> bool) {
        if let Some(Value::Object(entries)) = self.sections.get_mut(REFRESH_TOKEN) {
            entries.retain(|_, entry| {
                let field = |name: &str| entry.get(name).and_then(Value::as_str);
                match (
                    field("home_account_id"),
                    field("client_id"),
                    field("environment"),
                ) {
                    (Some(home), Some(client_id), Some(environment)) => {
                        keep(home, client_id, environment)
                    }
                    _ => true,
                }
            });
        }
    }

    /// Removes an account and every token that belongs to it (python-o365's `remove_data`).
    /// Returns how many entries went.
    pub fn remove_account(&mut self, home_account_id: &str) -> usize {
        let mut removed = 0;
        for section in [ACCESS_TOKEN, REFRESH_TOKEN, ID_TOKEN, ACCOUNT] {
            if let Some(Value::Object(entries)) = self.sections.get_mut(section) {
                let before = entries.len();
                entries.retain(|_, entry| {
                    entry.get("home_account_id").and_then(Value::as_str) != Some(home_account_id)
                });
                removed += before - entries.len();
            }
        }
        removed
    }
}

/// An entry must be an object. Checked before serde sees it, because serde's "invalid type"
/// message quotes a string value, and a string in a credential section is most likely a token.
/// Inside an object, fields that should be strings are never quoted by serde, and the others
/// (numbers, booleans, lists) are no tokens.
fn entry_object(section: &'static str, key: &str, value: &Value) -> Result<(), CacheFormatError> {
    if value.is_object() {
        return Ok(());
    }
    Err(CacheFormatError::BadEntry {
        section,
        key: key.to_owned(),
        reason: format!("expected an object, found {}", json_kind(value)),
    })
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Python's `json.dumps(obj, indent=4)`: four-space indent, `": "` and `","` separators, and
/// `ensure_ascii` escaping of every non-ASCII character as `\uXXXX` (surrogate pairs above the BMP).
mod python {
    use serde_json::ser::{Formatter, PrettyFormatter};
    use std::io::{self, Write};

    pub struct JsonDumpsIndent4<'a>(PrettyFormatter<'a>);

    impl Default for JsonDumpsIndent4<'_> {
        fn default() -> Self {
            JsonDumpsIndent4(PrettyFormatter::with_indent(b"    "))
        }
    }

    impl Formatter for JsonDumpsIndent4<'_> {
        fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.begin_array(w)
        }
        fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.end_array(w)
        }
        fn begin_array_value<W: ?Sized + Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> io::Result<()> {
            self.0.begin_array_value(w, first)
        }
        fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.end_array_value(w)
        }
        fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.begin_object(w)
        }
        fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.end_object(w)
        }
        fn begin_object_key<W: ?Sized + Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> io::Result<()> {
            self.0.begin_object_key(w, first)
        }
        fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.begin_object_value(w)
        }
        fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.end_object_value(w)
        }

        fn write_string_fragment<W: ?Sized + Write>(
            &mut self,
            w: &mut W,
            fragment: &str,
        ) -> io::Result<()> {
            for c in fragment.chars() {
                if c.is_ascii() {
                    w.write_all(&[c as u8])?;
                } else {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        write!(w, "\\u{unit:04x}")?;
                    }
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSAL_FILE: &str = include_str!("../tests/fixtures/msal-1.39.0-two-users-and-app.json");

    #[test]
    fn a_file_written_by_msal_round_trips_byte_for_byte() {
        let cache = MsalCache::parse(MSAL_FILE).expect("msal's own file parses");
        assert_eq!(cache.to_json(), MSAL_FILE);
    }

    #[test]
    fn reads_accounts_and_tokens_from_an_msal_file() {
        let cache = MsalCache::parse(MSAL_FILE).expect("parses");
        let accounts = cache.accounts().expect("accounts");
        assert_eq!(accounts.len(), 2);
        let alice = &cache.accounts_named("alice@contoso.com").expect("lookup")[0];
        assert_eq!(
            alice.home_account_id,
            "00000000-0000-0000-0000-00000000a11c.72f988bf-86f1-41af-91ab-2d7cd011db47"
        );
        assert_eq!(alice.realm, "common");
        assert_eq!(alice.extra["account_source"], "authorization_code");

        let refresh = cache.credentials(REFRESH_TOKEN).expect("rts");
        assert_eq!(refresh.len(), 2);
        assert!(refresh.iter().all(|rt| rt.realm.is_none()));
        let access = cache.credentials(ACCESS_TOKEN).expect("ats");
        let app_only = access
            .iter()
            .find(|at| at.home_account_id.is_none())
            .expect("app token");
        assert_eq!(app_only.scopes(), ["https://graph.microsoft.com/.default"]);
        assert_eq!(app_only.expires_on(), Some(1795356142 + 3599));
    }

    #[test]
    fn keys_follow_msal_grammar_for_every_entry_of_an_msal_file() {
        let cache = MsalCache::parse(MSAL_FILE).expect("parses");
        for (key, value) in cache
            .section(ACCESS_TOKEN)
            .chain(cache.section(REFRESH_TOKEN))
            .chain(cache.section(ID_TOKEN))
        {
            let entry = CredentialEntry::deserialize(value).expect("entry");
            let home = entry.home_account_id.as_deref();
            let expected = match entry.credential_type.as_str() {
                ACCESS_TOKEN => keys::access_token(
                    home,
                    &entry.environment,
                    &entry.client_id,
                    entry.realm.as_deref().unwrap_or(""),
                    entry.target.as_deref().unwrap_or(""),
                ),
                REFRESH_TOKEN => keys::refresh_token(
                    home,
                    &entry.environment,
                    &entry.client_id,
                    entry.target.as_deref().unwrap_or(""),
                ),
                _ => keys::id_token(
                    home.unwrap_or(""),
                    &entry.environment,
                    &entry.client_id,
                    entry.realm.as_deref().unwrap_or(""),
                ),
            };
            assert_eq!(key, &expected);
        }
        for (key, value) in cache.section(ACCOUNT) {
            let account = AccountEntry::deserialize(value).expect("account");
            assert_eq!(
                key,
                &keys::account(
                    &account.home_account_id,
                    &account.environment,
                    &account.realm
                )
            );
        }
    }

    #[test]
    fn rebuilding_the_msal_file_from_typed_entries_gives_the_same_document() {
        let original = MsalCache::parse(MSAL_FILE).expect("parses");
        let mut rebuilt = MsalCache::default();
        for entry in original.credentials(ACCESS_TOKEN).expect("ats") {
            rebuilt.upsert_credential(entry);
        }
        for account in original.accounts().expect("accounts") {
            rebuilt.upsert_account(account);
        }
        for section in [ID_TOKEN, REFRESH_TOKEN] {
            for entry in original.credentials(section).expect("entries") {
                rebuilt.upsert_credential(entry);
            }
        }
        assert_eq!(rebuilt.to_json(), MSAL_FILE);
    }

    #[test]
    fn removing_an_account_removes_its_tokens_and_nothing_else() {
        let mut cache = MsalCache::parse(MSAL_FILE).expect("parses");
        let bob = cache.accounts_named("BOB@contoso.com").expect("lookup")[0]
            .home_account_id
            .clone();
        assert_eq!(
            cache.remove_account(&bob),
            4,
            "account, id token, refresh token, access token"
        );
        assert!(
            cache
                .accounts_named("bob@contoso.com")
                .expect("lookup")
                .is_empty()
        );
        assert_eq!(cache.accounts().expect("accounts").len(), 1);
        assert_eq!(
            cache.credentials(ACCESS_TOKEN).expect("ats").len(),
            2,
            "alice's and the app's"
        );
    }

    #[test]
    fn legacy_and_broken_files_get_clear_errors() {
        let legacy =
            MsalCache::parse(r#"{"token_type": "Bearer", "access_token": "x"}"#).unwrap_err();
        assert_eq!(legacy.code(), "cache_legacy_format");
        assert!(legacy.to_string().contains("pre-2.1"));
        assert!(matches!(
            MsalCache::parse("{\"AccessToken\": {"),
            Err(CacheFormatError::Json(_))
        ));
        assert!(matches!(
            MsalCache::parse("[]"),
            Err(CacheFormatError::NotAnObject("an array"))
        ));
        assert!(matches!(
            MsalCache::parse(r#"{"Account": []}"#),
            Err(CacheFormatError::BadSection { .. })
        ));
        let bad = MsalCache::parse(r#"{"Account": {"k": {"username": 3}}}"#).unwrap_err();
        assert!(bad.to_string().contains("Account entry \"k\""), "{bad}");
        let token = MsalCache::parse(r#"{"AccessToken": {"k": "eyJ-a-token-by-mistake"}}"#)
            .unwrap_err()
            .to_string();
        assert!(
            token.contains("expected an object, found a string"),
            "{token}"
        );
        assert!(
            !token.contains("eyJ"),
            "the message never quotes the value: {token}"
        );
        assert!(MsalCache::parse("  \n").expect("empty file").is_empty());
    }

    #[test]
    fn unknown_fields_and_sections_survive_a_rewrite() {
        let text = r#"{"Account": {"h-e-r": {"home_account_id": "h", "environment": "e", "realm": "r", "local_account_id": "l", "username": "u", "authority_type": "MSSTS", "future_field": [1, 2]}}, "FutureSection": {"x": {"y": true}}}"#;
        let mut cache = MsalCache::parse(text).expect("parses");
        let account = cache.accounts().expect("accounts").remove(0);
        cache.upsert_account(account);
        let again: Value = serde_json::from_str(&cache.to_json()).expect("json");
        assert_eq!(
            again["Account"]["h-e-r"]["future_field"],
            serde_json::json!([1, 2])
        );
        assert_eq!(again["FutureSection"]["x"]["y"], true);
    }

    #[test]
    fn non_ascii_is_escaped_as_python_does() {
        let mut cache = MsalCache::default();
        cache.upsert_account(AccountEntry {
            home_account_id: "h".into(),
            environment: "e".into(),
            realm: "r".into(),
            local_account_id: "l".into(),
            username: "Åsa😀@contoso.com".into(),
            authority_type: "MSSTS".into(),
            extra: Map::new(),
        });
        assert!(
            cache
                .to_json()
                .contains(r#""username": "\u00c5sa\ud83d\ude00@contoso.com""#),
            "{}",
            cache.to_json()
        );
    }

    #[test]
    fn debug_output_never_shows_tokens() {
        let cache = MsalCache::parse(MSAL_FILE).expect("parses");
        let shown = format!(
            "{cache:?} {:?}",
            cache.credentials(REFRESH_TOKEN).expect("rts")
        );
        assert!(!shown.contains("rt-0000"), "{shown}");
        assert!(!shown.contains("at-0000"), "{shown}");
        assert!(shown.contains("RefreshToken"));
    }
}
