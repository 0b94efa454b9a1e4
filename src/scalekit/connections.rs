//! `GET /api/v1/connections/app`: the environment's connections, page by page, within bounds.

use std::collections::HashSet;

use reqwest::StatusCode;

use super::answer::{parse, refusal};
use super::model::{AppConnectionBody, AppConnectionsPage};
use super::{Client, Endpoint};
use crate::error::Error;

/// Scalekit's largest page: `ListAppConnectionsRequest.page_size` is `uint32 { lte: 30 }` (connections PY 2.21.0).
const PAGE_SIZE: &str = "30";
/// A real environment has a few dozen connections; a server that keeps sending pages is not followed
/// further than this.
pub(crate) const MAX_PAGES: usize = 10;
pub(crate) const MAX_CONNECTIONS: usize = 300;

impl Client {
    /// Every connection of the environment (at most [`MAX_CONNECTIONS`], over at most [`MAX_PAGES`] pages);
    /// `None` when the environment does not offer the list (404, 405, 501: an older or restricted API).
    pub(crate) async fn app_connections(&self) -> Result<Option<Vec<AppConnectionBody>>, Error> {
        let endpoint = Endpoint::AppConnections;
        let mut all = Vec::new();
        let mut seen = HashSet::new();
        let mut token = String::new();
        for _ in 0..MAX_PAGES {
            let mut query = vec![("page_size", PAGE_SIZE)];
            if !token.is_empty() {
                query.push(("page_token", token.as_str()));
            }
            let answer = self.call(endpoint, &query, None).await?;
            match answer.status {
                s if s.is_success() => {}
                StatusCode::NOT_FOUND
                | StatusCode::METHOD_NOT_ALLOWED
                | StatusCode::NOT_IMPLEMENTED => {
                    return Ok(None);
                }
                _ => return Err(refusal(&self.url(endpoint), endpoint, &answer)),
            }
            let page: AppConnectionsPage = parse(endpoint, &answer.body)?;
            all.extend(page.connections.unwrap_or_default());
            all.truncate(MAX_CONNECTIONS);
            token = page.next_page_token.unwrap_or_default();
            // The end, the cap, or a token seen before (a server sending the same page forever).
            if token.is_empty() || all.len() >= MAX_CONNECTIONS || !seen.insert(token.clone()) {
                break;
            }
        }
        Ok(Some(all))
    }
}
