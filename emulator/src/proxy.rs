//! `GET /api/v1/connections/app` (audit §6.6) and the proxy `ANY /proxy{path}` (audit §6.1).

use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::http::request::Parts;
use hyper::{Response, StatusCode};
use serde_json::{Value, json};

use super::server::{Reply, Shared, json_reply, lock};
use super::state::{State, error_body};
use super::validate::Args;

/// The environment's connections as `ListAppConnections` gives them, page by page: `page_size` is at
/// most 30 (checked before this), 0 meaning 30; `page_token` is the offset the previous page handed out.
pub(super) fn app_connections(s: &State, args: &Args) -> Reply {
    let names: Vec<&String> = s
        .connections
        .keys()
        .filter(|n| args.get("provider").is_empty() || s.provider(n) == args.get("provider"))
        .filter(|n| args.get("query").is_empty() || n.contains(args.get("query")))
        .collect();
    let (page, next) = super::accounts::page(&names, args, 30);
    let page: Vec<Value> = page.iter().map(|n| s.render_connection(n)).collect();
    json_reply(
        StatusCode::OK,
        &json!({"connections": page, "next_page_token": next, "prev_page_token": "",
                "total_size": names.len()}),
    )
}

/// Headers that describe one hop, or that the proxy replaces: never passed on.
const HOP: &[&str] = &[
    "host",
    "authorization",
    "connection_name",
    "identifier",
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
];

/// Calls the upstream with the account's own token and hands back its answer as it is.
pub(super) async fn forward(parts: Parts, body: Bytes, state: &Shared) -> Reply {
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (connection, identifier) = (header("connection_name"), header("identifier"));
    if connection.is_empty() || identifier.is_empty() {
        return refuse(
            400,
            3,
            "INVALID_ARGUMENT",
            "connection_name and identifier headers are required",
        );
    }
    let (upstream, token) = {
        let s = lock(state);
        if !s.knows(&connection) {
            return refuse(
                400,
                3,
                "INVALID_ARGUMENT",
                "connection not found in this environment",
            );
        }
        let upstream = match &s.proxy_upstream {
            Some(u) if !s.no_proxy.contains(&connection) => u.clone(),
            // The docs only say the call fails with "proxy not enabled for provider"; status and body are
            // UNCONFIRMED. A gRPC FAILED_PRECONDITION (400) is what the gateway gives for a setting the
            // environment lacks, so the emulator answers that.
            _ => {
                return refuse(
                    400,
                    9,
                    "PROXY_NOT_ENABLED",
                    "proxy not enabled for provider",
                );
            }
        };
        let account = s.accounts.get(&(connection.clone(), identifier.clone()));
        let Some(account) = account else {
            return refuse(404, 5, "NOT_FOUND", "connected account not found");
        };
        match (&account.access_token, account.status.as_str()) {
            (Some(token), "ACTIVE") => (upstream, token.clone()),
            _ => {
                return refuse(
                    400,
                    9,
                    "FAILED_PRECONDITION",
                    "connected account is not active",
                );
            }
        }
    };
    let path = parts.uri.path().trim_start_matches("/proxy");
    let query = parts
        .uri
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let url = format!("{}{path}{query}", upstream.trim_end_matches('/'));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build();
    let Ok(client) = client else {
        return refuse(500, 13, "INTERNAL", "proxy client unavailable");
    };
    let mut request = client
        .request(parts.method.clone(), url)
        .bearer_auth(token)
        .body(body);
    for (name, value) in &parts.headers {
        if !HOP.contains(&name.as_str()) {
            request = request.header(name, value);
        }
    }
    let Ok(answer) = request.send().await else {
        return refuse(502, 14, "UNAVAILABLE", "upstream did not answer");
    };
    let status = answer.status();
    let headers = answer.headers().clone();
    let Ok(bytes) = answer.bytes().await else {
        return refuse(502, 14, "UNAVAILABLE", "upstream answer cut short");
    };
    let mut reply = Response::new(Full::new(bytes));
    *reply.status_mut() = status;
    for (name, value) in &headers {
        if !HOP.contains(&name.as_str()) {
            reply.headers_mut().append(name, value.clone());
        }
    }
    reply
}

fn refuse(status: u16, code: i64, error_code: &str, message: &str) -> Reply {
    json_reply(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &error_body(code, error_code, message),
    )
}
