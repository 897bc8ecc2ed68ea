//! Running the token service in a process: open the store, become its one owner, start the
//! service, serve the IPC socket and, when asked, the HTTP API. `o365-auth-daemon` and the
//! desktop app both call [`ServiceHost::start`], so the two run the same service the same way.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::ipc::{IpcLimits, IpcServer, default_socket_path};
use crate::sandbox::Sandbox;
use crate::secret::Secret;
use crate::service::{ServiceHandler, ServiceOptions, TokenService};
use crate::store::audit::Channel;
use crate::store::{KeySource, Owner, Ownership, Store, StoreOptions};
use crate::web::{WebApi, WebOptions};

#[derive(Debug, Default)]
pub struct HostOptions {
    /// The store file; the platform's data directory when `None`.
    pub store: Option<PathBuf>,
    /// The IPC socket; `$XDG_RUNTIME_DIR/o365-auth/ipc.sock` when `None`.
    pub socket: Option<PathBuf>,
    /// Where the data key comes from (the OS keyring unless a passphrase was chosen).
    pub key: Option<KeySource>,
    /// Serve the HTTP API for the web UI on this loopback address (port 0 picks one).
    pub http: Option<SocketAddr>,
    /// The built web UI to serve with the HTTP API.
    pub ui_dir: Option<PathBuf>,
    /// When another process owns the store, ask it to stop and take over (the desktop app
    /// replaces a daemon that `o365-auth token` started), instead of failing.
    pub take_over: bool,
}

/// Where a running HTTP API is, written to `web.json` beside the socket (0600) for the
/// person's own programs; never logged, never in argv.
#[derive(Debug, Clone)]
pub struct WebEndpoint {
    pub address: SocketAddr,
    pub ui_url: Secret,
    pub file: PathBuf,
}

pub struct ServiceHost {
    store: Store,
    service: TokenService,
    sandbox: Arc<Sandbox>,
    socket: PathBuf,
    ipc: Option<IpcServer>,
    web: Option<(WebApi, WebEndpoint)>,
    _owner: Owner,
}

impl ServiceHost {
    pub async fn start(options: HostOptions) -> Result<ServiceHost> {
        let socket = match options.socket {
            Some(socket) => socket,
            None => default_socket_path()?,
        };
        let mut store_options =
            StoreOptions::default().with_key(options.key.unwrap_or(KeySource::Keyring));
        store_options.path = options.store;
        let store = Store::open(store_options).await?;
        let owner = become_owner(&store, &socket, options.take_over).await?;
        let sandbox = Arc::new(Sandbox::default());
        let service = TokenService::start(
            store.clone(),
            ServiceOptions {
                socket: Some(socket.clone()),
                sandbox: Some(sandbox.clone()),
                ..ServiceOptions::default()
            },
        )
        .await?;
        let ipc = if store.settings().get().await?.ipc_enabled {
            let handler = Arc::new(ServiceHandler::new(service.clone()));
            Some(IpcServer::bind(&socket, handler, IpcLimits::default()).await?)
        } else {
            tracing::info!("the IPC socket is turned off in the settings");
            None
        };
        let web = match options.http {
            Some(address) => Some(start_web(address, &service, &socket, options.ui_dir).await?),
            None => None,
        };
        tracing::info!(socket = %socket.display(), store = %store.path().display(), "serving");
        Ok(ServiceHost {
            store,
            service,
            sandbox,
            socket,
            ipc,
            web,
            _owner: owner,
        })
    }

    pub fn service(&self) -> &TokenService {
        &self.service
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    pub fn web(&self) -> Option<&WebEndpoint> {
        self.web.as_ref().map(|(_, endpoint)| endpoint)
    }

    /// The service's methods for a caller in this process (the desktop window as channel
    /// `app`, its tray as `tray`).
    pub fn handler(&self, channel: Channel) -> Arc<ServiceHandler> {
        Arc::new(ServiceHandler::for_channel(self.service.clone(), channel))
    }

    /// Stops serving, the sandbox too, and closes the store cleanly.
    pub async fn shutdown(self) {
        if let Some((web, endpoint)) = self.web {
            web.shutdown().await;
            let _ = std::fs::remove_file(endpoint.file);
        }
        if let Some(ipc) = self.ipc {
            ipc.shutdown().await;
        }
        self.sandbox.stop().await;
        self.store.close().await;
    }
}

async fn become_owner(store: &Store, socket: &Path, take_over: bool) -> Result<Owner> {
    let owned = |owner_pid| Error::StoreOwned {
        path: store.path().to_owned(),
        owner_pid,
    };
    match store.try_become_owner()? {
        Ownership::Owner(owner) => return Ok(owner),
        Ownership::NotOwner { owner_pid } if !take_over => return Err(owned(owner_pid)),
        Ownership::NotOwner { .. } => {}
    }
    ask_to_stop(socket).await;
    // The owner finishes what it is doing first (a refresh, the audit batch).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match store.try_become_owner()? {
            Ownership::Owner(owner) => return Ok(owner),
            Ownership::NotOwner { owner_pid } if tokio::time::Instant::now() > deadline => {
                return Err(owned(owner_pid));
            }
            Ownership::NotOwner { .. } => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Sends `shutdown` to whoever serves the socket; an owner that does not answer is waited
/// for all the same.
async fn ask_to_stop(socket: &Path) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let Ok(Ok(stream)) = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::UnixStream::connect(socket),
    )
    .await
    else {
        return;
    };
    let (reader, mut writer) = stream.into_split();
    let request = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"shutdown\"}\n";
    if writer.write_all(request).await.is_ok() {
        let mut answer = String::new();
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            BufReader::new(reader).read_line(&mut answer),
        )
        .await;
        tracing::info!("asked the running token service to stop, to take over its store");
    }
}

async fn start_web(
    address: SocketAddr,
    service: &TokenService,
    socket: &Path,
    ui_dir: Option<PathBuf>,
) -> Result<(WebApi, WebEndpoint)> {
    let handler = Arc::new(ServiceHandler::for_channel(service.clone(), Channel::Http));
    let web = WebApi::bind(
        address,
        handler,
        WebOptions {
            ui_dir,
            ..WebOptions::default()
        },
    )
    .await?;
    let file = socket.with_file_name("web.json");
    let contents = serde_json::json!({
        "address": web.address().to_string(),
        "secret": web.secret().expose(),
        "ui_url": web.ui_url().expose(),
    });
    write_private(&file, contents.to_string().as_bytes()).map_err(|error| {
        Error::invalid_input(
            "HTTP API address",
            format!("writing {}: {error}", file.display()),
        )
    })?;
    tracing::info!(address = %web.address(), "HTTP API listening; its secret is in {}", file.display());
    let endpoint = WebEndpoint {
        address: web.address(),
        ui_url: web.ui_url(),
        file,
    };
    Ok((web, endpoint))
}

fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)
}
