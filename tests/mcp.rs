//! `get-token mcp` driven by rmcp's client (the official MCP SDK's, not ours), over the real binary's
//! stdin/stdout: initialize, tools/list, every tool, URL elicitation accepted and declined, the
//! URL-elicitation-required error, a request through the emulator-backed broker, hostile messages, and no
//! token anywhere in what the server sends.

mod common;

mod mcp_support;

use std::io::Write;
use std::sync::Arc;

use common::{Cli, IDENTIFIER, activate, emulator};
use mcp_support::*;
use serde_json::json;
use tokenbroker_emulator::UserVerification;

#[tokio::test(flavor = "multi_thread")]
async fn tools_list_status_and_a_request_without_a_token_in_sight() {
    let port = echoing_provider();
    let (emu, cli) = setup(port).await;
    let session = Session::start(emu.clone(), cli, Answer::Approve, &[]).await;
    let info = session.client.peer_info().unwrap();
    assert_eq!(info.server_info.as_ref().unwrap().name, "tokenbroker");
    let tools = session.client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(
        names,
        ["list_services", "status", "authorize", "verify", "request"]
    );
    assert!(
        tools
            .iter()
            .all(|t| t.description.as_ref().is_some_and(|d| d.len() > 40))
    );

    let listed = session.call("list_services", json!({})).await.unwrap();
    let services = &listed["value"]["services"];
    assert_eq!(
        (
            services[0]["service"].as_str(),
            services[0]["ready"].as_bool()
        ),
        (Some("gmail"), Some(true))
    );
    assert_eq!(
        (
            services[1]["service"].as_str(),
            services[1]["ready"].as_bool()
        ),
        (Some("slack"), Some(false))
    );
    let status = session
        .call("status", json!({"service": "gmail"}))
        .await
        .unwrap();
    assert_eq!(
        status["value"]["services"][0]["account_status"], "ACTIVE",
        "{status}"
    );
    assert!(status["value"]["services"][0]["token_expires_at"].is_string());

    let url = format!("http://127.0.0.1:{port}/gmail/v1/users/me/profile");
    let answer = session.call("request", json!({"url": url})).await.unwrap();
    assert_eq!(answer["value"]["status"], 200, "{answer}");
    assert_eq!(answer["value"]["body"]["emailAddress"], "user@example.com");
    assert!(
        answer["value"]["body"]["echo"]
            .as_str()
            .unwrap()
            .contains("concealed"),
        "the echoed token is masked: {answer}"
    );

    // Bad arguments are tool results with isError (MCP 2025-11-25), which the model can correct; an
    // unknown tool is a protocol error.
    for (tool, args) in [
        ("status", json!({"service": "nope"})),
        ("status", json!({"service": 7})),
        ("authorize", json!({})),
        ("verify", json!({"address": 12})),
        (
            "request",
            json!({"url": "https://evil.example/x", "service": "gmail"}),
        ),
    ] {
        let v = session
            .call(tool, args.clone())
            .await
            .unwrap_or_else(|e| panic!("{tool} {args}: {e:?}"));
        assert_eq!(v["is_error"], true, "{tool} {args}: {v}");
        assert!(
            !v.to_string().contains("get-token "),
            "MCP terms, not CLI ones: {v}"
        );
    }
    for (tool, args) in [
        ("steal", json!({})),
        ("get_token", json!({"service": "gmail"})),
    ] {
        assert!(
            session.call(tool, args).await.is_err(),
            "{tool} is not offered"
        );
    }
    assert_no_token(&session, &emu);
}

#[tokio::test(flavor = "multi_thread")]
async fn authorize_by_url_elicitation_accepted_then_completed() {
    let (emu, cli) = setup(echoing_provider()).await;
    let session = Session::start(emu.clone(), cli, Answer::Approve, &[]).await;
    let done = session
        .call("authorize", json!({"service": "slack"}))
        .await
        .unwrap();
    assert_eq!(done["value"]["status"], "ok", "{done}");
    assert_eq!(emu.status(SLACK, IDENTIFIER).as_deref(), Some("ACTIVE"));
    let elicited = session.handler.elicited.lock().unwrap().clone();
    assert_eq!(elicited.len(), 1);
    assert!(elicited[0].1.contains("/magic/"), "{elicited:?}");
    // The completion notification names the same elicitation.
    for _ in 0..100 {
        if !session.handler.completed.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        *session.handler.completed.lock().unwrap(),
        [elicited[0].0.clone()]
    );
    // The link went to the client, not into the tool result the model reads.
    assert!(!done.to_string().contains("/magic/"), "{done}");
    assert_no_token(&session, &emu);
}

