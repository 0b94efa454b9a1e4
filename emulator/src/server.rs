//! The emulator's HTTP side: routing, faults, the body-size cap and API-token checks; the endpoints
//! themselves are in `accounts`, `proxy` and `page`.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::Value;

use super::state::{State, error_body, violation_body};
use super::{Fault, Route, accounts, journal, page, proxy, rules, validate};

/// The largest request body the emulator reads; Scalekit's requests are a few hundred bytes.
pub(crate) const MAX_BODY: usize = 64 * 1024;

pub(crate) type Shared = Arc<Mutex<State>>;
pub(crate) type Reply = Response<Full<Bytes>>;

pub(crate) async fn serve(listener: tokio::net::TcpListener, state: Shared) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        lock(&state).connections_accepted += 1;
        let state = state.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(handle(req, &state).await) }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await;
        });
    }
}

pub(crate) fn lock(state: &Shared) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

fn route_of(method: &Method, path: &str) -> Option<Route> {
    Some(match (method, path) {
        (&Method::POST, "/oauth/token") => Route::Token,
        (&Method::GET, "/api/v1/connected_accounts/auth") => Route::Auth,
        (&Method::GET, "/api/v1/connected_accounts/details") => Route::Details,
        (&Method::POST, "/api/v1/connected_accounts") => Route::Create,
        (&Method::GET, "/api/v1/connected_accounts") => Route::List,
        (&Method::POST, "/api/v1/connected_accounts/magic_link") => Route::MagicLink,
        (&Method::POST, "/api/v1/connected_accounts:delete") => Route::Delete,
        (&Method::POST, "/api/v1/connected_accounts/user/verify") => Route::UserVerify,
        (&Method::GET, "/api/v1/connections/app") => Route::AppConnections,
        (_, p) if p == "/proxy" || p.starts_with("/proxy/") => Route::Proxy,
        (&Method::GET, "/verified") => Route::Page,
        (_, p) if p.starts_with("/magic/") => Route::Page,
        _ => return None,
    })
}

/// The first queued fault for `route`, used up by one.
fn take_fault(state: &Shared, route: Route) -> Option<Fault> {
    let mut s = lock(state);
    *s.requests.entry(route).or_default() += 1;
    let i = s
        .faults
        .iter()
        .position(|f| f.remaining > 0 && f.route.is_none_or(|r| r == route))?;
    let f = &mut s.faults[i];
    f.remaining -= 1;
    let copy = f.clone();
    s.faults.retain(|f| f.remaining > 0);
    Some(copy)
}

fn fault_reply(fault: &Fault, status: u16) -> Reply {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut reply = match &fault.body {
        Some(body) => raw_reply(status, "application/json", body.clone()),
        None => json_reply(
            status,
            &error_body(grpc_code(status), "INJECTED", "injected fault"),
        ),
    };
    for (name, value) in &fault.headers {
        if let (Ok(n), Ok(v)) = (
            hyper::header::HeaderName::from_bytes(name.as_bytes()),
            hyper::header::HeaderValue::from_str(value),
        ) {
            reply.headers_mut().insert(n, v);
        }
    }
    reply
}

/// Reads the whole body, refusing one over [`MAX_BODY`] with 413 so a client cannot make the emulator
/// buffer without bound.
async fn read_body(body: Incoming) -> Result<Bytes, Reply> {
    match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(json_reply(
            StatusCode::PAYLOAD_TOO_LARGE,
            &error_body(
                8,
                "RESOURCE_EXHAUSTED",
                &format!("request body larger than {MAX_BODY} bytes"),
            ),
        )),
        Err(_) => Err(json_reply(
            StatusCode::BAD_REQUEST,
            &error_body(3, "INVALID_ARGUMENT", "unreadable body"),
        )),
    }
}

