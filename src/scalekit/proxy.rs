//! Scalekit's proxy (`ANY {env}/proxy{path}`, wire audit 6.1): the provider call made by Scalekit with the
//! account's token, which never leaves Scalekit. The answer is the provider's, streamed as it arrives.

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HOST};
use secrecy::ExposeSecret;

use super::transport::{API_VERSION, bearer};
use super::{Client, model};
use crate::error::Error;

/// Larger error answers are not read to tell a proxy refusal from the provider's own: they are passed on.
const MAX_REFUSAL_BYTES: usize = 64 * 1024;

/// What came back through the proxy.
pub(crate) enum Proxied {
    /// The provider's answer (or a refusal of Scalekit's other than the ones below), as it is.
    Answer(reqwest::Response),
    /// The proxy is not enabled for this connection's provider.
    NotEnabled(String),
}

impl Client {
    /// Sends `request` through the proxy for the account: its method, headers and body, to the same path
    /// and query under `{env}/proxy`. The API token goes to Scalekit only; a 401 refetches it once (a second
    /// is the provider's answer, passed on).
    pub(crate) async fn proxy(
        &self,
        request: &reqwest::Request,
        connector: &str,
        identifier: &str,
    ) -> Result<Proxied, Error> {
        let path = &request.url()[url::Position::BeforePath..];
        let url = format!("{}proxy{path}", self.base);
        let mut refetched = false;
        loop {
            let token = self.api_token().await?;
            // The caller's headers never choose the account, the connection or the credential.
            let mut headers = request.headers().clone();
            for name in [
                AUTHORIZATION.as_str(),
                HOST.as_str(),
                "connection_name",
                "identifier",
                "x-api-version",
            ] {
                headers.remove(name);
            }
            let mut sent = self
                .http
                .request(request.method().clone(), &url)
                .headers(headers)
                .header(AUTHORIZATION, bearer(&token.value))
                .header("connection_name", connector)
                .header("identifier", identifier)
                .header("x-api-version", API_VERSION);
            if let Some(body) = request.body().and_then(reqwest::Body::as_bytes) {
                sent = sent.body(body.to_vec());
            }
            let response = sent.send().await.map_err(|e| Error::Unavailable {
                url: url.clone(),
                detail: format!("the proxy request failed: {e}"),
                source: Some(std::sync::Arc::new(e)),
            })?;
            if response.status() == StatusCode::UNAUTHORIZED && !refetched {
                refetched = true;
                let stale = token.value;
                self.api_token
                    .invalidate(|t| t.value.expose_secret() == stale.expose_secret())
                    .await;
                continue;
            }
            return refusal_or_answer(response).await;
        }
    }
}

/// A small JSON error answer is read to see whether it is the proxy's own "not enabled" refusal (its status
/// and body are not documented: this takes Scalekit's usual error shape with `error_code`
/// `PROXY_NOT_ENABLED`, or a message saying "proxy not enabled"); anything else is passed on whole.
async fn refusal_or_answer(response: reqwest::Response) -> Result<Proxied, Error> {
    let small = response
        .content_length()
        .is_some_and(|n| n <= MAX_REFUSAL_BYTES as u64);
    let json = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if response.status().is_success() || !small || !json {
        return Ok(Proxied::Answer(response));
    }
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.map_err(|e| Error::Unavailable {
        url: String::new(),
        detail: format!("reading the proxy's answer failed: {e}"),
        source: Some(std::sync::Arc::new(e)),
    })?;
    if let Ok(parsed) = serde_json::from_slice::<model::ErrorBody>(&body) {
        let code = parsed
            .details
            .unwrap_or_default()
            .into_iter()
            .find_map(|d| d.error_code);
        let message = parsed.message.unwrap_or_default();
        if code.as_deref() == Some("PROXY_NOT_ENABLED")
            || message.to_ascii_lowercase().contains("proxy not enabled")
        {
            return Ok(Proxied::NotEnabled(crate::text::tidy(&message)));
        }
    }
    let mut rebuilt = http::Response::new(body);
    *rebuilt.status_mut() = status;
    *rebuilt.headers_mut() = headers;
    Ok(Proxied::Answer(reqwest::Response::from(rebuilt)))
}
