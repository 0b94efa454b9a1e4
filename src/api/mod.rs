//! Using a service's token without holding it: [`Broker::send`] makes the request to the provider's API with
//! the token, by the rules that keep it where it belongs, and hands back only the answer.

use reqwest::header::{AUTHORIZATION, LOCATION};
use reqwest::{Method, Request, Response, StatusCode};
use url::Url;

use crate::Broker;
use crate::broker::Target;
use crate::error::Error;
use crate::scalekit::{Proxied, bearer};

/// Redirects followed at most, all on the same origin.
const MAX_REDIRECTS: usize = 5;

impl Broker {
    /// Sends `request` to the API of `service` with its access token and returns the provider's answer.
    ///
    /// The token goes only where it belongs: the request's URL must be `https` (`http` only for a loopback
    /// host) and on a host of `service` (an entry's `hosts`, or the built-in table; the rules of
    /// [`crate::Connections::service_for_url`]), or nothing is sent. Redirects are followed on the same origin
    /// only (scheme, host and port), at most five; one to anywhere else is handed back unfollowed, so the
    /// token never travels there. An `Authorization` header in `request` is replaced. On a 401 the cached
    /// token is dropped and the request sent once more with a fresh one; a second 401 is
    /// [`Error::TokenRejected`] (authorize again). The body must be in memory (not a stream), so it can be
    /// sent twice.
    ///
    /// ```no_run
    /// # async fn run(broker: tokenbroker::Broker) -> Result<(), Box<dyn std::error::Error>> {
    /// let request = reqwest::Client::new()
    ///     .get("https://gmail.googleapis.com/gmail/v1/users/me/profile")
    ///     .build()?;
    /// let answer = broker.send("gmail", None, request).await?;
    /// println!("{}", answer.text().await?);
    /// # Ok(()) }
    /// ```
    pub async fn send(
        &self,
        service: &str,
        identifier: Option<&str>,
        request: Request,
    ) -> Result<Response, Error> {
        let target = self.resolve(service, identifier)?;
        self.connections()
            .check_url_for(request.url().as_str(), service)?;
        let mut retried = false;
        loop {
            let token = self.token(&target).await?;
            let mut answer = self.follow(&request, bearer(token.secret_ref())).await?;
            if answer.status() != StatusCode::UNAUTHORIZED {
                answer.extensions_mut().insert(Sent(token));
                return Ok(answer);
            }
            if retried {
                return Err(rejected(target));
            }
            retried = true;
            self.forget(&target).await;
        }
    }

    /// Like [`Broker::send`], but through Scalekit's proxy: the request's method, headers, body, path and
    /// query go to `{environment}/proxy{path}`, and Scalekit calls the provider with the token, which never
    /// leaves Scalekit. The URL's host is not contacted (a full URL is still checked to be one of the
    /// service's). The path goes as Scalekit's SDKs send theirs, relative to the connector's `proxy_url`: a
    /// full URL's whole path is right for connectors whose `proxy_url` is a bare origin (Gmail, Slack,
    /// GitHub, ...); for one whose `proxy_url` has a base path (such as `https://app.asana.com/api`), build the
    /// request on `https://path.invalid` ([`PATH_ONLY_HOST`]) with the path relative to it
    /// (`/1.0/users/me`), since no Scalekit answer tells the client a connector's `proxy_url`.
    /// [`Error::ProxyNotEnabled`] when Scalekit has not turned the proxy on for the provider;
    /// a 401 after the API token was refetched is [`Error::TokenRejected`].
    pub async fn send_via_scalekit(
        &self,
        service: &str,
        identifier: Option<&str>,
        request: Request,
    ) -> Result<Response, Error> {
        let target = self.resolve(service, identifier)?;
        // A streamed body would go out empty: refused, as `send` refuses it (wire audit 2, C10).
        copy(&request)?;
        if request.url().host_str() != Some(PATH_ONLY_HOST) {
            self.connections()
                .check_url_for(request.url().as_str(), service)?;
        }
        match self
            .client()
            .proxy(&request, &target.connection_name, &target.identifier)
            .await?
        {
            Proxied::NotEnabled(message) => Err(Error::ProxyNotEnabled {
                service: target.service,
                connection_name: target.connection_name,
                message,
            }),
            Proxied::Answer(answer) if answer.status() == StatusCode::UNAUTHORIZED => {
                Err(rejected(target))
            }
            Proxied::Answer(answer) => Ok(answer),
        }
    }

