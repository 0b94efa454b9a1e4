//! Editing `connections.json` in place: locked, written atomically, other entries and their order kept.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Connection, Connections};
use crate::error::ConfigError;

/// A `connections.json` on disk, to read and edit.
///
/// Every edit holds an exclusive lock on the file's directory (so edits from several processes
/// at once all land), re-reads the file under it, and replaces the file by renaming a fully written and
/// synced temporary file over it: a crash at any point leaves either the old file or the new one, never half
/// of one. The file's permissions are kept; a new file is made readable by its owner only.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// use tokenbroker::{Connection, ConnectionsFile};
///
/// let file = ConnectionsFile::new(dir.path().join("connections.json"));
/// file.set("gmail", Connection::new("gmail_u3134a"))?;
/// file.set("slack", Connection::new("slack_x7y9z").with_identifier("team_a"))?;
/// assert_eq!(file.load()?.services().collect::<Vec<_>>(), ["gmail", "slack"]);
/// assert!(file.remove("gmail")?.is_some());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionsFile {
    path: PathBuf,
}

impl ConnectionsFile {
    /// The file at `path` (which need not exist yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file exists yet.
    pub fn exists(&self) -> bool {
        self.path.exists()
    }

    /// The services in the file; none if it does not exist yet.
    pub fn load(&self) -> Result<Connections, ConfigError> {
        if self.exists() {
            Connections::from_path(&self.path)
        } else {
            Ok(Connections {
                entries: Vec::new(),
                source: Some(self.path.clone()),
            })
        }
    }

    /// Adds `service`, or replaces its entry, keeping every other entry where it was. Returns the entry it
    /// replaced. Creates the file (and its directory) if needed.
    pub fn set(
        &self,
        service: &str,
        connection: Connection,
    ) -> Result<Option<Connection>, ConfigError> {
        self.edit(|connections| {
            let previous = connections.get(service).ok().cloned();
            *connections = std::mem::take(connections).with(service, connection)?;
            Ok(previous)
        })
    }

    /// Removes `service`. Returns its entry, or `None` (and leaves the file untouched) if it was not there.
    pub fn remove(&self, service: &str) -> Result<Option<Connection>, ConfigError> {
        self.edit(|connections| {
            let at = connections.entries.iter().position(|(s, _)| s == service);
            Ok(at.map(|i| connections.entries.remove(i).1))
        })
    }

    fn edit<T>(
        &self,
        change: impl FnOnce(&mut Connections) -> Result<Option<T>, ConfigError>,
    ) -> Result<Option<T>, ConfigError> {
        self.locked(|target, dir| {
            // Read under the lock: another process may have changed the file since the caller looked.
            let mut connections = target.load()?;
            let before = connections.entries.clone();
            let result = change(&mut connections)?;
            if connections.entries != before {
                let mut text = serde_json::to_string_pretty(&Entries(&connections))
                    .map_err(|e| target.unwritable(e.to_string()))?;
                text.push('\n');
                target.replace(dir, text.as_bytes(), true)?;
            }
            Ok(result)
        })
    }

    /// Runs `work` on the real file (a symlink resolved once, here: nothing later follows a link) with its
    /// directory created, checked and locked, and stale temporary files cleared.
    fn locked<T>(
        &self,
        work: impl FnOnce(&Self, &Path) -> Result<T, ConfigError>,
    ) -> Result<T, ConfigError> {
        let real = match fs::symlink_metadata(&self.path) {
            Ok(meta) if meta.file_type().is_symlink() => fs::canonicalize(&self.path)
                .map_err(|e| self.unwritable(format!("cannot resolve the symlink: {e}")))?,
            _ => self.path.clone(),
        };
        let target = Self::new(real);
        let dir = match target.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        private_dir(&dir)
            .map_err(|e| self.unwritable(format!("cannot create {}: {e}", dir.display())))?;
        shared_directory(&dir).map_err(|detail| self.unwritable(detail))?;
        let lock =
            super::lock::lock(&dir, &target.path).map_err(|detail| self.unwritable(detail))?;
        target.remove_stale_temps(&dir);
        let result = work(&target, &dir);
        drop(lock);
        result
    }

