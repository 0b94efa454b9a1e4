//! The broker: service name in, access token out.

mod builder;
mod environment;
mod fetch;
mod wait;

pub use builder::Builder;
pub use environment::EnvironmentConnection;
pub(crate) use fetch::ORG_WIDE_KIND;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::account::AccountStatus;
use crate::cache::{CachePolicy, Cached};
use crate::config::{self, Connections, Credentials, IdentifierSource};
use crate::error::{AuthorizationRequired, Error};
use crate::flight::Flight;
use crate::scalekit::model::ConnectedAccount;
use crate::scalekit::{Client, Endpoint};
use crate::token::AccessToken;
use crate::verification::state::StateKey;

/// Hands out access tokens for configured services. Cheap to clone; clones share the cache.
///
/// ```no_run
/// # async fn run() -> Result<(), tokenbroker::Error> {
/// use tokenbroker::Broker;
///
/// let broker = Broker::from_env()?;
/// match broker.get_token("gmail").await {
///     Ok(token) => println!("expires at {:?}", token.expires_at()),
///     Err(tokenbroker::Error::AuthorizationRequired(auth)) => println!("{}", auth.message()),
///     Err(e) => return Err(e),
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Broker {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    /// Where Scalekit sends the browser after the user approves, for user verification (Custom mode).
    verify_url: Option<url::Url>,
    /// Where used verification states are remembered, if anywhere.
    used_states: Option<crate::verification::used::UsedStates>,
    state_key: StateKey,
    connections: Connections,
    identifier: Option<String>,
    fallback_identifier: (String, IdentifierSource),
    cache: CachePolicy,
    flights: Mutex<HashMap<AccountKey, Arc<Flight<Cached>>>>,
    warnings: Vec<String>,
    /// The environment's connections, once asked.
    environment: tokio::sync::OnceCell<environment::Listed>,
}

/// What a broker is set up with, never a secret or a token: the environment, the client ID, the services, the
/// identifier and the verify URL.
impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let credentials = self.credentials();
        f.debug_struct("Broker")
            .field("env_url", &credentials.env_url().as_str())
            .field("client_id", &credentials.client_id())
            .field(
                "services",
                &self.connections().services().collect::<Vec<_>>(),
            )
            .field("identifier", &self.inner.identifier)
            .field(
                "user_verify_url",
                &self.inner.verify_url.as_ref().map(url::Url::as_str),
            )
            .finish_non_exhaustive()
    }
}

/// (connection name, identifier): one connected account.
type AccountKey = (String, String);

/// A service resolved to the connected account it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Target {
    /// The service name, such as `gmail`.
    pub service: String,
    /// Its Scalekit connection name.
    pub connection_name: String,
    /// The connected account's identifier.
    pub identifier: String,
    /// Where the identifier came from.
    pub identifier_source: IdentifierSource,
}

/// What Scalekit knows about a connected account, without its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccountInfo {
    /// The account's status (`None` fields were not reported).
    pub status: AccountStatus,
    /// Scalekit's account id (`ca_...`).
    pub id: Option<String>,
    /// The provider, such as `google`.
    pub provider: Option<String>,
    /// The authorization type, such as `OAUTH`.
    pub authorization_type: Option<String>,
    /// When the provider token expires.
    pub token_expires_at: Option<SystemTime>,
    /// When the account last changed.
    pub updated_at: Option<SystemTime>,
    /// When a token was last handed out.
    pub last_used_at: Option<SystemTime>,
    /// The scopes granted, when Scalekit reports them without the token.
    pub scopes: Vec<String>,
}

impl Broker {
    /// A broker configured from the environment: credentials from the process environment or `.env` files,
    /// `connections.json` from the usual places. See the crate documentation for the lookup order.
    pub fn from_env() -> Result<Self, Error> {
        Self::builder().build()
    }

    /// A builder, for settings given in code.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A token for `service`, for the default identifier.
    ///
    /// Served from the in-memory cache while fresh; concurrent callers share one upstream fetch. Returns
    /// [`Error::AuthorizationRequired`] with a link when the user must authorize first.
    pub async fn get_token(&self, service: &str) -> Result<AccessToken, Error> {
        let target = self.resolve(service, None)?;
        self.token(&target).await
    }

    /// A token for `service`, for the connected account of `identifier` (another user, or another of the
    /// user's accounts).
    pub async fn get_token_for(
        &self,
        service: &str,
        identifier: &str,
    ) -> Result<AccessToken, Error> {
        let target = self.resolve(service, Some(identifier))?;
        self.token(&target).await
    }

