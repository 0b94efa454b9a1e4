//! Watching the requests a broker makes to Scalekit, one event per attempt (`get-token -v` prints them).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A function told about every request to Scalekit; set with
/// [`Builder::on_request`](crate::Builder::on_request).
pub(crate) type Observer = Arc<dyn Fn(&RequestEvent) + Send + Sync>;

/// One attempt at a request to Scalekit: what was asked, what came back, and whether it will be tried
/// again. It never holds a body, a header, a token or the client secret.
///
/// ```
/// # fn show(event: &tokenbroker::RequestEvent) {
/// eprintln!("{event}"); // GET https://example.scalekit.dev/api/v1/connected_accounts/auth?... -> 200 (41 ms)
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestEvent {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The URL, query included (it holds connection names and identifiers, nothing secret).
    pub url: String,
    /// The HTTP status, when an answer came.
    pub status: Option<u16>,
    /// What went wrong on the way, when no answer came (refused, DNS, TLS, timeout, ...).
    pub failure: Option<String>,
    /// From sending to the whole answer read.
    pub elapsed: Duration,
    /// 1 for the first attempt, 2 for the first retry, ...
    pub attempt: u32,
    /// The request will be sent again after this pause.
    pub retry_in: Option<Duration>,
}

impl fmt::Display for RequestEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} -> ", self.method, self.url)?;
        match (&self.status, &self.failure) {
            (Some(status), _) => write!(f, "{status}")?,
            (None, Some(failure)) => f.write_str(failure)?,
            (None, None) => f.write_str("no answer")?,
        }
        write!(f, " ({} ms)", self.elapsed.as_millis())?;
        if self.attempt > 1 {
            write!(f, ", attempt {}", self.attempt)?;
        }
        match self.retry_in {
            Some(pause) => write!(f, "; retrying in {:.1} s", pause.as_secs_f64()),
            None if self.failure.is_some() || self.status.is_some_and(|s| s >= 500 || s == 429) => {
                f.write_str("; not retried")
            }
            None => Ok(()),
        }
    }
}
