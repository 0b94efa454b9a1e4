//! The library against the emulator: every path of get_token, the cache, and waiting.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokenbroker::{AccountStatus, CachePolicy, Error, ErrorKind, WaitOptions};
use tokenbroker_emulator::{Fault, Route};

use common::{IDENTIFIER, activate, broker, builder, emulator, uncached};

const GMAIL: &str = "gmail_u3134a";

fn authorization(
    result: Result<tokenbroker::AccessToken, Error>,
) -> Box<tokenbroker::AuthorizationRequired> {
    match result {
        Err(Error::AuthorizationRequired(auth)) => auth,
        other => panic!("expected AuthorizationRequired, got {other:?}"),
    }
}

#[tokio::test]
async fn first_use_creates_the_account_and_gives_a_link_with_its_expiry() {
    let emu = emulator()
        .link_ttl(Duration::from_secs(90))
        .start()
        .await
        .unwrap();
    let auth = authorization(broker(&emu).get_token("gmail").await);
    assert_eq!(
        (
            auth.service.as_str(),
            auth.connection_name.as_str(),
            auth.identifier.as_str()
        ),
        ("gmail", GMAIL, IDENTIFIER)
    );
    assert_eq!(auth.status, AccountStatus::PendingAuth);
    assert!(auth.url.as_str().starts_with(&emu.url()), "{}", auth.url);
    let left = auth.expires_in().unwrap().as_secs();
    assert!(
        (85..=90).contains(&left),
        "the expiry comes from the answer, not a constant: {left}"
    );
    assert!(auth.message().contains(auth.url.as_str()) && auth.message().contains("(until "));
    assert_eq!(
        emu.status(GMAIL, IDENTIFIER).as_deref(),
        Some("PENDING_AUTH")
    );
    assert_eq!(
        (
            emu.requests(Route::Auth),
            emu.requests(Route::Create),
            emu.requests(Route::MagicLink)
        ),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn approving_the_link_gives_the_token_and_its_details() {
    let emu = emulator().start().await.unwrap();
    let broker = broker(&emu);
    let auth = authorization(broker.get_token("gmail").await);
    assert!(emu.approve_link(auth.url.as_str()));
    let token = broker.get_token("gmail").await.unwrap();
    assert_eq!(
        Some(token.expose_secret()),
        emu.access_token(GMAIL, IDENTIFIER).as_deref()
    );
    assert_eq!(
        (token.service(), token.connection_name(), token.identifier()),
        ("gmail", GMAIL, IDENTIFIER)
    );
    assert_eq!(
        token.scopes(),
        [format!("{GMAIL}.read"), format!("{GMAIL}.send")]
    );
    let left = token
        .expires_at()
        .unwrap()
        .duration_since(SystemTime::now())
        .unwrap();
    assert!(left > Duration::from_secs(3500), "{left:?}");
}

#[tokio::test]
async fn every_status_but_active_and_pending_verification_gives_a_link() {
    let emu = emulator().start().await.unwrap();
    let broker = uncached(&emu);
    emu.set_status(GMAIL, IDENTIFIER, "PENDING_VERIFICATION");
    emu.reset_counts();
    match broker.get_token("gmail").await {
        Err(Error::VerificationPending(p)) => {
            assert_eq!(
                (p.service.as_str(), p.identifier.as_str()),
                ("gmail", IDENTIFIER)
            );
            assert!(p.message().contains("http://127.0.0.1"), "{}", p.message());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        emu.requests(Route::MagicLink),
        0,
        "no link that could cancel the verification"
    );
    for (wire, status) in [
        ("PENDING_AUTH", AccountStatus::PendingAuth),
        ("EXPIRED", AccountStatus::Expired),
        ("DISCONNECTED", AccountStatus::Disconnected),
        ("CONNECTION_STATUS_UNSPECIFIED", AccountStatus::Unspecified),
        (
            "SOMETHING_NEW",
            AccountStatus::Other("SOMETHING_NEW".into()),
        ),
    ] {
        emu.approve(GMAIL, IDENTIFIER);
        emu.set_status(GMAIL, IDENTIFIER, wire);
        let auth = authorization(broker.get_token("gmail").await);
        assert_eq!(auth.status, status, "{wire}");
        assert!(auth.expires_at.unwrap() > SystemTime::now(), "{wire}");
    }
}

#[tokio::test]
async fn an_expired_token_needs_reauthorization() {
    let emu = emulator().start().await.unwrap();
    activate(&emu, GMAIL, IDENTIFIER);
    let broker = uncached(&emu);
    broker.get_token("gmail").await.unwrap();
    emu.expire_token(GMAIL, IDENTIFIER);
    assert_eq!(
        authorization(broker.get_token("gmail").await).status,
        AccountStatus::Expired
    );
}

#[tokio::test]
async fn api_token_is_reused_and_refetched_once_after_a_401() {
    let emu = emulator().start().await.unwrap();
    activate(&emu, GMAIL, IDENTIFIER);
    let broker = uncached(&emu);
    for _ in 0..3 {
        broker.get_token("gmail").await.unwrap();
    }
    assert_eq!(
        emu.requests(Route::Token),
        1,
        "one API token for three calls"
    );
    emu.revoke_api_tokens();
    broker.get_token("gmail").await.unwrap();
    assert_eq!(emu.requests(Route::Token), 2);
    assert_eq!(
        emu.requests(Route::Auth),
        5,
        "three calls, then one 401 and its retry"
    );
}

#[tokio::test]
async fn a_second_401_is_credentials_rejected_without_looping() {
    let emu = emulator().start().await.unwrap();
    emu.inject(Fault::status(Route::Auth, 401).times(2));
    let err = broker(&emu).get_token("gmail").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CredentialsRejected, "{err}");
    assert_eq!(
        (emu.requests(Route::Token), emu.requests(Route::Auth)),
        (2, 2)
    );
}

#[tokio::test]
async fn wrong_client_secret_is_credentials_rejected() {
    let emu = emulator()
        .client("emulator-client", "right")
        .start()
        .await
        .unwrap();
    let creds =
        tokenbroker::Credentials::new(&emu.url(), "emulator-client", "wrong".into()).unwrap();
    let err = builder(&emu)
        .credentials(creds)
        .build()
        .unwrap()
        .get_token("gmail")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::CredentialsRejected(api) if api.status == 401),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_create_race_409_reads_the_winners_account() {
    let emu = emulator().start().await.unwrap();
    // Another process creates the account between our read (404) and our create (409).
    activate(&emu, GMAIL, IDENTIFIER);
    emu.inject(Fault::status(Route::Auth, 404));
    let token = broker(&emu).get_token("gmail").await.unwrap();
    assert_eq!(
        Some(token.expose_secret()),
        emu.access_token(GMAIL, IDENTIFIER).as_deref()
    );
    assert_eq!(
        (emu.requests(Route::Auth), emu.requests(Route::Create)),
        (2, 1)
    );
}

#[tokio::test]
async fn http_errors_map_to_typed_errors() {
    let emu = emulator().start().await.unwrap();
    let broker = uncached(&emu);
    emu.inject(Fault::status(Route::Auth, 400));
    let err = broker.get_token("gmail").await.unwrap_err();
    assert!(
        matches!(&err, Error::Api(api) if api.status == 400 && api.code == Some(3)),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::ScalekitRefused);

    emu.inject(Fault::status(Route::MagicLink, 404));
    let err = broker.get_token("gmail").await.unwrap_err();
    assert!(
        matches!(&err, Error::Api(api) if api.status == 404 && api.error_code.as_deref() == Some("INJECTED")),
        "{err:?}"
    );

    emu.inject(Fault::status(Route::Auth, 500));
    let err = broker.get_token("gmail").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.to_string().contains("500"), "{err}");
}

/// A connection name the environment does not have is said as such (exit 4 in get-token), told by the error
/// code Scalekit documents (magic link: 404 `RESOURCE_NOT_FOUND`, connected_accounts PY 2.21.0) and by the
/// environment's list, never by a message's wording (wire audit 2, C1).
#[tokio::test]
async fn an_unknown_connection_name_is_said_as_such() {
    let emu = emulator().start().await.unwrap();
    let broker = uncached(&emu);
    let err = broker.get_token("ghost").await.unwrap_err();
    assert!(
        matches!(&err, Error::UnknownConnection { connection_name, known: Some(known), .. }
            if connection_name == "no_such_connection" && known.contains(&"gmail_u3134a".to_owned())),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::UnknownConnection);
    assert!(err.to_string().contains("does not exist"), "{err}");
    assert!(err.hint().contains("connection_name"), "{}", err.hint());

    // The environment lists gmail's connection: a refusal is about something else, whatever it says.
    let not_found = r#"{"code":5,"message":"connector not found","details":[{"error_code":"RESOURCE_NOT_FOUND"}]}"#;
    emu.inject(Fault::body(Route::MagicLink, 404, not_found));
    let err = broker.get_token("gmail").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ScalekitRefused, "{err:?}");
    let wording = r#"{"code":3,"message":"missing required parameters or invalid connector"}"#;
    emu.inject(Fault::body(Route::MagicLink, 400, wording));
    let err = broker.get_token("gmail").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ScalekitRefused, "{err:?}");

    // Without the list, the code decides: 404 RESOURCE_NOT_FOUND (or NOT_FOUND) is an unknown connection...
    let emu = emulator().start().await.unwrap();
    emu.inject(Fault::status(Route::AppConnections, 404));
    let broker = uncached(&emu);
    emu.inject(Fault::body(Route::MagicLink, 404, not_found));
    let err = broker.get_token("gmail").await.unwrap_err();
    assert!(
        matches!(&err, Error::UnknownConnection { known: None, answer: Some(api), .. } if api.status == 404),
        "{err:?}"
    );
    // ...and a 400 that speaks of the connector is not: the words are not evidence.
    emu.inject(Fault::body(Route::MagicLink, 400, wording));
    let err = broker.get_token("gmail").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ScalekitRefused, "{err:?}");
    // A 404 with another code stays what it was.
    emu.inject(Fault::body(
        Route::MagicLink,
        404,
        r#"{"code":12,"message":"gone","details":[{"error_code":"UNIMPLEMENTED"}]}"#,
    ));
    let err = broker.get_token("gmail").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ScalekitRefused, "{err:?}");
}