    /// Which connection and identifier `service` stands for, and why; no request is made.
    pub fn resolve(&self, service: &str, identifier: Option<&str>) -> Result<Target, Error> {
        let entry = self.inner.connections.get(service)?;
        let (identifier, identifier_source) = match (
            identifier.or(self.inner.identifier.as_deref()),
            &entry.identifier,
        ) {
            (Some(id), _) => (id.to_owned(), IdentifierSource::Explicit),
            (None, Some(id)) => (id.clone(), IdentifierSource::ConnectionsFile),
            (None, None) => self.inner.fallback_identifier.clone(),
        };
        config::names::check_identifier(&identifier, Some(service))?;
        Ok(Target {
            service: service.to_owned(),
            connection_name: entry.connection_name.clone(),
            identifier,
            identifier_source,
        })
    }

    /// Drops the cached token for `service` (for example after the provider answered 401), so the next call
    /// asks Scalekit again.
    pub async fn invalidate(&self, service: &str, identifier: Option<&str>) -> Result<(), Error> {
        let target = self.resolve(service, identifier)?;
        self.flight(&target).invalidate(|_| true).await;
        Ok(())
    }

    /// A fresh authorization link for `service`, whatever the account's status: to authorize the first time,
    /// or again (for example to grant more scopes). Creates the account if needed.
    pub async fn authorization_link(
        &self,
        service: &str,
        identifier: Option<&str>,
    ) -> Result<AuthorizationRequired, Error> {
        let target = self.resolve(service, identifier)?;
        let account = self.get_or_create(&target).await?;
        let updated_at = account.updated_at;
        self.link_for(
            &target,
            AccountStatus::from_wire(account.status.as_deref()),
            updated_at,
        )
        .await
    }

    /// The account's state at Scalekit without its credentials; `None` if it does not exist yet.
    pub async fn account_info(
        &self,
        service: &str,
        identifier: Option<&str>,
    ) -> Result<(Target, Option<AccountInfo>), Error> {
        let target = self.resolve(service, identifier)?;
        let account = self
            .client()
            .account(
                Endpoint::Details,
                &target.connection_name,
                &target.identifier,
            )
            .await?;
        Ok((target, account.map(info)))
    }

    /// Checks that Scalekit is reachable and accepts the client credentials (one client-credentials
    /// request, reused by later calls).
    pub async fn verify_credentials(&self) -> Result<(), Error> {
        self.client().authenticate().await
    }

    /// Deletes the connected account at Scalekit. Returns `false` if there was none.
    pub async fn disconnect(&self, service: &str, identifier: Option<&str>) -> Result<bool, Error> {
        let target = self.resolve(service, identifier)?;
        self.flight(&target).invalidate(|_| true).await;
        self.client()
            .delete(&target.connection_name, &target.identifier)
            .await
    }

    /// Problems found while setting up that are not errors, such as a `.env` file with the client secret
    /// that other users can read. `get-token` prints them on stderr.
    pub fn warnings(&self) -> &[String] {
        &self.inner.warnings
    }

    /// The configured services.
    pub fn connections(&self) -> &Connections {
        &self.inner.connections
    }

    /// The credentials in use (the secret is not readable through this).
    pub fn credentials(&self) -> &Credentials {
        self.client().credentials()
    }

    pub(crate) fn client(&self) -> &Client {
        &self.inner.client
    }

    pub(crate) fn state_key(&self) -> &StateKey {
        &self.inner.state_key
    }

    pub(crate) fn used_states(&self) -> Option<&crate::verification::used::UsedStates> {
        self.inner.used_states.as_ref()
    }

    /// The `user_verify_url` magic links carry, if any.
    pub fn user_verify_url(&self) -> Option<&url::Url> {
        self.inner.verify_url.as_ref()
    }

    /// Drops what is cached for the account, so the next call asks Scalekit.
    pub(crate) async fn forget(&self, target: &Target) {
        self.flight(target).invalidate(|_| true).await;
    }

    fn flight(&self, target: &Target) -> Arc<Flight<Cached>> {
        let key = (target.connection_name.clone(), target.identifier.clone());
        let mut flights = self.inner.flights.lock().unwrap_or_else(|p| p.into_inner());
        flights
            .entry(key)
            .or_insert_with(|| Arc::new(Flight::new()))
            .clone()
    }
}

fn info(a: ConnectedAccount) -> AccountInfo {
    AccountInfo {
        status: AccountStatus::from_wire(a.status.as_deref()),
        id: a.id,
        provider: a.provider,
        authorization_type: a.authorization_type,
        token_expires_at: a.token_expires_at,
        updated_at: a.updated_at,
        last_used_at: a.last_used_at,
        scopes: a
            .authorization_details
            .and_then(|d| d.oauth_token)
            .and_then(|t| t.scopes)
            .unwrap_or_default(),
    }
}
