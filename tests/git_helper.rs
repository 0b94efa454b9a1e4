//! `get-token git-credential` with the real git: `git credential fill`, `setup-git`, and a clone and a push
//! over smart HTTP from a loopback server that accepts only the Scalekit-held token.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{Cli, IDENTIFIER, activate, emulator};
use tokenbroker_emulator::Emulator;

const GITHUB: &str = "github_x7";
const BIN: &str = env!("CARGO_BIN_EXE_get-token");

fn setup(extra_hosts: &str) -> (Emulator, Cli) {
    let emu = emulator().connection(GITHUB).spawn().unwrap();
    activate(&emu, GITHUB, IDENTIFIER);
    let cli = Cli::on(&emu);
    cli.write_config(
        "connections.json",
        &format!(
            r#"{{"github": {{"connection_name": "{GITHUB}", "identifier": "{IDENTIFIER}", "hosts": [{extra_hosts}]}},
                "gmail": {{"connection_name": "gmail_u3134a", "identifier": "{IDENTIFIER}"}}}}"#
        ),
    );
    (emu, cli)
}

/// git, in the CLI's environment (its HOME, its Scalekit variables), never prompting.
fn git(cli: &Cli, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new("git")
        .args(args)
        .env_clear()
        .env("HOME", cli.home.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .envs(cli.env.iter().map(|(k, v)| (k, v)))
        .current_dir(cli.cwd())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn helper() -> String {
    format!("credential.helper=!{BIN} git-credential")
}

#[test]
fn git_credential_fill_gets_the_token_with_its_user_name_and_expiry() {
    let (emu, cli) = setup("");
    let token = emu.access_token(GITHUB, IDENTIFIER).unwrap();
    let (code, out, err) = git(
        &cli,
        &["-c", &helper(), "credential", "fill"],
        "protocol=https\nhost=github.com\npath=owner/repo.git\n\n",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("username=x-access-token\n"), "{out}");
    assert!(out.contains(&format!("password={token}\n")), "{out}");
    let expiry: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("password_expiry_utc="))
        .unwrap()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(expiry > now, "{expiry}");
    assert!(!err.contains(&token));
}

#[test]
fn hosts_that_are_not_the_services_are_declined_and_git_goes_on() {
    let (emu, cli) = setup("");
    let token = emu.access_token(GITHUB, IDENTIFIER).unwrap();
    for request in [
        "protocol=https\nhost=evil.test\n\n",
        "protocol=http\nhost=github.com\n\n",
        "protocol=https\nhost=github.com@evil.test\n\n",
        "protocol=ssh\nhost=github.com\n\n",
    ] {
        let (code, out, err) = git(&cli, &["-c", &helper(), "credential", "fill"], request);
        assert_ne!(code, 0, "git found no credential for {request:?}: {out}");
        assert!(
            !out.contains(&token) && !err.contains(&token),
            "{request:?}"
        );
    }
    // Store and erase are accepted and do nothing; the helper never fails git.
    for op in ["approve", "reject"] {
        let input = format!(
            "protocol=https\nhost=github.com\nusername=x-access-token\npassword={token}\n\n"
        );
        let (code, _, err) = git(&cli, &["-c", &helper(), "credential", op], &input);
        assert_eq!(code, 0, "{op}: {err}");
    }
    // No file under HOME holds the token.
    let mut stack = vec![cli.home.path().to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            if entry.path().is_dir() {
                stack.push(entry.path());
            } else {
                let bytes = std::fs::read(entry.path()).unwrap();
                assert!(
                    !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
                    "{:?}",
                    entry.path()
                );
            }
        }
    }
}

