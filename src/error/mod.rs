//! Everything that can go wrong, as typed values a program can act on.
//!
//! Every error is `Clone` so that callers who waited on one shared upstream fetch can all receive its
//! outcome. No variant ever holds an access token, an API token or the client secret.

use std::sync::Arc;
use std::time::Duration;

use crate::config::IdentifierSource;

mod authorization;
mod config;
mod hint;
mod verification;

pub use authorization::{ApiError, AuthorizationRequired};
pub use config::{ConfigError, CredentialsError};
pub use verification::{PendingVerification, VerificationError};

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

    /// The user approved; the account waits for user verification (`PENDING_VERIFICATION`). See
    /// [`PendingVerification`] for what completes it.
    #[error(transparent)]
    VerificationPending(Box<PendingVerification>),

    /// Completing user verification failed.
    #[error(transparent)]
    Verification(#[from] VerificationError),

    /// The account is `ACTIVE`, but the access token Scalekit holds expired and asking again gave no fresh
    /// one: Scalekit could not refresh it. The user must authorize again.
    #[error(
        "{service} (connection {connection_name}, identifier {identifier}) is ACTIVE, but its access token          expired and Scalekit gave no fresh one"
    )]
    TokenExpired {
        /// The service asked for.
        service: String,
        /// Its Scalekit connection name.
        connection_name: String,
        /// The identifier of the connected account.
        identifier: String,
    },

    /// The provider answered 401 twice: once with the cached token, once with a fresh one. The user must
    /// authorize again (the grant was revoked, or lacks what the request needs).
    #[error(
        "the {service} API refused its token twice (HTTP 401, with a fresh token the second time); the \
         account (connection {connection_name}, identifier {identifier}) must be authorized again"
    )]
    TokenRejected {
        /// The service.
        service: String,
        /// Its Scalekit connection name.
        connection_name: String,
        /// The identifier of the connected account.
        identifier: String,
    },

    /// Scalekit's proxy is not enabled for the connection's provider (Scalekit support turns it on per
    /// environment).
    #[error(
        "Scalekit's proxy is not enabled for {service} (connection {connection_name}): {message}"
    )]
    ProxyNotEnabled {
        /// The service.
        service: String,
        /// Its Scalekit connection name.
        connection_name: String,
        /// What Scalekit said.
        message: String,
    },

    /// A request to a provider's API (not Scalekit) failed on the way: connection refused, DNS, TLS, a
    /// timeout.
    #[error("the request to {url} failed: {detail}")]
    Request {
        /// The URL.
        url: String,
        /// What happened.
        detail: String,
    },

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
        /// Where the identifier came from (a command to run again must name it when it was explicit).
        identifier_source: IdentifierSource,
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

    /// Scalekit has no connection of this name in the environment: the entry's `connection_name` is wrong,
    /// or the connection was deleted in the dashboard.
    #[error(
        "connection \"{connection_name}\" (service {service}) does not exist in this Scalekit environment{}{}",
        match (known, answer) {
            (Some(k), _) if k.is_empty() => " (it has no connections)".to_owned(),
            (Some(k), _) => format!(" (its connections: {})", k.join(", ")),
            (None, Some(a)) => format!(" ({a})"),
            (None, None) => String::new(),
        },
        suggestion.as_ref().map(|s| format!("; did you mean \"{s}\"?")).unwrap_or_default()
    )]
    UnknownConnection {
        /// The service asked for.
        service: String,
        /// The connection name that does not exist.
        connection_name: String,
        /// The environment's connection names, when Scalekit lists them (`None`: it does not offer the list).
        known: Option<Vec<String>>,
        /// The closest of `known`, if one is close.
        suggestion: Option<String>,
        /// Scalekit's answer that told, when the list was not available.
        answer: Option<Box<ApiError>>,
    },

    /// Scalekit did not accept the client credentials.
    #[error(
        "Scalekit rejected the client credentials ({0}); check SCALEKIT_CLIENT_ID and SCALEKIT_CLIENT_SECRET \
         (app.scalekit.com > Developers > Settings > API Credentials) and that SCALEKIT_ENV_URL is that \
         environment's URL"
    )]
    CredentialsRejected(ApiError),

    /// Scalekit refused the request.
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
        "cannot use Scalekit{}: {detail}",
        if url.is_empty() { String::new() } else { format!(" at {url}") }
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

    /// Scalekit is limiting this client's rate (HTTP 429, `RESOURCE_EXHAUSTED`). Not retried: asking again at
    /// once only adds to the load, so Scalekit's own SDKs never retry it (Python SDK 2.21.0 `core.py:499`).
    #[error(
        "Scalekit is limiting the rate of requests at {url}: {detail}{}",
        retry_after.map(|d| format!("; it asks to wait {}s before the next one", d.as_secs())).unwrap_or_default()
    )]
    RateLimited {
        /// The URL that was called.
        url: String,
        /// How long Scalekit asked to wait (`Retry-After`), when it said.
        retry_after: Option<Duration>,
        /// What Scalekit said.
        detail: String,
    },

    /// Scalekit answered with something that could not be understood.
    #[error("Scalekit sent a response to {endpoint} that tokenbroker could not read: {detail}")]
    Protocol {
        /// The endpoint called.
        endpoint: &'static str,
        /// What was wrong with it.
        detail: String,
    },

    /// Scalekit (or whatever answered at the environment URL) sent an authorization link that is not safe to
    /// show a person: not https, not on the environment's host or a Scalekit domain, or shaped to hide where
    /// it goes. It is never relayed.
    #[error("refused the authorization link from {endpoint}: {reason}")]
    UntrustedLink {
        /// The endpoint that sent it.
        endpoint: &'static str,
        /// What is wrong with it (the link itself is not repeated).
        reason: String,
    },
}