#[tokio::test]
async fn non_oauth_credentials_are_a_typed_error_naming_the_kind() {
    let emu = emulator().start().await.unwrap();
    activate(&emu, "fathom_k1", IDENTIFIER);
    let err = broker(&emu).get_token("fathom").await.unwrap_err();
    assert!(
        matches!(&err, Error::UnsupportedCredential { kind, .. } if kind == "API_KEY"),
        "{err:?}"
    );
    assert!(err.to_string().contains("API_KEY"));
}

#[tokio::test]
async fn tokens_are_cached_until_the_policy_says_otherwise() {
    let emu = emulator().start().await.unwrap();
    activate(&emu, GMAIL, IDENTIFIER);
    let cached = broker(&emu);
    let first = cached.get_token("gmail").await.unwrap();
    let second = cached.get_token("gmail").await.unwrap();
    assert_eq!(first.expose_secret(), second.expose_secret());
    assert_eq!(emu.requests(Route::Auth), 1, "served from cache");

    cached.invalidate("gmail", None).await.unwrap();
    cached.get_token("gmail").await.unwrap();
    assert_eq!(
        emu.requests(Route::Auth),
        2,
        "invalidated entry is fetched again"
    );

    // A token within the expiry margin is returned but never reused.
    emu.set_token_expiry(
        GMAIL,
        IDENTIFIER,
        SystemTime::now() + Duration::from_secs(30),
    );
    let near = builder(&emu).build().unwrap();
    near.get_token("gmail").await.unwrap();
    near.get_token("gmail").await.unwrap();
    assert_eq!(emu.requests(Route::Auth), 4);
}

