//! The lock that serialises writes to one configuration file: an exclusive lock on its directory (unix),
//! so nothing is left behind and there is no file name for anyone to plant a symlink at; elsewhere, a
//! sibling `NAME.lock` opened without following links.

use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long a write waits for the lock. Anyone who can read the directory can lock it too (another user,
/// for a 0755 or a sticky directory), so the wait is bounded: never forever.
pub(crate) const LOCK_WAIT: Duration = Duration::from_secs(5);

/// Locks `dir`, the directory of `path`, waiting at most [`LOCK_WAIT`]; released when the file is dropped.
pub(crate) fn lock(dir: &Path, path: &Path) -> Result<File, String> {
    #[cfg(unix)]
    let (file, what) = {
        let _ = path;
        (File::open(dir), dir.to_owned())
    };
    #[cfg(not(unix))]
    let (file, what) = {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let lock_path = dir.join(format!("{name}.lock"));
        let mut options = std::fs::OpenOptions::new();
        options.create(true).truncate(false).write(true);
        super::file::no_follow(&mut options);
        (options.open(&lock_path), lock_path)
    };
    let file = file.map_err(|e| format!("cannot open {} to lock it: {e}", what.display()))?;
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(format!(
                    "another process has held the lock on {} for {} s; nothing was changed. Try again once \
                     other get-token commands are done; if it stays locked, other users can read that \
                     directory: keep the file in a private one (chmod 700)",
                    what.display(),
                    LOCK_WAIT.as_secs()
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(format!("cannot lock {}: {e}", what.display()));
            }
        }
    }
}
