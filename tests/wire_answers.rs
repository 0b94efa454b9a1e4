//! How the client reads Scalekit's answers as the current API gives them, and how the emulator gives them
//! (wire audit 2: client findings C2, C5, C7, C9, C11; emulator EM1, EM7-EM10, EM13).

mod common;

use std::time::{Duration, SystemTime};

use common::{Cli, IDENTIFIER, activate, builder, emulator};
use reqwest::{Client, StatusCode};
use serde_json::Value;
use tokenbroker::{CachePolicy, Error, ErrorKind};
use tokenbroker_emulator::{Emulator, Fault, Route};

const GMAIL: &str = "gmail_u3134a";

async fn get(emu: &Emulator, path_and_query: &str) -> (StatusCode, Value) {
    let answer = Client::new()
        .get(format!("{}{path_and_query}", emu.url()))
        .bearer_auth(common::emulator_api_token(emu).await)
        .send()
        .await
        .unwrap();
    let status = answer.status();
    (status, answer.json().await.unwrap())
}

/// C5: the zero timestamp Scalekit's Go server writes for an unset time is read as unset everywhere: the
/// library, `status --json` and its table; and a domain-wide-delegation token keeps its own expiry when
/// the account-level one is the zero time.
#[tokio::test(flavor = "multi_thread")]
async fn zero_timestamps_read_as_unset_and_dwd_expiry_is_kept() {
    let emu = emulator().zero_timestamps(true).start().await.unwrap();
    emu.set_status(GMAIL, IDENTIFIER, "PENDING_AUTH");
    let (_, raw) = get(
        &emu,
        "/api/v1/connected_accounts/details?connector=gmail_u3134a&identifier=mess",
    )
    .await;
    assert_eq!(
        raw["connected_account"]["token_expires_at"], "0001-01-01T00:00:00Z",
        "EM7: the setting works"
    );
    assert_eq!(
        raw["connected_account"]["last_used_at"],
        "0001-01-01T00:00:00Z"
    );
    let info = builder(&emu)
        .build()
        .unwrap()
        .account_info("gmail", None)
        .await
        .unwrap()
        .1
        .unwrap();
    assert_eq!((info.token_expires_at, info.last_used_at), (None, None));
    assert!(info.updated_at.is_some(), "a real time is kept");

    let cli = Cli::on(&emu);
    let run = cli.run(&["status", "--json", "gmail"]);
    assert!(
        run.stdout.contains("\"pending_auth\"") || run.stdout.contains("PENDING_AUTH"),
        "{}{}",
        run.stdout,
        run.stderr
    );
    assert!(!run.stdout.contains("0001-01-01"), "{}", run.stdout);
    let run = cli.run(&["status", "gmail"]);
    assert!(
        run.stdout.contains("gmail") && !run.stdout.contains("0001"),
        "{}{}",
        run.stdout,
        run.stderr
    );

    let dwd = Emulator::builder()
        .dwd_connection(GMAIL)
        .zero_timestamps(true)
        .start()
        .await
        .unwrap();
    activate(&dwd, GMAIL, IDENTIFIER);
    let (_, raw) = get(
        &dwd,
        "/api/v1/connected_accounts/auth?connector=gmail_u3134a&identifier=mess",
    )
    .await;
    let account = &raw["connected_account"];
    assert_eq!(account["authorization_type"], "GOOGLE_DWD");
    assert_eq!(account["token_expires_at"], "0001-01-01T00:00:00Z");
    assert!(
        account["authorization_details"]["google_dwd"]["token_expires_at"]
            .as_str()
            .unwrap()
            .starts_with("20")
    );
    let token = builder(&dwd)
        .build()
        .unwrap()
        .get_token("gmail")
        .await
        .unwrap();
    let expires = token.expires_at().expect("the google_dwd expiry");
    assert!(
        expires > SystemTime::now() + Duration::from_secs(3000),
        "{expires:?}"
    );
}

