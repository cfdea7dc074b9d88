//! A state file written so that a crash at any instant leaves a readable
//! state: temporary file, fsync, backup of the previous file, rename, fsync
//! of the directory.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::{StateSnapshot, StateStore};
use crate::config::{ConfigError, Env};
use crate::error::{Error, Result};
use crate::registry::{Setting, StateStoreFactory, StateStorePlan};

/// The format version this build writes and reads.
pub const STATE_FORMAT_VERSION: u32 = 1;
const FORMAT_TAG: &str = "ddns-state";
/// A state file larger than this is damaged, not big.
const MAX_STATE_FILE: u64 = 64 * 1024 * 1024;

#[derive(Serialize, Deserialize)]
struct OnDisk {
    format: String,
    version: u32,
    #[serde(flatten)]
    state: StateSnapshot,
}

/// The state in a JSON file, mode 0600, with a `.bak` copy of the previous
/// version and a `.lock` file that keeps two processes from sharing it.
#[derive(Debug)]
pub struct FileStateStore {
    path: PathBuf,
    // Held for the life of the store: the OS releases the lock when the
    // process ends, whatever way it ends.
    _lock: Option<File>,
    write_guard: Mutex<()>,
}

impl FileStateStore {
    /// Opens the store at `path` and takes its lock. Fails with
    /// [`Error::StateLocked`] when another process holds it. A directory
    /// that cannot be written is not an error here: saves will fail,
    /// be logged and be retried while the engine keeps working in memory.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
        if let Some(Err(source)) = parent.map(fs::create_dir_all) {
            warn!(path = %path.display(), error = %source, "cannot create the state directory; state will be kept in memory until it can be written");
        }
        let lock = take_lock(&path)?;
        // A file from a newer ddns must not be replaced by this one's
        // format: refuse to start rather than lose what it holds.
        for candidate in [path.clone(), sibling(&path, "bak")] {
            if let Some(version) = newer_version(&candidate) {
                return Err(Error::Startup {
                    component: "the file state store".into(),
                    message: format!(
                        "{} was written in format version {version} by a newer ddnsd (this one reads version {STATE_FORMAT_VERSION}); run the newer ddnsd, or move the file away to start afresh",
                        candidate.display()
                    ),
                });
            }
        }
        Ok(Self {
            path,
            _lock: lock,
            write_guard: Mutex::new(()),
        })
    }

    /// The state file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The backup's path: `<path>.bak`.
    pub fn backup_path(&self) -> PathBuf {
        sibling(&self.path, "bak")
    }

    /// Reads the state without a lock and without recovery (for `status`
    /// style tools that run beside a daemon).
    pub fn peek(path: &Path) -> Result<StateSnapshot> {
        read_state(path).map_err(|source| Error::StateRead {
            path: path.to_path_buf(),
            source,
        })
    }

    fn load_sync(&self) -> StateSnapshot {
        let main_error = match read_state(&self.path) {
            Ok(state) => return state,
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => Some(e),
        };
        let backup = self.backup_path();
        match (read_state(&backup), &main_error) {
            (Ok(state), Some(error)) => {
                warn!(path = %self.path.display(), error = %error, backup = %backup.display(), "state file unreadable; recovered from the backup");
                state
            }
            (Ok(state), None) => {
                warn!(path = %self.path.display(), backup = %backup.display(), "state file missing; recovered from the backup");
                state
            }
            (Err(backup_error), Some(error)) => {
                warn!(path = %self.path.display(), error = %error, backup_error = %backup_error, "state file and backup unreadable; starting with empty state (records will be read back from the provider)");
                StateSnapshot::default()
            }
            (Err(_), None) => {
                info!(path = %self.path.display(), "no state file yet; starting with empty state");
                StateSnapshot::default()
            }
        }
    }

    fn save_sync(&self, snapshot: &StateSnapshot) -> io::Result<()> {
        let _guard = self
            .write_guard
            .lock()
            .map_err(|_| io::Error::other("state writer poisoned"))?;
        let body = serde_json::to_vec_pretty(&OnDisk {
            format: FORMAT_TAG.to_string(),
            version: STATE_FORMAT_VERSION,
            state: snapshot.clone(),
        })
        .map_err(io::Error::other)?;

        let tmp = sibling(&self.path, "tmp");
        let _ = fs::remove_file(&tmp);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(&body)?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        drop(file);

        if self.path.is_file() {
            self.keep_backup()?;
        }
        fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            // Make the rename itself durable.
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    }

    fn keep_backup(&self) -> io::Result<()> {
        let backup = self.backup_path();
        let staging = sibling(&self.path, "bak.tmp");
        let _ = fs::remove_file(&staging);
        if fs::hard_link(&self.path, &staging).is_err() {
            fs::copy(&self.path, &staging)?;
            File::open(&staging)?.sync_all()?;
        }
        fs::rename(&staging, &backup)
    }
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".");
    name.push(suffix);
    path.with_file_name(name)
}

