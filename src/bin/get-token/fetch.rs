//! Getting tokens for several services at once, waiting for the user when asked to.

use std::future::Future;
use std::time::Duration;

use tokenbroker::{AccessToken, AuthorizationRequired, Broker, Error, WaitOptions};
use tokio::time::Instant;

use crate::args::Wait;
use crate::output;

/// Runs `job` for every service concurrently; the results come back in argument order.
pub(crate) async fn each<T, F, Fut>(services: &[String], job: F) -> Vec<Result<T, Error>>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<T, Error>> + Send + 'static,
    T: Send + 'static,
{
    let tasks: Vec<_> = services
        .iter()
        .map(|s| tokio::spawn(job(s.clone())))
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
            "get-token: error: \"{n}\" is not a service; to wait {n} seconds write --wait={n}"
        )),
        _ => Ok(()),
    }
}

/// Tokens for `services`, fetched concurrently on one broker (one HTTP connection, one API token).
pub(crate) async fn tokens(
    broker: &Broker,
    services: &[String],
    identifier: Option<&str>,
    wait: Option<Duration>,
    quiet: bool,
) -> Vec<Result<AccessToken, Error>> {
    each(services, |service| {
        let (broker, identifier) = (broker.clone(), identifier.map(str::to_owned));
        async move {
            let first = match &identifier {
                Some(id) => broker.get_token_for(&service, id).await,
                None => broker.get_token(&service).await,
            };
            match (first, wait) {
                (Err(Error::AuthorizationRequired(auth)), Some(limit)) => {
                    wait_for(&broker, *auth, limit, quiet).await
                }
                (other, _) => other,
            }
        }
    })
    .await
}

/// Less time than this left is not worth a new link: nobody opens and approves one that fast.
const MIN_LINK_TIME: Duration = Duration::from_secs(2);

/// Shows the link on stderr and waits up to `limit` for the user, with a new link whenever one expires.
pub(crate) async fn wait_for(
    broker: &Broker,
    mut auth: AuthorizationRequired,
    limit: Duration,
    quiet: bool,
) -> Result<AccessToken, Error> {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if !quiet {
            eprintln!("{}", output::waiting(&auth, left));
        }
        let outcome = broker
            .wait_for_authorization(&auth, &WaitOptions::default().timeout(left))
            .await;
        match outcome {
            // A new link only when there is time left to use it.
            Err(Error::LinkExpired(_))
                if deadline.saturating_duration_since(Instant::now()) > MIN_LINK_TIME =>
            {
                let source = auth.identifier_source.clone();
                auth = broker
                    .authorization_link(&auth.service, Some(&auth.identifier))
                    .await?;
                auth.identifier_source = source;
            }
            Err(Error::LinkExpired(_) | Error::WaitTimedOut { .. }) => {
                return Err(Error::WaitTimedOut {
                    service: auth.service,
                    connection_name: auth.connection_name,
                    identifier: auth.identifier,
                    waited: limit,
                });
            }
            other => return other,
        }
    }
}
