//! `get-token init`: the first set-up, like `gh auth login`. Asks for (or takes) the environment URL, the
//! client ID and the secret, checks them with one token request, saves them to the `.env` get-token reads
//! (atomically, mode 0600), then lists the environment's connections and offers to add them.

use std::io::{BufRead, IsTerminal, Write};

use secrecy::SecretString;
use serde_json::{Value, json};
use tokenbroker::{Broker, Connection, Connections, Credentials, EnvironmentConnection};
use zeroize::Zeroizing;

use crate::args::{Global, InitArgs};
use crate::{exit, output, report};

/// A line typed or piped in: longer than any URL, ID or secret Scalekit issues.
const MAX_LINE: usize = 4096;

pub(crate) async fn run(global: &Global, args: &InitArgs) -> u8 {
    let Some(path) = crate::builder(global).env_file_path() else {
        return report::usage(
            global,
            "no home directory to keep the settings in; name the file with --env-file PATH",
        );
    };
    let existing = path.exists().then(|| Credentials::from_env_file(&path));
    let terminal = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let given = match ask(
        args,
        existing.as_ref().and_then(|e| e.as_ref().ok()),
        terminal,
    ) {
        Ok(given) => given,
        Err(message) => return report::usage(global, &message),
    };
    let saved = existing.as_ref().and_then(|e| e.as_ref().ok());
    let credentials = match (given.secret, saved) {
        (Some(secret), _) => Credentials::new(&given.url, &given.client_id, secret),
        // `ask` offered the saved secret only for the saved URL and client ID; `with_secret_for` checks
        // it again, so the saved secret cannot reach any other URL.
        (None, Some(saved)) => saved.with_secret_for(&given.url, &given.client_id),
        (None, None) => return report::usage(global, "no client secret given"),
    };
    let credentials = match credentials {
        Ok(c) => c,
        Err(e) => return report::fail(global, None, &e.into()),
    };
    // Decided before anything is sent: without --force, credentials for another set-up never leave.
    let changed = match &existing {
        Some(Ok(old)) if old.same_as(&credentials) => false,
        Some(_) if !args.force => {
            return report::usage(
                global,
                &format!(
                    "{} holds another set-up; nothing was changed or sent. To replace it: {} init --force",
                    path.display(),
                    report::invocation()
                ),
            );
        }
        _ => true,
    };
    let broker = match Broker::builder()
        .credentials(credentials.clone())
        .connections(Connections::new())
        .build()
    {
        Ok(b) => b,
        Err(e) => return report::fail(global, None, &e),
    };
    // One token request: nothing is written for credentials Scalekit does not accept.
    if let Err(e) = broker.verify_credentials().await {
        return report::fail(global, None, &e);
    }
    if changed && let Err(e) = credentials.write_env_file(&path) {
        return report::fail(global, None, &e);
    }
    global.tell(&format!(
        "get-token: ✓ Scalekit accepted the credentials; {} {}",
        if changed {
            "saved to"
        } else {
            "already set up in"
        },
        path.display()
    ));
    shadowed_by_environment(global);
    let listed = match broker.environment_connections().await {
        Ok(listed) => listed,
        Err(e) => {
            global.warn(&format!(
                "could not list the environment's connections: {e}"
            ));
            None
        }
    };
    let added = offer(global, args, listed.as_deref().map(Vec::as_slice), terminal);
    if global.json {
        let connections: Vec<Value> = listed
            .iter()
            .flat_map(|l| l.iter())
            .map(|c| json!({"name": c.name, "provider": c.provider, "type": c.kind}))
            .collect();
        output::print_json(json!({
            "status": "ok",
            "env_file": path.display().to_string(),
            "changed": changed,
            "connections": listed.is_some().then_some(connections),
            "added": added,
        }));
    }
    exit::OK
}

/// What was typed or piped in; no secret when Enter kept the saved one.
struct Given {
    url: String,
    client_id: String,
    secret: Option<SecretString>,
}

