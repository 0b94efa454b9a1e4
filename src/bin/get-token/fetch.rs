//! Getting tokens for several services at once, waiting for the user when asked to.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokenbroker::{AccessToken, AuthorizationRequired, Broker, Error, WaitOptions};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::args::{Global, Show, Wait};
use crate::{output, present, report};
use tokenbroker::listener::{self, Listener};
use tokenbroker::port;

/// At most this many services are worked on at once, whatever connections.json holds: a command must not
/// turn a long file into a burst of requests.
pub(crate) const MAX_CONCURRENT: usize = 8;

/// Runs `job` for every service, at most [`MAX_CONCURRENT`] at a time; the results come back in argument
/// order.
pub(crate) async fn each<T, F, Fut>(services: &[String], job: F) -> Vec<Result<T, Error>>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<T, Error>> + Send + 'static,
    T: Send + 'static,
{
    let permits = Arc::new(Semaphore::new(MAX_CONCURRENT));
    let tasks: Vec<_> = services
        .iter()
        .map(|s| {
            let (permits, work) = (permits.clone(), job(s.clone()));
            tokio::spawn(async move {
                let _permit = permits.acquire_owned().await;
                work.await
            })
        })
        .collect();
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.unwrap_or_else(|e| {
            Err(Error::Protocol {
                endpoint: "get-token",
                detail: format!("a task failed: {e}"),
            })
        }));
    }
    results
}

/// `--wait 5 gmail` reads 5 as a service: say how to write it rather than report service "5" unknown.
pub(crate) fn check_wait_syntax(services: &[String], wait: &Wait) -> Result<(), String> {
    match services.iter().find(|s| s.parse::<u64>().is_ok()) {
        Some(n) if wait.seconds.is_some() => Err(format!(
            "\"{n}\" is not a service; to wait {n} seconds write --wait={n}"
        )),
        _ => Ok(()),
    }
}

/// Tokens for `services`, fetched concurrently on one broker (one HTTP connection, one API token); with
/// `wait`, waiting for the user (and listening for the verification redirect) where one must act.
pub(crate) async fn tokens(
    broker: &Broker,
    services: &[String],
    identifier: Option<&str>,
    wait: &Wait,
    global: &Global,
) -> Vec<Result<AccessToken, Error>> {
    let (show, wait) = (wait.show, wait.limit().map(|l| global.within_timeout(l)));
    let work = each(services, |service| {
        let (broker, identifier, global) = (
            broker.clone(),
            identifier.map(str::to_owned),
            global.clone(),
        );
        async move {
            let first = match &identifier {
                Some(id) => broker.get_token_for(&service, id).await,
                None => broker.get_token(&service).await,
            };
            match (first, wait) {
                (Err(Error::AuthorizationRequired(auth)), Some(limit)) => {
                    wait_for(&broker, *auth, limit, &global, show).await
                }
                (Err(Error::VerificationPending(p)), Some(limit)) => {
                    global.tell(&report::describe(
                        Some(&service),
                        &Error::VerificationPending(p),
                    ));
                    let options = WaitOptions::default().timeout(limit);
                    broker
                        .wait_until_active(&service, identifier.as_deref(), &options)
                        .await
                }
                (other, _) => other,
            }
        }
    });
    match wait {
        Some(_) => {
            let accounts = accounts(broker, services, identifier);
            with_listener(broker, global, &accounts, work).await
        }
        // A link is relayed for a later `wait`: not when the port it sends the browser to is another user's.
        None => {
            let results = work.await;
            let link =
                |r: &Result<AccessToken, Error>| matches!(r, Err(Error::AuthorizationRequired(_)));
            match results.iter().any(link).then(|| port_taken(broker, global)) {
                Some(Some(e)) => results
                    .into_iter()
                    .map(|r| if link(&r) { Err(e.clone()) } else { r })
                    .collect(),
                _ => results,
            }
        }
    }
}

/// Past a relayed link's expiry, how long `wait` still watches (a user who approved in its last second).
const AFTER_EXPIRY: Duration = Duration::from_secs(3);

/// `get-token wait`: waits up to `limit` without asking for links, and no longer than a few seconds past
/// `link_expires` (the relayed link's expiry, from `next`); then exactly one fresh link per service still
/// waiting for a click, marked as replacing the expired one.
pub(crate) async fn wait_only(
    broker: &Broker,
    services: &[String],
    identifier: Option<&str>,
    limit: Duration,
    link_expires: Option<SystemTime>,
    global: &Global,
) -> Vec<Result<AccessToken, Error>> {
    let live = link_expires.map(|at| at.duration_since(SystemTime::now()).unwrap_or_default());
    let limit = live.map_or(limit, |live| limit.min(live + AFTER_EXPIRY));
    let work = each(services, |service| {
        let (broker, identifier) = (broker.clone(), identifier.map(str::to_owned));
        async move {
            let options = WaitOptions::default().timeout(limit);
            match broker
                .wait_until_active(&service, identifier.as_deref(), &options)
                .await
            {
                Err(Error::WaitTimedOut { .. }) => {
                    match broker
                        .authorization_link(&service, identifier.as_deref())
                        .await
                    {
                        Ok(mut auth) => {
                            auth.replaces_expired_link =
                                link_expires.is_some_and(|at| at <= SystemTime::now());
                            Err(Error::AuthorizationRequired(Box::new(auth)))
                        }
                        Err(e) => Err(e),
                    }
                }
                other => other,
            }
        }
    });
    // Said once the listener is up: a user who acts on it finds it there.
    let work = async {
        global.tell(&format!(
            "get-token: waiting up to {} s for {} (Ctrl-C to stop).",
            limit.as_secs(),
            services.join(", ")
        ));
        work.await
    };
    let accounts = accounts(broker, services, identifier);
    with_listener(broker, global, &accounts, work).await
}

