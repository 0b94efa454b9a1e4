//! Reading a configuration file without trusting it: a regular file (not a FIFO, a device or a directory),
//! owned by the user and not writable by anyone else, and never more than a fixed number of bytes in memory.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::Path;

use zeroize::Zeroizing;

/// Why a file was not read, and the command that fixes it when there is one.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) reason: String,
    pub(crate) fix: Option<String>,
    /// The file does not exist (for callers that skip a missing optional file).
    pub(crate) missing: bool,
}

impl Refusal {
    fn new(reason: impl Into<String>, fix: Option<String>) -> Self {
        Self {
            reason: reason.into(),
            fix,
            missing: false,
        }
    }

    /// Reason and fix in one sentence, for errors that carry one text.
    pub(crate) fn sentence(&self) -> String {
        match &self.fix {
            Some(fix) => format!("{}; run: {fix}", self.reason),
            None => self.reason.clone(),
        }
    }
}

/// The bytes of `path`, at most `cap` of them, zeroed when dropped (the file may hold the secret).
pub(crate) fn read_guarded(path: &Path, cap: u64) -> Result<Zeroizing<Vec<u8>>, Refusal> {
    let file = open(path).map_err(|e| Refusal {
        missing: e.kind() == std::io::ErrorKind::NotFound,
        ..Refusal::new(format!("it cannot be opened: {e}"), None)
    })?;
    // Checked on the open file, not the name: nothing can be swapped in between.
    let meta = file
        .metadata()
        .map_err(|e| Refusal::new(format!("it cannot be examined: {e}"), None))?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file (a FIFO, a device or a socket)"
        };
        return Err(Refusal::new(
            format!("it is {what}; give a regular file"),
            None,
        ));
    }
    check_owner(path, &meta)?;
    if meta.len() > cap {
        return Err(Refusal::new(
            format!("it is {} bytes; more than {cap} is refused", meta.len()),
            None,
        ));
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(meta.len() as usize));
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Refusal::new(format!("it cannot be read: {e}"), None))?;
    if bytes.len() as u64 > cap {
        return Err(Refusal::new(
            format!("it grew past {cap} bytes while being read; refused"),
            None,
        ));
    }
    Ok(bytes)
}

fn open(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    // Opening a FIFO for reading blocks until a writer comes; without blocking it opens, and is refused above.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    options.open(path)
}

/// Owned by the user running tokenbroker, and writable by nobody else: otherwise another user could decide
/// which host gets the secret or which account gets used.
#[cfg(unix)]
fn check_owner(path: &Path, meta: &std::fs::Metadata) -> Result<(), Refusal> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(Refusal::new(
            format!(
                "it belongs to another user (uid {}), who could change it",
                meta.uid()
            ),
            Some(format!("chown {me} {}", shell_word(path))),
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(Refusal::new(
            format!(
                "other users can write to it (mode {:o})",
                meta.mode() & 0o777
            ),
            Some(format!("chmod go-w {}", shell_word(path))),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_owner(_: &Path, _: &std::fs::Metadata) -> Result<(), Refusal> {
    Ok(())
}

/// A warning when others can read a file holding the secret (Unix permission bits).
pub(crate) fn readable_by_others(path: &Path, why: &str) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode();
        (mode & 0o044 != 0).then(|| {
            format!(
                "{} {why} and other users can read it (mode {:o}); run: chmod 600 {}",
                path.display(),
                mode & 0o777,
                shell_word(path)
            )
        })
    }
    #[cfg(not(unix))]
    {
        let _ = (path, why);
        None
    }
}

/// A path as one shell word, for commands a user is told to run.
pub(crate) fn shell_word(path: &Path) -> String {
    let text = path.display().to_string();
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+~".contains(c))
    {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn only_small_private_regular_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("ok");
        std::fs::write(&ok, "hello").unwrap();
        std::fs::set_permissions(&ok, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(&read_guarded(&ok, 16).unwrap()[..], b"hello");
        assert!(
            read_guarded(&ok, 4)
                .unwrap_err()
                .reason
                .contains("more than 4")
        );

        std::fs::set_permissions(&ok, std::fs::Permissions::from_mode(0o664)).unwrap();
        let e = read_guarded(&ok, 16).unwrap_err();
        assert!(e.sentence().contains("chmod go-w"), "{e:?}");

        let zero = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let e = read_guarded(&zero, 16).unwrap_err();
        assert!(e.reason.contains("not a regular file"), "{e:?}");

        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(read_guarded(&fifo, 16).unwrap_err().reason.contains("FIFO"));

        assert!(
            read_guarded(dir.path(), 16)
                .unwrap_err()
                .reason
                .contains("directory")
        );
        assert!(
            read_guarded(&dir.path().join("none"), 16)
                .unwrap_err()
                .missing
        );
    }
}
