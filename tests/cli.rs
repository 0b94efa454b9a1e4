//! The real `get-token` binary in a clean environment, against the emulator on its own thread.

mod common;

use common::{CONNECTIONS_JSON, Cli, IDENTIFIER, emulator};

const GMAIL: &str = "gmail_u3134a";

fn ready(emu: &tokenbroker::emulator::Emulator) {
    emu.set_status(GMAIL, IDENTIFIER, "PENDING_AUTH");
    emu.approve(GMAIL, IDENTIFIER);
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
    std::fs::remove_file(cli.cwd().join("connections.json")).unwrap();
    let run = cli.run(&["gmail"]);
    assert_eq!((run.code, run.stdout.as_str()), (4, ""), "{run:?}");
    for place in [
        "$TOKENBROKER_CONNECTIONS: not set",
        "connections.json: not found",
        ".config/tokenbroker/connections.json",
    ] {
        assert!(
            run.stderr.contains(place),
            "{place} missing from {}",
            run.stderr
        );
    }

    cli.write(
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

    cli.write(
        "connections.json",
        "{\n  \"gmail\": {\"conection_name\": \"g\"}\n}\n",
    );
    let run = cli.run(&["gmail"]);
    assert!(
        run.code == 4 && run.stderr.contains("conection_name") && run.stderr.contains("\"gmail\""),
        "{}",
        run.stderr
    );

    cli.write("connections.json", CONNECTIONS_JSON);
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
    std::fs::remove_file(cli.cwd().join("connections.json")).unwrap();
    // The user config directory is the last place looked.
    std::fs::create_dir_all(cli.config_dir()).unwrap();
    std::fs::write(cli.config_dir().join("connections.json"), CONNECTIONS_JSON).unwrap();
    assert_eq!(cli.run(&["gmail"]).code, 0);
    // ./connections.json wins over it; here it lacks gmail.
    cli.write("connections.json", r#"{"other": {"connection_name": "x"}}"#);
    assert_eq!(cli.run(&["gmail"]).code, 4);
    // $TOKENBROKER_CONNECTIONS wins over ./connections.json, and --connections over everything.
    let elsewhere = cli.write("elsewhere/c.json", CONNECTIONS_JSON);
    let cli = cli.var("TOKENBROKER_CONNECTIONS", elsewhere.to_str().unwrap());
    assert_eq!(cli.run(&["gmail"]).code, 0);
    let run = cli.run(&["--connections", "missing.json", "gmail"]);
    assert!(
        run.code == 4 && run.stderr.contains("missing.json"),
        "{run:?}"
    );
}

#[test]
fn credential_errors_exit_5_naming_each_missing_variable() {
    let cli = Cli::new().var("SCALEKIT_CLIENT_ID", "x");
    cli.write("connections.json", CONNECTIONS_JSON);
    let run = cli.run(&["gmail"]);
    assert_eq!((run.code, run.stdout.as_str()), (5, ""), "{run:?}");
    assert!(
        run.stderr
            .contains("SCALEKIT_ENV_URL, SCALEKIT_CLIENT_SECRET not set"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("process environment") && run.stderr.contains(".env (not found)"),
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
    cli.write("connections.json", CONNECTIONS_JSON);
    std::fs::create_dir_all(cli.config_dir()).unwrap();
    let env = format!(
        "SCALEKIT_ENV_URL={}\nSCALEKIT_CLIENT_ID={}\nSCALEKIT_CLIENT_SECRET={}\n",
        emu.url(),
        emu.client_id(),
        emu.client_secret()
    );
    std::fs::write(cli.config_dir().join(".env"), &env).unwrap();
    assert_eq!(cli.run(&["gmail"]).code, 0, "the config dir's .env is read");
    cli.write(".env", "SCALEKIT_CLIENT_SECRET=wrong\n");
    assert_eq!(cli.run(&["gmail"]).code, 5, "./.env comes first");
    let cli = cli.var("SCALEKIT_CLIENT_SECRET", &emu.client_secret());
    assert_eq!(
        cli.run(&["gmail"]).code,
        0,
        "the process environment comes before both"
    );
}

#[test]
fn refused_and_unavailable_exit_6_and_7() {
    let emu = emulator().spawn().unwrap();
    let run = Cli::on(&emu).run(&["ghost"]);
    assert!(
        run.code == 6 && run.stderr.contains("no_such_connection"),
        "{run:?}"
    );

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
        run.stdout.contains("Exit codes:") && run.stdout.contains("7  network"),
        "{}",
        run.stdout
    );
}

#[test]
fn identifier_order_explicit_entry_variable_identity_default() {
    let emu = emulator().spawn().unwrap();
    let cli = Cli::on(&emu);
    cli.write("connections.json", r#"{"gmail": {"connection_name": "gmail_u3134a"}, "slack": {"connection_name": "slack_x7y9z", "identifier": "from-entry"}}"#);
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
        run.stderr
            .contains("identifier mess from the agent name in")
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
