//! The environment's connections (the names `connection_name` must be one of), and telling a wrong name.

use std::sync::Arc;

use super::{Broker, Target};
use crate::error::Error;

/// A connection of the Scalekit environment, as Scalekit lists it (dashboard: Agent Auth > Connections).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EnvironmentConnection {
    /// The connection name: what an entry's `connection_name` in connections.json must be.
    pub name: String,
    /// The provider, such as `gmail` or `slack` (Scalekit's `provider_key`).
    pub provider: Option<String>,
    /// How credentials are held: `USER` (each user authorizes their own) or `ORG_WIDE` (one administrator's
    /// credential shared by all; tokenbroker does not hand it out).
    pub auth_mode: Option<String>,
    /// Its kind: `OAUTH`, `API_KEY`, `BEARER`, `BASIC`, `GOOGLE_DWD`, ...
    pub kind: Option<String>,
    /// Its set-up status, such as `COMPLETED`.
    pub status: Option<String>,
    /// Whether it is turned on.
    pub enabled: Option<bool>,
}

/// The list as asked once per broker: `None` when the environment does not offer it.
pub(super) type Listed = Option<Arc<Vec<EnvironmentConnection>>>;

impl Broker {
    /// The environment's connections (at most 300), asked once per broker; `None` when the environment does
    /// not offer the list (`GET /api/v1/connections/app`, a newer Scalekit API).
    ///
    /// ```no_run
    /// # async fn run(broker: tokenbroker::Broker) -> Result<(), tokenbroker::Error> {
    /// if let Some(connections) = broker.environment_connections().await? {
    ///     for c in connections.iter() {
    ///         println!("{} ({})", c.name, c.provider.as_deref().unwrap_or("?"));
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn environment_connections(&self) -> Result<Listed, Error> {
        self.inner
            .environment
            .get_or_try_init(|| async {
                let listed = self.client().app_connections().await?;
                Ok(listed.map(|all| {
                    Arc::new(
                        all.into_iter()
                            .filter_map(|c| {
                                Some(EnvironmentConnection {
                                    name: c.key_id.filter(|n| !n.is_empty())?,
                                    provider: c.provider_key.filter(|p| !p.is_empty()),
                                    auth_mode: c.auth_mode.filter(|m| !m.is_empty()),
                                    kind: c.kind,
                                    status: c.status,
                                    enabled: c.enabled,
                                })
                            })
                            .collect(),
                    )
                }))
            })
            .await
            .cloned()
    }

    /// Checks that `service`'s connection name is one of the environment's: [`Error::UnknownConnection`]
    /// when the environment lists its connections and the name is not among them; `Ok` otherwise (also when
    /// the list is not offered, since nothing then tells).
    pub async fn check_connection(&self, service: &str) -> Result<(), Error> {
        let target = self.resolve(service, None)?;
        match self.unknown(&target, None).await? {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// [`Error::UnknownConnection`] for `target` when the environment's list shows it; with no list,
    /// `answer` (a refusal that spoke of the connector) decides.
    pub(super) async fn unknown(
        &self,
        target: &Target,
        answer: Option<&crate::ApiError>,
    ) -> Result<Option<Error>, Error> {
        let unknown = |known: Option<Vec<String>>| {
            let suggestion = known
                .as_ref()
                .and_then(|k| closest(&target.connection_name, k));
            Error::UnknownConnection {
                service: target.service.clone(),
                connection_name: target.connection_name.clone(),
                known,
                suggestion,
                answer: answer.map(|a| Box::new(a.clone())),
            }
        };
        Ok(match self.environment_connections().await? {
            Some(list) if list.iter().any(|c| c.name == target.connection_name) => None,
            Some(list) => Some(unknown(Some(list.iter().map(|c| c.name.clone()).collect()))),
            None => answer.map(|_| unknown(None)),
        })
    }
}

fn closest(name: &str, known: &[String]) -> Option<String> {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(name, k), k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k.clone())
}