/// [`wait_for`] with the loopback listener beside it: for `authorize --wait`.
pub(crate) async fn wait_listening(
    broker: &Broker,
    auth: AuthorizationRequired,
    limit: Duration,
    global: &Global,
    show: Show,
) -> Result<AccessToken, Error> {
    let account = (auth.service.clone(), auth.identifier.clone());
    let work = async { vec![wait_for(broker, auth, limit, global, show).await] };
    let mut results = with_listener(broker, global, &[account], work).await;
    results.pop().unwrap_or_else(|| {
        Err(Error::Protocol {
            endpoint: "get-token",
            detail: "the wait ended without an outcome".into(),
        })
    })
}

/// The accounts a wait is for, as the listener knows them.
fn accounts(
    broker: &Broker,
    services: &[String],
    identifier: Option<&str>,
) -> Vec<listener::Account> {
    services
        .iter()
        .filter_map(|s| broker.resolve(s, identifier).ok())
        .map(|t| (t.service, t.identifier))
        .collect()
}

/// The refusal to relay a link, when links send the browser to get-token's loopback listener and a program
/// of another local user holds its port (it would get the redirect): for paths that relay a link before
/// any listener is started (MCP).
pub(crate) fn port_taken(broker: &Broker, global: &Global) -> Option<Error> {
    let port = global.port().unwrap_or(listener::DEFAULT_PORT);
    if broker.user_verify_url() != Some(&listener::verify_url(port)) {
        return None;
    }
    port::suspect(port).map(|uid| tokenbroker::VerificationError::PortTaken { port, uid }.into())
}

/// Runs `work` with the loopback listener beside it, when links send the browser there. A port held by
/// another user ends the wait before any link is relayed ([`VerificationError::PortTaken`]); one held by
/// another program of this user (another wait) is taken over when it is free, and meanwhile that wait's
/// listener completes this one's verification. A verification that fails is said on stderr; the wait goes
/// on (a replayed address must not end it).
///
/// [`VerificationError::PortTaken`]: tokenbroker::VerificationError::PortTaken
pub(crate) async fn with_listener(
    broker: &Broker,
    global: &Global,
    accounts: &[listener::Account],
    work: impl Future<Output = Vec<Result<AccessToken, Error>>>,
) -> Vec<Result<AccessToken, Error>> {
    let port = global.port().unwrap_or(listener::DEFAULT_PORT);
    if broker.user_verify_url() != Some(&listener::verify_url(port)) {
        return work.await;
    }
    // Before any link is relayed: a port another user holds would get the redirect.
    let first = Listener::bind(port).await;
    if first.is_err()
        && let Some(uid) = port::suspect(port)
    {
        let e = Error::from(tokenbroker::VerificationError::PortTaken { port, uid });
        return accounts.iter().map(|_| Err(e.clone())).collect();
    }
    let failed = |e: &Error| global.tell(&report::describe(None, e));
    let serve = async {
        let mut bound = first;
        let mut told = false;
        loop {
            match bound {
                Ok(listening) => return listening.serve(broker, accounts, failed).await,
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                    if let Some(uid) = port::suspect(port) {
                        let e = tokenbroker::VerificationError::PortTaken { port, uid };
                        global.tell(&report::describe(None, &e.into()));
                        return std::future::pending().await;
                    }
                    if !told {
                        told = true;
                        global.tell(&format!(
                            "get-token: another program of yours listens on 127.0.0.1:{port} (another \
                             get-token wait completes this verification too); this one listens once it ends."
                        ));
                    }
                }
                Err(e) => {
                    global.tell(&format!(
                        "get-token: cannot listen on 127.0.0.1:{port} ({e}); if the browser shows an address \
                         starting with http://127.0.0.1:{port} after approving, pass it to `get-token verify -`."
                    ));
                    return std::future::pending().await;
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            bound = Listener::bind(port).await;
        }
    };
    tokio::pin!(work);
    tokio::pin!(serve);
    tokio::select! {
        results = &mut work => results,
        // All verified: the polls see the accounts active within a poll interval.
        () = &mut serve => work.await,
    }
}

/// Shows each link on stderr (or as a JSON line) and waits up to `limit` for the user, with a new link
/// whenever one expires (the broker's loop; this only says what happens).
pub(crate) async fn wait_for(
    broker: &Broker,
    auth: AuthorizationRequired,
    limit: Duration,
    global: &Global,
    show: Show,
) -> Result<AccessToken, Error> {
    let deadline = Instant::now() + limit;
    let on_link = |auth: &AuthorizationRequired| {
        present::clear_countdown(global);
        let left = deadline.saturating_duration_since(Instant::now());
        if auth.expires_in() == Some(Duration::ZERO) {
            global.tell(&format!(
                "get-token: the link for {} had already expired when it arrived (is this machine's clock \
                 right?); asking for another shortly.",
                auth.service
            ));
        } else {
            if global.json && !global.quiet {
                output::say_json(report::json_authorization(auth));
            } else {
                global.tell(&report::waiting(auth, left));
            }
            present::link(global, show, &auth.url);
        }
    };
    let service = auth.service.clone();
    let options = WaitOptions::default().timeout(limit);
    let waiting = broker.wait_renewing_links(auth, &options, on_link);
    let outcome = present::countdown(global, deadline, waiting).await;
    if outcome.is_ok() && !global.json {
        global.tell(&format!("get-token: ✓ {service} is authorized."));
    }
    outcome
}
