//! The emulator's HTTP edges over raw HTTP: body cap, `x-api-version`, any-connection mode, the connection
//! list (audit §6.6) and the proxy (audit §6.1).

mod common;

use std::sync::{Arc, Mutex};

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tokenbroker_emulator::{Emulator, Route};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn create(emu: &Emulator, connector: &str) -> StatusCode {
    Client::new()
        .post(format!("{}/api/v1/connected_accounts", emu.url()))
        .bearer_auth(common::emulator_api_token(emu).await)
        .json(&json!({"connector": connector, "identifier": "mess", "connected_account": {}}))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_body_over_64_kib_is_refused_with_413() {
    let emu = Emulator::builder()
        .connection("gmail")
        .start()
        .await
        .unwrap();
    let huge = json!({"connector": "gmail", "identifier": "mess", "state": "x".repeat(70_000)});
    let answer = Client::new()
        .post(format!(
            "{}/api/v1/connected_accounts/magic_link",
            emu.url()
        ))
        .bearer_auth(common::emulator_api_token(&emu).await)
        .json(&huge)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = answer.json().await.unwrap();
    assert!(body["details"][0]["error_code"].is_string(), "{body}");
    assert_eq!(emu.status("gmail", "mess"), None);
}

#[tokio::test]
async fn x_api_version_is_accepted_and_ignored() {
    let emu = Emulator::builder()
        .connection("gmail")
        .start()
        .await
        .unwrap();
    let answer = Client::new()
        .post(format!("{}/api/v1/connected_accounts", emu.url()))
        .bearer_auth(common::emulator_api_token(&emu).await)
        .header("x-api-version", "20260716")
        .header("x-sdk-version", "node/2.0.0")
        .json(&json!({"connector": "gmail", "identifier": "mess", "connected_account": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn any_connection_mode_accepts_any_valid_name_only() {
    let strict = Emulator::builder()
        .connection("gmail")
        .start()
        .await
        .unwrap();
    assert_eq!(create(&strict, "notion_q1").await, StatusCode::NOT_FOUND);
    let any = Emulator::builder()
        .accept_any_connection(true)
        .start()
        .await
        .unwrap();
    assert_eq!(create(&any, "notion_q1: x-y").await, StatusCode::CREATED);
    assert_eq!(create(&any, "bad/name").await, StatusCode::BAD_REQUEST);
    assert_eq!(
        create(&any, &"n".repeat(401)).await,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn connections_app_lists_the_configured_connections() {
    let emu = Emulator::builder()
        .connection("gmail_u3134a")
        .api_key_connection("fathom_k1")
        .start()
        .await
        .unwrap();
    let body: Value = Client::new()
        .get(format!("{}/api/v1/connections/app", emu.url()))
        .bearer_auth(common::emulator_api_token(&emu).await)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["total_size"], 2);
    assert_eq!(
        (
            body["next_page_token"].as_str(),
            body["prev_page_token"].as_str()
        ),
        (Some(""), Some(""))
    );
    let gmail = body["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key_id"] == "gmail_u3134a")
        .unwrap();
    assert_eq!(gmail["type"], "OAUTH");
    assert_eq!(gmail["enabled"], true);
    assert!(
        gmail["id"].is_string() && gmail["provider"].is_string() && gmail["status"].is_string()
    );
    assert_eq!(emu.requests(Route::AppConnections), 1);
    let unauthenticated = Client::new().get(format!("{}/api/v1/connections/app", emu.url()));
    assert_eq!(
        unauthenticated.send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

/// A one-shot upstream on loopback: records the raw request and answers 201 with a binary body.
async fn upstream() -> (String, Arc<Mutex<String>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(String::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&raw).contains("hello-body") {
            let n = stream.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&buf[..n]);
        }
        *record.lock().unwrap() = String::from_utf8_lossy(&raw).into_owned();
        let head = "HTTP/1.1 201 Created\r\nx-upstream: yes\r\ncontent-type: application/octet-stream\r\n\
                    content-length: 4\r\nconnection: close\r\n\r\n";
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&[0, 1, 2, 255]).await.unwrap();
    });
    (url, seen)
}

async fn proxy_call(emu: &Emulator, connection: &str) -> reqwest::Response {
    Client::new()
        .post(format!(
            "{}/proxy/gmail/v1/users/me/send?x=1&y=%20",
            emu.url()
        ))
        .bearer_auth(common::emulator_api_token(emu).await)
        .header("connection_name", connection)
        .header("identifier", "mess")
        .header("content-type", "text/xml")
        .body("<hello-body/>")
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_proxy_forwards_with_the_accounts_token_and_returns_the_answer_as_is() {
    let (base, seen) = upstream().await;
    let emu = Emulator::builder()
        .connection("gmail")
        .proxy_upstream(&base)
        .start()
        .await
        .unwrap();
    emu.set_status("gmail", "mess", "PENDING_AUTH");
    emu.approve("gmail", "mess");
    let answer = proxy_call(&emu, "gmail").await;
    assert_eq!(answer.status(), StatusCode::CREATED);
    assert_eq!(answer.headers()["x-upstream"], "yes");
    assert_eq!(answer.bytes().await.unwrap().as_ref(), &[0, 1, 2, 255]);
    let seen = seen.lock().unwrap().clone();
    let token = emu.access_token("gmail", "mess").unwrap();
    assert!(
        seen.starts_with("POST /gmail/v1/users/me/send?x=1&y=%20 HTTP/1.1"),
        "{seen}"
    );
    assert!(
        seen.to_lowercase()
            .contains(&format!("authorization: bearer {token}")),
        "{seen}"
    );
    assert!(
        seen.contains("text/xml") && seen.ends_with("<hello-body/>"),
        "{seen}"
    );
    assert!(
        !seen.contains("emu_api_"),
        "the Scalekit API token stays with Scalekit"
    );
    assert!(!seen.contains("connection_name"), "{seen}");
    assert_eq!(emu.requests(Route::Proxy), 1);
}

/// EM10: a `proxy_url` with a base path (`https://app.asana.com/api`) comes before the relative path, as
/// Scalekit joins them.
#[tokio::test]
async fn the_proxy_joins_an_upstream_base_path_and_the_relative_path() {
    let (base, seen) = upstream().await;
    let emu = Emulator::builder()
        .connection("gmail")
        .proxy_upstream(&format!("{base}/api"))
        .start()
        .await
        .unwrap();
    emu.set_status("gmail", "mess", "PENDING_AUTH");
    emu.approve("gmail", "mess");
    assert_eq!(
        proxy_call(&emu, "gmail").await.status(),
        StatusCode::CREATED
    );
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.starts_with("POST /api/gmail/v1/users/me/send?x=1&y=%20 HTTP/1.1"),
        "{seen}"
    );
}

#[tokio::test]
async fn the_proxy_refuses_when_not_enabled_or_not_active() {
    let emu = Emulator::builder()
        .connection("gmail")
        .start()
        .await
        .unwrap();
    emu.set_status("gmail", "mess", "ACTIVE");
    let answer = proxy_call(&emu, "gmail").await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["message"], "proxy not enabled for provider");

    let emu = Emulator::builder()
        .connection("gmail")
        .connection("slack")
        .no_proxy("slack")
        .proxy_upstream("http://127.0.0.1:9")
        .start()
        .await
        .unwrap();
    emu.set_status("slack", "mess", "PENDING_AUTH");
    emu.approve("slack", "mess");
    let body: Value = proxy_call(&emu, "slack").await.json().await.unwrap();
    assert_eq!(body["details"][0]["error_code"], "PROXY_NOT_ENABLED");
    assert_eq!(
        proxy_call(&emu, "gmail").await.status(),
        StatusCode::NOT_FOUND
    );
    emu.set_status("gmail", "mess", "PENDING_AUTH");
    let body: Value = proxy_call(&emu, "gmail").await.json().await.unwrap();
    assert_eq!(body["details"][0]["error_code"], "FAILED_PRECONDITION");
    let missing = Client::new()
        .get(format!("{}/proxy/x", emu.url()))
        .bearer_auth(common::emulator_api_token(&emu).await)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    let unauthenticated = Client::new().get(format!("{}/proxy/x", emu.url())).send();
    assert_eq!(
        unauthenticated.await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

/// With any connection name accepted, a name joins the list at its first use, so that the list and the
/// accounts agree as they do at Scalekit (a name never used is not listed: a typo shows as one).
#[tokio::test]
async fn accepted_names_join_the_list_when_first_used() {
    let emu = Emulator::builder()
        .connection("gmail")
        .accept_any_connection(true)
        .start()
        .await
        .unwrap();
    let broker = common::uncached(&emu);
    let names = |list: std::sync::Arc<Vec<tokenbroker::EnvironmentConnection>>| {
        list.iter().map(|c| c.name.clone()).collect::<Vec<_>>()
    };
    let before = broker.environment_connections().await.unwrap().unwrap();
    assert_eq!(names(before), ["gmail"]);
    let connections = tokenbroker::Connections::new()
        .with("notion", tokenbroker::Connection::new("notion_work"))
        .unwrap();
    let other = common::builder(&emu)
        .connections(connections)
        .build()
        .unwrap();
    assert!(
        other.get_token("notion").await.is_err(),
        "a link: not authorized yet"
    );
    let after = other.environment_connections().await.unwrap().unwrap();
    assert_eq!(names(after), ["gmail", "notion_work"]);
}