#[tokio::test(start_paused = true)]
async fn cache_entries_age_out_after_max_age() {
    let emu = emulator().start().await.unwrap();
    activate(&emu, GMAIL, IDENTIFIER);
    let broker = builder(&emu)
        .timeout(None)
        .cache(CachePolicy::default().max_age(Duration::from_secs(120)))
        .build()
        .unwrap();
    broker.get_token("gmail").await.unwrap();
    tokio::time::advance(Duration::from_secs(119)).await;
    broker.get_token("gmail").await.unwrap();
    assert_eq!(emu.requests(Route::Auth), 1);
    tokio::time::advance(Duration::from_secs(2)).await;
    broker.get_token("gmail").await.unwrap();
    assert_eq!(emu.requests(Route::Auth), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_callers_cause_one_token_and_one_account_request() {
    let emu = emulator().start().await.unwrap();
    activate(&emu, GMAIL, IDENTIFIER);
    emu.inject(Fault::delay(Route::Auth, Duration::from_millis(50)));
    let broker = broker(&emu);
    let calls: Vec<_> = (0..100)
        .map(|_| {
            let broker = broker.clone();
            tokio::spawn(async move { broker.get_token("gmail").await })
        })
        .collect();
    let expected = emu.access_token(GMAIL, IDENTIFIER).unwrap();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap().expose_secret(), expected);
    }
    assert_eq!(
        (emu.requests(Route::Token), emu.requests(Route::Auth)),
        (1, 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_needing_authorization_share_one_link() {
    let emu = emulator().start().await.unwrap();
    let broker = Arc::new(broker(&emu));
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let broker = broker.clone();
            tokio::spawn(async move { broker.get_token("gmail").await })
        })
        .collect();
    let mut urls = std::collections::BTreeSet::new();
    for call in calls {
        urls.insert(authorization(call.await.unwrap()).url.to_string());
    }
    assert!(
        urls.len() <= 2,
        "callers queued behind one fetch share its link: {} links",
        urls.len()
    );
    assert!(emu.requests(Route::MagicLink) <= 2);
}

#[tokio::test]
async fn another_identifier_gets_its_own_account() {
    let emu = emulator().start().await.unwrap();
    for id in ["alice", "bob"] {
        activate(&emu, GMAIL, id);
    }
    let broker = broker(&emu);
    let alice = broker.get_token_for("gmail", "alice").await.unwrap();
    let bob = broker.get_token_for("gmail", "bob").await.unwrap();
    assert_ne!(alice.expose_secret(), bob.expose_secret());
    assert_eq!(alice.identifier(), "alice");
    assert_eq!(
        Some(bob.expose_secret()),
        emu.access_token(GMAIL, "bob").as_deref()
    );
    let err = broker
        .get_token_for("gmail", &"x".repeat(101))
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::InvalidConfig,
        "checked before any request: {err}"
    );
}

