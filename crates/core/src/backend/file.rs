//! python-o365's `FileSystemTokenBackend`, made safe: the file is MSAL's cache JSON (shared
//! with python-o365 and MSAL scripts), every change is lock, re-read, merge, write a 0600 temp
//! file, fsync, rename, fsync the directory; a corrupt or pre-2.1 file is reported and never
//! overwritten (python-o365 races, loses accounts and crashes here: its §7.9, §7.12, §7.13).
//!
//! Two sibling lock files, never the data file (it is replaced by rename, so a lock on it
//! would lock a file that no longer has the name): `<file>.lock` serialises writers for
//! milliseconds; `<file>.refresh.lock` is held across a whole refresh, one per file because a
//! refresh rewrites the shared file anyway.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use futures_util::future::BoxFuture;

use super::{AppKey, RefreshGuard, StoredAccount, TokenBackend, msal_mapping};
use crate::error::{Error, Result};
use crate::msal_cache::MsalCache;
use crate::scopes::Scopes;
use crate::token::{AccountIdentity, TokenSet};

/// python-o365's default file name.
pub const DEFAULT_FILE_NAME: &str = "o365_token.txt";

#[derive(Debug, Clone)]
pub struct FileBackend {
    path: PathBuf,
}

impl FileBackend {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileBackend { path: path.into() }
    }

    /// `<directory>/o365_token.txt`. python-o365 defaults to the current directory; we ask
    /// for one, because writing tokens wherever a script happens to run is how they leak.
    pub fn in_directory(directory: impl AsRef<Path>) -> Self {
        Self::new(directory.as_ref().join(DEFAULT_FILE_NAME))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn storage_error(&self, reason: impl Into<String>) -> Error {
        Error::TokenFile {
            path: self.path.display().to_string(),
            reason: reason.into(),
        }
    }

    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(suffix);
        self.path.with_file_name(name)
    }

    /// The cache as it is on disk now; a missing or empty file is an empty cache.
    fn read(&self) -> Result<MsalCache> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(MsalCache::default());
            }
            Err(error) => return Err(self.storage_error(format!("cannot be read: {error}"))),
        };
        MsalCache::parse(&text).map_err(|error| {
            self.storage_error(format!(
                "{error}. The file was left as it is; move it aside to start a new one"
            ))
        })
    }

    fn lock(&self, suffix: &str) -> Result<File> {
        let path = self.sibling(suffix);
        if let Some(directory) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(directory).map_err(|error| {
                self.storage_error(format!("its directory cannot be created: {error}"))
            })?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(|error| {
                self.storage_error(format!("lock file {}: {error}", path.display()))
            })?;
        file.lock()
            .map_err(|error| self.storage_error(format!("cannot be locked: {error}")))?;
        Ok(file)
    }

    /// Lock, re-read, change, write atomically. `change` returns what to give back.
    fn update<T>(&self, change: impl FnOnce(&mut MsalCache) -> T) -> Result<T> {
        let _lock = self.lock(".lock")?;
        let mut cache = self.read()?;
        let outcome = change(&mut cache);
        self.write(&cache)?;
        Ok(outcome)
    }

    fn write(&self, cache: &MsalCache) -> Result<()> {
        let directory = match self.path.parent() {
            Some(directory) if !directory.as_os_str().is_empty() => directory.to_owned(),
            _ => PathBuf::from("."),
        };
        let exposed = std::fs::metadata(&self.path)
            .is_ok_and(|metadata| metadata.permissions().mode() & 0o077 != 0);
        if exposed {
            tracing::warn!(
                path = %self.path.display(),
                "token file was readable by other users; it is now private (0600)"
            );
        }
        let temporary = self.sibling(&format!(".tmp-{}", std::process::id()));
        let written = (|| -> std::io::Result<()> {
            let mut file = OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .mode(0o600)
                .open(&temporary)?;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            file.write_all(cache.to_json().as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&temporary, &self.path)?;
            File::open(&directory)?.sync_all()
        })();
        written.map_err(|error| {
            let _ = std::fs::remove_file(&temporary);
            self.storage_error(format!("cannot be written: {error}"))
        })
    }

    fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(FileBackend) -> Result<T> + Send + 'static,
    ) -> BoxFuture<'static, Result<T>> {
        let backend = self.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || work(backend))
                .await
                .map_err(|_| Error::protocol("a token file task stopped unexpectedly"))?
        })
    }
}

impl TokenBackend for FileBackend {
    fn accounts<'a>(&'a self, app: &'a AppKey) -> BoxFuture<'a, Result<Vec<AccountIdentity>>> {
        let app = app.clone();
        self.blocking(move |file| Ok(msal_mapping::identities(&file.read()?, &app)))
    }

