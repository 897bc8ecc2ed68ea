//! o365-auth desktop app: a thin Tauri shell over `o365-auth-core`. It owns the window, the tray
//! icon, deep links and the commands the web UI calls; the token service itself is the core's
//! (`backend`), the same one `o365-auth daemon` runs.

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod autostart;
mod backend;
mod commands;
mod error;
mod notify;
mod tray;

use backend::{Backend, SERVICE_EVENT};
use tauri::{AppHandle, Emitter, Manager, RunEvent};
use tauri_plugin_deep_link::DeepLinkExt;

pub const MAIN_WINDOW: &str = "main";
/// The redirect URI of apps registered with the deep-link redirect.
const DEEP_LINK_PREFIX: &str = "o365auth://";

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tao=warn,wry=warn,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let app = tauri::Builder::default()
        // First: a second launch (a deep link starts one) hands its arguments to this process
        // and exits; the deep-link plugin then reports the URL through `on_open_url`.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            show_main_window(app);
        }))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(autostart::plugin())
        .manage(Backend::default())
        .manage(notify::Notifier::default())
        .invoke_handler(tauri::generate_handler![
            commands::rpc,
            commands::open_url,
            commands::copy_text,
        ])
        .setup(|app| {
            let handle = app.handle().clone();
            tray::build(&handle)?;
            tracing::info!("tray ready");
            // Started at login: stay in the tray until the person opens the window.
            if !std::env::args().any(|argument| argument == autostart::HIDDEN) {
                show_main_window(&handle);
            }
            setup_deep_links(&handle);
            tauri::async_runtime::spawn(async move {
                let backend = handle.state::<Backend>();
                if backend.handler(&handle).await.is_ok() {
                    tray::refresh(&handle).await;
                    handle
                        .state::<notify::Notifier>()
                        .learn_known_programs(&handle)
                        .await;
                    autostart::apply(&handle).await;
                }
            });
            Ok(())
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
        // An exit with no code comes from the last window closing; the tray keeps us alive.
        RunEvent::ExitRequested {
            code: None, api, ..
        } => api.prevent_exit(),
        RunEvent::Exit => {
            let backend = handle.state::<Backend>();
            tauri::async_runtime::block_on(backend.shutdown());
            tracing::info!("exited");
        }
        _ => {}
    });
}

fn setup_deep_links(app: &AppHandle) {
    // Development and AppImage builds are not installed with a .desktop file; this writes
    // one so the browser can hand `o365auth://` back. Without xdg-utils it only warns.
    if let Err(error) = app.deep_link().register_all() {
        tracing::warn!(%error, "could not register the o365auth:// scheme with the desktop");
    }
    let handle = app.clone();
    app.deep_link().on_open_url(move |event| {
        for url in event.urls() {
            deliver_deep_link(&handle, url.to_string());
        }
    });
    if let Ok(Some(urls)) = app.deep_link().get_current() {
        for url in urls {
            deliver_deep_link(app, url.to_string());
        }
    }
}

/// Completes the pending sign-in a deep link answers. The address carries an authorization
/// code, so it is never logged; a forged or replayed `state` is refused by the service.
fn deliver_deep_link(app: &AppHandle, url: String) {
    if !url.starts_with(DEEP_LINK_PREFIX) {
        return;
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let backend = app.state::<Backend>();
        let outcome = backend
            .call(
                &app,
                "login.complete",
                serde_json::json!({ "redirected_url": url }),
            )
            .await;
        match outcome {
            Ok(account) => {
                tracing::info!("a deep link completed a sign-in");
                show_main_window(&app);
                // Named as in every other event: APP/username.
                let name = format!(
                    "{}/{}",
                    account["app"].as_str().unwrap_or_default(),
                    account["username"].as_str().unwrap_or_default()
                );
                let _ = app.emit(
                    SERVICE_EVENT,
                    serde_json::json!({ "event": "deep_link_signed_in", "account": name }),
                );
            }
            Err(error) => {
                tracing::warn!(code = %error.code, "a deep link was refused: {}", error.message);
                let _ = app.emit(
                    SERVICE_EVENT,
                    serde_json::json!({
                        "event": "deep_link_refused",
                        "code": error.code,
                        "message": error.message,
                    }),
                );
            }
        }
    });
}

/// Brings the main window up, making it anew when it was closed. Closing the window ends
/// its page and WebKit's processes (the app lives on in the tray until "Quit"), which is what
/// keeps an app in the tray small; the page reloads its state from the service when opened.
pub fn show_main_window(app: &AppHandle) {
    let handle = app.clone();
    let shown = app.run_on_main_thread(move || {
        let window = match handle.get_webview_window(MAIN_WINDOW) {
            Some(window) => Ok(window),
            None => tauri::WebviewWindowBuilder::new(
                &handle,
                MAIN_WINDOW,
                tauri::WebviewUrl::App("index.html".into()),
            )
            .title("o365-auth")
            .inner_size(900.0, 720.0)
            .min_inner_size(480.0, 420.0)
            .build(),
        };
        let shown = window.and_then(|window| {
            window
                .show()
                .and_then(|()| window.unminimize())
                .and_then(|()| window.set_focus())
        });
        if let Err(error) = shown {
            tracing::warn!(%error, "could not show the main window");
        }
    });
    if let Err(error) = shown {
        tracing::warn!(%error, "could not reach the main thread to show the window");
    }
}
