//! Long tool calls: progress notifications while they wait (when the client asked for them with a progress
//! token), and an end as soon as the client cancels the call.

use std::future::Future;
use std::time::Duration;

use rmcp::RoleServer;
use rmcp::model::ProgressNotificationParam;
use rmcp::service::RequestContext;
use tokio::time::Instant;

/// How often a waiting call reports progress.
const EVERY: Duration = Duration::from_secs(5);

/// Runs `work`, telling the client every few seconds that it still waits (`message`, seconds elapsed out of
/// `total`); `None` when the client cancelled the call: `work` is dropped there, so whatever it held (a
/// listener, a wait) ends with it and nothing more is sent for this call.
pub(super) async fn watched<T>(
    context: &RequestContext<RoleServer>,
    message: &str,
    total: Duration,
    work: impl Future<Output = T>,
) -> Option<T> {
    let token = context.meta.get_progress_token();
    let started = Instant::now();
    let mut ticks = tokio::time::interval_at(started + EVERY, EVERY);
    tokio::pin!(work);
    loop {
        tokio::select! {
            () = context.ct.cancelled() => return None,
            done = &mut work => return Some(done),
            _ = ticks.tick() => {
                if let Some(token) = &token {
                    let note = ProgressNotificationParam::new(token.clone(), started.elapsed().as_secs_f64())
                        .with_total(total.as_secs_f64())
                        .with_message(message);
                    // A client that stopped listening is no reason to stop waiting.
                    let _ = context.peer.notify_progress(note).await;
                }
            }
        }
    }
}
