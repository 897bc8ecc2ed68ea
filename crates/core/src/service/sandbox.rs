//! "Try the sandbox": the bundled emulator started beside the service, with an app named
//! `sandbox` registered against it so the demo user can sign in at once.
//!
//! The emulator keeps its directory in memory, so the tokens of an earlier run mean nothing
//! to a new one: starting registers the app afresh (its old accounts go with it), and
//! stopping removes it, so no account is left refreshing against an emulator that is gone.

use serde::Serialize;

use super::TokenService;
use super::apps::AppSpec;
use crate::error::{Error, Result};
use entra_emulator::sandbox as demo;

/// The app the sandbox registers.
pub const SANDBOX_APP: &str = "sandbox";

#[derive(Debug, Clone, Serialize)]
pub struct SandboxView {
    pub running: bool,
    pub base_url: Option<String>,
    pub app: Option<String>,
    /// Published on purpose: they work only against the local emulator.
    pub demo_username: Option<String>,
    pub demo_password: Option<String>,
}

impl TokenService {
    fn sandbox(&self) -> Result<&crate::sandbox::Sandbox> {
        self.inner.options.sandbox.as_deref().ok_or_else(|| {
            Error::invalid_input("sandbox", "this service was started without a sandbox")
        })
    }

    pub async fn sandbox_status(&self) -> Result<SandboxView> {
        let status = self.sandbox()?.status().await;
        let app = match status.running {
            true => self
                .list_apps()
                .await?
                .into_iter()
                .find(|app| app.name == SANDBOX_APP && app.client_id == demo::DEMO_CLIENT_ID)
                .map(|app| app.name),
            false => None,
        };
        Ok(SandboxView {
            running: status.running,
            base_url: status.base_url,
            app,
            demo_username: status.demo_username,
            demo_password: status.demo_password,
        })
    }

    pub async fn sandbox_start(&self) -> Result<SandboxView> {
        let sandbox = self.sandbox()?;
        let existing = self
            .list_apps()
            .await?
            .into_iter()
            .find(|app| app.name == SANDBOX_APP);
        if let Some(app) = &existing
            && app.client_id != demo::DEMO_CLIENT_ID
        {
            return Err(Error::invalid_input(
                "sandbox",
                "an app of yours is named `sandbox`; rename it to use the sandbox",
            ));
        }
        let status = sandbox
            .start()
            .await
            .map_err(|error| Error::invalid_input("sandbox", error.to_string()))?;
        let base_url = status.base_url.clone().unwrap_or_default();
        if existing.is_some() {
            self.remove_app(SANDBOX_APP).await?;
        }
        self.add_app(AppSpec {
            name: SANDBOX_APP.to_owned(),
            client_id: demo::DEMO_CLIENT_ID.to_owned(),
            tenant: demo::DEMO_TENANT_ID.to_owned(),
            flow: Some("public".to_owned()),
            authority: Some(base_url),
            redirect: Some("loopback".to_owned()),
            protocol: None,
            default_scopes: vec!["basic".to_owned()],
            client_secret: None,
            certificate_pem: None,
            private_key_pem: None,
            pkcs12_base64: None,
            pkcs12_password: None,
        })
        .await?;
        self.sandbox_changed().await
    }

    pub async fn sandbox_stop(&self) -> Result<SandboxView> {
        let sandbox = self.sandbox()?;
        if sandbox.status().await.running
            && let Some(app) = self
                .list_apps()
                .await?
                .into_iter()
                .find(|app| app.name == SANDBOX_APP && app.client_id == demo::DEMO_CLIENT_ID)
        {
            self.remove_app(&app.name).await?;
        }
        sandbox.stop().await;
        self.sandbox_changed().await
    }

    async fn sandbox_changed(&self) -> Result<SandboxView> {
        let view = self.sandbox_status().await?;
        self.emit(serde_json::json!({ "event": "sandbox_changed", "status": view }));
        Ok(view)
    }
}
