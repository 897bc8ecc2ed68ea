//! Desktop notifications from service events, when the person has them on (settings): an
//! account needs them to sign in (the action opens the window on it), an account's refresh
//! keeps failing, a program that never asked before got a token. A desktop without a
//! notification server only costs a warning.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use serde_json::{Value, json};
use tauri::{AppHandle, Manager};

use crate::backend::Backend;

/// Failed refreshes in a row before the person hears of it.
const FAILURES_WORTH_TELLING: u32 = 3;

#[derive(Default)]
pub struct Notifier {
    failures: Mutex<HashMap<String, u32>>,
    /// Programs seen asking for tokens (from the activity log at start, then as they come).
    known_programs: Mutex<Option<HashSet<String>>>,
}

/// What to tell the person about an event, if anything.
fn message_for(notifier: &Notifier, event: &Value) -> Option<(String, String, bool)> {
    let account = event["account"].as_str().unwrap_or_default().to_owned();
    match event["event"].as_str()? {
        "needs_attention" => {
            let why = match event["code"].as_str() {
                Some("interaction_required") => {
                    "Microsoft asks for another check (MFA or a policy)."
                }
                Some("consent_required") => "The app needs your consent again.",
                _ => "Its sign-in has ended.",
            };
            Some((format!("Sign in again: {account}"), why.to_owned(), true))
        }
        "retry_scheduled" => {
            let mut failures = lock(&notifier.failures);
            let count = failures.entry(account.clone()).or_default();
            *count += 1;
            (*count == FAILURES_WORTH_TELLING).then(|| {
                (
                    format!("Refreshing {account} keeps failing"),
                    format!(
                        "{} failures in a row ({}); o365-auth keeps trying.",
                        FAILURES_WORTH_TELLING,
                        event["code"].as_str().unwrap_or("error")
                    ),
                    false,
                )
            })
        }
        "refreshed" => {
            lock(&notifier.failures).remove(&account);
            None
        }
        // The person's own clicks in this app's tray or window are no news to them.
        "token_issued" if matches!(event["channel"].as_str(), Some("tray" | "app")) => None,
        "token_issued" => {
            let program = event["exe"].as_str()?.to_owned();
            let mut known = lock(&notifier.known_programs);
            let known = known.get_or_insert_with(HashSet::new);
            known.insert(program.clone()).then(|| {
                (
                    "A new program got a token".to_owned(),
                    format!("{program} asked for {account}'s token."),
                    false,
                )
            })
        }
        _ => None,
    }
}

impl Notifier {
    /// Remembers the programs of the activity log, so only new ones are announced.
    pub async fn learn_known_programs(&self, app: &AppHandle) {
        let backend = app.state::<Backend>();
        let recent = backend
            .tray_call(app, "audit.recent", json!({ "limit": 1000 }))
            .await
            .unwrap_or(Value::Null);
        let programs: HashSet<String> = recent
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|entry| entry["exe"].as_str().map(str::to_owned))
            .collect();
        lock(&self.known_programs)
            .get_or_insert_with(HashSet::new)
            .extend(programs);
    }
}

pub fn on_service_event(app: &AppHandle, event: &Value) {
    let Some((summary, body, opens_sign_in)) = message_for(&app.state::<Notifier>(), event) else {
        return;
    };
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let backend = app.state::<Backend>();
        let enabled = backend
            .tray_call(&app, "settings.get", json!({}))
            .await
            .map(|settings| settings["notifications"].as_bool().unwrap_or(true))
            .unwrap_or(true);
        if !enabled {
            return;
        }
        // Showing and waiting for the action block on D-Bus: off the async workers.
        let _ = tauri::async_runtime::spawn_blocking(move || {
            show(&app, &summary, &body, opens_sign_in)
        })
        .await;
    });
}

fn show(app: &AppHandle, summary: &str, body: &str, opens_sign_in: bool) {
    let mut notification = notify_rust::Notification::new();
    notification
        .appname("o365-auth")
        .summary(summary)
        .body(body);
    if opens_sign_in {
        notification.action("default", "Sign in");
    }
    match notification.show() {
        Ok(handle) => {
            tracing::info!(summary, "notification shown");
            if opens_sign_in {
                let app = app.clone();
                handle.wait_for_action(move |action| {
                    if action == "default" {
                        crate::show_main_window(&app);
                    }
                });
            }
        }
        Err(error) => tracing::warn!(%error, "no notification server answered"),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_the_person_can_act_on_is_announced() {
        let notifier = Notifier::default();
        let attention =
            json!({"event": "needs_attention", "account": "a@x", "code": "needs_sign_in"});
        assert!(message_for(&notifier, &attention).is_some_and(|(_, _, opens)| opens));
        let retry = json!({"event": "retry_scheduled", "account": "a@x", "code": "transient"});
        assert!(message_for(&notifier, &retry).is_none());
        assert!(message_for(&notifier, &retry).is_none());
        assert!(
            message_for(&notifier, &retry).is_some(),
            "the third failure in a row"
        );
        assert!(message_for(&notifier, &retry).is_none(), "said once");
        message_for(&notifier, &json!({"event": "refreshed", "account": "a@x"}));
        assert!(
            message_for(&notifier, &retry).is_none(),
            "a success starts the count again"
        );
        let issued = json!({"event": "token_issued", "account": "a@x", "exe": "/usr/bin/msmtp"});
        assert!(message_for(&notifier, &issued).is_some());
        assert!(
            message_for(&notifier, &issued).is_none(),
            "a program is new once"
        );
        let from_window = json!({"event": "token_issued", "account": "a@x", "exe": null});
        assert!(message_for(&notifier, &from_window).is_none());
        let from_tray = json!({"event": "token_issued", "account": "a@x", "channel": "tray",
                               "exe": "/usr/bin/o365-auth-app"});
        assert!(
            message_for(&notifier, &from_tray).is_none(),
            "the app's own tray is not a new program"
        );
    }
}
