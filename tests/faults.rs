//! Faults Scalekit or the network can throw at the broker, each with the outcome it must give.
//! Every test here is one row of the README's reliability table.

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{IDENTIFIER, activate, emulator, uncached};
use tokenbroker::{AccountStatus, Credentials, Error, ErrorKind};
use tokenbroker_emulator::{Fault, Route};

const GMAIL: &str = "gmail_u3134a";

async fn ready() -> tokenbroker_emulator::Emulator {
    let emu = emulator().start().await.unwrap();
    activate(&emu, GMAIL, IDENTIFIER);
    emu
}

#[tokio::test]
async fn gateway_errors_are_retried_until_they_pass() {
    let emu = ready().await;
    let broker = uncached(&emu);
    for status in [502, 503, 504] {
        emu.reset_counts();
        emu.inject(Fault::status(Route::Auth, status).times(2));
        let token = broker.get_token("gmail").await;
        assert!(token.is_ok(), "{status}: {token:?}");
        assert_eq!(
            emu.requests(Route::Auth),
            3,
            "{status}: two failures, then success"
        );
    }
}

#[tokio::test]
async fn retries_are_bounded_then_unavailable() {
    let emu = ready().await;
    let broker = uncached(&emu);
    emu.inject(Fault::status(Route::Auth, 503).times(100));
    let started = Instant::now();
    let err = broker.get_token("gmail").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.to_string().contains("503"), "{err}");
    assert_eq!(
        emu.requests(Route::Auth),
        4,
        "the first attempt and three retries"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_500_is_not_retried() {
    let emu = ready().await;
    let broker = uncached(&emu);
    emu.inject(Fault::status(Route::Auth, 500).times(100));
    let err = broker.get_token("gmail").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert_eq!(emu.requests(Route::Auth), 1);
}

#[tokio::test]
async fn other_4xx_are_never_retried() {
    let emu = ready().await;
    let broker = uncached(&emu);
    for status in [400, 403, 404, 409, 422] {
        emu.reset_counts();
        // One fault: a retry would succeed, so an error proves there was none.
        emu.inject(Fault::status(Route::MagicLink, status));
        emu.set_status(GMAIL, IDENTIFIER, "EXPIRED");
        let err = broker.get_token("gmail").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ScalekitRefused, "{status}: {err}");
        assert_eq!(emu.requests(Route::MagicLink), 1, "{status}");
    }
}

/// 429 is never retried, as Scalekit's SDKs never retry it (Python 2.21.0 `core.py:499-501`, Node
/// `core.ts:187-190`): one request, then `RateLimited` with the wait Scalekit asked for, if it said one.
#[tokio::test]
async fn a_429_is_reported_as_rate_limited_never_retried() {
    for (route, retry_after) in [
        (Route::Auth, Some(7)),
        (Route::MagicLink, None),
        (Route::Token, Some(2)),
    ] {
        let emu = ready().await;
        let broker = uncached(&emu);
        emu.set_status(GMAIL, IDENTIFIER, "PENDING_AUTH");
        emu.inject(Fault::rate_limited(route, retry_after));
        let started = Instant::now();
        let err = broker.get_token("gmail").await.unwrap_err();
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "not waited for"
        );
        assert_eq!(emu.requests(route), 1, "{route:?}: not retried");
        assert_eq!(err.kind(), ErrorKind::RateLimited, "{route:?}: {err:?}");
        assert_eq!(err.kind().code(), "rate_limited");
        let Error::RateLimited {
            retry_after: asked, ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(*asked, retry_after.map(Duration::from_secs), "{route:?}");
        match retry_after {
            Some(s) => assert!(err.hint().contains(&format!("wait {s}s")), "{}", err.hint()),
            None => assert!(err.hint().contains("wait"), "{}", err.hint()),
        }
    }
}