/// The three values: flags, then (on a terminal) prompts defaulting to the saved set-up; the secret is
/// never a flag (`ps` shows arguments): typed without echo, or the first line of stdin.
fn ask(args: &InitArgs, saved: Option<&Credentials>, terminal: bool) -> Result<Given, String> {
    let saved_url = saved.map(|s| s.env_url().as_str().trim_end_matches('/').to_owned());
    let saved_id = saved.map(|s| s.client_id().to_owned());
    if !terminal {
        let (Some(url), Some(client_id)) = (&args.env_url, &args.client_id) else {
            return Err("not on a terminal: give --env-url URL and --client-id ID, and the client secret \
                        on stdin, as in: printf '%s\\n' \"$SECRET\" | get-token init --env-url URL --client-id ID"
                .into());
        };
        // stdin may still be a terminal when stderr is not (`2>log`): no echo of what is typed then either.
        let _quiet = crate::harden::EchoOff::new();
        let secret = read_line(&mut std::io::stdin().lock())
            .map_err(|e| format!("cannot read the client secret from stdin: {e}"))?;
        if secret.trim().is_empty() {
            return Err("no client secret on stdin (the first line is read)".into());
        }
        return Ok(Given {
            url: url.clone(),
            client_id: client_id.clone(),
            secret: Some(SecretString::from(secret.trim())),
        });
    }
    eprintln!(
        "Set up get-token for a Scalekit environment. The values are in the Scalekit dashboard under \
         Developers > Settings > API Credentials."
    );
    let url = match &args.env_url {
        Some(url) => url.clone(),
        None => prompt_url(saved_url.as_deref())?,
    };
    let client_id = match &args.client_id {
        Some(id) => id.clone(),
        None => prompt("Client ID", saved_id.as_deref())?,
    };
    // The saved secret is offered only where it was saved: pressing Enter for a new URL would send it there.
    let keeps_saved = saved.is_some_and(|s| {
        Credentials::new(&url, &client_id, SecretString::from("-"))
            .is_ok_and(|c| c.env_url() == s.env_url() && c.client_id() == s.client_id())
    });
    let secret = prompt_secret(keeps_saved)?;
    let secret = match (secret.trim().is_empty(), keeps_saved) {
        (true, true) => None,
        (true, false) if saved.is_some() => {
            return Err(format!(
                "no client secret given; the saved one is kept for {} only: type the secret of {url}",
                saved_url.as_deref().unwrap_or("the saved environment")
            ));
        }
        (true, false) => return Err("no client secret given".into()),
        (false, _) => Some(SecretString::from(secret.trim())),
    };
    Ok(Given {
        url,
        client_id,
        secret,
    })
}

/// The environment URL, checked as soon as it is typed: a wrong one is said at once, and asked again (three
/// tries), before the client ID and the secret are asked for.
fn prompt_url(default: Option<&str>) -> Result<String, String> {
    let mut tries = 0;
    loop {
        let url = prompt("Environment URL", default)?;
        match Credentials::new(&url, "-", SecretString::from("-")) {
            Ok(_) => return Ok(url),
            Err(tokenbroker::CredentialsError::InvalidUrl { reason, .. }) if tries < 2 => {
                tries += 1;
                eprintln!(
                    "{}",
                    tokenbroker::printable(&format!(
                        "That is not an environment URL: {reason}. It looks like https://acme.scalekit.dev \
                         (Developers > Settings > API Credentials)."
                    ))
                );
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

fn prompt(what: &str, default: Option<&str>) -> Result<String, String> {
    match default {
        Some(d) => eprint!("{}", tokenbroker::printable(&format!("{what} [{d}]: "))),
        None => eprint!("{what}: "),
    }
    let _ = std::io::stderr().flush();
    let line = read_line(&mut std::io::stdin().lock()).map_err(|e| e.to_string())?;
    match (line.trim(), default) {
        ("", Some(d)) => Ok(d.to_owned()),
        ("", None) => Err(format!("no {} given", what.to_lowercase())),
        (value, _) => Ok(value.to_owned()),
    }
}

/// The secret, typed with the terminal's echo off (restored however the read ends).
fn prompt_secret(has_saved: bool) -> Result<Zeroizing<String>, String> {
    eprint!(
        "Client secret (not shown as you type{}): ",
        if has_saved {
            "; Enter keeps the saved one"
        } else {
            ""
        }
    );
    let _ = std::io::stderr().flush();
    let _quiet = crate::harden::EchoOff::new();
    let line = read_line(&mut std::io::stdin().lock()).map_err(|e| e.to_string());
    eprintln!();
    line
}

/// One line, at most [`MAX_LINE`] bytes, without its line break; the buffer is zeroed when dropped.
pub(crate) fn read_line(input: impl BufRead) -> std::io::Result<Zeroizing<String>> {
    let mut bytes = Zeroizing::new(Vec::new());
    input
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut bytes)?;
    if bytes.len() > MAX_LINE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("the line is longer than {MAX_LINE} bytes"),
        ));
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))?;
    Ok(Zeroizing::new(
        text.trim_end_matches(['\n', '\r']).to_owned(),
    ))
}

/// `SCALEKIT_*` set in this shell as well: get-token would refuse the two places if they disagree.
fn shadowed_by_environment(global: &Global) {
    let set: Vec<&str> = [
        "SCALEKIT_ENV_URL",
        "SCALEKIT_ENVIRONMENT_URL",
        "SCALEKIT_CLIENT_ID",
        "SCALEKIT_CLIENT_SECRET",
    ]
    .into_iter()
    .filter(|v| std::env::var_os(v).is_some())
    .collect();
    if !set.is_empty() {
        global.warn(&format!(
            "this shell also sets {}; get-token refuses credentials from two places that disagree: unset them \
             to use the saved ones",
            set.join(", ")
        ));
    }
}

