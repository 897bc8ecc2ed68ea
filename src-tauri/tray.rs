//! The tray icon and its menu: every account with its status and "Copy access token", "Copy
//! Authorization header", "Refresh now"; "Open o365-auth"; the sandbox; "Quit". Items only
//! dispatch to the token service's methods (audited as channel `tray`); the menu is rebuilt
//! when the service reports a change.

use serde_json::{Value, json};
use tauri::menu::{Menu, MenuBuilder, MenuItemBuilder, SubmenuBuilder};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Wry};
use tauri_plugin_clipboard_manager::ClipboardExt;

use crate::backend::Backend;

pub const TRAY_ID: &str = "main";
const OPEN: &str = "open";
const SANDBOX: &str = "sandbox";
const QUIT: &str = "quit";
const COPY: &str = "copy:";
const HEADER: &str = "header:";
const REFRESH: &str = "refresh:";

pub fn build(app: &AppHandle) -> tauri::Result<()> {
    let mut tray = TrayIconBuilder::with_id(TRAY_ID)
        .tooltip("o365-auth")
        .menu(&menu(app, &[])?)
        .show_menu_on_left_click(true)
        .on_menu_event(|app, event| on_menu(app, event.id().as_ref()));
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    Ok(())
}

fn menu(app: &AppHandle, accounts: &[Value]) -> tauri::Result<Menu<Wry>> {
    let mut builder = MenuBuilder::new(app);
    for account in accounts {
        let id = account["id"].as_str().unwrap_or_default();
        let name = account["username"].as_str().unwrap_or_default();
        let label = format!("{name} — {}", status_words(account));
        let submenu = SubmenuBuilder::new(app, label)
            .item(&MenuItemBuilder::with_id(format!("{COPY}{id}"), "Copy access token").build(app)?)
            .item(
                &MenuItemBuilder::with_id(format!("{HEADER}{id}"), "Copy Authorization header")
                    .build(app)?,
            )
            .item(&MenuItemBuilder::with_id(format!("{REFRESH}{id}"), "Refresh now").build(app)?)
            .build()?;
        builder = builder.item(&submenu);
    }
    if !accounts.is_empty() {
        builder = builder.separator();
    }
    builder
        .item(&MenuItemBuilder::with_id(OPEN, "Open o365-auth").build(app)?)
        .item(&MenuItemBuilder::with_id(SANDBOX, "Start the sandbox").build(app)?)
        .separator()
        .item(&MenuItemBuilder::with_id(QUIT, "Quit").build(app)?)
        .build()
}

fn status_words(account: &Value) -> &'static str {
    match account["status"].as_str() {
        Some("fresh") => "fresh",
        Some("needs_sign_in") => "sign in again",
        Some("interaction_required") => "needs you (MFA)",
        _ => "error",
    }
}

/// The tooltip names the soonest expiry, and says so first when an account needs the person.
fn tooltip(accounts: &[Value]) -> String {
    let attention = accounts
        .iter()
        .filter(|account| account["status"] != "fresh")
        .count();
    let soonest = accounts
        .iter()
        .filter_map(|account| account["expires_at"].as_i64())
        .min();
    let mut text = String::from("o365-auth");
    if attention > 0 {
        text.push_str(&format!(" — {attention} account(s) need you"));
    }
    if let Some(expires_at) = soonest {
        let minutes = (expires_at - o365_auth_core::token::now_unix()).max(0) / 60;
        text.push_str(&format!(" — next token expiry in {minutes} min"));
    }
    text
}

