//! A fresh OAuth access token for a user's connected account (Gmail, Slack, GitHub, Notion, ...) from
//! Scalekit's token vault, in one call.
//!
//! ```no_run
//! # async fn run() -> Result<(), tokenbroker::Error> {
//! let token = tokenbroker::get_token("gmail").await?;
//! let client = reqwest::Client::new();
//! client
//!     .get("https://gmail.googleapis.com/gmail/v1/users/me/messages?q=is:unread")
//!     .bearer_auth(token.expose_secret())
//!     .send()
//!     .await;
//! # Ok(()) }
//! ```
//!
//! # What happens in a call
//! 1. The service name is looked up in `connections.json`, which maps it to a Scalekit connection name and
//!    optionally an identifier ([`Connections`]).
//! 2. The broker authenticates to Scalekit with the client-credentials grant; the API token is kept in
//!    memory and reused until shortly before it expires.
//! 3. It reads the connected account, creating it on first use. If the account is `ACTIVE`, its access
//!    token is returned; otherwise the call fails with [`Error::AuthorizationRequired`], which carries the
//!    link to give the user and its absolute expiry. [`Broker::wait_for_token`] waits for the user instead.
//!
//! Tokens are cached in memory for a short while ([`CachePolicy`]) and never written anywhere.
//!
//! # Configuration
//! - Credentials: `SCALEKIT_ENV_URL` (or `SCALEKIT_ENVIRONMENT_URL`), `SCALEKIT_CLIENT_ID` and
//!   `SCALEKIT_CLIENT_SECRET`, as one set from one place: the process environment, or one `.env` file (the
//!   one named with [`Builder::env_file`], else the user config directory's, on Linux
//!   `~/.config/tokenbroker/.env`). Part of a set, or two places that disagree, is an error, never a merge.
//!   `.env` values are literal: nothing in them is expanded.
//! - `connections.json`: [`Builder::connections_path`], else `$TOKENBROKER_CONNECTIONS`, else the user config
//!   directory.
//! - The working directory is never read: no `./.env`, no `./connections.json`. Files read as configuration
//!   must be regular files of a sane size, owned by the user and writable by no one else.
//! - Identifier: given explicitly, else the entry's `identifier`, else `SCALEKIT_IDENTIFIER`, else the agent
//!   name in `~/.openclaw/workspace/IDENTITY.md`, else `agent` ([`IdentifierSource`]).
//!
//! # Blocking use
//! [`blocking`] has the same calls for programs without an async runtime.
#![warn(missing_docs, unreachable_pub)]

mod account;
mod api;
pub mod blocking;
mod broker;
mod cache;
pub mod conceal;
mod config;
mod error;
mod flight;
mod net;
mod observe;
mod scalekit;
mod text;
mod timefmt;
mod token;
mod verification;
mod wait;

#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzz;

pub use account::AccountStatus;
pub use api::{PATH_ONLY_HOST, sent_token};
pub use broker::{AccountInfo, Broker, Builder, EnvironmentConnection, Target};
pub use cache::CachePolicy;
pub use config::{
    CONNECTIONS_FILE, Connection, Connections, ConnectionsFile, Credentials, DEFAULT_IDENTIFIER,
    IdentifierSource,
};
pub use error::{
    ApiError, AuthorizationRequired, ConfigError, CredentialsError, Error, ErrorKind,
    PendingVerification, Result, VerificationError,
};
pub use observe::RequestEvent;
pub use text::printable;
pub use timefmt::rfc3339;
pub use token::AccessToken;
pub use verification::{Verified, listener, port};
pub use wait::WaitOptions;

/// A token for `service` from a process-wide broker built from the environment on first use
/// ([`Broker::from_env`]). If building fails, the error is returned and the next call tries again.
///
/// Use it from one async runtime for the life of the process; a program with several runtimes (or tests,
/// each with its own) should hold a [`Broker`] per runtime instead, since pooled connections belong to the
/// runtime that opened them.
pub async fn get_token(service: &str) -> Result<AccessToken> {
    static DEFAULT: tokio::sync::OnceCell<Broker> = tokio::sync::OnceCell::const_new();
    let broker = DEFAULT
        .get_or_try_init(|| async { Broker::from_env() })
        .await?;
    broker.get_token(service).await
}
