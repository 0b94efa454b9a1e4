//! The Scalekit REST client: the API token, and the connected-account calls `get_token` needs.

pub(crate) mod model;
mod retry;

use std::time::{Duration, SystemTime};

use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use tokio::time::Instant;
use url::Url;
use zeroize::Zeroizing;

use crate::config::Credentials;
use crate::error::{ApiError, Error};
use crate::flight::Flight;
use crate::timefmt::parse_rfc3339;
use model::{AccountEnvelope, ApiTokenBody, ConnectedAccount, ErrorBody, MagicLinkBody};

/// Answers larger than this are refused rather than buffered: a real one is a few kilobytes.
const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Refetch the API token this long before Scalekit says it expires.
const API_TOKEN_MARGIN: Duration = Duration::from_secs(60);
/// How long to keep an API token whose answer gave no lifetime.
const API_TOKEN_DEFAULT_LIFETIME: Duration = Duration::from_secs(300);

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

/// A magic link for the user.
pub(crate) struct MagicLink {
    pub(crate) url: Url,
    pub(crate) expires_at: Option<SystemTime>,
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
            _ => Err(self.refusal(endpoint, &answer)),
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
            _ => Err(self.refusal(Endpoint::Create, &answer)),
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
            return Err(self.refusal(Endpoint::MagicLink, &answer));
        }
        magic_link_from(&answer.body)
    }

    pub(crate) async fn delete(&self, connector: &str, identifier: &str) -> Result<bool, Error> {
        let body = serde_json::json!({"connector": connector, "identifier": identifier});
        let answer = self.call(Endpoint::Delete, &[], Some(&body)).await?;
        match answer.status {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.refusal(Endpoint::Delete, &answer)),
        }
    }

    fn account_from(&self, endpoint: Endpoint, answer: &Answer) -> Result<ConnectedAccount, Error> {
        let envelope: AccountEnvelope = parse(endpoint, &answer.body)?;
        envelope.connected_account.ok_or_else(|| Error::Protocol {
            endpoint: endpoint.label(),
            detail: "the answer has no connected_account".into(),
        })
    }

    /// Sends one `/api/v1/*` call with the API token; on 401, refetches the token once and retries once.
    async fn call(
        &self,
        endpoint: Endpoint,
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, Error> {
        let mut refetched = false;
        loop {
            let token = self.api_token().await?;
            let mut request = self
                .http
                .request(endpoint.method(), self.url(endpoint))
                .header(AUTHORIZATION, bearer(&token.value));
            if !query.is_empty() {
                request = request.query(query);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let mut answer = self.send(endpoint, request).await?;
            if !answer.status.is_success() {
                // An error body that echoes the API token must not carry it into an error message.
                redact(&mut answer.body, token.value.expose_secret().as_bytes());
            }
            if answer.status != StatusCode::UNAUTHORIZED {
                return Ok(answer);
            }
            if refetched {
                return Err(Error::CredentialsRejected(
                    self.api_error(endpoint, &answer),
                ));
            }
            refetched = true;
            let stale = token.value;
            self.api_token
                .invalidate(|t| t.value.expose_secret() == stale.expose_secret())
                .await;
        }
    }

    /// Gets an API token (or reuses the current one): proves the credentials are accepted.
    pub(crate) async fn authenticate(&self) -> Result<(), Error> {
        self.api_token().await.map(drop)
    }

    async fn api_token(&self) -> Result<ApiToken, Error> {
        self.api_token
            .get(
                |t| Instant::now() < t.fresh_until,
                |_| true,
                || self.fetch_api_token(),
            )
            .await
    }

    async fn fetch_api_token(&self) -> Result<ApiToken, Error> {
        let endpoint = Endpoint::Token;
        let form = Zeroizing::new(
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("grant_type", "client_credentials")
                .append_pair("client_id", self.credentials.client_id())
                .append_pair(
                    "client_secret",
                    self.credentials.client_secret().expose_secret(),
                )
                .finish(),
        );
        let request = self
            .http
            .post(self.url(endpoint))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(form.as_bytes().to_vec());
        let answer = self.send(endpoint, request).await?;
        match answer.status {
            s if s.is_success() => {}
            StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(Error::CredentialsRejected(
                    self.api_error(endpoint, &answer),
                ));
            }
            _ => return Err(self.refusal(endpoint, &answer)),
        }
        let body: ApiTokenBody = parse(endpoint, &answer.body)?;
        let value = body
            .access_token
            .filter(|t| !t.expose_secret().is_empty())
            .ok_or_else(|| Error::Protocol {
                endpoint: endpoint.label(),
                detail: "no access_token in the answer".into(),
            })?;
        let lifetime = body
            .expires_in
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(|s| Duration::from_secs_f64(s.min(1e9)))
            .unwrap_or(API_TOKEN_DEFAULT_LIFETIME);
        // Short-lived tokens keep half their life rather than none.
        let margin = API_TOKEN_MARGIN.min(lifetime / 2);
        Ok(ApiToken {
            value,
            fresh_until: Instant::now() + (lifetime - margin),
        })
    }

    /// Sends a request, retrying transient failures (see [`retry`]) until the call's deadline.
    async fn send(
        &self,
        endpoint: Endpoint,
        request: reqwest::RequestBuilder,
    ) -> Result<Answer, Error> {
        let deadline = self.timeout.map(|t| Instant::now() + t);
        let mut retries = 0;
        loop {
            // Bodies here are bytes or JSON, so a request can always be cloned; if not, it is sent once.
            let Some(attempt) = request.try_clone() else {
                return self.send_once(endpoint, request, deadline).await;
            };
            let outcome = self.send_once(endpoint, attempt, deadline).await;
            let wait = match &outcome {
                Ok(answer) if retry::is_transient(answer.status) => match answer.retry_after {
                    Some(asked) if asked > retry::MAX_RETRY_AFTER => None,
                    Some(asked) => Some(asked),
                    None => Some(retry::backoff(retries)),
                },
                Err(Error::Unavailable {
                    source: Some(e), ..
                }) if retry::is_transient_error(e) => Some(retry::backoff(retries)),
                _ => None,
            };
            let Some(wait) = wait.filter(|_| retries < retry::MAX_RETRIES) else {
                return outcome;
            };
            if deadline.is_some_and(|d| Instant::now() + wait >= d) {
                return outcome;
            }
            tokio::time::sleep(wait).await;
            retries += 1;
        }
    }

    async fn send_once(
        &self,
        endpoint: Endpoint,
        mut request: reqwest::RequestBuilder,
        deadline: Option<Instant>,
    ) -> Result<Answer, Error> {
        if let Some(d) = deadline {
            // reqwest's timeout covers connecting, sending and reading the whole body.
            request = request.timeout(d.saturating_duration_since(Instant::now()));
        }
        let unavailable = |detail: String, source: Option<reqwest::Error>| Error::Unavailable {
            url: self.url(endpoint).to_string(),
            detail,
            source: source.map(std::sync::Arc::new),
        };
        let mut response = request.send().await.map_err(|e| {
            unavailable(
                format!("{} failed: {}", endpoint.label(), transport_detail(&e)),
                Some(e),
            )
        })?;
        let status = response.status();
        let retry_after = retry::retry_after(response.headers());
        if status.is_redirection() {
            // Redirects are never followed: the bearer token must not travel to another host.
            let to = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .unwrap_or("?");
            return Err(Error::Protocol {
                endpoint: endpoint.label(),
                detail: format!(
                    "HTTP {status} redirect to {to:?} was not followed; check SCALEKIT_ENV_URL"
                ),
            });
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_BODY_BYTES as u64)
        {
            return Err(too_large(endpoint));
        }
        let mut body = Zeroizing::new(Vec::new());
        while let Some(chunk) = response.chunk().await.map_err(|e| {
            unavailable(
                format!(
                    "reading the answer to {} failed: {}",
                    endpoint.label(),
                    transport_detail(&e)
                ),
                Some(e),
            )
        })? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(too_large(endpoint));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer {
            status,
            body,
            retry_after,
        })
    }

    /// An error answer as the right error: 429 and 5xx mean unavailable, anything else a refusal.
    fn refusal(&self, endpoint: Endpoint, answer: &Answer) -> Error {
        let api = self.api_error(endpoint, answer);
        if answer.status == StatusCode::TOO_MANY_REQUESTS || answer.status.is_server_error() {
            Error::Unavailable {
                url: self.url(endpoint).to_string(),
                detail: api.to_string(),
                source: None,
            }
        } else {
            Error::Api(api)
        }
    }

    fn api_error(&self, endpoint: Endpoint, answer: &Answer) -> ApiError {
        let parsed: Option<ErrorBody> = serde_json::from_slice(&answer.body).ok();
        let (code, error_code, message) = match parsed {
            Some(b) => (
                b.code.as_ref().and_then(serde_json::Value::as_i64),
                b.details
                    .unwrap_or_default()
                    .into_iter()
                    .find_map(|d| d.error_code)
                    .or(b.error.clone()),
                b.message
                    .or(b.error_description)
                    .or(b.error)
                    .unwrap_or_default(),
            ),
            None => (
                None,
                None,
                String::from_utf8_lossy(&answer.body).into_owned(),
            ),
        };
        let mut message = tidy(&message);
        // Whatever a server echoes back, the client secret is never repeated in an error.
        let secret = self.credentials.client_secret().expose_secret();
        if !secret.is_empty() && message.contains(secret) {
            message = message.replace(secret, "[redacted]");
        }
        ApiError {
            endpoint: endpoint.label(),
            status: answer.status.as_u16(),
            code,
            error_code,
            message,
        }
    }
}

