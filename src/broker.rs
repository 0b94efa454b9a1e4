//! The broker: service name in, access token out.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::account::AccountStatus;
use crate::cache::{CachePolicy, Cached};
use crate::config::{self, Connections, ConnectionsFile, Credentials, IdentifierSource, Sources};
use crate::error::{AuthorizationRequired, Error};
use crate::flight::Flight;
use crate::scalekit::model::ConnectedAccount;
use crate::scalekit::{Client, Endpoint};
use crate::timefmt::parse_rfc3339;
use crate::token::AccessToken;
use crate::wait::WaitOptions;

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

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
    connections: Connections,
    identifier: Option<String>,
    fallback_identifier: (String, IdentifierSource),
    cache: CachePolicy,
    flights: Mutex<HashMap<AccountKey, Arc<Flight<Cached>>>>,
    warnings: Vec<String>,
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

    /// Like [`Broker::get_token`], but when the user must authorize, waits for them (polling Scalekit) and
    /// then returns the token. See [`Broker::wait_for_authorization`] for the outcomes.
    pub async fn wait_for_token(
        &self,
        service: &str,
        options: &WaitOptions,
    ) -> Result<AccessToken, Error> {
        let target = self.resolve(service, None)?;
        match self.token(&target).await {
            Err(Error::AuthorizationRequired(auth)) => {
                self.wait_for_authorization(&auth, options).await
            }
            other => other,
        }
    }

    /// Polls Scalekit (account details, about every [`WaitOptions::poll_interval`], never the token) until
    /// the account of `auth` is active, then returns its token.
    ///
    /// The outcomes are distinct: `Ok(token)` once authorized; [`Error::LinkExpired`] when the link expired
    /// first (ask for a new one with [`Broker::authorization_link`]); [`Error::WaitTimedOut`] when
    /// [`WaitOptions::timeout`] passed first. Without a timeout the deadline is the link's expiry.
    pub async fn wait_for_authorization(
        &self,
        auth: &AuthorizationRequired,
        options: &WaitOptions,
    ) -> Result<AccessToken, Error> {
        let target = self.resolve(&auth.service, Some(&auth.identifier))?;
        let start = Instant::now();
        let link_deadline = auth.expires_in().map(|left| start + left);
        let timeout_deadline = options.timeout.map(|t| start + t);
        let deadline = match (link_deadline, timeout_deadline) {
            (Some(l), Some(t)) => l.min(t),
            (l, t) => l.or(t).unwrap_or(start + crate::wait::DEFAULT_TIMEOUT),
        };
        let link_expires_first = link_deadline.is_some_and(|l| l <= deadline);
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(if link_expires_first {
                    Error::LinkExpired(Box::new(auth.clone()))
                } else {
                    Error::WaitTimedOut {
                        service: target.service,
                        connection_name: target.connection_name,
                        identifier: target.identifier,
                        waited: now - start,
                    }
                });
            }
            tokio::time::sleep_until((now + options.poll_interval).min(deadline)).await;
            if Instant::now() >= deadline {
                continue;
            }
            let account = match self
                .client()
                .account(
                    Endpoint::Details,
                    &target.connection_name,
                    &target.identifier,
                )
                .await
            {
                Ok(account) => account,
                // A blip while the user is busy clicking should not end the wait.
                Err(Error::Unavailable { .. }) => continue,
                Err(e) => return Err(e),
            };
            let done = account.is_some_and(|a| {
                AccountStatus::from_wire(a.status.as_deref()).is_active()
                    && (!auth.status.is_active()
                        || a.updated_at.as_deref().and_then(parse_rfc3339)
                            != auth.account_updated_at)
            });
            if done {
                self.flight(&target).invalidate(|_| true).await;
                match self.token(&target).await {
                    Err(Error::AuthorizationRequired(_)) => continue,
                    other => return other,
                }
            }
        }
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
        let updated_at = account.updated_at.as_deref().and_then(parse_rfc3339);
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

    fn client(&self) -> &Client {
        &self.inner.client
    }

    fn flight(&self, target: &Target) -> Arc<Flight<Cached>> {
        let key = (target.connection_name.clone(), target.identifier.clone());
        let mut flights = self.inner.flights.lock().unwrap_or_else(|p| p.into_inner());
        flights
            .entry(key)
            .or_insert_with(|| Arc::new(Flight::new()))
            .clone()
    }

    async fn token(&self, target: &Target) -> Result<AccessToken, Error> {
        let policy = &self.inner.cache;
        let cached = self
            .flight(target)
            .get(
                |c| c.is_fresh(),
                |c| policy.enabled && c.is_fresh(),
                || async {
                    let token = self.fetch(target).await?;
                    Ok(Cached::new(token, policy))
                },
            )
            .await?;
        Ok(cached.token)
    }

    async fn fetch(&self, target: &Target) -> Result<AccessToken, Error> {
        let account = self.get_or_create(target).await?;
        let status = AccountStatus::from_wire(account.status.as_deref());
        let updated_at = account.updated_at.as_deref().and_then(parse_rfc3339);
        if status.is_active() {
            let mut details = account.authorization_details.unwrap_or_default();
            let oauth = details.oauth_token.take().unwrap_or_default();
            if let Some(secret) = oauth
                .access_token
                .filter(|t| !secrecy::ExposeSecret::expose_secret(t).is_empty())
            {
                return Ok(AccessToken {
                    secret,
                    expires_at: account.token_expires_at.as_deref().and_then(parse_rfc3339),
                    scopes: oauth.scopes.unwrap_or_default(),
                    service: target.service.clone(),
                    connection_name: target.connection_name.clone(),
                    identifier: target.identifier.clone(),
                });
            }
            let kind = account
                .authorization_type
                .filter(|t| !matches!(t.as_str(), "" | "OAUTH" | "CONNECTION_TYPE_UNSPECIFIED"))
                .or_else(|| details.other_kind().map(str::to_owned));
            if let Some(kind) = kind {
                return Err(Error::UnsupportedCredential {
                    service: target.service.clone(),
                    connection_name: target.connection_name.clone(),
                    kind,
                });
            }
            // Active but holding no token: only a new authorization can fix that.
        }
        Err(Error::AuthorizationRequired(Box::new(
            self.link_for(target, status, updated_at).await?,
        )))
    }

    async fn get_or_create(&self, target: &Target) -> Result<ConnectedAccount, Error> {
        let (connector, identifier) = (&target.connection_name, &target.identifier);
        if let Some(account) = self
            .client()
            .account(Endpoint::Auth, connector, identifier)
            .await?
        {
            return Ok(account);
        }
        if let Some(account) = self.client().create(connector, identifier).await? {
            return Ok(account);
        }
        // 409: another caller created it between our read and our create; read the winner's.
        self.client()
            .account(Endpoint::Auth, connector, identifier)
            .await?
            .ok_or_else(|| Error::Protocol {
                endpoint: Endpoint::Auth.label(),
                detail: "the account was reported as existing (409) but then not found (404)"
                    .into(),
            })
    }

    async fn link_for(
        &self,
        target: &Target,
        status: AccountStatus,
        updated_at: Option<SystemTime>,
    ) -> Result<AuthorizationRequired, Error> {
        let link = self
            .client()
            .magic_link(&target.connection_name, &target.identifier)
            .await?;
        Ok(AuthorizationRequired {
            service: target.service.clone(),
            connection_name: target.connection_name.clone(),
            identifier: target.identifier.clone(),
            identifier_source: target.identifier_source.clone(),
            status,
            url: link.url,
            expires_at: link.expires_at,
            account_updated_at: updated_at,
        })
    }
}