#[tokio::test(start_paused = true)]
async fn waiting_returns_the_token_once_the_user_approves() {
    let emu = emulator().start().await.unwrap();
    let broker = builder(&emu).timeout(None).build().unwrap();
    let auth = authorization(broker.get_token("gmail").await);
    let url = auth.url.to_string();
    let clicker = async {
        tokio::time::sleep(Duration::from_secs(7)).await;
        assert!(emu.approve_link(&url));
    };
    let start = tokio::time::Instant::now();
    let options = WaitOptions::default();
    let (token, ()) = tokio::join!(broker.wait_for_authorization(&auth, &options), clicker);
    assert_eq!(
        Some(token.unwrap().expose_secret()),
        emu.access_token(GMAIL, IDENTIFIER).as_deref()
    );
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(7) && waited < Duration::from_secs(9),
        "{waited:?}"
    );
    let polls = emu.requests(Route::Details);
    assert!(
        (4..=6).contains(&polls),
        "about one poll per 1.5 s: {polls}"
    );
}

#[tokio::test(start_paused = true)]
async fn waiting_ends_with_link_expired_or_timed_out() {
    let emu = emulator()
        .link_ttl(Duration::from_secs(20))
        .start()
        .await
        .unwrap();
    let broker = builder(&emu).timeout(None).build().unwrap();
    let Err(Error::AuthorizationRequired(auth)) = broker.get_token("gmail").await else {
        panic!("a link first");
    };

    let start = tokio::time::Instant::now();
    let err = broker
        .wait_for_authorization(&auth, &WaitOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::LinkExpired(_)), "{err:?}");
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(19) && waited <= Duration::from_secs(21),
        "deadline is the link's expiry: {waited:?}"
    );

    let err = broker
        .wait_until_active(
            "gmail",
            None,
            &WaitOptions::default().timeout(Duration::from_secs(5)),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::WaitTimedOut { waited, .. } if *waited == Duration::from_secs(5)),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::AuthorizationRequired);
}

