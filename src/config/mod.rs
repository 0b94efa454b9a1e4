//! Configuration: `connections.json`, credentials, identifiers, and where each is looked for.

mod connections;
mod credentials;
mod dotenv;
mod file;
mod hosts;
mod identifier;
mod lock;
pub(crate) mod names;
pub(crate) mod read;
mod setup;
pub(crate) mod sources;

use std::path::{Path, PathBuf};

pub use connections::{Connection, Connections};
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use dotenv::parse as dotenv_parse_with;
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use hosts::{api_url, host_entry};

/// The literal `.env` parser on its own, for the fuzz target.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn dotenv_parse(text: &str) -> Result<(), String> {
    dotenv_parse_with(text, sources::KNOWN_VARS).map(drop)
}
pub use credentials::Credentials;
pub use file::ConnectionsFile;
pub(crate) use file::update_private;
pub(crate) use identifier::fallback as fallback_identifier;
pub use identifier::{DEFAULT_IDENTIFIER, IdentifierSource};
pub(crate) use sources::Sources;

use crate::error::ConfigError;
use secrecy::ExposeSecret;

/// The file name looked for in the user config directory.
pub const CONNECTIONS_FILE: &str = "connections.json";

/// Finds `connections.json`: the explicit path, then `$TOKENBROKER_CONNECTIONS`, then the user config
/// directory. Never the working directory: a file there was put there by whoever made the directory. An
/// explicit path or variable that names a missing file is an error; it is never skipped in favour of a
/// later place.
pub(crate) fn locate_connections(
    explicit: Option<&Path>,
    sources: &Sources,
) -> Result<PathBuf, ConfigError> {
    let mut looked = Vec::new();
    if let Some(p) = explicit {
        return must_exist(p, "given explicitly");
    }
    match sources.var("TOKENBROKER_CONNECTIONS") {
        Some(found) => {
            return must_exist(Path::new(found.value.expose_secret().trim()), &found.source);
        }
        None => looked.push("$TOKENBROKER_CONNECTIONS: not set".to_owned()),
    }
    if let Some(dir) = sources.config_dir() {
        let candidate = dir.join(CONNECTIONS_FILE);
        if candidate.exists() {
            return Ok(candidate);
        }
        looked.push(format!("{}: not found", candidate.display()));
    }
    Err(ConfigError::ConnectionsNotFound { looked })
}

fn must_exist(path: &Path, how: &str) -> Result<PathBuf, ConfigError> {
    if path.exists() {
        Ok(path.to_owned())
    } else {
        Err(ConfigError::ConnectionsNotFound {
            looked: vec![format!("{} ({how}): not found", path.display())],
        })
    }
}