fn info(a: ConnectedAccount) -> AccountInfo {
    let time = |t: Option<String>| t.as_deref().and_then(parse_rfc3339);
    AccountInfo {
        status: AccountStatus::from_wire(a.status.as_deref()),
        id: a.id,
        provider: a.provider,
        authorization_type: a.authorization_type,
        token_expires_at: time(a.token_expires_at),
        updated_at: time(a.updated_at),
        last_used_at: time(a.last_used_at),
        scopes: a
            .authorization_details
            .and_then(|d| d.oauth_token)
            .and_then(|t| t.scopes)
            .unwrap_or_default(),
    }
}

/// Settings for a [`Broker`]. Anything not given comes from the environment, as [`Broker::from_env`] does.
///
/// ```no_run
/// use std::time::Duration;
/// use tokenbroker::{Broker, CachePolicy, Connection, Connections, Credentials};
///
/// # fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let broker = Broker::builder()
///     .credentials(Credentials::new("https://acme.scalekit.dev", "skc_123", "secret".into())?)
///     .connections(Connections::new().with("gmail", Connection::new("gmail_u3134a"))?)
///     .identifier("user_42")
///     .cache(CachePolicy::default().max_age(Duration::from_secs(120)))
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Default)]
#[must_use]
pub struct Builder {
    credentials: Option<Credentials>,
    connections: Option<Connections>,
    connections_path: Option<PathBuf>,
    env_file: Option<PathBuf>,
    config_dir: Option<PathBuf>,
    home_dir: Option<PathBuf>,
    identifier: Option<String>,
    http: Option<reqwest::Client>,
    cache: CachePolicy,
    timeout: Option<Option<Duration>>,
    connect_timeout: Option<Duration>,
}

impl Builder {
    /// The Scalekit credentials, instead of reading them from the environment.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// The services, instead of reading `connections.json`.
    pub fn connections(mut self, connections: Connections) -> Self {
        self.connections = Some(connections);
        self
    }