/// C7: on an ORG_WIDE connection a user's approval records consent and holds no token; the client says so
/// once instead of asking for link after link.
#[tokio::test]
async fn an_org_wide_consent_record_is_a_typed_error_not_a_link_loop() {
    let emu = Emulator::builder()
        .org_wide_connection(GMAIL)
        .start()
        .await
        .unwrap();
    let broker = builder(&emu)
        .cache(CachePolicy::disabled())
        .build()
        .unwrap();
    let Err(Error::AuthorizationRequired(auth)) = broker.get_token("gmail").await else {
        panic!("consent first")
    };
    assert!(emu.approve_link(auth.url.as_str()));
    emu.reset_counts();
    let err = broker.get_token("gmail").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnsupportedCredential, "{err:?}");
    assert!(err.to_string().contains("ORG_WIDE"), "{err}");
    assert!(err.hint().contains("USER"), "{}", err.hint());
    assert_eq!(emu.requests(Route::MagicLink), 0, "no new link");
}

/// C2 / EM8: the connections list carries the agent provider in `provider_key` (`provider` is the SSO
/// identity-provider enum); pages of at most 30; a larger page size is refused as Scalekit refuses it.
#[tokio::test]
async fn the_connections_list_is_paged_with_provider_key() {
    let mut b = Emulator::builder()
        .connection(GMAIL)
        .org_wide_connection("slack_x7y9z");
    for i in 0..35 {
        b = b.connection(&format!("notion_{i:02}"));
    }
    let emu = b.start().await.unwrap();
    let (status, page) = get(&emu, "/api/v1/connections/app?page_size=30").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["connections"].as_array().unwrap().len(), 30);
    assert_eq!(page["next_page_token"], "30");
    assert_eq!(page["total_size"], 37);
    let (_, second) = get(&emu, "/api/v1/connections/app?page_size=30&page_token=30").await;
    assert_eq!(second["connections"].as_array().unwrap().len(), 7);
    assert_eq!(second["next_page_token"], "");
    let row = page["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key_id"] == GMAIL)
        .unwrap();
    assert_eq!(row["provider"], "CONNECTION_PROVIDER_UNSPECIFIED");
    assert_eq!(row["provider_key"], "gmail");
    assert_eq!(row["auth_mode"], "USER");
    assert!(
        row["id"].as_str().unwrap().starts_with("conn_") && row["id"].as_str().unwrap().len() <= 32
    );
    let (status, body) = get(&emu, "/api/v1/connections/app?page_size=31").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let listed = builder(&emu)
        .build()
        .unwrap()
        .environment_connections()
        .await
        .unwrap()
        .unwrap();
    let gmail = listed.iter().find(|c| c.name == GMAIL).unwrap();
    assert_eq!(gmail.provider.as_deref(), Some("gmail"));
    let slack = listed.iter().find(|c| c.name == "slack_x7y9z").unwrap();
    assert_eq!(slack.auth_mode.as_deref(), Some("ORG_WIDE"));
    assert_eq!(listed.len(), 37);
}

/// EM7: accounts as the 2.21.0 `ConnectedAccount`: `connection_id` within its 32 characters, the provider
/// key, `is_org_wide_credential`, timestamps with 0, 3, 6 or 9 fractional digits.
#[tokio::test]
async fn accounts_render_as_the_proto_says() {
    let emu = emulator().start().await.unwrap();
    activate(&emu, GMAIL, IDENTIFIER);
    let (_, raw) = get(
        &emu,
        "/api/v1/connected_accounts/auth?connector=gmail_u3134a&identifier=mess",
    )
    .await;
    let a = &raw["connected_account"];
    assert!(a["connection_id"].as_str().unwrap().len() <= 32);
    assert!(a["id"].as_str().unwrap().starts_with("ca_"));
    assert_eq!(
        (
            a["provider"].as_str(),
            a["is_org_wide_credential"].as_bool()
        ),
        (Some("gmail"), Some(false))
    );
    for field in ["token_expires_at", "updated_at"] {
        let t = a[field].as_str().unwrap();
        let digits = t
            .split('.')
            .nth(1)
            .map_or(0, |f| f.trim_end_matches('Z').len());
        assert!([0, 3, 6, 9].contains(&digits), "{field}: {t}");
    }
}