#[tokio::test(flavor = "multi_thread")]
async fn authorize_declined_and_a_client_without_url_mode() {
    let (emu, cli) = setup(echoing_provider()).await;
    let session = Session::start(emu.clone(), cli, Answer::Decline, &[]).await;
    let declined = session
        .call("authorize", json!({"service": "slack"}))
        .await
        .unwrap();
    assert_eq!(declined["value"]["status"], "declined", "{declined}");
    assert_ne!(emu.status(SLACK, IDENTIFIER).as_deref(), Some("ACTIVE"));

    let (emu, cli) = setup(echoing_provider()).await;
    let session = Session::start(emu.clone(), cli, Answer::NoUrlMode, &[]).await;
    let relayed = session
        .call("authorize", json!({"service": "slack"}))
        .await
        .unwrap();
    let value = &relayed["value"];
    assert!(
        value["authorization_url"]
            .as_str()
            .unwrap()
            .contains("/magic/"),
        "{relayed}"
    );
    assert!(
        value["expires_at"].is_string() && value["message"].is_string(),
        "{relayed}"
    );
    let next = value["next"].as_str().unwrap();
    assert!(
        next.contains("call verify") && next.contains("call status") && !next.contains("get-token"),
        "the next step in MCP's terms, no CLI command: {relayed}"
    );
    assert!(session.handler.elicited.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_for_an_unauthorized_account_asks_for_authorization() {
    let port = echoing_provider();
    let (emu, cli) = setup(port).await;
    cli.write_config(
        "connections.json",
        &format!(r#"{{"gmail": {{"connection_name": "{SLACK}", "identifier": "{IDENTIFIER}", "hosts": ["127.0.0.1:{port}"]}}}}"#),
    );
    let url = format!("http://127.0.0.1:{port}/x");
    let session = Session::start(emu.clone(), cli, Answer::Approve, &[]).await;
    let err = session
        .call("request", json!({"url": url}))
        .await
        .unwrap_err();
    assert_eq!(err.code.0, -32042, "{err:?}");
    let elicitation = &err.data.as_ref().unwrap()["elicitations"][0];
    assert_eq!(elicitation["mode"], "url");
    let link = elicitation["url"].as_str().unwrap();
    assert!(link.contains("/magic/"), "{err:?}");
    // A retry meanwhile gets the same elicitation, not a second wait.
    let again = session
        .call("request", json!({"url": url}))
        .await
        .unwrap_err();
    assert_eq!(
        again.data.as_ref().unwrap()["elicitations"][0]["elicitationId"],
        elicitation["elicitationId"]
    );
    // The user opens it; the server, waiting in the background, says when it is done.
    assert!(emu.approve_link(link));
    for _ in 0..300 {
        if !session.handler.completed.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        session
            .handler
            .completed
            .lock()
            .unwrap()
            .first()
            .map(String::as_str),
        elicitation["elicitationId"].as_str()
    );
    let answer = session.call("request", json!({"url": url})).await.unwrap();
    assert_eq!(answer["value"]["status"], 200, "{answer}");
    assert_no_token(&session, &emu);
}

#[tokio::test(flavor = "multi_thread")]
async fn services_restriction_allow_token_and_hostile_input() {
    let (emu, cli) = setup(echoing_provider()).await;
    let session = Session::start(
        emu.clone(),
        cli,
        Answer::Approve,
        &["--services", "slack", "--allow-token"],
    )
    .await;
    let tools = session.client.list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "get_token"));
    let listed = session.call("list_services", json!({})).await.unwrap();
    assert_eq!(
        listed["value"]["services"].as_array().unwrap().len(),
        1,
        "{listed}"
    );
    let refused = session
        .call("status", json!({"service": "gmail"}))
        .await
        .unwrap();
    assert_eq!(
        refused["is_error"], true,
        "gmail is not this server's: {refused}"
    );
    let refused = session
        .call("get_token", json!({"service": "gmail"}))
        .await
        .unwrap();
    assert_eq!(refused["is_error"], true, "{refused}");
    activate(&emu, SLACK, IDENTIFIER);
    let token = session
        .call("get_token", json!({"service": "slack"}))
        .await
        .unwrap();
    assert!(
        session
            .transcript()
            .contains(&emu.access_token(SLACK, IDENTIFIER).unwrap()),
        "{token}"
    );

    // Raw hostile lines on a fresh server: too long, not JSON, a wrong shape. It answers or drops them, and
    // still works after.
    let (emu, cli) = setup(echoing_provider()).await;
    let session = Session::start(emu.clone(), cli, Answer::Approve, &[]).await;
    // Written raw to a second server of the same set-up: the client library would never send these.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_get-token"))
        .arg("mcp")
        .env_clear()
        .env("HOME", session._cli.home.path())
        .envs(session._cli.env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let huge = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":\"{}\"}}\n",
        "a".repeat(2 << 20)
    );
    let _ = stdin.write_all(huge.as_bytes());
    let _ = stdin.write_all(b"not json at all\n{\"jsonrpc\":\"2.0\",\"id\":[],\"method\":7}\n");
    let init = json!({"jsonrpc": "2.0", "id": 2, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}});
    let _ = writeln!(stdin, "{init}");
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("\"id\":2") && text.contains("tokenbroker"),
        "it still answered: {text}"
    );
    assert!(text.len() < 100_000, "nothing echoed back at length");
}

/// Where the environment verifies users (Custom mode, the production default): the approval ends at
/// get-token's loopback listener, which completes the verification while `authorize` waits.
#[tokio::test(flavor = "multi_thread")]
async fn authorize_completes_user_verification() {
    let emu = Arc::new(
        emulator()
            .user_verification(UserVerification::Custom)
            .start()
            .await
            .unwrap(),
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cli = Cli::on(&emu).var("TOKENBROKER_VERIFY_PORT", &port.to_string());
    let session = Session::start(emu.clone(), cli, Answer::ApproveAndVerify, &[]).await;
    let done = session
        .call("authorize", json!({"service": "gmail"}))
        .await
        .unwrap();
    assert_eq!(done["value"]["status"], "ok", "{done}");
    assert_eq!(emu.status(GMAIL, IDENTIFIER).as_deref(), Some("ACTIVE"));
    assert_no_token(&session, &emu);
}
