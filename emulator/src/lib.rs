//! A local, stateful emulator of the Scalekit endpoints tokenbroker uses (feature `emulator`).
//!
//! It serves `POST /oauth/token` and the connected-account calls (`auth`, `details`, create, `magic_link`,
//! list, delete, `user/verify`), `GET /api/v1/connections/app` and the proxy `/proxy{path}` on loopback with
//! Scalekit's JSON shapes and error bodies, as the wire audit documents them. A magic link opens a page with
//! Approve and Deny; what Approve does depends on the environment's [`UserVerification`] mode (by default
//! `Disabled`: the account becomes `ACTIVE` with a random token). Tests drive it directly (click a link's
//! buttons, set a status, expire a token or an auth request, inject faults) and read how many requests and
//! connections it got.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tokenbroker_emulator::{Emulator, Route};
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

mod accounts;
mod controls;
mod fault;
mod flow;
mod journal;
mod page;
mod proxy;
mod render;
pub mod rules;
mod server;
mod state;
mod validate;

pub use fault::Fault;
pub use flow::{Approval, UserVerification};
pub use journal::{MAX_RECORDED, Recorded};

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
    /// The pages a browser opens: a magic link's page, its buttons, and `/verified`.
    Page,
    /// `POST /api/v1/connected_accounts/user/verify`
    UserVerify,
    /// `GET /api/v1/connections/app`
    AppConnections,
    /// `ANY /proxy{path}`
    Proxy,
}

/// The cookie the emulated Scalekit-dashboard sign-in sets ([`UserVerification::ScalekitUsers`]).
pub const DASHBOARD_COOKIE: &str = "scalekit_dashboard_session";

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
        self.state.add_connection(name, Kind::OAuth);
        self
    }

    /// Know a connection whose credential is an API key, not an OAuth token.
    pub fn api_key_connection(mut self, name: &str) -> Self {
        self.state.add_connection(name, Kind::ApiKey);
        self
    }

    /// Know a Google domain-wide-delegation connection: its accounts hold the token in
    /// `authorization_details.google_dwd` with the expiry there, the account's own `token_expires_at` unset.
    pub fn dwd_connection(mut self, name: &str) -> Self {
        self.state.add_connection(name, Kind::GoogleDwd);
        self
    }

    /// Know an ORG_WIDE connection (`auth_mode` ORG_WIDE in the list): a user's approval records consent,
    /// and the account becomes `ACTIVE` holding no token (the shared credential is an administrator's).
    pub fn org_wide_connection(mut self, name: &str) -> Self {
        self.state.add_connection(name, Kind::OrgWide);
        self
    }

    /// Render unset timestamps as `0001-01-01T00:00:00Z`, as a Go server does for a zero `time.Time`, instead
    /// of `null` (default `false`; which one Scalekit sends for connected accounts is UNCONFIRMED).
    pub fn zero_timestamps(mut self, yes: bool) -> Self {
        self.state.zero_timestamps = yes;
        self
    }

    /// Hand out magic links on another origin, such as `https://auth.scalekit.cloud` (links are
    /// `{origin}/magic/{code}`; [`Emulator::approve_link`] still takes them).
    pub fn link_origin(mut self, origin: &str) -> Self {
        self.state.link_base = Some(origin.into());
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

    /// The environment's user-verification mode (default [`UserVerification::Disabled`]).
    pub fn user_verification(mut self, mode: UserVerification) -> Self {
        self.state.user_verification = mode;
        self
    }

    /// How long an auth request waits for `POST /user/verify` after Approve (default 10 minutes).
    pub fn verify_ttl(mut self, ttl: Duration) -> Self {
        self.state.verify_ttl = ttl;
        self
    }

    /// The `post_user_verify_redirect_url` that `/user/verify` returns (default the emulator's own
    /// `/verified` page, which says the account is connected).
    pub fn post_verify_redirect(mut self, url: &str) -> Self {
        self.state.post_verify_url = Some(url.into());
        self
    }

    /// Accept any connection name Scalekit's validation admits, not only the configured ones (default
    /// `false`). Unlisted names get OAuth connections.
    pub fn accept_any_connection(mut self, yes: bool) -> Self {
        self.state.accept_any_connection = yes;
        self
    }

    /// Enable the proxy (`/proxy{path}`) for every connection, forwarding to `base` (such as
    /// `http://127.0.0.1:8080`) with the account's access token. Without it, the proxy refuses every call as
    /// not enabled.
    pub fn proxy_upstream(mut self, base: &str) -> Self {
        self.state.proxy_upstream = Some(base.into());
        self
    }

    /// Leave the proxy disabled for this connection even with a [`proxy_upstream`](Self::proxy_upstream),
    /// as for a provider Scalekit support has not enabled it for.
    pub fn no_proxy(mut self, connection_name: &str) -> Self {
        self.state.no_proxy.insert(connection_name.into());
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
        let mut state = self.state;
        state.base = format!("http://{addr}");
        let state = Arc::new(Mutex::new(state));
        let task = tokio::spawn(server::serve(listener, state.clone()));
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
        let mut state = self.state;
        state.base = format!("http://{addr}");
        let state = Arc::new(Mutex::new(state));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let served = state.clone();
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                tokio::select! {
                    () = server::serve(listener, served) => {}
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
    pub fn credentials(&self) -> tokenbroker::Credentials {
        let state = self.lock();
        tokenbroker::Credentials::new(
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

    /// The API requests received (not the browser's pages), oldest first: the newest
    /// [`MAX_RECORDED`] of them, for tests that pin exactly what a client sends.
    pub fn journal(&self) -> Vec<Recorded> {
        self.lock().journal.iter().cloned().collect()
    }

    /// TCP connections accepted so far.
    pub fn connections_accepted(&self) -> usize {
        self.lock().connections_accepted
    }

    /// Resets the request and connection counters.
    pub fn reset_counts(&self) {
        let mut state = self.lock();
        state.requests.clear();
        state.journal.clear();
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
