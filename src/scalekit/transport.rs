//! Sending requests to Scalekit: the API token, the 401 refetch, retries within one deadline, size caps,
//! and secrets scrubbed from every error answer before anything reads it.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;
use zeroize::Zeroizing;

use super::answer::{api_error, parse, refusal};
use super::model::ApiTokenBody;
use super::{Answer, ApiToken, Client, Endpoint, retry};
use crate::error::Error;

/// Answers larger than this are refused rather than buffered: a real one is a few kilobytes.
const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Refetch the API token this long before Scalekit says it expires.
const API_TOKEN_MARGIN: Duration = Duration::from_secs(60);
/// How long to keep an API token whose answer gave no lifetime.
const API_TOKEN_DEFAULT_LIFETIME: Duration = Duration::from_secs(300);
/// The API version of the protos tokenbroker implements (Scalekit's Python SDK 2.21.0 sends this date,
/// `core.py:190`), sent on every call as Scalekit's SDKs send it, the token call included.
pub(super) const API_VERSION: &str = "20261012";

impl Client {
    /// Sends one `/api/v1/*` call with the API token; on 401, refetches the token once and retries once.
    pub(super) async fn call(
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
                .header(AUTHORIZATION, bearer(&token.value))
                .header("x-api-version", API_VERSION);
            if !query.is_empty() {
                request = request.query(query);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let mut answer = self.send(endpoint, request).await?;
            self.scrub(&mut answer, Some(&token.value));
            if answer.status != StatusCode::UNAUTHORIZED {
                return Ok(answer);
            }
            if refetched {
                return Err(Error::CredentialsRejected(api_error(endpoint, &answer)));
            }
            refetched = true;
            let stale = token.value;
            self.api_token
                .invalidate(|t| t.value.expose_secret() == stale.expose_secret())
                .await;
        }
    }

    /// An answer's body without the client secret or the API token, wherever and however they were echoed:
    /// in any JSON string of any answer, success or error (after decoding, so `\u0041PI-...` is caught), or
    /// anywhere in a body that is not JSON. Nothing reads a body before this.
    fn scrub(&self, answer: &mut Answer, api_token: Option<&SecretString>) {
        let mut secrets = vec![self.credentials.client_secret().expose_secret()];
        secrets.extend(api_token.map(ExposeSecret::expose_secret));
        match serde_json::from_slice::<serde_json::Value>(&answer.body) {
            Ok(mut value) => {
                redact_strings(&mut value, &secrets);
                answer.body = Zeroizing::new(serde_json::to_vec(&value).unwrap_or_default());
            }
            Err(_) => {
                let text = Zeroizing::new(String::from_utf8_lossy(&answer.body).into_owned());
                answer.body = Zeroizing::new(crate::text::redact(&text, &secrets).into_bytes());
            }
        }
    }

    /// Gets an API token (or reuses the current one): proves the credentials are accepted.
    pub(crate) async fn authenticate(&self) -> Result<(), Error> {
        self.api_token().await.map(drop)
    }

    pub(super) async fn api_token(&self) -> Result<ApiToken, Error> {
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
            .header("x-api-version", API_VERSION)
            .body(form.as_bytes().to_vec());
        // The API token is in this answer on purpose: only the secret is scrubbed from it.
        let mut answer = self.send(endpoint, request).await?;
        self.scrub(&mut answer, None);
        match answer.status {
            s if s.is_success() => {}
            StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(Error::CredentialsRejected(api_error(endpoint, &answer)));
            }
            _ => return Err(refusal(&self.url(endpoint), endpoint, &answer)),
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
            let sent = Instant::now();
            let outcome = self.send_once(endpoint, attempt, deadline).await;
            let repeatable = endpoint.is_repeatable();
            let wait = match &outcome {
                Ok(answer) if retry::is_transient(answer.status, repeatable) => {
                    match answer.retry_after {
                        Some(asked) if asked > retry::MAX_RETRY_AFTER => None,
                        Some(asked) => Some(asked),
                        None => Some(retry::backoff(retries)),
                    }
                }
                Err(Error::Unavailable {
                    source: Some(e), ..
                }) if retry::is_transient_error(e, repeatable) => Some(retry::backoff(retries)),
                _ => None,
            }
            .filter(|_| retries < retry::MAX_RETRIES)
            .filter(|wait| deadline.is_none_or(|d| Instant::now() + *wait < d));
            self.observe(&request, &outcome, sent, retries + 1, wait);
            let Some(wait) = wait else {
                return outcome;
            };
            tokio::time::sleep(wait).await;
            retries += 1;
        }
    }

    /// Tells the observer, if any, about one attempt.
    fn observe(
        &self,
        request: &reqwest::RequestBuilder,
        outcome: &Result<Answer, Error>,
        sent: Instant,
        attempt: u32,
        retry_in: Option<Duration>,
    ) {
        let Some(observer) = &self.observer else {
            return;
        };
        let Some(built) = request.try_clone().and_then(|r| r.build().ok()) else {
            return;
        };
        let mut url = built.url().clone();
        // Validated without them; removed anyway, since this line is printed.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url.set_fragment(None);
        let (status, failure) = match outcome {
            Ok(answer) => (Some(answer.status.as_u16()), None),
            Err(Error::Unavailable { detail, .. }) => (None, Some(detail.clone())),
            Err(e) => (None, Some(e.to_string())),
        };
        observer(&crate::observe::RequestEvent {
            method: built.method().to_string(),
            url: url.to_string(),
            status,
            failure,
            elapsed: sent.elapsed(),
            attempt,
            retry_in,
        });
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
                format!("{} failed: {}", endpoint.label(), crate::net::describe(&e)),
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
                    "HTTP {status} redirect to {:?} was not followed; check SCALEKIT_ENV_URL",
                    crate::text::tidy(to)
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
                    crate::net::describe(&e)
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
}

/// Every string in `value` with the secrets redacted.
fn redact_strings(value: &mut serde_json::Value, secrets: &[&str]) {
    use serde_json::Value;
    match value {
        Value::String(s) => *s = crate::text::redact(s, secrets),
        Value::Array(items) => items.iter_mut().for_each(|v| redact_strings(v, secrets)),
        Value::Object(map) => map.values_mut().for_each(|v| redact_strings(v, secrets)),
        _ => {}
    }
}

fn too_large(endpoint: Endpoint) -> Error {
    Error::Protocol {
        endpoint: endpoint.label(),
        detail: format!("the answer is larger than {MAX_BODY_BYTES} bytes; refused"),
    }
}

/// `Bearer <token>`, marked sensitive so that no HTTP layer logs it; the temporary string is zeroed.
pub(crate) fn bearer(token: &SecretString) -> HeaderValue {
    let text = Zeroizing::new(format!("Bearer {}", token.expose_secret()));
    let mut value =
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("Bearer invalid"));
    value.set_sensitive(true);
    value
}
