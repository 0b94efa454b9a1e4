//! Everything that can go wrong, as typed values a program can act on.
//!
//! Every error is `Clone` so that callers who waited on one shared upstream fetch can all receive its
//! outcome. No variant ever holds an access token, an API token or the client secret.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use url::Url;

use crate::account::AccountStatus;
use crate::config::IdentifierSource;
use crate::timefmt::rfc3339;

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error from tokenbroker.
///
/// Match on [`Error::kind`] for the broad class (it maps one-to-one onto `get-token`'s exit codes), or on the
/// variants for the details.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The user has not authorized the connection yet, or must authorize it again. Relay
    /// [`AuthorizationRequired::url`] to the user before [`AuthorizationRequired::expires_at`].
    #[error(transparent)]
    AuthorizationRequired(Box<AuthorizationRequired>),

    /// While waiting for the user, the authorization link expired before they used it. Ask for a new one.
    #[error("the authorization link for {} expired before it was used; ask for a new one", .0.service)]
    LinkExpired(Box<AuthorizationRequired>),

    /// While waiting for the user, the deadline passed before the account became active.
    #[error(
        "gave up waiting for {service} (connection {connection_name}, identifier {identifier}) to be \
         authorized after {}s",
        waited.as_secs()
    )]
    WaitTimedOut {
        /// The service asked for.
        service: String,
        /// Its Scalekit connection name.
        connection_name: String,
        /// The identifier of the connected account.
        identifier: String,
        /// How long it waited.
        waited: Duration,
    },

    /// `connections.json` is missing, unreadable or invalid, or the service is not in it, or a name is
    /// invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// The Scalekit credentials or environment URL are missing or malformed.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),

    /// Scalekit did not accept the client credentials.
    #[error(
        "Scalekit rejected the client credentials ({0}); check SCALEKIT_CLIENT_ID and SCALEKIT_CLIENT_SECRET \
         (app.scalekit.com > Developers > Settings > API Credentials) and that SCALEKIT_ENV_URL is that \
         environment's URL"
    )]
    CredentialsRejected(ApiError),

    /// Scalekit refused the request, for example because the connection name does not exist.
    #[error("Scalekit refused the request: {0}")]
    Api(ApiError),

    /// The connected account holds a credential that is not an OAuth access token (an API key, for example).
    #[error(
        "{service} (connection {connection_name}) holds a {kind} credential, not an OAuth access token; \
         tokenbroker only hands out OAuth access tokens"
    )]
    UnsupportedCredential {
        /// The service asked for.
        service: String,
        /// Its Scalekit connection name.
        connection_name: String,
        /// The kind of credential Scalekit reported, such as `API_KEY` or `static_auth`.
        kind: String,
    },

    /// Scalekit could not be reached, timed out, or said it is unavailable (5xx, 429).
    #[error(
        "Scalekit is unavailable: {detail}; check the network and SCALEKIT_ENV_URL ({url}), then retry"
    )]
    Unavailable {
        /// The URL that was called (no secrets: queries hold only connection names and identifiers).
        url: String,
        /// What happened.
        detail: String,
        /// The transport error, when there was one.
        #[source]
        source: Option<Arc<reqwest::Error>>,
    },

    /// Scalekit answered with something that could not be understood.
    #[error("Scalekit sent a response to {endpoint} that tokenbroker could not read: {detail}")]
    Protocol {
        /// The endpoint called.
        endpoint: &'static str,
        /// What was wrong with it.
        detail: String,
    },
}

/// The broad class of an [`Error`]. Each maps onto one `get-token` exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The user must authorize (exit 3).
    AuthorizationRequired,
    /// `connections.json` missing, or the service not in it (exit 4).
    NotConfigured,
    /// `connections.json` or a name in it is invalid (exit 4).
    InvalidConfig,
    /// Credentials or environment URL missing or malformed (exit 5).
    CredentialsMissing,
    /// Scalekit rejected the credentials (exit 5).
    CredentialsRejected,
    /// Scalekit refused the request (exit 6).
    ScalekitRefused,
    /// The credential is not an OAuth token (exit 6).
    UnsupportedCredential,
    /// Network trouble or Scalekit unavailable (exit 7).
    Unavailable,
    /// Anything else (exit 1).
    Unexpected,
}

impl ErrorKind {
    /// The stable snake_case name used in `get-token --json` output.
    pub fn code(self) -> &'static str {
        match self {
            Self::AuthorizationRequired => "authorization_required",
            Self::NotConfigured => "not_configured",
            Self::InvalidConfig => "invalid_config",
            Self::CredentialsMissing => "credentials_missing",
            Self::CredentialsRejected => "credentials_rejected",
            Self::ScalekitRefused => "scalekit_refused",
            Self::UnsupportedCredential => "unsupported_credential",
            Self::Unavailable => "unavailable",
            Self::Unexpected => "unexpected",
        }
    }
}