    fn load<'a>(
        &'a self,
        app: &'a AppKey,
        account: &'a str,
        scopes: Option<&'a Scopes>,
    ) -> BoxFuture<'a, Result<Option<StoredAccount>>> {
        let (app, account, scopes) = (app.clone(), account.to_owned(), scopes.cloned());
        self.blocking(move |file| {
            Ok(msal_mapping::load(
                &file.read()?,
                &app,
                &account,
                scopes.as_ref(),
            ))
        })
    }

    fn save<'a>(
        &'a self,
        app: &'a AppKey,
        identity: &'a AccountIdentity,
        tokens: &'a TokenSet,
    ) -> BoxFuture<'a, Result<()>> {
        let (app, identity, tokens) = (app.clone(), identity.clone(), tokens.clone());
        self.blocking(move |file| {
            file.update(|cache| msal_mapping::save(cache, &app, &identity, &tokens))
        })
    }

    fn remove<'a>(&'a self, app: &'a AppKey, account: &'a str) -> BoxFuture<'a, Result<bool>> {
        let (app, account) = (app.clone(), account.to_owned());
        self.blocking(move |file| file.update(|cache| msal_mapping::remove(cache, &app, &account)))
    }

    fn clear<'a>(&'a self, app: &'a AppKey) -> BoxFuture<'a, Result<()>> {
        let app = app.clone();
        self.blocking(move |file| {
            file.update(|cache| {
                for identity in msal_mapping::identities(cache, &app) {
                    msal_mapping::remove(cache, &app, &identity.home_account_id);
                }
            })
        })
    }

    fn has_data(&self) -> BoxFuture<'_, Result<bool>> {
        self.blocking(|file| Ok(!file.read()?.is_empty()))
    }

    fn lock_refresh<'a>(
        &'a self,
        _app: &'a AppKey,
        _account: &'a str,
    ) -> BoxFuture<'a, Result<RefreshGuard>> {
        // Dropping the file closes it, which releases the lock.
        self.blocking(|file| file.lock(".refresh.lock").map(RefreshGuard::new))
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    use super::*;
    use crate::backend::contract;

    #[tokio::test]
    async fn file_backend_keeps_the_contract_in_a_private_file() {
        let dir = tempfile::tempdir().unwrap();
        let backend = FileBackend::in_directory(dir.path());
        contract::check(&backend).await;
        let mode = std::fs::metadata(backend.path())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[tokio::test]
    async fn two_instances_never_lose_each_others_accounts() {
        let dir = tempfile::tempdir().unwrap();
        let (first, second) = (
            FileBackend::in_directory(dir.path()),
            FileBackend::in_directory(dir.path()),
        );
        let app = contract::app();
        let writers: Vec<_> = (0..20)
            .map(|index| {
                let backend = if index % 2 == 0 {
                    first.clone()
                } else {
                    second.clone()
                };
                let app = app.clone();
                tokio::spawn(async move {
                    let who = contract::identity(&format!("user{index}"));
                    let tokens = contract::tokens(
                        &format!("at-{index}"),
                        Some("rt"),
                        "https://graph.microsoft.com/User.Read",
                        9_999,
                    );
                    backend.save(&app, &who, &tokens).await.unwrap();
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
        assert_eq!(
            first.accounts(&app).await.unwrap().len(),
            20,
            "python-o365 keeps only the last writer's"
        );
    }

    #[tokio::test]
    async fn a_second_refresher_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let (first, second) = (
            FileBackend::in_directory(dir.path()),
            FileBackend::in_directory(dir.path()),
        );
        let app = contract::app();
        let guard = first.lock_refresh(&app, "alice").await.unwrap();
        let waiting = tokio::spawn(async move {
            let app = contract::app();
            second.lock_refresh(&app, "alice").await.map(drop)
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!waiting.is_finished(), "the second refresher must wait");
        drop(guard);
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn corrupt_and_pre_2_1_files_are_reported_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let backend = FileBackend::in_directory(dir.path());
        let app = contract::app();
        let who = contract::identity("alice");
        let tokens = contract::tokens(
            "at-secret-1",
            Some("rt-secret-1"),
            "https://graph.microsoft.com/User.Read",
            9_999,
        );
        for content in [
            "{\"AccessToken\": {",
            "{\"access_token\": \"x\", \"refresh_token\": \"y\"}",
        ] {
            std::fs::write(backend.path(), content).unwrap();
            let error = backend.save(&app, &who, &tokens).await.unwrap_err();
            assert_eq!(error.code(), "token_file");
            assert!(error.to_string().contains("o365_token.txt"), "{error}");
            assert_eq!(
                std::fs::read_to_string(backend.path()).unwrap(),
                content,
                "not overwritten"
            );
            assert!(backend.accounts(&app).await.is_err());
        }
        std::fs::write(backend.path(), "").unwrap();
        assert!(
            backend.accounts(&app).await.unwrap().is_empty(),
            "an empty file is an empty cache"
        );
    }

    #[tokio::test]
    async fn a_world_readable_file_is_made_private_and_expired_tokens_stay() {
        let dir = tempfile::tempdir().unwrap();
        let backend = FileBackend::in_directory(dir.path());
        let app = contract::app();
        std::fs::write(backend.path(), "").unwrap();
        std::fs::set_permissions(backend.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        let expired = contract::tokens(
            "at-old",
            Some("rt-1"),
            "https://graph.microsoft.com/User.Read",
            1,
        );
        backend
            .save(&app, &contract::identity("alice"), &expired)
            .await
            .unwrap();
        assert_eq!(
            std::fs::metadata(backend.path())
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
        let loaded = backend
            .load(&app, "alice@contoso.com", None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(loaded.tokens.access_token.expose(), "at-old");
        assert!(format!("{backend:?} {loaded:?}").find("at-old").is_none());
    }
}
