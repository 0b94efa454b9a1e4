//! User verification through the library, against the emulator in each of Scalekit's three modes: the link
//! carries `user_verify_url` and a signed `state`, the redirect completes it, and every failure is its own
//! typed outcome.

mod common;

use std::time::Duration;

use common::{IDENTIFIER, builder, emulator};
use tokenbroker::{
    AuthorizationRequired, Broker, CachePolicy, Error, ErrorKind, VerificationError, WaitOptions,
};
use tokenbroker_emulator::{Approval, Emulator, Route, UserVerification};

const GMAIL: &str = "gmail_u3134a";
const VERIFY: &str = "http://127.0.0.1:9/tokenbroker/verify";

async fn custom() -> Emulator {
    emulator()
        .user_verification(UserVerification::Custom)
        .start()
        .await
        .unwrap()
}

fn verifying(emu: &Emulator) -> Broker {
    builder(emu)
        .user_verify_url(VERIFY.parse().unwrap())
        .cache(CachePolicy::disabled())
        .build()
        .unwrap()
}

fn link(outcome: Result<tokenbroker::AccessToken, Error>) -> AuthorizationRequired {
    match outcome {
        Err(Error::AuthorizationRequired(auth)) => *auth,
        other => panic!("expected a link, got {other:?}"),
    }
}

fn redirect(approval: Approval) -> String {
    match approval {
        Approval::Redirect(url) => url,
        other => panic!("expected a redirect, got {other:?}"),
    }
}

#[tokio::test]
async fn custom_mode_completes_from_the_redirect_and_never_relinks_while_pending() {
    let emu = custom().await;
    let broker = verifying(&emu);
    let auth = link(broker.get_token("gmail").await);
    let url = redirect(emu.click_approve(auth.url.as_str(), true));
    assert!(url.starts_with(VERIFY), "{url}");
    assert_eq!(
        emu.status(GMAIL, IDENTIFIER).as_deref(),
        Some("PENDING_VERIFICATION")
    );

    let links = emu.requests(Route::MagicLink);
    let err = broker.get_token("gmail").await.unwrap_err();
    assert!(matches!(err, Error::VerificationPending(_)), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::VerificationPending);
    assert_eq!(
        emu.requests(Route::MagicLink),
        links,
        "no new link while pending"
    );

    let done = broker.complete_verification(&url).await.unwrap();
    assert_eq!(
        (done.service.as_str(), done.identifier.as_str()),
        ("gmail", IDENTIFIER)
    );
    assert!(
        done.redirect.is_none(),
        "the emulator's own http page is not a safe redirect"
    );
    let token = broker.get_token("gmail").await.unwrap();
    assert_eq!(
        Some(token.expose_secret().to_owned()),
        emu.access_token(GMAIL, IDENTIFIER)
    );
    // A repeat while Scalekit still knows the flow succeeds again; once it is gone, it is FlowExpired.
    assert!(broker.complete_verification(&url).await.is_ok());
    emu.expire_auth_requests();
    let err = broker.complete_verification(&url).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Verification(VerificationError::FlowExpired { .. })
        ),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::VerificationFailed);
}

#[tokio::test]
async fn a_tampered_or_foreign_state_is_refused_before_anything_is_sent() {
    let emu = custom().await;
    let broker = verifying(&emu);
    let auth = link(broker.get_token("gmail").await);
    let url = redirect(emu.click_approve(auth.url.as_str(), true));
    let parsed = url::Url::parse(&url).unwrap();
    let pairs: std::collections::HashMap<_, _> = parsed.query_pairs().into_owned().collect();
    let (id, state) = (&pairs["auth_request_id"], &pairs["state"]);

    // Each part altered: the service, the identifier, the expiry, the MAC.
    let parts: Vec<&str> = state.split('.').collect();
    let mut forged = Vec::new();
    for (i, replacement) in [
        (1, "slack"),
        (2, "bWFsbG9yeQ"),
        (3, "9999999999"),
        (5, &"0".repeat(64)[..]),
    ] {
        let mut p = parts.clone();
        p[i] = replacement;
        forged.push(p.join("."));
    }
    forged.push("not a state".into());
    // A state made by another installation (another client secret) for the same account.
    let other = Emulator::builder()
        .client("emulator-client", "another-secret")
        .user_verification(UserVerification::Custom)
        .connection(GMAIL)
        .start()
        .await
        .unwrap();
    let foreign = verifying(&other);
    let foreign_auth = link(foreign.get_token("gmail").await);
    let foreign_url = redirect(other.click_approve(foreign_auth.url.as_str(), true));
    let foreign_state = url::Url::parse(&foreign_url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    forged.push(foreign_state);

    emu.reset_counts();
    for state in &forged {
        let err = broker
            .complete_verification_with(id, state)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Verification(VerificationError::InvalidState { .. })
            ),
            "{state}: {err:?}"
        );
    }
    for address in ["not a url", "http://127.0.0.1:9/tokenbroker/verify?state=x"] {
        assert!(broker.complete_verification(address).await.is_err());
    }
    assert_eq!(emu.requests(Route::UserVerify), 0, "nothing was sent");
    assert!(broker.complete_verification_with(id, state).await.is_ok());
}

