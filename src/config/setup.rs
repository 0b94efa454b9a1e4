//! A `.env` of credentials, read and written as one set: what `get-token init` checks and saves.

use std::path::Path;

use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use super::{Credentials, Sources};
use crate::error::{ConfigError, CredentialsError, Error};

impl Credentials {
    /// The credentials a `.env` file holds: all three from that file alone, read as get-token reads it
    /// (literal values, a regular file of the user's, at most 64 KiB).
    ///
    /// ```no_run
    /// let saved = tokenbroker::Credentials::from_env_file("/home/me/.config/tokenbroker/.env".as_ref())?;
    /// println!("{} at {}", saved.client_id(), saved.env_url());
    /// # Ok::<(), tokenbroker::Error>(())
    /// ```
    pub fn from_env_file(path: &Path) -> Result<Self, Error> {
        let sources = Sources::empty().load_env_file(Some(path))?;
        Ok(Self::from_sources(&sources)?)
    }

    /// Writes the three variables to `path` as a `.env` that reads back the same, replacing the file
    /// atomically (a synced temporary file renamed over it) with mode 0600, its directory created 0700. A
    /// value with a line break or a control character cannot be written and is refused.
    pub fn write_env_file(&self, path: &Path) -> Result<(), Error> {
        let secret = self.client_secret().expose_secret();
        let mut text = Zeroizing::new(String::from(
            "# Scalekit credentials for tokenbroker (get-token init). Keep this file private.\n",
        ));
        for (name, value) in [
            (
                "SCALEKIT_ENV_URL",
                self.env_url().as_str().trim_end_matches('/'),
            ),
            ("SCALEKIT_CLIENT_ID", self.client_id()),
            ("SCALEKIT_CLIENT_SECRET", secret),
        ] {
            if value.chars().any(char::is_control) {
                return Err(CredentialsError::EnvFile {
                    path: path.to_owned(),
                    detail: format!("{name} holds a line break or a control character; refused"),
                }
                .into());
            }
            // Double quotes, with \ and " escaped: what the reader takes back literally.
            let quoted = Zeroizing::new(value.replace('\\', "\\\\").replace('"', "\\\""));
            text.push_str(&format!("{name}=\"{}\"\n", quoted.as_str()));
        }
        super::file::replace_private(path, text.as_bytes()).map_err(|e| match e {
            ConfigError::Unwritable { detail, .. } => CredentialsError::EnvFile {
                path: path.to_owned(),
                detail,
            }
            .into(),
            other => other.into(),
        })
    }

    /// The same client secret for `env_url` and `client_id`, which must be this set-up's own (the same URL
    /// once parsed, the same client ID): `get-token init` keeps the saved secret when the user presses Enter
    /// at its prompt. For any other URL or client ID this is refused, so a saved secret is never sent where
    /// it was not saved for.
    pub fn with_secret_for(
        &self,
        env_url: &str,
        client_id: &str,
    ) -> Result<Self, CredentialsError> {
        let kept = Self::new(env_url, client_id, self.client_secret().clone())?;
        if kept.env_url() != self.env_url() || kept.client_id() != self.client_id() {
            return Err(CredentialsError::SecretNotKept {
                env_url: self.env_url().as_str().trim_end_matches('/').to_owned(),
            });
        }
        Ok(kept)
    }

    /// Whether `other` holds the same environment URL, client ID and client secret.
    pub fn same_as(&self, other: &Credentials) -> bool {
        let (a, b) = (
            self.client_secret().expose_secret().as_bytes(),
            other.client_secret().expose_secret().as_bytes(),
        );
        self.env_url() == other.env_url()
            && self.client_id() == other.client_id()
            // Every byte looked at, whatever the first difference: no timing tells how much matched.
            && a.len() == b.len()
            && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

    #[test]
    fn a_written_env_file_reads_back_the_same_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/.env");
        for secret in [
            "plain",
            "with \"quotes\" and \\ and # and ' and $HOME",
            " spaced ",
        ] {
            let written = Credentials::new(
                "https://acme.scalekit.dev",
                "skc_1",
                SecretString::from(secret),
            )
            .unwrap();
            written.write_env_file(&path).unwrap();
            let read = Credentials::from_env_file(&path).unwrap();
            assert!(read.same_as(&written), "{secret:?}");
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(path.parent().unwrap()), 0o700);
        }
        let other = Credentials::new("https://acme.scalekit.dev", "skc_1", "other".into()).unwrap();
        assert!(!other.same_as(&Credentials::from_env_file(&path).unwrap()));
        let broken = Credentials::new("https://acme.scalekit.dev", "skc_1", "a\nb".into()).unwrap();
        let e = broken.write_env_file(&path).unwrap_err();
        assert!(e.to_string().contains("line break"), "{e}");
        assert!(
            Credentials::from_env_file(&path).is_ok(),
            "the old file is kept"
        );
    }
}
