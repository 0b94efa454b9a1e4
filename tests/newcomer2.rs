//! The second newcomer review's friction points (../shared/reference/newcomer-review-2.md, by number), each
//! as the user met it: the command, and what they now get.

mod common;

use std::time::{Duration, Instant};

use common::{Cli, emulator};
use tokenbroker_emulator::Route;

/// F5: habits from gh, gcloud and aws get a precise hint, and none of them reaches Scalekit (`logout gmail`
/// asked Scalekit for a link before).
#[test]
fn habits_from_other_tools_get_a_hint_and_no_request() {
    let emu = emulator().spawn().unwrap();
    let cli = Cli::on(&emu);
    for (args, says) in [
        (&["login"][..], "get-token init"),
        (&["auth", "login"][..], "get-token init"),
        (&["logout", "gmail"][..], "get-token disconnect gmail"),
        (&["list"][..], "get-token config list"),
    ] {
        let run = cli.run(args);
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(run.stderr.contains(says), "{args:?}: {run:?}");
    }
    assert_eq!(
        emu.requests(Route::Token) + emu.requests(Route::MagicLink),
        0,
        "nothing sent"
    );
}

/// F5: a typo's did-you-mean is not followed by advice to add the typo; with nothing set up the hint is
/// `get-token init`.
#[test]
fn a_typo_is_not_offered_for_adding_and_nothing_set_up_points_at_init() {
    let emu = emulator().spawn().unwrap();
    let run = Cli::on(&emu).run(&["gmial"]);
    assert_eq!(run.code, 4, "{run:?}");
    assert!(run.stderr.contains("did you mean \"gmail\""), "{run:?}");
    assert!(!run.stderr.contains("config add gmial"), "{run:?}");
    let run = Cli::new().run(&["gmail"]);
    assert!(run.stderr.contains("get-token init"), "{run:?}");
}

/// F6: a `--wait` cut by `--timeout` says the user has not approved yet (exit 3, how to go on), not that
/// the network failed.
#[test]
fn a_wait_cut_by_timeout_says_the_user_has_not_approved() {
    let emu = emulator().spawn().unwrap();
    let cli = Cli::on(&emu);
    let started = Instant::now();
    let run = cli.run(&["--timeout", "3", "--wait", "gmail"]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stderr.contains("gave up waiting"), "{run:?}");
    assert!(!run.stderr.contains("network"), "{run:?}");
    let run = cli.run(&["--timeout", "2", "wait", "gmail"]);
    assert_eq!(run.code, 3, "{run:?}");
}

/// Links live about a minute (here 2 s): `next` carries the relayed link's expiry, and the `wait` it names
/// asks for no link while that one lives, then returns within a few seconds of its expiry with exactly one
/// fresh link that says it replaces the expired one; a user who approves in time gets the token instead.
#[test]
fn wait_returns_soon_after_the_relayed_link_expires_with_one_fresh_link() {
    let emu = emulator().link_ttl(Duration::from_secs(2)).spawn().unwrap();
    let cli = Cli::on(&emu);
    let run = cli.run(&["--json", "gmail"]);
    assert_eq!(run.code, 3, "{run:?}");
    let first: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let next = first["next"].as_str().unwrap();
    assert!(next.contains("--link-expires "), "{next}");
    assert!(
        first["message"]
            .as_str()
            .unwrap()
            .contains("tell me and I will send a new one"),
        "{first}"
    );
    assert_eq!(first["replaces_expired_link"], false);
    let words: Vec<&str> = next.split_whitespace().skip(1).collect();
    let links = emu.requests(Route::MagicLink);
    let started = Instant::now();
    let run = cli.run(&[&["--json"][..], &words].concat());
    let took = started.elapsed();
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        took < Duration::from_secs(8),
        "returned {took:?} after start, not at the 110 s limit"
    );
    assert!(
        took >= Duration::from_secs(2),
        "not before the link died: {took:?}"
    );
    assert_eq!(
        emu.requests(Route::MagicLink),
        links + 1,
        "exactly one fresh link"
    );
    let fresh: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(fresh["replaces_expired_link"], true, "{fresh}");
    assert!(
        fresh["message"]
            .as_str()
            .unwrap()
            .starts_with("The link I sent before has expired"),
        "{fresh}"
    );
    assert_ne!(fresh["authorization_url"], first["authorization_url"]);

    // Approved in time: the same wait gives the token.
    let words: Vec<String> = fresh["next"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .skip(1)
        .map(str::to_owned)
        .collect();
    assert!(emu.approve_link(fresh["authorization_url"].as_str().unwrap()));
    let args: Vec<&str> = words.iter().map(String::as_str).collect();
    let run = cli.run(&args);
    assert_eq!(run.code, 0, "{run:?}");
}

/// F10: `-h` fits one screen; `--help` keeps the whole text (what get-token reads, every exit code,
/// examples), and each command's own `--help` its whole description.
#[test]
fn short_help_fits_one_screen_and_long_help_stays_complete() {
    let cli = Cli::new();
    let short = cli.run(&["-h"]);
    assert_eq!(short.code, 0);
    let lines = short.stdout.lines().count();
    assert!(lines <= 50, "{lines} lines:\n{}", short.stdout);
    assert!(
        short.stdout.lines().all(|l| l.chars().count() <= 100),
        "{}",
        short.stdout
    );
    assert!(
        short.stdout.contains("get-token --help"),
        "says where the rest is"
    );
    let long = cli.run(&["--help"]);
    for part in [
        "Reads (never from the working directory)",
        "Exit codes:",
        "Examples:",
    ] {
        assert!(long.stdout.contains(part), "{part}: {}", long.stdout);
    }
    assert!(
        long.stdout.contains("8  user verification failed"),
        "{}",
        long.stdout
    );
    let wait = cli.run(&["wait", "--help"]);
    assert!(wait.stdout.contains("Made for agents"), "{}", wait.stdout);
}
