//! Bad input: every case gets a typed error that says what is wrong and where, never a panic, and no file is
//! changed. Each table row is one case of the README's reliability table.

mod common;

use tokenbroker::{ConfigError, Connection, Connections, Credentials, CredentialsError};

/// (what, file contents, a phrase the error must contain, the line it must name if any)
const FILES: &[(&str, &[u8], &str, Option<usize>)] = &[
    ("empty file", b"", "the file is empty", None),
    ("only whitespace", b"  \n\t\n", "the file is empty", None),
    (
        "not JSON",
        b"gmail = gmail_u3134a\n",
        "expected value",
        Some(1),
    ),
    (
        "trailing comma",
        b"{\n  \"gmail\": {\"connection_name\": \"g\"},\n}\n",
        "trailing comma",
        Some(3),
    ),
    (
        "not UTF-8",
        b"{\n  \"gmail\": {\"connection_name\": \"g\xff\"}\n}\n",
        "not UTF-8",
        Some(2),
    ),
    (
        "a list",
        b"[{\"gmail\": \"g\"}]",
        "a JSON object mapping service names",
        Some(1),
    ),
    (
        "a string",
        b"\"gmail\"",
        "a JSON object mapping service names",
        Some(1),
    ),
    (
        "entry is a string",
        b"{\"gmail\": \"gmail_u3134a\"}",
        "in the entry for service \"gmail\"",
        Some(1),
    ),
    (
        "connection_name is a number",
        b"{\"gmail\": {\"connection_name\": 42}}",
        "invalid type",
        Some(1),
    ),
    (
        "identifier is a list",
        b"{\"gmail\": {\"connection_name\": \"g\", \"identifier\": [\"a\"]}}",
        "invalid type",
        Some(1),
    ),
    (
        "missing connection_name",
        b"{\n\"gmail\": {\"identifier\": \"mess\"}\n}",
        "missing field `connection_name`",
        Some(2),
    ),
    (
        "unknown field",
        b"{\"gmail\": {\"conection_name\": \"g\"}}",
        "unknown field `conection_name`",
        Some(1),
    ),
    (
        "duplicate service",
        b"{\"gmail\": {\"connection_name\": \"a\"}, \"gmail\": {\"connection_name\": \"b\"}}",
        "listed twice",
        Some(1),
    ),
    (
        "invalid service name",
        b"{\"../gmail\": {\"connection_name\": \"g\"}}",
        "invalid service name",
        None,
    ),
    (
        "invalid connection name",
        b"{\"gmail\": {\"connection_name\": \"gmail/../x\"}}",
        "invalid connection name",
        None,
    ),
    (
        "two objects",
        b"{\"gmail\": {\"connection_name\": \"g\"}} {}",
        "trailing characters",
        Some(1),
    ),
    (
        "unclosed",
        b"{\"gmail\": {\"connection_name\": \"g\"",
        "EOF",
        Some(1),
    ),
];

#[test]
fn connections_json_cases_name_the_file_line_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    for (what, bytes, phrase, line) in FILES {
        let path = dir.path().join("connections.json");
        std::fs::write(&path, bytes).unwrap();
        let err = Connections::from_path(&path).expect_err(what);
        let text = err.to_string();
        assert!(
            text.contains(&path.display().to_string()),
            "{what}: names the file: {text}"
        );
        assert!(text.contains(phrase), "{what}: {text}");
        if let (Some(line), ConfigError::Invalid { line: got, .. }) = (line, &err) {
            assert_eq!(got, &Some(*line), "{what}: {text}");
        }
        assert_eq!(
            std::fs::read(&path).unwrap(),
            *bytes,
            "{what}: file unchanged"
        );
    }
}

#[test]
fn a_bom_is_accepted() {
    let c =
        Connections::from_json_str("\u{feff}{\"gmail\": {\"connection_name\": \"g\"}}").unwrap();
    assert_eq!(c.services().collect::<Vec<_>>(), ["gmail"]);
}

#[test]
fn a_huge_file_a_directory_and_an_unreadable_file_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge.json");
    let entry = "\"s\": {\"connection_name\": \"g\"},";
    std::fs::write(&huge, format!("{{{}}}", entry.repeat(60_000))).unwrap();
    let err = Connections::from_path(&huge).unwrap_err().to_string();
    assert!(err.contains("is refused"), "{err}");

    let err = Connections::from_path(dir.path()).unwrap_err().to_string();
    assert!(err.contains("directory"), "{err}");

    let missing = Connections::from_path(dir.path().join("nope.json")).unwrap_err();
    assert!(
        matches!(missing, ConfigError::Unreadable { .. }),
        "{missing}"
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let locked = dir.path().join("locked.json");
        std::fs::write(&locked, "{}").unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
        // root reads anything; the check only means something for other users.
        if std::fs::read(&locked).is_err() {
            let err = Connections::from_path(&locked).unwrap_err();
            assert!(matches!(err, ConfigError::Unreadable { .. }), "{err}");
            assert!(err.to_string().contains("locked.json"), "{err}");
        }
    }
}