/// EM9: the list of accounts is `ConnectedAccountForList` (no credentials), `page_size` below 100, and
/// `connector` with `connection_names` refused.
#[tokio::test]
async fn the_account_list_has_no_credentials_and_its_bounds() {
    let emu = emulator().start().await.unwrap();
    activate(&emu, GMAIL, IDENTIFIER);
    let (status, body) = get(
        &emu,
        "/api/v1/connected_accounts?connection_names=gmail_u3134a",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let row = &body["connected_accounts"][0];
    assert_eq!(row["identifier"], IDENTIFIER);
    assert!(
        row.get("authorization_details").is_none() && row.get("api_config").is_none(),
        "{row}"
    );
    assert!(!body.to_string().contains("emu_at_"), "no token in a list");
    assert_eq!(
        get(&emu, "/api/v1/connected_accounts?page_size=100")
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(&emu, "/api/v1/connected_accounts?page_size=99").await.0,
        StatusCode::OK
    );
    let both = "/api/v1/connected_accounts?connector=gmail_u3134a&connection_names=gmail_u3134a";
    assert_eq!(get(&emu, both).await.0, StatusCode::BAD_REQUEST);
}

/// EM1: a magic link for a connector the environment does not have is 404 `RESOURCE_NOT_FOUND`.
#[tokio::test]
async fn a_magic_link_for_an_unknown_connector_is_404_resource_not_found() {
    let emu = emulator().start().await.unwrap();
    let answer = Client::new()
        .post(format!(
            "{}/api/v1/connected_accounts/magic_link",
            emu.url()
        ))
        .bearer_auth(common::emulator_api_token(&emu).await)
        .json(&serde_json::json!({"connector": "nosuch", "identifier": "bob"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(
        (
            body["code"].as_i64(),
            body["details"][0]["error_code"].as_str()
        ),
        (Some(5), Some("RESOURCE_NOT_FOUND"))
    );
}

/// C4 / EM: links on another Scalekit host (`*.scalekit.cloud`) are relayed; a provider's own URL is not.
#[tokio::test]
async fn links_on_scalekit_hosts_are_relayed_and_others_refused() {
    let emu = emulator()
        .link_origin("https://auth.scalekit.cloud")
        .start()
        .await
        .unwrap();
    let broker = builder(&emu)
        .cache(CachePolicy::disabled())
        .build()
        .unwrap();
    let Err(Error::AuthorizationRequired(auth)) = broker.get_token("gmail").await else {
        panic!("a link")
    };
    assert!(
        auth.url
            .as_str()
            .starts_with("https://auth.scalekit.cloud/magic/"),
        "{}",
        auth.url
    );
    assert!(
        emu.approve_link(auth.url.as_str()),
        "the emulator still takes it"
    );
    let provider = Emulator::builder()
        .connection(GMAIL)
        .link_origin("https://accounts.google.com")
        .start()
        .await
        .unwrap();
    let err = builder(&provider)
        .build()
        .unwrap()
        .get_token("gmail")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UntrustedLink, "{err:?}");
}

/// C9: the proxy's "not enabled" refusal is recognised as text or JSON, by its words or its `error_code`.
#[tokio::test]
async fn proxy_not_enabled_is_recognised_in_any_framing() {
    for (content_type, body) in [
        ("text/plain", "proxy not enabled for provider"),
        (
            "application/json",
            r#"{"code":9,"message":"x","details":[{"error_code":"PROXY_NOT_ENABLED"}]}"#,
        ),
    ] {
        let emu = emulator().start().await.unwrap();
        activate(&emu, GMAIL, IDENTIFIER);
        emu.inject(Fault::body(Route::Proxy, 400, body).header("content-type", content_type));
        let request = Client::new()
            .get("https://gmail.googleapis.com/gmail/v1/users/me/profile")
            .build()
            .unwrap();
        let err = builder(&emu)
            .build()
            .unwrap()
            .send_via_scalekit("gmail", None, request)
            .await
            .unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::ProxyNotEnabled,
            "{content_type}: {err:?}"
        );
    }
}
