//! The user must authorize, and what Scalekit answered when it refused.

use std::fmt;
use std::time::{Duration, SystemTime};

use url::Url;

use crate::account::AccountStatus;
use crate::config::IdentifierSource;
use crate::timefmt::rfc3339;

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
    /// This link replaces one relayed before that expired unused: tell the user the old one is dead.
    pub replaces_expired_link: bool,
    /// The account's `updated_at` when the link was made: for an account that is already active
    /// (re-authorization), a later one is how waiting tells that the user has been through the link.
    pub(crate) account_updated_at: Option<SystemTime>,
    /// After approving, the browser is sent to a loopback address (get-token's listener), which does not
    /// load on another device: the user is asked to copy it back.
    pub(crate) loopback_verify: bool,
}

impl AuthorizationRequired {
    /// Time left before the link expires, measured now (zero once it has expired).
    pub fn expires_in(&self) -> Option<Duration> {
        self.expires_at
            .map(|at| at.duration_since(SystemTime::now()).unwrap_or_default())
    }

    /// A sentence ready to paste into a chat for the user. Scalekit's links live about a minute, so it says
    /// so, and that a new one is there for the asking.
    pub fn message(&self) -> String {
        let before = if self.replaces_expired_link {
            "The link I sent before has expired, so here is a new one. "
        } else {
            ""
        };
        let deadline = match self.expires_at {
            Some(at) => format!(
                " It works for about {} seconds (until {}); if it has expired when you open it, tell me and I \
                 will send a new one.",
                self.expires_in().unwrap_or_default().as_secs(),
                rfc3339(at),
            ),
            None => String::new(),
        };
        let after = if self.loopback_verify {
            " If your browser then shows a page at 127.0.0.1 that does not load, copy that page's whole address \
             and send it to me."
        } else {
            ""
        };
        format!(
            "{before}To let me use your {} account, please open this link and approve access: {}{deadline}{after} \
             Tell me when you are done.",
            self.service, self.url
        )
    }
}

impl fmt::Display for AuthorizationRequired {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (connection {}, identifier {}, {}) needs authorization (account status {}): open {}",
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
