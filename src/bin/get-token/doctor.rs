//! `get-token doctor`: every step a new user needs, checked in order, each with its fix.

use serde_json::json;
use tokenbroker::{Connections, CredentialsError, Error};

use crate::args::Global;
use crate::{exit, fetch, output};

/// One step's outcome.
struct Check {
    what: String,
    detail: String,
    /// What to do; `None` when the step passed.
    fix: Option<String>,
    /// The exit code this failure stands for.
    code: u8,
    warning: bool,
}

impl Check {
    fn pass(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            detail: detail.into(),
            fix: None,
            code: exit::OK,
            warning: false,
        }
    }

    /// Worth fixing, but nothing fails because of it: shown with `!`, and the exit code stays 0.
    fn warning(what: impl Into<String>, detail: &str) -> Self {
        Self {
            what: what.into(),
            detail: detail.to_owned(),
            fix: None,
            code: exit::OK,
            warning: true,
        }
    }

    fn fail(what: impl Into<String>, e: &Error) -> Self {
        Self::problem(what, e.to_string(), crate::hint::hint(e), exit::code_for(e))
    }

    fn problem(what: impl Into<String>, detail: String, fix: String, code: u8) -> Self {
        Self {
            what: what.into(),
            detail,
            fix: Some(fix),
            code,
            warning: false,
        }
    }
}

pub(crate) async fn run(global: &Global, services: &[String]) -> u8 {
    let checks = checks(global, services).await;
    let code = checks
        .iter()
        .find(|c| c.fix.is_some())
        .map_or(exit::OK, |c| c.code);
    let text = if global.json {
        let list: Vec<_> = checks
            .iter()
            .map(|c| {
                json!({"check": c.what, "ok": c.fix.is_none(), "warning": c.warning, "detail": c.detail, "fix": c.fix})
            })
            .collect();
        let status = if code == exit::OK { "ok" } else { "problems" };
        return if output::print_json(json!({"status": status, "checks": list})) {
            code
        } else {
            exit::UNEXPECTED
        };
    } else {
        let mut text = String::new();
        for c in &checks {
            let mark = match (&c.fix, c.warning) {
                (Some(_), _) => "✗",
                (None, true) => "!",
                (None, false) => "✓",
            };
            text.push_str(&format!("{mark} {}: {}\n", c.what, c.detail));
            if let Some(fix) = &c.fix {
                text.push_str(&format!("    fix: {fix}\n"));
            }
        }
        text
    };
    if output::print(text) {
        code
    } else {
        exit::UNEXPECTED
    }
}

/// What doctor can say about user verification. Scalekit does not report an environment's mode through
/// its API, so this says what links will do, and what each mode needs.
fn verification(broker: &tokenbroker::Broker) -> Check {
    let modes = "Scalekit's User Verification mode (dashboard: AgentKit > User Verification) is not visible \
                 through its API. Custom: after approving, the browser is sent to the address below, and \
                 get-token completes the verification (its listener while `get-token wait` or --wait runs on \
                 the machine with the browser; elsewhere the user copies the address back for `get-token \
                 verify`). Scalekit users only: whoever approves must be signed in to the Scalekit dashboard \
                 as a member of the workspace. Disabled (older environments only): approving is enough. An \
                 account in PENDING_VERIFICATION shows that the environment verifies users.";
    match broker.user_verify_url() {
        Some(url) if url.host_str() == Some("127.0.0.1") => Check::pass(
            "user verification",
            format!("links send the browser to get-token's listener at {url}. {modes}"),
        ),
        Some(url) => Check::pass(
            "user verification",
            format!(
                "links send the browser to {url} (SCALEKIT_USER_VERIFY_URL), which must complete it. {modes}"
            ),
        ),
        None => Check::warning(
            "user verification",
            &format!(
                "links carry no user_verify_url: in Custom mode no account can become active. {modes}"
            ),
        ),
    }
}