/// What is retried depends on whether the request's effect is unknown and repeating it is harmless: 503
/// everywhere; 502 and 504 on reads, the token, create and magic link, but not on delete or user/verify.
#[tokio::test]
async fn gateway_errors_are_retried_only_where_repeating_is_harmless() {
    for status in [502, 504] {
        let emu = ready().await;
        let broker = uncached(&emu);
        emu.set_status(GMAIL, IDENTIFIER, "PENDING_AUTH");
        emu.inject(Fault::status(Route::MagicLink, status));
        assert_eq!(
            broker.get_token("gmail").await.unwrap_err().kind(),
            ErrorKind::AuthorizationRequired
        );
        assert_eq!(
            emu.requests(Route::MagicLink),
            2,
            "{status}: a magic link is repeated"
        );

        emu.inject(Fault::status(Route::Delete, status));
        let err = broker.disconnect("gmail", None).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{status}: {err:?}");
        assert_eq!(
            emu.requests(Route::Delete),
            1,
            "{status}: a delete is not repeated"
        );
        assert!(
            emu.status(GMAIL, IDENTIFIER).is_some(),
            "the fault answered, nothing was deleted"
        );
    }
    let emu = ready().await;
    let broker = uncached(&emu);
    emu.inject(Fault::status(Route::Delete, 503));
    assert!(
        broker.disconnect("gmail", None).await.unwrap(),
        "503 says nothing was done: retried"
    );
    assert_eq!(emu.requests(Route::Delete), 2);
}

#[tokio::test]
async fn a_retry_after_beyond_the_cap_or_deadline_is_not_waited_for() {
    let emu = ready().await;
    let broker = uncached(&emu);
    emu.inject(Fault::status(Route::Auth, 503).header("Retry-After", "3600"));
    let started = Instant::now();
    let err = broker.get_token("gmail").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(emu.requests(Route::Auth), 1);

    let short = common::builder(&emu)
        .timeout(Some(Duration::from_millis(1500)))
        .build()
        .unwrap();
    emu.reset_counts();
    emu.inject(
        Fault::status(Route::Auth, 503)
            .header("Retry-After", "5")
            .times(10),
    );
    let started = Instant::now();
    assert!(short.get_token("gmail").await.is_err());
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(emu.requests(Route::Auth), 1, "5 s does not fit in 1.5 s");
}

#[tokio::test]
async fn a_hung_scalekit_is_unavailable_within_the_timeout() {
    let emu = ready().await;
    let broker = common::builder(&emu)
        .timeout(Some(Duration::from_millis(500)))
        .cache(tokenbroker::CachePolicy::disabled())
        .build()
        .unwrap();
    emu.inject(Fault::delay(Route::Auth, Duration::from_secs(30)).times(10));
    let started = Instant::now();
    let err = broker.get_token("gmail").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(emu.requests(Route::Auth), 1, "a timeout is not retried");
}

/// A server that accepts connections, reads a little, and closes them without answering.
fn resetting_server() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            count.fetch_add(1, Ordering::SeqCst);
            let _ = stream.read(&mut [0; 64]);
            drop(stream);
        }
    });
    (url, accepted)
}

#[tokio::test]
async fn a_connection_closed_without_an_answer_is_retried_then_unavailable() {
    let (url, accepted) = resetting_server();
    let broker = tokenbroker::Broker::builder()
        .credentials(Credentials::new(&url, "id", "secret".into()).unwrap())
        .connections(common::connections())
        .build()
        .unwrap();
    let err = broker.get_token("gmail").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        4,
        "the first attempt and three retries"
    );
}

#[tokio::test]
async fn a_closed_port_is_unavailable_after_retries() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let broker = tokenbroker::Broker::builder()
        .credentials(Credentials::new(&url, "id", "secret".into()).unwrap())
        .connections(common::connections())
        .build()
        .unwrap();
    let started = Instant::now();
    let err = broker.get_token("gmail").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.to_string().contains(&url), "names the URL: {err}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn malformed_answers_are_protocol_errors_that_quote_nothing() {
    let emu = ready().await;
    let broker = uncached(&emu);
    let token = emu.access_token(GMAIL, IDENTIFIER).unwrap();
    for (status, body) in [
        (
            200,
            "{\"connected_account\": {\"status\": \"ACTIVE\", \"authorization_details\": ",
        ),
        (200, ""),
        (
            200,
            "<html><body>Service Temporarily Unavailable</body></html>",
        ),
        (200, "[1, 2, 3]"),
        (200, "{\"connected_account\": {\"status\": 7}}"),
    ] {
        emu.inject(Fault::body(Route::Auth, status, body));
        let err = broker.get_token("gmail").await.unwrap_err();
        assert!(matches!(err, Error::Protocol { .. }), "{body:?}: {err:?}");
        assert_eq!(err.kind(), ErrorKind::Unexpected);
        assert!(!err.to_string().contains(&token));
    }
}

