//! The real `get-token` binary in a clean environment, against the emulator on its own thread.

mod common;

use common::{CONNECTIONS_JSON, Cli, IDENTIFIER, emulator};
use tokenbroker_emulator::{Fault, Route};

const GMAIL: &str = "gmail_u3134a";

fn ready(emu: &tokenbroker_emulator::Emulator) {
    common::activate(emu, GMAIL, IDENTIFIER);
}

#[test]
fn prints_only_the_token_and_a_newline() {
    let emu = emulator().spawn().unwrap();
    ready(&emu);
    let run = Cli::on(&emu).run(&["gmail"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout,
        format!("{}\n", emu.access_token(GMAIL, IDENTIFIER).unwrap())
    );
    assert_eq!(run.stderr, "");
}

#[test]
fn authorization_required_exits_3_with_the_link_on_stderr() {
    let emu = emulator().spawn().unwrap();
    let run = Cli::on(&emu).run(&["gmail"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.contains(&format!("{}/magic/", emu.url())),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("expires at") && run.stderr.contains("PENDING_AUTH"),
        "{}",
        run.stderr
    );
}

#[test]
fn configuration_errors_exit_4_and_say_where() {
    let emu = emulator().spawn().unwrap();
    let cli = Cli::on(&emu);
    std::fs::remove_file(cli.config_dir().join("connections.json")).unwrap();
    let run = cli.run(&["gmail"]);
    assert_eq!((run.code, run.stdout.as_str()), (4, ""), "{run:?}");
    for place in [
        "$TOKENBROKER_CONNECTIONS: not set",
        ".config/tokenbroker/connections.json: not found",
    ] {
        assert!(
            run.stderr.contains(place),
            "{place} missing from {}",
            run.stderr
        );
    }

    cli.write_config(
        "connections.json",
        "{\n  \"gmail\": {\"connection_name\": \"g\",}\n}\n",
    );
    let run = cli.run(&["gmail"]);
    assert_eq!(run.code, 4);
    assert!(
        run.stderr.contains("connections.json:2:"),
        "line and column: {}",
        run.stderr
    );

    cli.write_config(
        "connections.json",
        "{\n  \"gmail\": {\"conection_name\": \"g\"}\n}\n",
    );
    let run = cli.run(&["gmail"]);
    assert!(
        run.code == 4 && run.stderr.contains("conection_name") && run.stderr.contains("\"gmail\""),
        "{}",
        run.stderr
    );

    cli.write_config("connections.json", CONNECTIONS_JSON);
    let run = cli.run(&["gmial"]);
    assert_eq!(run.code, 4);
    assert!(
        run.stderr.contains("did you mean \"gmail\"") && run.stderr.contains("gmail, slack, ghost"),
        "{}",
        run.stderr
    );
}

#[test]
fn connections_are_found_in_order() {
    let emu = emulator().spawn().unwrap();
    ready(&emu);
    let cli = Cli::on(&emu);
    // The user config directory is the place looked by default; the working directory never is.
    assert_eq!(cli.run(&["gmail"]).code, 0);
    cli.write("connections.json", r#"{"other": {"connection_name": "x"}}"#);
    assert_eq!(cli.run(&["gmail"]).code, 0);
    // $TOKENBROKER_CONNECTIONS wins over the config directory, and --connections over everything.
    let elsewhere = cli.write("elsewhere/c.json", r#"{"other": {"connection_name": "x"}}"#);
    let cli = cli.var("TOKENBROKER_CONNECTIONS", elsewhere.to_str().unwrap());
    assert_eq!(cli.run(&["gmail"]).code, 4);
    let named = cli.write("named.json", CONNECTIONS_JSON);
    assert_eq!(
        cli.run(&["--connections", named.to_str().unwrap(), "gmail"])
            .code,
        0
    );
    let run = cli.run(&["--connections", "missing.json", "gmail"]);
    assert!(
        run.code == 4 && run.stderr.contains("missing.json"),
        "{run:?}"
    );
}

#[test]
fn credential_errors_exit_5_naming_each_missing_variable() {
    let cli = Cli::new();
    cli.write_config("connections.json", CONNECTIONS_JSON);
    let run = cli.run(&["gmail"]);
    assert_eq!((run.code, run.stdout.as_str()), (5, ""), "{run:?}");
    assert!(
        run.stderr
            .contains("SCALEKIT_ENV_URL, SCALEKIT_CLIENT_ID, SCALEKIT_CLIENT_SECRET not set")
            && run.stderr.contains("process environment")
            && run.stderr.contains(".config/tokenbroker/.env (not found)"),
        "{}",
        run.stderr
    );
    let cli = cli.var("SCALEKIT_CLIENT_ID", "x");
    let run = cli.run(&["gmail"]);
    assert!(
        run.code == 5
            && run.stderr.contains(
                "the process environment sets SCALEKIT_CLIENT_ID but not SCALEKIT_ENV_URL, SCALEKIT_CLIENT_SECRET"
            ),
        "{}",
        run.stderr
    );

    let run = cli.run(&["--env-file", "nope.env", "gmail"]);
    assert!(run.code == 5 && run.stderr.contains("nope.env"), "{run:?}");

    let cli = cli
        .var("SCALEKIT_CLIENT_SECRET", "s")
        .var("SCALEKIT_ENV_URL", "http://acme.scalekit.dev");
    let run = cli.run(&["gmail"]);
    assert!(
        run.code == 5 && run.stderr.contains("loopback") && run.stderr.contains("https://"),
        "{}",
        run.stderr
    );
}

#[test]
fn credentials_come_from_dotenv_files_in_order() {
    let emu = emulator().spawn().unwrap();
    ready(&emu);
    let cli = Cli::new();
    cli.write_config("connections.json", CONNECTIONS_JSON);
    let env = format!(
        "SCALEKIT_ENV_URL={}\nSCALEKIT_CLIENT_ID={}\nSCALEKIT_CLIENT_SECRET={}\n",
        emu.url(),
        emu.client_id(),
        emu.client_secret()
    );
    cli.write_config(".env", &env);
    assert_eq!(cli.run(&["gmail"]).code, 0, "the config dir's .env is read");
    cli.write(".env", "SCALEKIT_CLIENT_SECRET=wrong\n");
    assert_eq!(cli.run(&["gmail"]).code, 0, "./.env is never read");
    let named = cli.write("named.env", &env);
    assert_eq!(
        cli.run(&["--env-file", named.to_str().unwrap(), "gmail"])
            .code,
        0,
        "a named file is read instead"
    );
    let same = cli
        .var("SCALEKIT_ENV_URL", &emu.url())
        .var("SCALEKIT_CLIENT_ID", &emu.client_id())
        .var("SCALEKIT_CLIENT_SECRET", &emu.client_secret());
    assert_eq!(
        same.run(&["gmail"]).code,
        0,
        "two places that agree are fine"
    );
    // A whole set in the environment wins over the file's (newcomer review 2, F8)...
    let differ = Cli::new()
        .var("SCALEKIT_ENV_URL", &emu.url())
        .var("SCALEKIT_CLIENT_ID", &emu.client_id())
        .var("SCALEKIT_CLIENT_SECRET", &emu.client_secret());
    differ.write_config("connections.json", CONNECTIONS_JSON);
    differ.write_config(".env", "SCALEKIT_ENV_URL=https://acme.scalekit.dev\nSCALEKIT_CLIENT_ID=skc_other\nSCALEKIT_CLIENT_SECRET=another\n");
    let run = differ.run(&["gmail"]);
    assert_eq!(run.code, 0, "the environment's set is used whole: {run:?}");
    // ...and part of a set in the environment beside a file is an error naming what is missing.
    let partial = Cli::new().var("SCALEKIT_CLIENT_SECRET", "another-secret");
    partial.write_config("connections.json", CONNECTIONS_JSON);
    partial.write_config(".env", &env);
    let run = partial.run(&["gmail"]);
    assert!(
        run.code == 5
            && run.stderr.contains("the process environment")
            && run.stderr.contains("SCALEKIT_ENV_URL")
            && run.stderr.contains("SCALEKIT_CLIENT_ID"),
        "{run:?}"
    );
}

#[test]
fn refused_and_unavailable_exit_6_and_7() {
    let emu = emulator().spawn().unwrap();
    let run = Cli::on(&emu).run(&["ghost"]);
    assert!(
        run.code == 4
            && run
                .stderr
                .contains("\"no_such_connection\" (service ghost) does not exist")
            && run.stderr.contains("config add ghost CONNECTION_NAME"),
        "a wrong connection name is a configuration error: {run:?}"
    );
    emu.inject(Fault::status(Route::Auth, 400));
    let run = Cli::on(&emu).run(&["gmail"]);
    assert_eq!(run.code, 6, "{run:?}");

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let run = Cli::on(&emu)
        .var("SCALEKIT_ENV_URL", &format!("http://{closed}"))
        .run(&["gmail"]);
    assert!(run.code == 7 && run.stdout.is_empty(), "{run:?}");
}

#[test]
fn usage_errors_exit_2_and_help_lists_exit_codes() {
    let run = Cli::new().run(&[]);
    assert_eq!((run.code, run.stdout.as_str()), (2, ""));
    let run = Cli::new().run(&["--help"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains("Exit codes:")
            && run.stdout.contains("7  network")
            && run.stdout.contains("never from the working directory")
            && run.stdout.contains("SCALEKIT_CLIENT_SECRET")
            && run.stdout.contains("Examples:\n  get-token api "),
        "{}",
        run.stdout
    );
}

#[test]
fn identifier_order_explicit_entry_variable_identity_default() {
    let emu = emulator().spawn().unwrap();
    let cli = Cli::on(&emu);
    cli.write_config("connections.json", r#"{"gmail": {"connection_name": "gmail_u3134a"}, "slack": {"connection_name": "slack_x7y9z", "identifier": "from-entry"}}"#);
    let created = |id: &str| emu.status(GMAIL, id).is_some();

    assert_eq!(cli.run(&["gmail"]).code, 3);
    assert!(created("agent"), "the default identifier");

    std::fs::create_dir_all(cli.home.path().join(".openclaw/workspace")).unwrap();
    std::fs::write(
        cli.home.path().join(".openclaw/workspace/IDENTITY.md"),
        "# IDENTITY\n\n- **Name:**\n  Mess\n",
    )
    .unwrap();
    let run = cli.run(&["gmail"]);
    assert!(
        run.stderr.contains("identifier mess, the agent name in")
            && run.stderr.contains("IDENTITY.md"),
        "{}",
        run.stderr
    );

    let cli = cli.var("SCALEKIT_IDENTIFIER", "from-variable");
    assert!(
        cli.run(&["gmail"])
            .stderr
            .contains("identifier from-variable")
    );
    assert!(
        cli.run(&["slack"]).stderr.contains("identifier from-entry"),
        "the entry beats the variable"
    );
    assert!(
        cli.run(&["-u", "bob", "slack"])
            .stderr
            .contains("identifier bob"),
        "explicit beats everything"
    );
}

#[test]
fn no_output_contains_the_token_or_secret_except_the_token_itself() {
    let emu = emulator()
        .client("id", "cli-secret-must-not-leak")
        .spawn()
        .unwrap();
    ready(&emu);
    let token = emu.access_token(GMAIL, IDENTIFIER).unwrap();
    let cli = Cli::on(&emu);
    let ok = cli.run(&["gmail"]);
    assert_eq!(ok.stdout.trim(), token);
    let mut texts = vec![ok.stderr];
    for args in [
        &["ghost"][..],
        &["slack"],
        &["gmial"],
        &["--identifier", "x\u{7}", "gmail"],
    ] {
        let run = cli.run(args);
        assert_ne!(run.code, 0);
        texts.extend([run.stdout, run.stderr]);
    }
    let wrong = cli
        .var("SCALEKIT_CLIENT_SECRET", "wrong-cli-secret")
        .run(&["gmail"]);
    texts.extend([wrong.stdout, wrong.stderr]);
    for text in texts {
        for forbidden in [
            "cli-secret-must-not-leak",
            "wrong-cli-secret",
            token.as_str(),
        ] {
            assert!(!text.contains(forbidden), "{forbidden} leaked: {text}");
        }
    }
}

fn json(run: &common::Run) -> serde_json::Value {
    assert_eq!(
        run.stdout.lines().count(),
        1,
        "exactly one JSON line: {run:?}"
    );
    serde_json::from_str(&run.stdout).unwrap()
}

#[test]
fn json_ok_leaves_the_token_out_unless_asked() {
    let emu = emulator().spawn().unwrap();
    ready(&emu);
    let cli = Cli::on(&emu);
    let run = cli.run(&["--json", "gmail"]);
    let v = json(&run);
    assert_eq!(run.code, 0);
    assert_eq!(
        (
            v["status"].as_str(),
            v["service"].as_str(),
            v["identifier"].as_str()
        ),
        (Some("ok"), Some("gmail"), Some(IDENTIFIER))
    );
    assert_eq!(v["connection_name"], GMAIL);
    assert!(v["expires_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(v["scopes"].as_array().unwrap().len(), 2);
    assert!(
        v.get("token").is_none()
            && !run
                .stdout
                .contains(&emu.access_token(GMAIL, IDENTIFIER).unwrap())
    );
    let v = json(&cli.run(&["--json", "--show-token", "gmail"]));
    assert_eq!(
        v["token"].as_str(),
        emu.access_token(GMAIL, IDENTIFIER).as_deref()
    );
}

#[test]
fn json_authorization_required_is_ready_to_relay() {
    let emu = emulator().spawn().unwrap();
    let run = Cli::on(&emu).run(&["--json", "gmail"]);
    let v = json(&run);
    assert_eq!((run.code, run.stderr.as_str()), (3, ""));
    assert_eq!(v["status"], "authorization_required");
    assert_eq!(v["account_status"], "PENDING_AUTH");
    let url = v["authorization_url"].as_str().unwrap();
    assert!(url.starts_with(&emu.url()));
    assert!(v["expires_at"].as_str().unwrap().ends_with('Z'));
    assert!((55..=60).contains(&v["expires_in_seconds"].as_u64().unwrap()));
    assert!(v["message"].as_str().unwrap().contains(url));
}

#[test]
fn json_errors_have_code_message_and_hint() {
    let emu = emulator().spawn().unwrap();
    let cli = Cli::on(&emu);
    for (args, code, name) in [
        (&["--json", "gmial"][..], 4, "not_configured"),
        (&["--json", "ghost"], 4, "unknown_connection"),
    ] {
        let run = cli.run(args);
        let v = json(&run);
        assert_eq!(
            (run.code, v["status"].as_str(), v["code"].as_str()),
            (code, Some("error"), Some(name)),
            "{run:?}"
        );
        assert!(
            !v["message"].as_str().unwrap().is_empty() && !v["hint"].as_str().unwrap().is_empty()
        );
    }
    let run = cli.clone_without_credentials().run(&["--json", "gmail"]);
    assert_eq!(
        (run.code, json(&run)["code"].as_str()),
        (5, Some("credentials_missing"))
    );
}

#[test]
fn several_services_in_argument_order_as_lines_env_or_json() {
    let emu = emulator().spawn().unwrap();
    ready(&emu);
    common::activate(&emu, "slack_x7y9z", IDENTIFIER);
    let (g, s) = (
        emu.access_token(GMAIL, IDENTIFIER).unwrap(),
        emu.access_token("slack_x7y9z", IDENTIFIER).unwrap(),
    );
    let cli = Cli::on(&emu);
    assert_eq!(cli.run(&["slack", "gmail"]).stdout, format!("{s}\n{g}\n"));
    assert_eq!(
        emu.requests(tokenbroker_emulator::Route::Token),
        1,
        "one API token for the whole call"
    );
    let run = cli.run(&["--format", "env", "gmail", "slack"]);
    assert_eq!(
        run.stdout,
        format!("export GMAIL_TOKEN='{g}'\nexport SLACK_TOKEN='{s}'\n")
    );
    let v = json(&cli.run(&["--json", "gmail", "slack"]));
    assert_eq!(v["status"], "ok");
    assert_eq!(v["results"][1]["service"], "slack");
}

#[test]
fn a_partial_failure_prints_no_tokens_and_names_the_failed_service() {
    let emu = emulator().spawn().unwrap();
    ready(&emu);
    let cli = Cli::on(&emu);
    let run = cli.run(&["gmail", "slack"]);
    assert_eq!((run.code, run.stdout.as_str()), (3, ""), "{run:?}");
    assert!(
        run.stderr.contains("slack needs authorization") && !run.stderr.contains("gmail needs"),
        "{}",
        run.stderr
    );
    let v = json(&cli.run(&["--json", "gmail", "slack"]));
    assert_eq!(
        (v["status"].as_str(), v["results"][0]["status"].as_str()),
        (Some("partial"), Some("ok"))
    );
    assert_eq!(v["results"][1]["status"], "authorization_required");
}

#[test]
fn no_newline_and_quiet() {
    let emu = emulator().spawn().unwrap();
    ready(&emu);
    let cli = Cli::on(&emu);
    assert_eq!(
        cli.run(&["--no-newline", "gmail"]).stdout,
        emu.access_token(GMAIL, IDENTIFIER).unwrap()
    );
    assert_eq!(cli.run(&["--no-newline", "gmail", "slack"]).code, 2);
    let run = cli.run(&["--quiet", "slack"]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (3, "", "")
    );
}

#[cfg(unix)]
#[test]
fn a_secret_file_others_can_read_draws_a_warning_and_one_they_can_write_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let emu = emulator().spawn().unwrap();
    ready(&emu);
    let cli = Cli::new();
    let env = cli.write_config(
        ".env",
        &format!(
            "SCALEKIT_ENV_URL={}\nSCALEKIT_CLIENT_ID={}\nSCALEKIT_CLIENT_SECRET={}\n",
            emu.url(),
            emu.client_id(),
            emu.client_secret()
        ),
    );
    let connections = cli.write_config("connections.json", CONNECTIONS_JSON);
    let run = cli.run(&["gmail"]);
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (0, ""),
        "private files: {run:?}"
    );

    for path in [&env, &connections] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let run = cli.run(&["gmail"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout,
        format!("{}\n", emu.access_token(GMAIL, IDENTIFIER).unwrap())
    );
    let line = format!("chmod 600 {}", env.display());
    assert!(run.stderr.contains(&line), "{line} in {}", run.stderr);
    // connections.json names accounts, not secrets: a copy of the example file is readable and fine.
    assert!(!run.stderr.contains("connections.json"), "{}", run.stderr);
    assert!(
        run.stderr.contains("holds the client secret"),
        "{}",
        run.stderr
    );
    assert_eq!(
        cli.run(&["-q", "gmail"]).stderr,
        "",
        "--quiet silences warnings"
    );
    let run = cli.run(&["doctor"]);
    assert!(run.stdout.contains("! file permissions"), "{}", run.stdout);

    for (path, what) in [(&env, ".env"), (&connections, "connections.json")] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o620)).unwrap();
        let run = cli.run(&["gmail"]);
        let fix = format!("chmod go-w {}", path.display());
        assert!(
            run.code != 0 && run.stdout.is_empty() && run.stderr.contains(&fix),
            "{what}: {run:?}"
        );
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

/// `-v`: one line per request to Scalekit, with the status, the time and the retry decision; nothing else
/// changes, and no header or secret shows.
#[test]
fn verbose_tells_each_request_to_scalekit() {
    let emu = emulator().spawn().unwrap();
    common::activate(&emu, "gmail_u3134a", IDENTIFIER);
    let cli = Cli::on(&emu);
    emu.inject(Fault::status(Route::Auth, 503));
    let run = cli.run(&["-v", "gmail"]);
    assert_eq!(run.code, 0, "{run:?}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    let url = emu.url();
    assert!(
        lines[0].starts_with(&format!("get-token: POST {url}/oauth/token -> 200 (")),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with(&format!(
            "get-token: GET {url}/api/v1/connected_accounts/auth?connector=gmail_u3134a&identifier=mess -> 503 ("
        )) && lines[1].contains("; retrying in"),
        "{lines:?}"
    );
    assert!(
        lines[2].contains("/auth?")
            && lines[2].contains("-> 200")
            && lines[2].contains("attempt 2"),
        "{lines:?}"
    );
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(!run.stderr.contains("Bearer") && !run.stderr.contains(&emu.client_secret()));
    assert_eq!(
        run.stdout.trim(),
        emu.access_token("gmail_u3134a", IDENTIFIER).unwrap()
    );
    // A closed port: the failure and that it is retried, then not.
    let closed = Cli::new()
        .var("SCALEKIT_ENV_URL", "http://127.0.0.1:9")
        .var("SCALEKIT_CLIENT_ID", "id")
        .var("SCALEKIT_CLIENT_SECRET", "s");
    closed.write_config("connections.json", common::CONNECTIONS_JSON);
    let run = closed.run(&["-v", "gmail"]);
    assert_eq!(run.code, 7, "{run:?}");
    assert!(
        run.stderr.contains("connection refused") && run.stderr.contains("; not retried"),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains("hint: check the host and port in SCALEKIT_ENV_URL"),
        "{run:?}"
    );
    assert_eq!(
        cli.run(&["-q", "-v", "gmail"]).code,
        2,
        "-q and -v conflict"
    );
}
