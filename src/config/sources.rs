//! Where settings come from: the process environment, then `.env` files, then the user config directory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use secrecy::SecretString;

/// Variables tokenbroker reads from `.env` files; everything else in them is ignored and not kept.
const KNOWN_VARS: &[&str] = &[
    "SCALEKIT_CLIENT_ID",
    "SCALEKIT_CLIENT_SECRET",
    "SCALEKIT_ENV_URL",
    "SCALEKIT_ENVIRONMENT_URL",
    "SCALEKIT_IDENTIFIER",
    "TOKENBROKER_CONNECTIONS",
    "TOKENBROKER_TIMEOUT",
];

type ProcessEnv = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The places settings are read from, made once per broker.
#[derive(Clone)]
pub(crate) struct Sources {
    /// Things worth telling the user that are not errors, such as a `.env` others can read.
    pub(crate) warnings: Vec<String>,
    process: ProcessEnv,
    cwd: Option<PathBuf>,
    config_dir: Option<PathBuf>,
    home: Option<PathBuf>,
    env_files: Vec<EnvFile>,
}

#[derive(Clone)]
struct EnvFile {
    path: PathBuf,
    // Values are kept as secrets: a `.env` holds the client secret.
    vars: HashMap<&'static str, Arc<SecretString>>,
}

/// A value and a description of where it came from.
pub(crate) struct Found {
    pub(crate) value: SecretString,
    pub(crate) source: String,
}

impl Sources {
    /// The real process environment, working directory and user directories.
    pub(crate) fn system() -> Self {
        let dirs = directories::ProjectDirs::from("", "", "tokenbroker");
        Self {
            process: Arc::new(|name| std::env::var(name).ok()),
            cwd: std::env::current_dir().ok(),
            config_dir: dirs.map(|d| d.config_dir().to_owned()),
            home: directories::BaseDirs::new().map(|b| b.home_dir().to_owned()),
            env_files: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Sources with nothing in them, for callers (and tests) that give every setting explicitly.
    #[cfg(test)]
    pub(crate) fn empty() -> Self {
        Self {
            process: Arc::new(|_| None),
            cwd: None,
            config_dir: None,
            home: None,
            env_files: Vec::new(),
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

    /// Reads the `.env` files: `explicit` first (if given), then `./.env`, then the config dir's `.env`.
    /// A missing file is skipped; an explicit one that is missing or malformed is an error.
    pub(crate) fn load_env_files(mut self, explicit: Option<&Path>) -> Result<Self, crate::Error> {
        let mut files = Vec::new();
        if let Some(p) = explicit {
            files.push((p.to_owned(), true));
        }
        if let Some(cwd) = &self.cwd {
            files.push((cwd.join(".env"), false));
        }
        if let Some(dir) = &self.config_dir {
            files.push((dir.join(".env"), false));
        }
        self.env_files.clear();
        for (path, required) in files {
            if !required && !path.is_file() {
                continue;
            }
            let iter = dotenvy::from_path_iter(&path).map_err(|e| env_file_error(&path, &e))?;
            let mut vars = HashMap::new();
            for item in iter {
                let (key, value) = item.map_err(|e| env_file_error(&path, &e))?;
                if let Some(known) = KNOWN_VARS.iter().find(|k| **k == key) {
                    vars.entry(*known)
                        .or_insert_with(|| Arc::new(SecretString::from(value)));
                }
            }
            if let Some(warning) = readable_by_others(&path, "holds the client secret") {
                self.warnings.push(warning);
            }
            self.env_files.push(EnvFile { path, vars });
        }
        Ok(self)
    }

    /// The first non-empty value of `name`: process environment, then each `.env` file.
    pub(crate) fn var(&self, name: &str) -> Option<Found> {
        use secrecy::ExposeSecret;
        if let Some(v) = (self.process)(name).filter(|v| !v.trim().is_empty()) {
            return Some(Found {
                value: SecretString::from(v),
                source: format!("${name}"),
            });
        }
        self.env_files.iter().find_map(|f| {
            let v = f.vars.get(name)?;
            (!v.expose_secret().trim().is_empty()).then(|| Found {
                value: (**v).clone(),
                source: format!("{name} in {}", f.path.display()),
            })
        })
    }

    /// Every place [`Sources::var`] looks, for error messages.
    pub(crate) fn places(&self) -> Vec<String> {
        let mut places = vec!["the process environment".to_owned()];
        let mut files: Vec<PathBuf> = self.env_files.iter().map(|f| f.path.clone()).collect();
        for candidate in [
            self.cwd.as_ref().map(|c| c.join(".env")),
            self.config_dir.as_ref().map(|d| d.join(".env")),
        ]
        .into_iter()
        .flatten()
        {
            if !files.contains(&candidate) {
                files.push(candidate);
            }
        }
        for f in files {
            let state = if self.env_files.iter().any(|e| e.path == f) {
                "read"
            } else {
                "not found"
            };
            places.push(format!("{} ({state})", f.display()));
        }
        places
    }

    pub(crate) fn cwd(&self) -> Option<&Path> {
        self.cwd.as_deref()
    }

    pub(crate) fn config_dir(&self) -> Option<&Path> {
        self.config_dir.as_deref()
    }

    pub(crate) fn home(&self) -> Option<&Path> {
        self.home.as_deref()
    }
}

/// A warning if other users can read `path` (Unix permission bits; elsewhere there is nothing to check).
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
                path.display()
            )
        })
    }
    #[cfg(not(unix))]
    {
        let _ = (path, why);
        None
    }
}

fn env_file_error(path: &Path, e: &dotenvy::Error) -> crate::Error {
    // dotenvy's messages can quote the offending line, which may hold the secret: say only where it is.
    let detail = match e {
        dotenvy::Error::LineParse(_, index) => format!("it cannot be parsed near byte {index}"),
        dotenvy::Error::Io(io) => format!("it cannot be read: {io}"),
        _ => "it cannot be parsed".into(),
    };
    crate::Error::Credentials(crate::error::CredentialsError::EnvFile {
        path: path.to_owned(),
        detail,
    })
}
