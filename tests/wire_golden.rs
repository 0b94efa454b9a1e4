//! Golden requests: every request the client can send to Scalekit, exactly as sent (method, path, query,
//! JSON body, the headers that matter), each case naming the proto message and the rule it satisfies
//! (connected_accounts / connections PY 2.21.0, `tests/proto-evidence/`). They are sent to the emulator,
//! which refuses what the protos' rules refuse (`tests/emulator_rules.rs`), so a case passes only when the
//! request is both the one pinned here and one Scalekit accepts.

mod common;

use common::{IDENTIFIER, builder, emulator};
use serde_json::json;
use tokenbroker::{CachePolicy, Error};
use tokenbroker_emulator::{Approval, Emulator, Recorded, Route, UserVerification};

const GMAIL: &str = "gmail_u3134a";
const API_VERSION: &str = "20261012";

/// The one request recorded on `route` since the journal was last cleared.
fn only(emu: &Emulator, route: Route) -> Recorded {
    let sent: Vec<Recorded> = emu
        .journal()
        .into_iter()
        .filter(|r| r.route == route)
        .collect();
    assert_eq!(sent.len(), 1, "{route:?}: {sent:#?}");
    sent.into_iter().next().unwrap()
}

/// Headers every `/api/v1` call carries: the bearer API token and the API version (Python SDK 2.21.0 sends
/// `x-api-version: 20261012` on every call, `core.py:190`); a JSON body says so.
fn api_headers(r: &Recorded, json_body: bool) {
    assert_eq!(r.header("authorization"), Some("Bearer ***"), "{r:?}");
    assert_eq!(r.header("x-api-version"), Some(API_VERSION), "{r:?}");
    let content_type = r.header("content-type");
    if json_body {
        assert_eq!(content_type, Some("application/json"), "{r:?}");
    } else {
        assert_eq!(content_type, None, "{r:?}");
        assert_eq!(r.body, "", "{r:?}");
    }
}

