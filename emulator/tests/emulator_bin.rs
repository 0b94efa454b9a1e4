//! The standalone `tokenbroker-emulator` binary: where its secret comes from, `--env-out`, its default
//! verification mode and connections, and a clear error for a busy port.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_tokenbroker-emulator");
const SECRET_VAR: &str = "TOKENBROKER_EMULATOR_CLIENT_SECRET";

/// Kills the emulator it started when the test ends, passed or not.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(env_out: &Path, secret: Option<&str>, extra: &[&str]) -> Running {
    let mut command = Command::new(BIN);
    command
        .args(["--port", "0", "--env-out"])
        .arg(env_out)
        .args(extra)
        .env_remove(SECRET_VAR)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(secret) = secret {
        command.env(SECRET_VAR, secret);
    }
    Running(command.spawn().unwrap())
}

/// The SCALEKIT_* values once the file appears.
fn read_env(path: &Path) -> (String, String, String) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !path.exists() {
        assert!(Instant::now() < deadline, "no {}", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = std::fs::read_to_string(path).unwrap();
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} missing in {text}"))
            .to_owned()
    };
    (
        value("SCALEKIT_ENV_URL"),
        value("SCALEKIT_CLIENT_ID"),
        value("SCALEKIT_CLIENT_SECRET"),
    )
}

#[tokio::test]
async fn env_out_holds_the_secret_from_the_environment_in_a_private_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".env");
    // A file of an earlier run: replaced.
    std::fs::write(
        &path,
        "old contents\nSCALEKIT_ENV_URL=http://127.0.0.1:8787\n",
    )
    .unwrap();
    let mut running = start(&path, Some("s3cret-from-env"), &[]);
    // The old file is replaced whole, never appended to.
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::read_to_string(&path).unwrap().starts_with("old") {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    let (url, id, secret) = read_env(&path);
    assert_eq!(secret, "s3cret-from-env");
    assert!(url.starts_with("http://127.0.0.1:"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left behind");
    assert!(!api_token(&url, &id, &secret).await.is_empty());
    // Nothing on stdout when the lines go to a file.
    running.0.kill().unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(running.0.stdout.as_mut().unwrap(), &mut out).unwrap();
    assert_eq!(out, "");
}

#[test]
fn without_the_variable_the_secret_is_random() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.env"), dir.path().join("b.env"));
    let _first = start(&a, None, &[]);
    let _second = start(&b, None, &[]);
    let (secret_a, secret_b) = (read_env(&a).2, read_env(&b).2);
    assert_ne!(secret_a, secret_b);
    assert!(secret_a.len() >= 32 && secret_a != "emulator-secret");
}

#[test]
fn there_is_no_client_secret_flag() {
    let out = Command::new(BIN)
        .args(["--client-secret", "x", "--port", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--client-secret"));
}

#[tokio::test]
async fn by_default_any_connection_works_and_verification_is_custom() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".env");
    let _running = start(&path, None, &[]);
    let (url, id, secret) = read_env(&path);
    let client = reqwest::Client::new();
    let token = api_token(&url, &id, &secret).await;
    let link: Value = client
        .post(format!("{url}/api/v1/connected_accounts/magic_link"))
        .bearer_auth(&token)
        .json(&json!({"connector": "hubspot_x9", "identifier": "mess"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let link = link["link"].as_str().unwrap();
    let page = client.post(format!("{link}/approve")).send().await.unwrap();
    assert_eq!(page.status(), reqwest::StatusCode::BAD_REQUEST);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("user_verify_url not configured")
    );
}

#[tokio::test]
async fn connection_flags_restrict_the_names_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".env");
    let _running = start(
        &path,
        None,
        &["--connection", "gmail", "--user-verification", "disabled"],
    );
    let (url, id, secret) = read_env(&path);
    let client = reqwest::Client::new();
    let token = api_token(&url, &id, &secret).await;
    for (connector, expected) in [("gmail", 200), ("slack", 404)] {
        let answer = client
            .post(format!("{url}/api/v1/connected_accounts/magic_link"))
            .bearer_auth(&token)
            .json(&json!({"connector": connector, "identifier": "mess"}))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), expected, "{connector}");
    }
}

