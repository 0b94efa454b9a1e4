//! The third adversarial review (of this version's own changes): one test per finding, each of which failed before
//! its fix: the token an answer was sent with hides it (not one looked up again), one spelling per state,
//! a bound-only port refused, a zero link expiry, a huge page token, a stalled body that a cancel stops.

mod common;

mod mcp_support;

use std::io::{BufRead, BufReader, Write};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::{Cli, IDENTIFIER, activate, emulator};
use mcp_support::*;
use serde_json::json;
use tokenbroker_emulator::{Emulator, Fault, Route};

/// A provider on 127.0.0.1 that echoes the Authorization header it got; on each request it first runs
/// `meanwhile` (the test uses it to make Scalekit rate-limit the next token request, as a burst of agent
/// calls can).
fn echo_then(meanwhile: impl Fn() + Send + 'static) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut auth = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some(v) = line
                    .strip_prefix("authorization: ")
                    .or(line.strip_prefix("Authorization: "))
                {
                    auth = v.trim().to_owned();
                }
            }
            meanwhile();
            let body = json!({"echo": auth}).to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

async fn echo_setup(emu: Arc<Emulator>, port: u16) -> Cli {
    activate(&emu, GMAIL, IDENTIFIER);
    let cli = Cli::on(&emu);
    cli.write_config(
        "connections.json",
        &format!(
            r#"{{"gmail": {{"connection_name": "{GMAIL}", "identifier": "{IDENTIFIER}", "hosts": ["127.0.0.1:{port}"]}}}}"#
        ),
    );
    cli
}

/// A-1: the token used to conceal the answer is fetched again AFTER the request (`api::cached_token` calls
/// `Broker::get_token`, which asks Scalekit when the cached token is not fresh: within 60 s of its expiry,
/// or after 5 min). When that second fetch fails (429, 5xx, timeout) the concealer gets `None` and the
/// answer reaches the model unmasked; when it returns a refreshed token, the old one (still valid) is not
/// masked.
#[tokio::test(flavor = "multi_thread")]
async fn mcp_request_conceals_the_token_it_sent_even_when_scalekit_fails_afterwards() {
    let emu = Arc::new(emulator().start().await.unwrap());
    let e = emu.clone();
    let port = echo_then(move || e.inject(Fault::rate_limited(Route::Auth, None)));
    let cli = echo_setup(emu.clone(), port).await;
    // A provider token with less than a minute left, as every token has once in its life: never reused
    // from the cache.
    emu.set_token_expiry(
        GMAIL,
        IDENTIFIER,
        SystemTime::now() + Duration::from_secs(40),
    );
    let session = Session::start(emu.clone(), cli, Answer::Approve, &[]).await;
    let url = format!("http://127.0.0.1:{port}/gmail/v1/users/me/profile");
    let answer = session.call("request", json!({"url": url})).await.unwrap();
    let token = emu.access_token(GMAIL, IDENTIFIER).unwrap();
    assert!(
        !answer.to_string().contains(&token),
        "the raw token reached the model: {answer}"
    );
}

/// A-1, CLI: `get-token api --json` (and plain `api`) have the same gap.
#[tokio::test(flavor = "multi_thread")]
async fn api_json_conceals_the_token_it_sent_even_when_scalekit_fails_afterwards() {
    let emu = Arc::new(emulator().start().await.unwrap());
    let e = emu.clone();
    let port = echo_then(move || e.inject(Fault::rate_limited(Route::Auth, None)));
    let cli = echo_setup(emu.clone(), port).await;
    emu.set_token_expiry(
        GMAIL,
        IDENTIFIER,
        SystemTime::now() + Duration::from_secs(40),
    );
    let url = format!("http://127.0.0.1:{port}/gmail/v1/users/me/profile");
    let cli2 = cli;
    let out = tokio::task::spawn_blocking(move || cli2.run(&["api", "--json", &url]))
        .await
        .unwrap();
    let token = emu.access_token(GMAIL, IDENTIFIER).unwrap();
    let shown = format!("{}{}", out.stdout, out.stderr);
    assert!(
        !shown.contains(&token),
        "the raw token was printed: {shown}"
    );
}

