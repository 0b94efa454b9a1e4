//! Review 2, M-A, L-A, L-K and part 4: user verification bound to the flow. The listener answers only its
//! own `Host` and names nothing in its pages; a state is used once across processes; a state for one
//! connection cannot quietly finish another connection's flow; `verify -` reads the address from stdin; a
//! service name with a `.` verifies; two waits on one machine share the port.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;

use common::IDENTIFIER;
use common::browser::{browse, cli, custom, json, link_in, redirect};
use tokenbroker_emulator::Route;

const GMAIL: &str = "gmail_u3134a";
const SLACK: &str = "slack_x7y9z";

/// One GET of `target` with the `Host` header given, as a DNS-rebinding page's request would carry it.
fn get_with_host(port: u16, target: &str, host: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply
}

#[test]
fn the_listener_answers_only_its_own_host_and_its_pages_name_nothing() {
    let emu = custom();
    let (cli, port) = cli(&emu);
    let mut running = cli.spawn(&["--wait=30", "gmail"]);
    let link = link_in(&running.stderr_line_with("/magic/"));
    let url = redirect(emu.click_approve(&link, true));
    let target = &url[url.find("/tokenbroker").unwrap()..];
    emu.reset_counts();
    for host in [
        format!("rebind.attacker.example:{port}"),
        "127.0.0.1".to_owned(),
        format!("localhost:{port}"),
    ] {
        let reply = get_with_host(port, target, &host);
        assert!(reply.starts_with("HTTP/1.1 400"), "{host}: {reply}");
    }
    assert_eq!(emu.requests(Route::UserVerify), 0, "nothing sent");
    // A state naming an unknown service: a fixed text, no file, path or configured service in it.
    let unknown = format!(
        "/tokenbroker/verify?auth_request_id=x&state=tbv1.zz.eA.9999999999.0011223344556677.{}",
        "00".repeat(32)
    );
    let reply = get_with_host(port, &unknown, &format!("127.0.0.1:{port}"));
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    for secret in [
        "connections.json",
        "gmail",
        "slack",
        "configured",
        &cli.home.path().display().to_string(),
    ] {
        assert!(!reply.contains(secret), "{secret} in {reply}");
    }
    // The real browser's request (its own Host) still completes it; the page names no service.
    let (status, page) = browse(&url);
    assert!(status.contains("200") && !page.contains("gmail"), "{page}");
    assert_eq!(running.finish().code, 0);
}

#[test]
fn a_state_is_used_once_across_processes_and_verify_reads_stdin() {
    let emu = custom();
    let (cli, _) = cli(&emu);
    let v = json(&cli.run(&["--json", "gmail"]).stdout);
    let url = redirect(emu.click_approve(v["authorization_url"].as_str().unwrap(), true));
    // An address with shell syntax in it goes through stdin as data.
    let run = cli.run_with_input(&["verify", "-"], &format!("{url}\n"));
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("gmail is verified"), "{run:?}");
    // The same address again, from another process, while Scalekit would still accept it.
    emu.reset_counts();
    let run = cli.run(&["verify", &url]);
    assert_eq!(run.code, 8, "{run:?}");
    assert!(run.stderr.contains("already used"), "{run:?}");
    assert_eq!(emu.requests(Route::UserVerify), 0);
    // What is kept on disk holds no state, and is private.
    let kept = std::fs::read_to_string(cli.config_dir().join("used-states")).unwrap();
    let state = url.split("state=").nth(1).unwrap();
    assert!(
        !kept.contains(&state[..40]) && kept.lines().count() == 1,
        "{kept}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(cli.config_dir().join("used-states")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
    // Shell syntax on stdin is never run, and a bad address is refused with exit 8.
    let marker = cli.cwd().join("pwned");
    let hostile = format!("x'; touch {}; '\n", marker.display());
    let run = cli.run_with_input(&["verify", "-"], &hostile);
    assert_eq!(run.code, 8, "{run:?}");
    assert!(!marker.exists());
}

