//! `o365-auth`: the light client of the o365-auth token service. It speaks JSON-RPC over the
//! service's Unix socket (docs/ipc.md) with std, serde_json and clap only — no async runtime,
//! no store, no keyring, no configuration — so that `o365-auth token` costs little more than
//! starting a process. The service itself is `o365-auth-daemon` (src/bin/), which
//! `o365-auth daemon` and `o365-auth sandbox` run, and which client commands start when no
//! service answers.

mod autostart;
mod cli;
mod commands;
mod display;
mod error;
mod format;
mod git_credential;
mod rpc;
mod secrets;

use clap::Parser;

fn main() {
    // clap prints usage errors and exits with 2 (0 for --help and --version).
    let cli = cli::Cli::parse();
    let code = match commands::run(cli) {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("error: {failure}");
            failure.exit_code()
        }
    };
    std::process::exit(code);
}