/// A-2: "each state completes one verification" (README, used-states) is keyed on the state's text, but the
/// state parser accepts many spellings of one state: the MAC's hex in upper case (`u8::from_str_radix`),
/// a `+` before a MAC byte or the expiry, leading zeros in the expiry. A used address with its MAC
/// upper-cased is a fresh state to the used-states file and completes a verification again.
#[test]
fn a_used_state_cannot_be_used_again_in_another_spelling() {
    use common::browser::{cli, custom, json, redirect};
    let emu = custom();
    let (cli, _) = cli(&emu);
    let v = json(&cli.run(&["--json", "gmail"]).stdout);
    let url = redirect(emu.click_approve(v["authorization_url"].as_str().unwrap(), true));
    let run = cli.run_with_input(&["verify", "-"], &format!("{url}\n"));
    assert_eq!(run.code, 0, "{run:?}");
    // Same state, MAC in upper case.
    let (head, mac) = url.split_at(url.len() - 64);
    let respelled = format!("{head}{}", mac.to_ascii_uppercase());
    assert_ne!(respelled, url);
    emu.reset_counts();
    let run = cli.run(&["verify", &respelled]);
    assert_eq!(
        emu.requests(tokenbroker_emulator::Route::UserVerify),
        0,
        "a used state was sent to Scalekit again: {run:?}"
    );
    assert_eq!(run.code, 8, "{run:?}");
}