#[tokio::test]
async fn an_html_error_page_is_a_refusal_with_its_text_tidied() {
    let emu = ready().await;
    let broker = uncached(&emu);
    emu.inject(Fault::body(
        Route::Auth,
        403,
        "<html><head><title>403 Forbidden</title></head><body><h1>Forbidden</h1></body></html>",
    ));
    let err = broker.get_token("gmail").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ScalekitRefused, "{err}");
    assert!(err.to_string().contains("403"), "{err}");
    assert!(!err.to_string().contains("<html>"), "tags stripped: {err}");
}

#[tokio::test]
async fn nulls_and_unknown_statuses_ask_for_authorization() {
    let emu = ready().await;
    let broker = uncached(&emu);
    for body in [
        r#"{"connected_account": {"id": null, "status": null, "authorization_details": null, "token_expires_at": null}}"#,
        r#"{"connected_account": {"status": "ACTIVE", "authorization_details": {"oauth_token": {"access_token": null, "scopes": null}}}}"#,
        r#"{"connected_account": {"status": "QUARANTINED"}}"#,
    ] {
        emu.inject(Fault::body(Route::Auth, 200, body));
        let err = broker.get_token("gmail").await.unwrap_err();
        let auth = err
            .authorization()
            .unwrap_or_else(|| panic!("{body}: {err:?}"));
        if body.contains("QUARANTINED") {
            assert_eq!(auth.status, AccountStatus::Other("QUARANTINED".into()));
        }
    }
    // `{"connected_account": null}` on a 200 means there is no account to read.
    emu.inject(Fault::body(
        Route::Auth,
        200,
        r#"{"connected_account": null}"#,
    ));
    let err = broker.get_token("gmail").await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Protocol { .. } | Error::AuthorizationRequired(_)
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_active_account_with_an_expired_token_is_asked_once_more_then_a_typed_outcome() {
    let emu = ready().await;
    let broker = common::broker(&emu);
    emu.set_token_expiry(
        GMAIL,
        IDENTIFIER,
        std::time::SystemTime::now() - Duration::from_secs(60),
    );
    emu.reset_counts();
    let err = broker.get_token("gmail").await.unwrap_err();
    assert!(matches!(err, Error::TokenExpired { .. }), "{err:?}");
    assert_eq!(err.kind(), tokenbroker::ErrorKind::TokenExpired);
    assert_eq!(
        emu.requests(Route::Auth),
        2,
        "asked once more, never handed out"
    );
    // A fresh token on the second read is handed out (Scalekit refreshed it meanwhile).
    emu.set_token_expiry(
        GMAIL,
        IDENTIFIER,
        std::time::SystemTime::now() + Duration::from_secs(600),
    );
    assert!(broker.get_token("gmail").await.is_ok());
    // The zero timestamp means "does not expire", not "expired in year 1".
    emu.set_token_expiry(
        GMAIL,
        IDENTIFIER,
        std::time::UNIX_EPOCH - Duration::from_secs(62_135_596_800),
    );
    broker.invalidate("gmail", None).await.unwrap();
    let token = broker.get_token("gmail").await.unwrap();
    assert_eq!(token.expires_at(), None);
}

#[tokio::test]
async fn a_redirect_is_not_followed_with_the_bearer_token() {
    let emu = ready().await;
    let broker = uncached(&emu);
    let (elsewhere, accepted) = resetting_server();
    emu.inject(Fault::status(Route::Auth, 307).header("Location", format!("{elsewhere}/steal")));
    let err = broker.get_token("gmail").await.unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
    assert!(err.to_string().contains("not followed"), "{err}");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        0,
        "nothing went to the other host"
    );
}

#[tokio::test]
async fn an_oversized_answer_is_refused_not_buffered() {
    let emu = ready().await;
    let broker = uncached(&emu);
    let huge = format!(
        "{{\"connected_account\": {{\"id\": \"{}\"}}}}",
        "x".repeat(3 << 20)
    );
    emu.inject(Fault::body(Route::Auth, 200, huge));
    let err = broker.get_token("gmail").await.unwrap_err();
    assert!(err.to_string().contains("larger than"), "{err}");
}

#[tokio::test]
async fn an_api_token_revoked_mid_run_is_fetched_again_once() {
    let emu = ready().await;
    let broker = uncached(&emu);
    broker.get_token("gmail").await.unwrap();
    emu.revoke_api_tokens();
    emu.reset_counts();
    broker.get_token("gmail").await.unwrap();
    assert_eq!(emu.requests(Route::Token), 1);
    assert_eq!(emu.requests(Route::Auth), 2, "the 401, then the retry");
}

