//! Review 2, M-B and L-G: an API host that echoes the request (TRACE, httpbin's `/anything`) or writes the
//! token in a key, a header name, JSON escapes or a compressed body. Neither the MCP `request` tool nor
//! `get-token api` may show any run of the token, whatever the model asks for.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::Stdio;

use common::{Cli, IDENTIFIER, activate, emulator};
use serde_json::{Value, json};
use tokenbroker_emulator::Emulator;

const GMAIL: &str = "gmail_u3134a";
/// The MCP tool's cut (mcp/mod.rs MAX_BODY).
const CAP: usize = 256 * 1024;

/// An echoing API on 127.0.0.1: `/echo` answers with the request head (the Authorization line moved last,
/// as an attacker would like it: the cut then falls in it), `/keys` puts the token in a JSON key and a header
/// name, `/uesc` writes it as `\u` escapes, `/gzip` claims a compressed body.
fn echo_server() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut lines, mut auth) = (Vec::new(), String::new());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if line.to_ascii_lowercase().starts_with("authorization:") {
                    auth = line;
                } else {
                    lines.push(line);
                }
            }
            let token = auth.trim().rsplit(' ').next().unwrap_or("").to_owned();
            let path = lines[0].split(' ').nth(1).unwrap_or("").to_owned();
            if path == "/te" {
                // A transfer coding hyper leaves as it is: the body arrives compressed.
                let body = "COMPRESSED-BODY";
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
                    body.len()
                );
                continue;
            }
            let (kind, extra, body) = match path.as_str() {
                "/keys" => (
                    "application/json",
                    format!("{token}: h\r\n"),
                    json!({ token.clone(): 1, "v": token }).to_string(),
                ),
                "/uesc" => {
                    let escaped: String = token
                        .chars()
                        .map(|c| format!("\\u{:04x}", c as u32))
                        .collect();
                    ("text/plain", String::new(), format!("token={escaped}\n"))
                }
                "/gzip" => (
                    "application/json",
                    "Content-Encoding: gzip\r\n".into(),
                    "COMPRESSED-BODY".into(),
                ),
                _ => (
                    "message/http",
                    String::new(),
                    lines.concat() + &auth + "\r\n",
                ),
            };
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

fn setup() -> (Emulator, Cli, u16) {
    let port = echo_server();
    let emu = emulator().spawn().unwrap();
    activate(&emu, GMAIL, IDENTIFIER);
    let cli = Cli::on(&emu);
    cli.write_config(
        "connections.json",
        &format!(
            r#"{{"gmail": {{"connection_name": "{GMAIL}", "identifier": "{IDENTIFIER}", "hosts": ["127.0.0.1:{port}"]}}}}"#
        ),
    );
    (emu, cli, port)
}

/// Any eight consecutive bytes of the token in `shown`.
fn leaks(shown: &str, token: &str) -> Option<String> {
    let eight = token
        .as_bytes()
        .windows(8)
        .find(|w| shown.as_bytes().windows(8).any(|s| s == *w));
    eight.map(|w| String::from_utf8_lossy(w).into_owned())
}

