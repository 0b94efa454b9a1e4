//! The emulator's user-verification modes, link page and `/user/verify`, driven over raw HTTP as Scalekit's
//! clients and a user's browser would (wire audit §2.5, §2.7, §3).

mod common;

use std::time::Duration;

use reqwest::{Client, StatusCode, header};
use serde_json::{Value, json};
use tokenbroker_emulator::{
    Approval, DASHBOARD_COOKIE, Emulator, EmulatorBuilder, Route, UserVerification,
};

const CONN: &str = "gmail_u3134a";

fn emulator(mode: UserVerification) -> EmulatorBuilder {
    Emulator::builder().connection(CONN).user_verification(mode)
}

/// A client that shows redirects instead of following them.
fn http() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn post(emu: &Emulator, path: &str, body: &Value) -> (StatusCode, Value) {
    let token = common::emulator_api_token(emu).await;
    let answer = http()
        .post(format!("{}{path}", emu.url()))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = answer.status();
    (status, answer.json().await.unwrap_or(Value::Null))
}

async fn link(emu: &Emulator, identifier: &str, extra: Value) -> String {
    let mut body = json!({"connector": CONN, "identifier": identifier});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let (status, answer) = post(emu, "/api/v1/connected_accounts/magic_link", &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["link"].as_str().unwrap().to_owned()
}

async fn click(url: &str, button: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut request = http().post(format!("{url}/{button}"));
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    request.send().await.unwrap()
}

async fn verify(emu: &Emulator, auth_request_id: &str, identifier: &str) -> (StatusCode, Value) {
    let body = json!({"auth_request_id": auth_request_id, "identifier": identifier});
    post(emu, "/api/v1/connected_accounts/user/verify", &body).await
}

fn error_code(body: &Value) -> &str {
    body["details"][0]["error_code"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn disabled_mode_activates_on_approve_and_the_link_then_says_it_was_used() {
    let emu = emulator(UserVerification::Disabled).start().await.unwrap();
    let url = link(&emu, "mess", json!({})).await;
    let answer = click(&url, "approve", None).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(answer.text().await.unwrap().contains("now connected"));
    assert_eq!(emu.status(CONN, "mess").as_deref(), Some("ACTIVE"));
    assert!(emu.access_token(CONN, "mess").is_some());

    let again = http().get(&url).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::GONE);
    let text = again.text().await.unwrap();
    assert!(
        text.contains("already used") && !text.contains("expired"),
        "{text}"
    );
    let unknown = http()
        .get(format!("{}/magic/ml_nope", emu.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert!(!unknown.text().await.unwrap().contains("already used"));
}

#[tokio::test]
async fn the_page_shows_what_is_asked_escaped_with_a_mobile_viewport() {
    let emu = emulator(UserVerification::Disabled).start().await.unwrap();
    let url = link(&emu, "<b>\"eve\"&'co'", json!({})).await;
    let page = http().get(&url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("name=\"viewport\""), "{page}");
    assert!(page.contains(CONN) && page.contains(&format!("{CONN}.read")));
    assert!(
        page.contains("&lt;b&gt;&quot;eve&quot;&amp;&#39;co&#39;"),
        "{page}"
    );
    assert!(!page.contains("<b>\"eve\""));
    assert!(page.contains(">Approve<") && page.contains(">Deny<"));
    assert!(
        !page.contains("Sign in"),
        "no sign-in outside Scalekit-users mode"
    );
}

#[tokio::test]
async fn deny_leaves_the_account_as_it_was() {
    let emu = emulator(UserVerification::Disabled).start().await.unwrap();
    let url = link(&emu, "mess", json!({})).await;
    let answer = click(&url, "deny", None).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(answer.text().await.unwrap().contains("denied"));
    assert_eq!(emu.status(CONN, "mess").as_deref(), Some("PENDING_AUTH"));
    assert!(emu.access_token(CONN, "mess").is_none());
    assert!(!emu.click_deny(&url), "a used link");
    assert!(emu.click_deny(&link(&emu, "mess", json!({})).await));
}

#[tokio::test]
async fn custom_mode_redirects_to_user_verify_url_then_verify_activates() {
    let emu = emulator(UserVerification::Custom).start().await.unwrap();
    let extra = json!({"user_verify_url": "http://127.0.0.1:9/cb?keep=1", "state": "a b&c=d"});
    let url = link(&emu, "mess", extra).await;
    let answer = click(&url, "approve", None).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let location = answer.headers()[header::LOCATION].to_str().unwrap();
    let location = url::Url::parse(location).unwrap();
    assert_eq!(location.path(), "/cb");
    let query: Vec<(String, String)> = location.query_pairs().into_owned().collect();
    assert_eq!(query[0], ("keep".into(), "1".into()));
    assert_eq!(query[1].0, "auth_request_id");
    assert_eq!(query[2], ("state".into(), "a b&c=d".into()));
    let id = query[1].1.clone();
    assert_eq!(
        emu.auth_request_id(CONN, "mess").as_deref(),
        Some(id.as_str())
    );
    assert_eq!(
        emu.status(CONN, "mess").as_deref(),
        Some("PENDING_VERIFICATION")
    );
    assert!(
        emu.access_token(CONN, "mess").is_none(),
        "tokens are held back"
    );

    let (status, body) = verify(&emu, &id, "mess").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let next = body["post_user_verify_redirect_url"].as_str().unwrap();
    assert_eq!(next, format!("{}/verified", emu.url()));
    assert_eq!(emu.status(CONN, "mess").as_deref(), Some("ACTIVE"));
    let token = emu.access_token(CONN, "mess").unwrap();

    let (status, again) = verify(&emu, &id, "mess").await;
    assert_eq!((status, &again), (StatusCode::OK, &body), "idempotent");
    assert_eq!(emu.access_token(CONN, "mess").unwrap(), token);
    assert_eq!(emu.requests(Route::UserVerify), 2);
    let page = http().get(next).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("connected"));
}

#[tokio::test]
async fn custom_mode_without_user_verify_url_fails_to_exchange() {
    let emu = emulator(UserVerification::Custom).start().await.unwrap();
    let url = link(&emu, "mess", json!({"user_verify_url": ""})).await;
    let answer = click(&url, "approve", None).await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    let text = answer.text().await.unwrap();
    assert!(
        text.contains(
            "failed_to_exchange: user_verify_url not configured for verification redirect"
        ),
        "{text}"
    );
    assert_eq!(emu.status(CONN, "mess").as_deref(), Some("PENDING_AUTH"));
    assert!(emu.auth_request_id(CONN, "mess").is_none());
}

#[tokio::test]
async fn verify_refuses_as_the_audit_documents() {
    let emu = emulator(UserVerification::Custom)
        .post_verify_redirect("https://app.example/done")
        .start()
        .await
        .unwrap();
    let url = link(
        &emu,
        "mess",
        json!({"user_verify_url": "https://app.example/v"}),
    )
    .await;
    let Approval::Redirect(_) = emu.click_approve(&url, false) else {
        panic!()
    };
    let id = emu.auth_request_id(CONN, "mess").unwrap();

    let path = "/api/v1/connected_accounts/user/verify";
    let (status, body) = post(&emu, path, &json!({"identifier": "mess"})).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "INVALID_ARGUMENT")
    );
    assert_eq!(body["code"], 3);
    let (status, _) = verify(&emu, &id, "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = verify(&emu, "ar_unknown", "mess").await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "NOT_FOUND")
    );
    let (status, body) = verify(&emu, &id, "mallory").await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "PERMISSION_DENIED")
    );
    assert_eq!(
        emu.status(CONN, "mess").as_deref(),
        Some("PENDING_VERIFICATION")
    );
    let unauthenticated = http()
        .post(format!("{}{path}", emu.url()))
        .json(&json!({}))
        .send();
    assert_eq!(
        unauthenticated.await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    let (status, body) = verify(&emu, &id, "mess").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["post_user_verify_redirect_url"],
        "https://app.example/done"
    );
    emu.expire_auth_requests();
    let (status, _) = verify(&emu, &id, "mess").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "consumed once expired");
}

