//! Review 2, L-D: anyone who can read the directory of connections.json can lock it; a write waits for the
//! lock a bounded time and then says what is wrong, instead of hanging forever.

mod common;

use std::time::{Duration, Instant};

use common::Cli;

#[test]
fn a_lock_held_by_another_process_delays_a_write_but_never_hangs_it() {
    let cli = Cli::new();
    assert_eq!(cli.run(&["config", "add", "gmail", "gmail_u3134a"]).code, 0);
    // Another process (here this test) holds the directory's lock, as another user could.
    let held = std::fs::File::open(cli.config_dir()).unwrap();
    held.lock().unwrap();
    let start = Instant::now();
    let run = cli.run(&["config", "add", "slack", "slack_x7y9z"]);
    let took = start.elapsed();
    assert_ne!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("held the lock"), "{run:?}");
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(20),
        "{took:?}"
    );
    // Released: the write goes through.
    drop(held);
    assert_eq!(cli.run(&["config", "add", "slack", "slack_x7y9z"]).code, 0);
}
