//! `entra-emulator --config FILE --port N [--host 127.0.0.1]` or `--sandbox`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Parser;
use entra_emulator::{Emulator, EmulatorConfig, sandbox};

#[derive(Debug, Parser)]
#[command(
    name = "entra-emulator",
    version,
    about = "A local emulator of the Microsoft identity platform (Entra ID v2.0) and a slice of Microsoft Graph"
)]
struct Args {
    /// Configuration file: TOML, or JSON when the name ends in .json.
    #[arg(long, required_unless_present = "sandbox", conflicts_with = "sandbox")]
    config: Option<PathBuf>,
    /// Use the built-in sandbox configuration instead of a file.
    #[arg(long)]
    sandbox: bool,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// Allow listening on a non-loopback address (the emulator has no real security).
    #[arg(long)]
    allow_remote: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    if !args.host.is_loopback() && !args.allow_remote {
        bail!(
            "refusing to listen on {} (not a loopback address); pass --allow-remote to do it anyway",
            args.host
        );
    }
    let config = match &args.config {
        Some(path) => {
            EmulatorConfig::load(path).with_context(|| format!("loading {}", path.display()))?
        }
        None => sandbox::config(),
    };
    let emulator = Emulator::start(config, SocketAddr::new(args.host, args.port))
        .await
        .context("starting the emulator")?;
    println!("entra-emulator listening on {}", emulator.base_url());
    wait_for_signal().await;
    tracing::info!("shutting down");
    emulator.shutdown().await;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
