//! The pages a user's browser opens: a magic link's page with Approve and Deny (and, in Scalekit-users
//! mode, an emulated dashboard sign-in), what each click leads to, and the post-verification page.

use std::time::SystemTime;

use hyper::http::request::Parts;
use hyper::{Method, StatusCode, header};

use super::DASHBOARD_COOKIE;
use super::flow::{Click, UserVerification};
use super::server::{Reply, Shared, lock, raw_reply};
use super::state::{State, scopes};

pub(super) fn handle(parts: &Parts, state: &Shared) -> Reply {
    let path = parts.uri.path();
    if path == "/verified" {
        return html(
            StatusCode::OK,
            "Connected",
            "<p>Your account is connected and verified. You can close this tab.</p>",
        );
    }
    let rest = path.trim_start_matches("/magic/");
    let (code, action) = rest.split_once('/').unwrap_or((rest, ""));
    let mut s = lock(state);
    let signed_in = signed_in(parts, &s);
    if parts.method != Method::POST {
        return link_page(&s, code, signed_in);
    }
    match action {
        "approve" | "deny" => {
            let click = s.click(code, action == "approve", signed_in);
            outcome(click)
        }
        "signin" => sign_in(&mut s, code),
        _ => link_page(&s, code, signed_in),
    }
}

/// Whether the request carries a session cookie the emulated dashboard issued.
fn signed_in(parts: &Parts, s: &State) -> bool {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .any(|(name, value)| name == DASHBOARD_COOKIE && s.sessions.contains(value))
}

fn sign_in(s: &mut State, code: &str) -> Reply {
    let session = s.random("sess_");
    s.sessions.insert(session.clone());
    let mut reply = redirect(&format!("/magic/{}", encode_segment(code)));
    if let Ok(v) = header::HeaderValue::from_str(&format!(
        "{DASHBOARD_COOKIE}={session}; Path=/; HttpOnly; SameSite=Lax"
    )) {
        reply.headers_mut().insert(header::SET_COOKIE, v);
    }
    reply
}

fn link_page(s: &State, code: &str, signed_in: bool) -> Reply {
    let Some(link) = s.links.get(code) else {
        return outcome(Click::Unknown);
    };
    if link.used {
        return outcome(Click::Used);
    }
    if link.expires_at <= SystemTime::now() {
        return outcome(Click::Expired);
    }
    let scope_items: String = scopes(&link.connector)
        .iter()
        .map(|s| format!("<li><code>{}</code></li>", escape(s)))
        .collect();
    let code = escape(&encode_segment(code));
    let sign_in = match (s.user_verification, signed_in) {
        (UserVerification::ScalekitUsers, false) => format!(
            "<p>This environment lets only signed-in members of its Scalekit workspace approve.</p>\
             <form method=\"post\" action=\"/magic/{code}/signin\">\
             <button type=\"submit\">Sign in (emulated Scalekit dashboard)</button></form>"
        ),
        (UserVerification::ScalekitUsers, true) => {
            "<p>Signed in to the Scalekit dashboard (emulated).</p>".into()
        }
        _ => String::new(),
    };
    html(
        StatusCode::OK,
        "Authorize access",
        &format!(
            "<p>An agent asks to use your <b>{connector}</b> account as <b>{identifier}</b>, with these \
             scopes:</p><ul>{scope_items}</ul>\
             <p>(This is the local Scalekit emulator: no real account is involved.)</p>{sign_in}\
             <form method=\"post\" action=\"/magic/{code}/approve\" style=\"display:inline\">\
             <button type=\"submit\">Approve</button></form> \
             <form method=\"post\" action=\"/magic/{code}/deny\" style=\"display:inline\">\
             <button type=\"submit\">Deny</button></form>",
            connector = escape(&link.connector),
            identifier = escape(&link.identifier),
        ),
    )
}

fn outcome(click: Click) -> Reply {
    let message = escape(&click.message());
    let (status, title) = match &click {
        Click::Active { .. } => (StatusCode::OK, "Authorized"),
        Click::Redirect(url) => return redirect(url),
        Click::Denied => (StatusCode::OK, "Access denied"),
        Click::Unknown => (StatusCode::NOT_FOUND, "Unknown link"),
        Click::Expired => (StatusCode::GONE, "Link expired"),
        Click::Used => (StatusCode::GONE, "Link already used"),
        Click::NotConfigured | Click::BadVerifyUrl => {
            (StatusCode::BAD_REQUEST, "Authorization failed")
        }
        Click::SignInRequired => (StatusCode::FORBIDDEN, "Verification required"),
    };
    html(status, title, &format!("<p>{message}</p>"))
}

/// A 303, so the browser follows with GET whatever the form's method was.
fn redirect(location: &str) -> Reply {
    let mut reply = raw_reply(
        StatusCode::SEE_OTHER,
        "text/plain; charset=utf-8",
        String::new(),
    );
    if let Ok(v) = header::HeaderValue::from_str(location) {
        reply.headers_mut().insert(header::LOCATION, v);
    }
    reply
}

fn html(status: StatusCode, title: &str, body: &str) -> Reply {
    raw_reply(
        status,
        "text/html; charset=utf-8",
        format!(
            "<!doctype html><html><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title}</title></head>\
             <body style=\"font-family:sans-serif;max-width:40em;margin:3em auto;padding:0 1em\">\
             <h1>{title}</h1>{body}</body></html>"
        ),
    )
}

/// A link code as one URL path segment; codes are the emulator's own, but a path is whatever was asked.
fn encode_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub(super) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
