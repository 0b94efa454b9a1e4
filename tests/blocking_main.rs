//! The blocking API from a plain `main`, with no async runtime anywhere in the caller.

mod common;

use tokenbroker::Error;
use tokenbroker::blocking::Broker;

fn main() {
    let emu = common::emulator().spawn().unwrap();
    let broker = Broker::new(common::broker(&emu)).unwrap();

    let Err(Error::AuthorizationRequired(auth)) = broker.get_token("gmail") else {
        panic!("expected a link")
    };
    assert!(emu.approve_link(auth.url.as_str()));
    let token = broker.get_token("gmail").unwrap();
    assert_eq!(
        Some(token.expose_secret()),
        emu.access_token("gmail_u3134a", common::IDENTIFIER)
            .as_deref()
    );
    let again = broker.get_token("gmail").unwrap();
    assert_eq!(again.expose_secret(), token.expose_secret());
    assert_eq!(
        emu.requests(tokenbroker_emulator::Route::Auth),
        2,
        "second call served from cache"
    );

    // Called from inside an async runtime it must not panic either.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let inside = rt.block_on(async {
        broker
            .get_token("gmail")
            .map(|t| t.expose_secret().to_owned())
    });
    assert_eq!(inside.unwrap(), token.expose_secret());

    // The newer calls have their twins too: waiting with the link shown first, the environment's list.
    let mut shown = 0;
    let slack = broker
        .wait_for_token(
            "slack",
            None,
            &tokenbroker::WaitOptions::default().timeout(std::time::Duration::from_secs(30)),
            |auth| {
                shown += 1;
                assert!(emu.approve_link(auth.url.as_str()));
            },
        )
        .unwrap();
    assert_eq!((shown, slack.service()), (1, "slack"));
    let listed = broker.environment_connections().unwrap().unwrap();
    assert!(
        listed.iter().any(|c| c.name == "gmail_u3134a"),
        "{listed:?}"
    );
    assert!(broker.check_connection("gmail").is_ok());
    assert!(matches!(
        broker.check_connection("ghost"),
        Err(Error::UnknownConnection { .. })
    ));
    println!("blocking_main: 4 passed, 0 failed");
}
