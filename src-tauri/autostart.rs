//! "Start at login": the setting lives with the store (the web UI changes it too); the app
//! makes the desktop agree, through tauri-plugin-autostart (an XDG autostart entry on Linux
//! that starts the app hidden in the tray).

use serde_json::json;
use tauri::{AppHandle, Manager};
use tauri_plugin_autostart::ManagerExt;

use crate::backend::Backend;

/// The argument the autostart entry passes: start in the tray, without the window.
pub const HIDDEN: &str = "--hidden";

pub fn plugin() -> tauri::plugin::TauriPlugin<tauri::Wry> {
    tauri_plugin_autostart::init(
        tauri_plugin_autostart::MacosLauncher::LaunchAgent,
        Some(vec![HIDDEN]),
    )
}

/// Brings the autostart entry in line with the `start_at_login` setting.
pub async fn apply(app: &AppHandle) {
    let backend = app.state::<Backend>();
    let Ok(settings) = backend.tray_call(app, "settings.get", json!({})).await else {
        return;
    };
    let wanted = settings["start_at_login"].as_bool().unwrap_or(false);
    let launcher = app.autolaunch();
    let enabled = launcher.is_enabled().unwrap_or(false);
    let outcome = match (wanted, enabled) {
        (true, false) => launcher.enable(),
        (false, true) => launcher.disable(),
        _ => return,
    };
    match outcome {
        Ok(()) => tracing::info!(start_at_login = wanted, "autostart entry updated"),
        Err(error) => tracing::warn!(%error, "could not change the autostart entry"),
    }
}
