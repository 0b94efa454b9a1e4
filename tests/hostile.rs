//! Regression suite for the adversarial security review (findings M1..M4, L1, L2, L4, L6): the real
//! `get-token` against a hostile Scalekit (the emulator answering every route with injected bodies), on
//! every CLI path. Each (payload, path) run goes through one checking function (`harness::check`) that
//! asserts all the invariants at once: no panic and a bounded run, no raw control/bidi characters on stdout,
//! stderr or in decoded JSON strings, no client secret / API token anywhere, the access token only where it
//! is the asked-for output, `--json` silent on stderr, output under 64 KiB. Violations are collected and
//! printed together: path, payload, what broke, and the start of stdout/stderr with escapes shown.

mod common;
#[path = "hostile/harness.rs"]
mod harness;
#[path = "hostile/links.rs"]
mod links;
#[path = "hostile/options.rs"]
mod options;
#[path = "hostile/table.rs"]
mod table;

use harness::{
    ACCESS, API_TOKEN, BASE, CONNECTIONS_JSON, Codes, Report, Rules, SECRET, World,
    account_answers, active_account, json_str, link_answer, pending_account, run_checked,
};
use table::{
    AUTHORIZE, AUTHORIZE_JSON, CliPath, DOCTOR, DOCTOR_JSON, GET, GET_JSON, HEADER, LEAN, Payload,
    STATUS, STATUS_JSON, Scenario, TOKEN, WAIT, drive, in_account_fields, in_error_answers,
};
use tokenbroker_emulator::Route;

/// Terminal escapes (OSC title, clear screen, colour, C1 CSI), bidi overrides and isolates, zero-width and
/// format characters, CR, DEL and NUL.
const EVIL: &str = "X\u{1b}]0;PWNED\u{7}\u{1b}[2J\u{1b}[31mFAKE\u{9b}0m\u{202e}KNIL\u{2066}i\u{2069}\u{200b}\u{200e}\u{61c}\u{feff}\r\u{7f}\u{0}Y";

fn evil() -> Payload {
    Payload::text("escapes", EVIL)
}

/// Sanity of the harness: the default hostile world (an honest-looking answer on every route) passes every
/// path, so failures elsewhere come from the payloads.
#[test]
fn baseline_default_hostile_world_is_clean() {
    let report = Report::default();
    let world = World::hostile(CONNECTIONS_JSON, &[]);
    for p in table::ALL {
        let out = world.run(p.args);
        let mut rules = Rules::new();
        rules.token_out = p.token_out;
        rules.json = p.json;
        rules.codes = Codes::Exactly(0);
        report.check(p.name, "default", &out, &rules);
        if p.token_out && !p.json {
            let problems = if out.stdout.contains(ACCESS) {
                vec![]
            } else {
                vec!["the token is not on stdout".into()]
            };
            report.note(p.name, "default", &out, problems);
        }
    }
    report.assert_clean();
}

#[test]
fn m4_escapes_in_every_field_never_reach_output() {
    let report = Report::default();
    drive(&in_account_fields(&evil()), &report);
    report.assert_clean();
}

#[test]
fn m4_escapes_in_error_answers_never_reach_output() {
    let report = Report::default();
    drive(&in_error_answers(&evil()), &report);
    report.assert_clean();
}

/// The contract's rendering: escaped as Rust-style `\u{1b}` text, in plain and `--json` output.
#[test]
fn m4_escapes_are_shown_as_rust_escapes() {
    let report = Report::default();
    let body = format!(
        "{{\"error\": \"invalid_client\", \"error_description\": {}}}",
        json_str("denied\u{1b}[31m and \u{202e}reversed")
    );
    let world = World::hostile(CONNECTIONS_JSON, &[(Route::Token, 401, body)]);
    for args in [&["gmail"][..], &["--json", "gmail"]] {
        let out = run_checked(&report, &world, "error_description", args, |_| {});
        let text = if args.contains(&"--json") {
            let value: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_default();
            let mut all = Vec::new();
            harness::strings(&value, &mut all);
            all.join("\n")
        } else {
            out.stderr.clone()
        };
        let missing: Vec<String> = [r"\u{1b}[31m", r"\u{202e}reversed"]
            .iter()
            .filter(|e| !text.contains(*e))
            .map(|e| format!("the message does not show {e}"))
            .collect();
        report.note(&format!("{args:?}"), "error_description", &out, missing);
    }
    report.assert_clean();
}