#[tokio::test]
async fn five_hundred_tasks_for_five_services_share_one_fetch_each() {
    let mut builder = emulator();
    let services = ["s1", "s2", "s3", "s4", "s5"];
    for s in services {
        builder = builder.connection(s);
    }
    let emu = builder.start().await.unwrap();
    let mut connections = tokenbroker::Connections::new();
    for s in services {
        activate(&emu, s, IDENTIFIER);
        connections = connections
            .with(
                s,
                tokenbroker::Connection::new(s).with_identifier(IDENTIFIER),
            )
            .unwrap();
    }
    for faults in [false, true] {
        let broker = tokenbroker::Broker::builder()
            .credentials(emu.credentials())
            .connections(connections.clone())
            .build()
            .unwrap();
        emu.reset_counts();
        if faults {
            // Faults apply in the order injected: three 503s, then 50 ms on every request.
            emu.inject(Fault::status(Route::Auth, 503).times(3));
            emu.inject(
                Fault::delay(Route::Auth, Duration::from_millis(50))
                    .any()
                    .times(1000),
            );
        }
        let tasks: Vec<_> = (0..500)
            .map(|i| {
                let broker = broker.clone();
                let service = services[i % 5];
                tokio::spawn(async move {
                    broker
                        .get_token(service)
                        .await
                        .map(|t| t.connection_name().to_owned())
                })
            })
            .collect();
        let outcome = tokio::time::timeout(Duration::from_secs(20), async {
            let mut got = Vec::new();
            for t in tasks {
                got.push(t.await.unwrap());
            }
            got
        })
        .await
        .expect("no deadlock");
        for (i, got) in outcome.iter().enumerate() {
            assert_eq!(
                got.as_deref().unwrap(),
                services[i % 5],
                "task {i}, faults {faults}"
            );
        }
        assert_eq!(emu.requests(Route::Token), 1, "faults {faults}");
        let expected = if faults { 5 + 3 } else { 5 };
        assert_eq!(emu.requests(Route::Auth), expected, "faults {faults}");
    }
}

#[test]
fn the_cli_gives_exit_7_within_its_timeout_from_the_flag_or_the_variable() {
    let emu = emulator().spawn().unwrap();
    activate(&emu, GMAIL, IDENTIFIER);
    emu.inject(Fault::delay(Route::Auth, Duration::from_secs(30)).times(10));
    let cli = common::Cli::on(&emu);
    for (args, cli) in [
        (&["--timeout", "0.5", "gmail"][..], &cli),
        (
            &["gmail"][..],
            &common::Cli::on(&emu).var("TOKENBROKER_TIMEOUT", "0.5"),
        ),
    ] {
        let started = Instant::now();
        let run = cli.run(args);
        assert_eq!(run.code, 7, "{run:?}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert!(run.stderr.contains("timed out"), "{}", run.stderr);
    }
    let run = cli.run(&["--timeout", "0", "gmail"]);
    assert_eq!(run.code, 2, "{run:?}");
    let run = common::Cli::on(&emu)
        .var("TOKENBROKER_TIMEOUT", "soon")
        .run(&["gmail"]);
    assert_eq!(run.code, 4, "{run:?}");
    assert!(run.stderr.contains("TOKENBROKER_TIMEOUT"), "{}", run.stderr);
}

#[test]
fn network_failures_are_told_apart() {
    // Nothing listening.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    // Something that is not TLS where TLS is expected.
    let plain = TcpListener::bind("127.0.0.1:0").unwrap();
    let plain_addr = plain.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut stream in plain.incoming().flatten() {
            let _ = std::io::Write::write_all(&mut stream, b"HTTP/1.1 400 Not TLS\r\n\r\n");
        }
    });
    // Accepts and never answers.
    let hung = TcpListener::bind("127.0.0.1:0").unwrap();
    let hung_addr = hung.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in hung.incoming().flatten() {
            held.push(stream);
        }
    });
    for (url, says) in [
        (format!("http://{closed}"), "connection refused"),
        (format!("https://{plain_addr}"), "TLS handshake failed"),
        (format!("http://{hung_addr}"), "timed out"),
    ] {
        let emu = emulator().spawn().unwrap();
        let run =
            common::Cli::on(&emu)
                .var("SCALEKIT_ENV_URL", &url)
                .run(&["--timeout", "2", "gmail"]);
        assert_eq!(run.code, 7, "{url}: {run:?}");
        assert!(run.stderr.contains(says), "{url}: {}", run.stderr);
    }
}