#[test]
fn bad_names_are_refused_before_any_request() {
    let services: &[(&str, &str)] = &[
        ("", "empty"),
        (" gmail", "must start with a letter or digit"),
        ("gmail ", "' ' is not allowed"),
        ("gm\nail", "is not allowed"),
        ("gm\u{7}ail", "is not allowed"),
        ("../etc/passwd", "must start with a letter or digit"),
        ("a/b", "'/' is not allowed"),
        ("C:\\x", "':' is not allowed"),
        (&"s".repeat(65), "longer than 64"),
        ("gmail\u{200b}", "is not allowed"),
    ];
    let connections = common::connections();
    for (service, phrase) in services {
        let err = connections.get(service).unwrap_err();
        assert!(
            matches!(err, ConfigError::InvalidName { .. }),
            "{service:?}: {err}"
        );
        assert!(err.to_string().contains(phrase), "{service:?}: {err}");
    }
    let connection_names: &[(&str, &str)] = &[
        ("", "empty"),
        (" gmail", "spaces at the start or end"),
        ("gmail/x", "'/' is not allowed"),
        ("gmail\t", "spaces at the start or end"),
        (&"c".repeat(401), "limit of 400"),
    ];
    for (name, phrase) in connection_names {
        let err = Connections::new()
            .with("gmail", Connection::new(*name))
            .unwrap_err();
        assert!(err.to_string().contains(phrase), "{name:?}: {err}");
    }
    let identifiers: &[&str] = &["", " ", "a\nb", "a\u{0}b", &"i".repeat(101)];
    for id in identifiers {
        let err = Connections::new()
            .with("gmail", Connection::new("g").with_identifier(*id))
            .unwrap_err();
        assert!(
            err.to_string().contains("invalid identifier"),
            "{id:?}: {err}"
        );
    }
}

#[test]
fn bad_credentials_and_urls_say_what_to_fix() {
    let urls: &[(&str, &str)] = &[
        ("", "empty"),
        ("   ", "empty"),
        ("acme.scalekit.dev", "relative URL without a base"),
        ("http://acme.scalekit.dev", "https"),
        ("ftp://acme.scalekit.dev", "https"),
        ("https://acme.scalekit.dev/api/v1", "path"),
        ("https://acme.scalekit.dev/?x=1", "query"),
        ("https://acme.scalekit.dev/#top", "fragment"),
        ("https://user:pw@acme.scalekit.dev", "user"),
        ("https://", "empty host"),
        ("https://exa mple.com", "invalid"),
    ];
    for (url, phrase) in urls {
        let err = Credentials::new(url, "id", "secret".into()).unwrap_err();
        let text = err.to_string().to_lowercase();
        assert!(text.contains(&phrase.to_lowercase()), "{url:?}: {text}");
        assert!(
            !text.contains(":pw@"),
            "a password in the URL is not repeated: {text}"
        );
    }
    for url in [
        " https://acme.scalekit.dev ",
        "https://acme.scalekit.dev/",
        "http://127.0.0.1:8787",
        "http://localhost:8787",
    ] {
        Credentials::new(url, "id", "secret".into()).unwrap_or_else(|e| panic!("{url:?}: {e}"));
    }
    for (id, secret) in [("", "s"), ("  ", "s"), ("id", ""), ("id", " \t")] {
        let err = Credentials::new("https://acme.scalekit.dev", id, secret.into()).unwrap_err();
        assert!(
            matches!(err, CredentialsError::Missing { .. }),
            "{id:?}/{secret:?}: {err}"
        );
    }
    let padded = Credentials::new("https://acme.scalekit.dev", " id ", " s ".into()).unwrap();
    assert_eq!(padded.client_id(), "id");
}

#[test]
fn the_cli_refuses_bad_input_with_an_exit_code_and_no_panic() {
    let emu = common::emulator().spawn().unwrap();
    let cli = common::Cli::on(&emu);
    let cases: &[(&[&str], i32)] = &[
        (&[""], 4),
        (&["../etc"], 4),
        (&["gm\u{7}il"], 4),
        (&["-u", "", "gmail"], 4),
        (&["-u", "a\nb", "gmail"], 4),
        (&["--connections", "/nonexistent/c.json", "gmail"], 4),
        (&["--env-file", "/nonexistent/.env", "gmail"], 5),
        (&["--format", "xml", "gmail"], 2),
        (&["--timeout", "-1", "gmail"], 2),
        (&["--for-url", "not a url"], 4),
        (&["--show-token", "gmail"], 2),
        (&[], 2),
    ];
    for (args, code) in cases {
        let run = cli.run(args);
        assert_eq!(run.code, *code, "{args:?}: {run:?}");
        assert!(!run.stderr.contains("panicked"), "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}");
    }
    let bad_url = common::Cli::new()
        .var("SCALEKIT_ENV_URL", "http://acme.scalekit.dev")
        .var("SCALEKIT_CLIENT_ID", "id")
        .var("SCALEKIT_CLIENT_SECRET", "s");
    bad_url.write_config("connections.json", common::CONNECTIONS_JSON);
    let run = bad_url.run(&["gmail"]);
    assert_eq!(run.code, 5, "{run:?}");
    assert!(
        run.stderr.contains("$SCALEKIT_ENV_URL"),
        "says where: {}",
        run.stderr
    );
}