/// Escapes from connections.json (hosts, identifier, unknown keys, names) and from arguments.
#[test]
fn m4_escapes_in_files_and_arguments_never_reach_output() {
    let report = Report::default();
    let files = [
        (
            "identifier and hosts",
            r#"{"gmail": {"connection_name": "gmail_u3134a", "identifier": "bob\u202e\u2066moc.evil@\u001b[2J", "hosts": ["api.example.com\u001b]0;TITLE\u0007", "x\u202eevil.test"]}}"#,
        ),
        (
            "unknown key",
            r#"{"gmail": {"connection_name": "gmail_u3134a", "\u001b]0;TITLE\u0007\u001b[2Jx\u202e": 1}}"#,
        ),
        (
            "service name",
            r#"{"gm\u001b[2Jail\u202e": {"connection_name": "gmail_u3134a"}}"#,
        ),
        (
            "connection name",
            r#"{"gmail": {"connection_name": "gmail\u001b[2J\u202e", "identifier": "mess"}}"#,
        ),
    ];
    let runs: &[&[&str]] = &[
        &["config", "list"],
        &["config", "list", "--json"],
        &["gmail"],
        &["--json", "gmail"],
        &["status"],
        &["status", "--json"],
        &["doctor"],
        &["doctor", "--json"],
        &["--for-url", "https://api.example.com/x"],
    ];
    harness::par_each(&files, |(label, json)| {
        let world = World::hostile(json, &[]);
        for args in runs {
            run_checked(&report, &world, label, args, |r| {
                r.token_out = args == &["gmail"] || args[0] == "--for-url";
            });
        }
    });
    let world = World::hostile(CONNECTIONS_JSON, &[]);
    let args: &[&[&str]] = &[
        &[
            "--for-url",
            "https://unknown.example/\u{1b}]0;TITLE\u{7}\u{202e}",
        ],
        &["--json", "--for-url", "https://unknown.example/\u{1b}[2J"],
        &["gm\u{1b}[2Jail\u{202e}"],
        &["--json", "gm\u{1b}[2Jail"],
        &["-u", "bob\u{202e}\u{1b}[2J", "gmail"],
        &["status", "gm\u{1b}[2Jail"],
        &["authorize", "gm\u{1b}[31mail\u{9b}"],
        &["exec", "gm\u{1b}[2Jail", "--", "true"],
        &["disconnect", "gm\u{1b}[2Jail", "--yes"],
        &[
            "config",
            "add",
            "gmail2",
            "gmail_u3134a",
            "--host",
            "api\u{1b}[2J.example",
        ],
        &["config", "list"],
        &["config", "list", "--json"],
    ];
    for a in args {
        run_checked(&report, &world, "escapes in arguments", a, |r| {
            r.token_out = a[0] == "-u";
        });
    }
    report.assert_clean();
}

/// The client secret echoed raw in every field of every error answer.
#[test]
fn m1_secret_echo_in_error_code_is_redacted() {
    let report = Report::default();
    let p = Payload::text("client secret", &format!("secret {SECRET} is wrong"));
    drive(&in_error_answers(&p), &report);
    report.assert_clean();
}

/// The client secret or the API token in the fields of an otherwise normal answer (status, id, scopes,
/// link...).
#[test]
fn m1_secret_echo_in_answer_fields_is_redacted() {
    let report = Report::default();
    let mut scenarios = in_account_fields(&Payload::text("client secret", SECRET));
    scenarios.extend(
        in_account_fields(&Payload::text("API token", API_TOKEN))
            .into_iter()
            .map(|s| s.only(LEAN)),
    );
    drive(&scenarios, &report);
    report.assert_clean();
}

