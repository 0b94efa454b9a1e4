//! The emulator's world: clients, API tokens, connections, connected accounts, magic links, faults, counts.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::{Fault, Route, UserVerification};

/// What kind of credential a connection holds once authorized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    OAuth,
    ApiKey,
    /// Google domain-wide delegation: the token is in `authorization_details.google_dwd`, with its own
    /// expiry, and the account's own `token_expires_at` is unset.
    GoogleDwd,
    /// An ORG_WIDE connection (connections PY 2.21.0, `ConnectionAuthMode`): each user's account records
    /// consent only and holds no credential (connected_accounts PY 2.21.0, `is_org_wide_credential`).
    OrgWide,
}

/// A connection of the environment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Connection {
    pub(crate) kind: Kind,
    /// Makes its `conn_…` id: 22 characters, within `connection_id`'s `max_len: 32`.
    pub(crate) number: u64,
}

pub(crate) struct Account {
    pub(crate) id: String,
    pub(crate) status: String,
    pub(crate) access_token: Option<String>,
    pub(crate) scopes: Vec<String>,
    pub(crate) token_expires_at: Option<SystemTime>,
    pub(crate) updated_at: SystemTime,
    pub(crate) last_used_at: Option<SystemTime>,
}

pub(crate) struct Link {
    pub(crate) connector: String,
    pub(crate) identifier: String,
    pub(crate) expires_at: SystemTime,
    /// The caller's opaque `state`, handed back on the user-verify redirect.
    pub(crate) state: String,
    /// Where Custom verification sends the browser; empty when the link was made without one.
    pub(crate) user_verify_url: String,
    /// Set by the first Approve or Deny: the OAuth flow behind a link runs once.
    pub(crate) used: bool,
}

/// A finished OAuth flow waiting for `POST /user/verify` (Custom verification).
pub(crate) struct AuthRequest {
    pub(crate) connector: String,
    pub(crate) identifier: String,
    pub(crate) expires_at: SystemTime,
    /// Verified once already: a repeat answers 200 again without minting another token.
    pub(crate) verified: bool,
}

pub(crate) struct State {
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) api_token_ttl: Duration,
    pub(crate) link_ttl: Duration,
    pub(crate) token_ttl: Duration,
    pub(crate) connections: BTreeMap<String, Connection>,
    pub(crate) api_tokens: HashMap<String, SystemTime>,
    pub(crate) accounts: BTreeMap<(String, String), Account>,
    pub(crate) links: HashMap<String, Link>,
    pub(crate) faults: Vec<Fault>,
    pub(crate) requests: HashMap<Route, usize>,
    pub(crate) journal: std::collections::VecDeque<super::Recorded>,
    pub(crate) connections_accepted: usize,
    pub(crate) user_verification: UserVerification,
    pub(crate) verify_ttl: Duration,
    /// `None`: the emulator's own `/verified` page.
    pub(crate) post_verify_url: Option<String>,
    pub(crate) accept_any_connection: bool,
    pub(crate) proxy_upstream: Option<String>,
    pub(crate) no_proxy: BTreeSet<String>,
    pub(crate) auth_requests: HashMap<String, AuthRequest>,
    /// Emulated Scalekit-dashboard session cookies.
    pub(crate) sessions: HashSet<String>,
    /// The emulator's own base URL, known once it listens.
    pub(crate) base: String,
    /// Where magic links point, when not at the emulator itself (a test of links on another host).
    pub(crate) link_base: Option<String>,
    /// Render unset timestamps as `0001-01-01T00:00:00Z` rather than `null`.
    pub(crate) zero_timestamps: bool,
    random: RandomState,
    counter: u64,
}

impl State {
    pub(crate) fn new(client_id: String, client_secret: String) -> Self {
        Self {
            client_id,
            client_secret,
            api_token_ttl: Duration::from_secs(86_399),
            link_ttl: Duration::from_secs(60),
            token_ttl: Duration::from_secs(3600),
            connections: BTreeMap::new(),
            api_tokens: HashMap::new(),
            accounts: BTreeMap::new(),
            links: HashMap::new(),
            faults: Vec::new(),
            requests: HashMap::new(),
            journal: std::collections::VecDeque::new(),
            connections_accepted: 0,
            user_verification: UserVerification::Disabled,
            verify_ttl: Duration::from_secs(600),
            post_verify_url: None,
            accept_any_connection: false,
            proxy_upstream: None,
            no_proxy: BTreeSet::new(),
            auth_requests: HashMap::new(),
            sessions: HashSet::new(),
            base: String::new(),
            link_base: None,
            zero_timestamps: false,
            random: RandomState::new(),
            counter: 0,
        }
    }

    /// A random-looking string; the emulator's tokens only need to be unique and unguessable in a test.
    pub(crate) fn random(&mut self, prefix: &str) -> String {
        self.counter += 1;
        let a = self.random.hash_one((self.counter, 1u8));
        let b = self.random.hash_one((self.counter, 2u8));
        format!("{prefix}{a:016x}{b:016x}")
    }

