//! `get-token mcp` with hosts as they are: a call the host cancels stops at once (nothing more is sent for
//! it, its listener closes); progress while `authorize` waits; a host without URL elicitation finishes user
//! verification with the `verify` tool; zero services and no set-up at all still give valid tools.
//! (Newcomer review 2, part B.)

mod common;
mod mcp_support;

use std::sync::Arc;
use std::time::Duration;

use common::{Cli, emulator};
use mcp_support::*;
use rmcp::model::{
    CallToolRequestParams, ClientRequest, NumberOrString, ProgressToken, RequestMetaObject,
};
use rmcp::service::PeerRequestOptions;
use serde_json::json;
use tokenbroker_emulator::{Approval, Emulator, UserVerification};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_authorize_stops_and_closes_its_listener_after_progress() {
    let (emu, cli) = setup(echoing_provider()).await;
    let port = free_port();
    let cli = cli.var("TOKENBROKER_VERIFY_PORT", &port.to_string());
    let session = Session::start(emu.clone(), cli, Answer::Hold, &[]).await;
    let mut params = CallToolRequestParams::new("authorize");
    params.arguments = json!({"service": "slack"}).as_object().cloned();
    let mut meta = RequestMetaObject::new();
    meta.set_progress_token(ProgressToken(NumberOrString::String("p1".into())));
    let options = PeerRequestOptions::no_options().with_meta(meta);
    let request = ClientRequest::CallToolRequest(rmcp::model::Request::new(params));
    let handle = session
        .client
        .peer()
        .send_cancellable_request(request, options)
        .await
        .unwrap();
    // The user "opened" the link (Hold accepts), and the server waits, listening.
    tokio::time::sleep(Duration::from_millis(6500)).await;
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", port)).is_err(),
        "the listener is up while waiting"
    );
    assert!(
        !session.handler.progress.lock().unwrap().is_empty(),
        "progress while waiting"
    );
    let id = format!("{:?}", handle.id);
    handle
        .cancel(Some("the host gave up".into()))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let before = session.transcript();
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
        "the listener closed with the call"
    );
    tokio::time::sleep(Duration::from_secs(6)).await;
    let after = session.transcript();
    assert_eq!(
        before, after,
        "nothing more was sent for the cancelled call ({id})"
    );
    assert_eq!(
        session.handler.elicited.lock().unwrap().len(),
        1,
        "one elicitation, no second one"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_url_elicitation_custom_verification_finishes_with_the_verify_tool() {
    let emu = Arc::new(
        emulator()
            .user_verification(UserVerification::Custom)
            .start()
            .await
            .unwrap(),
    );
    let cli = Cli::on(&emu);
    let session = Session::start(emu.clone(), cli, Answer::NoUrlMode, &[]).await;
    let relayed = session
        .call("authorize", json!({"service": "slack"}))
        .await
        .unwrap();
    let value = &relayed["value"];
    let message = value["message"].as_str().unwrap();
    assert!(
        message.contains("copy that page's whole address"),
        "{relayed}"
    );
    // The user approves on a phone: the redirect to 127.0.0.1 does not load there; they send it back.
    let Approval::Redirect(address) =
        emu.click_approve(value["authorization_url"].as_str().unwrap(), true)
    else {
        panic!("custom mode redirects")
    };
    let done = session
        .call("verify", json!({"address": address}))
        .await
        .unwrap();
    assert_eq!(done["value"]["status"], "ok", "{done}");
    let status = session
        .call("status", json!({"service": "slack"}))
        .await
        .unwrap();
    assert_eq!(status["value"]["services"][0]["ready"], true, "{status}");
    let again = session
        .call(
            "verify",
            json!({"address": "http://127.0.0.1:9/tokenbroker/verify?state=x"}),
        )
        .await
        .unwrap();
    assert_eq!(again["is_error"], true, "{again}");
    // A hostile address: refused, said once, escaped; no token or secret anywhere in what was sent.
    let hostile = session
        .call("verify", json!({"address": "http://127.0.0.1:9/tokenbroker/verify?auth_request_id=\u{1b}]0;x\u{7}&state=tbv1.x"}))
        .await
        .unwrap();
    assert_eq!(hostile["is_error"], true, "{hostile}");
    assert!(
        !session.transcript().contains('\u{1b}'),
        "no raw escape in any message"
    );
    assert_no_token(&session, &emu);
}

#[tokio::test(flavor = "multi_thread")]
async fn zero_services_or_no_set_up_still_give_valid_tools() {
    let emu = Arc::new(emulator().start().await.unwrap());
    let cli = Cli::on(&emu);
    cli.write_config("connections.json", "{}");
    let session = Session::start(emu.clone(), cli, Answer::Approve, &[]).await;
    let tools = session.client.list_all_tools().await.unwrap();
    let schemas = serde_json::to_string(&tools).unwrap();
    assert!(!schemas.contains("\"enum\":[]"), "no empty enum: {schemas}");

    let bare = Cli::new();
    let session = Session::start(
        Arc::new(Emulator::builder().start().await.unwrap()),
        bare,
        Answer::Approve,
        &[],
    )
    .await;
    let tools = session.client.list_all_tools().await.unwrap();
    assert!(tools.len() >= 5, "the server starts without a set-up");
    let listed = session.call("list_services", json!({})).await.unwrap();
    assert_eq!(listed["is_error"], true, "{listed}");
    assert!(
        listed["value"]["next"]
            .as_str()
            .unwrap()
            .contains("get-token init"),
        "{listed}"
    );
}

/// Two hosts (two `get-token mcp` processes, one verify port) authorizing at once, in an environment that
/// verifies users: each redirect reaches the wait it belongs to, and both finish.
#[tokio::test(flavor = "multi_thread")]
async fn two_hosts_authorizing_at_once_share_the_verify_port() {
    let emu = Arc::new(
        emulator()
            .user_verification(UserVerification::Custom)
            .start()
            .await
            .unwrap(),
    );
    let port = free_port().to_string();
    let a = Cli::on(&emu).var("TOKENBROKER_VERIFY_PORT", &port);
    let b = Cli::on(&emu).var("TOKENBROKER_VERIFY_PORT", &port);
    let first = Session::start(emu.clone(), a, Answer::ApproveAndVerify, &[]).await;
    let second = Session::start(emu.clone(), b, Answer::ApproveAndVerify, &[]).await;
    let (one, two) = tokio::join!(
        first.call("authorize", json!({"service": "gmail"})),
        second.call("authorize", json!({"service": "slack"})),
    );
    let (one, two) = (one.unwrap(), two.unwrap());
    assert_eq!(
        (
            one["value"]["status"].as_str(),
            two["value"]["status"].as_str()
        ),
        (Some("ok"), Some("ok")),
        "{one} {two}"
    );
    assert_eq!(
        emu.status(GMAIL, common::IDENTIFIER).as_deref(),
        Some("ACTIVE")
    );
    assert_eq!(
        emu.status(SLACK, common::IDENTIFIER).as_deref(),
        Some("ACTIVE")
    );
}
