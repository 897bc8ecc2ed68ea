//! Which process owns refreshing: the one holding an exclusive lock on `<db>.owner.lock`.
//!
//! The lock is a whole-file `flock`-style lock (std's `File::try_lock`): the kernel drops it
//! when the process dies, so a crashed owner never blocks the next one. Two handles opened
//! separately conflict even inside one process (the lock belongs to the open file
//! description), which the tests rely on. The owner writes its pid into the file so the others
//! can say who owns it.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::db::{Store, open_private, sibling};
use super::sql::io_error;
use crate::error::Result;

/// The outcome of [`Store::try_become_owner`].
#[derive(Debug)]
pub enum Ownership {
    /// This process owns refreshing until the guard is dropped.
    Owner(Owner),
    /// Another process owns refreshing: this one is its client. `owner_pid` is what the owner
    /// wrote into the lock file, if readable.
    NotOwner { owner_pid: Option<u32> },
}

impl Ownership {
    pub fn is_owner(&self) -> bool {
        matches!(self, Ownership::Owner(_))
    }
}

/// Held by the process that owns refreshing; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct Owner {
    file: File,
    path: PathBuf,
}

impl Owner {
    pub fn lock_path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

impl Store {
    /// The lock file that decides ownership: `<db>.owner.lock`.
    pub fn owner_lock_path(&self) -> PathBuf {
        sibling(self.path(), "owner.lock")
    }

    /// Tries, without waiting, to become the process that owns refreshing.
    pub fn try_become_owner(&self) -> Result<Ownership> {
        let path = self.owner_lock_path();
        let mut file = open_private(&path)?;
        match file.try_lock() {
            Ok(()) => {
                let pid = std::process::id().to_string();
                file.set_len(0)
                    .and_then(|()| file.seek(SeekFrom::Start(0)))
                    .and_then(|_| file.write_all(pid.as_bytes()))
                    .and_then(|()| file.sync_data())
                    .map_err(|error| io_error(&path, error))?;
                Ok(Ownership::Owner(Owner { file, path }))
            }
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let owner_pid = file
                    .read_to_string(&mut text)
                    .ok()
                    .and_then(|_| text.trim().parse().ok());
                Ok(Ownership::NotOwner { owner_pid })
            }
            Err(TryLockError::Error(error)) => Err(io_error(&path, error)),
        }
    }
}
