//! git's credential helper protocol (`git credential`, gitcredentials(7)): git writes `key=value` lines on
//! stdin, and for `get` reads a user name and password back. The host picks the service through the same
//! host rules as `--for-url`; the token goes to git, which sends it to that host, and nowhere else.
//!
//! git's stdin is untrusted input like any other: it is read with a size cap, a NUL or an overlong line ends
//! it, only `https` (`http` on loopback) is answered, and anything this helper will not answer is declined
//! the way the protocol declines: no output, exit 0, so git goes on to its other helpers or a prompt.

use std::io::{BufRead, Read};
use std::time::{Duration, SystemTime};

use tokenbroker::{Broker, Error};

use crate::args::{GitOperation, Global};
use crate::{exit, output, report};

/// git's own limit on a line; a whole request is a few hundred bytes.
const MAX_LINE: usize = 65_535;
const MAX_INPUT: u64 = 64 * 1024;
/// Sent as the expiry when Scalekit gave none: git must not keep the token in other helpers for long.
const UNKNOWN_EXPIRY: Duration = Duration::from_secs(300);

/// What git asked about.
#[derive(Debug, Default, PartialEq, Eq)]
struct Request {
    protocol: Option<String>,
    host: Option<String>,
    path: Option<String>,
}

pub(crate) async fn credential(
    global: &Global,
    operation: GitOperation,
    identifier: Option<&str>,
) -> u8 {
    let request = match read_request(std::io::stdin().lock()) {
        Ok(r) => r,
        Err(why) => {
            global.tell(&format!(
                "get-token git-credential: ignored git's request: {why}"
            ));
            return exit::OK;
        }
    };
    if operation != GitOperation::Get {
        // Nothing is stored, so nothing is erased: each `get` asks Scalekit (or its cache) afresh.
        return exit::OK;
    }
    let Some(url) = request.url() else {
        return exit::OK;
    };
    let broker = match crate::broker(global) {
        Ok(b) => b,
        Err(e) => return decline(global, &e),
    };
    let service = match broker.connections().service_for_url(&url) {
        Ok(s) => s.to_owned(),
        Err(e) => return decline(global, &e.into()),
    };
    match token(&broker, &service, identifier).await {
        Ok((token, expiry)) => {
            let host = request.host.as_deref().unwrap_or_default();
            let answer = format!(
                "username={}\npassword={token}\npassword_expiry_utc={expiry}\n",
                user_for(host)
            );
            if output::print(answer) {
                exit::OK
            } else {
                exit::UNEXPECTED
            }
        }
        Err(e) => decline(global, &e),
    }
}

async fn token(
    broker: &Broker,
    service: &str,
    identifier: Option<&str>,
) -> Result<(String, u64), Error> {
    let token = match identifier {
        Some(id) => broker.get_token_for(service, id).await?,
        None => broker.get_token(service).await?,
    };
    let expiry = token
        .expires_at()
        .unwrap_or_else(|| SystemTime::now() + UNKNOWN_EXPIRY)
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Ok((token.expose_secret().to_owned(), expiry))
}

/// No credential: git shows our stderr to the user (the link to authorize, or what is wrong) and goes on.
fn decline(global: &Global, e: &Error) -> u8 {
    global.tell(&report::describe(None, e));
    exit::OK
}

impl Request {
    /// The URL to look the service up by, when the protocol is one a token may travel over.
    fn url(&self) -> Option<String> {
        let (protocol, host) = (self.protocol.as_deref()?, self.host.as_deref()?);
        // Only a plain host name (and port): anything else (`@`, `/`, `#`, `%`, a backslash) could make this
        // URL name another host than the one git will connect to.
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        {
            return None;
        }
        let path = self.path.as_deref().unwrap_or_default();
        // The host rules (https, or http on loopback; no user name) are `--for-url`'s, applied by the lookup.
        matches!(protocol, "https" | "http").then(|| format!("{protocol}://{host}/{path}"))
    }
}

/// The user name the host expects with a token as the password.
fn user_for(host: &str) -> &'static str {
    let host = host
        .split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    // `github.com.` (the fully qualified form) is the same host.
    match host.trim_end_matches('.') {
        "github.com" => "x-access-token",
        "bitbucket.org" => "x-token-auth",
        // GitLab requires it; most other hosts ignore the user name with an OAuth token.
        _ => "oauth2",
    }
}

/// git's request, up to a blank line or the end of input.
fn read_request(input: impl Read) -> Result<Request, String> {
    let mut reader = std::io::BufReader::new(input.take(MAX_INPUT + 1));
    let (mut request, mut total, mut line) = (Request::default(), 0usize, Vec::new());
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("cannot read it ({e})"))?;
        total += n;
        if total as u64 > MAX_INPUT {
            return Err(format!("it is longer than {MAX_INPUT} bytes"));
        }
        if line.len() > MAX_LINE + 1 {
            return Err("a line is longer than git allows".into());
        }
        if line.contains(&0) {
            return Err("it holds a NUL byte".into());
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        if n == 0 || text.is_empty() {
            return Ok(request);
        }
        let Some((key, value)) = text.split_once('=') else {
            return Err("a line is not key=value".into());
        };
        let value = Some(value.to_owned());
        match key {
            "protocol" => request.protocol = value,
            "host" => request.host = value,
            "path" => request.path = value,
            // capability[], wwwauth[], username and the rest: nothing this helper needs.
            _ => {}
        }
    }
}

