//! User verification through the real `get-token`: the loopback listener completing it when the browser is
//! on this machine, `get-token verify` when the user pastes the address back, `get-token wait` asking for no
//! link while one is live and exactly one when its time is up, and the listener treating every request as
//! untrusted.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::IDENTIFIER;
use common::browser::{browse, cli, custom, json, link_in, redirect};
use tokenbroker_emulator::Route;

const GMAIL: &str = "gmail_u3134a";

#[test]
fn loopback_completion_when_the_browser_is_on_this_machine() {
    let emu = custom();
    let (cli, port) = cli(&emu);
    let mut running = cli.spawn(&["--wait=30", "gmail"]);
    let link = link_in(&running.stderr_line_with("/magic/"));
    let url = redirect(emu.click_approve(&link, true));
    assert!(
        url.starts_with(&format!("http://127.0.0.1:{port}/tokenbroker/verify?")),
        "{url}"
    );
    let (status, page) = browse(&url);
    assert!(
        status.contains("200") && page.contains("is connected"),
        "{status}: {page}"
    );
    let run = running.finish();
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout.trim(),
        emu.access_token(GMAIL, IDENTIFIER).unwrap()
    );
    // The listener went with the process.
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn paste_back_completion_with_get_token_verify() {
    let emu = custom();
    let (cli, port) = cli(&emu);
    let run = cli.run(&["--json", "gmail"]);
    assert_eq!(run.code, 3, "{run:?}");
    let v = json(&run.stdout);
    assert!(
        v["next"].as_str().unwrap().starts_with(&format!(
            "get-token --verify-port {port} wait gmail --link-expires "
        )),
        "{v}"
    );
    let url = redirect(emu.click_approve(v["authorization_url"].as_str().unwrap(), true));

    let run = cli.run(&["--json", "gmail"]);
    assert_eq!(run.code, 3, "{run:?}");
    let v = json(&run.stdout);
    assert_eq!(v["status"], "verification_pending", "{v}");
    assert!(v["message"].as_str().unwrap().contains("http://127.0.0.1"));

    let run = cli.run(&["verify", &url]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("gmail is verified"), "{}", run.stderr);
    assert_eq!(
        cli.run(&["gmail"]).stdout.trim(),
        emu.access_token(GMAIL, IDENTIFIER).unwrap()
    );
    // Replayed once the flow is gone: exit 8.
    emu.expire_auth_requests();
    let run = cli.run(&["--json", "verify", &url]);
    assert_eq!(run.code, 8, "{run:?}");
    assert_eq!(json(&run.stdout)["code"], "verification_failed");
}

#[test]
fn wrong_user_and_tampered_state_exit_8_and_a_tampered_state_sends_nothing() {
    let emu = custom();
    let (cli, port) = cli(&emu);
    let alice = json(&cli.run(&["--json", "-u", "alice", "gmail"]).stdout);
    assert!(
        alice["next"].as_str().unwrap().starts_with(&format!(
            "get-token --verify-port {port} wait gmail --identifier 'alice' --link-expires "
        )),
        "{alice}"
    );
    let bob = json(&cli.run(&["--json", "-u", "bob", "gmail"]).stdout);
    let alice_url = redirect(emu.click_approve(alice["authorization_url"].as_str().unwrap(), true));
    let bob_url = redirect(emu.click_approve(bob["authorization_url"].as_str().unwrap(), true));
    let state_of = |u: &str| u.split("state=").nth(1).unwrap().to_owned();
    let swapped = format!(
        "{}state={}",
        alice_url.split("state=").next().unwrap(),
        state_of(&bob_url)
    );
    let run = cli.run(&["verify", &swapped]);
    assert!(
        run.code == 8 && run.stderr.contains("not that user"),
        "{run:?}"
    );

    emu.reset_counts();
    let tampered = alice_url.replacen("state=tbv1.gmail.", "state=tbv1.slack.", 1);
    let run = cli.run(&["verify", &tampered]);
    assert!(
        run.code == 8 && run.stderr.contains("refused the verification address"),
        "{run:?}"
    );
    assert_eq!(emu.requests(Route::UserVerify), 0);
}

#[test]
fn wait_asks_for_no_link_while_one_is_live_and_exactly_one_when_time_is_up() {
    let emu = custom();
    let (cli, port) = cli(&emu);
    assert_eq!(cli.run(&["gmail"]).code, 3);
    assert_eq!(emu.requests(Route::MagicLink), 1);
    let run = cli.run(&["wait", "gmail", "--for", "2", "--json"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert_eq!(
        emu.requests(Route::MagicLink),
        2,
        "exactly one new link, at the end"
    );
    let v = json(&run.stdout);
    assert_eq!(v["status"], "authorization_required");
    assert!(
        v["next"].as_str().unwrap().starts_with(&format!(
            "get-token --verify-port {port} wait gmail --link-expires "
        )),
        "{v}"
    );
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "closed at the deadline"
    );

    // The user approves on this machine while `wait` runs: the token, and no new link.
    let mut running = cli.spawn(&["wait", "gmail", "--for", "30"]);
    running.stderr_line_with("waiting up to 30 s");
    let url = redirect(emu.click_approve(v["authorization_url"].as_str().unwrap(), true));
    let (status, _) = browse(&url);
    assert!(status.contains("200"), "{status}");
    let run = running.finish();
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout.trim(),
        emu.access_token(GMAIL, IDENTIFIER).unwrap()
    );
    assert_eq!(emu.requests(Route::MagicLink), 2);
    // Already active: `wait` returns at once.
    assert_eq!(cli.run(&["wait", "gmail"]).code, 0);
}