async fn checks(global: &Global, only: &[String]) -> Vec<Check> {
    let mut checks = Vec::new();
    // connections.json is looked at first but reported last, after the credentials it does not depend on.
    let connections = match crate::builder(global).connections_file() {
        Ok(file) if file.exists() => file.load().map_err(Error::from),
        Ok(file) => Err(Error::from(tokenbroker::ConfigError::ConnectionsNotFound {
            looked: vec![format!("{}: not found", file.path().display())],
        })),
        Err(e) => Err(e),
    };
    let connections_check = match &connections {
        Ok(c) => Check::pass(
            "connections.json",
            format!(
                "{} ({} service{}: {})",
                c.source().map_or("-".into(), |p| p.display().to_string()),
                c.services().count(),
                if c.services().count() == 1 { "" } else { "s" },
                c.services().collect::<Vec<_>>().join(", ")
            ),
        ),
        Err(e) => Check::fail("connections.json", e),
    };
    let broker = crate::builder(global)
        .connections(connections.clone().unwrap_or_else(|_| Connections::new()))
        .build();
    let broker = match broker {
        Ok(b) => b,
        Err(e) => {
            if let Error::Credentials(CredentialsError::InvalidUrl { .. }) = e {
                checks.push(Check::pass("credentials", "found"));
                checks.push(Check::fail("environment URL", &e));
            } else {
                checks.push(Check::fail("credentials", &e));
            }
            checks.push(connections_check);
            return checks;
        }
    };
    checks.extend(
        broker
            .warnings()
            .iter()
            .map(|w| Check::warning("file permissions", w)),
    );
    let credentials = broker.credentials();
    let [url_from, id_from, secret_from] = credentials.sources();
    checks.push(Check::pass(
        "credentials",
        format!(
            "client ID {} from {id_from}, client secret from {secret_from}",
            credentials.client_id()
        ),
    ));
    checks.push(Check::pass(
        "environment URL",
        format!("{} (from {url_from})", credentials.env_url()),
    ));
    match broker.verify_credentials().await {
        Ok(()) => {
            checks.push(Check::pass(
                "Scalekit reachable",
                credentials.env_url().as_str(),
            ));
            checks.push(Check::pass(
                "credentials accepted",
                "an API token was issued",
            ));
        }
        Err(e @ Error::Unavailable { .. }) => {
            checks.push(Check::fail("Scalekit reachable", &e));
            checks.push(connections_check);
            return checks;
        }
        Err(e) => {
            checks.push(Check::pass(
                "Scalekit reachable",
                credentials.env_url().as_str(),
            ));
            checks.push(Check::fail("credentials accepted", &e));
            checks.push(connections_check);
            return checks;
        }
    }
    checks.push(connections_check);
    checks.push(verification(&broker));
    let services: Vec<String> = if only.is_empty() {
        broker.connections().services().map(str::to_owned).collect()
    } else {
        only.to_vec()
    };
    let accounts = fetch::each(&services, |service| {
        let broker = broker.clone();
        async move {
            let row = broker.account_info(&service, None).await?;
            if row.1.is_none() {
                probe_connection(&broker, &service).await?;
            }
            Ok(row)
        }
    })
    .await;
    for (service, account) in services.iter().zip(accounts) {
        checks.push(match account {
            Ok((target, Some(info))) if info.status.is_active() => Check::pass(
                service,
                format!(
                    "ACTIVE (connection {}, identifier {})",
                    target.connection_name, target.identifier
                ),
            ),
            Ok((target, info)) => Check::problem(
                service,
                format!(
                    "{} (connection {}, identifier {}, {})",
                    info.as_ref().map_or("NOT_CONNECTED", |i| i.status.as_str()),
                    target.connection_name,
                    target.identifier,
                    target.identifier_source
                ),
                crate::status::fix_for(service, info.as_ref()),
                exit::AUTHORIZATION_REQUIRED,
            ),
            Err(e) => Check::fail(service, &e),
        });
    }
    checks
}

/// A service without an account: is its connection name one the environment has? The environment's list
/// tells when Scalekit offers it; otherwise asking for a link does (Scalekit refuses one for an unknown
/// connector), which creates the account as `get-token SERVICE` would.
async fn probe_connection(broker: &tokenbroker::Broker, service: &str) -> Result<(), Error> {
    broker.check_connection(service).await?;
    if broker.environment_connections().await?.is_none()
        && let Err(e @ Error::UnknownConnection { .. }) =
            broker.authorization_link(service, None).await
    {
        return Err(e);
    }
    // Any other outcome says nothing about the name; the account's check says the rest.
    Ok(())
}
