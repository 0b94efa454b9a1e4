//! Editing `connections.json` in place: locked, written atomically, other entries and their order kept.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Connection, Connections};
use crate::error::ConfigError;

/// A `connections.json` on disk, to read and edit.
///
/// Every edit holds an exclusive lock on a sibling `connections.json.lock` (so edits from several processes
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
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&dir)
            .map_err(|e| self.unwritable(format!("cannot create {}: {e}", dir.display())))?;
        let lock = self.lock(&dir)?;
        self.remove_stale_temps(&dir);
        // Read under the lock: another process may have changed the file since the caller looked.
        let mut connections = self.load()?;
        let before = connections.entries.clone();
        let result = change(&mut connections)?;
        if connections.entries != before {
            self.replace(&dir, &connections)?;
        }
        drop(lock);
        Ok(result)
    }

    fn lock(&self, dir: &Path) -> Result<File, ConfigError> {
        let name = self.path.file_name().unwrap_or_default().to_string_lossy();
        let lock_path = dir.join(format!("{name}.lock"));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| {
                self.unwritable(format!(
                    "cannot open the lock file {}: {e}",
                    lock_path.display()
                ))
            })?;
        file.lock()
            .map_err(|e| self.unwritable(format!("cannot lock {}: {e}", lock_path.display())))?;
        Ok(file)
    }

    fn replace(&self, dir: &Path, connections: &Connections) -> Result<(), ConfigError> {
        let mut text = serde_json::to_string_pretty(&Entries(connections))
            .map_err(|e| self.unwritable(e.to_string()))?;
        text.push('\n');
        let name = self.path.file_name().unwrap_or_default().to_string_lossy();
        let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let written = (|| {
            let mut file = new_private_file(&temp)?;
            if let Ok(meta) = fs::metadata(&self.path) {
                file.set_permissions(meta.permissions())?;
            }
            file.write_all(text.as_bytes())?;
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

    /// Temporary files of writers that died before their rename. Under the lock no writer is mid-write, so
    /// any that exist are stale.
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

fn new_private_file(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
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
