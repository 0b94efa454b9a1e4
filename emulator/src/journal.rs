//! What the emulator was sent, kept so tests can pin a client's requests byte for byte (the golden request
//! tests), with the bearer token masked.

use hyper::http::request::Parts;

use super::Route;
use super::state::State;

/// How many requests the journal keeps: the oldest go first, so a long test cannot grow it without bound.
pub const MAX_RECORDED: usize = 1000;
/// What one record keeps at most: the start of the body, and the first headers (each value's start). A
/// client's real requests fit whole; a hostile one cannot make a thousand records weigh gigabytes.
const MAX_BODY: usize = 8 * 1024;
const MAX_HEADERS: usize = 64;
const MAX_VALUE: usize = 1024;

/// One request as received.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recorded {
    /// The endpoint.
    pub route: Route,
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, such as `/api/v1/connected_accounts/magic_link`.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// Every header, lowercase names in the order received; `authorization: Bearer <token>` reads
    /// `Bearer ***`.
    pub headers: Vec<(String, String)>,
    /// The body as text (lossy UTF-8).
    pub body: String,
}

impl Recorded {
    pub(crate) fn of(route: Route, parts: &Parts, body: &[u8]) -> Self {
        let headers = parts
            .headers
            .iter()
            .take(MAX_HEADERS)
            .map(|(name, value)| {
                let bytes = value.as_bytes();
                let value =
                    String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_VALUE)]).into_owned();
                let value = match name.as_str() {
                    "authorization" if value.starts_with("Bearer ") => "Bearer ***".to_owned(),
                    _ => value,
                };
                (name.as_str().to_owned(), value)
            })
            .collect();
        Self {
            route,
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            headers,
            body: String::from_utf8_lossy(&body[..body.len().min(MAX_BODY)]).into_owned(),
        }
    }

    /// The value of the header `name` (lowercase), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, or `Null` when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

impl State {
    pub(crate) fn record(&mut self, request: Recorded) {
        if self.journal.len() == MAX_RECORDED {
            self.journal.pop_front();
        }
        self.journal.push_back(request);
    }
}