    /// Read `connections.json` from this path (it must exist).
    pub fn connections_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.connections_path = Some(path.into());
        self
    }

    /// Also read this `.env` file (after the process environment, before `./.env`); it must exist.
    pub fn env_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.env_file = Some(path.into());
        self
    }

    /// The directory holding `connections.json` and `.env` (default: the user config directory, on Linux
    /// `~/.config/tokenbroker`).
    pub fn config_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config_dir = Some(dir.into());
        self
    }

    /// The home directory in which OpenClaw's `.openclaw/workspace/IDENTITY.md` is looked for.
    pub fn home_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.home_dir = Some(dir.into());
        self
    }

    /// Act for this identifier, over every other source.
    pub fn identifier(mut self, identifier: impl Into<String>) -> Self {
        self.identifier = Some(identifier.into());
        self
    }

    /// Use this HTTP client (its proxy, redirect and connect settings then apply as they are).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// How tokens are cached in memory.
    pub fn cache(mut self, policy: CachePolicy) -> Self {
        self.cache = policy;
        self
    }

    /// The time limit of one call to Scalekit, retries included (default 30 s, or `$TOKENBROKER_TIMEOUT`
    /// seconds); `None` for no limit. It also applies to a client given with [`Builder::http_client`].
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The time limit for opening a connection (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Checks everything and makes the broker. No request is made.
    pub fn build(self) -> Result<Broker, Error> {
        let sources = self.sources();
        self.build_from(sources)
    }

    /// The `connections.json` these settings would read, for editing: the one found by the usual lookup, or
    /// else where a new one belongs (the path given, or the user config directory).
    pub fn connections_file(&self) -> Result<ConnectionsFile, Error> {
        let sources = self.sources().load_env_files(self.env_file.as_deref())?;
        match config::locate_connections(self.connections_path.as_deref(), &sources) {
            Ok(path) => Ok(ConnectionsFile::new(path)),
            Err(e) => match (&self.connections_path, sources.config_dir()) {
                (Some(explicit), _) => Ok(ConnectionsFile::new(explicit)),
                (None, Some(dir)) if sources.var("TOKENBROKER_CONNECTIONS").is_none() => {
                    Ok(ConnectionsFile::new(dir.join(config::CONNECTIONS_FILE)))
                }
                _ => Err(e.into()),
            },
        }
    }

    fn sources(&self) -> Sources {
        let mut sources = Sources::system();
        if self.config_dir.is_some() {
            sources = sources.with_config_dir(self.config_dir.clone());
        }
        if self.home_dir.is_some() {
            sources = sources.with_home(self.home_dir.clone());
        }
        sources
    }

    pub(crate) fn build_from(self, sources: Sources) -> Result<Broker, Error> {
        let sources = sources.load_env_files(self.env_file.as_deref())?;
        let mut warnings = sources.warnings.clone();
        let connections = match self.connections {
            Some(c) => c,
            None => {
                let path = config::locate_connections(self.connections_path.as_deref(), &sources)?;
                warnings.extend(config::sources::readable_by_others(
                    &path,
                    "says which accounts exist",
                ));
                Connections::from_path(path)?
            }
        };
        let credentials = match self.credentials {
            Some(c) => c,
            None => Credentials::from_sources(&sources)?,
        };
        if let Some(id) = &self.identifier {
            config::names::check_identifier(id, None)?;
        }
        let timeout = match self.timeout {
            Some(t) => t,
            None => Some(timeout_from(&sources)?.unwrap_or(DEFAULT_TIMEOUT)),
        };
        let http = match self.http {
            Some(h) => h,
            None => http_client(self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT))?,
        };
        Ok(Broker {
            inner: Arc::new(Inner {
                client: Client::new(http, credentials, timeout),
                connections,
                identifier: self.identifier,
                fallback_identifier: config::fallback_identifier(&sources),
                cache: self.cache,
                flights: Mutex::new(HashMap::new()),
                warnings,
            }),
        })
    }
}

/// `TOKENBROKER_TIMEOUT`, in seconds (fractions allowed).
fn timeout_from(sources: &Sources) -> Result<Option<Duration>, Error> {
    use secrecy::ExposeSecret;
    let Some(found) = sources.var("TOKENBROKER_TIMEOUT") else {
        return Ok(None);
    };
    let value = found.value.expose_secret().trim();
    match value.parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs <= 86_400.0 => Ok(Some(Duration::from_secs_f64(secs))),
        _ => Err(crate::error::ConfigError::InvalidSetting {
            name: "TOKENBROKER_TIMEOUT",
            value: value.to_owned(),
            source_name: found.source,
            reason: "give the overall request timeout in seconds, such as 30 or 2.5 (more than 0, at most 86400)"
                .into(),
        }
        .into()),
    }
}

fn http_client(connect_timeout: Duration) -> Result<reqwest::Client, Error> {
    // No overall timeout here: the client gives each call a deadline that spans its retries.
    let builder = reqwest::Client::builder()
        .user_agent(concat!("tokenbroker/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(connect_timeout);
    builder.build().map_err(|e| Error::Unavailable {
        url: String::new(),
        detail: format!("the HTTP client could not be set up: {e}"),
        source: Some(Arc::new(e)),
    })
}