/// `get-token mcp` driven over raw JSON-RPC (as a minimal client would): the answers to `calls`, and
/// everything the server wrote.
fn mcp(cli: &Cli, calls: &[Value]) -> (Vec<Value>, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_get-token"))
        .arg("mcp")
        .env_clear()
        .env("HOME", cli.home.path())
        .envs(cli.env.iter().map(|(k, v)| (k, v)))
        .current_dir(cli.cwd())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut messages = vec![
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-06-18",
               "capabilities": {}, "clientInfo": {"name": "echo-test", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    ];
    for (i, args) in calls.iter().enumerate() {
        messages.push(
            json!({"jsonrpc": "2.0", "id": i + 1, "method": "tools/call",
                             "params": {"name": "request", "arguments": args}}),
        );
    }
    let mut out = String::new();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut answers = Vec::new();
    for m in messages {
        writeln!(stdin, "{m}").unwrap();
        if m.get("id").is_none() {
            continue;
        }
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        out.push_str(&line);
        answers.push(serde_json::from_str::<Value>(&line).unwrap());
    }
    drop(stdin);
    reader.read_to_string(&mut out).unwrap();
    let _ = child.wait();
    (answers.split_off(1), out)
}

#[test]
fn mcp_trace_echo_padding_never_leaves_part_of_the_token() {
    let (emu, cli, port) = setup();
    let token = emu.access_token(GMAIL, IDENTIFIER).unwrap();
    let url = format!("http://127.0.0.1:{port}/echo");
    // The probe: where the token starts in the echo, with the review's padding (Apache's limits: fields
    // under 8190 bytes, fewer than 100 of them).
    let fixed: serde_json::Map<String, Value> = (1..36)
        .map(|i| (format!("X-Pad-{i:02}"), Value::String("A".repeat(7000))))
        .collect();
    let with = |pad: usize| {
        let mut headers = fixed.clone();
        headers.insert("X-Pad-00".into(), Value::String("A".repeat(pad)));
        json!({"url": url, "headers": headers})
    };
    let (probe, _) = mcp(&cli, &[with(1)]);
    let body = probe[0]["result"]["structuredContent"]["body"]
        .as_str()
        .unwrap()
        .to_owned();
    let start = body.find("Bearer ").unwrap() + "Bearer ".len();
    assert!(start < CAP, "the probe is not cut before the token");
    // Cuts that leave 1, 2, half, all but one and all of the token's bytes before the cut.
    let shifts = [1, 2, 8, token.len() / 2, token.len() - 1, token.len()];
    let calls: Vec<Value> = shifts.iter().map(|k| with(1 + CAP - start - k)).collect();
    let (answers, transcript) = mcp(&cli, &calls);
    for (k, answer) in shifts.iter().zip(&answers) {
        let result = &answer["result"]["structuredContent"];
        // The mask is shorter than the token: a cut planned past its first bytes may no longer be needed.
        if *k <= 8 {
            assert_eq!(result["truncated"], true, "{k}: cut as planned");
        }
        let body = result["body"].as_str().unwrap();
        let tail = &body[body.len().saturating_sub(60)..];
        assert!(!tail.contains(&token[..2]), "{k}: {tail}");
    }
    assert_eq!(leaks(&transcript, &token), None);

    // TRACE itself is not sent.
    let (answers, _) = mcp(&cli, &[json!({"url": url, "method": "TRACE"})]);
    assert!(
        answers[0].get("error").is_some() || answers[0]["result"]["isError"] == true,
        "{}",
        answers[0]
    );
}

#[test]
fn keys_header_names_escapes_and_compression_hide_no_token() {
    let (emu, cli, port) = setup();
    let token = emu.access_token(GMAIL, IDENTIFIER).unwrap();
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let (answers, transcript) = mcp(
        &cli,
        &[
            json!({"url": url("/keys")}),
            json!({"url": url("/uesc")}),
            json!({"url": url("/gzip")}),
        ],
    );
    assert_eq!(leaks(&transcript, &token), None, "{transcript}");
    assert!(!transcript.contains(&token), "{transcript}");
    let keys = &answers[0]["result"]["structuredContent"];
    assert!(
        keys["body"]
            .as_object()
            .unwrap()
            .contains_key("<concealed by get-token>"),
        "{keys}"
    );
    assert!(
        keys["headers"]
            .as_object()
            .unwrap()
            .contains_key("<concealed by get-token>"),
        "{keys}"
    );
    let gzip = &answers[2]["result"]["structuredContent"];
    assert!(
        gzip["body"].is_null() && gzip["withheld"].as_str().unwrap().contains("compressed"),
        "{gzip}"
    );
    assert!(!transcript.contains("COMPRESSED-BODY"));

    // `get-token api` alike: --json, plain, and plain with -i.
    for args in [vec!["--json", "api", "-i"], vec!["api"], vec!["api", "-i"]] {
        for path in ["/keys", "/uesc", "/gzip", "/te", "/echo"] {
            let mut args = args.clone();
            let target = url(path);
            args.push(&target);
            let run = cli.run(&args);
            let both = format!("{}{}", run.stdout, run.stderr);
            assert_eq!(leaks(&both, &token), None, "{args:?}: {both}");
            assert!(!both.contains("COMPRESSED-BODY"), "{args:?}: {both}");
        }
    }
    for path in ["/gzip", "/te"] {
        let run = cli.run(&["api", &url(path)]);
        assert!(run.stderr.contains("compressed"), "{run:?}");
    }
    let run = cli.run(&["api", "-X", "TRACE", &url("/echo")]);
    assert_eq!(run.code, 2, "{run:?}");
}
