//! The hostile Scalekit stand-in (the emulator with every route answered by an injected fault), a bounded
//! runner for the real `get-token`, and the one checking function every run goes through.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokenbroker_emulator::{Emulator, Fault, Route};

use crate::common::Cli;

/// The client secret the (hostile) environment is given; it must never be printed.
pub const SECRET: &str = "cs_HOSTILE-client-secret-7d41c9";
pub const CLIENT_ID: &str = "hostile-client";
/// The API token the hostile server issues for the client credentials.
pub const API_TOKEN: &str = "API-TOKEN-hostile-e3b0c442";
/// The access token the hostile server hands out for gmail.
pub const ACCESS: &str = "fake-access-hostile-9f86d081";
pub const CONNECTION: &str = "gmail_u3134a";
pub const IDENTIFIER: &str = "mess";
/// Placeholder for the emulator's base URL (`http://127.0.0.1:PORT`) in bodies and forbidden texts.
pub const BASE: &str = "{BASE}";
/// Placeholder for the emulator's `127.0.0.1:PORT`.
pub const HOSTPORT: &str = "{HOSTPORT}";
/// How long any single run may take before it counts as hung.
pub const LIMIT: Duration = Duration::from_secs(20);

pub const CONNECTIONS_JSON: &str =
    r#"{"gmail": {"connection_name": "gmail_u3134a", "identifier": "mess"}}"#;

/// Text with every control or bidi/format character shown, Rust-escaped: for messages.
pub fn shown(text: &str, max: usize) -> String {
    let cut: String = text.chars().take(max).collect();
    let more = text.chars().count() > max;
    format!("{cut:?}{}", if more { "…" } else { "" })
}

