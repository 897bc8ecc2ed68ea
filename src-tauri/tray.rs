//! The tray icon and its menu. Menu items only dispatch; the work is done by the same functions
//! the window's commands use, so the tray needs no logic of its own.

use o365_auth_core::sandbox::Sandbox;
use tauri::menu::{MenuBuilder, MenuItemBuilder};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Emitter, Manager};

pub const TRAY_ID: &str = "main";
const OPEN: &str = "open";
const SANDBOX: &str = "sandbox";
const QUIT: &str = "quit";

pub fn build(app: &AppHandle) -> tauri::Result<()> {
    let menu = MenuBuilder::new(app)
        .item(&MenuItemBuilder::with_id(OPEN, "Open o365-auth").build(app)?)
        .item(&MenuItemBuilder::with_id(SANDBOX, "Start the sandbox").build(app)?)
        .separator()
        .item(&MenuItemBuilder::with_id(QUIT, "Quit").build(app)?)
        .build()?;

    let mut tray = TrayIconBuilder::with_id(TRAY_ID)
        .tooltip("o365-auth")
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(|app, event| on_menu(app, event.id().as_ref()));
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    Ok(())
}

fn on_menu(app: &AppHandle, id: &str) {
    tracing::info!(item = id, "tray menu");
    match id {
        OPEN => crate::show_main_window(app),
        SANDBOX => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                let sandbox = app.state::<Sandbox>();
                match sandbox.start().await {
                    Ok(status) => {
                        tracing::info!(base_url = ?status.base_url, "sandbox started from the tray");
                        if let Err(error) = app.emit(crate::commands::SANDBOX_CHANGED, &status) {
                            tracing::warn!(%error, "could not tell the window about the sandbox");
                        }
                    }
                    Err(error) => tracing::warn!(%error, "sandbox failed to start from the tray"),
                }
            });
        }
        QUIT => app.exit(0),
        other => tracing::warn!(item = other, "unknown tray menu item"),
    }
}
