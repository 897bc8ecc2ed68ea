//! Preferences kept with the store (`store_meta` key `settings`, JSON), so the desktop app,
//! the daemon and the web UI all see the same ones. Nothing secret is kept here.

use serde::{Deserialize, Serialize};

use super::Store;
use super::sql::sql_error;
use crate::error::{Error, Result};

const SETTINGS_KEY: &str = "settings";

/// What a person can change. Unknown fields in a stored document are ignored (a newer
/// version may have written them); missing ones take their defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Refresh this long before a token expires.
    pub refresh_margin_s: u64,
    /// Refresh an unused account after this many days anyway (refresh tokens die after 90
    /// idle days).
    pub keep_alive_days: u64,
    /// Serve the IPC socket (the CLI and scripts need it).
    pub ipc_enabled: bool,
    /// Start the desktop app when the person logs in.
    pub start_at_login: bool,
    /// Desktop notifications (sign-in needed, refresh failing, a new program asked).
    pub notifications: bool,
    /// `http://host:port` for every request to Microsoft; `None` for a direct connection.
    /// A proxy that needs a password is set up in the daemon's configuration instead, where
    /// the password can stay out of this unsealed document.
    pub proxy_url: Option<String>,
    /// A request to Microsoft that has not been answered in this long fails (and is retried
    /// as a transient failure).
    pub request_timeout_s: u64,
    /// Clear a copied token from the clipboard after this long; `None` keeps it.
    pub clipboard_clear_s: Option<u64>,
}

/// python-o365 and reqwest leave requests without a limit; a minute covers a slow proxy.
pub const DEFAULT_REQUEST_TIMEOUT_S: u64 = 60;

impl Default for Settings {
    fn default() -> Self {
        Settings {
            refresh_margin_s: 300,
            keep_alive_days: 14,
            ipc_enabled: true,
            start_at_login: false,
            notifications: true,
            proxy_url: None,
            request_timeout_s: DEFAULT_REQUEST_TIMEOUT_S,
            clipboard_clear_s: Some(30),
        }
    }
}

/// A change to some settings: absent fields stay as they are. `proxy_url` and
/// `clipboard_clear_s` take `null` to turn them off.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsChange {
    pub refresh_margin_s: Option<u64>,
    pub keep_alive_days: Option<u64>,
    pub ipc_enabled: Option<bool>,
    pub start_at_login: Option<bool>,
    pub notifications: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    pub proxy_url: Option<Option<String>>,
    pub request_timeout_s: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    pub clipboard_clear_s: Option<Option<u64>>,
}

/// Tells a field given as `null` (`Some(None)`) from one left out (`None`).
pub(crate) fn present<'de, T, D>(
    deserializer: D,
) -> std::result::Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

impl Settings {
    /// These settings with `change` applied, or the first value that is out of range.
    pub fn changed(&self, change: &SettingsChange) -> Result<Settings> {
        let mut next = self.clone();
        if let Some(margin) = change.refresh_margin_s {
            if !(30..=3000).contains(&margin) {
                return Err(Error::invalid_input(
                    "refresh_margin_s",
                    "must be between 30 seconds and 50 minutes (access tokens live about an hour)",
                ));
            }
            next.refresh_margin_s = margin;
        }
        if let Some(days) = change.keep_alive_days {
            if !(1..=80).contains(&days) {
                return Err(Error::invalid_input(
                    "keep_alive_days",
                    "must be between 1 and 80 days (refresh tokens die after 90 idle days)",
                ));
            }
            next.keep_alive_days = days;
        }
        if let Some(enabled) = change.ipc_enabled {
            next.ipc_enabled = enabled;
        }
        if let Some(start) = change.start_at_login {
            next.start_at_login = start;
        }
        if let Some(notifications) = change.notifications {
            next.notifications = notifications;
        }
        if let Some(proxy) = &change.proxy_url {
            next.proxy_url = match proxy.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(url) => Some(check_proxy(url)?),
            };
        }
        if let Some(timeout) = change.request_timeout_s {
            if !(2..=600).contains(&timeout) {
                return Err(Error::invalid_input(
                    "request_timeout_s",
                    "must be between 2 seconds and 10 minutes",
                ));
            }
            next.request_timeout_s = timeout;
        }
        if let Some(clear) = change.clipboard_clear_s {
            if clear.is_some_and(|seconds| !(1..=3600).contains(&seconds)) {
                return Err(Error::invalid_input(
                    "clipboard_clear_s",
                    "must be between 1 second and 1 hour, or off",
                ));
            }
            next.clipboard_clear_s = clear;
        }
        Ok(next)
    }
}