#[tokio::test]
async fn the_wrong_user_is_a_typed_outcome() {
    let emu = custom().await;
    let broker = verifying(&emu);
    let alice = link(broker.get_token_for("gmail", "alice").await);
    let bob = link(broker.get_token_for("gmail", "bob").await);
    let alice_url = redirect(emu.click_approve(alice.url.as_str(), true));
    let bob_url = redirect(emu.click_approve(bob.url.as_str(), true));
    let query = |u: &str, key: &str| {
        url::Url::parse(u)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == key)
            .unwrap()
            .1
            .into_owned()
    };
    // Alice's flow, finished with Bob's (valid) state: Scalekit sees the wrong user.
    let err = broker
        .complete_verification_with(
            &query(&alice_url, "auth_request_id"),
            &query(&bob_url, "state"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Verification(VerificationError::WrongUser { .. })
        ),
        "{err:?}"
    );
    assert!(err.hint().contains("their identifier"), "{}", err.hint());
}

#[tokio::test]
async fn without_a_verify_url_custom_mode_fails_to_exchange() {
    let emu = custom().await;
    let broker = builder(&emu).build().unwrap();
    let auth = link(broker.get_token("gmail").await);
    match emu.click_approve(auth.url.as_str(), true) {
        Approval::Failed(text) => assert!(text.contains("failed_to_exchange"), "{text}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn scalekit_users_mode_needs_a_signed_in_approver_then_a_new_link() {
    let emu = emulator()
        .user_verification(UserVerification::ScalekitUsers)
        .start()
        .await
        .unwrap();
    let broker = verifying(&emu);
    let auth = link(broker.get_token("gmail").await);
    assert!(matches!(
        emu.click_approve(auth.url.as_str(), false),
        Approval::Failed(_)
    ));
    let err = broker.get_token("gmail").await.unwrap_err();
    let Error::VerificationPending(pending) = &err else {
        panic!("{err:?}")
    };
    assert!(
        pending
            .message()
            .contains("sign in to the Scalekit dashboard")
    );
    let again = broker.authorization_link("gmail", None).await.unwrap();
    assert_eq!(
        emu.click_approve(again.url.as_str(), true),
        Approval::Active
    );
    assert!(broker.get_token("gmail").await.is_ok());
}

#[tokio::test]
async fn disabled_mode_ignores_the_verification_fields() {
    let emu = emulator().start().await.unwrap();
    let broker = verifying(&emu);
    let auth = link(broker.get_token("gmail").await);
    assert_eq!(emu.click_approve(auth.url.as_str(), true), Approval::Active);
    assert!(broker.get_token("gmail").await.is_ok());
}

#[tokio::test]
async fn waiting_treats_pending_verification_as_progress_past_the_links_expiry() {
    let emu = emulator()
        .user_verification(UserVerification::Custom)
        .link_ttl(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let broker = verifying(&emu);
    let auth = link(broker.get_token("gmail").await);
    let url = redirect(emu.click_approve(auth.url.as_str(), true));
    let finisher = {
        let broker = broker.clone();
        tokio::spawn(async move {
            // Later than the link lives: the wait must not end with LinkExpired meanwhile.
            tokio::time::sleep(Duration::from_millis(2500)).await;
            broker.complete_verification(&url).await
        })
    };
    let options = WaitOptions::default()
        .timeout(Duration::from_secs(10))
        .poll_interval(Duration::from_millis(200));
    let token = broker
        .wait_for_authorization(&auth, &options)
        .await
        .unwrap();
    assert!(finisher.await.unwrap().is_ok());
    assert_eq!(
        Some(token.expose_secret().to_owned()),
        emu.access_token(GMAIL, IDENTIFIER)
    );

    // Pending at the deadline: VerificationPending, not a new link.
    let auth = link(broker.get_token_for("gmail", "carol").await);
    redirect(emu.click_approve(auth.url.as_str(), true));
    let short = options.clone().timeout(Duration::from_secs(2));
    let err = broker
        .wait_for_authorization(&auth, &short)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::VerificationPending(_)), "{err:?}");
    let err = broker
        .wait_until_active("gmail", Some("carol"), &short)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::VerificationPending(_)), "{err:?}");
}