/// Echoes that byte-wise redaction misses: JSON-escaped (`\u0041PI-...`, `\u0063s_...`) and the API token.
#[test]
fn m1_json_escaped_echo_is_redacted() {
    let report = Report::default();
    let payloads = [
        Payload::raw(
            "client secret \\u-escaped",
            &format!("\"secret \\u0063{} is wrong\"", &SECRET[1..]),
        ),
        Payload::text("API token", &format!("bearer {API_TOKEN} denied")),
        Payload::raw(
            "API token \\u-escaped",
            &format!("\"denied for bearer \\u0041{}\"", &API_TOKEN[1..]),
        ),
    ];
    // An API token "echoed" by the token endpoint itself is one the client never received: nothing to leak.
    let scenarios: Vec<Scenario> = payloads
        .iter()
        .flat_map(in_error_answers)
        .filter(|s| !(s.name.starts_with("API token") && s.name.contains(" of Token ")))
        .map(|s| s.only(LEAN))
        .collect();
    drive(&scenarios, &report);
    report.assert_clean();
}

const ABSURD: &[&str] = &[
    "9999-12-31T23:59:59-00:01",
    "0000-01-01T00:00:00Z",
    "1970-01-01T00:00:00Z",
    "-0001-01-01T00:00:00Z",
    "+10000-01-01T00:00:00Z",
    "0000-01-01T00:00:00+23:59",
];

#[test]
fn m3_absurd_timestamps_never_panic() {
    let report = Report::default();
    let paths = &[
        &GET,
        &GET_JSON,
        &STATUS,
        &STATUS_JSON,
        &DOCTOR,
        &DOCTOR_JSON,
        &AUTHORIZE,
        &AUTHORIZE_JSON,
        &WAIT,
    ];
    let mut scenarios = Vec::new();
    for t in ABSURD {
        for field in ["token_expires_at", "updated_at", "last_used_at"] {
            let mut account = active_account();
            account[field] = (*t).into();
            scenarios.push(
                Scenario::new(format!("{field} = {t}"), account_answers(&account, "null"))
                    .paths(paths),
            );
        }
        let mut account = pending_account();
        account["updated_at"] = (*t).into();
        scenarios.push(
            Scenario::new(
                format!("pending, updated_at = {t}"),
                account_answers(&account, "null"),
            )
            .paths(paths),
        );
        let mut answers = account_answers(&pending_account(), "null");
        answers.push(link_answer(
            &json_str(&format!("{BASE}/magic/ml_hostile")),
            &json_str(t),
        ));
        scenarios.push(Scenario::new(format!("magic link expiry = {t}"), answers).paths(paths));
    }
    drive(&scenarios, &report);
    report.assert_clean();
}

/// Malformed access tokens are refused (exit 1), never printed or handed to a child.
#[test]
fn m4_access_tokens_with_controls_are_refused() {
    let report = Report::default();
    let tokens = [
        "tok.BAD-esc\u{1b}]0;T\u{7}",
        "tok.BAD-crlf\r\nX-Injected: 1",
        "tok.BAD-space x",
        "tok.BAD-nonascii\u{e9}",
        "tok.BAD-bidi\u{202e}",
        "tok.BAD-del\u{7f}",
        "tok.BAD-tab\t",
        "tok.BAD-nul\u{0}",
    ];
    // `--format header` (an `Authorization: Bearer` line) where the CLI has it: CR/LF there is header injection.
    let help = World::new(CONNECTIONS_JSON).run(&["--help"]);
    let header = help.stdout.contains("header");
    let scenarios: Vec<Scenario> = tokens
        .iter()
        .map(|t| {
            let mut paths: Vec<&'static CliPath> = TOKEN.to_vec();
            if header {
                paths.push(&HEADER);
            }
            let mut account = active_account();
            account["authorization_details"]["oauth_token"]["access_token"] = "__RAW__".into();
            let mut s = Scenario::new(
                format!("access token {t:?}"),
                account_answers(&account, &json_str(t)),
            )
            .paths(&paths)
            .forbid("tok.BAD");
            s.bad_token = true;
            s
        })
        .collect();
    drive(&scenarios, &report);
    report.assert_clean();
}
