//! `o365-auth`: the command-line tool. Today it runs the sandbox; the token commands and the
//! headless daemon arrive with the token service.

use anyhow::Context;
use clap::{Parser, Subcommand};
use o365_auth_core::sandbox::{PREFERRED_PORT, Sandbox, SandboxStatus};

#[derive(Debug, Parser)]
#[command(
    name = "o365-auth",
    version,
    about = "Microsoft 365 OAuth tokens for every tool, kept fresh"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
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
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();

    match Cli::parse().command {
        Command::Sandbox { port, json } => run_sandbox(port, json).await,
    }
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