// Headers such as `x-api-version`, `x-sdk-version` and `user-agent`, which Scalekit's SDKs send, are
// accepted and ignored: what the server does with `x-api-version` is UNCONFIRMED (audit §1).
async fn handle(req: Request<Incoming>, state: &Shared) -> Reply {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let Some(route) = route_of(&parts.method, &path) else {
        return json_reply(
            StatusCode::NOT_FOUND,
            &error_body(5, "NOT_FOUND", "no such endpoint"),
        );
    };
    if let Some(fault) = take_fault(state, route) {
        if let Some(delay) = fault.delay {
            tokio::time::sleep(delay).await;
        }
        if let Some(status) = fault.status {
            return fault_reply(&fault, status);
        }
    }
    let body = match read_body(body).await {
        Ok(b) => b,
        Err(reply) => return reply,
    };
    if route == Route::Page {
        return page::handle(&parts, state);
    }
    lock(state).record(journal::Recorded::of(route, &parts, &body));
    if route == Route::Token {
        return accounts::token(&body, state);
    }
    let authorized = parts
        .headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| lock(state).api_token_valid(t));
    if !authorized {
        return json_reply(
            StatusCode::UNAUTHORIZED,
            &error_body(16, "UNAUTHENTICATED", "Token empty or invalid"),
        );
    }
    if route == Route::Proxy {
        return proxy::forward(parts, body, state).await;
    }
    let Some(message) = message_of(route) else {
        return json_reply(
            StatusCode::NOT_FOUND,
            &error_body(5, "NOT_FOUND", "no such endpoint"),
        );
    };
    let decoded = if parts.method == Method::POST {
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(map)) => validate::json(message, &map),
            _ => {
                return json_reply(
                    StatusCode::BAD_REQUEST,
                    &error_body(3, "INVALID_ARGUMENT", "body is not a JSON object"),
                );
            }
        }
    } else {
        let pairs: Vec<(String, String)> =
            url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        validate::query(message, &pairs)
    };
    let args = match decoded {
        Ok(args) => args,
        Err(v) => {
            let body = violation_body(&v.field, &v.description, v.constraint);
            return json_reply(StatusCode::BAD_REQUEST, &body);
        }
    };
    let mut s = lock(state);
    match route {
        Route::Auth | Route::Details => accounts::get_account(&mut s, &args, route == Route::Auth),
        Route::Create => accounts::create(&mut s, &args),
        Route::MagicLink => accounts::magic_link(&mut s, &args),
        Route::List => accounts::list(&s, &args),
        Route::Delete => accounts::delete(&mut s, &args),
        Route::UserVerify => accounts::user_verify(&mut s, &args),
        Route::AppConnections => proxy::app_connections(&s, &args),
        Route::Token | Route::Page | Route::Proxy => unreachable!("handled above"),
    }
}

/// The request message of each JSON endpoint, whose rules ([`super::rules`]) a request must pass.
fn message_of(route: Route) -> Option<&'static rules::Message> {
    rules::message(match route {
        Route::Auth | Route::Details => "GetConnectedAccountByIdentifierRequest",
        Route::Create => "CreateConnectedAccountRequest",
        Route::MagicLink => "GetMagicLinkForConnectedAccountRequest",
        Route::List => "ListConnectedAccountsRequest",
        Route::Delete => "DeleteConnectedAccountRequest",
        Route::UserVerify => "VerifyConnectedAccountUserRequest",
        Route::AppConnections => "ListAppConnectionsRequest",
        Route::Token | Route::Page | Route::Proxy => return None,
    })
}

/// The gRPC code grpc-gateway maps onto an HTTP status.
pub(crate) fn grpc_code(status: StatusCode) -> i64 {
    match status.as_u16() {
        400 => 3,
        401 => 16,
        403 => 7,
        404 => 5,
        409 => 6,
        429 => 8,
        501 => 12,
        503 => 14,
        504 => 4,
        _ => 13,
    }
}

pub(crate) fn json_reply(status: StatusCode, body: &Value) -> Reply {
    raw_reply(status, "application/json", body.to_string())
}

pub(crate) fn raw_reply(status: StatusCode, content_type: &str, body: String) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from(body)));
    *reply.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        reply.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    reply
}
