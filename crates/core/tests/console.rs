//! python-o365's console flow (`console_login` example, `o365-auth login --console`): the URL is
//! printed, the person signs in, and the pasted address completes the sign-in.

mod support;

use std::sync::Arc;

use entra_emulator::Emulator;
use entra_emulator::sandbox::{DEMO_CLIENT_ID, DEMO_PASSWORD, DEMO_TENANT_ID, DEMO_USERNAME};
use o365_auth_core::account::{Account, AccountConfig};
use o365_auth_core::authority::{Authority, Tenant};
use o365_auth_core::backend::MemoryBackend;
use o365_auth_core::cloud::Cloud;
use o365_auth_core::console::console_sign_in;
use o365_auth_core::flows::{AppConfig, ClientCredential, FlowKind};
use o365_auth_core::protocol::Protocol;
use support::browser::Browser;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

async fn account() -> (Emulator, Account) {
    let emulator = Emulator::start(
        entra_emulator::sandbox::config(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let cloud = Cloud::custom(&emulator.base_url()).unwrap();
    let app = AppConfig {
        client_id: DEMO_CLIENT_ID.into(),
        credential: ClientCredential::None,
        authority: Authority::new(cloud.clone(), Tenant::parse(DEMO_TENANT_ID).unwrap()),
    };
    let account = Account::new(
        AccountConfig::new(app, FlowKind::Public, Protocol::graph(&cloud)),
        Arc::new(MemoryBackend::new()),
    )
    .unwrap();
    (emulator, account)
}

#[tokio::test]
async fn the_pasted_address_completes_the_sign_in() {
    let (_emulator, account) = account().await;
    let (terminal, program) = tokio::io::duplex(64 * 1024);
    let (program_in, mut program_out) = tokio::io::split(program);
    let (terminal_in, mut terminal_out) = tokio::io::split(terminal);
    let person = tokio::spawn(async move {
        let mut lines = BufReader::new(terminal_in).lines();
        let mut url = None;
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.starts_with("Sign in, then paste") {
                break;
            }
            if line.starts_with("http") {
                url = Some(line);
            }
        }
        let url = url.expect("the URL was printed");
        let redirect = Browser::new()
            .sign_in(&url, DEMO_USERNAME, DEMO_PASSWORD, true)
            .await;
        let location = redirect.location.expect("redirect to nativeclient");
        assert!(
            location
                .starts_with("https://login.microsoftonline.com/common/oauth2/nativeclient?code=")
        );
        terminal_out
            .write_all(format!("{location}\n").as_bytes())
            .await
            .unwrap();
        lines.next_line().await.unwrap().unwrap_or_default()
    });
    let mut input = BufReader::new(program_in);
    let identity = console_sign_in(&account, &Default::default(), &mut input, &mut program_out)
        .await
        .unwrap();
    assert_eq!(identity.username, DEMO_USERNAME);
    let last_line = person.await.unwrap();
    assert!(
        last_line.starts_with("Authentication Flow Completed"),
        "{last_line}"
    );
    assert!(account.is_authenticated().await);
}

#[tokio::test]
async fn an_empty_line_aborts_and_a_foreign_address_is_refused() {
    let (_emulator, account) = account().await;
    let mut output = Vec::new();
    let error = console_sign_in(
        &account,
        &Default::default(),
        &mut BufReader::new(&b"\n"[..]),
        &mut output,
    )
    .await
    .unwrap_err();
    assert_eq!(error.code(), "cancelled");
    assert!(String::from_utf8_lossy(&output).contains("aborted"));

    let pasted =
        b"https://login.microsoftonline.com/common/oauth2/nativeclient?code=x&state=forged\n";
    let error = console_sign_in(
        &account,
        &Default::default(),
        &mut BufReader::new(&pasted[..]),
        &mut Vec::new(),
    )
    .await
    .unwrap_err();
    assert_eq!(error.code(), "state_mismatch");
    assert!(!account.is_authenticated().await);
}