/// The caller sees every link before anything waits on it; an expired link is followed by a new one; the
/// time limit is the whole wait's.
#[tokio::test(start_paused = true)]
async fn wait_for_token_shows_each_link_then_waits() {
    let emu = emulator()
        .link_ttl(Duration::from_secs(20))
        .start()
        .await
        .unwrap();
    let broker = builder(&emu).timeout(None).build().unwrap();
    let start = tokio::time::Instant::now();
    let mut links = Vec::new();
    let err = broker
        .wait_for_token(
            "gmail",
            None,
            &WaitOptions::default().timeout(Duration::from_secs(50)),
            |auth| links.push((auth.url.to_string(), start.elapsed())),
        )
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::WaitTimedOut { .. }), "{err:?}");
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(49) && waited <= Duration::from_secs(51),
        "{waited:?}"
    );
    assert_eq!(links.len(), 3, "one link per 20 s: {links:?}");
    assert!(links[0].1 < Duration::from_secs(1), "shown at once");
    assert_ne!(links[0].0, links[1].0, "a new link each time");

    // Approved while waiting: the token, and the link was shown before that.
    let mut shown = 0;
    let token = broker
        .wait_for_token(
            "gmail",
            Some(IDENTIFIER),
            &WaitOptions::default().timeout(Duration::from_secs(50)),
            |auth| {
                shown += 1;
                assert!(emu.approve_link(auth.url.as_str()), "a live link");
            },
        )
        .await
        .unwrap();
    assert_eq!(shown, 1);
    assert_eq!(token.identifier(), IDENTIFIER);
}

