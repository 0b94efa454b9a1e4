//! Where settings come from: the process environment, and one `.env` file the user chose (the one named with
//! `--env-file` / [`crate::Builder::env_file`], else the one in the user config directory). The working
//! directory is never read: agents work inside cloned repositories, whose files nobody vouches for.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};

use super::read::{read_guarded, readable_by_others};
use crate::error::CredentialsError;

/// Variables tokenbroker reads from a `.env` file; everything else in it is ignored and not kept.
pub(crate) const KNOWN_VARS: &[&str] = &[
    "SCALEKIT_CLIENT_ID",
    "SCALEKIT_CLIENT_SECRET",
    "SCALEKIT_ENV_URL",
    "SCALEKIT_ENVIRONMENT_URL",
    "SCALEKIT_IDENTIFIER",
    "SCALEKIT_USER_VERIFY_URL",
    "TOKENBROKER_CONNECTIONS",
    "TOKENBROKER_TIMEOUT",
];

/// A `.env` holds a few lines; anything larger is not one.
const MAX_ENV_FILE_BYTES: u64 = 64 * 1024;

type ProcessEnv = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;
type Lookup<'a> = Box<dyn Fn(&str) -> Option<SecretString> + 'a>;

/// The places settings are read from, made once per broker.
#[derive(Clone)]
pub(crate) struct Sources {
    /// Things worth telling the user that are not errors, such as a `.env` others can read.
    pub(crate) warnings: Vec<String>,
    process: ProcessEnv,
    config_dir: Option<PathBuf>,
    home: Option<PathBuf>,
    /// The `.env` file looked at (read or not), and what it held.
    env_file: Option<PathBuf>,
    env_vars: Option<HashMap<&'static str, SecretString>>,
}

/// A value and a description of where it came from.
pub(crate) struct Found {
    pub(crate) value: SecretString,
    pub(crate) source: String,
}

/// One place credentials can come from, with the values it holds.
pub(crate) struct Place<'a> {
    pub(crate) name: String,
    get: Lookup<'a>,
}

impl Place<'_> {
    pub(crate) fn get(&self, name: &str) -> Option<SecretString> {
        (self.get)(name).filter(|v| !v.expose_secret().trim().is_empty())
    }
}

impl Sources {
    /// The real process environment and user directories.
    pub(crate) fn system() -> Self {
        let dirs = directories::ProjectDirs::from("", "", "tokenbroker");
        Self {
            process: Arc::new(|name| std::env::var(name).ok()),
            config_dir: dirs.map(|d| d.config_dir().to_owned()),
            home: directories::BaseDirs::new().map(|b| b.home_dir().to_owned()),
            env_file: None,
            env_vars: None,
            warnings: Vec::new(),
        }
    }

    /// Sources with nothing in them, for callers (and tests) that give every setting explicitly.
    pub(crate) fn empty() -> Self {
        Self {
            process: Arc::new(|_| None),
            config_dir: None,
            home: None,
            env_file: None,
            env_vars: None,
            warnings: Vec::new(),
        }
    }

    #[cfg(test)]
    pub(crate) fn with_process_env(mut self, vars: &[(&str, &str)]) -> Self {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.process = Arc::new(move |name| vars.get(name).cloned());
        self
    }

    pub(crate) fn with_config_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.config_dir = dir;
        self
    }

    pub(crate) fn with_home(mut self, home: Option<PathBuf>) -> Self {
        self.home = home;
        self
    }

    /// Reads the one `.env` file: `explicit` if given (it must exist), else the config directory's, if any.
    pub(crate) fn load_env_file(mut self, explicit: Option<&Path>) -> Result<Self, crate::Error> {
        let path = match (explicit, &self.config_dir) {
            (Some(p), _) => p.to_owned(),
            (None, Some(dir)) => dir.join(".env"),
            (None, None) => return Ok(self),
        };
        let fail = |detail: String| {
            crate::Error::Credentials(CredentialsError::EnvFile {
                path: path.clone(),
                detail,
            })
        };
        let bytes = match read_guarded(&path, MAX_ENV_FILE_BYTES) {
            Ok(bytes) => bytes,
            Err(r) if r.missing && explicit.is_none() => {
                self.env_file = Some(path);
                return Ok(self);
            }
            Err(r) => return Err(fail(r.sentence())),
        };
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| fail("it is not UTF-8 text; save it as UTF-8".into()))?;
        let vars = super::dotenv::parse(text, KNOWN_VARS).map_err(fail)?;
        if let Some(warning) = readable_by_others(&path, "holds the client secret") {
            self.warnings.push(warning);
        }
        self.env_file = Some(path);
        self.env_vars = Some(vars);
        Ok(self)
    }

    /// The first non-empty value of `name`: the process environment, then the `.env` file. For settings
    /// other than the credentials, which come as one set ([`Sources::credential_places`]).
    pub(crate) fn var(&self, name: &str) -> Option<Found> {
        self.credential_places().into_iter().find_map(|place| {
            place.get(name).map(|value| Found {
                value,
                source: place.describe(name),
            })
        })
    }

    /// The places that can hold the credentials, in order: the process environment, then the `.env` file
    /// if it was read.
    pub(crate) fn credential_places(&self) -> Vec<Place<'_>> {
        let mut places = vec![Place {
            name: "the process environment".into(),
            get: Box::new(|name| (self.process)(name).map(SecretString::from)),
        }];
        if let (Some(path), Some(vars)) = (&self.env_file, &self.env_vars) {
            places.push(Place {
                name: path.display().to_string(),
                get: Box::new(move |name| vars.get(name).cloned()),
            });
        }
        places
    }

    /// Every place looked, for error messages.
    pub(crate) fn places(&self) -> Vec<String> {
        let mut places = vec!["the process environment".to_owned()];
        if let Some(path) = &self.env_file {
            let state = if self.env_vars.is_some() {
                "read"
            } else {
                "not found"
            };
            places.push(format!("{} ({state})", path.display()));
        }
        places
    }

    pub(crate) fn config_dir(&self) -> Option<&Path> {
        self.config_dir.as_deref()
    }

    pub(crate) fn home(&self) -> Option<&Path> {
        self.home.as_deref()
    }
}

impl Place<'_> {
    /// `$NAME`, or `NAME in FILE`.
    pub(crate) fn describe(&self, name: &str) -> String {
        if self.name == "the process environment" {
            format!("${name}")
        } else {
            format!("{name} in {}", self.name)
        }
    }
}
