//! o365-auth desktop app: a thin Tauri shell over `o365-auth-core`. It owns the window, the tray
//! icon and the commands the web UI calls; every operation lives in the core.

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod error;
mod tray;

use o365_auth_core::sandbox::Sandbox;
use tauri::{Manager, RunEvent, WindowEvent};

pub const MAIN_WINDOW: &str = "main";

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tao=warn,wry=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();

    let app = tauri::Builder::default()
        .manage(Sandbox::default())
        .invoke_handler(tauri::generate_handler![
            commands::app_info,
            commands::sandbox_status,
            commands::sandbox_start,
            commands::sandbox_stop,
        ])
        .setup(|app| {
            tray::build(app.handle())?;
            tracing::info!("tray ready");
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closing the window hides it: the app lives on in the tray until "Quit".
            if let WindowEvent::CloseRequested { api, .. } = event
                && window.label() == MAIN_WINDOW
            {
                api.prevent_close();
                if let Err(error) = window.hide() {
                    tracing::warn!(%error, "could not hide the main window");
                }
            }
        })
        .build(tauri::generate_context!());

    let app = match app {
        Ok(app) => app,
        Err(error) => {
            eprintln!("o365-auth could not start its window: {error}");
            std::process::exit(1);
        }
    };

    app.run(|handle, event| match event {
        // An exit with no code comes from the last window going away; the tray keeps us alive.
        RunEvent::ExitRequested {
            code: None, api, ..
        } => api.prevent_exit(),
        RunEvent::Exit => {
            let sandbox = handle.state::<Sandbox>();
            tauri::async_runtime::block_on(sandbox.stop());
            tracing::info!("exited");
        }
        _ => {}
    });
}

/// Brings the main window back from the tray.
pub fn show_main_window(app: &tauri::AppHandle) {
    if let Some(window) = app.get_webview_window(MAIN_WINDOW) {
        let shown = window
            .show()
            .and_then(|()| window.unminimize())
            .and_then(|()| window.set_focus());
        if let Err(error) = shown {
            tracing::warn!(%error, "could not show the main window");
        }
    }
}
