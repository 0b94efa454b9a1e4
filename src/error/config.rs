//! Problems with the configuration: connections.json, names, credentials.

use std::path::PathBuf;
use std::sync::Arc;

/// A problem with `connections.json` or with a service, connection or identifier name.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No `connections.json` was found in any of the places looked.
    #[error("no connections.json found; looked in:\n{}", bullet_list(looked))]
    ConnectionsNotFound {
        /// Each place looked, with what was found there.
        looked: Vec<String>,
    },

    /// The file exists but could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Arc<std::io::Error>,
    },

    /// The file is not valid: bad JSON, wrong types, an unknown field, a missing `connection_name`.
    #[error("{}{}: {message}", path_label(path), position(*line, *column))]
    Invalid {
        /// The file, if it came from one.
        path: Option<PathBuf>,
        /// The service whose entry is wrong, if the problem is inside one entry.
        service: Option<String>,
        /// 1-based line, when known.
        line: Option<usize>,
        /// 1-based column, when known.
        column: Option<usize>,
        /// What is wrong.
        message: String,
    },

    /// The service is not in `connections.json`.
    #[error(
        "service \"{service}\" is not configured in {}{}{}",
        path_label(file),
        known_list(known),
        suggestion.as_ref().map(|s| format!("; did you mean \"{s}\"?")).unwrap_or_default()
    )]
    UnknownService {
        /// The service asked for.
        service: String,
        /// The file the connections came from.
        file: Option<PathBuf>,
        /// The services that are configured.
        known: Vec<String>,
        /// The closest known name, if one is close.
        suggestion: Option<String>,
    },

    /// No configured service claims the URL's host (see `Connections::service_for_url`).
    #[error(
        "no configured service in {} is for the URL {url}: {reason}",
        path_label(file)
    )]
    NoServiceForUrl {
        /// The URL given.
        url: String,
        /// The file the connections came from.
        file: Option<PathBuf>,
        /// Why, and what to do.
        reason: String,
    },

    /// Several configured services claim the URL's host.
    #[error(
        "the URL {url} could belong to several services in {}: {}; add its host to one entry's \"hosts\" list, \
         or name the service instead",
        path_label(file),
        services.join(", ")
    )]
    AmbiguousUrl {
        /// The URL given.
        url: String,
        /// The file the connections came from.
        file: Option<PathBuf>,
        /// The services that match.
        services: Vec<String>,
    },

    /// `connections.json` could not be written (by `get-token config`).
    #[error("cannot write {}: {detail}", path.display())]
    Unwritable {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },

    /// A setting read from the environment (such as `TOKENBROKER_TIMEOUT`) has a value that cannot be used.
    #[error("invalid {name} {value:?} (from {source_name}): {reason}")]
    InvalidSetting {
        /// The variable.
        name: &'static str,
        /// The value given.
        value: String,
        /// Where it came from.
        source_name: String,
        /// What is wrong and what to do.
        reason: String,
    },

    /// A service, connection name or identifier breaks Scalekit's rules.
    #[error("invalid {what} {value:?}{}: {reason}", service.as_ref().map(|s| format!(" for service \"{s}\"")).unwrap_or_default())]
    InvalidName {
        /// `service name`, `connection name` or `identifier`.
        what: &'static str,
        /// The value, possibly shortened.
        value: String,
        /// The service it belongs to, when known.
        service: Option<String>,
        /// The rule it breaks.
        reason: String,
    },
}

/// A problem with the Scalekit credentials or environment URL.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// One or more variables are not set anywhere.
    #[error(
        "missing Scalekit credentials: {} not set; looked in:\n{}",
        missing.join(", "),
        bullet_list(looked)
    )]
    Missing {
        /// The variables not found.
        missing: Vec<&'static str>,
        /// The places looked.
        looked: Vec<String>,
    },

    /// One place holds part of the credentials: the three are only ever taken together from one place.
    #[error(
        "{place} sets {} but not {}; the Scalekit credentials are taken as one set from one place (the \
         process environment or one .env file), never combined",
        present.join(", "),
        missing.join(", ")
    )]
    Incomplete {
        /// The process environment, or the `.env` file.
        place: String,
        /// The variables it sets.
        present: Vec<&'static str>,
        /// The ones it lacks.
        missing: Vec<&'static str>,
    },

    /// Two places hold different credentials: which one was meant is not guessed.
    #[error(
        "{first} and {second} disagree on {}; the Scalekit credentials must come from one place",
        differing.join(", ")
    )]
    Conflict {
        /// The first place.
        first: String,
        /// The second place.
        second: String,
        /// The variables whose values differ.
        differing: Vec<&'static str>,
    },

    /// A `.env` file could not be read or parsed, or is not safe to trust.
    #[error("cannot use the .env file {}: {detail}", path.display())]
    EnvFile {
        /// The file.
        path: PathBuf,
        /// What is wrong (never its contents).
        detail: String,
    },

    /// The environment URL is not acceptable.
    #[error("invalid Scalekit environment URL {value:?} (from {source_name}): {reason}")]
    InvalidUrl {
        /// The value given.
        value: String,
        /// Where it came from.
        source_name: String,
        /// What is wrong and what to do.
        reason: String,
    },

    /// The saved client secret was asked for another environment URL or client ID than the ones it was saved
    /// with: it is never sent anywhere else.
    #[error(
        "the saved client secret is kept for {env_url} and its client ID only; type the client secret of the \
         new environment"
    )]
    SecretNotKept {
        /// The environment URL the secret was saved for.
        env_url: String,
    },
}

fn bullet_list(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("  - {i}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn path_label(path: &Option<PathBuf>) -> String {
    match path {
        Some(p) => p.display().to_string(),
        None => "the in-memory connections".into(),
    }
}

fn position(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        (Some(l), None) => format!(":{l}"),
        _ => String::new(),
    }
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        " (it has no services)".into()
    } else {
        format!(" (configured: {})", known.join(", "))
    }
}
