//! A local, stateful emulator of the Scalekit endpoints tokenbroker uses (feature `emulator`).
//!
//! It serves `POST /oauth/token` and the connected-account calls (`auth`, `details`, create, `magic_link`,
//! list, delete) on loopback with Scalekit's JSON shapes and error bodies. A magic link opens a page with an
//! Approve button; approving makes the account `ACTIVE` with a random token. Tests drive it directly
//! (approve, set a status, expire a token, inject faults) and read how many requests and connections it got.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tokenbroker::emulator::{Emulator, Route};
//! use tokenbroker::{Broker, Connection, Connections, Error};
//!
//! let emulator = Emulator::builder().connection("gmail_u3134a").start().await?;
//! let broker = Broker::builder()
//!     .credentials(emulator.credentials())
//!     .connections(Connections::new().with("gmail", Connection::new("gmail_u3134a").with_identifier("mess"))?)
//!     .build()?;
//!
//! let Err(Error::AuthorizationRequired(auth)) = broker.get_token("gmail").await else { panic!() };
//! emulator.approve_link(auth.url.as_str());
//! let token = broker.get_token("gmail").await?;
//! assert_eq!(Some(token.expose_secret().to_owned()), emulator.access_token("gmail_u3134a", "mess"));
//! assert_eq!(emulator.requests(Route::Token), 1);
//! # Ok(()) }
//! ```

mod page;
mod server;
mod state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use state::{Kind, State};

/// The client ID the emulator accepts unless told otherwise.
pub const DEFAULT_CLIENT_ID: &str = "emulator-client";
/// The client secret the emulator accepts unless told otherwise.
pub const DEFAULT_CLIENT_SECRET: &str = "emulator-secret";
/// The connection names the standalone emulator knows unless told otherwise.
pub const DEFAULT_CONNECTIONS: &[&str] = &["gmail", "slack", "github", "notion", "linear"];

/// An endpoint of the emulator, for counting requests and aiming faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Route {
    /// `POST /oauth/token`
    Token,
    /// `GET /api/v1/connected_accounts/auth`
    Auth,
    /// `GET /api/v1/connected_accounts/details`
    Details,
    /// `POST /api/v1/connected_accounts`
    Create,
    /// `POST /api/v1/connected_accounts/magic_link`
    MagicLink,
    /// `GET /api/v1/connected_accounts`
    List,
    /// `POST /api/v1/connected_accounts:delete`
    Delete,
    /// The magic-link page and its Approve button.
    Page,
}

/// A fault to inject into the next matching requests.
///
/// ```
/// use std::time::Duration;
/// use tokenbroker::emulator::{Fault, Route};
/// let f = Fault::status(Route::Auth, 503).times(2);
/// let slow = Fault::delay(Route::Token, Duration::from_secs(5));
/// let junk = Fault::body(Route::Auth, 200, "{\"connected_account\": ");
/// ```
#[derive(Debug, Clone)]
pub struct Fault {
    pub(crate) route: Option<Route>,
    pub(crate) status: Option<u16>,
    pub(crate) body: Option<String>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) delay: Option<Duration>,
    pub(crate) remaining: usize,
}

impl Fault {
    /// Answer requests to `route` (all routes if `None`... use [`Fault::any`]) with `status` and a
    /// Scalekit-style error body.
    pub fn status(route: Route, status: u16) -> Self {
        Self {
            route: Some(route),
            status: Some(status),
            body: None,
            headers: Vec::new(),
            delay: None,
            remaining: 1,
        }
    }

    /// Answer with `status` and exactly `body` (malformed JSON, HTML, nothing at all...).
    pub fn body(route: Route, status: u16, body: impl Into<String>) -> Self {
        Self {
            body: Some(body.into()),
            ..Self::status(route, status)
        }
    }

    /// Wait `delay` before handling the request normally.
    pub fn delay(route: Route, delay: Duration) -> Self {
        Self {
            status: None,
            delay: Some(delay),
            ..Self::status(route, 200)
        }
    }

    /// Make the fault apply to every route.
    pub fn any(mut self) -> Self {
        self.route = None;
        self
    }

    /// Apply it to the next `n` matching requests (default 1).
    pub fn times(mut self, n: usize) -> Self {
        self.remaining = n;
        self
    }

    /// Also wait `delay` before answering.
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Add a response header (for example `Retry-After` or `Location`).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// Settings for an [`Emulator`].
#[must_use]
pub struct EmulatorBuilder {
    state: State,
    port: u16,
}

impl EmulatorBuilder {
    /// Accept these client credentials (default [`DEFAULT_CLIENT_ID`] / [`DEFAULT_CLIENT_SECRET`]).
    pub fn client(mut self, id: &str, secret: &str) -> Self {
        self.state.client_id = id.into();
        self.state.client_secret = secret.into();
        self
    }

    /// Know an OAuth connection of this name. Requests for connections it does not know are refused, as
    /// Scalekit refuses a connection name that does not exist.
    pub fn connection(mut self, name: &str) -> Self {
        self.state.connections.insert(name.into(), Kind::OAuth);
        self
    }

    /// Know a connection whose credential is an API key, not an OAuth token.
    pub fn api_key_connection(mut self, name: &str) -> Self {
        self.state.connections.insert(name.into(), Kind::ApiKey);
        self
    }

    /// How long magic links live (default 60 s).
    pub fn link_ttl(mut self, ttl: Duration) -> Self {
        self.state.link_ttl = ttl;
        self
    }

    /// How long provider tokens live after approval (default 1 hour).
    pub fn token_ttl(mut self, ttl: Duration) -> Self {
        self.state.token_ttl = ttl;
        self
    }

