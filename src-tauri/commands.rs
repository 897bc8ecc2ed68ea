//! Tauri commands. `rpc` carries every method of the token service (docs/ipc.md) to the same
//! handler the IPC socket and the HTTP API use; the others are what only a desktop shell can
//! do: open the system browser, use the clipboard.

use std::time::Duration;

use serde_json::Value;
use tauri::{AppHandle, State};
use tauri_plugin_clipboard_manager::ClipboardExt;
use tauri_plugin_opener::OpenerExt;

use crate::backend::Backend;
use crate::error::CommandError;

#[tauri::command]
pub async fn rpc(
    app: AppHandle,
    backend: State<'_, Backend>,
    method: String,
    params: Option<Value>,
) -> Result<Value, CommandError> {
    // The method only: parameters may carry secrets (apps.add, login.password).
    tracing::debug!(method = %method, "window call");
    backend
        .call(&app, &method, params.unwrap_or(Value::Null))
        .await
}

/// Opens a sign-in page (or any https/http page) in the person's browser.
#[tauri::command]
pub fn open_url(app: AppHandle, url: String) -> Result<(), CommandError> {
    let parsed = url::Url::parse(&url)
        .map_err(|_| CommandError::new("invalid_input", "not a web address"))?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(CommandError::new(
            "invalid_input",
            "only http and https addresses are opened",
        ));
    }
    app.opener()
        .open_url(parsed.as_str(), None::<&str>)
        .map_err(|error| {
            CommandError::new("open_failed", format!("the browser did not open: {error}"))
        })
}

/// Puts text on the clipboard and, after `clear_after_s`, takes it off again if it is
/// still there (a token left on the clipboard ends up pasted where it should not).
#[tauri::command]
pub fn copy_text(
    app: AppHandle,
    text: String,
    clear_after_s: Option<u64>,
) -> Result<(), CommandError> {
    app.clipboard().write_text(text.clone()).map_err(|error| {
        CommandError::new(
            "clipboard_failed",
            format!("the clipboard refused: {error}"),
        )
    })?;
    if let Some(seconds) = clear_after_s.filter(|seconds| *seconds > 0) {
        tauri::async_runtime::spawn(async move {
            tokio::time::sleep(Duration::from_secs(seconds)).await;
            let still_ours = app.clipboard().read_text().is_ok_and(|now| now == text);
            if still_ours && let Err(error) = app.clipboard().write_text(String::new()) {
                tracing::warn!(%error, "could not clear the clipboard");
            }
        });
    }
    Ok(())
}
