//! The token service inside the desktop app: the same [`ServiceHost`] `o365-auth daemon` runs
//! (store, refresh scheduler, IPC socket), started when the app starts. A daemon that already
//! owns the store is asked to stop and the app takes over, so there is one owner at a time.

use std::sync::Arc;

use o365_auth_core::host::{HostOptions, ServiceHost};
use o365_auth_core::ipc::protocol::Answer;
use o365_auth_core::ipc::{Handler, Peer};
use o365_auth_core::service::ServiceHandler;
use o365_auth_core::store::audit::Channel;
use serde_json::Value;
use tauri::{AppHandle, Emitter};
use tokio::sync::{Mutex, OnceCell};

use crate::error::CommandError;

/// What the window receives for every service event (`params` of the IPC `event`).
pub const SERVICE_EVENT: &str = "service-event";

/// The window's and the tray's handlers (audited as `app` and `tray`).
type Handlers = (Arc<ServiceHandler>, Arc<ServiceHandler>);

#[derive(Default)]
pub struct Backend {
    ready: OnceCell<Result<Handlers, CommandError>>,
    host: Mutex<Option<ServiceHost>>,
}

impl Backend {
    /// Starts the service once; later callers wait for the same start.
    pub async fn handler(&self, app: &AppHandle) -> Result<Handlers, CommandError> {
        self.ready
            .get_or_init(|| async {
                match ServiceHost::start(HostOptions {
                    take_over: true,
                    ..HostOptions::default()
                })
                .await
                {
                    Ok(host) => {
                        let handlers = (host.handler(Channel::App), host.handler(Channel::Tray));
                        forward_events(app.clone(), host.service().subscribe());
                        *self.host.lock().await = Some(host);
                        tracing::info!("token service started");
                        Ok(handlers)
                    }
                    Err(error) => {
                        tracing::error!(
                            code = error.code(),
                            "the token service could not start: {error}"
                        );
                        Err(CommandError::from(&error))
                    }
                }
            })
            .await
            .clone()
    }

    /// One JSON-RPC method of docs/ipc.md, answered as over the socket.
    pub async fn call(
        &self,
        app: &AppHandle,
        method: &str,
        params: Value,
    ) -> Result<Value, CommandError> {
        let (window, _) = self.handler(app).await?;
        let answer = window
            .call(&own_peer(), method, params)
            .await
            .map_err(CommandError::from)?;
        value_of(&answer)
    }

    /// The same for the tray menu.
    pub async fn tray_call(
        &self,
        app: &AppHandle,
        method: &str,
        params: Value,
    ) -> Result<Value, CommandError> {
        let (_, tray) = self.handler(app).await?;
        let answer = tray
            .call(&own_peer(), method, params)
            .await
            .map_err(CommandError::from)?;
        value_of(&answer)
    }

    pub async fn shutdown(&self) {
        if let Some(host) = self.host.lock().await.take() {
            host.shutdown().await;
        }
    }
}

/// The answer as a value the window and the tray read (they are not the hot path a socket
/// client is).
fn value_of(answer: &Answer) -> Result<Value, CommandError> {
    serde_json::from_str(answer.get())
        .map_err(|_| CommandError::new("internal_error", "the service's answer is not JSON"))
}

/// The window and the tray are this process.
fn own_peer() -> Peer {
    use std::os::unix::fs::MetadataExt;
    Peer {
        pid: Some(std::process::id() as i32),
        uid: std::fs::metadata("/proc/self").map_or(u32::MAX, |metadata| metadata.uid()),
        executable: std::env::current_exe().ok(),
    }
}

fn forward_events(app: AppHandle, mut events: tokio::sync::broadcast::Receiver<Value>) {
    tauri::async_runtime::spawn(async move {
        loop {
            let event = match events.recv().await {
                Ok(event) => event,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    serde_json::json!({ "event": "lagged", "missed": missed })
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            crate::tray::on_service_event(&app, &event);
            crate::notify::on_service_event(&app, &event);
            if event["event"] == "settings_changed" {
                let app = app.clone();
                tauri::async_runtime::spawn(async move { crate::autostart::apply(&app).await });
            }
            if let Err(error) = app.emit(SERVICE_EVENT, &event) {
                tracing::warn!(%error, "could not pass a service event to the window");
            }
        }
    });
}
