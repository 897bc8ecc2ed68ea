//! The person's settings as the service applies them: the scheduler's margin and keep-alive,
//! the proxy for requests to Microsoft. The desktop shell reads the rest (IPC on/off, start at
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
        self.apply_settings(&after, before.proxy_url != after.proxy_url);
        self.emit(serde_json::json!({ "event": "settings_changed" }));
        Ok(after)
    }

    /// At start (only when a person saved settings) and after every change.
    pub(super) fn apply_settings(&self, settings: &Settings, proxy_changed: bool) {
        self.inner.scheduler.retime(
            Duration::from_secs(settings.refresh_margin_s),
            Duration::from_secs(settings.keep_alive_days * 24 * 3600),
        );
        if proxy_changed {
            lock(&self.inner.http).proxy = settings.proxy_url.as_deref().and_then(proxy_of);
            // Sessions and connections carry their HTTP client: rebuild them with the proxy.
            lock(&self.inner.sessions).clear();
            lock(&self.inner.connections).clear();
        }
    }
}
