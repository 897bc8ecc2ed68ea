//! `entra-emulator --config FILE --port N [--host 127.0.0.1]` or `--sandbox`, with Exchange's
//! SMTP and IMAP servers on `--smtp-port` / `--imap-port` (their CA certificate written to
//! `--mail-ca FILE`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Parser;
use entra_emulator::mail::MailOptions;
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
    /// Also serve SMTP submission (STARTTLS, XOAUTH2) on this port (0 picks a free one).
    #[arg(long, requires = "imap_port", requires = "mail_ca")]
    smtp_port: Option<u16>,
    /// Also serve IMAP (TLS, XOAUTH2) on this port (0 picks a free one).
    #[arg(long, requires = "smtp_port")]
    imap_port: Option<u16>,
    /// Where to write the PEM certificate authority the mail servers' certificate is signed
    /// by, for mail clients to trust.
    #[arg(long, requires = "smtp_port")]
    mail_ca: Option<PathBuf>,
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
    let mail = match (args.smtp_port, args.imap_port, &args.mail_ca) {
        (Some(smtp), Some(imap), Some(ca_path)) => {
            let options = MailOptions {
                smtp: SocketAddr::new(args.host, smtp),
                imap: SocketAddr::new(args.host, imap),
            };
            let mail = emulator
                .start_mail(options)
                .await
                .context("starting the mail servers")?;
            std::fs::write(ca_path, mail.ca_certificate_pem())
                .with_context(|| format!("writing {}", ca_path.display()))?;
            println!("entra-emulator SMTP (STARTTLS) on {}", mail.smtp_addr());
            println!("entra-emulator IMAP (TLS) on {}", mail.imap_addr());
            Some(mail)
        }
        _ => None,
    };
    wait_for_signal().await;
    tracing::info!("shutting down");
    if let Some(mail) = mail {
        mail.shutdown().await;
    }
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
