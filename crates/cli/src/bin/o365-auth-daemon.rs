//! `o365-auth-daemon`: the headless token service (the store's owner, the refresh scheduler and
//! the IPC socket), and the sandbox. `o365-auth daemon` and `o365-auth sandbox` exec it; the
//! light `o365-auth` client starts it on demand, as gpg starts gpg-agent.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use o365_auth_core::Secret;
use o365_auth_core::host::{HostOptions, ServiceHost};
use o365_auth_core::sandbox::{PREFERRED_PORT, Sandbox, SandboxStatus};
use o365_auth_core::store::KeySource;

#[derive(Debug, Parser)]
#[command(
    name = "o365-auth-daemon",
    version,
    about = "The o365-auth token service: keeps every account fresh and serves tokens on a socket"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The IPC socket [default: $XDG_RUNTIME_DIR/o365-auth/ipc.sock].
    #[arg(long, env = "O365_AUTH_SOCKET", global = true)]
    socket: Option<PathBuf>,
    /// The token store [default: the XDG data directory's o365-auth/store.sqlite3].
    #[arg(long, env = "O365_AUTH_STORE", global = true)]
    store: Option<PathBuf>,
    /// Unlock the store with a passphrase read from this file (its first line) instead of the
    /// OS keyring.
    #[arg(long, global = true)]
    passphrase_file: Option<PathBuf>,
    /// Also serve the HTTP API for the web UI on this loopback address (port 0 picks one).
    /// Its address and per-start secret are written to `web.json` next to the socket (0600).
    #[arg(long, global = true)]
    http: Option<std::net::SocketAddr>,
    /// The built web UI (`ui/dist`) to serve with the HTTP API.
    #[arg(long, global = true)]
    ui_dir: Option<PathBuf>,
    /// Write the log here instead of standard error.
    #[arg(long, global = true)]
    log_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the sandbox: a local Microsoft identity platform emulator with a demo tenant, app and
    /// user, until interrupted.
    Sandbox {
        /// Port to listen on (0 picks a free one).
        #[arg(long, default_value_t = PREFERRED_PORT)]
        port: u16,
        /// Print the sandbox's details as one JSON line instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(cli.log_file.as_deref())?;
    match cli.command {
        Some(Command::Sandbox { port, json }) => run_sandbox(port, json).await,
        None => {
            let result = serve(&cli).await;
            if let Err(error) = &result {
                tracing::error!("{error:#}");
            }
            result
        }
    }
}

fn init_logging(file: Option<&std::path::Path>) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match file {
        Some(path) => {
            if let Some(directory) = path.parent() {
                std::fs::create_dir_all(directory)
                    .with_context(|| format!("creating {}", directory.display()))?;
            }
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening the log file {}", path.display()))?;
            builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(log))
                .init();
        }
        None => builder.with_writer(std::io::stderr).init(),
    }
    Ok(())
}

async fn serve(cli: &Cli) -> anyhow::Result<()> {
    let key = match &cli.passphrase_file {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading the passphrase file {}", file.display()))?;
            let passphrase = text.lines().next().unwrap_or_default().to_owned();
            if passphrase.is_empty() {
                bail!("the passphrase file {} is empty", file.display());
            }
            KeySource::Passphrase(Secret::new(passphrase))
        }
        None => KeySource::Keyring,
    };
    let host = ServiceHost::start(HostOptions {
        store: cli.store.clone(),
        socket: cli.socket.clone(),
        key: Some(key),
        http: cli.http,
        ui_dir: cli.ui_dir.clone(),
        take_over: false,
    })
    .await?;
    let service = host.service().clone();
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("listening for SIGTERM")?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted"),
        _ = terminate.recv() => tracing::info!("terminated"),
        () = service.stopped() => tracing::info!("asked to stop"),
    }
    host.shutdown().await;
    Ok(())
}

async fn run_sandbox(port: u16, json: bool) -> anyhow::Result<()> {
    let sandbox = Sandbox::with_port(port);
    let status = sandbox.start().await.context("starting the sandbox")?;
    if json {
        println!("{}", serde_json::to_string(&status)?);
    } else {
        print_sandbox(&status);
    }
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    sandbox.stop().await;
    Ok(())
}

fn print_sandbox(status: &SandboxStatus) {
    let show = |value: &Option<String>| value.clone().unwrap_or_default();
    println!("The sandbox is running. Press Ctrl-C to stop it.");
    println!("  emulator   {}", show(&status.base_url));
    println!("  discovery  {}", show(&status.discovery_url));
    println!("  tenant     {}", show(&status.tenant_id));
    println!("  client id  {}", show(&status.demo_client_id));
    println!("  demo user  {}", show(&status.demo_username));
    println!("  password   {}", show(&status.demo_password));
}