/// Rebuilds the menu and tooltip from the service's accounts.
pub async fn refresh(app: &AppHandle) {
    let backend = app.state::<Backend>();
    let accounts = match backend.tray_call(app, "accounts.list", json!({})).await {
        Ok(Value::Array(accounts)) => accounts,
        _ => Vec::new(),
    };
    let Some(tray) = app.tray_by_id(TRAY_ID) else {
        return;
    };
    match menu(app, &accounts) {
        Ok(menu) => {
            if let Err(error) = tray.set_menu(Some(menu)) {
                tracing::warn!(%error, "could not update the tray menu");
            }
        }
        Err(error) => tracing::warn!(%error, "could not build the tray menu"),
    }
    let _ = tray.set_tooltip(Some(tooltip(&accounts)));
    let needs_person = accounts.iter().any(|account| account["status"] != "fresh");
    let icon = if needs_person {
        // The app icon with a red dot (icons/tray-attention.png, made from icons/128x128.png).
        tauri::image::Image::from_bytes(include_bytes!("../icons/tray-attention.png")).ok()
    } else {
        app.default_window_icon().cloned()
    };
    if let Err(error) = tray.set_icon(icon) {
        tracing::warn!(%error, "could not change the tray icon");
    }
}

/// Events that change what the menu shows.
pub fn on_service_event(app: &AppHandle, event: &Value) {
    let relevant = matches!(
        event["event"].as_str(),
        Some(
            "account_added"
                | "account_removed"
                | "refreshed"
                | "needs_attention"
                | "sandbox_changed"
                | "lagged"
        )
    );
    if relevant {
        let app = app.clone();
        tauri::async_runtime::spawn(async move { refresh(&app).await });
    }
}

fn on_menu(app: &AppHandle, id: &str) {
    // Account items carry a record id, not a name; only the kind of item is logged.
    tracing::info!(item = id.split(':').next().unwrap_or(id), "tray menu");
    let app = app.clone();
    let id = id.to_owned();
    match id.as_str() {
        OPEN => crate::show_main_window(&app),
        QUIT => app.exit(0),
        SANDBOX => {
            tauri::async_runtime::spawn(async move {
                let backend = app.state::<Backend>();
                match backend.tray_call(&app, "sandbox.start", json!({})).await {
                    Ok(status) => tracing::info!(
                        base_url = status["base_url"].as_str().unwrap_or_default(),
                        "sandbox started from the tray"
                    ),
                    Err(error) => {
                        tracing::warn!(code = %error.code, "sandbox failed to start from the tray: {}", error.message);
                    }
                }
            });
        }
        _ => {
            tauri::async_runtime::spawn(async move { account_item(&app, &id).await });
        }
    }
}

async fn account_item(app: &AppHandle, id: &str) {
    let backend = app.state::<Backend>();
    let (method, account, header) = if let Some(account) = id.strip_prefix(COPY) {
        ("token.get", account, false)
    } else if let Some(account) = id.strip_prefix(HEADER) {
        ("token.get", account, true)
    } else if let Some(account) = id.strip_prefix(REFRESH) {
        ("token.refresh", account, false)
    } else {
        tracing::warn!("unknown tray menu item");
        return;
    };
    let answer = match backend
        .tray_call(app, method, json!({ "account": account }))
        .await
    {
        Ok(answer) => answer,
        Err(error) => {
            tracing::warn!(code = %error.code, "tray: {}", error.message);
            return;
        }
    };
    if method == "token.refresh" {
        return;
    }
    let token = answer["access_token"].as_str().unwrap_or_default();
    let text = if header {
        format!("Authorization: Bearer {token}")
    } else {
        token.to_owned()
    };
    if let Err(error) = app.clipboard().write_text(text.clone()) {
        tracing::warn!(%error, "tray: the clipboard refused the token");
        return;
    }
    let clear_after = backend
        .tray_call(app, "settings.get", json!({}))
        .await
        .ok()
        .and_then(|settings| settings["clipboard_clear_s"].as_u64());
    if let Some(seconds) = clear_after {
        tokio::time::sleep(std::time::Duration::from_secs(seconds)).await;
        if app.clipboard().read_text().is_ok_and(|now| now == text) {
            let _ = app.clipboard().write_text(String::new());
        }
    }
}
