//! get-token's subcommands, `--wait` and `--for-url`, with the real binary against the emulator.

mod common;

use std::time::Duration;

use common::{Cli, IDENTIFIER, emulator};
use tokenbroker_emulator::Emulator;

const GMAIL: &str = "gmail_u3134a";
const SLACK: &str = "slack_x7y9z";

fn token(emu: &Emulator) -> String {
    emu.access_token(GMAIL, IDENTIFIER).unwrap()
}

fn link_in(line: &str) -> String {
    let start = line.find("http://").expect("a link");
    line[start..].trim().to_owned()
}

#[test]
fn wait_prints_the_link_at_once_then_the_token_once_approved() {
    let emu = emulator().spawn().unwrap();
    let cli = Cli::on(&emu);
    let mut running = cli.spawn(&["--wait=30", "gmail"]);
    let link = link_in(&running.stderr_line_with("/magic/"));
    running.stderr_line_with("Waiting up to 30 s");
    assert!(emu.approve_link(&link));
    let run = running.finish();
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, format!("{}\n", token(&emu)));
}

#[test]
fn wait_renews_an_expired_link_and_gives_up_with_exit_3() {
    let emu = emulator().link_ttl(Duration::from_secs(3)).spawn().unwrap();
    let run = Cli::on(&emu).run(&["--wait=6", "--json", "gmail"]);
    assert_eq!(run.code, 3, "{run:?}");
    let links: std::collections::BTreeSet<_> = run
        .stderr
        .lines()
        .filter(|l| l.contains("/magic/"))
        .map(link_in)
        .collect();
    assert!(links.len() >= 2, "a new link after expiry: {}", run.stderr);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["code"], "authorization_required", "{v}");
    assert!(v["message"].as_str().unwrap().contains("after 6s"), "{v}");
}

