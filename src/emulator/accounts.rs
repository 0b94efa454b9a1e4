//! The connected-account endpoints and the token endpoint.

use std::collections::HashMap;
use std::time::SystemTime;

use hyper::StatusCode;
use serde_json::{Value, json};

use super::server::{Reply, Shared, json_reply, lock};
use super::state::{State, error_body, violation_body};
use crate::timefmt::rfc3339;

pub(super) fn token(body: &[u8], state: &Shared) -> Reply {
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

pub(super) fn get_account(
    s: &mut State,
    args: &HashMap<String, String>,
    with_credentials: bool,
) -> Reply {
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

pub(super) fn create(s: &mut State, args: &HashMap<String, String>) -> Reply {
    let key = match key(args) {
        Ok(k) => k,
        Err(reply) => return *reply,
    };
    // `connected_account` (and its `authorization_details`) is optional since 2026-03 (wire audit, row 8).
    if !s.knows(&key.0) {
        return unknown_connection(&key.0);
    }
    s.adopt(&key.0);
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

pub(super) fn magic_link(s: &mut State, args: &HashMap<String, String>) -> Reply {
    let key = match key(args) {
        Ok(k) => k,
        Err(reply) => return *reply,
    };
    if s.knows(&key.0) {
        s.adopt(&key.0);
    } else {
        // Scalekit's documented answer (wire audit §2.5, E4): it does not name the connector.
        return json_reply(
            StatusCode::BAD_REQUEST,
            &error_body(
                3,
                "INVALID_ARGUMENT",
                "missing required parameters or invalid connector",
            ),
        );
    }
    let arg = |name: &str| args.get(name).map_or("", String::as_str);
    let (state, verify_url) = (arg("state"), arg("user_verify_url"));
    // The limits and pattern of the current proto (audit §2.5), counted in characters as buf.validate does.
    if state.chars().count() > 512 {
        let body = violation_body(
            "state",
            "value length must be at most 512 characters",
            "string.max_len",
        );
        return json_reply(StatusCode::BAD_REQUEST, &body);
    }
    if verify_url.chars().count() > 2048 {
        let body = violation_body(
            "user_verify_url",
            "value length must be at most 2048 characters",
            "string.max_len",
        );
        return json_reply(StatusCode::BAD_REQUEST, &body);
    }
    if !(verify_url.is_empty()
        || verify_url.starts_with("http://")
        || verify_url.starts_with("https://"))
    {
        let body = violation_body(
            "user_verify_url",
            "value does not match regex pattern `^$|^https?://`",
            "string.pattern",
        );
        return json_reply(StatusCode::BAD_REQUEST, &body);
    }
    s.create(&key.0, &key.1);
    let (link, expires_at) = s.new_link(&key.0, &key.1, state, verify_url);
    json_reply(
        StatusCode::OK,
        &json!({"link": link, "expiry": rfc3339(expires_at)}),
    )
}

pub(super) fn list(s: &State, args: &HashMap<String, String>) -> Reply {
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

pub(super) fn delete(s: &mut State, args: &HashMap<String, String>) -> Reply {
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

/// `POST /user/verify` (audit §2.7).
pub(super) fn user_verify(s: &mut State, args: &HashMap<String, String>) -> Reply {
    let arg = |name: &str| args.get(name).map_or("", String::as_str);
    match s.verify(arg("auth_request_id"), arg("identifier")) {
        Ok(url) => json_reply(
            StatusCode::OK,
            &json!({"post_user_verify_redirect_url": url}),
        ),
        Err((status, code, error_code, message)) => json_reply(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            &error_body(code, error_code, message),
        ),
    }
}
