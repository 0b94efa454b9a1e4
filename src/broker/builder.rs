//! Building a [`Broker`]: settings given in code, the rest from the environment.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Broker, Inner};
use crate::cache::CachePolicy;
use crate::config::{self, Connections, ConnectionsFile, Credentials, Sources};
use crate::error::Error;
use crate::scalekit::Client;
use crate::verification::state::StateKey;

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

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
    user_verify_url: Option<url::Url>,
    default_user_verify_url: Option<url::Url>,
    used_states: Option<PathBuf>,
    observer: Option<crate::observe::Observer>,
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

    /// Read the Scalekit credentials from this `.env` file instead of the one in the config directory; it must
    /// exist. The credentials are still taken as one set from one place: if the process environment also
    /// sets them, the two must agree.
    pub fn env_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.env_file = Some(path.into());
        self
    }

    /// The directory holding `connections.json` and `.env` (default: the user config directory, on Linux
    /// `~/.config/tokenbroker`). The working directory is never looked in.
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

    /// Where Scalekit sends the user's browser after they approve, for user verification (Scalekit's Custom
    /// mode): every magic link then carries this `user_verify_url` and a signed `state`, and the page there
    /// completes the flow with [`Broker::complete_verification`]. Default: `$SCALEKIT_USER_VERIFY_URL`, else
    /// none. `get-token` sets its own loopback listener here.
    pub fn user_verify_url(mut self, url: url::Url) -> Self {
        self.user_verify_url = Some(url);
        self
    }

    /// The `user_verify_url` to use when neither [`Builder::user_verify_url`] nor `$SCALEKIT_USER_VERIFY_URL`
    /// gives one (`get-token` passes its loopback listener's address).
    pub fn default_user_verify_url(mut self, url: url::Url) -> Self {
        self.default_user_verify_url = Some(url);
        self
    }

    /// A file where [`Broker::complete_verification`] remembers the states it used (a hash of each, no
    /// secret; 0600 in a 0700 directory), so that each verification address completes a flow once, across
    /// processes. Default: none (a state can be used again while it is valid). `get-token` keeps it in its
    /// configuration directory.
    pub fn used_states_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.used_states = Some(path.into());
        self
    }

    /// The time limit for opening a connection (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Calls `observer` after every attempt at a request to Scalekit, with what was asked and what came
    /// back (never a body, a header, a token or the secret): for a log or a `--verbose`.
    ///
    /// ```no_run
    /// let broker = tokenbroker::Broker::builder()
    ///     .on_request(|event| eprintln!("scalekit: {event}"))
    ///     .build();
    /// ```
    pub fn on_request(
        mut self,
        observer: impl Fn(&crate::RequestEvent) + Send + Sync + 'static,
    ) -> Self {
        self.observer = Some(std::sync::Arc::new(observer));
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
        let sources = self.sources().load_env_file(self.env_file.as_deref())?;
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

    /// The `.env` these settings read the credentials from (the path given, else the user config
    /// directory's), whether or not it exists: where `get-token init` writes. `None` without a config
    /// directory (no HOME).
    pub fn env_file_path(&self) -> Option<PathBuf> {
        match &self.env_file {
            Some(p) => Some(p.clone()),
            None => self.sources().config_dir().map(|d| d.join(".env")),
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
        let sources = sources.load_env_file(self.env_file.as_deref())?;
        let warnings = sources.warnings.clone();
        let connections = match self.connections {
            Some(c) => c,
            None => {
                // Not a secret (it names accounts, not credentials): no warning when others can read it.
                let path = config::locate_connections(self.connections_path.as_deref(), &sources)?;
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
        let verify_url = match self.user_verify_url {
            Some(url) => Some(url),
            None => verify_url_from(&sources)?.or(self.default_user_verify_url),
        };
        let state_key = StateKey::new(credentials.client_secret(), credentials.env_url());
        Ok(Broker {
            inner: Arc::new(Inner {
                verify_url,
                used_states: self
                    .used_states
                    .map(crate::verification::used::UsedStates::new),
                state_key,
                client: Client::new(http, credentials, timeout, self.observer),
                connections,
                identifier: self.identifier,
                fallback_identifier: config::fallback_identifier(&sources),
                cache: self.cache,
                flights: Mutex::new(HashMap::new()),
                warnings,
                environment: tokio::sync::OnceCell::new(),
            }),
        })
    }
}

/// `SCALEKIT_USER_VERIFY_URL`: a hosted verify page, instead of get-token's loopback listener.
fn verify_url_from(sources: &Sources) -> Result<Option<url::Url>, Error> {
    use secrecy::ExposeSecret;
    let Some(found) = sources.var("SCALEKIT_USER_VERIFY_URL") else {
        return Ok(None);
    };
    let value = found.value.expose_secret().trim().to_owned();
    check_verify_url(&value).map(Some).map_err(|reason| {
        crate::error::ConfigError::InvalidSetting {
            name: "SCALEKIT_USER_VERIFY_URL",
            value,
            source_name: found.source,
            reason,
        }
        .into()
    })
}

/// A `user_verify_url` as Scalekit accepts it (`http` or `https`, at most 2048 characters), without a user
/// name: Scalekit sends the user's browser there.
pub(crate) fn check_verify_url(value: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(value).map_err(|e| format!("it is not a URL ({e})"))?;
    // Counted on the URL as it is sent (normalised, percent-encoded), in characters as buf.validate counts:
    // `user_verify_url` is `max_len: 2048` (connected_accounts PY 2.21.0, GetMagicLinkForConnectedAccountRequest).
    if !matches!(url.scheme(), "http" | "https") || url.as_str().chars().count() > 2048 {
        return Err(
            "give an http or https URL of at most 2048 characters once percent-encoded (Scalekit's \
             user_verify_url rule)"
                .into(),
        );
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("it must not contain a user name or password".into());
    }
    Ok(url)
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
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("tokenbroker/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(connect_timeout)
        .no_proxy();
    for proxy in proxies_from_env(|name| std::env::var(name).ok()) {
        builder = builder.proxy(proxy);
    }
    builder.build().map_err(|e| Error::Unavailable {
        url: String::new(),
        detail: format!("the HTTP client could not be set up: {e}"),
        source: Some(Arc::new(e)),
    })
}

/// The proxies the environment names (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`, either case),
/// as reqwest would use them, except that a loopback destination never goes through one: plain http is
/// allowed only there because it stays on the machine, and a proxy would carry the token or the client
/// secret off it in clear text. `HTTP_PROXY` is ignored under CGI (`REQUEST_METHOD` set: "httpoxy").
fn proxies_from_env(var: impl Fn(&str) -> Option<String>) -> Vec<reqwest::Proxy> {
    let first = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| var(n).filter(|v| !v.trim().is_empty()))
    };
    let cgi = var("REQUEST_METHOD").is_some();
    let http = if cgi {
        first(&["http_proxy"])
    } else {
        first(&["HTTP_PROXY", "http_proxy"])
    };
    let all = first(&["ALL_PROXY", "all_proxy"]);
    let exempt = format!(
        "{},localhost,127.0.0.0/8,::1,[::1]",
        first(&["NO_PROXY", "no_proxy"]).unwrap_or_default()
    );
    let mut proxies = Vec::new();
    for (url, make) in [
        (
            first(&["HTTPS_PROXY", "https_proxy"]).or_else(|| all.clone()),
            reqwest::Proxy::https as fn(String) -> reqwest::Result<reqwest::Proxy>,
        ),
        (http.or(all), reqwest::Proxy::http),
    ] {
        // An unusable proxy setting is ignored, as reqwest ignores it.
        if let Some(proxy) = url.and_then(|u| make(u).ok()) {
            proxies.push(proxy.no_proxy(reqwest::NoProxy::from_string(&exempt)));
        }
    }
    proxies
}

#[cfg(test)]
mod tests {
    use super::check_verify_url;

    /// The 2048 characters of `user_verify_url` are counted on the URL as sent, after percent-encoding.
    #[test]
    fn the_verify_url_limit_counts_the_url_as_sent() {
        let fits = format!("https://app.example.com/v?{}", "a".repeat(2048 - 26));
        assert_eq!(fits.len(), 2048);
        assert!(check_verify_url(&fits).is_ok());
        // 2000 characters typed, over 2048 once the spaces are encoded as %20.
        let grows = format!("https://app.example.com/v?{}", "a b".repeat(600));
        assert!(grows.len() < 2048);
        let e = check_verify_url(&grows).unwrap_err();
        assert!(e.contains("2048") && e.contains("percent-encoded"), "{e}");
    }
}
