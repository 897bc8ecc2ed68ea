//! The sandbox: the bundled Entra emulator started on loopback with a demo tenant, app and user,
//! so a newcomer with no Microsoft tenant can sign in and get tokens.
//!
//! One [`Sandbox`] per process; the desktop app, the daemon and the CLI all drive it through
//! these functions.

use std::net::{Ipv4Addr, SocketAddr};

use entra_emulator::{Emulator, sandbox as demo};
use serde::Serialize;
use tokio::sync::Mutex;

/// The port the sandbox prefers, so that its authority URL stays the same across restarts.
pub const PREFERRED_PORT: u16 = 47615;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("the sandbox emulator could not start on 127.0.0.1: {0}")]
    Start(String),
}

impl SandboxError {
    pub fn code(&self) -> &'static str {
        match self {
            SandboxError::Start(_) => "sandbox_start_failed",
        }
    }
}

/// What the UI and the CLI show about the sandbox. The demo password is not a secret: it is
/// printed in the README for anyone to use against the local emulator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SandboxStatus {
    pub running: bool,
    pub base_url: Option<String>,
    pub discovery_url: Option<String>,
    pub demo_username: Option<String>,
    pub demo_password: Option<String>,
    pub demo_client_id: Option<String>,
    pub tenant_id: Option<String>,
}

impl SandboxStatus {
    fn stopped() -> Self {
        SandboxStatus {
            running: false,
            base_url: None,
            discovery_url: None,
            demo_username: None,
            demo_password: None,
            demo_client_id: None,
            tenant_id: None,
        }
    }

    fn running(base_url: String) -> Self {
        SandboxStatus {
            running: true,
            discovery_url: Some(format!(
                "{base_url}/{}/v2.0/.well-known/openid-configuration",
                demo::DEMO_TENANT_ID
            )),
            base_url: Some(base_url),
            demo_username: Some(demo::DEMO_USERNAME.to_owned()),
            demo_password: Some(demo::DEMO_PASSWORD.to_owned()),
            demo_client_id: Some(demo::DEMO_CLIENT_ID.to_owned()),
            tenant_id: Some(demo::DEMO_TENANT_ID.to_owned()),
        }
    }
}

/// The process's sandbox: stopped until [`Sandbox::start`], idempotent both ways.
#[derive(Default)]
pub struct Sandbox {
    emulator: Mutex<Option<Emulator>>,
    preferred_port: Option<u16>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Sandbox")
            .field("preferred_port", &self.preferred_port)
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// A sandbox that binds `port` (0 for any free port) instead of [`PREFERRED_PORT`].
    pub fn with_port(port: u16) -> Self {
        Sandbox {
            emulator: Mutex::new(None),
            preferred_port: Some(port),
        }
    }

    pub async fn status(&self) -> SandboxStatus {
        match &*self.emulator.lock().await {
            Some(emulator) => SandboxStatus::running(emulator.base_url()),
            None => SandboxStatus::stopped(),
        }
    }

    /// Starts the emulator, on the preferred port when it is free and on any free port when it
    /// is not (another o365-auth, or a user's own server, may hold it).
    pub async fn start(&self) -> Result<SandboxStatus, SandboxError> {
        let mut slot = self.emulator.lock().await;
        if let Some(emulator) = &*slot {
            return Ok(SandboxStatus::running(emulator.base_url()));
        }
        let port = self.preferred_port.unwrap_or(PREFERRED_PORT);
        let emulator = match start_on(port).await {
            Ok(emulator) => emulator,
            Err(first) if port != 0 => {
                tracing::info!(port, error = %first, "sandbox port taken, using a free one");
                start_on(0).await?
            }
            Err(error) => return Err(error),
        };
        let status = SandboxStatus::running(emulator.base_url());
        tracing::info!(base_url = %emulator.base_url(), "sandbox started");
        *slot = Some(emulator);
        Ok(status)
    }

    pub async fn stop(&self) -> SandboxStatus {
        if let Some(emulator) = self.emulator.lock().await.take() {
            emulator.shutdown().await;
            tracing::info!("sandbox stopped");
        }
        SandboxStatus::stopped()
    }
}

async fn start_on(port: u16) -> Result<Emulator, SandboxError> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    Emulator::start(demo::config(), addr)
        .await
        .map_err(|error| SandboxError::Start(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn discovery_issuer(url: &str) -> String {
        let body: serde_json::Value = reqwest::get(url)
            .await
            .expect("discovery request")
            .json()
            .await
            .expect("discovery JSON");
        body["issuer"].as_str().expect("issuer").to_owned()
    }

    #[tokio::test]
    async fn starts_reachable_and_stops() {
        let sandbox = Sandbox::with_port(0);
        assert!(!sandbox.status().await.running);

        let status = sandbox.start().await.expect("sandbox starts");
        let base_url = status.base_url.clone().expect("base url");
        assert!(base_url.starts_with("http://127.0.0.1:"), "{base_url}");
        let issuer = discovery_issuer(status.discovery_url.as_deref().expect("discovery")).await;
        assert_eq!(issuer, format!("{base_url}/{}/v2.0", demo::DEMO_TENANT_ID));

        assert_eq!(
            sandbox.start().await.expect("second start"),
            status,
            "start is idempotent"
        );
        assert_eq!(sandbox.stop().await, SandboxStatus::stopped());
        assert!(
            reqwest::get(&base_url).await.is_err(),
            "emulator still answering after stop"
        );
    }

    #[tokio::test]
    async fn falls_back_to_a_free_port_when_the_preferred_one_is_taken() {
        let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let taken = holder.local_addr().expect("addr").port();
        let sandbox = Sandbox::with_port(taken);
        let status = sandbox.start().await.expect("sandbox starts elsewhere");
        let base_url = status.base_url.expect("base url");
        assert_ne!(base_url, format!("http://127.0.0.1:{taken}"));
        sandbox.stop().await;
    }
}