    pub(crate) fn issue_api_token(&mut self) -> (String, Duration) {
        let token = self.random("emu_api_");
        self.api_tokens
            .insert(token.clone(), SystemTime::now() + self.api_token_ttl);
        (token, self.api_token_ttl)
    }

    pub(crate) fn api_token_valid(&self, token: &str) -> bool {
        self.api_tokens
            .get(token)
            .is_some_and(|exp| *exp > SystemTime::now())
    }

    pub(crate) fn create(&mut self, connector: &str, identifier: &str) -> &mut Account {
        let id = format!("ca_{}", self.accounts.len() + 1);
        self.accounts
            .entry((connector.to_owned(), identifier.to_owned()))
            .or_insert_with(|| Account {
                id,
                status: "PENDING_AUTH".into(),
                access_token: None,
                scopes: Vec::new(),
                token_expires_at: None,
                updated_at: SystemTime::now(),
                last_used_at: None,
            })
    }

    pub(crate) fn approve(&mut self, connector: &str, identifier: &str) -> bool {
        let token = self.random("emu_at_");
        let ttl = self.token_ttl;
        let org_wide = self.kind(connector) == Kind::OrgWide;
        let Some(account) = self
            .accounts
            .get_mut(&(connector.to_owned(), identifier.to_owned()))
        else {
            return false;
        };
        account.status = "ACTIVE".into();
        account.access_token = (!org_wide).then_some(token);
        account.scopes = scopes(connector);
        account.token_expires_at = Some(SystemTime::now() + ttl);
        account.updated_at = SystemTime::now();
        true
    }

    /// Makes a magic link; `state` and `user_verify_url` are empty when the caller sent none.
    pub(crate) fn new_link(
        &mut self,
        connector: &str,
        identifier: &str,
        state: &str,
        user_verify_url: &str,
    ) -> (String, SystemTime) {
        let code = self.random("ml_");
        let expires_at = SystemTime::now() + self.link_ttl;
        self.links.insert(
            code.clone(),
            Link {
                connector: connector.into(),
                identifier: identifier.into(),
                expires_at,
                state: state.into(),
                user_verify_url: user_verify_url.into(),
                used: false,
            },
        );
        let base = self.link_base.as_deref().unwrap_or(&self.base);
        (
            format!("{}/magic/{code}", base.trim_end_matches('/')),
            expires_at,
        )
    }

    /// Whether a create or magic-link call may name this connection: a configured one, or with
    /// `accept_any_connection` any name Scalekit's validation admits (≤400 of `[A-Za-z0-9_: -]`).
    pub(crate) fn knows(&self, connector: &str) -> bool {
        self.connections.contains_key(connector)
            || (self.accept_any_connection
                && !connector.is_empty()
                && connector.chars().count() <= 400
                && connector
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | ' ' | '-')))
    }

    /// A name accepted through `accept_any_connection` becomes one of the connections from its first use, so
    /// that the list (`connections/app`) and the accounts agree, as they do at Scalekit.
    pub(crate) fn adopt(&mut self, connector: &str) {
        if !self.connections.contains_key(connector) && self.knows(connector) {
            self.add_connection(connector, Kind::OAuth);
        }
    }

    pub(crate) fn add_connection(&mut self, name: &str, kind: Kind) {
        let next = self.connections.len() as u64 + 1;
        let number = self.connections.get(name).map_or(next, |c| c.number);
        self.connections
            .insert(name.to_owned(), Connection { kind, number });
    }

    pub(crate) fn kind(&self, connector: &str) -> Kind {
        self.connections
            .get(connector)
            .map_or(Kind::OAuth, |c| c.kind)
    }
}

/// The scopes an approval grants (and the page says are asked for): invented, but per connection so tests
/// can tell accounts apart.
pub(crate) fn scopes(connector: &str) -> Vec<String> {
    vec![format!("{connector}.read"), format!("{connector}.send")]
}

/// A `google.rpc.Status` error body, as grpc-gateway writes it.
pub(crate) fn error_body(grpc_code: i64, error_code: &str, message: &str) -> Value {
    json!({
        "code": grpc_code,
        "message": message,
        "details": [{"@type": "type.googleapis.com/scalekit.v1.errdetails.ErrorInfo", "error_code": error_code}],
    })
}

/// A 400 `INVALID_ARGUMENT` body naming the field that failed validation, as buf.validate reports it
/// through `validation_error_info`.
pub(crate) fn violation_body(field: &str, description: &str, constraint: &str) -> Value {
    // A message-level (CEL) rule names no field.
    let message = if field.is_empty() {
        description.to_owned()
    } else {
        format!("{field}: {description}")
    };
    let mut body = error_body(3, "INVALID_ARGUMENT", &message);
    body["details"][0]["validation_error_info"] = json!({"field_violations": [
        {"field": field, "description": description, "constraint": constraint}]});
    body
}
