//! The security review's findings about configuration and arguments (../shared/reference/security-review.md),
//! one named test each, run against the real binary: nothing in the working directory, no partial set of
//! credentials and no URL trick can send the client secret or a token somewhere else.

mod common;

use std::time::{Duration, Instant};

use common::{CONNECTIONS_JSON, Cli, IDENTIFIER, activate, emulator};
use tokenbroker_emulator::{Emulator, Route};

const GMAIL: &str = "gmail_u3134a";

fn ready() -> (Emulator, Cli) {
    let emu = emulator().spawn().unwrap();
    activate(&emu, GMAIL, IDENTIFIER);
    let cli = Cli::on(&emu);
    (emu, cli)
}

/// A server that counts the connections it gets and never answers: where a stolen secret would go.
fn sink() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(stream);
        }
    });
    (url, hits)
}

#[test]
fn c1_a_dotenv_in_the_working_directory_never_redirects_the_secret() {
    let (emu, _) = ready();
    let (evil, hits) = sink();
    // The credentials live where SKILL.md says; the cloned repository's .env names another server.
    let cli = Cli::new();
    cli.write_config("connections.json", CONNECTIONS_JSON);
    cli.write_config(
        ".env",
        &format!(
            "SCALEKIT_ENV_URL={}\nSCALEKIT_CLIENT_ID={}\nSCALEKIT_CLIENT_SECRET={}\n",
            emu.url(),
            emu.client_id(),
            emu.client_secret()
        ),
    );
    cli.write(".env", &format!("SCALEKIT_ENV_URL={evil}\n"));
    assert_eq!(cli.run(&["gmail"]).code, 0);
    for args in [&["doctor"][..], &["status"]] {
        let run = cli.run(args);
        assert!(
            run.stdout.contains(&emu.url()) || args == ["status"],
            "{run:?}"
        );
        assert!(!run.stdout.contains(&evil) && !run.stderr.contains(&evil));
    }
    // The process environment with Scalekit's own name for the URL, and a partial .env beside it: the
    // alias is no longer looked up after every file.
    let cli = Cli::new()
        .var("SCALEKIT_ENVIRONMENT_URL", &emu.url())
        .var("SCALEKIT_CLIENT_ID", &emu.client_id())
        .var("SCALEKIT_CLIENT_SECRET", &emu.client_secret());
    cli.write_config("connections.json", CONNECTIONS_JSON);
    cli.write(".env", &format!("SCALEKIT_ENV_URL={evil}\n"));
    assert_eq!(cli.run(&["gmail"]).code, 0);
    // A .env that holds only the URL is an error naming it, not a merge with the environment.
    let partial = Cli::new()
        .var("SCALEKIT_CLIENT_ID", &emu.client_id())
        .var("SCALEKIT_CLIENT_SECRET", &emu.client_secret());
    partial.write_config("connections.json", CONNECTIONS_JSON);
    let env = partial.write("named.env", &format!("SCALEKIT_ENV_URL={evil}\n"));
    let run = partial.run(&["--env-file", env.to_str().unwrap(), "gmail", "--json"]);
    assert_eq!(run.code, 5, "{run:?}");
    assert!(
        run.stdout.contains(
            "environment sets SCALEKIT_CLIENT_ID, SCALEKIT_CLIENT_SECRET but not SCALEKIT_ENV_URL"
        ),
        "{run:?}"
    );
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[test]
fn c1b_dotenv_values_are_literal_so_no_secret_is_expanded_into_an_identifier() {
    let (emu, cli) = ready();
    let secret = emu.client_secret();
    cli.write_config(".env", "SCALEKIT_IDENTIFIER=${SCALEKIT_CLIENT_SECRET}\n");
    cli.write_config(
        "connections.json",
        r#"{"gmail": {"connection_name": "gmail_u3134a"}}"#,
    );
    for args in [&["--json", "gmail"][..], &["status"]] {
        let run = cli.run(args);
        assert!(
            !run.stdout.contains(&secret) && !run.stderr.contains(&secret),
            "{run:?}"
        );
    }
    // The identifier is the literal text, which is a valid identifier, never the secret.
    assert!(emu.status(GMAIL, "${SCALEKIT_CLIENT_SECRET}").is_some());
    assert!(emu.status(GMAIL, &secret).is_none());
}

#[test]
fn h1_for_url_refuses_urls_that_send_the_token_elsewhere() {
    let (emu, cli) = ready();
    let token = emu.access_token(GMAIL, IDENTIFIER).unwrap();
    for url in [
        "https://gmail.googleapis.com\\@evil.test/upload",
        "https://gmail.googleapis.com@evil.test/",
        "http://gmail.googleapis.com/gmail/v1",
        "ftp://gmail.googleapis.com/x",
        "wss://gmail.googleapis.com/",
        "https://gmail.googleapis.com:4444/x",
        "https://gmail.googleapis.com.evil.test/",
        "https://unknown.example/\u{1b}]0;TITLE\u{7}",
    ] {
        let run = cli.run(&["--for-url", url]);
        assert_eq!(run.code, 4, "{url}: {run:?}");
        assert!(!run.stdout.contains(&token), "{url}");
        assert!(!run.stderr.contains('\u{1b}'), "{url}: {}", run.stderr);
    }
    let run = cli.run(&["--for-url", "https://GMAIL.googleapis.com./gmail/v1"]);
    assert_eq!(run.stdout.trim(), token, "{run:?}");
}

#[test]
fn h2_connections_json_in_the_working_directory_is_never_read() {
    let (emu, cli) = ready();
    let token = emu.access_token(GMAIL, IDENTIFIER).unwrap();
    // 1. A host that routes the Gmail token to a collector.
    cli.write(
        "connections.json",
        r#"{"gmail": {"connection_name": "gmail_u3134a", "identifier": "mess", "hosts": ["collector.attacker.test"]}}"#,
    );
    let run = cli.run(&["--for-url", "https://collector.attacker.test/upload"]);
    assert!(run.code == 4 && !run.stdout.contains(&token), "{run:?}");
    // 6. `config add` edits the user's file, not the directory's.
    assert_eq!(cli.run(&["config", "add", "slack2", "slack_x7y9z"]).code, 0);
    let local = std::fs::read_to_string(cli.cwd().join("connections.json")).unwrap();
    assert!(!local.contains("slack2"));
    let mine = std::fs::read_to_string(cli.config_dir().join("connections.json")).unwrap();
    assert!(mine.contains("slack2"));
}

#[test]
fn h2_a_named_file_never_discloses_values_hangs_or_fills_memory() {
    let (_emu, cli) = ready();
    // 2. Another JSON file named as connections.json: its values are not quoted back.
    let other = cli.write(
        "secrets.json",
        r#"{"api_key": "sk-live-VERY-SECRET-KEY-0123456789"}"#,
    );
    let run = cli.run(&["--json", "--connections", other.to_str().unwrap(), "gmail"]);
    assert!(
        run.code == 4 && !run.stdout.contains("VERY-SECRET"),
        "{run:?}"
    );
    // 3. /dev/zero through a symlink, and 4. a FIFO: refused at once.
    let zero = cli.cwd().join("zero.json");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let fifo = cli.cwd().join("fifo.json");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    for path in [&zero, &fifo] {
        let started = Instant::now();
        let run = cli.run(&["--connections", path.to_str().unwrap(), "status"]);
        assert!(
            run.code == 4 && run.stderr.contains("not a regular file"),
            "{run:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(3));
        let run = cli.run(&["--env-file", path.to_str().unwrap(), "gmail"]);
        assert!(
            run.code == 5 && run.stderr.contains("not a regular file"),
            "{run:?}"
        );
    }
}

#[test]
fn h2_a_long_connections_json_cannot_make_a_flood_of_requests() {
    let (emu, cli) = ready();
    let many: Vec<String> = (0..20_000)
        .map(|i| format!("\"s{i}\": {{\"connection_name\": \"c{i}\"}}"))
        .collect();
    cli.write_config("connections.json", &format!("{{{}}}", many.join(",")));
    emu.reset_counts();
    let run = cli.run(&["status"]);
    assert_eq!(run.code, 4, "{run:?}");
    assert!(
        run.stderr.contains("more than 100 services"),
        "{}",
        run.stderr
    );
    assert_eq!(emu.requests(Route::Details), 0);
    // At the limit, one command makes one request per service and at most 8 at a time.
    let hundred: Vec<String> = (0..100)
        .map(|i| format!("\"s{i}\": {{\"connection_name\": \"c{i}\"}}"))
        .collect();
    cli.write_config("connections.json", &format!("{{{}}}", hundred.join(",")));
    let run = cli.run(&["status", "--json"]);
    assert_eq!(run.code, 4, "names the environment does not have: {run:?}");
    assert_eq!(emu.requests(Route::Details), 100);
    assert_eq!(
        emu.requests(Route::AppConnections),
        1,
        "the list is asked once"
    );
    // Eight workers, each on its own connection at most, plus the one that fetched the API token.
    assert!(
        emu.connections_accepted() <= 9,
        "{}",
        emu.connections_accepted()
    );
}

#[test]
fn l6_files_owned_by_another_user_are_refused_with_the_fix() {
    let (_emu, cli) = ready();
    let path = cli.config_dir().join("connections.json");
    // Only root can give a file away; elsewhere this case cannot be set up.
    if std::os::unix::fs::chown(&path, Some(65534), None).is_err() {
        return;
    }
    let run = cli.run(&["gmail"]);
    assert!(
        run.code == 4
            && run.stderr.contains("belongs to another user")
            && run.stderr.contains("chown"),
        "{run:?}"
    );
}

#[test]
fn m3_wait_beyond_a_day_is_a_usage_error_not_a_panic() {
    let (_emu, cli) = ready();
    for args in [
        &["--wait=18446744073709551615", "slack"][..],
        &["authorize", "slack", "--wait=18446744073709551615"],
        &["exec", "slack", "--wait=99999999", "--", "true"],
    ] {
        let run = cli.run(args);
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
    }
}

#[test]
fn m3_get_token_runs_with_core_dumps_off() {
    let emu = emulator().spawn().unwrap();
    let cli = Cli::on(&emu);
    // Started with cores allowed, as under `ulimit -c unlimited` or systemd-coredump's defaults.
    let mut running = cli.spawn_program(
        "sh",
        &[
            "-c",
            "ulimit -S -c \"$(ulimit -H -c)\" && exec \"$0\" --wait=20 gmail",
            env!("CARGO_BIN_EXE_get-token"),
        ],
    );
    running.stderr_line_with("/magic/");
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", running.pid())).unwrap();
    running.kill();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    let soft = core.split_whitespace().nth(4).unwrap();
    assert_eq!(soft, "0", "{core}");
}

#[test]
fn m5_config_writes_never_follow_a_planted_symlink() {
    let cli = Cli::new();
    let dir = cli.config_dir();
    cli.write_config("connections.json", "{}\n");
    let victim = cli.write("victim/authorized_keys", "ssh-ed25519 AAAA victim\n");
    // The review's racer: while each writer runs, a symlink to the victim is planted again and again at
    // the name the writer would use (the old names were `.connections.json.<pid>.tmp`), and at the lock.
    let mut plants = 0;
    for i in 0..40 {
        let mut running = cli.spawn(&["config", "add", &format!("svc{i}"), &format!("conn_{i}")]);
        let names = [
            dir.join(format!(".connections.json.{}.tmp", running.pid())),
            dir.join("connections.json.lock"),
        ];
        while running.is_running() {
            for name in &names {
                if std::os::unix::fs::symlink(&victim, name).is_ok() {
                    plants += 1;
                }
            }
            for name in &names {
                let _ = std::fs::remove_file(name);
            }
        }
        running.finish();
    }
    assert!(plants > 0, "the racer never got a turn");
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "ssh-ed25519 AAAA victim\n"
    );
}

#[test]
fn l3_timeout_bounds_the_whole_command() {
    let emu = emulator().spawn().unwrap();
    // Every request takes 0.8 s: four of them (token, auth, create, magic link) would take 3.2 s.
    for route in [Route::Token, Route::Auth, Route::Create, Route::MagicLink] {
        emu.inject(tokenbroker_emulator::Fault::delay(route, Duration::from_millis(800)).times(5));
    }
    let started = Instant::now();
    let run = Cli::on(&emu).run(&["--timeout=2", "gmail"]);
    assert_eq!(run.code, 7, "{run:?}");
    assert!(
        started.elapsed() < Duration::from_millis(2600),
        "{:?}",
        started.elapsed()
    );
    assert!(run.stderr.contains("--timeout=2"), "{}", run.stderr);
}

#[test]
fn l5_an_unrelated_projects_dotenv_changes_nothing() {
    let (emu, cli) = ready();
    cli.write(".env", "NODE_ENV=production\nthis line is not valid\n");
    let run = cli.run(&["gmail"]);
    assert_eq!(
        run.stdout.trim(),
        emu.access_token(GMAIL, IDENTIFIER).unwrap()
    );
}

#[test]
fn l6_hosts_and_env_names_are_checked() {
    let (_emu, cli) = ready();
    for host in ["https://x.io", "x.io/path", "u@x.io", "a b", "x\u{1b}[2J"] {
        let run = cli.run(&["config", "add", "internal", "internal_api", "--host", host]);
        assert_eq!(run.code, 4, "{host:?}: {run:?}");
        assert!(!run.stderr.contains('\u{1b}'));
    }
    assert_eq!(
        cli.run(&[
            "config",
            "add",
            "internal",
            "internal_api",
            "--host",
            "API.internal.test:8443"
        ])
        .code,
        0
    );
    cli.write_config(
        "connections.json",
        r#"{"x.y": {"connection_name": "a"}, "x-y": {"connection_name": "b"}}"#,
    );
    for args in [
        &["--format", "env", "x.y", "x-y"][..],
        &["exec", "x.y", "x-y", "--", "true"],
    ] {
        let run = cli.run(args);
        assert!(run.code == 2 && run.stderr.contains("X_Y_TOKEN"), "{run:?}");
    }
}

#[test]
fn format_header_gives_curl_a_header_without_a_command_line() {
    let (emu, cli) = ready();
    let run = cli.run(&["--format", "header", "gmail"]);
    assert_eq!(
        run.stdout,
        format!(
            "Authorization: Bearer {}\n",
            emu.access_token(GMAIL, IDENTIFIER).unwrap()
        )
    );
    assert_eq!(cli.run(&["--format", "header", "gmail", "slack"]).code, 2);
}

#[test]
fn m2_exec_gives_the_command_tokens_but_no_credentials() {
    let (_emu, cli) = ready();
    let cli = cli
        .var("TOKENBROKER_TIMEOUT", "10")
        .var("SCALEKIT_ENVIRONMENT_URL", "");
    let run = cli.run(&["exec", "gmail", "--", "sh", "-c", "env"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("GMAIL_TOKEN="), "{}", run.stdout);
    for name in ["SCALEKIT_", "TOKENBROKER_"] {
        assert!(!run.stdout.contains(name), "{name} in {}", run.stdout);
    }
}