    /// How long API tokens live (default 86399 s, as Scalekit's).
    pub fn api_token_ttl(mut self, ttl: Duration) -> Self {
        self.state.api_token_ttl = ttl;
        self
    }

    /// Listen on this port of 127.0.0.1 (default 0: any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Starts serving on the current tokio runtime.
    pub async fn start(self) -> std::io::Result<Emulator> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(self.state));
        let task = tokio::spawn(server::serve(
            listener,
            state.clone(),
            format!("http://{addr}"),
        ));
        Ok(Emulator {
            addr,
            state,
            stop: Stop::Task(task),
        })
    }

    /// Starts serving on a thread of its own, for code without a runtime (or with a paused clock).
    pub fn spawn(self) -> std::io::Result<Emulator> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind(("127.0.0.1", self.port)))?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(self.state));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let served = state.clone();
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                tokio::select! {
                    () = server::serve(listener, served, format!("http://{addr}")) => {}
                    _ = rx => {}
                }
            });
        });
        Ok(Emulator {
            addr,
            state,
            stop: Stop::Thread(Some(tx), Some(thread)),
        })
    }
}

enum Stop {
    Task(tokio::task::JoinHandle<()>),
    Thread(
        Option<tokio::sync::oneshot::Sender<()>>,
        Option<std::thread::JoinHandle<()>>,
    ),
}

/// A running emulator; it stops when dropped.
pub struct Emulator {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Stop,
}

impl Emulator {
    /// Settings, starting from the defaults.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder {
            state: State::new(DEFAULT_CLIENT_ID.into(), DEFAULT_CLIENT_SECRET.into()),
            port: 0,
        }
    }

    /// The base URL, such as `http://127.0.0.1:41234`: use it as `SCALEKIT_ENV_URL`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The client ID it accepts.
    pub fn client_id(&self) -> String {
        self.lock().client_id.clone()
    }

    /// The client secret it accepts.
    pub fn client_secret(&self) -> String {
        self.lock().client_secret.clone()
    }

    /// Credentials for a broker talking to this emulator.
    pub fn credentials(&self) -> crate::Credentials {
        let state = self.lock();
        crate::Credentials::new(
            &self.url(),
            &state.client_id,
            state.client_secret.as_str().into(),
        )
        .unwrap_or_else(|e| unreachable!("a loopback URL is always accepted: {e}"))
    }

    /// Authorizes the account as if the user had clicked Approve. Returns `false` if it does not exist.
    pub fn approve(&self, connection_name: &str, identifier: &str) -> bool {
        self.lock().approve(connection_name, identifier)
    }

    /// Clicks Approve on a magic link's page, as a user's browser would. Returns `false` for an unknown or
    /// expired link.
    pub fn approve_link(&self, url: &str) -> bool {
        let mut state = self.lock();
        let Some(code) = url.rsplit('/').next() else {
            return false;
        };
        let Some(link) = state.links.get(code) else {
            return false;
        };
        if link.expires_at <= SystemTime::now() {
            return false;
        }
        let (c, i) = (link.connector.clone(), link.identifier.clone());
        state.approve(&c, &i)
    }

    /// Sets an account's status (creating the account if needed), such as `EXPIRED` or `DISCONNECTED`.
    pub fn set_status(&self, connection_name: &str, identifier: &str, status: &str) {
        let mut state = self.lock();
        let account = state.create(connection_name, identifier);
        account.status = status.into();
        account.updated_at = SystemTime::now();
    }

    /// Makes the provider token expire as Scalekit reports it when it cannot refresh: status `EXPIRED`,
    /// expiry in the past.
    pub fn expire_token(&self, connection_name: &str, identifier: &str) {
        let mut state = self.lock();
        let account = state.create(connection_name, identifier);
        account.status = "EXPIRED".into();
        account.token_expires_at = Some(SystemTime::now() - Duration::from_secs(60));
    }

    /// Sets the provider token's expiry, keeping its status.
    pub fn set_token_expiry(&self, connection_name: &str, identifier: &str, at: SystemTime) {
        self.lock()
            .create(connection_name, identifier)
            .token_expires_at = Some(at);
    }

    /// The account's current provider token.
    pub fn access_token(&self, connection_name: &str, identifier: &str) -> Option<String> {
        let state = self.lock();
        state
            .accounts
            .get(&(connection_name.into(), identifier.into()))?
            .access_token
            .clone()
    }

    /// The account's status, or `None` if it does not exist.
    pub fn status(&self, connection_name: &str, identifier: &str) -> Option<String> {
        let state = self.lock();
        Some(
            state
                .accounts
                .get(&(connection_name.into(), identifier.into()))?
                .status
                .clone(),
        )
    }

    /// Queues a fault; faults apply in the order given.
    pub fn inject(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }

    /// Invalidates every API token issued so far, as a rotated secret or a revoked session would.
    pub fn revoke_api_tokens(&self) {
        self.lock().api_tokens.clear();
    }

    /// The API tokens issued and still valid, for tests that check none of them leaks.
    pub fn api_tokens(&self) -> Vec<String> {
        self.lock().api_tokens.keys().cloned().collect()
    }

    /// Requests received on `route` so far (including faulted ones).
    pub fn requests(&self, route: Route) -> usize {
        self.lock().requests.get(&route).copied().unwrap_or(0)
    }

    /// TCP connections accepted so far.
    pub fn connections_accepted(&self) -> usize {
        self.lock().connections_accepted
    }

    /// Resets the request and connection counters.
    pub fn reset_counts(&self) {
        let mut state = self.lock();
        state.requests.clear();
        state.connections_accepted = 0;
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        match &mut self.stop {
            Stop::Task(task) => task.abort(),
            Stop::Thread(tx, thread) => {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(());
                }
                if let Some(thread) = thread.take() {
                    let _ = thread.join();
                }
            }
        }
    }
}
