//! Moving accounts between backends: importing a python-o365/MSAL token file into the store,
//! exporting the store's accounts to such a file so python-o365 and MSAL scripts can use
//! tokens o365-auth keeps fresh.

use super::{AppKey, TokenBackend};
use crate::error::Result;
use crate::token::AccountIdentity;

/// Copies every account of `app` from `from` to `to`: its identity, refresh token, ID token
/// and newest access token. Returns the accounts copied.
pub async fn copy_accounts(
    from: &dyn TokenBackend,
    to: &dyn TokenBackend,
    app: &AppKey,
) -> Result<Vec<AccountIdentity>> {
    let mut copied = Vec::new();
    for identity in from.accounts(app).await? {
        if let Some(stored) = from.load(app, &identity.home_account_id, None).await? {
            to.save(app, &stored.identity, &stored.tokens).await?;
            copied.push(stored.identity);
        }
    }
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{FileBackend, MemoryBackend};

    const FIXTURE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/msal-1.39.0-two-users-and-app.json"
    );

    #[tokio::test]
    async fn an_msal_file_goes_in_and_comes_back_out_with_every_account() {
        let source = FileBackend::new(FIXTURE);
        let apps = source.apps().await.unwrap();
        assert_eq!(apps.len(), 1, "{apps:?}");
        let app = &apps[0];
        let store = MemoryBackend::new();
        let imported = copy_accounts(&source, &store, app).await.unwrap();
        assert_eq!(imported.len(), 3, "two users and the app itself");

        let dir = tempfile::tempdir().unwrap();
        let exported = FileBackend::in_directory(dir.path());
        copy_accounts(&store, &exported, app).await.unwrap();
        for identity in &imported {
            let original = source
                .load(app, &identity.home_account_id, None)
                .await
                .unwrap()
                .unwrap();
            let round_trip = exported
                .load(app, &identity.home_account_id, None)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                round_trip.tokens.refresh_token,
                original.tokens.refresh_token
            );
            assert_eq!(round_trip.tokens.access_token, original.tokens.access_token);
            assert_eq!(round_trip.identity.username, original.identity.username);
        }
    }
}
