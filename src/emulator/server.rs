//! The emulator's HTTP side: routing, authentication, faults, and each endpoint's answer.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

use super::state::{State, error_body};
use super::{Route, page};
use crate::timefmt::rfc3339;

type Shared = Arc<Mutex<State>>;
type Reply = Response<Full<Bytes>>;

pub(crate) async fn serve(listener: tokio::net::TcpListener, state: Shared, base: String) {
    let base: Arc<str> = base.into();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        lock(&state).connections_accepted += 1;
        let (state, base) = (state.clone(), base.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let (state, base) = (state.clone(), base.clone());
                async move { Ok::<_, Infallible>(handle(req, &state, &base).await) }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await;
        });
    }
}

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, State> {
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
        (_, p) if p.starts_with("/magic/") => Route::Page,
        _ => return None,
    })
}

async fn handle(req: Request<Incoming>, state: &Shared, base: &str) -> Reply {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let Some(route) = route_of(&parts.method, &path) else {
        return json_reply(
            StatusCode::NOT_FOUND,
            &error_body(5, "NOT_FOUND", "no such endpoint"),
        );
    };
    let fault = {
        let mut s = lock(state);
        *s.requests.entry(route).or_default() += 1;
        let found = s
            .faults
            .iter()
            .position(|f| f.remaining > 0 && f.route.is_none_or(|r| r == route));
        found.map(|i| {
            let f = &mut s.faults[i];
            f.remaining -= 1;
            let copy = f.clone();
            s.faults.retain(|f| f.remaining > 0);
            copy
        })
    };
    if let Some(fault) = &fault {
        if let Some(delay) = fault.delay {
            tokio::time::sleep(delay).await;
        }
        if let Some(status) = fault.status {
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
            return reply;
        }
    }
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return json_reply(
                StatusCode::BAD_REQUEST,
                &error_body(3, "INVALID_ARGUMENT", "unreadable body"),
            );
        }
    };
    if route == Route::Page {
        return page::handle(&parts.method, &path, state);
    }
    if route == Route::Token {
        return token(&body, state);
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
    let args: HashMap<String, String> = if parts.method == Method::POST {
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(map)) => map
                .into_iter()
                .filter_map(|(k, v)| match v {
                    Value::String(s) => Some((k, s)),
                    Value::Object(_) => Some((k, "{object}".into())),
                    _ => None,
                })
                .collect(),
            _ => {
                return json_reply(
                    StatusCode::BAD_REQUEST,
                    &error_body(3, "INVALID_ARGUMENT", "body is not a JSON object"),
                );
            }
        }
    } else {
        query
    };
    let mut s = lock(state);
    match route {
        Route::Auth | Route::Details => get_account(&mut s, &args, route == Route::Auth),
        Route::Create => create(&mut s, &args),
        Route::MagicLink => magic_link(&mut s, &args, base),
        Route::List => list(&s, &args),
        Route::Delete => delete(&mut s, &args),
        Route::Token | Route::Page => unreachable!("handled above"),
    }
}

fn token(body: &[u8], state: &Shared) -> Reply {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let mut s = lock(state);
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return json_reply(
            StatusCode::BAD_REQUEST,
            &json!({"error": "unsupported_grant_type", "error_description": "grant_type must be client_credentials"}),
        );
    }
    let ok = form.get("client_id") == Some(&s.client_id)
        && form.get("client_secret") == Some(&s.client_secret);
    if !ok {
        return json_reply(
            StatusCode::UNAUTHORIZED,
            &json!({"error": "invalid_client", "error_description": "invalid client credentials"}),
        );
    }
    let (token, ttl) = s.issue_api_token();
    json_reply(
        StatusCode::OK,
        &json!({"access_token": token, "token_type": "Bearer", "expires_in": ttl.as_secs(), "scope": "openid"}),
    )
}