/// The broad class of an [`Error`]. Each maps onto one `get-token` exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The user must authorize (exit 3).
    AuthorizationRequired,
    /// The user approved; verification is pending (exit 3).
    VerificationPending,
    /// The account's token expired and Scalekit could not refresh it; authorize again (exit 3).
    TokenExpired,
    /// Completing user verification failed: wrong user, flow expired or used, state refused (exit 8).
    VerificationFailed,
    /// The provider refused a fresh token: authorize again (exit 3).
    TokenRejected,
    /// Scalekit's proxy is not enabled for the provider (exit 6).
    ProxyNotEnabled,
    /// `connections.json` missing, or the service not in it (exit 4).
    NotConfigured,
    /// `connections.json` or a name in it is invalid (exit 4).
    InvalidConfig,
    /// The connection name is not one of the environment's connections (exit 4).
    UnknownConnection,
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
    /// Scalekit is limiting the rate of requests: wait, then try again (exit 7).
    RateLimited,
    /// An authorization link that is not safe to relay was refused (exit 1).
    UntrustedLink,
    /// Anything else (exit 1).
    Unexpected,
}

impl ErrorKind {
    /// The stable snake_case name used in `get-token --json` output.
    pub fn code(self) -> &'static str {
        match self {
            Self::AuthorizationRequired => "authorization_required",
            Self::VerificationPending => "verification_pending",
            Self::TokenExpired => "token_expired",
            Self::VerificationFailed => "verification_failed",
            Self::TokenRejected => "token_rejected",
            Self::ProxyNotEnabled => "proxy_not_enabled",
            Self::NotConfigured => "not_configured",
            Self::InvalidConfig => "invalid_config",
            Self::UnknownConnection => "unknown_connection",
            Self::CredentialsMissing => "credentials_missing",
            Self::CredentialsRejected => "credentials_rejected",
            Self::ScalekitRefused => "scalekit_refused",
            Self::UnsupportedCredential => "unsupported_credential",
            Self::Unavailable => "unavailable",
            Self::RateLimited => "rate_limited",
            Self::UntrustedLink => "untrusted_link",
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
            Self::VerificationPending(_) => ErrorKind::VerificationPending,
            Self::Verification(_) => ErrorKind::VerificationFailed,
            Self::TokenExpired { .. } => ErrorKind::TokenExpired,
            Self::TokenRejected { .. } => ErrorKind::TokenRejected,
            Self::ProxyNotEnabled { .. } => ErrorKind::ProxyNotEnabled,
            Self::Request { .. } => ErrorKind::Unavailable,
            Self::Config(e) => match e {
                ConfigError::ConnectionsNotFound { .. }
                | ConfigError::UnknownService { .. }
                | ConfigError::NoServiceForUrl { .. }
                | ConfigError::AmbiguousUrl { .. } => ErrorKind::NotConfigured,
                _ => ErrorKind::InvalidConfig,
            },
            Self::UnknownConnection { .. } => ErrorKind::UnknownConnection,
            Self::Credentials(_) => ErrorKind::CredentialsMissing,
            Self::CredentialsRejected(_) => ErrorKind::CredentialsRejected,
            Self::Api(_) => ErrorKind::ScalekitRefused,
            Self::UnsupportedCredential { .. } => ErrorKind::UnsupportedCredential,
            Self::Unavailable { .. } => ErrorKind::Unavailable,
            Self::RateLimited { .. } => ErrorKind::RateLimited,
            Self::Protocol { .. } => ErrorKind::Unexpected,
            Self::UntrustedLink { .. } => ErrorKind::UntrustedLink,
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
