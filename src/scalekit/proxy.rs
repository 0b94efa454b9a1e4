//! Scalekit's proxy (`ANY {env}/proxy{path}`, wire audit 6.1): the provider call made by Scalekit with the
//! account's token, which never leaves Scalekit. The answer is the provider's, streamed as it arrives.

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HOST};
use secrecy::ExposeSecret;

use super::transport::{API_VERSION, bearer};
use super::{Client, model};
use crate::error::Error;

/// Error answers are read up to this to tell a proxy refusal from the provider's own.
const MAX_ERROR_BYTES: usize = 1024 * 1024;

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

/// An error answer is read to see whether it is the proxy's own "not enabled" refusal, whatever its framing
/// (a length or chunked) and type (JSON, text or none): its status, `error_code`, type and framing are not
/// documented, only the text "proxy not enabled for provider" (wire audit 2, C9). It is read whole, up to
/// [`MAX_ERROR_BYTES`], and handed on as it came when it is not that refusal; one declared larger is handed
/// on unread, one that turns out larger is an error rather than a cut answer.
async fn refusal_or_answer(mut response: reqwest::Response) -> Result<Proxied, Error> {
    let textual = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("application/json") || v.starts_with("text/"));
    let declared_large = response
        .content_length()
        .is_some_and(|n| n > MAX_ERROR_BYTES as u64);
    if response.status().is_success() || declared_large || !textual {
        return Ok(Proxied::Answer(response));
    }
    let status = response.status();
    let headers = response.headers().clone();
    let failed = |e: reqwest::Error| Error::Unavailable {
        url: String::new(),
        detail: format!("reading the proxy's answer failed: {e}"),
        source: Some(std::sync::Arc::new(e)),
    };
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(failed)? {
        if body.len() + chunk.len() > MAX_ERROR_BYTES {
            return Err(Error::Request {
                url: String::new(),
                detail: format!(
                    "the proxy's error answer (HTTP {status}) is larger than {MAX_ERROR_BYTES} bytes; refused"
                ),
            });
        }
        body.extend_from_slice(&chunk);
    }
    let (code, message) = match serde_json::from_slice::<model::ErrorBody>(&body) {
        Ok(parsed) => (
            parsed
                .details
                .unwrap_or_default()
                .into_iter()
                .find_map(|d| d.error_code),
            parsed.message.unwrap_or_default(),
        ),
        Err(_) => (None, String::from_utf8_lossy(&body).into_owned()),
    };
    if code.as_deref() == Some("PROXY_NOT_ENABLED")
        || message.to_ascii_lowercase().contains("proxy not enabled")
    {
        return Ok(Proxied::NotEnabled(crate::text::tidy(&message)));
    }
    let mut rebuilt = http::Response::new(body);
    *rebuilt.status_mut() = status;
    *rebuilt.headers_mut() = headers;
    Ok(Proxied::Answer(reqwest::Response::from(rebuilt)))
}