#[tokio::test]
async fn auth_requests_expire_after_verify_ttl() {
    let emu = emulator(UserVerification::Custom)
        .verify_ttl(Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    let url = link(
        &emu,
        "mess",
        json!({"user_verify_url": "http://127.0.0.1:9/v"}),
    )
    .await;
    let Approval::Redirect(to) = emu.click_approve(&url, true) else {
        panic!()
    };
    let to = url::Url::parse(&to).unwrap();
    let (_, id) = to
        .query_pairs()
        .find(|(k, _)| k == "auth_request_id")
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _) = verify(&emu, &id, "mess").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        emu.status(CONN, "mess").as_deref(),
        Some("PENDING_VERIFICATION")
    );
}

#[tokio::test]
async fn scalekit_users_mode_needs_a_dashboard_sign_in() {
    let emu = emulator(UserVerification::ScalekitUsers)
        .start()
        .await
        .unwrap();
    let url = link(&emu, "mess", json!({})).await;
    let page = http().get(&url).send().await.unwrap().text().await.unwrap();
    assert!(
        page.contains("Sign in (emulated Scalekit dashboard)"),
        "{page}"
    );
    let answer = click(&url, "approve", None).await;
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    let text = answer.text().await.unwrap();
    assert!(
        text.contains("sign in to the Scalekit dashboard") && text.contains("new"),
        "{text}"
    );
    assert_eq!(
        emu.status(CONN, "mess").as_deref(),
        Some("PENDING_VERIFICATION")
    );

    let url = link(&emu, "mess", json!({})).await;
    let signed = click(&url, "signin", None).await;
    assert_eq!(signed.status(), StatusCode::SEE_OTHER);
    let cookie = signed.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with(&format!("{DASHBOARD_COOKIE}=")) && cookie.contains("HttpOnly"));
    let cookie = cookie.split(';').next().unwrap();
    let forged = click(
        &url,
        "approve",
        Some(&format!("{DASHBOARD_COOKIE}=sess_forged")),
    )
    .await;
    assert_eq!(
        forged.status(),
        StatusCode::FORBIDDEN,
        "only sessions it issued count"
    );

    let url = link(&emu, "mess", json!({})).await;
    let page = http()
        .get(&url)
        .header(header::COOKIE, cookie)
        .send()
        .await
        .unwrap();
    assert!(page.text().await.unwrap().contains("Signed in"));
    let answer = click(&url, "approve", Some(&format!("other=1; {cookie}"))).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(emu.status(CONN, "mess").as_deref(), Some("ACTIVE"));
}