/// The connector and identifier of a request, or the 400 Scalekit gives when one is missing.
fn key(args: &HashMap<String, String>) -> Result<(String, String), Box<Reply>> {
    match (args.get("connector"), args.get("identifier")) {
        (Some(c), Some(i)) if !c.is_empty() && !i.is_empty() => Ok((c.clone(), i.clone())),
        _ => Err(Box::new(json_reply(
            StatusCode::BAD_REQUEST,
            &error_body(
                3,
                "INVALID_ARGUMENT",
                "connector and identifier are required",
            ),
        ))),
    }
}

fn unknown_connection(connector: &str) -> Reply {
    json_reply(
        StatusCode::BAD_REQUEST,
        &error_body(
            3,
            "INVALID_ARGUMENT",
            &format!("connection {connector:?} not found in this environment"),
        ),
    )
}

fn get_account(s: &mut State, args: &HashMap<String, String>, with_credentials: bool) -> Reply {
    let key = match key(args) {
        Ok(k) => k,
        Err(reply) => return *reply,
    };
    if !s.accounts.contains_key(&key) {
        return json_reply(
            StatusCode::NOT_FOUND,
            &error_body(5, "NOT_FOUND", "connected account not found"),
        );
    }
    if let Some(account) = s
        .accounts
        .get_mut(&key)
        .filter(|a| with_credentials && a.access_token.is_some())
    {
        account.last_used_at = Some(SystemTime::now());
    }
    json_reply(
        StatusCode::OK,
        &json!({"connected_account": s.render(&key, with_credentials)}),
    )
}

fn create(s: &mut State, args: &HashMap<String, String>) -> Reply {
    let key = match key(args) {
        Ok(k) => k,
        Err(reply) => return *reply,
    };
    // `connected_account` (and its `authorization_details`) is optional since 2026-03 (wire audit, row 8).
    if !s.connections.contains_key(&key.0) {
        return unknown_connection(&key.0);
    }
    if s.accounts.contains_key(&key) {
        return json_reply(
            StatusCode::CONFLICT,
            &error_body(
                6,
                "ALREADY_EXISTS",
                "connected account with the same identifier already exists",
            ),
        );
    }
    s.create(&key.0, &key.1);
    json_reply(
        StatusCode::CREATED,
        &json!({"connected_account": s.render(&key, true)}),
    )
}

fn magic_link(s: &mut State, args: &HashMap<String, String>, base: &str) -> Reply {
    let key = match key(args) {
        Ok(k) => k,
        Err(reply) => return *reply,
    };
    if !s.connections.contains_key(&key.0) {
        return unknown_connection(&key.0);
    }
    s.create(&key.0, &key.1);
    let (link, expires_at) = s.new_link(base, &key.0, &key.1);
    json_reply(
        StatusCode::OK,
        &json!({"link": link, "expiry": rfc3339(expires_at)}),
    )
}

fn list(s: &State, args: &HashMap<String, String>) -> Reply {
    let connector = args.get("connector");
    let size: usize = args
        .get("page_size")
        .and_then(|p| p.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(50);
    let start: usize = args
        .get("page_token")
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let matching: Vec<_> = s
        .accounts
        .keys()
        .filter(|k| connector.is_none_or(|c| *c == k.0))
        .collect();
    let page: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(size)
        .map(|k| s.render(k, false))
        .collect();
    let next = if start + size < matching.len() {
        (start + size).to_string()
    } else {
        String::new()
    };
    json_reply(
        StatusCode::OK,
        &json!({"connected_accounts": page, "total_size": matching.len(), "next_page_token": next, "prev_page_token": ""}),
    )
}

fn delete(s: &mut State, args: &HashMap<String, String>) -> Reply {
    let key = match key(args) {
        Ok(k) => k,
        Err(reply) => return *reply,
    };
    match s.accounts.remove(&key) {
        Some(_) => json_reply(StatusCode::OK, &json!({})),
        None => json_reply(
            StatusCode::NOT_FOUND,
            &error_body(5, "NOT_FOUND", "connected account not found"),
        ),
    }
}

/// The gRPC code grpc-gateway maps onto an HTTP status.
fn grpc_code(status: StatusCode) -> i64 {
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
