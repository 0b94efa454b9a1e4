//! The access token handed to callers.

use std::fmt;
use std::time::SystemTime;

use secrecy::{ExposeSecret, SecretString};

/// An OAuth access token for one connected account, with what is known about it.
///
/// The token itself is a [`SecretString`]: it is zeroed when the last copy is dropped, `Debug` prints
/// `[redacted]`, and there is deliberately no `Display` or `Serialize`. Read it with
/// [`AccessToken::expose_secret`] at the point of use.
///
/// ```no_run
/// # async fn run() -> Result<(), tokenbroker::Error> {
/// let token = tokenbroker::get_token("gmail").await?;
/// let header = format!("Bearer {}", token.expose_secret());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AccessToken {
    pub(crate) secret: SecretString,
    pub(crate) expires_at: Option<SystemTime>,
    pub(crate) scopes: Vec<String>,
    pub(crate) service: String,
    pub(crate) connection_name: String,
    pub(crate) identifier: String,
}

impl AccessToken {
    pub(crate) fn secret_ref(&self) -> &secrecy::SecretString {
        &self.secret
    }

    /// The token itself. Send it in an `Authorization: Bearer` header; never log or store it.
    pub fn expose_secret(&self) -> &str {
        self.secret.expose_secret()
    }

    /// When the provider says the token expires, if Scalekit reported it.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// The scopes granted, as Scalekit reported them.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// Whether the expiry Scalekit reported has passed (`false` when it reported none).
    pub fn is_expired(&self) -> bool {
        self.expires_at
            .is_some_and(|at| at <= std::time::SystemTime::now())
    }

    /// The service name it was asked for under, such as `gmail`.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The Scalekit connection name.
    pub fn connection_name(&self) -> &str {
        &self.connection_name
    }

    /// The identifier of the connected account.
    pub fn identifier(&self) -> &str {
        &self.identifier
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("secret", &"[redacted]")
            .field("expires_at", &self.expires_at.map(crate::timefmt::rfc3339))
            .field("scopes", &self.scopes)
            .field("service", &self.service)
            .field("connection_name", &self.connection_name)
            .field("identifier", &self.identifier)
            .finish()
    }
}
