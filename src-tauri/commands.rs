//! Tauri commands: each one forwards to the core function that does the work.

use o365_auth_core::sandbox::{Sandbox, SandboxStatus};
use serde::Serialize;
use tauri::State;

use crate::error::CommandError;

/// Event sent to the window when the sandbox changes outside it (from the tray).
pub const SANDBOX_CHANGED: &str = "sandbox-changed";

#[derive(Debug, Serialize)]
pub struct AppInfo {
    name: &'static str,
    version: &'static str,
    backend: &'static str,
}

#[tauri::command]
pub fn app_info() -> AppInfo {
    AppInfo {
        name: "o365-auth",
        version: env!("CARGO_PKG_VERSION"),
        backend: "desktop",
    }
}

#[tauri::command]
pub async fn sandbox_status(sandbox: State<'_, Sandbox>) -> Result<SandboxStatus, CommandError> {
    Ok(sandbox.status().await)
}

#[tauri::command]
pub async fn sandbox_start(sandbox: State<'_, Sandbox>) -> Result<SandboxStatus, CommandError> {
    Ok(sandbox.start().await?)
}

#[tauri::command]
pub async fn sandbox_stop(sandbox: State<'_, Sandbox>) -> Result<SandboxStatus, CommandError> {
    Ok(sandbox.stop().await)
}
