//! A local emulator of the Microsoft identity platform (Entra ID v2.0 endpoints) and a slice of
//! Microsoft Graph, for tests and the o365-auth sandbox.
//!
//! ```no_run
//! # async fn demo() -> Result<(), entra_emulator::EmulatorError> {
//! let emulator = entra_emulator::Emulator::start(
//!     entra_emulator::sandbox::config(),
//!     "127.0.0.1:0".parse().expect("address"),
//! )
//! .await?;
//! println!("authority: {}/{}", emulator.base_url(), entra_emulator::sandbox::DEMO_TENANT_ID);
//! emulator.control().advance_clock(3600);
//! emulator.shutdown().await;
//! # Ok(())
//! # }
//! ```

pub mod admin;
pub mod authorize;
pub mod clock;
pub mod config;
pub mod consent;
pub mod control;
pub mod device;
pub mod directory;
pub mod discovery;
pub mod errors;
pub mod faults;
pub mod form;
pub mod grants;
pub mod graph;
pub mod graph_mail;
pub mod keys;
pub mod mail;
pub mod sandbox;
pub mod scopes;
pub mod server;
pub mod sessions;
pub mod state;
pub mod stats;
pub mod store;
pub mod tokens;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use config::{
    AppRegistration, CONSUMERS_TENANT_ID, ClientSecret, ConfigError, EmulatorConfig, GRAPH_APP_ID,
    GRAPH_RESOURCE, Lifetimes, RedirectKind, RedirectUri, ResourceConfig, SignInAudience,
    TenantConfig, UserConfig,
};
pub use control::{Control, ControlError, UserStatus};
pub use faults::{Fault, FaultKind};
pub use mail::{MailError, MailOptions, MailServers};
pub use stats::Stats;

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Key(#[from] keys::KeyError),
    #[error("key generation task failed: {0}")]
    Task(String),
}

/// A running emulator. Dropping it (or [`Emulator::shutdown`]) stops the server.
#[derive(Debug)]
pub struct Emulator {
    addr: SocketAddr,
    base_url: String,
    control: Control,
    /// For servers started later on the same state (`start_mail`).
    pub(crate) shared: state::AppState,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Binds `addr` (port 0 picks a free port), generates the signing key and starts serving.
    pub async fn start(
        config: EmulatorConfig,
        addr: SocketAddr,
    ) -> Result<Emulator, EmulatorError> {
        let dir = directory::Directory::build(&config)?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| EmulatorError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| EmulatorError::Bind { addr, source })?;
        let keys = tokio::task::spawn_blocking(keys::SigningKey::generate)
            .await
            .map_err(|error| EmulatorError::Task(error.to_string()))??;
        let base_url = format!("http://{local}");
        let shared = Arc::new(state::Shared::new(base_url.clone(), dir, config, keys));
        let router = server::router(shared.clone());
        let (shutdown, receiver) = oneshot::channel();
        let task = tokio::spawn(server::serve(listener, router, receiver));
        tracing::info!(%base_url, "entra-emulator started");
        Ok(Emulator {
            addr: local,
            base_url,
            control: Control::new(shared.clone()),
            shared,
            shutdown: Some(shutdown),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Fault injection, clock, user switches, revocation and stats.
    pub fn control(&self) -> Control {
        self.control.clone()
    }

    /// Stops accepting, closes every connection and waits for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(sender) = self.shutdown.take() {
            let _ = sender.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(sender) = self.shutdown.take() {
            let _ = sender.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
