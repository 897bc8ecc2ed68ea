//! The store's data key against a real Secret Service (gnome-keyring under `dbus-run-session`,
//! unlocked by scripts/test-all.sh). Ignored in a plain `cargo test`; the test script runs them.

use o365_auth_core::store::key::{KeyError, KeyringSlot};

fn unique_store_id(label: &str) -> String {
    format!("test-{label}-{}-{}", std::process::id(), rand_suffix())
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos() as u64)
        .unwrap_or_default()
}

#[tokio::test]
#[ignore = "needs an unlocked Secret Service: run through scripts/test-all.sh"]
async fn a_store_key_is_created_once_and_read_back_from_the_keyring() {
    let slot = KeyringSlot::new(&unique_store_id("roundtrip"));
    assert!(slot.load().await.expect("keyring reachable").is_none());
    let created = slot.load_or_create().await.expect("create");
    // A new slot object reads the value from the Secret Service, not from memory.
    let again = KeyringSlot::new(&slot.store_id)
        .load_or_create()
        .await
        .expect("read back");
    assert_eq!(created.as_bytes(), again.as_bytes());
    slot.delete().await.expect("delete");
    assert!(slot.load().await.expect("reachable").is_none());
}

#[tokio::test]
#[ignore = "needs an unlocked Secret Service: run through scripts/test-all.sh"]
async fn each_store_has_its_own_key() {
    let first = KeyringSlot::new(&unique_store_id("first"));
    let second = KeyringSlot::new(&unique_store_id("second"));
    let a = first.load_or_create().await.expect("first");
    let b = second.load_or_create().await.expect("second");
    assert_ne!(a.as_bytes(), b.as_bytes());
    first.delete().await.expect("delete");
    second.delete().await.expect("delete");
}

#[tokio::test]
#[ignore = "needs an unlocked Secret Service: run through scripts/test-all.sh"]
async fn a_foreign_value_in_the_entry_is_reported_and_left_alone() {
    let slot = KeyringSlot::new(&unique_store_id("foreign"));
    let user = format!("store-key:{}", slot.store_id);
    let entry = keyring::Entry::new(&slot.service, &user).expect("entry");
    entry.set_password("someone else's data").expect("set");
    let error = slot.load_or_create().await.unwrap_err();
    assert!(matches!(error, KeyError::ForeignKeyringEntry), "{error}");
    assert_eq!(
        entry.get_password().expect("still there"),
        "someone else's data"
    );
    entry.delete_credential().expect("cleanup");
}

#[test]
fn without_a_session_bus_the_error_says_how_to_get_a_keyring() {
    // SAFETY: nextest runs each test in its own process and no other thread exists yet.
    unsafe {
        std::env::set_var(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/o365-auth-test-bus",
        );
        std::env::remove_var("DISPLAY");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let error = runtime
        .block_on(KeyringSlot::new("no-bus").load_or_create())
        .unwrap_err();
    assert_eq!(error.code(), "keyring_unavailable", "{error}");
    let message = error.to_string();
    assert!(message.contains("gnome-keyring"), "{message}");
    assert!(message.contains("passphrase"), "{message}");
}