/// The environment's OAuth connections not yet in connections.json: added on a terminal when the user says
/// so, all of them with `--add-connections`, else listed with the command that adds each. Returns the
/// services added.
fn offer(
    global: &Global,
    args: &InitArgs,
    listed: Option<&[EnvironmentConnection]>,
    terminal: bool,
) -> Vec<String> {
    let Some(listed) = listed else {
        global.tell(
            "get-token: this environment does not list its connections through the API; find their names in \
             the Scalekit dashboard under Agent Auth > Connections, then: get-token config add SERVICE NAME",
        );
        return Vec::new();
    };
    let file = match crate::builder(global).connections_file() {
        Ok(f) => f,
        Err(e) => {
            global.warn(&e.to_string());
            return Vec::new();
        }
    };
    let configured = file.load().unwrap_or_default();
    let known: Vec<&String> = configured.iter().map(|(_, c)| &c.connection_name).collect();
    let fresh: Vec<&EnvironmentConnection> = listed
        .iter()
        .filter(|c| c.kind.as_deref().is_none_or(|k| k == "OAUTH"))
        .filter(|c| !known.contains(&&c.name))
        .collect();
    if fresh.is_empty() {
        global.tell(&format!(
            "get-token: connections.json has every OAuth connection of the environment ({} in all)",
            listed.len()
        ));
        return Vec::new();
    }
    let mut added = Vec::new();
    for c in fresh {
        let service = service_name(&c.name, &configured, &added);
        let command = format!(
            "{} config add {} {}",
            report::invocation(),
            output::shell_word(&service),
            output::shell_quote(&c.name)
        );
        let add = args.add_connections
            || (terminal
                && !global.json
                && confirm(&format!(
                    "Add the connection {} ({}) as \"{service}\"? [Y/n] ",
                    c.name,
                    c.provider.as_deref().unwrap_or("?")
                )));
        if !add {
            global.tell(&format!("get-token: to add {}: {command}", c.name));
            continue;
        }
        match file.set(&service, Connection::new(&c.name)) {
            Ok(_) => {
                global.tell(&format!(
                    "get-token: ✓ added {service} (connection {})",
                    c.name
                ));
                added.push(service);
            }
            Err(e) => global.warn(&format!("could not add {}: {e}", c.name)),
        }
    }
    if let Some(first) = added.first() {
        global.tell(&format!(
            "get-token: next: {} {first} --wait (the user approves once), then {} {first}",
            report::invocation(),
            report::invocation()
        ));
    }
    added
}

/// A service name for a connection: its name before the first `_` (gmail_u3134a → gmail), unless taken
/// or not a valid service name; then the whole name, with every character a service name cannot have
/// (the list comes from Scalekit, untrusted) made `_`; `SERVICE` when even that is not valid.
fn service_name(connection: &str, configured: &Connections, added: &[String]) -> String {
    let short: String = connection
        .split(['_', ' ', ':'])
        .next()
        .unwrap_or(connection)
        .to_ascii_lowercase();
    let free = |name: &str| configured.get(name).is_err() && !added.iter().any(|a| a == name);
    let valid = |name: &str| Connections::new().with(name, Connection::new("x")).is_ok();
    if !short.is_empty() && free(&short) && valid(&short) {
        return short;
    }
    let whole: String = connection
        .to_ascii_lowercase()
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '-' | '.' => c,
            _ => '_',
        })
        .collect();
    if valid(&whole) {
        whole
    } else {
        "SERVICE".into()
    }
}

fn confirm(question: &str) -> bool {
    eprint!("{}", tokenbroker::printable(question));
    let _ = std::io::stderr().flush();
    match read_line(&mut std::io::stdin().lock()) {
        Ok(answer) => matches!(answer.trim(), "" | "y" | "Y" | "yes" | "Yes" | "YES"),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_bounded_and_lose_their_break() {
        let mut input = std::io::Cursor::new(b"secret\r\nnext\n".to_vec());
        assert_eq!(read_line(&mut input).unwrap().as_str(), "secret");
        let mut long = std::io::Cursor::new(vec![b'a'; MAX_LINE + 10]);
        assert!(read_line(&mut long).is_err());
    }

    #[test]
    fn service_names_from_connection_names() {
        let none = Connections::new();
        assert_eq!(service_name("gmail_u3134a", &none, &[]), "gmail");
        assert_eq!(service_name("Slack", &none, &[]), "slack");
        assert_eq!(
            service_name("gmail_work", &none, &["gmail".into()]),
            "gmail_work"
        );
        // Review 2, L-H: a hostile name from the environment's list never becomes shell syntax.
        assert_eq!(
            service_name("crm;{touch,/tmp/x};#", &none, &[]),
            "crm__touch__tmp_x___"
        );
        assert_eq!(service_name(";;", &none, &[]), "SERVICE");
    }
}