#[test]
fn an_account_that_needs_authorization_gives_the_link_on_stderr_and_no_credential() {
    let emu = emulator().connection(GITHUB).spawn().unwrap();
    let cli = Cli::on(&emu);
    cli.write_config(
        "connections.json",
        &format!(r#"{{"github": {{"connection_name": "{GITHUB}"}}}}"#),
    );
    let (code, out, err) = git(
        &cli,
        &["-c", &helper(), "credential", "fill"],
        "protocol=https\nhost=github.com\n\n",
    );
    assert_ne!(code, 0);
    assert!(!out.contains("password="), "{out}");
    assert!(err.contains("/magic/") && err.contains("authoriz"), "{err}");
}

#[test]
fn the_helper_reads_gits_input_with_limits() {
    let (_emu, cli) = setup("");
    for input in [
        format!("protocol=https\nhost={}\n\n", "a".repeat(70_000)),
        "protocol=https\nhost=git\0hub.com\n\n".to_owned(),
        "k=v\n".repeat(20_000),
    ] {
        let run = Command::new(BIN)
            .args(["git-credential", "get"])
            .env_clear()
            .env("HOME", cli.home.path())
            .envs(cli.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut run = run;
        let _ = run.stdin.take().unwrap().write_all(input.as_bytes());
        let out = run.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        assert!(out.stdout.is_empty());
        assert!(String::from_utf8_lossy(&out.stderr).contains("ignored git's request"));
    }
}

#[test]
fn setup_git_writes_the_helper_for_the_services_git_hosts() {
    let (_emu, cli) = setup("");
    let gitconfig = cli.home.path().join("gitconfig");
    let cli = cli.var("GIT_CONFIG_GLOBAL", &gitconfig.display().to_string());
    let run = cli.run(&["setup-git"]);
    assert_eq!(run.code, 0, "{run:?}");
    let (_, values, _) = git(
        &cli,
        &[
            "config",
            "--global",
            "--get-all",
            "credential.https://github.com.helper",
        ],
        "",
    );
    let values: Vec<&str> = values.lines().collect();
    assert_eq!(values.len(), 2, "{values:?}");
    assert_eq!(values[0], "");
    assert!(
        values[1].ends_with(" git-credential") && values[1].starts_with('!'),
        "{values:?}"
    );
    // Again: still one reset and one helper.
    assert_eq!(cli.run(&["setup-git"]).code, 0);
    let (_, again, _) = git(
        &cli,
        &[
            "config",
            "--global",
            "--get-all",
            "credential.https://github.com.helper",
        ],
        "",
    );
    assert_eq!(again.lines().count(), 2, "{again}");
    assert_eq!(cli.run(&["setup-git", "--host", "bad host!"]).code, 2);
}

/// Review 2, L-F: a relative `--connections` or `--env-file` written into the global git configuration would
/// be read from each repository git runs the helper in; the helper line names absolute paths.
#[test]
fn setup_git_writes_absolute_configuration_paths() {
    let (_emu, cli) = setup("");
    let gitconfig = cli.home.path().join("gitconfig");
    let cli = cli.var("GIT_CONFIG_GLOBAL", &gitconfig.display().to_string());
    std::fs::copy(
        cli.config_dir().join("connections.json"),
        cli.cwd().join("conn-rel.json"),
    )
    .unwrap();
    let run = cli.run(&["--connections", "conn-rel.json", "setup-git"]);
    assert_eq!(run.code, 0, "{run:?}");
    let (_, values, _) = git(
        &cli,
        &[
            "config",
            "--global",
            "--get-all",
            "credential.https://github.com.helper",
        ],
        "",
    );
    let absolute = cli.cwd().join("conn-rel.json").display().to_string();
    assert!(
        values.contains(&format!("--connections '{absolute}'")),
        "{values}"
    );
    assert!(!values.contains("'conn-rel.json'"), "{values}");
}

/// A smart-HTTP git server on 127.0.0.1 (git http-backend behind a small Python CGI runner) that answers
/// 401 unless the password is `token`.
fn git_server(root: &std::path::Path, token: &str) -> (std::process::Child, u16) {
    let script = root.join("server.py");
    std::fs::write(
        &script,
        r#"
import base64, os, subprocess, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
ROOT, TOKEN = sys.argv[1], sys.argv[2]
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def handle_one(self):
        auth = self.headers.get("Authorization", "")
        ok = auth.startswith("Basic ") and base64.b64decode(auth[6:]).decode().split(":", 1)[-1] == TOKEN
        if not ok:
            self.send_response(401); self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0"); self.end_headers(); return
        path, _, query = self.path.partition("?")
        body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        env = dict(os.environ, GIT_PROJECT_ROOT=ROOT, GIT_HTTP_EXPORT_ALL="1", PATH_INFO=path,
                   QUERY_STRING=query, REQUEST_METHOD=self.command, REMOTE_USER="x",
                   CONTENT_TYPE=self.headers.get("Content-Type", ""), CONTENT_LENGTH=str(len(body)))
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        status = 200
        lines = head.decode().split("\r\n")
        for l in lines:
            if l.lower().startswith("status:"): status = int(l.split()[1])
        self.send_response(status)
        for l in lines:
            if ":" in l and not l.lower().startswith("status:"):
                k, v = l.split(":", 1); self.send_header(k.strip(), v.strip())
        self.send_header("Content-Length", str(len(payload))); self.end_headers(); self.wfile.write(payload)
    do_GET = do_POST = handle_one
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"#,
    )
    .unwrap();
    let mut child = Command::new("python3")
        .arg(&script)
        .arg(root)
        .arg(token)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    (child, line.trim().parse().unwrap())
}

#[test]
fn clone_and_push_over_smart_http_with_the_scalekit_held_token() {
    let root = tempfile::tempdir().unwrap();
    let bare = root.path().join("repo.git");
    assert!(
        Command::new("git")
            .args(["init", "-q", "--bare"])
            .arg(&bare)
            .status()
            .unwrap()
            .success()
    );
    assert!(
        Command::new("git")
            .args([
                "-C",
                bare.to_str().unwrap(),
                "config",
                "http.receivepack",
                "true"
            ])
            .status()
            .unwrap()
            .success()
    );
    let emu = emulator().connection(GITHUB).spawn().unwrap();
    activate(&emu, GITHUB, IDENTIFIER);
    let token = emu.access_token(GITHUB, IDENTIFIER).unwrap();
    let (mut server, port) = git_server(root.path(), &token);
    let cli = Cli::on(&emu);
    cli.write_config(
        "connections.json",
        &format!(r#"{{"github": {{"connection_name": "{GITHUB}", "identifier": "{IDENTIFIER}", "hosts": ["127.0.0.1:{port}"]}}}}"#),
    );
    let url = format!("http://127.0.0.1:{port}/repo.git");
    let helper_key = format!("credential.http://127.0.0.1:{port}.helper=!{BIN} git-credential");
    let (code, _, err) = git(&cli, &["-c", &helper_key, "clone", "-q", &url, "work"], "");
    assert_eq!(code, 0, "clone: {err}");
    let work = cli.cwd().join("work");
    std::fs::write(work.join("README"), "hello\n").unwrap();
    let w = work.to_str().unwrap();
    for args in [
        vec!["-C", w, "add", "README"],
        vec![
            "-C",
            w,
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "commit",
            "-qm",
            "first",
        ],
        vec![
            "-C",
            w,
            "-c",
            &helper_key,
            "push",
            "-q",
            "origin",
            "HEAD:main",
        ],
    ] {
        let (code, _, err) = git(&cli, &args, "");
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(!err.contains(&token));
    }
    let log = Command::new("git")
        .args(["-C", bare.to_str().unwrap(), "log", "--format=%s", "main"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&log.stdout).trim(), "first");
    // Without the helper, the server refuses.
    let (code, _, _) = git(&cli, &["clone", "-q", &url, "refused"], "");
    assert_ne!(code, 0);
    let _ = server.kill();
    let _ = server.wait();
}