/// Characters that must never reach a terminal raw.
pub fn forbidden(c: char) -> bool {
    matches!(c,
        '\0'..='\u{8}' | '\u{b}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        | '\u{61c}' | '\u{feff}')
}

fn forbidden_in(text: &str) -> Vec<char> {
    let mut found: Vec<char> = text.chars().filter(|c| forbidden(*c)).collect();
    found.sort_unstable();
    found.dedup();
    found
}

/// One finished (or killed) get-token process.
#[derive(Debug)]
pub struct Outcome {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
    pub stdout_utf8: bool,
    pub stderr_utf8: bool,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn code_text(&self) -> String {
        match (self.timed_out, self.code, self.signal) {
            (true, _, _) => "killed after the time limit".into(),
            (_, Some(c), _) => c.to_string(),
            (_, None, s) => format!("signal {s:?}"),
        }
    }
}

/// Runs the real binary like `Cli::run` (clean environment, the Cli's HOME and cwd), but reads its output
/// while it runs (a hang on a full pipe is not a hang of get-token) and kills it after `limit`.
pub fn run_bounded(cli: &Cli, args: &[&str], limit: Duration) -> Outcome {
    let mut command = Command::new(env!("CARGO_BIN_EXE_get-token"));
    command
        .args(args)
        .env_clear()
        .env("HOME", cli.home.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(cli.env.iter().map(|(k, v)| (k, v)))
        .current_dir(cli.cwd())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = command.spawn().expect("get-token starts");
    let reader = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let out = reader(Box::new(child.stdout.take().unwrap()));
    let err = reader(Box::new(child.stderr.take().unwrap()));
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            timed_out = true;
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let elapsed = started.elapsed();
    let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
    #[cfg(unix)]
    let signal = std::os::unix::process::ExitStatusExt::signal(&status);
    #[cfg(not(unix))]
    let signal = None;
    Outcome {
        code: status.code(),
        signal,
        timed_out,
        stdout_utf8: std::str::from_utf8(&stdout).is_ok(),
        stderr_utf8: std::str::from_utf8(&stderr).is_ok(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        elapsed,
    }
}

/// Writes `text` to `path` with mode `mode`, creating parent directories.
pub fn write_file(path: &Path, text: &str, mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    #[cfg(not(unix))]
    let _ = mode;
}

/// An emulator configured with the distinctive secret, and a CLI pointed at it through the process
/// environment, with connections.json at an explicit absolute path under HOME.
pub struct World {
    pub emu: Emulator,
    pub cli: Cli,
}

impl World {
    pub fn new(connections_json: &str) -> Self {
        Self::with_mode(connections_json, 0o600)
    }

    pub fn with_mode(connections_json: &str, mode: u32) -> Self {
        let emu = Emulator::builder()
            .client(CLIENT_ID, SECRET)
            .connection(CONNECTION)
            .spawn()
            .unwrap();
        let cli = Cli::new();
        let connections = cli.home.path().join("hostile-config/connections.json");
        write_file(&connections, connections_json, mode);
        let cli = cli
            .var("SCALEKIT_ENV_URL", &emu.url())
            .var("SCALEKIT_CLIENT_ID", CLIENT_ID)
            .var("SCALEKIT_CLIENT_SECRET", SECRET)
            .var(
                "TOKENBROKER_CONNECTIONS",
                &connections.display().to_string(),
            );
        Self { emu, cli }
    }

    /// A world whose credentials are in the user's `.env` (not the process environment), with `mode`.
    pub fn with_env_file_mode(connections_json: &str, mode: u32) -> Self {
        let emu = Emulator::builder()
            .client(CLIENT_ID, SECRET)
            .connection(CONNECTION)
            .spawn()
            .unwrap();
        let cli = Cli::new();
        let connections = cli.home.path().join("hostile-config/connections.json");
        write_file(&connections, connections_json, 0o600);
        let env = format!(
            "SCALEKIT_ENV_URL={}\nSCALEKIT_CLIENT_ID={CLIENT_ID}\nSCALEKIT_CLIENT_SECRET={SECRET}\n",
            emu.url()
        );
        write_file(&cli.config_dir().join(".env"), &env, mode);
        let cli = cli.var(
            "TOKENBROKER_CONNECTIONS",
            &connections.display().to_string(),
        );
        Self { emu, cli }
    }

    /// A world whose server answers every route as `answers` say, then as the default hostile server
    /// (an active account holding [`ACCESS`]) for routes `answers` leaves out.
    pub fn hostile(connections_json: &str, answers: &[(Route, u16, String)]) -> Self {
        let world = Self::new(connections_json);
        world.answer(answers);
        world.answer(&default_answers());
        world
    }

    /// Makes the server answer each route with the given status and body from now on.
    pub fn answer(&self, answers: &[(Route, u16, String)]) {
        for (route, status, body) in answers {
            self.emu
                .inject(Fault::body(*route, *status, self.fill(body)).times(usize::MAX / 2));
        }
    }

    pub fn base(&self) -> String {
        self.emu.url()
    }

    /// `text` with [`BASE`] replaced by the emulator's URL and [`HOSTPORT`] by its address.
    pub fn fill(&self, text: &str) -> String {
        text.replace(BASE, &self.base())
            .replace(HOSTPORT, &self.emu.addr().to_string())
    }

    pub fn run(&self, args: &[&str]) -> Outcome {
        run_bounded(&self.cli, args, LIMIT)
    }

    /// Requests the server got on every route.
    pub fn total_requests(&self) -> usize {
        [
            Route::Token,
            Route::Auth,
            Route::Details,
            Route::Create,
            Route::MagicLink,
            Route::List,
            Route::Delete,
            Route::Page,
        ]
        .iter()
        .map(|r| self.emu.requests(*r))
        .sum()
    }
}

/// The default connected account: active, holding [`ACCESS`].
pub fn active_account() -> Value {
    json!({
        "id": "ca_hostile1", "identifier": IDENTIFIER, "provider": "google", "connector": CONNECTION,
        "connection_id": "conn_hostile", "status": "ACTIVE", "authorization_type": "OAUTH",
        "token_expires_at": "2099-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
        "last_used_at": "2024-01-01T00:00:00Z", "api_config": {},
        "authorization_details": {"oauth_token": {"access_token": ACCESS, "refresh_token": "",
            "scopes": ["gmail.read", "gmail.send"], "domain": ""}}
    })
}

/// An account that needs authorization.
pub fn pending_account() -> Value {
    let mut a = active_account();
    a["status"] = "PENDING_AUTH".into();
    a["authorization_details"] = json!({"oauth_token": {"scopes": []}});
    a
}

/// The answers of the account routes for `account`; in the serialized bodies, the JSON string
/// `"__RAW__"` is replaced by `raw` (a JSON literal, so that escaped forms like `"\u0041..."` can be sent).
pub fn account_answers(account: &Value, raw: &str) -> Vec<(Route, u16, String)> {
    let body = |v: &Value| v.to_string().replace("\"__RAW__\"", raw);
    let mut details = account.clone();
    if let Some(o) = details
        .pointer_mut("/authorization_details/oauth_token")
        .and_then(Value::as_object_mut)
    {
        o.remove("access_token");
    }
    vec![
        (
            Route::Auth,
            200,
            body(&json!({"connected_account": account})),
        ),
        (
            Route::Create,
            201,
            body(&json!({"connected_account": account})),
        ),
        (
            Route::Details,
            200,
            body(&json!({"connected_account": details})),
        ),
        (
            Route::List,
            200,
            body(&json!({"connected_accounts": [details], "total_size": 1,
                "next_page_token": "", "prev_page_token": ""})),
        ),
    ]
}

/// The magic-link answer; `link` and `expiry` are JSON literals.
pub fn link_answer(link: &str, expiry: &str) -> (Route, u16, String) {
    (
        Route::MagicLink,
        200,
        format!("{{\"link\": {link}, \"expiry\": {expiry}}}"),
    )
}

pub fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

pub fn default_answers() -> Vec<(Route, u16, String)> {
    let mut answers = vec![(
        Route::Token,
        200,
        json!({"access_token": API_TOKEN, "token_type": "Bearer", "expires_in": 3600,
            "scope": "openid"})
        .to_string(),
    )];
    answers.extend(account_answers(&active_account(), "null"));
    answers.push(link_answer(
        &json_str(&format!("{BASE}/magic/ml_hostile")),
        "\"2099-01-01T00:00:00Z\"",
    ));
    answers.push((Route::Delete, 200, "{}".into()));
    answers
}

/// Which exit codes a run may end with.
#[derive(Clone, Copy, Debug)]
pub enum Codes {
    /// 0..=7: any documented outcome, no panic.
    Clean,
    /// Exactly this one.
    Exactly(i32),
    /// 0..=7 but neither 0 nor 3: the link or token was refused.
    Refused,
}

impl Codes {
    fn allows(self, code: i32) -> bool {
        match self {
            Codes::Clean => (0..=7).contains(&code),
            Codes::Exactly(c) => code == c,
            Codes::Refused => (0..=7).contains(&code) && code != 0 && code != 3,
        }
    }
}

/// What a run must respect.
#[derive(Clone, Debug)]
pub struct Rules {
    /// Never on stdout or stderr, nor in any JSON string: client secret, API tokens.
    pub secrets: Vec<String>,
    /// Access tokens: never on stderr; on stdout only when `token_out`.
    pub tokens: Vec<String>,
    pub token_out: bool,
    /// `--json`: stderr empty, stdout one JSON value whose strings are clean too.
    pub json: bool,
    /// `--wait --json`: stderr may hold `authorization_required` JSON lines, one per link.
    pub link_lines: bool,
    /// Texts that must not appear (case-insensitively) anywhere: foreign links, refused tokens.
    pub forbid: Vec<String>,
    pub codes: Codes,
}

impl Rules {
    pub fn new() -> Self {
        Self {
            secrets: vec![SECRET.into(), API_TOKEN.into()],
            tokens: vec![ACCESS.into()],
            token_out: false,
            json: false,
            link_lines: false,
            forbid: Vec::new(),
            codes: Codes::Clean,
        }
    }
}

/// Every string (keys too) in a JSON value, decoded.
pub fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => {
            for (k, x) in o {
                out.push(k);
                strings(x, out);
            }
        }
        _ => {}
    }
}

fn secret_label(s: &str) -> String {
    if s == SECRET {
        "the client secret".into()
    } else if s == API_TOKEN || s.starts_with("emu_api_") {
        "the API token".into()
    } else {
        format!("secret {}", shown(s, 40))
    }
}

/// Every way `out` breaks `rules`; empty when it is clean.
pub fn check(out: &Outcome, rules: &Rules) -> Vec<String> {
    let mut v = Vec::new();
    if out.timed_out {
        v.push(format!(
            "did not end within {} s (killed)",
            out.elapsed.as_secs()
        ));
    } else {
        match out.code {
            Some(c) if rules.codes.allows(c) => {}
            Some(c) => v.push(format!("exit code {c}, wanted {:?}", rules.codes)),
            None => v.push(format!("ended by signal {:?} (a panic/abort?)", out.signal)),
        }
    }
    // In a debug build a panic in a spawned task is caught and reported as an error (exit 1); in the
    // release build (panic = "abort") the same panic is an abort. Either way it is a panic.
    if out.stderr.contains("panicked") || out.stdout.contains("panicked") {
        v.push("a panic (the output says \"panicked\")".into());
    }
    for (name, text, utf8) in [
        ("stdout", &out.stdout, out.stdout_utf8),
        ("stderr", &out.stderr, out.stderr_utf8),
    ] {
        if !utf8 {
            v.push(format!("{name} is not valid UTF-8"));
        }
        let bad = forbidden_in(text);
        if !bad.is_empty() {
            v.push(format!("{name} holds raw control/bidi characters {bad:?}"));
        }
        if text.len() >= 64 * 1024 {
            v.push(format!("{name} is {} bytes (64 KiB or more)", text.len()));
        }
        for s in &rules.secrets {
            if text.contains(s.as_str()) {
                v.push(format!("{name} holds {}", secret_label(s)));
            }
        }
        if name == "stderr" || !rules.token_out {
            for t in &rules.tokens {
                if text.contains(t.as_str()) {
                    v.push(format!("{name} holds the access token {}", shown(t, 40)));
                }
            }
        }
        let lower = text.to_lowercase();
        for f in &rules.forbid {
            if lower.contains(&f.to_lowercase()) {
                v.push(format!("{name} holds {}", shown(f, 80)));
            }
        }
    }
    if rules.json {
        // The one exception: `--wait --json` hands each new link to a program as one JSON line on stderr.
        let link_lines = out.stderr.lines().all(|l| {
            serde_json::from_str::<Value>(l).is_ok_and(|v| v["status"] == "authorization_required")
        });
        if !(out.stderr.is_empty() || rules.link_lines && link_lines) {
            v.push("--json run printed on stderr".into());
        }
        match serde_json::from_str::<Value>(&out.stdout) {
            Err(e) => v.push(format!("stdout is not one JSON value ({e})")),
            Ok(value) => {
                let mut all = Vec::new();
                strings(&value, &mut all);
                for s in all {
                    let bad = forbidden_in(s);
                    if !bad.is_empty() {
                        v.push(format!(
                            "JSON string {} holds raw {bad:?} after decoding",
                            shown(s, 60)
                        ));
                    }
                    for secret in &rules.secrets {
                        if s.contains(secret.as_str()) {
                            v.push(format!("a JSON string holds {}", secret_label(secret)));
                        }
                    }
                }
            }
        }
    }
    v
}

/// All violations of a test, collected across runs (and threads).
#[derive(Default)]
pub struct Report {
    runs: AtomicUsize,
    violations: Mutex<Vec<String>>,
}

impl Report {
    /// Checks `out` against `rules` and records any violation under `path` × `payload`.
    pub fn check(&self, path: &str, payload: &str, out: &Outcome, rules: &Rules) {
        let problems = check(out, rules);
        self.record(path, payload, out, problems);
    }

    /// Records `problems` found in one run (nothing if empty), counting the run. With `HOSTILE_VERBOSE` set,
    /// every run is listed on the test's stderr.
    pub fn record(&self, path: &str, payload: &str, out: &Outcome, problems: Vec<String>) {
        self.runs.fetch_add(1, Ordering::Relaxed);
        if std::env::var_os("HOSTILE_VERBOSE").is_some() {
            eprintln!(
                "run [{path}] x [{payload}]: exit {} in {:.1} s, {} bytes out, {} bytes err, {} problems",
                out.code_text(),
                out.elapsed.as_secs_f64(),
                out.stdout.len(),
                out.stderr.len(),
                problems.len()
            );
        }
        self.note(path, payload, out, problems);
    }

    /// Records more `problems` of a run already counted.
    pub fn note(&self, path: &str, payload: &str, out: &Outcome, problems: Vec<String>) {
        if problems.is_empty() {
            return;
        }
        let entry = format!(
            "[{path}] x [{payload}] exit {}:\n    - {}\n    stdout: {}\n    stderr: {}",
            out.code_text(),
            problems.join("\n    - "),
            shown(&out.stdout, 300),
            shown(&out.stderr, 300),
        );
        self.violations.lock().unwrap().push(entry);
    }

    /// Panics with a readable list if any run broke a rule.
    pub fn assert_clean(&self) {
        let runs = self.runs.load(Ordering::Relaxed);
        let mut violations = self.violations.lock().unwrap().clone();
        violations.sort();
        if violations.is_empty() {
            return;
        }
        const SHOWN: usize = 20;
        let mut text = format!(
            "{} problem reports from {runs} runs (the contract is broken):\n",
            violations.len()
        );
        for v in violations.iter().take(SHOWN) {
            text.push_str(v);
            text.push('\n');
        }
        if violations.len() > SHOWN {
            text.push_str(&format!("... and {} more:\n", violations.len() - SHOWN));
            for v in &violations[SHOWN..] {
                text.push_str("  ");
                text.push_str(v.lines().next().unwrap_or_default());
                text.push_str(v.lines().nth(1).unwrap_or_default().trim_start_matches(' '));
                text.push('\n');
            }
        }
        panic!("{text}");
    }
}

/// Runs `job` on every item with a few threads (each item builds its own world and runs its own paths).
pub fn par_each<T: Sync>(items: &[T], job: impl Fn(&T) + Sync) {
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    job(item);
                }
            });
        }
    });
}

/// Runs `args` in `world` and checks it with `rules` built by `tune`.
pub fn run_checked(
    report: &Report,
    world: &World,
    label: &str,
    args: &[&str],
    tune: impl FnOnce(&mut Rules),
) -> Outcome {
    let out = world.run(args);
    let mut rules = Rules::new();
    rules.json = args.contains(&"--json");
    rules.link_lines = args.iter().any(|a| a.starts_with("--wait"));
    tune(&mut rules);
    report.check(&format!("{args:?}"), label, &out, &rules);
    out
}