impl Error {
    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::AuthorizationRequired(_) | Self::LinkExpired(_) | Self::WaitTimedOut { .. } => {
                ErrorKind::AuthorizationRequired
            }
            Self::Config(e) => match e {
                ConfigError::ConnectionsNotFound { .. }
                | ConfigError::UnknownService { .. }
                | ConfigError::NoServiceForUrl { .. }
                | ConfigError::AmbiguousUrl { .. } => ErrorKind::NotConfigured,
                _ => ErrorKind::InvalidConfig,
            },
            Self::Credentials(_) => ErrorKind::CredentialsMissing,
            Self::CredentialsRejected(_) => ErrorKind::CredentialsRejected,
            Self::Api(_) => ErrorKind::ScalekitRefused,
            Self::UnsupportedCredential { .. } => ErrorKind::UnsupportedCredential,
            Self::Unavailable { .. } => ErrorKind::Unavailable,
            Self::Protocol { .. } => ErrorKind::Unexpected,
        }
    }

    /// What to do next, in one sentence.
    pub fn hint(&self) -> String {
        match self {
            Self::AuthorizationRequired(a) | Self::LinkExpired(a) => a.message(),
            Self::WaitTimedOut { service, .. } => {
                format!("ask the user to open the authorization link, then run `get-token {service}` again")
            }
            Self::Config(ConfigError::ConnectionsNotFound { .. }) => {
                "create connections.json (see connections.example.json) or run `get-token config add SERVICE \
                 CONNECTION_NAME`"
                    .into()
            }
            Self::Config(ConfigError::UnknownService { service, .. }) => format!(
                "fix the name, or add it: get-token config add {service} CONNECTION_NAME (the connection name is in \
                 the Scalekit dashboard under Agent Auth > Connections)"
            ),
            Self::Config(ConfigError::NoServiceForUrl { .. } | ConfigError::AmbiguousUrl { .. }) => {
                "name the service instead, or list the API host under the entry's \"hosts\" in connections.json"
                    .into()
            }
            Self::Config(ConfigError::Unwritable { .. }) => {
                "check the directory exists and is writable, or pass --connections PATH".into()
            }
            Self::Config(_) => "fix the file at the place named, then retry".into(),
            Self::Credentials(_) => {
                "set SCALEKIT_CLIENT_ID, SCALEKIT_CLIENT_SECRET and SCALEKIT_ENV_URL in the environment or a .env \
                 file (app.scalekit.com > Developers > Settings > API Credentials)"
                    .into()
            }
            Self::CredentialsRejected(_) => {
                "copy the client ID and secret again from app.scalekit.com > Developers > Settings > API Credentials"
                    .into()
            }
            Self::Api(_) => {
                "check the connection name in connections.json against the Scalekit dashboard (Agent Auth > \
                 Connections)"
                    .into()
            }
            Self::UnsupportedCredential { .. } => {
                "use a connection whose authentication type is OAuth".into()
            }
            Self::Unavailable { .. } => "check the network and SCALEKIT_ENV_URL, then retry".into(),
            Self::Protocol { .. } => {
                "retry; if it persists, see TROUBLESHOOTING.md and report it with the message above".into()
            }
        }
    }

    /// The authorization details, for [`Error::AuthorizationRequired`] and [`Error::LinkExpired`].
    pub fn authorization(&self) -> Option<&AuthorizationRequired> {
        match self {
            Self::AuthorizationRequired(a) | Self::LinkExpired(a) => Some(a),
            _ => None,
        }
    }
}

/// The user must open a link to authorize (or re-authorize) a connected account.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthorizationRequired {
    /// The service asked for, such as `gmail`.
    pub service: String,
    /// Its Scalekit connection name.
    pub connection_name: String,
    /// The identifier of the connected account.
    pub identifier: String,
    /// Where the identifier came from.
    pub identifier_source: IdentifierSource,
    /// The account's status at Scalekit.
    pub status: AccountStatus,
    /// The link to give the user.
    pub url: Url,
    /// When the link stops working, as Scalekit reported it (`None` if it did not say).
    pub expires_at: Option<SystemTime>,
    /// The account's `updated_at` when the link was made: for an account that is already active
    /// (re-authorization), a later one is how waiting tells that the user has been through the link.
    pub(crate) account_updated_at: Option<SystemTime>,
}

impl AuthorizationRequired {
    /// Time left before the link expires, measured now (zero once it has expired).
    pub fn expires_in(&self) -> Option<Duration> {
        self.expires_at
            .map(|at| at.duration_since(SystemTime::now()).unwrap_or_default())
    }

    /// A sentence ready to paste into a chat for the user.
    pub fn message(&self) -> String {
        let deadline = match self.expires_at {
            Some(at) => format!(
                " The link expires at {} (in about {} seconds).",
                rfc3339(at),
                self.expires_in().unwrap_or_default().as_secs()
            ),
            None => String::new(),
        };
        format!(
            "To let me use your {} account, please open this link and approve access: {}{deadline} Tell me when \
             you are done.",
            self.service, self.url
        )
    }
}

impl fmt::Display for AuthorizationRequired {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (connection {}, identifier {} from {}) needs authorization (account status {}): open {}",
            self.service,
            self.connection_name,
            self.identifier,
            self.identifier_source,
            self.status,
            self.url
        )?;
        if let Some(at) = self.expires_at {
            write!(f, " before {}", rfc3339(at))?;
        }
        Ok(())
    }
}

impl std::error::Error for AuthorizationRequired {}

/// An error answer from the Scalekit API.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiError {
    /// The endpoint called, such as `GET /api/v1/connected_accounts/auth`.
    pub endpoint: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// The numeric gRPC code from the body, if any.
    pub code: Option<i64>,
    /// Scalekit's `error_code` detail, such as `UNAUTHENTICATED`, if any.
    pub error_code: Option<String>,
    /// The message from the body (or the start of a body that was not JSON), shortened and cleaned.
    pub message: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} answered HTTP {}", self.endpoint, self.status)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if let Some(code) = &self.error_code {
            write!(f, " ({code})")?;
        }
        Ok(())
    }
}

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

    /// A `.env` file could not be read or parsed.
    #[error("cannot use the .env file {}: {detail}; fix or remove it", path.display())]
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