#[test]
fn a_busy_port_is_one_clear_line_and_nothing_is_written() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".env");
    let out = Command::new(BIN)
        .args(["--port", &port, "--env-out"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&port) && stderr.contains("--port"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"));
    assert!(out.stdout.is_empty());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// `--env-out` never replaces a real set-up without `--force` (newcomer review 2, F3), and says where it wrote
/// and what to run next.
#[test]
fn env_out_refuses_a_real_set_up_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".env");
    let real = "SCALEKIT_ENV_URL=https://acme.scalekit.dev\nSCALEKIT_CLIENT_ID=skc_1\nSCALEKIT_CLIENT_SECRET=real\n";
    std::fs::write(&path, real).unwrap();
    let out = Command::new(BIN)
        .args(["--port", "0", "--env-out"])
        .arg(&path)
        .env_remove(SECRET_VAR)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("another set-up") && stderr.contains("--force"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("real"),
        "the file's values are not shown: {stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        real,
        "nothing was changed"
    );

    let mut running = Command::new(BIN)
        .args(["--port", "0", "--force", "--env-out"])
        .arg(&path)
        .env_remove(SECRET_VAR)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut reader = std::io::BufReader::new(running.stderr.take().unwrap());
    for _ in 0..4 {
        std::io::BufRead::read_line(&mut reader, &mut first).unwrap();
    }
    let _ = running.kill();
    let _ = running.wait();
    assert!(
        first.contains(&path.display().to_string()),
        "says where: {first}"
    );
    assert!(
        first.contains(&format!(
            "get-token --env-file {} --wait gmail",
            path.display()
        )),
        "{first}"
    );
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(
        written.starts_with("# written by tokenbroker-emulator"),
        "{written}"
    );
    // The next start replaces its own file without --force.
    let _again = start(&path, None, &[]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::read_to_string(&path).unwrap() == written {
        assert!(Instant::now() < deadline, "its own file is replaced");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Without `--env-out`, `export` lines a shell can run.
#[test]
fn stdout_lines_are_exports() {
    let mut running = Command::new(BIN)
        .args(["--port", "0"])
        .env_remove(SECRET_VAR)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = std::io::BufReader::new(running.stdout.take().unwrap());
    let mut lines = String::new();
    for _ in 0..3 {
        std::io::BufRead::read_line(&mut reader, &mut lines).unwrap();
    }
    let _ = running.kill();
    let _ = running.wait();
    let names: Vec<&str> = lines
        .lines()
        .map(|l| l.split('=').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "export SCALEKIT_ENV_URL",
            "export SCALEKIT_CLIENT_ID",
            "export SCALEKIT_CLIENT_SECRET"
        ]
    );
}

/// An API token from the emulator at `url`, over raw HTTP.
async fn api_token(url: &str, id: &str, secret: &str) -> String {
    let answer: Value = reqwest::Client::new()
        .post(format!("{url}/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_owned()
}

/// Third review, A-6: `tokenbroker-emulator --env-out FILE` replaces a real set-up without `--force` when the first 4096
/// bytes of the file are not valid UTF-8 (`read_to_string` then fails and leaves the head empty, which
/// counts as "an empty file"): a Latin-1 comment, or a large .env whose 4096th byte falls inside a
/// multi-byte character.
#[test]
fn env_out_never_replaces_a_real_set_up_that_is_not_utf8_in_its_head() {
    let real_lines = "SCALEKIT_ENV_URL=https://acme.scalekit.dev\nSCALEKIT_CLIENT_ID=skc_1\nSCALEKIT_CLIENT_SECRET=real\n";
    let mut latin1 = b"# caf\xe9\n".to_vec();
    latin1.extend_from_slice(real_lines.as_bytes());
    let mut large = format!("# x{}\n", "é".repeat(3000)).into_bytes();
    large.extend_from_slice(real_lines.as_bytes());
    for (name, real) in [
        ("latin-1 comment", latin1),
        ("cut inside a character", large),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(&path, &real).unwrap();
        let mut child = std::process::Command::new(BIN)
            .args(["--port", "0", "--env-out"])
            .arg(&path)
            .env_remove("TOKENBROKER_EMULATOR_CLIENT_SECRET")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        let now = std::fs::read(&path).unwrap();
        assert!(
            now == real,
            "{name}: the real set-up was replaced without --force:\n{}",
            String::from_utf8_lossy(&now)
        );
    }
}
