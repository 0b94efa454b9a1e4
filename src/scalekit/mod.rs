//! The Scalekit REST client: the API token, and the connected-account calls the broker needs.

mod answer;
mod connections;
pub(crate) mod model;
mod proxy;
mod retry;
mod transport;

use std::time::Duration;

use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use tokio::time::Instant;
use url::Url;
use zeroize::Zeroizing;

use crate::config::Credentials;
use crate::error::{Error, VerificationError};
use crate::flight::Flight;
use answer::refusal;
pub(crate) use answer::{MagicLink, magic_link_from, parse};
use model::{AccountEnvelope, ConnectedAccount};
pub(crate) use proxy::Proxied;
pub(crate) use transport::bearer;

/// A Scalekit endpoint, with its method and path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Token,
    Auth,
    Details,
    Create,
    MagicLink,
    Delete,
    UserVerify,
    AppConnections,
}

impl Endpoint {
    fn method(self) -> Method {
        match self {
            Self::Auth | Self::Details | Self::AppConnections => Method::GET,
            Self::Token | Self::Create | Self::MagicLink | Self::Delete | Self::UserVerify => {
                Method::POST
            }
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
            Self::UserVerify => "api/v1/connected_accounts/user/verify",
            Self::AppConnections => "api/v1/connections/app",
        }
    }

    /// Whether sending it again is harmless when the first attempt's effect is unknown (see [`retry`]).
    fn is_repeatable(self) -> bool {
        !matches!(self, Self::Delete | Self::UserVerify)
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
            Self::UserVerify => "POST /api/v1/connected_accounts/user/verify",
            Self::AppConnections => "GET /api/v1/connections/app",
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
    /// Told about every attempt (`get-token -v`).
    observer: Option<crate::observe::Observer>,
}

impl Client {
    pub(crate) fn new(
        http: reqwest::Client,
        credentials: Credentials,
        timeout: Option<Duration>,
        observer: Option<crate::observe::Observer>,
    ) -> Self {
        Self {
            http,
            base: credentials.env_url().clone(),
            credentials,
            api_token: Flight::new(),
            timeout,
            observer,
        }
    }

    pub(crate) fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The HTTP client (no redirects followed, connect timeout set), shared with provider calls.
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
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
        // `CreateConnectedAccountRequest.connected_account` is `required: true` (connected_accounts PY 2.21.0,
        // field 5; the same in every dump since 2026-01), so it is always sent; empty, as Scalekit's Python SDK
        // sends it when there are no details: no `authorization_details`, so no claim of an OAuth credential
        // for connections of other kinds.
        let body = serde_json::json!({
            "connector": connector,
            "identifier": identifier,
            "connected_account": {},
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

    /// A magic link; with `verify`, the `user_verify_url` Scalekit sends the browser to after the user
    /// approves, and the `state` it hands back there (user verification, Custom mode).
    pub(crate) async fn magic_link(
        &self,
        connector: &str,
        identifier: &str,
        verify: Option<(&Url, &str)>,
    ) -> Result<MagicLink, Error> {
        let mut body = serde_json::json!({"connector": connector, "identifier": identifier});
        if let Some((url, state)) = verify {
            body["user_verify_url"] = url.as_str().into();
            body["state"] = state.into();
        }
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

    /// Confirms the user of a pending verification: the redirect URL Scalekit names next, when it is safe.
    pub(crate) async fn verify_user(
        &self,
        target: &crate::Target,
        auth_request_id: &str,
    ) -> Result<Option<Url>, Error> {
        let endpoint = Endpoint::UserVerify;
        let body = serde_json::json!({
            "auth_request_id": auth_request_id,
            "identifier": target.identifier,
        });
        let answer = self.call(endpoint, &[], Some(&body)).await?;
        let (service, identifier) = (target.service.clone(), target.identifier.clone());
        match answer.status {
            s if s.is_success() => {
                let parsed: model::VerifyBody = parse(endpoint, &answer.body)?;
                Ok(parsed
                    .post_user_verify_redirect_url
                    .and_then(|u| answer::safe_redirect(&u)))
            }
            StatusCode::FORBIDDEN => Err(VerificationError::WrongUser {
                service,
                identifier,
            }
            .into()),
            StatusCode::NOT_FOUND => Err(VerificationError::FlowExpired {
                service,
                identifier,
            }
            .into()),
            s if s.is_client_error() => {
                Err(VerificationError::Refused(answer::api_error(endpoint, &answer)).into())
            }
            _ => Err(refusal(&self.url(endpoint), endpoint, &answer)),
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
