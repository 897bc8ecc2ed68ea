//! The Connection against the emulator's Graph, in-process on real sockets: retries and
//! `Retry-After`, writes, refresh after a 401, Graph errors, paging, request spacing, headers
//! and bodies as the server received them, dropped connections and the proxy. Logs are checked in
//! `connection_logs.rs`, a binary of its own: a thread-scoped subscriber misses events while
//! other tests run in parallel (tracing caches per-callsite interest process-wide).

mod errors;
mod fixture;
mod paging;
mod refresh;
mod relay;
mod retries;
mod wire;

use entra_emulator::sandbox::DEMO_USERNAME;

pub use fixture::*;

#[tokio::test]
async fn me_and_the_current_user() {
    let fixture = signed_in().await;
    let connection = fixture.account.connection(fast()).unwrap();
    let me = connection.get("me").await.unwrap().json().unwrap();
    assert_eq!(me["userPrincipalName"], DEMO_USERNAME);
    let absolute = format!("{}/v1.0/me", fixture.emulator.base_url());
    let same = connection.get(&absolute).await.unwrap().json().unwrap();
    assert_eq!(same["id"], me["id"], "absolute URLs are used as they are");
    let user = fixture
        .account
        .current_user(&connection)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user["userPrincipalName"], DEMO_USERNAME);

    let app = app_only(&fixture.emulator).await;
    let connection = app.connection(fast()).unwrap();
    assert!(app.current_user(&connection).await.unwrap().is_none());
}
