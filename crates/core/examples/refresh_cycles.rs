//! Test helper for `tests/store_crash.rs`: refreshes every account of a store against an
//! identity service, round after round, until it is killed. Not for users.
//!
//! ```text
//! refresh_cycles STORE_PATH AUTHORITY_BASE_URL TENANT CLIENT_ID KEY_HEX
//! ```
//!
//! Prints `cycle N` after each full round, so the parent knows refreshes are being written.

use std::sync::Arc;

use o365_auth_core::account::{Account, AccountConfig};
use o365_auth_core::authority::{Authority, Tenant};
use o365_auth_core::cloud::Cloud;
use o365_auth_core::flows::{AppConfig, ClientCredential, FlowKind};
use o365_auth_core::protocol::Protocol;
use o365_auth_core::store::key::DataKey;
use o365_auth_core::store::{KeySource, Store, StoreBackend, StoreOptions};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let [path, base, tenant, client_id, key_hex] = arguments.as_slice() else {
        return Err("usage: refresh_cycles STORE AUTHORITY_BASE TENANT CLIENT_ID KEY_HEX".into());
    };
    let key = decode_key(key_hex)?;
    let store = Store::open(StoreOptions::at(path).with_key(KeySource::Key(key))).await?;
    let cloud = Cloud::custom(base)?;
    let app = AppConfig {
        client_id: client_id.clone(),
        credential: ClientCredential::None,
        authority: Authority::new(cloud.clone(), Tenant::parse(tenant)?),
    };
    let mut config = AccountConfig::new(app, FlowKind::Password, Protocol::graph(&cloud));
    config.scopes = vec!["basic".into()];
    let account = Account::new(config, Arc::new(StoreBackend::new(store)))?;
    let names: Vec<String> = account
        .accounts()
        .await?
        .into_iter()
        .map(|identity| identity.username)
        .collect();
    for cycle in 1.. {
        for name in &names {
            account.refresh(name).await?;
        }
        println!("cycle {cycle}");
    }
    Ok(())
}

fn decode_key(hex: &str) -> Result<DataKey, Box<dyn std::error::Error>> {
    let mut bytes = [0u8; 32];
    if hex.len() != 64 {
        return Err("KEY_HEX must be 64 hex digits".into());
    }
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[index * 2..index * 2 + 2], 16)?;
    }
    Ok(DataKey::from_bytes(bytes))
}
