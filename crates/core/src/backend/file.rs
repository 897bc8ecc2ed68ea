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

use super::{AccountSnapshot, AppKey, RefreshGuard, StoredAccount, TokenBackend, msal_mapping};
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

    /// The apps the file holds tokens for (python-o365 and MSAL files may hold several).
    pub async fn apps(&self) -> Result<Vec<AppKey>> {
        self.blocking(|file| Ok(msal_mapping::apps(&file.read()?)))
            .await
    }

    /// Every account of every app in the file with ALL its tokens (what an import takes), app
    /// by app as [`FileBackend::apps`] lists them. Unlike `load`, a missing file is an error
    /// here: there is nothing to import.
    pub async fn snapshots(&self) -> Result<Vec<(AppKey, Vec<AccountSnapshot>)>> {
        self.blocking(|file| {
            if !file.path.exists() {
                return Err(file.storage_error("does not exist"));
            }
            let cache = file.read()?;
            Ok(msal_mapping::apps(&cache)
                .into_iter()
                .map(|app| {
                    let accounts = msal_mapping::snapshots(&cache, &app);
                    (app, accounts)
                })
                .collect())
        })
        .await
    }

    /// Merges whole accounts (every access token, refresh and ID token) into the file in ONE
    /// locked, atomic write, keeping every other account, app and unknown entry. A file that
    /// does not read, or reads as JSON that is not a token cache (no MSAL section), is an
    /// error and is left as it is.
    pub async fn save_snapshots(&self, accounts: Vec<(AppKey, AccountSnapshot)>) -> Result<()> {
        self.blocking(move |file| {
            file.update(|cache| {
                if !cache.is_token_cache() {
                    return Err(file.storage_error(
                        "is not a token cache (a JSON object without any of MSAL's sections); \
                         it was left as it is: choose another file",
                    ));
                }
                msal_mapping::save_snapshots(cache, &accounts);
                Ok(())
            })?
        })
        .await
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

    /// Lock, re-read, change, write atomically. `change` returns what to give back. A file
    /// that does not read is an error here too, before anything is written: it is never
    /// replaced by what this process knows.
    fn update<T>(&self, change: impl FnOnce(&mut MsalCache) -> T) -> Result<T> {
        let _lock = self.lock(".lock")?;
        let mut cache = self.read()?;
        let before = cache.clone();
        let outcome = change(&mut cache);
        // Nothing changed (removing an unknown account, clearing an empty file): leave the file
        // as it is rather than create or rewrite it, as python-o365's dirty flag does.
        if cache != before {
            self.write(&cache)?;
        }
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

    const FIXTURE: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/msal-1.39.0-two-users-and-app.json"
    ));
    const FIXTURE_CLIENT: &str = "9b3c1a2e-5a1e-4f0e-9d7a-0c8f2f7a1b11";

    fn fixture_app() -> AppKey {
        AppKey {
            client_id: FIXTURE_CLIENT.into(),
            environment: "login.microsoftonline.com".into(),
            realm: "common".into(),
        }
    }

    fn entries(text: &str) -> serde_json::Map<String, serde_json::Value> {
        let serde_json::Value::Object(sections) = serde_json::from_str(text).unwrap() else {
            panic!("a cache is an object");
        };
        sections
    }

    /// Captures what a tracing subscriber prints.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_file_msal_wrote_loads_and_keeps_every_other_entry_when_one_account_changes() {
        let dir = tempfile::tempdir().unwrap();
        let backend = FileBackend::in_directory(dir.path());
        // What we write is what MSAL writes: the fixture goes through parse and back unchanged.
        assert_eq!(MsalCache::parse(FIXTURE).unwrap().to_json(), FIXTURE);
        // Fields and sections other tools add survive our rewrite.
        let mut document = entries(FIXTURE);
        document["Account"]
            .as_object_mut()
            .unwrap()
            .values_mut()
            .for_each(|account| {
                account["future_field"] = serde_json::json!([1, 2]);
            });
        document.insert(
            "FutureSection".into(),
            serde_json::json!({"x": {"kept": true}}),
        );
        let original = MsalCache::parse(&serde_json::Value::Object(document).to_string())
            .unwrap()
            .to_json();
        std::fs::write(backend.path(), &original).unwrap();

        let app = fixture_app();
        let names: Vec<String> = backend
            .accounts(&app)
            .await
            .unwrap()
            .into_iter()
            .map(|identity| identity.username)
            .collect();
        let app_only = AccountIdentity::of_app(FIXTURE_CLIENT, "contoso.onmicrosoft.com");
        assert_eq!(
            names,
            [
                "Alice@Contoso.com",
                "bob@contoso.com",
                app_only.username.as_str()
            ]
        );
        let alice = backend
            .load(&app, "alice@contoso.com", None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            alice.identity.home_account_id,
            "00000000-0000-0000-0000-00000000a11c.72f988bf-86f1-41af-91ab-2d7cd011db47"
        );
        assert_eq!(
            alice.identity.local_account_id.as_deref(),
            Some("00000000-0000-0000-0000-00000000a11c")
        );
        assert_eq!(
            alice.tokens.access_token.expose(),
            "at-00000000-0000-0000-0000-00000000a11c"
        );
        assert_eq!(alice.tokens.expires_at, 1_795_359_741);
        assert_eq!(alice.tokens.obtained_at, 1_795_356_142);
        assert!(alice.tokens.id_token.is_some());
        assert!(alice.tokens.id_token_claims.is_some());
        assert_eq!(
            alice
                .tokens
                .client_info
                .as_ref()
                .map(|info| info.utid.as_str()),
            Some("72f988bf-86f1-41af-91ab-2d7cd011db47")
        );
        let app_tokens = backend
            .load(&app, &app_only.username, None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(app_tokens.identity, app_only);
        assert_eq!(app_tokens.tokens.access_token.expose(), "at-app-only");
        assert!(app_tokens.tokens.refresh_token.is_none());

        // A refresh of alice's mail token rewrites her entries only.
        let mut refreshed = alice.tokens.clone();
        refreshed.access_token = crate::secret::Secret::new("at-alice-2");
        refreshed.expires_at = 1_795_363_341;
        backend
            .save(&app, &alice.identity, &refreshed)
            .await
            .unwrap();
        let written = std::fs::read_to_string(backend.path()).unwrap();
        assert_eq!(
            MsalCache::parse(&written).unwrap().to_json(),
            written,
            "what we write reads back identically"
        );
        let (before, after) = (entries(&original), entries(&written));
        assert_eq!(after["FutureSection"], before["FutureSection"]);
        for (section, old) in &before {
            for (key, entry) in old.as_object().unwrap() {
                let new = &after[section][key];
                if entry["home_account_id"].as_str() == Some(&alice.identity.home_account_id) {
                    continue;
                }
                assert_eq!(new, entry, "{section} {key} untouched");
            }
        }
        let alice_account = after["Account"]
            .as_object()
            .unwrap()
            .values()
            .find(|account| account["username"] == "Alice@Contoso.com")
            .unwrap();
        assert_eq!(alice_account["future_field"], serde_json::json!([1, 2]));
        assert_eq!(alice_account["account_source"], "authorization_code");
        let reloaded = backend
            .load(&app, "alice@contoso.com", None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(reloaded.tokens.access_token.expose(), "at-alice-2");
        assert_eq!(
            reloaded.tokens.refresh_token.as_ref().map(|rt| rt.expose()),
            Some("0.rt-00000000-0000-0000-0000-00000000a11c")
        );
    }

    #[tokio::test]
    async fn app_only_tokens_are_keyed_without_an_account_one_per_tenant() {
        let dir = tempfile::tempdir().unwrap();
        let backend = FileBackend::in_directory(dir.path());
        let app = contract::app();
        let (contoso, fabrikam) = (
            AccountIdentity::of_app(&app.client_id, "contoso.onmicrosoft.com"),
            AccountIdentity::of_app(&app.client_id, "fabrikam.onmicrosoft.com"),
        );
        for (identity, token) in [(&contoso, "at-contoso"), (&fabrikam, "at-fabrikam")] {
            let tokens =
                contract::tokens(token, None, "https://graph.microsoft.com/.default", 9_999);
            backend.save(&app, identity, &tokens).await.unwrap();
        }
        let written = entries(&std::fs::read_to_string(backend.path()).unwrap());
        let keys: Vec<&String> = written["AccessToken"].as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "-login.microsoftonline.com-accesstoken-client-1-contoso.onmicrosoft.com-https://graph.microsoft.com/.default",
                "-login.microsoftonline.com-accesstoken-client-1-fabrikam.onmicrosoft.com-https://graph.microsoft.com/.default",
            ],
            "MSAL's app-only keys: an empty home account id"
        );
        assert!(written["AccessToken"][keys[0]]["home_account_id"].is_null());
        assert!(written.get("Account").is_none(), "an app is no account");
        assert_eq!(
            backend.accounts(&app).await.unwrap(),
            [contoso.clone(), fabrikam.clone()]
        );
        let loaded = backend
            .load(&app, &fabrikam.username, None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(loaded.tokens.access_token.expose(), "at-fabrikam");
        assert!(backend.remove(&app, &contoso.username).await.unwrap());
        assert_eq!(backend.accounts(&app).await.unwrap(), [fabrikam]);
    }

    #[tokio::test]
    async fn load_reads_the_file_again_every_time() {
        let dir = tempfile::tempdir().unwrap();
        let (reader, writer) = (
            FileBackend::in_directory(dir.path()),
            FileBackend::in_directory(dir.path()),
        );
        let app = contract::app();
        let alice = contract::identity("alice");
        let scopes = "https://graph.microsoft.com/User.Read";
        writer
            .save(
                &app,
                &alice,
                &contract::tokens("at-1", Some("rt-1"), scopes, 9_000),
            )
            .await
            .unwrap();
        let first = reader.load(&app, "alice@contoso.com", None).await.unwrap();
        assert_eq!(first.unwrap().tokens.access_token.expose(), "at-1");
        // Another process refreshed meanwhile.
        writer
            .save(
                &app,
                &alice,
                &contract::tokens("at-2", Some("rt-2"), scopes, 9_999),
            )
            .await
            .unwrap();
        let second = reader
            .load(&app, "alice@contoso.com", None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(second.tokens.access_token.expose(), "at-2");
        assert_eq!(second.tokens.refresh_token.unwrap().expose(), "rt-2");
        std::fs::remove_file(writer.path()).unwrap();
        assert!(
            reader
                .load(&app, "alice@contoso.com", None)
                .await
                .unwrap()
                .is_none()
        );
        assert!(!reader.has_data().await.unwrap());
    }

    #[tokio::test]
    async fn writes_replace_the_file_through_a_private_temporary_and_leave_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let backend = FileBackend::new(dir.path().join("nested/tokens.json"));
        let app = contract::app();
        // Nothing to change: no file is created (python-o365's dirty flag does the same).
        assert!(!backend.remove(&app, "nobody").await.unwrap());
        backend.clear(&app).await.unwrap();
        assert!(!backend.path().exists());

        let tokens = contract::tokens(
            "at-1",
            Some("rt-1"),
            "https://graph.microsoft.com/User.Read",
            9_999,
        );
        backend
            .save(&app, &contract::identity("alice"), &tokens)
            .await
            .unwrap();
        let inode =
            |path: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(path).unwrap());
        let first = inode(backend.path());
        backend
            .save(&app, &contract::identity("bob"), &tokens)
            .await
            .unwrap();
        assert_ne!(
            inode(backend.path()),
            first,
            "replaced by rename, never truncated in place"
        );
        drop(
            backend
                .lock_refresh(&app, "alice@contoso.com")
                .await
                .unwrap(),
        );
        let mut names: Vec<String> = std::fs::read_dir(dir.path().join("nested"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "tokens.json",
                "tokens.json.lock",
                "tokens.json.refresh.lock"
            ],
            "no temporary file is left"
        );
        for name in &names {
            let mode = std::fs::metadata(dir.path().join("nested").join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{name} is private");
        }
    }

    #[test]
    fn tightening_a_readable_file_is_logged_as_a_warning_without_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let backend = FileBackend::in_directory(dir.path());
        std::fs::write(backend.path(), "").unwrap();
        std::fs::set_permissions(backend.path(), std::fs::Permissions::from_mode(0o640)).unwrap();
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let tokens = contract::tokens(
            "at-secret-log",
            Some("rt-secret-log"),
            "https://graph.microsoft.com/User.Read",
            9_999,
        );
        tracing::subscriber::with_default(subscriber, || {
            backend
                .update(|cache| {
                    msal_mapping::save(
                        cache,
                        &contract::app(),
                        &contract::identity("alice"),
                        &tokens,
                    )
                })
                .unwrap();
        });
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(log.contains("WARN"), "{log}");
        assert!(
            log.contains("o365_token.txt") && log.contains("0600"),
            "{log}"
        );
        assert!(!log.contains("secret-log"), "{log}");
        let mode = std::fs::metadata(backend.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[tokio::test]
    async fn a_file_that_does_not_read_is_never_changed_and_no_token_shows_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let backend = FileBackend::in_directory(dir.path());
        let app = contract::app();
        let who = contract::identity("alice");
        let tokens = contract::tokens(
            "at-new-secret",
            Some("rt-new-secret"),
            "https://graph.microsoft.com/User.Read",
            9_999,
        );
        for content in [
            // Truncated mid-write by python-o365 (its writes are not atomic).
            "{\n    \"AccessToken\": {\n        \"k\": {\n            \"secret\": \"eyJold-secret",
            // A token where an entry belongs.
            "{\"RefreshToken\": {\"k\": \"0.old-secret\"}}",
            "{\"access_token\": \"old-secret\", \"refresh_token\": \"old-secret-rt\"}",
        ] {
            std::fs::write(backend.path(), content).unwrap();
            let errors = [
                backend.save(&app, &who, &tokens).await.unwrap_err(),
                backend.remove(&app, "alice@contoso.com").await.unwrap_err(),
                backend.clear(&app).await.unwrap_err(),
                backend
                    .load(&app, "alice@contoso.com", None)
                    .await
                    .unwrap_err(),
                backend.has_data().await.unwrap_err(),
            ];
            for error in errors {
                assert_eq!(error.code(), "token_file");
                let shown = format!("{error} {error:?}");
                assert!(
                    shown.contains(&backend.path().display().to_string()),
                    "{shown}"
                );
                assert!(!shown.contains("secret"), "no token in errors: {shown}");
            }
            assert_eq!(
                std::fs::read(backend.path()).unwrap(),
                content.as_bytes(),
                "left byte for byte as it was"
            );
        }
        std::fs::write(backend.path(), "").unwrap();
        backend.save(&app, &who, &tokens).await.unwrap();
        let loaded = backend
            .load(&app, "alice@contoso.com", None)
            .await
            .unwrap()
            .unwrap();
        let shown = format!("{backend:?} {loaded:?}");
        assert!(!shown.contains("new-secret"), "no token in Debug: {shown}");
    }
}