#[test]
fn the_listener_treats_every_request_as_untrusted_and_keeps_waiting() {
    let emu = custom();
    let (cli, port) = cli(&emu);
    let mut running = cli.spawn(&["--wait=30", "gmail"]);
    let link = link_in(&running.stderr_line_with("/magic/"));
    let base = format!("http://127.0.0.1:{port}");
    // A forged state, another path, no parameters: refused, and the listener goes on.
    for url in [
        format!(
            "{base}/tokenbroker/verify?auth_request_id=ar_1&state=tbv1.gmail.bWVzcw.9999999999.0011223344556677.{}",
            "ab".repeat(32)
        ),
        format!("{base}/other"),
        format!("{base}/tokenbroker/verify"),
        format!("{base}/tokenbroker/verify?auth_request_id=%1b%5b2J&state=%e2%80%ae"),
    ] {
        let (status, page) = browse(&url);
        assert!(
            status.contains("400") || status.contains("404"),
            "{url}: {status}"
        );
        assert!(
            !page.contains('\u{1b}') && !page.contains('\u{202e}'),
            "{page}"
        );
    }
    // A head that never ends, a huge one, and not a GET: each dropped.
    let mut slow = TcpStream::connect(("127.0.0.1", port)).unwrap();
    slow.write_all(b"GET /tokenbroker/verify?").unwrap();
    let mut huge = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let _ = huge.write_all(&vec![b'a'; 64 * 1024]);
    let mut post = TcpStream::connect(("127.0.0.1", port)).unwrap();
    post.write_all(b"POST /tokenbroker/verify HTTP/1.1\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    post.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = post.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    drop(slow);
    // The real redirect still completes it.
    let url = redirect(emu.click_approve(&link, true));
    let (status, _) = browse(&url);
    assert!(status.contains("200"), "{status}");
    let run = running.finish();
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(emu.requests(Route::UserVerify), 1);
}

/// Review 2, L-B: a verification refused at Scalekit is said on stderr, and the wait goes on (an old address
/// replayed by a web page must not end it).
#[test]
fn a_verification_refused_at_scalekit_is_said_and_the_wait_goes_on() {
    let emu = custom();
    let (cli, _) = cli(&emu);
    let mut running = cli.spawn(&["--wait=4", "gmail"]);
    let link = link_in(&running.stderr_line_with("/magic/"));
    let url = redirect(emu.click_approve(&link, true));
    emu.expire_auth_requests();
    let (_, page) = browse(&url);
    assert!(page.contains("not connected"), "{page}");
    running.stderr_line_with("expired or was already used");
    let run = running.finish();
    assert_eq!(run.code, 3, "the wait ran to its end: {run:?}");
}

#[test]
fn status_and_doctor_say_what_finishes_a_pending_verification() {
    let emu = custom();
    let (cli, _) = cli(&emu);
    let link = json(&cli.run(&["--json", "gmail"]).stdout)["authorization_url"]
        .as_str()
        .unwrap()
        .to_owned();
    redirect(emu.click_approve(&link, true));
    let run = cli.run(&["status", "gmail"]);
    assert_eq!(run.code, 3);
    assert!(
        run.stdout.contains("PENDING_VERIFICATION"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("get-token verify"), "{}", run.stderr);
    let run = cli.run(&["doctor"]);
    for needle in [
        "user verification",
        "Scalekit users only",
        "signed in to the Scalekit dashboard",
        "✗ gmail: PENDING_VERIFICATION",
        "get-token verify",
    ] {
        assert!(run.stdout.contains(needle), "{needle}: {}", run.stdout);
    }
}

/// Review 2, part 4: a valid address of this installation for another account is completed too (another
/// wait, which cannot listen on the same port, may be waiting for it).
#[test]
fn idle_connections_cannot_stall_the_listener_and_other_accounts_are_completed_too() {
    let emu = custom();
    let (cli, port) = cli(&emu);
    // A valid address for another account of this installation (slack), made before the wait starts.
    let slack = json(&cli.run(&["--json", "slack"]).stdout);
    let slack_url = redirect(emu.click_approve(slack["authorization_url"].as_str().unwrap(), true));
    let mut running = cli.spawn(&["--wait=30", "gmail"]);
    let link = link_in(&running.stderr_line_with("/magic/"));
    // Forty sockets that never send a byte.
    let idle: Vec<TcpStream> = (0..40)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    emu.reset_counts();
    let slack_here = slack_url.replace(
        &slack_url[..slack_url.find("/tokenbroker").unwrap()],
        &format!("http://127.0.0.1:{port}"),
    );
    let (status, page) = browse(&slack_here);
    assert!(
        status.contains("200") && page.contains("is connected"),
        "{status}: {page}"
    );
    assert_eq!(
        emu.status("slack_x7y9z", IDENTIFIER).as_deref(),
        Some("ACTIVE")
    );
    let url = redirect(emu.click_approve(&link, true));
    let started = std::time::Instant::now();
    let (status, _) = browse(&url);
    assert!(status.contains("200"), "{status}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let run = running.finish();
    assert_eq!(run.code, 0, "{run:?}");
    drop(idle);
}
