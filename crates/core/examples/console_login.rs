//! python-o365's console flow against the sandbox emulator (or any authority):
//!
//! ```text
//! cargo run -p o365-auth-core --example console_login
//! cargo run -p o365-auth-core --example console_login -- --authority https://login.microsoftonline.com/TENANT --client-id ID
//! ```
//!
//! Without `--authority` it starts the bundled Entra emulator with the sandbox tenant in this
//! process: open the printed URL, sign in as `demo@sandbox.onmicrosoft.com` / `sandbox-demo`,
//! accept, and paste the address the browser ends on (it starts with
//! `https://login.microsoftonline.com/common/oauth2/nativeclient?code=`; the page itself will
//! not load, which does not matter). Tokens stay in memory; nothing is written to disk.

use std::sync::Arc;

use o365_auth_core::account::{Account, AccountConfig};
use o365_auth_core::authority::{Authority, Tenant};
use o365_auth_core::backend::MemoryBackend;
use o365_auth_core::cloud::Cloud;
use o365_auth_core::console::console_sign_in;
use o365_auth_core::flows::{AppConfig, AuthorizeOptions, ClientCredential, FlowKind};
use o365_auth_core::protocol::Protocol;
use o365_auth_core::token::now_unix;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut arguments = std::env::args().skip(1);
    let (mut authority, mut client_id) = (None, None);
    while let Some(argument) = arguments.next() {
        match argument.as_str() {
            "--authority" => authority = arguments.next(),
            "--client-id" => client_id = arguments.next(),
            other => {
                return Err(format!("unknown argument `{other}`; see the example's header").into());
            }
        }
    }

    // Kept alive until the end of main: the sandbox runs in this process.
    let mut sandbox = None;
    let (cloud, tenant, client_id) = match authority {
        Some(authority) => {
            let (host, tenant) = authority
                .trim_end_matches('/')
                .rsplit_once('/')
                .ok_or("--authority must look like https://host/TENANT")?;
            let client_id = client_id.ok_or("--client-id is needed with --authority")?;
            (Cloud::custom(host)?, Tenant::parse(tenant)?, client_id)
        }
        None => {
            let emulator = entra_emulator::Emulator::start(
                entra_emulator::sandbox::config(),
                "127.0.0.1:0".parse()?,
            )
            .await?;
            let cloud = Cloud::custom(&emulator.base_url())?;
            sandbox = Some(emulator);
            (
                cloud,
                Tenant::parse(entra_emulator::sandbox::DEMO_TENANT_ID)?,
                entra_emulator::sandbox::DEMO_CLIENT_ID.to_owned(),
            )
        }
    };

    let app = AppConfig {
        client_id,
        credential: ClientCredential::None,
        authority: Authority::new(cloud.clone(), tenant),
    };
    let account = Account::new(
        AccountConfig::new(app, FlowKind::Public, Protocol::graph(&cloud)),
        Arc::new(MemoryBackend::new()),
    )?;
    let mut input = tokio::io::BufReader::new(tokio::io::stdin());
    let mut output = tokio::io::stdout();
    let identity = console_sign_in(
        &account,
        &AuthorizeOptions::default(),
        &mut input,
        &mut output,
    )
    .await?;
    let tokens = account.current_tokens(None).await?;
    println!(
        "{} has an access token (not printed) for {}, valid for {} more seconds, and a refresh token: {}.",
        identity.username,
        tokens.scopes.to_request_string(),
        tokens.expires_at - now_unix(),
        if tokens.refresh_token.is_some() {
            "yes"
        } else {
            "no"
        },
    );
    drop(sandbox);
    Ok(())
}
