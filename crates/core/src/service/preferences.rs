//! The person's settings as the service applies them: the scheduler's margin and keep-alive,
//! the proxy and the timeout of requests to Microsoft. The desktop shell reads the rest (IPC on/off, start at
//! login, notifications, clipboard) from the same [`Settings`].

use std::time::Duration;

use super::{TokenService, lock};
use crate::error::Result;
use crate::store::settings::{Settings, SettingsChange, proxy_of};

impl TokenService {
    pub async fn settings(&self) -> Result<Settings> {
        self.inner.store.settings().get().await
    }

    /// Stores a change and applies it at once; a refused value changes nothing.
    pub async fn change_settings(&self, change: &SettingsChange) -> Result<Settings> {
        let before = self.settings().await?;
        let after = self.inner.store.settings().change(change).await?;
        let network_changed = before.proxy_url != after.proxy_url
            || before.request_timeout_s != after.request_timeout_s;
        self.apply_settings(&after, network_changed);
        self.emit(serde_json::json!({ "event": "settings_changed" }));
        Ok(after)
    }

    /// At start (only when a person saved settings) and after every change.
    pub(super) fn apply_settings(&self, settings: &Settings, network_changed: bool) {
        self.inner.scheduler.retime(
            Duration::from_secs(settings.refresh_margin_s),
            Duration::from_secs(settings.keep_alive_days * 24 * 3600),
        );
        if network_changed {
            {
                let mut http = lock(&self.inner.http);
                http.proxy = settings.proxy_url.as_deref().and_then(proxy_of);
                http.timeout = Duration::from_secs(settings.request_timeout_s);
            }
            // Sessions and connections carry their HTTP client: rebuild them with it.
            lock(&self.inner.sessions).clear();
            lock(&self.inner.connections).clear();
        }
    }
}