/// `get-token setup-git`: git asks get-token for these hosts' credentials from now on.
pub(crate) fn setup(global: &Global, hosts: &[String]) -> u8 {
    let hosts: Vec<String> = if hosts.is_empty() {
        match crate::broker(global) {
            Ok(b) => default_hosts(&b),
            Err(e) => return report::fail(global, None, &e),
        }
    } else {
        hosts.to_vec()
    };
    if hosts.is_empty() {
        return report::usage(
            global,
            "no service is configured for github.com or gitlab.com; name the git host with --host",
        );
    }
    let helper = format!("!{} git-credential", invocation(global));
    for host in &hosts {
        if host.contains(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))) {
            return report::usage(
                global,
                &format!("{} is not a host name", tokenbroker::printable(host)),
            );
        }
        let key = format!("credential.https://{host}.helper");
        // An empty value first resets the helpers configured before for this host, as `gh auth setup-git`
        // does: otherwise a stored (and stale) password from another helper would be used before ours.
        for args in [
            vec!["config", "--global", "--replace-all", &key, ""],
            vec!["config", "--global", "--add", &key, &helper],
        ] {
            match std::process::Command::new("git").args(&args).status() {
                Ok(s) if s.success() => {}
                Ok(s) => {
                    return report::usage(global, &format!("git config failed ({s}) for {host}"));
                }
                Err(e) => return report::usage(global, &format!("cannot run git: {e}")),
            }
        }
        global.tell(&format!(
            "get-token: git now asks get-token for https://{host} credentials."
        ));
    }
    exit::OK
}

/// The git hosts of the configured services.
fn default_hosts(broker: &Broker) -> Vec<String> {
    ["github.com", "gitlab.com"]
        .into_iter()
        .filter(|host| {
            broker
                .connections()
                .service_for_url(&format!("https://{host}/"))
                .is_ok()
        })
        .map(str::to_owned)
        .collect()
}

/// How git should run this get-token: by name when the same binary is first on PATH (it survives an
/// upgrade in place), else by its absolute path; with the configuration options this run was given.
fn invocation(global: &Global) -> String {
    let me = std::env::current_exe()
        .ok()
        .and_then(|p| p.canonicalize().ok());
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("get-token"))
            .find(|p| p.is_file())
            .and_then(|p| p.canonicalize().ok())
    });
    let mut words = vec![match (&me, &on_path) {
        (Some(a), Some(b)) if a == b => "get-token".to_owned(),
        (Some(a), _) => output::shell_quote(&a.display().to_string()),
        _ => "get-token".to_owned(),
    }];
    words.extend(global.config_options());
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_read_with_limits() {
        let r = read_request(
            &b"capability[]=authtype\nprotocol=https\nhost=github.com\npath=o/r.git\nwwwauth[]=Basic\n\nprotocol=ftp\n"[..],
        )
        .unwrap();
        assert_eq!(r.url().as_deref(), Some("https://github.com/o/r.git"));
        assert!(
            read_request(&b"host=a\0b\n"[..])
                .unwrap_err()
                .contains("NUL")
        );
        assert!(read_request(&b"just text\n"[..]).is_err());
        let long = format!("host={}\n", "a".repeat(70_000));
        assert!(read_request(long.as_bytes()).is_err());
        let many = "k=v\n".repeat(20_000);
        assert!(
            read_request(many.as_bytes())
                .unwrap_err()
                .contains("longer than")
        );
        assert_eq!(read_request(&b""[..]).unwrap(), Request::default());
        let ssh = read_request(&b"protocol=ssh\nhost=github.com\n"[..]).unwrap();
        assert_eq!(ssh.url(), None);
        for host in [
            "evil.test@github.com",
            "evil.test/github.com",
            "github.com#x",
            "evil%2e.test",
            "a\\b",
        ] {
            let r = Request {
                protocol: Some("https".into()),
                host: Some(host.into()),
                path: None,
            };
            assert_eq!(r.url(), None, "{host}");
        }
    }

    #[test]
    fn user_names_by_host() {
        assert_eq!(user_for("github.com"), "x-access-token");
        assert_eq!(user_for("GitLab.com:443"), "oauth2");
        assert_eq!(user_for("bitbucket.org"), "x-token-auth");
        // Review 2, part 4: the fully qualified name is the same host.
        assert_eq!(user_for("github.com."), "x-access-token");
        assert_eq!(user_for("GitHub.com.:443"), "x-access-token");
    }
}