/// A-4: the magic link's `expiry` is not read as the account timestamps are: Go's zero time
/// `0001-01-01T00:00:00Z` (what Scalekit writes for an unset time, wire audit 2, C5) is taken as a real
/// expiry, and `next` then says `wait ... --link-expires 0001-01-01T00:00:00Z`, a command `wait` refuses as
/// a usage error (exit 2): the agent loop SKILL.md teaches breaks on its first step.
#[tokio::test(flavor = "multi_thread")]
async fn next_after_a_link_with_a_zero_expiry_is_a_command_that_runs() {
    let emu = Arc::new(emulator().start().await.unwrap());
    let cli = Cli::on(&emu);
    cli.write_config(
        "connections.json",
        &format!(r#"{{"gmail": {{"connection_name": "{GMAIL}", "identifier": "{IDENTIFIER}"}}}}"#),
    );
    let link = format!("{}/magic/ml_zero", emu.url());
    emu.inject(Fault::body(
        Route::MagicLink,
        200,
        json!({"link": link, "expiry": "0001-01-01T00:00:00Z"}).to_string(),
    ));
    let (out, cli) = tokio::task::spawn_blocking(move || (cli.run(&["--json", "gmail"]), cli))
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let next = v["next"].as_str().unwrap().to_owned();
    assert!(next.contains(" wait "), "{v}");
    let args: Vec<String> = next.split(' ').skip(1).map(str::to_owned).collect();
    let run = tokio::task::spawn_blocking(move || {
        let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
        args.insert(0, "--timeout=3");
        cli.run(&args)
    })
    .await
    .unwrap();
    assert_ne!(run.code, 2, "`next` ({next}) is a usage error: {run:?}");
}

/// A-5: the emulator panics (debug builds, as `cargo run` in the walkthrough builds it) on a `page_token`
/// near `usize::MAX`: `start + size` overflows (emulator/proxy.rs:37, emulator/accounts.rs:177). The
/// connection is dropped with no answer; the emulator must answer every request.
#[tokio::test(flavor = "multi_thread")]
async fn the_emulator_answers_a_huge_page_token() {
    let emu = emulator().start().await.unwrap();
    let token = common::emulator_api_token(&emu).await;
    for path in ["/api/v1/connections/app", "/api/v1/connected_accounts"] {
        let answer = reqwest::Client::new()
            .get(format!(
                "{}{path}?page_token=18446744073709551615",
                emu.url()
            ))
            .bearer_auth(&token)
            .send()
            .await;
        assert!(answer.is_ok(), "{path}: no answer: {answer:?}");
    }
}

/// A-6 (review 2 L-C, again): another local user binds the verify port WITHOUT listening (such a socket is in
/// no /proc/net/tcp table), so get-token reads the port's holder as "unknown", says "another program of
/// yours listens", and relays the link. The other user then calls listen() and gets the redirect
/// (auth_request_id and state) and serves the browser any page on 127.0.0.1. Needs root to run a socket as
/// `nobody`; without it the test has nothing to show and returns.
#[test]
fn no_link_is_relayed_while_another_user_holds_the_port_even_bound_only() {
    use common::browser::{cli, custom};
    let python = std::path::Path::new("/usr/bin/python3");
    // SAFETY: geteuid has no arguments and cannot fail.
    if unsafe { libc::geteuid() } != 0 || !python.exists() {
        eprintln!("skipped: needs root and /usr/bin/python3 to hold a socket as another user");
        return;
    }
    let emu = custom();
    let (cli, port) = cli(&emu);
    let squat = format!(
        "import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',{port}))\ntime.sleep(3)\ns.listen(5)\ntime.sleep(20)\n"
    );
    let mut squatter = std::process::Command::new("runuser")
        .args(["-u", "nobody", "--"])
        .arg(python)
        .args(["-c", &squat])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let run = cli.spawn(&["--wait=6", "gmail"]).finish();
    let _ = squatter.kill();
    let _ = squatter.wait();
    assert!(
        !run.stderr.contains("/magic/"),
        "a link was relayed that sends the browser to another user's socket: {}",
        run.stderr
    );
}

/// A-7: MCP `request` reads the answer's body outside the cancellable part of the call
/// (mcp/mod.rs:330-340: `progress::watched` covers `Broker::send`, which returns at the headers; then
/// `api::answer_json` reads the body with no timeout and no cancellation). `MAX_WAIT` (120 s) is only the
/// `total` shown in progress notifications, never enforced. A host that sends its headers and then a
/// trickle (a stream, a long poll, a stalled upstream) holds the call and its connection for ever, and a
/// cancel from the client does not end it.
#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_request_stops_reading_a_stalled_body() {
    use rmcp::model::{CallToolRequestParams, ClientRequest};
    use rmcp::service::PeerRequestOptions;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let closed = Arc::new(std::sync::Mutex::new(None::<std::time::Instant>));
    let seen = closed.clone();
    let reached = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reached_in = reached.clone();
    std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                break;
            }
        }
        reached_in.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{{\r\n"
        );
        // Stall; note when get-token lets go of the connection.
        let mut buf = [0u8; 64];
        let _ = std::io::Read::read(&mut reader, &mut buf);
        *seen.lock().unwrap() = Some(std::time::Instant::now());
    });
    let emu = Arc::new(emulator().start().await.unwrap());
    let cli = echo_setup(emu.clone(), port).await;
    let session = Session::start(emu.clone(), cli, Answer::Approve, &[]).await;
    let mut params = CallToolRequestParams::new("request");
    params.arguments = json!({"url": format!("http://127.0.0.1:{port}/stream")})
        .as_object()
        .cloned();
    let handle = session
        .client
        .peer()
        .send_cancellable_request(
            ClientRequest::CallToolRequest(rmcp::model::Request::new(params)),
            PeerRequestOptions::no_options(),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cancelled_at = std::time::Instant::now();
    handle
        .cancel(Some("the host gave up".into()))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        reached.load(std::sync::atomic::Ordering::SeqCst),
        "the request reached the API"
    );
    let closed = *closed.lock().unwrap();
    assert!(
        closed.is_some_and(|t| t >= cancelled_at),
        "the cancelled call still holds the API connection 3 s after the cancel"
    );
}