#[tokio::test]
async fn magic_link_validates_state_and_user_verify_url() {
    let emu = emulator(UserVerification::Custom).start().await.unwrap();
    let path = "/api/v1/connected_accounts/magic_link";
    let base = json!({"connector": CONN, "identifier": "mess"});
    let with = |field: &str, value: String| {
        let mut body = base.clone();
        body[field] = Value::String(value);
        body
    };
    let cases = [
        (with("state", "é".repeat(512)), StatusCode::OK),
        (with("state", "s".repeat(513)), StatusCode::BAD_REQUEST),
        (
            with("user_verify_url", "ftp://example.com/v".into()),
            StatusCode::BAD_REQUEST,
        ),
        (
            with("user_verify_url", "example.com/v".into()),
            StatusCode::BAD_REQUEST,
        ),
        (
            with(
                "user_verify_url",
                format!("https://a.example/{}", "v".repeat(2030)),
            ),
            StatusCode::OK,
        ),
        (
            with(
                "user_verify_url",
                format!("https://a.example/{}", "v".repeat(2040)),
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            with("user_verify_url", "HTTP://127.0.0.1/v".into()),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (body, expected) in cases {
        let (status, answer) = post(&emu, path, &body).await;
        assert_eq!(status, expected, "{answer}");
        if status == StatusCode::BAD_REQUEST {
            assert_eq!(
                (answer["code"].as_i64(), error_code(&answer)),
                (Some(3), "INVALID_ARGUMENT")
            );
            let violation = &answer["details"][0]["validation_error_info"]["field_violations"][0];
            assert!(violation["field"].is_string(), "{answer}");
        }
    }
}

#[tokio::test]
async fn test_controls_click_as_a_browser_would() {
    let emu = emulator(UserVerification::Custom).start().await.unwrap();
    let bare = link(&emu, "a", json!({})).await;
    let Approval::Failed(why) = emu.click_approve(&bare, true) else {
        panic!()
    };
    assert!(why.contains("failed_to_exchange"));
    let Approval::Failed(why) = emu.click_approve(&bare, true) else {
        panic!()
    };
    assert!(why.contains("already used"), "{why}");
    let with_url = link(
        &emu,
        "b",
        json!({"user_verify_url": "https://x.example/v?q=1#f"}),
    )
    .await;
    assert!(
        !emu.approve_link(&with_url),
        "Custom mode waits for /user/verify"
    );
    assert_eq!(
        emu.status(CONN, "b").as_deref(),
        Some("PENDING_VERIFICATION")
    );

    let emu = emulator(UserVerification::ScalekitUsers)
        .start()
        .await
        .unwrap();
    let url = link(&emu, "a", json!({})).await;
    assert!(matches!(
        emu.click_approve(&url, false),
        Approval::Failed(_)
    ));
    assert!(
        emu.approve_link(&link(&emu, "a", json!({})).await),
        "approve_link is signed in"
    );

    let emu = emulator(UserVerification::Disabled)
        .link_ttl(Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    let url = link(
        &emu,
        "a",
        json!({"user_verify_url": "https://ignored.example"}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    let Approval::Failed(why) = emu.click_approve(&url, true) else {
        panic!()
    };
    assert!(why.contains("expired"), "{why}");
    assert!(!emu.approve_link(&format!("{}/magic/ml_unknown", emu.url())));
    let url = link(
        &emu,
        "a",
        json!({"user_verify_url": "https://ignored.example"}),
    )
    .await;
    assert_eq!(emu.click_approve(&url, false), Approval::Active);
}