#[tokio::test]
async fn no_debug_or_display_contains_a_token_or_the_secret() {
    let secret = "client-secret-that-must-not-leak";
    let emu = emulator().client("id", secret).start().await.unwrap();
    activate(&emu, GMAIL, IDENTIFIER);
    let broker = broker(&emu);
    let token = broker.get_token("gmail").await.unwrap();
    let value = token.expose_secret().to_owned();
    let mut shown = vec![
        format!("{token:?}"),
        format!("{broker:?}"),
        format!("{:?}", broker.credentials()),
        format!("{:?}", emu.credentials()),
    ];

    let mut errors = Vec::new();
    emu.set_status(GMAIL, IDENTIFIER, "EXPIRED");
    broker.invalidate("gmail", None).await.unwrap();
    errors.push(broker.get_token("gmail").await.unwrap_err());
    emu.inject(Fault::body(
        Route::Auth,
        500,
        format!("{{\"message\": \"boom {secret}\"}}"),
    ));
    errors.push(broker.get_token("gmail").await.unwrap_err());
    emu.inject(Fault::body(
        Route::Auth,
        200,
        format!("{{\"connected_account\": {{\"status\": 5, \"x\": \"{value}\"}}}}"),
    ));
    errors.push(broker.get_token("gmail").await.unwrap_err());
    emu.inject(Fault::status(Route::Auth, 401).times(2));
    errors.push(broker.get_token("gmail").await.unwrap_err());
    let wrong = tokenbroker::Credentials::new(&emu.url(), "id", "wrong-secret-also-private".into())
        .unwrap();
    errors.push(
        builder(&emu)
            .credentials(wrong)
            .build()
            .unwrap()
            .get_token("gmail")
            .await
            .unwrap_err(),
    );
    assert!(errors.len() == 5);
    for e in &errors {
        shown.push(format!("{e}"));
        shown.push(format!("{e:?}"));
        shown.push(e.hint());
    }
    for text in &shown {
        for forbidden in [secret, value.as_str(), "wrong-secret-also-private"] {
            assert!(
                !text.contains(forbidden),
                "{forbidden:?} leaked into {text:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_google_domain_wide_delegation_account_hands_out_its_oauth_token() {
    let emu = emulator().start().await.unwrap();
    activate(&emu, GMAIL, IDENTIFIER);
    let broker = uncached(&emu);
    emu.inject(Fault::body(
        Route::Auth,
        200,
        r#"{"connected_account": {"status": "ACTIVE", "authorization_type": "GOOGLE_DWD",
            "authorization_details": {"google_dwd": {"access_token": "dwd.fake-token",
            "scopes": ["https://www.googleapis.com/auth/gmail.readonly"],
            "token_expires_at": "2099-01-01T00:00:00Z"}}}}"#,
    ));
    let token = broker.get_token("gmail").await.unwrap();
    assert_eq!(token.expose_secret(), "dwd.fake-token");
    assert_eq!(
        token.scopes(),
        ["https://www.googleapis.com/auth/gmail.readonly"]
    );
    assert!(token.expires_at().is_some());
}

/// The environment's connections, as an untrusted server may send them: pages without end (distinct or
/// repeated tokens), more entries than any environment has, names with control characters. Bounded and
/// neutralised; asked once per broker.
#[tokio::test]
async fn the_environment_connection_list_is_bounded_and_clean() {
    let emu = emulator().start().await.unwrap();
    let page = |n: usize, token: &str| {
        let entries: Vec<String> = (0..30)
            .map(|i| format!(r#"{{"key_id": "conn_{n}_{i}\u001b[31m", "type": "OAUTH"}}"#))
            .collect();
        format!(
            r#"{{"connections": [{}], "next_page_token": "{token}"}}"#,
            entries.join(",")
        )
    };
    for n in 0..15 {
        emu.inject(Fault::body(
            Route::AppConnections,
            200,
            page(n, &format!("t{n}")),
        ));
    }
    let broker = uncached(&emu);
    let listed = broker.environment_connections().await.unwrap().unwrap();
    assert_eq!(listed.len(), 300, "capped");
    assert_eq!(emu.requests(Route::AppConnections), 10, "at most 10 pages");
    assert!(
        listed.iter().all(|c| !c.name.contains('\u{1b}')),
        "{:?}",
        listed[0]
    );
    broker.environment_connections().await.unwrap();
    assert_eq!(
        emu.requests(Route::AppConnections),
        10,
        "asked once per broker"
    );

    // The same token again and again: two pages, then it stops.
    let emu = emulator().start().await.unwrap();
    for _ in 0..15 {
        emu.inject(Fault::body(Route::AppConnections, 200, page(0, "again")));
    }
    uncached(&emu).environment_connections().await.unwrap();
    assert_eq!(emu.requests(Route::AppConnections), 2);

    // Not offered: None, and get_token's refusal still tells the name by Scalekit's words.
    let emu = emulator().start().await.unwrap();
    emu.inject(Fault::status(Route::AppConnections, 404));
    let broker = uncached(&emu);
    assert!(broker.environment_connections().await.unwrap().is_none());
    let err = broker.get_token("ghost").await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::UnknownConnection {
                known: None,
                answer: Some(_),
                ..
            }
        ),
        "{err:?}"
    );
}
