//! The connected-account endpoints and the token endpoint.

use std::collections::HashMap;
use std::time::SystemTime;

use hyper::StatusCode;
use serde_json::{Value, json};

use super::render::wire_time;
use super::server::{Reply, Shared, json_reply, lock};
use super::state::{State, error_body};
use super::validate::Args;

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

/// The connector and identifier of a request, or the 400 Scalekit gives when one is missing (both pass the
/// proto's rules empty: `min_len: 0`; the service itself needs them).
fn key(args: &Args) -> Result<(String, String), Box<Reply>> {
    match (args.get("connector"), args.get("identifier")) {
        (c, i) if !c.is_empty() && !i.is_empty() => Ok((c.to_owned(), i.to_owned())),
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

/// A connector that names no connection of the environment: 404 `RESOURCE_NOT_FOUND`, as the magic-link
/// RPC documents it (connected_accounts PY 2.21.0, GetMagicLinkForConnectedAccount responses, "404"). For
/// create the answer is UNCONFIRMED (its documented responses are 201/400/401/409); the emulator gives the
/// same, which is what the client reads either way (it also checks the connections list).
fn unknown_connection() -> Reply {
    json_reply(
        StatusCode::NOT_FOUND,
        &error_body(
            5,
            "RESOURCE_NOT_FOUND",
            "connection not found in this environment",
        ),
    )
}

/// The key of a create or magic link, whose connector must name a connection of the environment (taken into
/// it when any name is accepted).
fn known_key(s: &mut State, args: &Args) -> Result<(String, String), Box<Reply>> {
    let key = key(args)?;
    if !s.knows(&key.0) {
        return Err(Box::new(unknown_connection()));
    }
    s.adopt(&key.0);
    Ok(key)
}

fn account_not_found() -> Reply {
    json_reply(
        StatusCode::NOT_FOUND,
        &error_body(5, "NOT_FOUND", "connected account not found"),
    )
}

/// `/auth` and `/details`. An unknown connector finds no account (404, as for an account never made): what
/// Scalekit answers there is UNCONFIRMED (audit EM3), and the client then creates, which tells.
pub(super) fn get_account(s: &mut State, args: &Args, with_credentials: bool) -> Reply {
    let key = match key(args) {
        Ok(k) => k,
        Err(reply) => return *reply,
    };
    if !s.accounts.contains_key(&key) {
        return account_not_found();
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

/// Create. `connected_account` is required by the proto's rules (checked before this is reached).
pub(super) fn create(s: &mut State, args: &Args) -> Reply {
    let key = match known_key(s, args) {
        Ok(k) => k,
        Err(reply) => return *reply,
    };
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

/// A magic link. Its `state` and `user_verify_url` were held to the proto's limits before this. It makes the
/// account when there is none (whether Scalekit does is UNCONFIRMED, audit EM6; the client always creates
/// first).
pub(super) fn magic_link(s: &mut State, args: &Args) -> Reply {
    let key = match known_key(s, args) {
        Ok(k) => k,
        Err(reply) => return *reply,
    };
    s.create(&key.0, &key.1);
    let (link, expires_at) = s.new_link(
        &key.0,
        &key.1,
        args.get("state"),
        args.get("user_verify_url"),
    );
    json_reply(
        StatusCode::OK,
        &json!({"link": link, "expiry": wire_time(expires_at)}),
    )
}

/// The list: `ConnectedAccountForList` rows (no credentials), filtered by `connector` or
/// `connection_names`, `identifier` and `provider`; 10 a page unless `page_size` says otherwise (its
/// description: "Default is typically 10").
pub(super) fn list(s: &State, args: &Args) -> Reply {
    let names = args.list("connection_names");
    let wanted = |k: &(String, String)| {
        let connector = args.get("connector");
        (connector.is_empty() || *connector == k.0)
            && (names.is_empty() || names.contains(&k.0))
            && (args.get("identifier").is_empty() || args.get("identifier") == k.1)
            && (args.get("provider").is_empty() || args.get("provider") == s.provider(&k.0))
    };
    let matching: Vec<_> = s.accounts.keys().filter(|k| wanted(k)).collect();
    let (page, next) = page(&matching, args, 10);
    let page: Vec<Value> = page.iter().map(|k| s.render_for_list(k)).collect();
    json_reply(
        StatusCode::OK,
        &json!({"connected_accounts": page, "total_size": matching.len(), "next_page_token": next, "prev_page_token": ""}),
    )
}

/// One page of `items`: `page_size` of them (0 meaning `default`) from the offset `page_token` holds, and the
/// token of the next page (empty at the end). Any token is safe: one past the end is an empty last page.
pub(super) fn page<'a, T>(items: &'a [T], args: &Args, default: usize) -> (&'a [T], String) {
    let size: usize = args
        .get("page_size")
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .unwrap_or(default);
    let start = args
        .get("page_token")
        .parse::<usize>()
        .unwrap_or(0)
        .min(items.len());
    let end = start.saturating_add(size).min(items.len());
    let next = if end < items.len() {
        end.to_string()
    } else {
        String::new()
    };
    (&items[start..end], next)
}

pub(super) fn delete(s: &mut State, args: &Args) -> Reply {
    let key = match key(args) {
        Ok(k) => k,
        Err(reply) => return *reply,
    };
    match s.accounts.remove(&key) {
        Some(_) => json_reply(StatusCode::OK, &json!({})),
        None => account_not_found(),
    }
}

/// `POST /user/verify` (audit §2.7).
pub(super) fn user_verify(s: &mut State, args: &Args) -> Reply {
    match s.verify(args.get("auth_request_id"), args.get("identifier")) {
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