#[test]
fn a_state_for_one_connection_cannot_quietly_finish_another() {
    let emu = custom();
    let (cli, _) = cli(&emu);
    let gmail = json(&cli.run(&["--json", "gmail"]).stdout);
    let slack = json(&cli.run(&["--json", "slack"]).stdout);
    let gmail_url = redirect(emu.click_approve(gmail["authorization_url"].as_str().unwrap(), true));
    redirect(emu.click_approve(slack["authorization_url"].as_str().unwrap(), true));
    let slack_request = emu.auth_request_id(SLACK, IDENTIFIER).unwrap();
    let mixed = format!(
        "http://127.0.0.1:1/tokenbroker/verify?auth_request_id={slack_request}&state={}",
        gmail_url.split("state=").nth(1).unwrap()
    );
    let run = cli.run(&["verify", &mixed]);
    assert_eq!(run.code, 8, "{run:?}");
    assert!(
        run.stderr.contains("another connection's flow") && run.stderr.contains("disconnect"),
        "said loudly, with the fix: {run:?}"
    );
    assert_eq!(
        emu.status(GMAIL, IDENTIFIER).as_deref(),
        Some("PENDING_VERIFICATION")
    );
    // Released, not burnt: gmail's own address still completes gmail.
    let run = cli.run(&["verify", &gmail_url]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(emu.status(GMAIL, IDENTIFIER).as_deref(), Some("ACTIVE"));
}

#[test]
fn a_service_name_with_a_dot_finishes_verification() {
    let emu = custom();
    let (cli, _) = cli(&emu);
    assert_eq!(cli.run(&["config", "add", "my.mail", GMAIL]).code, 0);
    let v = json(&cli.run(&["--json", "-u", "dot", "my.mail"]).stdout);
    let url = redirect(emu.click_approve(v["authorization_url"].as_str().unwrap(), true));
    let run = cli.run(&["verify", &url]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(emu.status(GMAIL, "dot").as_deref(), Some("ACTIVE"));
}

#[test]
fn two_waits_on_one_machine_do_not_steal_each_others_redirects() {
    let emu = custom();
    let (cli, _) = cli(&emu);
    let mut first = cli.spawn(&["--wait=30", "gmail"]);
    first.stderr_line_with("/magic/");
    let mut second = cli.spawn(&["--wait=30", "slack"]);
    let (mut link, mut shared) = (None, false);
    while link.is_none() || !shared {
        let line = second.stderr_line_with("");
        if line.contains("/magic/") {
            link = Some(link_in(&line));
        }
        shared |= line.contains("another program of yours listens");
    }
    let link = link.unwrap();
    // The slack redirect reaches the first wait's listener, which completes it: the second wait sees slack
    // active, and the first goes on waiting for gmail.
    let url = redirect(emu.click_approve(&link, true));
    let (status, _) = browse(&url);
    assert!(status.contains("200"), "{status}");
    let run = second.finish();
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout.trim(),
        emu.access_token(SLACK, IDENTIFIER).unwrap()
    );
    assert!(first.is_running());
    first.kill();
}

/// Review 2, L-B: a state seen once (a chat, a browser's history) sent with a bogus `auth_request_id` does
/// not end the wait, nor burn the state: the real redirect still completes it.
#[test]
fn a_replayed_state_with_a_bogus_request_id_neither_ends_the_wait_nor_burns_the_state() {
    let emu = custom();
    let (cli, _) = cli(&emu);
    let mut running = cli.spawn(&["--wait=30", "gmail"]);
    let link = link_in(&running.stderr_line_with("/magic/"));
    let url = redirect(emu.click_approve(&link, true));
    let bogus = format!(
        "{}auth_request_id=ar_bogus&state={}",
        &url[..url.find("auth_request_id=").unwrap()],
        url.split("state=").nth(1).unwrap()
    );
    let (_, page) = browse(&bogus);
    assert!(page.contains("not connected"), "{page}");
    running.stderr_line_with("expired or was already used");
    assert!(running.is_running(), "the wait goes on");
    let (status, _) = browse(&url);
    assert!(status.contains("200"), "{status}");
    let run = running.finish();
    assert_eq!(run.code, 0, "{run:?}");
}