fn check_proxy(text: &str) -> Result<String> {
    let url = url::Url::parse(text).map_err(|_| {
        Error::invalid_input("proxy_url", "must look like http://proxy.example.com:3128")
    })?;
    if url.scheme() != "http" || url.host_str().is_none() || url.path() != "/" {
        // Proxies are spoken to in plain HTTP (CONNECT for https), as python-o365 does.
        return Err(Error::invalid_input(
            "proxy_url",
            "must be an http:// address with a host and a port, nothing after it",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // The document is not sealed, and a URL is copied into logs and error text.
        return Err(Error::invalid_input(
            "proxy_url",
            "must not carry a user name or password",
        ));
    }
    Ok(url.to_string().trim_end_matches('/').to_owned())
}

/// The proxy of a checked `proxy_url`.
pub fn proxy_of(url: &str) -> Option<crate::http::ProxySettings> {
    let url = url::Url::parse(url).ok()?;
    Some(crate::http::ProxySettings {
        host: url.host_str()?.to_owned(),
        port: url.port_or_known_default()?,
        username: None,
        password: None,
        http_only: false,
    })
}

/// The settings of a store: `store.settings()`.
#[derive(Debug, Clone, Copy)]
pub struct SettingsRepo<'a> {
    store: &'a Store,
}

impl Store {
    pub fn settings(&self) -> SettingsRepo<'_> {
        SettingsRepo { store: self }
    }
}

impl SettingsRepo<'_> {
    /// The settings saved by a person, if any were.
    pub async fn stored(&self) -> Result<Option<Settings>> {
        let stored: Option<String> =
            sqlx::query_scalar("SELECT value FROM store_meta WHERE key = ?")
                .bind(SETTINGS_KEY)
                .fetch_optional(self.store.pool())
                .await
                .map_err(sql_error)?;
        Ok(stored.map(|text| {
            serde_json::from_str(&text).unwrap_or_else(|error| {
                tracing::warn!(%error, "stored settings are unreadable; using the defaults");
                Settings::default()
            })
        }))
    }

    /// The stored settings, or the defaults when none were saved (or the document is from a
    /// version that wrote something unreadable, which is logged and not overwritten here).
    pub async fn get(&self) -> Result<Settings> {
        Ok(self.stored().await?.unwrap_or_default())
    }

    /// Applies `change` and stores the result; nothing is stored when a value is refused.
    pub async fn change(&self, change: &SettingsChange) -> Result<Settings> {
        let next = self.get().await?.changed(change)?;
        let text = serde_json::to_string(&next)
            .map_err(|_| Error::protocol("the settings could not be encoded"))?;
        sqlx::query("INSERT OR REPLACE INTO store_meta (key, value) VALUES (?, ?)")
            .bind(SETTINGS_KEY)
            .bind(text)
            .execute(self.store.pool())
            .await
            .map_err(sql_error)?;
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(json: serde_json::Value) -> SettingsChange {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_change_keeps_what_it_does_not_name_and_null_turns_options_off() {
        let settings = Settings::default()
            .changed(&change(
                serde_json::json!({"refresh_margin_s": 600, "proxy_url": "http://proxy:3128/"}),
            ))
            .unwrap();
        assert_eq!(settings.refresh_margin_s, 600);
        assert_eq!(settings.keep_alive_days, 14);
        assert_eq!(settings.proxy_url.as_deref(), Some("http://proxy:3128"));
        let settings = settings
            .changed(&change(
                serde_json::json!({"proxy_url": null, "clipboard_clear_s": null}),
            ))
            .unwrap();
        assert_eq!(settings.proxy_url, None);
        assert_eq!(settings.clipboard_clear_s, None);
        assert_eq!(settings.refresh_margin_s, 600);
    }

    #[test]
    fn out_of_range_values_name_their_field() {
        for (json, field) in [
            (
                serde_json::json!({"refresh_margin_s": 5}),
                "refresh_margin_s",
            ),
            (serde_json::json!({"keep_alive_days": 0}), "keep_alive_days"),
            (
                serde_json::json!({"keep_alive_days": 95}),
                "keep_alive_days",
            ),
            (
                serde_json::json!({"clipboard_clear_s": 0}),
                "clipboard_clear_s",
            ),
            (
                serde_json::json!({"proxy_url": "socks5://x:1"}),
                "proxy_url",
            ),
            (serde_json::json!({"proxy_url": "https://x:1"}), "proxy_url"),
            (
                serde_json::json!({"proxy_url": "http://x:1/path"}),
                "proxy_url",
            ),
            (
                serde_json::json!({"proxy_url": "http://me:pw@proxy:3128"}),
                "proxy_url",
            ),
            (serde_json::json!({"proxy_url": "not a url"}), "proxy_url"),
            (
                serde_json::json!({"request_timeout_s": 1}),
                "request_timeout_s",
            ),
            (
                serde_json::json!({"request_timeout_s": 601}),
                "request_timeout_s",
            ),
        ] {
            match Settings::default().changed(&change(json.clone())) {
                Err(Error::InvalidInput { what, .. }) => assert_eq!(what, field, "{json}"),
                other => panic!("{json}: {other:?}"),
            }
        }
    }

    #[test]
    fn unknown_fields_of_a_change_are_refused() {
        assert!(
            serde_json::from_value::<SettingsChange>(serde_json::json!({"margin": 1})).is_err()
        );
    }
}