    /// Sends with the token, following same-origin redirects.
    async fn follow(
        &self,
        request: &Request,
        authorization: reqwest::header::HeaderValue,
    ) -> Result<Response, Error> {
        let mut next = copy(request)?;
        // The URL names the host: a Host header of the caller's could send the token to another tenant of a
        // shared front end.
        next.headers_mut().remove(reqwest::header::HOST);
        for _ in 0..=MAX_REDIRECTS {
            next.headers_mut()
                .insert(AUTHORIZATION, authorization.clone());
            let origin = next.url().origin();
            let sent = copy(&next)?;
            let answer = self
                .client()
                .http()
                .execute(sent)
                .await
                .map_err(|e| request_failed(next.url(), &e))?;
            let Some(to) = redirect_target(&answer, next.url()) else {
                return Ok(answer);
            };
            if to.origin() != origin {
                // Handed back unfollowed: the token stays on its origin.
                return Ok(answer);
            }
            let keeps_body = matches!(
                answer.status(),
                StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT
            );
            let method = if keeps_body || next.method() == Method::HEAD {
                next.method().clone()
            } else {
                Method::GET
            };
            let mut redirected = Request::new(method, to);
            *redirected.headers_mut() = next.headers().clone();
            if keeps_body {
                *redirected.body_mut() = next
                    .body()
                    .and_then(reqwest::Body::as_bytes)
                    .map(|b| b.to_vec().into());
            } else {
                redirected
                    .headers_mut()
                    .remove(reqwest::header::CONTENT_TYPE);
                redirected
                    .headers_mut()
                    .remove(reqwest::header::CONTENT_LENGTH);
            }
            next = redirected;
        }
        Err(Error::Request {
            url: request.url().to_string(),
            detail: format!("more than {MAX_REDIRECTS} redirects"),
        })
    }
}

/// The token a [`Broker::send`] answer was sent with, kept with the answer: whatever prints the answer can
/// hide the token if the API echoes it, exactly that one, with no second look-up that could find another
/// (refreshed) token or fail.
#[derive(Clone)]
struct Sent(crate::AccessToken);

/// The token the answer of [`Broker::send`] was sent with, to hide it where the API echoes it (a debugging
/// endpoint, an error page); `None` for any other answer, such as one through Scalekit's proxy, where the
/// token never leaves Scalekit.
///
/// ```no_run
/// # async fn run(broker: tokenbroker::Broker, request: reqwest::Request) -> Result<(), tokenbroker::Error> {
/// let answer = broker.send("gmail", None, request).await?;
/// let sent = tokenbroker::sent_token(&answer).map(|t| t.expose_secret().to_owned());
/// # Ok(()) }
/// ```
pub fn sent_token(answer: &Response) -> Option<&crate::AccessToken> {
    answer.extensions().get::<Sent>().map(|s| &s.0)
}

/// The host a request built from a path alone carries (`https://path.invalid/...`): for the proxy, where
/// only the path and query matter.
pub const PATH_ONLY_HOST: &str = "path.invalid";

fn redirect_target(answer: &Response, from: &Url) -> Option<Url> {
    if !answer.status().is_redirection() {
        return None;
    }
    let location = answer.headers().get(LOCATION)?.to_str().ok()?;
    from.join(location).ok()
}

/// A request that can be sent again: its body is in memory.
fn copy(request: &Request) -> Result<Request, Error> {
    request.try_clone().ok_or_else(|| Error::Request {
        url: request.url().to_string(),
        detail: "its body is a stream, which cannot be sent again after a 401 or a redirect; give the body \
                 as bytes"
            .into(),
    })
}

fn request_failed(url: &Url, e: &reqwest::Error) -> Error {
    Error::Request {
        url: crate::text::one_line(url.as_str()).into_owned(),
        detail: crate::net::describe(e),
    }
}

fn rejected(target: Target) -> Error {
    Error::TokenRejected {
        service: target.service,
        connection_name: target.connection_name,
        identifier: target.identifier,
    }
}