/// A magic-link answer: the link (http or https) and its expiry.
pub(crate) fn magic_link_from(body: &[u8]) -> Result<MagicLink, Error> {
    let parsed: MagicLinkBody = parse(Endpoint::MagicLink, body)?;
    let protocol = |detail: String| Error::Protocol {
        endpoint: Endpoint::MagicLink.label(),
        detail,
    };
    let link = parsed
        .link
        .filter(|l| !l.trim().is_empty())
        .ok_or_else(|| protocol("no link in the answer".into()))?;
    let url =
        Url::parse(link.trim()).map_err(|e| protocol(format!("the link is not a URL ({e})")))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(protocol(format!(
            "the link has scheme {:?}, not https",
            url.scheme()
        )));
    }
    let expires_at = match parsed
        .expiry
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        None => None,
        Some(e) => Some(
            parse_rfc3339(e)
                .ok_or_else(|| protocol(format!("expiry {e:?} is not an RFC 3339 time")))?,
        ),
    };
    Ok(MagicLink { url, expires_at })
}

pub(crate) fn parse<T: DeserializeOwned>(endpoint: Endpoint, body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| Error::Protocol {
        endpoint: endpoint.label(),
        // serde's messages can quote values, which may be secrets: say only what kind of problem and where.
        detail: match e.classify() {
            serde_json::error::Category::Eof if body.iter().all(u8::is_ascii_whitespace) => {
                "the body is empty".into()
            }
            serde_json::error::Category::Eof => "the JSON body is cut short".into(),
            serde_json::error::Category::Syntax => format!(
                "the body is not JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
            _ => format!(
                "the JSON has an unexpected shape (line {}, column {})",
                e.line(),
                e.column()
            ),
        },
    })
}

