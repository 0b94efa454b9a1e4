//! What to do next, in the words of a program that uses the library: builder methods and calls, never
//! get-token's flags or commands (get-token words its own hints).

use super::{ConfigError, CredentialsError, Error, VerificationError};

/// Where a person finds the connection names.
const CONNECTIONS_PAGE: &str = "the Scalekit dashboard, Agent Auth > Connections";
/// Where a person finds the client ID and secret.
const CREDENTIALS_PAGE: &str = "app.scalekit.com > Developers > Settings > API Credentials";

impl Error {
    /// What to do next, in one sentence, for a program using this library.
    ///
    /// ```
    /// # fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use tokenbroker::{Broker, Connections, Credentials};
    ///
    /// let broker = Broker::builder()
    ///     .credentials(Credentials::new("https://acme.scalekit.dev", "skc_123", "secret".into())?)
    ///     .connections(Connections::new())
    ///     .build()?;
    /// let e = broker.resolve("gmail", None).unwrap_err();
    /// assert!(e.hint().contains("connections.json"));
    /// # Ok(()) }
    /// # run().unwrap();
    /// ```
    pub fn hint(&self) -> String {
        match self {
            Self::AuthorizationRequired(a) | Self::LinkExpired(a) => a.message(),
            Self::VerificationPending(p) => p.message(),
            Self::TokenExpired { .. } | Self::TokenRejected { .. } => {
                "ask for a new link with Broker::authorization_link and relay it to the user".into()
            }
            Self::ProxyNotEnabled { .. } => {
                "send the request directly with Broker::send, or ask Scalekit support to enable the proxy for \
                 this provider"
                    .into()
            }
            Self::Request { .. } => "check the URL and the network, then retry".into(),
            Self::Verification(VerificationError::WrongUser { .. }) => {
                "the link must be approved by the user it was made for: send it to them, or ask for a link with \
                 their identifier"
                    .into()
            }
            Self::Verification(VerificationError::Refused(_)) => {
                "check that the account was approved with a link from this broker (the same verify URL and \
                 state key), then ask for a new link"
                    .into()
            }
            Self::Verification(_) => {
                "ask for a new link (Broker::authorization_link), and pass the address the browser shows after \
                 approving to Broker::complete_verification unchanged"
                    .into()
            }
            Self::WaitTimedOut { .. } => {
                "relay the authorization link to the user (Broker::wait_for_token's on_link, or \
                 Broker::authorization_link), then wait again with Broker::wait_until_active"
                    .into()
            }
            Self::UnknownConnection { .. } => format!(
                "correct the entry's connection_name in connections.json (the names are in {CONNECTIONS_PAGE}, \
                 or Broker::connections lists them)"
            ),
            Self::Config(ConfigError::ConnectionsNotFound { .. }) => {
                "create connections.json in one of the places listed, or give the services with \
                 Builder::connections or Builder::connections_path"
                    .into()
            }
            Self::Config(ConfigError::UnknownService { .. }) => format!(
                "fix the name, or add the service to connections.json with its connection name (from \
                 {CONNECTIONS_PAGE})"
            ),
            Self::Config(ConfigError::NoServiceForUrl { .. } | ConfigError::AmbiguousUrl { .. }) => {
                "name the service instead, or list the API host under the entry's \"hosts\" in connections.json"
                    .into()
            }
            Self::Config(ConfigError::Unwritable { .. }) => {
                "check that the directory exists and is writable".into()
            }
            Self::Config(ConfigError::InvalidName { what, .. }) => {
                format!("give a valid {what}: the message says the rule")
            }
            Self::Config(ConfigError::InvalidSetting { name, .. }) => {
                format!("fix or unset {name}")
            }
            Self::Config(_) => "fix the file at the place named, then retry".into(),
            Self::Credentials(CredentialsError::Incomplete { place, .. }) => format!(
                "set all three of SCALEKIT_ENV_URL, SCALEKIT_CLIENT_ID and SCALEKIT_CLIENT_SECRET in {place}, or \
                 none of them there"
            ),
            Self::Credentials(CredentialsError::Conflict { .. }) => {
                "keep the credentials in one place: unset the variables, or remove them from the .env file, or \
                 name the file to use with Builder::env_file"
                    .into()
            }
            Self::Credentials(CredentialsError::EnvFile { .. }) => {
                "fix the file as the message says, or remove it (see TROUBLESHOOTING.md)".into()
            }
            Self::Credentials(CredentialsError::InvalidUrl { .. }) => {
                "set SCALEKIT_ENV_URL to the environment's URL as the dashboard shows it (https://...)".into()
            }
            Self::Credentials(_) => format!(
                "set SCALEKIT_ENV_URL, SCALEKIT_CLIENT_ID and SCALEKIT_CLIENT_SECRET in the environment or in \
                 ~/.config/tokenbroker/.env, or give them with Builder::credentials ({CREDENTIALS_PAGE})"
            ),
            Self::CredentialsRejected(_) => {
                format!("copy the client ID and secret again from {CREDENTIALS_PAGE}")
            }
            Self::Api(_) => "check the request against the message; if it persists, see TROUBLESHOOTING.md".into(),
            Self::UnsupportedCredential { kind, .. } if kind == crate::broker::ORG_WIDE_KIND => {
                "this connection shares one administrator's credential (auth mode ORG_WIDE), which \
                 tokenbroker does not hand out; use a connection whose auth mode is USER"
                    .into()
            }
            Self::UnsupportedCredential { .. } => {
                "use a connection whose authentication type is OAuth".into()
            }
            Self::Unavailable { .. } => crate::net::hint(self),
            Self::RateLimited { retry_after, .. } => match retry_after {
                Some(wait) => format!("wait {}s, then try again", wait.as_secs().max(1)),
                None => "wait a minute, then try again; make fewer requests (a long-lived Broker caches                          tokens)"
                    .into(),
            },
            Self::UntrustedLink { .. } => {
                "do not open any link from this answer; check that SCALEKIT_ENV_URL is your own Scalekit \
                 environment (see TROUBLESHOOTING.md, \"refused the authorization link\")"
                    .into()
            }
            Self::Protocol { .. } => {
                "retry; if it persists, see TROUBLESHOOTING.md and report it with the message above".into()
            }
        }
    }
}