fn take_lock(path: &Path) -> Result<Option<File>> {
    let lock_path = sibling(path, "lock");
    let file = match OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&lock_path)
    {
        Ok(file) => file,
        Err(error) => {
            warn!(path = %lock_path.display(), error = %error, "cannot create the state lock file; running without a lock");
            return Ok(None);
        }
    };
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => Err(Error::StateLocked {
            path: path.to_path_buf(),
        }),
        Err(TryLockError::Error(error)) => {
            warn!(path = %lock_path.display(), error = %error, "cannot lock the state file; running without a lock");
            Ok(None)
        }
    }
}

/// The format version of a state file written by a newer build, if the
/// file at `path` is one.
fn newer_version(path: &Path) -> Option<u32> {
    #[derive(Deserialize)]
    struct Header {
        format: String,
        version: u32,
    }
    let metadata = fs::metadata(path).ok()?;
    if !metadata.is_file() || metadata.len() > MAX_STATE_FILE {
        return None;
    }
    let header: Header = serde_json::from_slice(&fs::read(path).ok()?).ok()?;
    (header.format == FORMAT_TAG && header.version > STATE_FORMAT_VERSION).then_some(header.version)
}

fn read_state(path: &Path) -> io::Result<StateSnapshot> {
    let metadata = fs::metadata(path)?;
    if metadata.is_dir() {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "is a directory"));
    }
    if metadata.len() > MAX_STATE_FILE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "is {} bytes, far more than a state file holds",
                metadata.len()
            ),
        ));
    }
    let bytes = fs::read(path)?;
    let on_disk: OnDisk = serde_json::from_slice(&bytes).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not a valid state file: {e}"),
        )
    })?;
    if on_disk.format != FORMAT_TAG {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("format '{}' is not a ddns state file", on_disk.format),
        ));
    }
    if on_disk.version != STATE_FORMAT_VERSION {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "format version {} is not supported by this build (it reads version {STATE_FORMAT_VERSION})",
                on_disk.version
            ),
        ));
    }
    Ok(on_disk.state)
}

#[async_trait]
impl StateStore for FileStateStore {
    fn name(&self) -> &str {
        "file"
    }

    async fn load(&self) -> Result<StateSnapshot> {
        Ok(self.load_sync())
    }

    async fn save(&self, snapshot: &StateSnapshot) -> Result<()> {
        self.save_sync(snapshot)
            .map_err(|source| Error::StateWrite {
                path: self.path.clone(),
                source,
            })
    }
}

pub(crate) struct FileStoreFactory;

struct FilePlan {
    path: PathBuf,
}

impl StateStoreFactory for FileStoreFactory {
    fn name(&self) -> &'static str {
        "file"
    }

    fn variables(&self) -> &'static [&'static str] {
        &["DDNS_STATE_STORE_PATH"]
    }

    fn configure(&self, env: &Env) -> Result<Box<dyn StateStorePlan>, ConfigError> {
        const VAR: &str = "DDNS_STATE_STORE_PATH";
        let path = env.required(
            VAR,
            "the file state store needs a path, such as /var/lib/ddns/state.json",
        )?;
        let path = PathBuf::from(path.trim());
        // PATH_MAX: a longer path cannot be opened anyway.
        if path.as_os_str().len() > 4096 {
            return Err(ConfigError::new(
                VAR,
                format!(
                    "is {} bytes long; a path is at most 4096",
                    path.as_os_str().len()
                ),
            ));
        }
        if path.file_name().is_none() || path.as_os_str().to_string_lossy().ends_with('/') {
            return Err(ConfigError::new(
                VAR,
                format!("'{}' names a directory; give a file path", path.display()),
            ));
        }
        Ok(Box::new(FilePlan { path }))
    }
}

impl StateStorePlan for FilePlan {
    fn settings(&self) -> Vec<Setting> {
        vec![Setting::new("DDNS_STATE_STORE_PATH", self.path.display())]
    }

    fn open(self: Box<Self>) -> Result<Arc<dyn StateStore>> {
        Ok(Arc::new(FileStateStore::open(self.path)?))
    }
}

#[cfg(test)]
mod tests;