#[tokio::test]
async fn token_create_auth_and_magic_link_of_a_first_authorization() {
    let emu = emulator().start().await.unwrap();
    let broker = builder(&emu)
        .cache(CachePolicy::disabled())
        .build()
        .unwrap();
    let Err(Error::AuthorizationRequired(_)) = broker.get_token("gmail").await else {
        panic!("a new account needs a link")
    };

    // POST /oauth/token: OAuth 2.0 client credentials (not a proto message), form-encoded.
    let token = only(&emu, Route::Token);
    assert_eq!(
        (
            token.method.as_str(),
            token.path.as_str(),
            token.query.as_deref()
        ),
        ("POST", "/oauth/token", None)
    );
    assert_eq!(
        token.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(token.header("x-api-version"), Some(API_VERSION));
    assert_eq!(token.header("authorization"), None);
    assert_eq!(
        token.body,
        format!(
            "grant_type=client_credentials&client_id={}&client_secret={}",
            emu.client_id(),
            emu.client_secret()
        )
    );

    // GET /api/v1/connected_accounts/auth: GetConnectedAccountByIdentifierRequest; connector
    // `max_len: 400 pattern: "^[a-zA-Z0-9_: -]*$"`, identifier `max_len: 100`, as query parameters.
    let auth = only(&emu, Route::Auth);
    assert_eq!(
        (auth.method.as_str(), auth.path.as_str()),
        ("GET", "/api/v1/connected_accounts/auth")
    );
    assert_eq!(
        auth.query.as_deref(),
        Some("connector=gmail_u3134a&identifier=mess")
    );
    api_headers(&auth, false);

    // POST /api/v1/connected_accounts: CreateConnectedAccountRequest; `connected_account` is
    // `[buf.validate.field] { required: true }` (field 5), sent empty: no authorization_details.
    let create = only(&emu, Route::Create);
    assert_eq!(
        (
            create.method.as_str(),
            create.path.as_str(),
            create.query.as_deref()
        ),
        ("POST", "/api/v1/connected_accounts", None)
    );
    assert_eq!(
        create.json(),
        json!({"connector": GMAIL, "identifier": IDENTIFIER, "connected_account": {}})
    );
    api_headers(&create, true);

    // POST /api/v1/connected_accounts/magic_link: GetMagicLinkForConnectedAccountRequest without user
    // verification: connector and identifier only (state and user_verify_url are optional, `min_len: 0`).
    let link = only(&emu, Route::MagicLink);
    assert_eq!(
        (link.method.as_str(), link.path.as_str()),
        ("POST", "/api/v1/connected_accounts/magic_link")
    );
    assert_eq!(
        link.json(),
        json!({"connector": GMAIL, "identifier": IDENTIFIER})
    );
    api_headers(&link, true);
}

#[tokio::test]
async fn details_delete_and_the_connections_list() {
    let emu = emulator().start().await.unwrap();
    common::activate(&emu, GMAIL, IDENTIFIER);
    let broker = builder(&emu).build().unwrap();
    broker.account_info("gmail", None).await.unwrap();
    broker.environment_connections().await.unwrap().unwrap();
    assert!(broker.disconnect("gmail", None).await.unwrap());

    // GET /api/v1/connected_accounts/details: GetConnectedAccountByIdentifierRequest, as /auth.
    let details = only(&emu, Route::Details);
    assert_eq!(
        (details.method.as_str(), details.path.as_str()),
        ("GET", "/api/v1/connected_accounts/details")
    );
    assert_eq!(
        details.query.as_deref(),
        Some("connector=gmail_u3134a&identifier=mess")
    );
    api_headers(&details, false);

    // GET /api/v1/connections/app: ListAppConnectionsRequest; page_size `uint32 { lte: 30 }`; no provider
    // (`min_len: 1`) or query (`min_len: 3`) sent at all, since an empty one is no filter.
    let list = only(&emu, Route::AppConnections);
    assert_eq!(
        (list.method.as_str(), list.path.as_str()),
        ("GET", "/api/v1/connections/app")
    );
    assert_eq!(list.query.as_deref(), Some("page_size=30"));
    api_headers(&list, false);

    // POST /api/v1/connected_accounts:delete: DeleteConnectedAccountRequest, by connector and identifier
    // (no `id`, whose rule is `prefix: "ca_"`).
    let delete = only(&emu, Route::Delete);
    assert_eq!(
        (
            delete.method.as_str(),
            delete.path.as_str(),
            delete.query.as_deref()
        ),
        ("POST", "/api/v1/connected_accounts:delete", None)
    );
    assert_eq!(
        delete.json(),
        json!({"connector": GMAIL, "identifier": IDENTIFIER})
    );
    api_headers(&delete, true);
}

#[tokio::test]
async fn a_second_page_of_connections_sends_its_page_token() {
    let mut builder_ = Emulator::builder();
    for i in 0..31 {
        builder_ = builder_.connection(&format!("conn_{i:02}"));
    }
    let emu = builder_.start().await.unwrap();
    let broker = builder(&emu).build().unwrap();
    let listed = broker.environment_connections().await.unwrap().unwrap();
    assert_eq!(listed.len(), 31, "both pages read");
    let queries: Vec<Option<String>> = emu
        .journal()
        .into_iter()
        .filter(|r| r.route == Route::AppConnections)
        .map(|r| r.query)
        .collect();
    // ListAppConnectionsRequest.page_token (field 2, no rule): the previous page's next_page_token.
    assert_eq!(
        queries,
        [
            Some("page_size=30".to_owned()),
            Some("page_size=30&page_token=30".to_owned())
        ]
    );
}

#[tokio::test]
async fn magic_link_with_verification_and_user_verify() {
    let emu = emulator()
        .user_verification(UserVerification::Custom)
        .start()
        .await
        .unwrap();
    let verify_url = "http://127.0.0.1:9/tokenbroker/verify";
    let broker = builder(&emu)
        .user_verify_url(verify_url.parse().unwrap())
        .cache(CachePolicy::disabled())
        .build()
        .unwrap();
    let Err(Error::AuthorizationRequired(auth)) = broker.get_token("gmail").await else {
        panic!("a new account needs a link")
    };

    // GetMagicLinkForConnectedAccountRequest with verification: state `max_len: 512`, user_verify_url
    // `max_len: 2048 pattern: "^$|^https?://"`.
    let link = only(&emu, Route::MagicLink);
    let body = link.json();
    let state = body["state"].as_str().unwrap().to_owned();
    assert_eq!(
        body,
        json!({"connector": GMAIL, "identifier": IDENTIFIER, "user_verify_url": verify_url, "state": state})
    );
    assert!(
        state.starts_with("tbv1.") && state.len() <= 512 && state.is_ascii(),
        "{state}"
    );
    api_headers(&link, true);

    let Approval::Redirect(redirect) = emu.click_approve(auth.url.as_str(), true) else {
        panic!("custom mode redirects")
    };
    let auth_request_id = emu.auth_request_id(GMAIL, IDENTIFIER).unwrap();
    emu.reset_counts();
    broker.complete_verification(&redirect).await.unwrap();

    // POST /api/v1/connected_accounts/user/verify: VerifyConnectedAccountUserRequest; auth_request_id
    // `min_len: 1 max_len: 1000`, identifier `min_len: 1 max_len: 200`: the identifier the state was
    // signed for.
    let verify = only(&emu, Route::UserVerify);
    assert_eq!(
        (
            verify.method.as_str(),
            verify.path.as_str(),
            verify.query.as_deref()
        ),
        ("POST", "/api/v1/connected_accounts/user/verify", None)
    );
    assert_eq!(
        verify.json(),
        json!({"auth_request_id": auth_request_id, "identifier": IDENTIFIER})
    );
    api_headers(&verify, true);
}

#[tokio::test]
async fn the_proxy_path_headers_and_body() {
    let upstream = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream_url = format!("http://{}", upstream.local_addr().unwrap());
    drop(upstream);
    let emu = emulator()
        .proxy_upstream(&upstream_url)
        .start()
        .await
        .unwrap();
    common::activate(&emu, GMAIL, IDENTIFIER);
    let broker = builder(&emu).build().unwrap();
    let http = reqwest::Client::new();
    // A full URL: its path and query, under /proxy (not a proto message: Scalekit's SDKs send
    // `connection_name` and `identifier` headers, Python actions.py:583-591, Node actions.ts:543-553).
    let request = http
        .post("https://gmail.googleapis.com/gmail/v1/users/me/messages/send?alt=json")
        .header("authorization", "Bearer caller-must-not-choose")
        .header("identifier", "someone-else")
        .header("x-custom", "kept")
        .body(r#"{"raw":"x"}"#)
        .build()
        .unwrap();
    let _ = broker.send_via_scalekit("gmail", None, request).await;
    // A path relative to the connector's proxy_url, as the SDKs send theirs.
    let relative = http
        .get(format!(
            "https://{}/1.0/users/me",
            tokenbroker::PATH_ONLY_HOST
        ))
        .build()
        .unwrap();
    let _ = broker.send_via_scalekit("gmail", None, relative).await;

    let sent: Vec<Recorded> = emu
        .journal()
        .into_iter()
        .filter(|r| r.route == Route::Proxy)
        .collect();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    let (full, rel) = (&sent[0], &sent[1]);
    assert_eq!(
        (
            full.method.as_str(),
            full.path.as_str(),
            full.query.as_deref()
        ),
        (
            "POST",
            "/proxy/gmail/v1/users/me/messages/send",
            Some("alt=json")
        )
    );
    assert_eq!(full.header("connection_name"), Some(GMAIL));
    assert_eq!(
        full.header("identifier"),
        Some(IDENTIFIER),
        "the caller's header never chooses the account"
    );
    assert_eq!(full.header("authorization"), Some("Bearer ***"));
    assert_eq!(full.header("x-api-version"), Some(API_VERSION));
    assert_eq!(full.header("x-custom"), Some("kept"));
    assert_eq!(full.body, r#"{"raw":"x"}"#);
    assert_eq!(
        full.headers
            .iter()
            .filter(|(n, _)| n == "identifier" || n == "authorization")
            .count(),
        2
    );
    assert_eq!(
        (rel.method.as_str(), rel.path.as_str(), rel.query.as_deref()),
        ("GET", "/proxy/1.0/users/me", None)
    );
}

/// A streamed body would go out empty (audit C10): refused before anything is sent.
#[tokio::test]
async fn a_streamed_body_is_refused_before_the_proxy_is_called() {
    let emu = emulator()
        .proxy_upstream("http://127.0.0.1:9")
        .start()
        .await
        .unwrap();
    common::activate(&emu, GMAIL, IDENTIFIER);
    let broker = builder(&emu).build().unwrap();
    let mut request = reqwest::Client::new()
        .post("https://gmail.googleapis.com/gmail/v1/users/me/messages/send")
        .build()
        .unwrap();
    *request.body_mut() = Some(reqwest::Body::wrap(String::from("streamed")));
    let err = broker
        .send_via_scalekit("gmail", None, request)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("stream"), "{err}");
    assert_eq!(emu.requests(Route::Proxy), 0);
}

/// Names that break the proto's rules (identifier `max_len: 100`, connector `pattern`) are refused before
/// any request, with the rule in the message; the longest valid ones are what the emulator accepts.
#[tokio::test]
async fn names_outside_the_rules_are_refused_before_any_request() {
    use tokenbroker::{Connection, Connections};
    let emu = Emulator::builder()
        .accept_any_connection(true)
        .start()
        .await
        .unwrap();
    let longest = "i".repeat(100);
    let ok = Connections::new()
        .with(
            "ok",
            Connection::new("c".repeat(400)).with_identifier(&longest),
        )
        .unwrap();
    let broker = tokenbroker::Broker::builder()
        .credentials(emu.credentials())
        .connections(ok)
        .build()
        .unwrap();
    let Err(Error::AuthorizationRequired(_)) = broker.get_token("ok").await else {
        panic!("the longest valid names are accepted")
    };
    emu.reset_counts();
    let too_long = Connections::new().with(
        "x",
        Connection::new("gmail").with_identifier("i".repeat(101)),
    );
    let e = too_long.unwrap_err().to_string();
    assert!(e.contains("max_len 100"), "{e}");
    let bad = Connections::new().with("x", Connection::new("gm/ail"));
    let e = bad.unwrap_err().to_string();
    assert!(e.contains("^[a-zA-Z0-9_: -]*$"), "{e}");
    let broker = builder(&emu).build().unwrap();
    let e = broker
        .get_token_for("gmail", &"i".repeat(101))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("max_len 100"), "{e}");
    assert!(emu.journal().is_empty(), "nothing was sent");
}
