//! The table: CLI paths, hostile payloads (what the server answers, on which route), and the driver that
//! runs every (payload, path) pair through one checking function.

use serde_json::Value;
use tokenbroker_emulator::Route;

use crate::harness::{
    BASE, CONNECTIONS_JSON, Codes, Report, Rules, World, account_answers, active_account, json_str,
    link_answer, par_each, pending_account,
};

/// One way of running get-token.
#[derive(Debug)]
pub struct CliPath {
    pub name: &'static str,
    pub args: &'static [&'static str],
    /// The token is the asked-for output on stdout.
    pub token_out: bool,
    pub json: bool,
    /// It hands out the access token (prints it or passes it to a child).
    pub gets_token: bool,
    /// It relays an authorization link when the account needs one.
    pub relays_link: bool,
}

const fn path(name: &'static str, args: &'static [&'static str]) -> CliPath {
    CliPath {
        name,
        args,
        token_out: false,
        json: false,
        gets_token: false,
        relays_link: false,
    }
}

const fn token_path(name: &'static str, args: &'static [&'static str], out: bool) -> CliPath {
    CliPath {
        token_out: out,
        gets_token: true,
        relays_link: true,
        ..path(name, args)
    }
}

pub const GET: CliPath = token_path("get gmail", &["gmail"], true);
pub const GET_JSON: CliPath = CliPath {
    json: true,
    ..token_path("get --json gmail", &["--json", "gmail"], false)
};
pub const GET_JSON_SHOW: CliPath = CliPath {
    json: true,
    ..token_path(
        "get --json --show-token gmail",
        &["--json", "--show-token", "gmail"],
        true,
    )
};
pub const ENV: CliPath = token_path(
    "get --format env gmail",
    &["--format", "env", "gmail"],
    true,
);
/// Only where the CLI offers it (see `m4_access_tokens_with_controls_are_refused`).
pub const HEADER: CliPath = token_path(
    "get --format header gmail",
    &["--format", "header", "gmail"],
    true,
);
pub const FOR_URL: CliPath = token_path(
    "get --for-url",
    &["--for-url", "https://gmail.googleapis.com/x"],
    true,
);
pub const WAIT: CliPath = token_path("get --wait=2 gmail", &["--wait=2", "gmail"], true);
pub const EXEC: CliPath = token_path(
    "exec gmail -- sh -c true",
    &["exec", "gmail", "--", "sh", "-c", "true"],
    false,
);
pub const STATUS: CliPath = path("status", &["status"]);
pub const STATUS_JSON: CliPath = CliPath {
    json: true,
    ..path("status --json", &["status", "--json"])
};
pub const AUTHORIZE: CliPath = CliPath {
    relays_link: true,
    ..path("authorize gmail", &["authorize", "gmail"])
};
pub const AUTHORIZE_JSON: CliPath = CliPath {
    relays_link: true,
    json: true,
    ..path("authorize gmail --json", &["authorize", "gmail", "--json"])
};
pub const DOCTOR: CliPath = path("doctor", &["doctor"]);
pub const DOCTOR_JSON: CliPath = CliPath {
    json: true,
    ..path("doctor --json", &["doctor", "--json"])
};
pub const CONFIG_LIST: CliPath = path("config list", &["config", "list"]);
pub const CONFIG_LIST_JSON: CliPath = CliPath {
    json: true,
    ..path("config list --json", &["config", "list", "--json"])
};
pub const DISCONNECT: CliPath = path("disconnect gmail --yes", &["disconnect", "gmail", "--yes"]);

/// Every path that talks to the server.
pub const ALL: &[&CliPath] = &[
    &GET,
    &GET_JSON,
    &GET_JSON_SHOW,
    &ENV,
    &FOR_URL,
    &WAIT,
    &EXEC,
    &STATUS,
    &STATUS_JSON,
    &AUTHORIZE,
    &AUTHORIZE_JSON,
    &DOCTOR,
    &DOCTOR_JSON,
    &DISCONNECT,
];
/// Paths that hand out a token.
pub const TOKEN: &[&CliPath] = &[
    &GET,
    &GET_JSON,
    &GET_JSON_SHOW,
    &ENV,
    &FOR_URL,
    &WAIT,
    &EXEC,
];
/// Paths that relay a link (token paths, and authorize).
pub const LINK: &[&CliPath] = &[
    &GET,
    &GET_JSON,
    &GET_JSON_SHOW,
    &ENV,
    &FOR_URL,
    &WAIT,
    &EXEC,
    &AUTHORIZE,
    &AUTHORIZE_JSON,
];
/// Paths that read the account without its credentials.
pub const ACCOUNT: &[&CliPath] = &[&STATUS, &STATUS_JSON, &DOCTOR, &DOCTOR_JSON];
/// One path per kind of output, for the payloads repeated in several encodings.
pub const LEAN: &[&CliPath] = &[
    &GET,
    &GET_JSON,
    &STATUS,
    &STATUS_JSON,
    &DOCTOR,
    &AUTHORIZE,
    &DISCONNECT,
];

/// What the hostile server answers, and which paths to run against it.
#[derive(Debug)]
pub struct Scenario {
    pub name: String,
    pub answers: Vec<(Route, u16, String)>,
    pub paths: Vec<&'static CliPath>,
    /// Texts that must not appear in any output ([`BASE`] is replaced).
    pub forbid: Vec<String>,
    /// The token paths must refuse the (malformed) access token: exit 1.
    pub bad_token: bool,
    /// The link paths must refuse the link: exit neither 0 nor 3.
    pub foreign_link: bool,
}

impl Scenario {
    pub fn new(name: impl Into<String>, answers: Vec<(Route, u16, String)>) -> Self {
        Self {
            name: name.into(),
            answers,
            paths: ALL.to_vec(),
            forbid: Vec::new(),
            bad_token: false,
            foreign_link: false,
        }
    }

    pub fn paths(mut self, paths: &[&'static CliPath]) -> Self {
        self.paths = paths.to_vec();
        self
    }

    /// Only the paths that are also in `keep`.
    pub fn only(mut self, keep: &[&'static CliPath]) -> Self {
        self.paths.retain(|p| keep.iter().any(|k| k.name == p.name));
        self
    }

    pub fn forbid(mut self, text: impl Into<String>) -> Self {
        self.forbid.push(text.into());
        self
    }
}

/// A hostile value: the JSON literal the server sends, and a short name for reports.
#[derive(Debug, Clone)]
pub struct Payload {
    pub tag: String,
    /// A JSON string literal, possibly with `\uXXXX` escapes.
    pub raw: String,
}

impl Payload {
    pub fn text(tag: &str, text: &str) -> Self {
        Self {
            tag: tag.into(),
            raw: json_str(text),
        }
    }

    pub fn raw(tag: &str, raw: &str) -> Self {
        Self {
            tag: tag.into(),
            raw: raw.into(),
        }
    }

    /// The decoded string.
    pub fn decoded(&self) -> String {
        serde_json::from_str(&self.raw).unwrap()
    }

    /// The literal's content without its quotes (to splice into another literal).
    fn inner(&self) -> &str {
        &self.raw[1..self.raw.len() - 1]
    }
}

/// With `"__RAW__"` at `pointer` of `account`.
fn with_marker(mut account: Value, pointer: &str, array: bool) -> Value {
    *account.pointer_mut(pointer).unwrap() = if array {
        serde_json::json!(["__RAW__", "gmail.read"])
    } else {
        "__RAW__".into()
    };
    account
}

/// The payload in every string field of a connected account, and in the magic link and its expiry.
pub fn in_account_fields(p: &Payload) -> Vec<Scenario> {
    let mut scenarios = Vec::new();
    let fields = [
        ("status", "/status", false),
        ("id", "/id", false),
        ("provider", "/provider", false),
        ("connector", "/connector", false),
        ("identifier", "/identifier", false),
        ("scopes", "/authorization_details/oauth_token/scopes", true),
        ("token_expires_at", "/token_expires_at", false),
        ("updated_at", "/updated_at", false),
        ("last_used_at", "/last_used_at", false),
    ];
    for (field, pointer, array) in fields {
        let account = with_marker(active_account(), pointer, array);
        scenarios.push(Scenario::new(
            format!("{} in account.{field}", p.tag),
            account_answers(&account, &p.raw),
        ));
    }
    // A credential that is not an OAuth token: its kind is named in the error.
    let mut api_key = with_marker(active_account(), "/authorization_type", false);
    api_key["authorization_details"] = serde_json::json!({"oauth_token": {}});
    scenarios.push(Scenario::new(
        format!("{} in account.authorization_type", p.tag),
        account_answers(&api_key, &p.raw),
    ));
    let mut answers = account_answers(&pending_account(), "null");
    answers.push(link_answer(
        &format!("\"{BASE}/magic/ml_{}\"", p.inner()),
        "\"2099-01-01T00:00:00Z\"",
    ));
    scenarios.push(Scenario::new(format!("{} in magic link path", p.tag), answers).paths(LINK));
    let mut answers = account_answers(&pending_account(), "null");
    answers.push(link_answer(
        &json_str(&format!("{BASE}/magic/ml_hostile")),
        &p.raw,
    ));
    scenarios.push(Scenario::new(format!("{} in magic link expiry", p.tag), answers).paths(LINK));
    scenarios
}

/// The error bodies Scalekit's endpoints give, with the payload in each field that can carry text.
pub fn error_bodies(p: &Payload) -> Vec<(&'static str, String)> {
    let info = "type.googleapis.com/scalekit.v1.errdetails.ErrorInfo";
    let x = &p.raw;
    vec![
        ("error", format!("{{\"error\": {x}}}")),
        (
            "error_description",
            format!("{{\"error\": \"invalid_request\", \"error_description\": {x}}}"),
        ),
        (
            "message",
            format!(
                "{{\"code\": 3, \"message\": {x}, \"details\": [{{\"@type\": \"{info}\", \"error_code\": \"INVALID_ARGUMENT\"}}]}}"
            ),
        ),
        (
            "details[].error_code",
            format!(
                "{{\"code\": 3, \"message\": \"bad request\", \"details\": [{{\"@type\": \"{info}\", \"error_code\": {x}}}]}}"
            ),
        ),
        ("text body", p.decoded()),
    ]
}

/// The payload in every field of the error answer of every route, each run on the paths that use it.
pub fn in_error_answers(p: &Payload) -> Vec<Scenario> {
    let routes: [(Route, u16, &[&CliPath], bool); 5] = [
        (Route::Token, 401, ALL, false),
        (Route::Auth, 403, LINK, false),
        (Route::MagicLink, 400, LINK, true),
        (Route::Details, 400, ACCOUNT, false),
        (Route::Delete, 400, &[&DISCONNECT], false),
    ];
    let mut scenarios = Vec::new();
    for (route, status, paths, pending) in routes {
        for (field, body) in error_bodies(p) {
            let mut answers = vec![(route, status, body)];
            if pending {
                answers.extend(account_answers(&pending_account(), "null"));
            }
            scenarios.push(
                Scenario::new(
                    format!("{} in {field} of {route:?} {status}", p.tag),
                    answers,
                )
                .paths(paths),
            );
        }
    }
    scenarios
}

/// Runs every scenario's paths against its own hostile world and checks each run.
pub fn drive(scenarios: &[Scenario], report: &Report) {
    par_each(scenarios, |sc| {
        let world = World::hostile(CONNECTIONS_JSON, &sc.answers);
        for p in &sc.paths {
            let out = world.run(p.args);
            let mut rules = Rules::new();
            rules.token_out = p.token_out;
            rules.json = p.json;
            rules.forbid = sc.forbid.iter().map(|f| world.fill(f)).collect();
            if sc.bad_token && p.gets_token {
                rules.codes = Codes::Exactly(1);
            }
            if sc.foreign_link && p.relays_link {
                rules.codes = Codes::Refused;
            }
            report.check(p.name, &sc.name, &out, &rules);
        }
    });
}
