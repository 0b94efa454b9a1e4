//! `get-token api` and `Broker::send`: the request made with the token, which only goes to the service's own
//! hosts over https (http on loopback), against loopback stand-ins of a provider's API.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use common::{Cli, IDENTIFIER, activate, emulator};
use tokenbroker_emulator::{Emulator, Route};

const GMAIL: &str = "gmail_u3134a";

/// One request as the stand-in saw it.
#[derive(Debug, Clone)]
struct Seen {
    line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A provider's API on 127.0.0.1: answers each connection with the next scripted answer (the last one
/// repeats), and records what it was sent.
struct Provider {
    base: String,
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

type Answer = (u16, Vec<(&'static str, String)>, Vec<u8>);

impl Provider {
    fn serve(answers: Vec<Answer>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for (i, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let mut headers = Vec::new();
                loop {
                    let mut h = String::new();
                    reader.read_line(&mut h).unwrap();
                    let h = h.trim_end();
                    if h.is_empty() {
                        break;
                    }
                    let (k, v) = h.split_once(':').unwrap();
                    headers.push((k.trim().to_owned(), v.trim().to_owned()));
                }
                let length = headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .map_or(0, |(_, v)| v.parse().unwrap());
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let seen = Seen {
                    line: line.trim_end().to_owned(),
                    headers,
                    body,
                };
                log.lock().unwrap().push(seen.clone());
                let (status, mut extra, payload) = answers[i.min(answers.len() - 1)].clone();
                // The token sent back the ways a careless API might: in a header, and JSON-escaped.
                let bearer = seen
                    .header("authorization")
                    .unwrap_or("")
                    .trim_start_matches("Bearer ")
                    .to_owned();
                let payload = if payload == b"ESCAPED" && !bearer.is_empty() {
                    extra.push(("X-Echo", bearer.clone()));
                    let first = bearer.chars().next().unwrap() as u32;
                    format!("{{\"uesc\": \"\\u{first:04x}{}\"}}", &bearer[1..]).into_bytes()
                } else {
                    payload
                };
                let payload = if payload == b"ECHO" {
                    format!(
                        "{{\"authorization\": {:?}}}",
                        seen.header("authorization").unwrap_or("")
                    )
                    .into_bytes()
                } else {
                    payload
                };
                let mut head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                    payload.len()
                );
                for (k, v) in extra {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("\r\n");
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&payload);
            }
        });
        Self {
            base: format!("http://127.0.0.1:{port}"),
            port,
            seen,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn json_answer(body: &str) -> Answer {
    (
        200,
        vec![("Content-Type", "application/json".into())],
        body.as_bytes().to_vec(),
    )
}

/// An active gmail account whose `hosts` include the stand-in.
fn setup(provider: &Provider) -> (Emulator, Cli) {
    let emu = emulator().spawn().unwrap();
    activate(&emu, GMAIL, IDENTIFIER);
    let cli = Cli::on(&emu);
    cli.write_config(
        "connections.json",
        &format!(
            r#"{{"gmail": {{"connection_name": "gmail_u3134a", "identifier": "mess", "hosts": ["127.0.0.1:{}"]}},
                "slack": {{"connection_name": "slack_x7y9z", "identifier": "mess"}}}}"#,
            provider.port
        ),
    );
    (emu, cli)
}

fn token(emu: &Emulator) -> String {
    emu.access_token(GMAIL, IDENTIFIER).unwrap()
}

#[test]
fn a_get_and_a_post_carry_the_token_and_print_only_the_answer() {
    let provider = Provider::serve(vec![json_answer(r#"{"messagesTotal": 7}"#)]);
    let (emu, cli) = setup(&provider);
    let run = cli.run(&[
        "api",
        &format!("{}/gmail/v1/users/me/profile", provider.base),
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, r#"{"messagesTotal": 7}"#);
    let run = cli.run(&[
        "api",
        "-X",
        "post",
        "-H",
        "X-Trace: 1",
        "-d",
        r#"{"raw": "aGk="}"#,
        &format!("{}/gmail/v1/users/me/messages/send", provider.base),
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let seen = provider.seen();
    assert_eq!(seen[0].line, "GET /gmail/v1/users/me/profile HTTP/1.1");
    assert_eq!(
        seen[1].line,
        "POST /gmail/v1/users/me/messages/send HTTP/1.1"
    );
    assert_eq!(seen[1].header("content-type"), Some("application/json"));
    assert_eq!(seen[1].header("x-trace"), Some("1"));
    assert_eq!(seen[1].body, br#"{"raw": "aGk="}"#);
    for s in &seen {
        assert_eq!(
            s.header("authorization"),
            Some(format!("Bearer {}", token(&emu)).as_str())
        );
    }
}

#[test]
fn foreign_hosts_and_downgrades_are_refused_before_a_byte_is_sent() {
    let provider = Provider::serve(vec![json_answer("{}")]);
    let other = Provider::serve(vec![json_answer("{}")]);
    let (emu, cli) = setup(&provider);
    for args in [
        vec!["api".to_owned(), format!("{}/x", other.base)],
        vec![
            "api".into(),
            "--service".into(),
            "gmail".into(),
            format!("{}/x", other.base),
        ],
        vec![
            "api".into(),
            "--service".into(),
            "slack".into(),
            format!("{}/x", provider.base),
        ],
        vec![
            "api".into(),
            "http://gmail.googleapis.com/gmail/v1/users/me/profile".into(),
        ],
        vec![
            "api".into(),
            "https://gmail.googleapis.com\\@127.0.0.1/x".into(),
        ],
        vec![
            "api".into(),
            "-H".into(),
            "Authorization: Bearer mine".into(),
            format!("{}/x", provider.base),
        ],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = cli.run(&args);
        assert!(run.code == 4 || run.code == 2, "{args:?}: {run:?}");
        assert!(!run.stdout.contains(&token(&emu)) && !run.stderr.contains(&token(&emu)));
    }
    assert!(provider.seen().is_empty() && other.seen().is_empty());
}

#[test]
fn redirects_are_followed_on_the_same_origin_only() {
    let elsewhere = Provider::serve(vec![json_answer("{}")]);
    let provider = Provider::serve(vec![
        (307, vec![("Location", "/final".into())], Vec::new()),
        json_answer(r#"{"done": true}"#),
        (
            302,
            vec![("Location", format!("{}/steal", elsewhere.base))],
            b"moved".to_vec(),
        ),
    ]);
    let (emu, cli) = setup(&provider);
    let run = cli.run(&["api", "-d", "{}", &format!("{}/start", provider.base)]);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, r#"{"done": true}"#),
        "{run:?}"
    );
    let seen = provider.seen();
    assert_eq!(
        seen[1].line, "POST /final HTTP/1.1",
        "307 keeps the method and body"
    );
    assert_eq!(seen[1].body, b"{}");
    assert!(
        seen[1]
            .header("authorization")
            .unwrap()
            .contains(&token(&emu))
    );

    let run = cli.run(&["api", &format!("{}/again", provider.base)]);
    assert_eq!(
        run.code, 9,
        "the redirect is handed back unfollowed: {run:?}"
    );
    assert!(run.stderr.contains("302"), "{}", run.stderr);
    assert!(
        elsewhere.seen().is_empty(),
        "the token never went to the other host"
    );
}

#[test]
fn a_401_refreshes_the_token_once_and_a_second_asks_to_authorize_again() {
    let provider = Provider::serve(vec![
        (401, vec![], b"expired".to_vec()),
        json_answer(r#"{"ok": 1}"#),
    ]);
    let (emu, cli) = setup(&provider);
    emu.reset_counts();
    let run = cli.run(&["api", &format!("{}/x", provider.base)]);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, r#"{"ok": 1}"#),
        "{run:?}"
    );
    assert_eq!(provider.seen().len(), 2);
    assert!(
        emu.requests(Route::Auth) >= 2,
        "a fresh token was asked for"
    );

    let always = Provider::serve(vec![(401, vec![], b"no".to_vec())]);
    let (_emu, cli) = setup(&always);
    let run = cli.run(&["api", "--json", &format!("{}/x", always.base)]);
    assert_eq!(run.code, 3, "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["code"], "token_rejected");
    assert!(
        v["hint"]
            .as_str()
            .unwrap()
            .contains("get-token authorize gmail"),
        "{v}"
    );
    assert_eq!(always.seen().len(), 2);
}

#[test]
fn binary_bodies_include_and_json_output() {
    let blob: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let provider = Provider::serve(vec![
        (
            200,
            vec![("Content-Type", "application/octet-stream".into())],
            blob.clone(),
        ),
        (
            404,
            vec![
                ("Content-Type", "application/json".into()),
                ("X-Request-Id", "r1".into()),
            ],
            br#"{"error": "gone"}"#.to_vec(),
        ),
    ]);
    let (_emu, cli) = setup(&provider);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_get-token"))
        .args(["api", &format!("{}/blob", provider.base)])
        .env_clear()
        .env("HOME", cli.home.path())
        .envs(cli.env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout == blob, "byte for byte");

    let run = cli.run(&["api", "-i", &format!("{}/gone", provider.base)]);
    assert_eq!(run.code, 9, "{run:?}");
    assert!(run.stdout.starts_with("HTTP/1.1 404"), "{}", run.stdout);
    assert!(
        run.stdout.contains("x-request-id: r1") && run.stdout.ends_with(r#"{"error": "gone"}"#)
    );
    let run = cli.run(&["api", "--json", &format!("{}/gone", provider.base)]);
    assert_eq!(run.code, 9);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        (v["status"].as_u64(), v["body"]["error"].as_str()),
        (Some(404), Some("gone"))
    );
    assert_eq!(v["headers"]["x-request-id"], "r1");
}

#[test]
fn an_answer_that_echoes_the_token_never_shows_it() {
    let provider = Provider::serve(vec![(200, vec![], b"ECHO".to_vec())]);
    let (emu, cli) = setup(&provider);
    for args in [vec!["api", "--json"], vec!["api", "-i"], vec!["api"]] {
        let url = format!("{}/headers", provider.base);
        let mut args = args.clone();
        args.push(&url);
        let run = cli.run(&args);
        assert_eq!(run.code, 0, "{run:?}");
        assert!(
            !run.stdout.contains(&token(&emu)) && !run.stderr.contains(&token(&emu)),
            "{run:?}"
        );
        assert!(run.stdout.contains("<concealed by get-token>"), "{run:?}");
    }
}

#[test]
fn via_scalekit_goes_through_the_proxy_and_the_token_never_leaves_it() {
    let provider = Provider::serve(vec![json_answer(r#"{"emailAddress": "mess@example.com"}"#)]);
    let emu = emulator()
        .proxy_upstream(&provider.base)
        .no_proxy("slack_x7y9z")
        .spawn()
        .unwrap();
    activate(&emu, GMAIL, IDENTIFIER);
    activate(&emu, "slack_x7y9z", IDENTIFIER);
    let cli = Cli::on(&emu);
    let run = cli.run(&[
        "api",
        "--service",
        "gmail",
        "--via-scalekit",
        "/gmail/v1/users/me/profile",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, r#"{"emailAddress": "mess@example.com"}"#);
    let seen = provider.seen();
    assert_eq!(seen[0].line, "GET /gmail/v1/users/me/profile HTTP/1.1");
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {}", token(&emu)).as_str())
    );
    assert_eq!(emu.requests(Route::Proxy), 1);

    let run = cli.run(&[
        "api",
        "--json",
        "--service",
        "slack",
        "--via-scalekit",
        "/api/chat.postMessage",
    ]);
    assert_eq!(run.code, 6, "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["code"], "proxy_not_enabled");
    let run = cli.run(&["api", "/gmail/v1/users/me/profile"]);
    assert_eq!(run.code, 2, "a path needs --service: {run:?}");
}

#[test]
fn json_output_masks_the_token_in_headers_and_after_decoding_escapes() {
    let provider = Provider::serve(vec![(
        200,
        vec![("Content-Type", "application/json".into())],
        b"ESCAPED".to_vec(),
    )]);
    let (emu, cli) = setup(&provider);
    let run = cli.run(&["api", "--json", &format!("{}/x", provider.base)]);
    assert_eq!(run.code, 0, "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(!run.stdout.contains(&token(&emu)), "{}", run.stdout);
    assert_eq!(v["headers"]["x-echo"], "<concealed by get-token>");
    assert_eq!(v["body"]["uesc"], "<concealed by get-token>");
}

#[test]
fn headers_that_choose_the_host_or_the_account_are_refused() {
    let provider = Provider::serve(vec![json_answer("{}")]);
    let (_emu, cli) = setup(&provider);
    for header in [
        "Host: evil.example",
        "identifier: mallory",
        "connection_name: other_conn",
    ] {
        let run = cli.run(&["api", "-H", header, &format!("{}/x", provider.base)]);
        assert_eq!(run.code, 2, "{header}: {run:?}");
        let run = cli.run(&[
            "api",
            "--service",
            "gmail",
            "--via-scalekit",
            "-H",
            header,
            "/x",
        ]);
        assert_eq!(run.code, 2, "{header}: {run:?}");
    }
    assert!(provider.seen().is_empty());
}
