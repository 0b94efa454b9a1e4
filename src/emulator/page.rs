//! The magic-link page a user's browser opens, with its Approve button.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use hyper::{Method, StatusCode};

use super::server::raw_reply;
use super::state::State;

pub(super) fn handle(
    method: &Method,
    path: &str,
    state: &Arc<Mutex<State>>,
) -> hyper::Response<http_body_util::Full<hyper::body::Bytes>> {
    let rest = path.trim_start_matches("/magic/");
    let (code, approving) = match rest.strip_suffix("/approve") {
        Some(code) => (code, true),
        None => (rest, false),
    };
    let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
    let Some(link) = s.links.get(code) else {
        return html(
            StatusCode::NOT_FOUND,
            "Unknown link",
            "<p>This authorization link does not exist.</p>",
        );
    };
    if link.expires_at <= SystemTime::now() {
        return html(
            StatusCode::GONE,
            "Link expired",
            "<p>This authorization link has expired. Ask for a new one.</p>",
        );
    }
    let (connector, identifier) = (escape(&link.connector), escape(&link.identifier));
    if approving && *method == Method::POST {
        let (c, i) = (link.connector.clone(), link.identifier.clone());
        s.approve(&c, &i);
        s.links.remove(code);
        return html(
            StatusCode::OK,
            "Authorized",
            &format!(
                "<p><b>{connector}</b> is now connected for <b>{identifier}</b>. You can close this tab.</p>"
            ),
        );
    }
    html(
        StatusCode::OK,
        "Authorize access",
        &format!(
            "<p>An agent asks to use your <b>{connector}</b> account as <b>{identifier}</b>.</p>\
             <p>(This is the local Scalekit emulator: no real account is involved.)</p>\
             <form method=\"post\" action=\"/magic/{code}/approve\"><button type=\"submit\">Approve</button></form>",
            code = escape(code)
        ),
    )
}

fn html(
    status: StatusCode,
    title: &str,
    body: &str,
) -> hyper::Response<http_body_util::Full<hyper::body::Bytes>> {
    raw_reply(
        status,
        "text/html; charset=utf-8",
        format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
             <body style=\"font-family:sans-serif;max-width:40em;margin:3em auto\"><h1>{title}</h1>{body}</body></html>"
        ),
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