    /// Replaces the file by renaming a fully written, synced temporary file over it; `keep_permissions`
    /// gives it the old file's mode, else it stays 0600.
    fn replace(&self, dir: &Path, bytes: &[u8], keep_permissions: bool) -> Result<(), ConfigError> {
        let (temp, mut file) = self.new_temp(dir)?;
        let written = (|| {
            if keep_permissions && let Ok(meta) = fs::metadata(&self.path) {
                file.set_permissions(meta.permissions())?;
            }
            file.write_all(bytes)?;
            file.sync_all()?;
            fs::rename(&temp, &self.path)?;
            // The rename is durable only once the directory is synced (not possible on Windows).
            #[cfg(unix)]
            File::open(dir)?.sync_all()?;
            Ok::<_, std::io::Error>(())
        })();
        written.map_err(|e| {
            let _ = fs::remove_file(&temp);
            self.unwritable(e.to_string())
        })
    }

    /// A new temporary file beside the target, created exclusively under a name nobody can guess: a file or
    /// symlink planted at that name makes the open fail instead of being written through.
    fn new_temp(&self, dir: &Path) -> Result<(PathBuf, File), ConfigError> {
        use std::hash::BuildHasher;
        let name = self.path.file_name().unwrap_or_default().to_string_lossy();
        let mut last = None;
        for _ in 0..8 {
            let nonce = std::hash::RandomState::new().hash_one(std::process::id());
            let temp = dir.join(format!(".{name}.{}.{nonce:016x}.tmp", std::process::id()));
            let mut options = OpenOptions::new();
            options.write(true).create_new(true);
            no_follow(&mut options);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            match options.open(&temp) {
                Ok(file) => return Ok((temp, file)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => {
                    return Err(self.unwritable(format!("cannot create {}: {e}", temp.display())));
                }
            }
        }
        Err(self.unwritable(format!(
            "cannot create a temporary file in {}: {}",
            dir.display(),
            last.map(|e| e.to_string()).unwrap_or_default()
        )))
    }

    /// Temporary files of writers that died before their rename. Under the lock no writer is mid-write, so
    /// any that exist are stale. Removing a name never follows a link.
    fn remove_stale_temps(&self, dir: &Path) {
        let prefix = format!(
            ".{}.",
            self.path.file_name().unwrap_or_default().to_string_lossy()
        );
        for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(&prefix) && name.ends_with(".tmp") {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    fn unwritable(&self, detail: String) -> ConfigError {
        ConfigError::Unwritable {
            path: self.path.clone(),
            detail,
        }
    }
}

/// Replaces `path` with `bytes` as connections.json is replaced (a symlink resolved, the directory private and
/// locked, an exclusive temporary file synced and renamed over it), always with mode 0600: for a file that
/// holds a secret, such as the `.env` `get-token init` writes.
pub(crate) fn replace_private(path: &Path, bytes: &[u8]) -> Result<(), ConfigError> {
    ConnectionsFile::new(path).locked(|target, dir| target.replace(dir, bytes, false))
}

/// Reads `path` (missing: empty; more than `cap` bytes, or not a regular file: refused) and replaces it with
/// what `change` makes of it (`None`: left as it is), all under the directory's lock and written as
/// [`replace_private`] writes: for a small private record that several processes update.
pub(crate) fn update_private<T>(
    path: &Path,
    cap: u64,
    change: impl FnOnce(&[u8]) -> (Option<Vec<u8>>, T),
) -> Result<T, ConfigError> {
    ConnectionsFile::new(path).locked(|target, dir| {
        let mut options = OpenOptions::new();
        options.read(true);
        no_follow(&mut options);
        let mut old = Vec::new();
        match options.open(&target.path) {
            Ok(file) if file.metadata().is_ok_and(|m| m.is_file()) => {
                std::io::Read::read_to_end(&mut std::io::Read::take(file, cap + 1), &mut old)
                    .map_err(|e| target.unwritable(e.to_string()))?;
            }
            Ok(_) => return Err(target.unwritable("it is not a regular file".into())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(target.unwritable(e.to_string())),
        }
        if old.len() as u64 > cap {
            return Err(target.unwritable(format!("it is larger than {cap} bytes")));
        }
        let (new, out) = change(&old);
        if let Some(bytes) = new {
            target.replace(dir, &bytes, false)?;
        }
        Ok(out)
    })
}

/// A directory that other users can write to, without the sticky bit that stops them renaming or deleting
/// other people's files, is refused: they could swap the file or its temporary under the writer.
fn shared_directory(dir: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir)
            .map_err(|e| format!("cannot examine {}: {e}", dir.display()))?
            .permissions()
            .mode();
        if mode & 0o022 != 0 && mode & 0o1000 == 0 {
            return Err(format!(
                "other users can write to the directory {} (mode {:o}), so they could swap the file while it \
                 is written; keep connections.json in a private directory, or run: chmod go-w {}",
                dir.display(),
                mode & 0o7777,
                super::read::shell_word(dir)
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Opening never follows a symlink at the last component (`O_NOFOLLOW`).
/// Creates the directory and any missing parents readable by the owner only (0700 on unix): it is where the
/// `.env` with the client secret lives too. Existing directories are left as they are.
pub(crate) fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

pub(super) fn no_follow(options: &mut OpenOptions) {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(options, libc::O_NOFOLLOW);
    #[cfg(not(unix))]
    let _ = options;
}

/// The entries as a JSON object in their order (serde_json's map would sort them).
struct Entries<'a>(&'a Connections);

impl serde::Serialize for Entries<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.entries.iter().map(|(s, c)| (s, c)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_keep_other_entries_their_order_and_the_file_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("connections.json");
        fs::write(
            &path,
            r#"{"b": {"connection_name": "b_1", "hosts": ["api.b.test"]}, "a": {"connection_name": "a_1"}}"#,
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        }
        let file = ConnectionsFile::new(&path);
        assert_eq!(file.set("c", Connection::new("c_1")).unwrap(), None);
        let old = file
            .set("a", Connection::new("a_2").with_identifier("me"))
            .unwrap();
        assert_eq!(old, Some(Connection::new("a_1")));
        let c = file.load().unwrap();
        assert_eq!(c.services().collect::<Vec<_>>(), ["b", "a", "c"]);
        assert_eq!(c.get("b").unwrap().hosts, ["api.b.test"]);
        assert_eq!(c.get("a").unwrap().identifier.as_deref(), Some("me"));
        assert_eq!(file.remove("zzz").unwrap(), None);
        assert!(file.remove("b").unwrap().is_some());
        assert_eq!(
            file.load().unwrap().services().collect::<Vec<_>>(),
            ["a", "c"]
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o640);
        }
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[cfg(unix)]
    #[test]
    fn links_are_resolved_once_and_never_written_through() {
        use std::os::unix::fs::{PermissionsExt, symlink};
        let dir = tempfile::tempdir().unwrap();
        let dotfiles = dir.path().join("dotfiles");
        fs::create_dir(&dotfiles).unwrap();
        let real = dotfiles.join("connections.json");
        fs::write(&real, r#"{"a": {"connection_name": "a_1"}}"#).unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o600)).unwrap();
        let link = dir.path().join("connections.json");
        symlink(&real, &link).unwrap();
        ConnectionsFile::new(&link)
            .set("b", Connection::new("b_1"))
            .unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(fs::read_to_string(&real).unwrap().contains("b_1"));

        // Nothing is left beside the file: no lock file to plant a symlink at.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(!names.iter().any(|n| n.ends_with(".lock")), "{names:?}");

        // A directory others can write to is refused outright.
        let shared = dir.path().join("shared");
        fs::create_dir(&shared).unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).unwrap();
        let e = ConnectionsFile::new(shared.join("connections.json"))
            .set("c", Connection::new("c_1"))
            .unwrap_err();
        assert!(e.to_string().contains("chmod go-w"), "{e}");
    }

    #[test]
    fn a_new_file_is_private_and_an_invalid_one_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let file = ConnectionsFile::new(dir.path().join("sub/connections.json"));
        file.set("gmail", Connection::new("gmail_1")).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(file.path()).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            let dir = fs::metadata(dir.path().join("sub"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(dir, 0o700, "a new directory is private");
        }
        let e = file.set("bad name", Connection::new("x")).unwrap_err();
        assert!(matches!(e, ConfigError::InvalidName { .. }), "{e}");
        fs::write(file.path(), "{\"gmail\": {\"connection_name\": \"g\"},}").unwrap();
        let e = file.set("slack", Connection::new("slack_1")).unwrap_err();
        assert!(e.to_string().contains(":1:"), "{e}");
        assert_eq!(
            fs::read_to_string(file.path()).unwrap(),
            "{\"gmail\": {\"connection_name\": \"g\"},}"
        );
    }
}