#[test]
fn wait_with_a_space_before_the_seconds_is_a_usage_error_that_says_how() {
    let emu = emulator().spawn().unwrap();
    let run = Cli::on(&emu).run(&["--wait", "5", "gmail"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("--wait=5"), "{}", run.stderr);
}

#[test]
fn status_is_a_readiness_check_and_never_shows_a_token() {
    let emu = emulator().spawn().unwrap();
    common::activate(&emu, GMAIL, IDENTIFIER);
    let cli = Cli::on(&emu);

    let run = cli.run(&["status", "gmail"]);
    assert_eq!(run.code, 0, "{run:?}");
    let row = run.stdout.lines().nth(1).unwrap();
    for cell in ["gmail", GMAIL, IDENTIFIER, "ACTIVE", "gmail_u3134a.read"] {
        assert!(row.contains(cell), "{cell} in {row}");
    }
    assert!(run.stdout.starts_with("SERVICE"), "{}", run.stdout);

    let run = cli.run(&["status", "--json", "gmail", "slack", "ghost"]);
    assert_eq!(run.code, 4, "ghost's connection does not exist: {run:?}");
    let run = cli.run(&["status", "--json", "gmail", "slack"]);
    assert_eq!(run.code, 3, "slack is not authorized: {run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["status"], "not_ready");
    assert_eq!(v["services"][0]["ready"], true);
    assert_eq!(v["services"][0]["account_status"], "ACTIVE");
    assert!(v["services"][0]["token_expires_at"].is_string());
    assert_eq!(v["services"][1]["account_status"], "NOT_CONNECTED");
    for out in [&run.stdout, &run.stderr] {
        assert!(!out.contains(&token(&emu)));
    }

    let run = cli.run(&["status", "nope"]);
    assert_eq!(run.code, 4, "{run:?}");
}

#[test]
fn authorize_gives_a_link_even_for_an_active_account_and_can_wait_for_it() {
    let emu = emulator().spawn().unwrap();
    common::activate(&emu, GMAIL, IDENTIFIER);
    let cli = Cli::on(&emu);

    let run = cli.run(&["authorize", "gmail"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.starts_with(&format!("{}/magic/", emu.url())));
    assert!(run.stderr.contains("(until "), "{}", run.stderr);

    let run = cli.run(&["authorize", "gmail", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["status"], "authorization_required");
    assert_eq!(v["account_status"], "ACTIVE");

    // Re-authorizing an active account: done once the account changes, not at once.
    let mut running = cli.spawn(&["authorize", "gmail", "--wait=30"]);
    running.stderr_line_with("Waiting up to");
    std::thread::sleep(Duration::from_millis(2000));
    assert!(
        running.is_running(),
        "an active account is not done until it changes"
    );
    assert!(
        emu.requests(tokenbroker_emulator::Route::Details) >= 1,
        "it polls"
    );
    assert!(emu.approve(GMAIL, IDENTIFIER));
    let run = running.finish();
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("gmail is authorized"), "{}", run.stderr);
}

#[test]
fn disconnect_needs_yes_off_a_terminal_then_deletes_the_account() {
    let emu = emulator().spawn().unwrap();
    common::activate(&emu, GMAIL, IDENTIFIER);
    let cli = Cli::on(&emu);

    let run = cli.run(&["disconnect", "gmail"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("--yes"), "{}", run.stderr);
    assert_eq!(emu.status(GMAIL, IDENTIFIER).as_deref(), Some("ACTIVE"));

    let run = cli.run(&["disconnect", "gmail", "--yes", "--json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["deleted"], true);
    assert_eq!(emu.status(GMAIL, IDENTIFIER), None);

    let run = cli.run(&["disconnect", "gmail", "--yes"]);
    assert_eq!(run.code, 0);
    assert!(run.stderr.contains("nothing to delete"), "{}", run.stderr);
}

#[test]
fn config_edits_the_user_file_keeping_entries_and_order() {
    let emu = emulator().spawn().unwrap();
    let cli = Cli::on(&emu);
    std::fs::remove_file(cli.config_dir().join("connections.json")).unwrap();
    let file = cli.config_dir().join("connections.json");

    let run = cli.run(&["config", "path"]);
    assert_eq!(run.stdout.trim(), file.display().to_string());
    assert!(run.stderr.contains("does not exist yet"), "{}", run.stderr);

    for args in [
        &["config", "add", "slack", SLACK][..],
        &["config", "add", "gmail", GMAIL, "--identifier", IDENTIFIER],
        &[
            "config",
            "add",
            "crm",
            "salesforce_1",
            "--host",
            "api.crm.test",
        ],
    ] {
        let run = cli.run(args);
        assert_eq!(run.code, 0, "{run:?}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // Changing the connection keeps the identifier it had.
    let run = cli.run(&["config", "add", "slack", "slack_new"]);
    assert!(run.stderr.contains("updated slack"), "{}", run.stderr);
    let run = cli.run(&["config", "add", "slack", SLACK, "--identifier", IDENTIFIER]);
    assert_eq!(run.code, 0);

    let run = cli.run(&["config", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let services: Vec<_> = v["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["service"].as_str().unwrap())
        .collect();
    assert_eq!(services, ["slack", "gmail", "crm"]);
    assert_eq!(v["services"][2]["hosts"][0], "api.crm.test");

    // The file it wrote is the one get-token reads.
    common::activate(&emu, GMAIL, IDENTIFIER);
    let run = cli.run(&["gmail"]);
    assert_eq!(run.stdout, format!("{}\n", token(&emu)), "{run:?}");

    let run = cli.run(&["config", "remove", "crm"]);
    assert_eq!(run.code, 0, "{run:?}");
    let run = cli.run(&["config", "remove", "gmial"]);
    assert_eq!(run.code, 4, "{run:?}");
    assert!(
        run.stderr.contains("did you mean \"gmail\""),
        "{}",
        run.stderr
    );
    let run = cli.run(&["config", "add", "bad name", "x"]);
    assert_eq!(run.code, 4, "{run:?}");
    let run = cli.run(&["config", "list"]);
    assert_eq!(run.stdout.lines().count(), 3, "{}", run.stdout);
}

#[test]
fn config_refuses_to_rewrite_an_invalid_file() {
    let emu = emulator().spawn().unwrap();
    let cli = Cli::on(&emu);
    let broken = "{\"gmail\": {\"connection_name\": \"g\",}}";
    let path = cli.write_config("connections.json", broken);
    let run = cli.run(&["config", "add", "slack", SLACK]);
    assert_eq!(run.code, 4, "{run:?}");
    assert!(run.stderr.contains("connections.json:1:"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(path).unwrap(), broken);
}

#[test]
fn doctor_ticks_each_step_or_says_how_to_fix_it() {
    let emu = emulator().spawn().unwrap();
    common::activate(&emu, GMAIL, IDENTIFIER);
    common::activate(&emu, SLACK, IDENTIFIER);
    let cli = Cli::on(&emu);
    cli.write_config(
        "connections.json",
        r#"{"gmail": {"connection_name": "gmail_u3134a", "identifier": "mess"},
            "slack": {"connection_name": "slack_x7y9z", "identifier": "mess"}}"#,
    );
    let run = cli.run(&["doctor"]);
    assert_eq!(run.code, 0, "{run:?}");
    for step in [
        "✓ credentials",
        "✓ environment URL",
        "✓ Scalekit reachable",
        "✓ credentials accepted",
        "✓ connections.json",
        "✓ gmail: ACTIVE",
        "✓ slack: ACTIVE",
    ] {
        assert!(run.stdout.contains(step), "{step} in {}", run.stdout);
    }
    assert!(!run.stdout.contains(&emu.client_secret()));

    emu.set_status(SLACK, IDENTIFIER, "EXPIRED");
    let run = cli.run(&["doctor"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stdout.contains("✗ slack: EXPIRED"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("fix: authorize it: get-token authorize slack")
    );

    let wrong = cli
        .clone_without_credentials()
        .var("SCALEKIT_ENV_URL", &emu.url())
        .var("SCALEKIT_CLIENT_ID", &emu.client_id())
        .var("SCALEKIT_CLIENT_SECRET", "wrong");
    let run = wrong.run(&["doctor", "--json"]);
    assert_eq!(run.code, 5, "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let failed: Vec<_> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["credentials accepted"], "{v}");

    let run = cli.clone_without_credentials().run(&["doctor"]);
    assert_eq!(run.code, 5, "{run:?}");
    assert!(
        run.stdout
            .contains("✗ credentials: missing Scalekit credentials"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("fix: set them up: get-token init"),
        "{}",
        run.stdout
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let down = cli
        .clone_without_credentials()
        .var("SCALEKIT_ENV_URL", &format!("http://127.0.0.1:{port}"))
        .var("SCALEKIT_CLIENT_ID", "x")
        .var("SCALEKIT_CLIENT_SECRET", "y");
    let run = down.run(&["doctor"]);
    assert_eq!(run.code, 7, "{run:?}");
    assert!(
        run.stdout.contains("✗ Scalekit reachable"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("✓ connections.json"), "{}", run.stdout);
}

#[test]
fn exec_passes_tokens_in_the_environment_and_the_exit_code_back() {
    let emu = emulator().spawn().unwrap();
    common::activate(&emu, GMAIL, IDENTIFIER);
    common::activate(&emu, SLACK, IDENTIFIER);
    let cli = Cli::on(&emu);
    let expected = token(&emu);
    let check =
        format!("test \"$GMAIL_TOKEN\" = '{expected}' && test -n \"$SLACK_TOKEN\" && exit 42");
    let run = cli.run(&["exec", "gmail", "slack", "--", "sh", "-c", &check]);
    assert_eq!(run.code, 42, "{run:?}");
    assert!(!run.stdout.contains(&expected) && !run.stderr.contains(&expected));

    let run = cli.run(&["exec", "gmail", "--", "no-such-command-here"]);
    assert_eq!(run.code, 127, "{run:?}");

    // No token, no command.
    let marker = cli.cwd().join("ran");
    let touch = format!("touch {}", marker.display());
    emu.set_status(GMAIL, IDENTIFIER, "EXPIRED");
    let run = cli.run(&["exec", "gmail", "--", "sh", "-c", &touch]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(!marker.exists());
    assert!(run.stderr.contains("/magic/"), "{}", run.stderr);
}

#[test]
fn for_url_picks_the_service_by_api_host() {
    let emu = emulator().spawn().unwrap();
    common::activate(&emu, GMAIL, IDENTIFIER);
    let cli = Cli::on(&emu);
    let run = cli.run(&[
        "--for-url",
        "https://gmail.googleapis.com/gmail/v1/users/me/messages",
    ]);
    assert_eq!(run.stdout, format!("{}\n", token(&emu)), "{run:?}");

    let run = cli.run(&["--for-url", "https://api.example.com/v1", "--json"]);
    assert_eq!(run.code, 4, "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["code"], "not_configured");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("not a known API host")
    );

    let run = cli.run(&["gmail", "--for-url", "https://slack.com/api/x"]);
    assert_eq!(run.code, 2, "a service and a URL: {run:?}");
}

#[test]
fn completion_scripts_call_get_token_back() {
    let cli = Cli::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let run = cli.run(&["completions", shell]);
        assert_eq!(run.code, 0, "{run:?}");
        // The shell asks get-token itself (tests/completions.rs runs them in real shells).
        assert!(run.stdout.contains("COMPLETE"), "{shell}: {}", run.stdout);
    }
    assert_eq!(cli.run(&["completions", "tcsh"]).code, 2);
}

#[test]
fn the_shell_example_handles_each_exit_code() {
    let emu = emulator().spawn().unwrap();
    let cli = Cli::on(&emu);
    // get-token from this build, and a `curl` that prints what it was asked to do: its arguments, then stdin.
    let bin = cli.write(
        "bin/curl",
        "#!/bin/sh\nprintf 'arg: %s\\n' \"$@\"\nsed 's/^/stdin: /'\n",
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let get_token_dir = std::path::Path::new(env!("CARGO_BIN_EXE_get-token"))
        .parent()
        .unwrap();
    let path = format!(
        "{}:{}:{}",
        bin.parent().unwrap().display(),
        get_token_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/gmail-unread.sh");
    let cli = cli
        .var("PATH", &path)
        .var("GMAIL_API_URL", "http://127.0.0.1:9");

    let run = cli.run_program("sh", &[script]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stderr.contains("/magic/") && run.stderr.contains("open the link above"));

    common::activate(&emu, GMAIL, IDENTIFIER);
    let run = cli.run_program("sh", &[script]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .contains(&format!("stdin: Authorization: Bearer {}", token(&emu))),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .lines()
            .filter(|l| l.starts_with("arg: "))
            .all(|l| !l.contains(&token(&emu))),
        "the token is never in curl's arguments: {}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("http://127.0.0.1:9/gmail/v1/users/me/messages?q=is%3Aunread")
    );

    std::fs::remove_file(cli.config_dir().join("connections.json")).unwrap();
    let run = cli.run_program("sh", &[script]);
    assert_eq!(run.code, 4, "{run:?}");
    assert!(
        run.stderr.contains("get-token config add gmail"),
        "{}",
        run.stderr
    );
}

#[test]
fn concurrent_config_adds_from_many_processes_all_land() {
    let cli = Cli::new();
    let path = cli.write_config(
        "connections.json",
        "{\"keep\": {\"connection_name\": \"keep_1\"}}\n",
    );
    let mut running: Vec<_> = (0..12)
        .map(|i| {
            let (service, name) = (format!("s{i}"), format!("conn_{i}"));
            cli.spawn(&["config", "add", &service, &name])
        })
        .collect();
    for r in running.drain(..) {
        let run = r.finish();
        assert_eq!(run.code, 0, "{run:?}");
    }
    let c = tokenbroker::Connections::from_path(&path).unwrap();
    let mut services: Vec<_> = c.services().collect();
    assert_eq!(services.remove(0), "keep", "the first entry stays first");
    services.sort();
    let mut expected: Vec<String> = (0..12).map(|i| format!("s{i}")).collect();
    expected.sort();
    assert_eq!(services, expected);
}

#[test]
fn a_config_add_killed_at_any_moment_leaves_a_valid_file() {
    let cli = Cli::new();
    let path = cli.write_config(
        "connections.json",
        "{\"keep\": {\"connection_name\": \"keep_1\"}}\n",
    );
    for i in 0..40u64 {
        let running = cli.spawn(&["config", "add", &format!("s{i}"), "conn"]);
        std::thread::sleep(Duration::from_micros(i * 150));
        running.kill();
        let c = tokenbroker::Connections::from_path(&path)
            .unwrap_or_else(|e| panic!("after a kill at {} us: {e}", i * 150));
        assert_eq!(c.services().next(), Some("keep"));
    }
    // Later edits still work, and clear the temporary files killed writers left.
    let run = cli.run(&["config", "add", "last", "conn"]);
    assert_eq!(run.code, 0, "{run:?}");
    let temps: Vec<_> = std::fs::read_dir(cli.cwd())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(temps.is_empty(), "{temps:?}");
}

/// The manual page comes from the same definition as --help: the committed doc/get-token.1 is what
/// `get-token man` prints (regenerate it with `get-token man > doc/get-token.1`), it names every
/// subcommand, and man renders it.
#[test]
fn the_man_page_is_current_and_renders() {
    let run = Cli::new().run(&["man"]);
    assert_eq!(run.code, 0, "{run:?}");
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/doc/get-token.1")).unwrap();
    assert_eq!(
        run.stdout, committed,
        "doc/get-token.1 is stale: run get-token man > doc/get-token.1"
    );
    for name in [
        "status",
        "authorize",
        "init",
        "mcp",
        "doctor",
        "exec",
        "api",
        "completions",
    ] {
        assert!(
            run.stdout.contains(&format!("get\\-token\\-{name}(1)")) || run.stdout.contains(name),
            "{name}"
        );
    }
    assert!(run.stdout.contains(".TH get-token 1"));
    if std::process::Command::new("man")
        .arg("--version")
        .output()
        .is_ok()
    {
        let shown = std::process::Command::new("man")
            .args([
                "-l",
                concat!(env!("CARGO_MANIFEST_DIR"), "/doc/get-token.1"),
            ])
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&shown.stdout);
        assert!(
            shown.status.success() && text.contains("SYNOPSIS"),
            "{text}"
        );
    }
}