fn too_large(endpoint: Endpoint) -> Error {
    Error::Protocol {
        endpoint: endpoint.label(),
        detail: format!("the answer is larger than {MAX_BODY_BYTES} bytes; refused"),
    }
}

/// `Bearer <token>`, marked sensitive so that no HTTP layer logs it; the temporary string is zeroed.
fn bearer(token: &SecretString) -> HeaderValue {
    let text = Zeroizing::new(format!("Bearer {}", token.expose_secret()));
    let mut value =
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("Bearer invalid"));
    value.set_sensitive(true);
    value
}

fn transport_detail(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".into();
    }
    if e.is_connect() {
        return "could not connect".into();
    }
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail = format!("{detail}: {s}");
        source = s.source();
    }
    detail
}

/// One line, printable, at most 300 characters.
pub(crate) fn tidy(message: &str) -> String {
    // A proxy's HTML error page: its text says what happened, its markup does not.
    let text = if message.trim_start().starts_with('<') {
        strip_tags(message)
    } else {
        message.to_owned()
    };
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let clean: String = one_line
        .chars()
        .filter(|c| !c.is_control())
        .take(300)
        .collect();
    if clean.len() < one_line.len() && one_line.chars().count() > 300 {
        format!("{clean}…")
    } else {
        clean
    }
}

/// Replaces every occurrence of `secret` in `body` with `[redacted]`.
fn redact(body: &mut Zeroizing<Vec<u8>>, secret: &[u8]) {
    if secret.is_empty() || !body.windows(secret.len()).any(|w| w == secret) {
        return;
    }
    let mut clean = Zeroizing::new(Vec::with_capacity(body.len()));
    let mut rest: &[u8] = body;
    while !rest.is_empty() {
        if rest.starts_with(secret) {
            clean.extend_from_slice(b"[redacted]");
            rest = &rest[secret.len()..];
        } else {
            clean.push(rest[0]);
            rest = &rest[1..];
        }
    }
    *body = clean;
}

/// The text of HTML, without tags, `<script>` and `<style>` contents.
fn strip_tags(html: &str) -> String {
    let mut text = String::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        text.push(' ');
        let tag = &rest[open..];
        let lower = tag.get(..7).unwrap_or(tag).to_ascii_lowercase();
        let skip_to = if lower.starts_with("<script") || lower.starts_with("<style") {
            let closing = if lower.starts_with("<script") {
                "</script>"
            } else {
                "</style>"
            };
            tag.to_ascii_lowercase()
                .find(closing)
                .map(|i| i + closing.len())
        } else {
            tag.find('>').map(|i| i + 1)
        };
        match skip_to {
            Some(n) => rest = &tag[n..],
            None => {
                rest = "";
                break;
            }
        }
    }
    text.push_str(rest);
    text
}
