//! The Scalekit REST client: the API token, and the connected-account calls the broker needs.

mod answer;
pub(crate) mod model;
mod retry;
mod transport;

use std::time::Duration;

use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use tokio::time::Instant;
use url::Url;
use zeroize::Zeroizing;

use crate::config::Credentials;
use crate::error::Error;
use crate::flight::Flight;
use answer::refusal;
pub(crate) use answer::{MagicLink, magic_link_from, parse};
use model::{AccountEnvelope, ConnectedAccount};

/// A Scalekit endpoint, with its method and path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Token,
    Auth,
    Details,
    Create,
    MagicLink,
    Delete,
}

impl Endpoint {
    fn method(self) -> Method {
        match self {
            Self::Auth | Self::Details => Method::GET,
            Self::Token | Self::Create | Self::MagicLink | Self::Delete => Method::POST,
        }
    }

    fn path(self) -> &'static str {
        match self {
            Self::Token => "oauth/token",
            Self::Auth => "api/v1/connected_accounts/auth",
            Self::Details => "api/v1/connected_accounts/details",
            Self::Create => "api/v1/connected_accounts",
            Self::MagicLink => "api/v1/connected_accounts/magic_link",
            Self::Delete => "api/v1/connected_accounts:delete",
        }
    }

    /// `METHOD /path`, for messages.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Token => "POST /oauth/token",
            Self::Auth => "GET /api/v1/connected_accounts/auth",
            Self::Details => "GET /api/v1/connected_accounts/details",
            Self::Create => "POST /api/v1/connected_accounts",
            Self::MagicLink => "POST /api/v1/connected_accounts/magic_link",
            Self::Delete => "POST /api/v1/connected_accounts:delete",
        }
    }
}

#[derive(Clone)]
struct ApiToken {
    value: SecretString,
    fresh_until: Instant,
}

/// An answer read in full (up to the cap). The buffer is zeroed on drop: it may hold a token.
struct Answer {
    status: StatusCode,
    body: Zeroizing<Vec<u8>>,
    retry_after: Option<Duration>,
}

pub(crate) struct Client {
    http: reqwest::Client,
    base: Url,
    credentials: Credentials,
    api_token: Flight<ApiToken>,
    /// The deadline for one call, retries included.
    timeout: Option<Duration>,
}

impl Client {
    pub(crate) fn new(
        http: reqwest::Client,
        credentials: Credentials,
        timeout: Option<Duration>,
    ) -> Self {
        Self {
            http,
            base: credentials.env_url().clone(),
            credentials,
            api_token: Flight::new(),
            timeout,
        }
    }

    pub(crate) fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    fn url(&self, endpoint: Endpoint) -> Url {
        // The base always ends in '/', and paths are relative, so this cannot fail or escape the host.
        self.base
            .join(endpoint.path())
            .unwrap_or_else(|_| self.base.clone())
    }

    /// `GET /auth` (with the token) or `GET /details` (without): `None` when no such account exists.
    pub(crate) async fn account(
        &self,
        endpoint: Endpoint,
        connector: &str,
        identifier: &str,
    ) -> Result<Option<ConnectedAccount>, Error> {
        let query = [("connector", connector), ("identifier", identifier)];
        let answer = self.call(endpoint, &query, None).await?;
        match answer.status {
            s if s.is_success() => self.account_from(endpoint, &answer).map(Some),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(refusal(&self.url(endpoint), endpoint, &answer)),
        }
    }

    /// Creates the account: `None` when it already exists (HTTP 409, a concurrent create won).
    pub(crate) async fn create(
        &self,
        connector: &str,
        identifier: &str,
    ) -> Result<Option<ConnectedAccount>, Error> {
        // An empty oauth_token satisfies both the old proto (authorization_details required) and the new one.
        let body = serde_json::json!({
            "connector": connector,
            "identifier": identifier,
            "connected_account": {"authorization_details": {"oauth_token": {}}},
        });
        let answer = self.call(Endpoint::Create, &[], Some(&body)).await?;
        match answer.status {
            s if s.is_success() => self.account_from(Endpoint::Create, &answer).map(Some),
            StatusCode::CONFLICT => Ok(None),
            _ => Err(refusal(
                &self.url(Endpoint::Create),
                Endpoint::Create,
                &answer,
            )),
        }
    }

    pub(crate) async fn magic_link(
        &self,
        connector: &str,
        identifier: &str,
    ) -> Result<MagicLink, Error> {
        let body = serde_json::json!({"connector": connector, "identifier": identifier});
        let answer = self.call(Endpoint::MagicLink, &[], Some(&body)).await?;
        if !answer.status.is_success() {
            return Err(refusal(
                &self.url(Endpoint::MagicLink),
                Endpoint::MagicLink,
                &answer,
            ));
        }
        magic_link_from(&answer.body, &self.base)
    }

    pub(crate) async fn delete(&self, connector: &str, identifier: &str) -> Result<bool, Error> {
        let body = serde_json::json!({"connector": connector, "identifier": identifier});
        let answer = self.call(Endpoint::Delete, &[], Some(&body)).await?;
        match answer.status {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(refusal(
                &self.url(Endpoint::Delete),
                Endpoint::Delete,
                &answer,
            )),
        }
    }

    fn account_from(&self, endpoint: Endpoint, answer: &Answer) -> Result<ConnectedAccount, Error> {
        let envelope: AccountEnvelope = parse(endpoint, &answer.body)?;
        envelope.connected_account.ok_or_else(|| Error::Protocol {
            endpoint: endpoint.label(),
            detail: "the answer has no connected_account".into(),
        })
    }
}
