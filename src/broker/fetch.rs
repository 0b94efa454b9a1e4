//! Getting a token from Scalekit: the account read or created, a link when the user must authorize, the
//! token of an active account.

use std::time::SystemTime;

use super::{Broker, Target};
use crate::account::AccountStatus;
use crate::cache::Cached;
use crate::error::{AuthorizationRequired, Error, PendingVerification};
use crate::scalekit::Endpoint;
use crate::scalekit::model::ConnectedAccount;
use crate::token::AccessToken;

impl Broker {
    pub(crate) async fn token(&self, target: &Target) -> Result<AccessToken, Error> {
        let policy = &self.inner.cache;
        let cached = self
            .flight(target)
            .get(
                |c| c.is_fresh(),
                |c| policy.enabled && c.is_fresh(),
                || async {
                    let token = self.fetch(target).await?;
                    Ok(Cached::new(token, policy))
                },
            )
            .await?;
        Ok(cached.token)
    }

    async fn fetch(&self, target: &Target) -> Result<AccessToken, Error> {
        let mut account = self.get_or_create(target).await?;
        let mut asked_again = false;
        loop {
            let status = AccountStatus::from_wire(account.status.as_deref());
            match status {
                AccountStatus::Active => {}
                // Approved, waiting for verification: a new link now could cancel the verification under
                // way (whether it does is not documented), so none is made.
                AccountStatus::PendingVerification => {
                    return Err(Error::VerificationPending(Box::new(PendingVerification {
                        service: target.service.clone(),
                        connection_name: target.connection_name.clone(),
                        identifier: target.identifier.clone(),
                        identifier_source: target.identifier_source.clone(),
                    })));
                }
                // Decision (wire audit, row 16): each call on an account that is not active makes one new link
                // (concurrent callers share it through the flight); waiting never makes one while it waits.
                _ => {
                    let updated_at = account.updated_at;
                    return Err(Error::AuthorizationRequired(Box::new(
                        self.link_for(target, status, updated_at).await?,
                    )));
                }
            }
            match active_token(target, account)? {
                Some(token) if token.is_expired() && !asked_again => {
                    // Scalekit refreshes on read, by some of its own accounts: ask once more before giving up.
                    asked_again = true;
                    account = self.get_or_create(target).await?;
                }
                Some(token) if token.is_expired() => {
                    return Err(Error::TokenExpired {
                        service: target.service.clone(),
                        connection_name: target.connection_name.clone(),
                        identifier: target.identifier.clone(),
                    });
                }
                Some(token) => return Ok(token),
                // Active but holding no token: on an ORG_WIDE connection that is a consent-only record (the
                // shared credential is an administrator's, provisioned in the dashboard: connected_accounts
                // PY 2.21.0, `is_org_wide_credential`), which no link can change, so asking for one would loop.
                None if self.is_org_wide(target).await => {
                    return Err(Error::UnsupportedCredential {
                        service: target.service.clone(),
                        connection_name: target.connection_name.clone(),
                        kind: ORG_WIDE_KIND.into(),
                    });
                }
                // Otherwise only a new authorization can fix that.
                None => {
                    return Err(Error::AuthorizationRequired(Box::new(
                        self.link_for(target, AccountStatus::Active, None).await?,
                    )));
                }
            }
        }
    }

    pub(super) async fn get_or_create(&self, target: &Target) -> Result<ConnectedAccount, Error> {
        let (connector, identifier) = (&target.connection_name, &target.identifier);
        if let Some(account) = self
            .client()
            .account(Endpoint::Auth, connector, identifier)
            .await?
        {
            return Ok(account);
        }
        match self.client().create(connector, identifier).await {
            Ok(Some(account)) => return Ok(account),
            Ok(None) => {}
            Err(e) => return Err(self.unknown_connection(target, e).await),
        }
        // 409: another caller created it between our read and our create; read the winner's.
        self.client()
            .account(Endpoint::Auth, connector, identifier)
            .await?
            .ok_or_else(|| Error::Protocol {
                endpoint: Endpoint::Auth.label(),
                detail: "the account was reported as existing (409) but then not found (404)"
                    .into(),
            })
    }

    pub(super) async fn link_for(
        &self,
        target: &Target,
        status: AccountStatus,
        updated_at: Option<SystemTime>,
    ) -> Result<AuthorizationRequired, Error> {
        let verify = match &self.inner.verify_url {
            Some(url) => {
                let state = self
                    .inner
                    .state_key
                    .issue(
                        &target.service,
                        &target.connection_name,
                        &target.identifier,
                        SystemTime::now(),
                    )
                    .map_err(|detail| Error::Protocol {
                        endpoint: crate::scalekit::Endpoint::MagicLink.label(),
                        detail,
                    })?;
                Some((url, state))
            }
            None => None,
        };
        let link = match self
            .client()
            .magic_link(
                &target.connection_name,
                &target.identifier,
                verify.as_ref().map(|(u, s)| (*u, s.as_str())),
            )
            .await
        {
            Ok(link) => link,
            Err(e) => return Err(self.unknown_connection(target, e).await),
        };
        Ok(AuthorizationRequired {
            service: target.service.clone(),
            connection_name: target.connection_name.clone(),
            identifier: target.identifier.clone(),
            identifier_source: target.identifier_source.clone(),
            status,
            url: link.url,
            expires_at: link.expires_at,
            replaces_expired_link: false,
            account_updated_at: updated_at,
            loopback_verify: self
                .inner
                .verify_url
                .as_ref()
                .is_some_and(|u| u.host_str() == Some("127.0.0.1")),
        })
    }
}

/// The credential kind named for an ORG_WIDE connection's per-user record.
pub(crate) const ORG_WIDE_KIND: &str = "shared ORG_WIDE";

impl Broker {
    /// Whether the environment lists the target's connection as ORG_WIDE.
    async fn is_org_wide(&self, target: &Target) -> bool {
        matches!(self.environment_connections().await, Ok(Some(list)) if list.iter().any(|c| {
            c.name == target.connection_name && c.auth_mode.as_deref() == Some("ORG_WIDE")
        }))
    }

    /// A refusal to create an account or a link, said as a wrong connection name when that is what it is. The
    /// evidence is the error code and the environment's list of connections, never a message's wording:
    /// - a 404 `RESOURCE_NOT_FOUND` (or `NOT_FOUND`, gRPC code 5) is the magic-link RPC's documented answer
    ///   for "the connector names no connection in this environment" (connected_accounts PY 2.21.0,
    ///   `GetMagicLinkForConnectedAccount`, response 404); the list, when offered, confirms it;
    /// - a 400 is about the connection only when the list is offered and does not name it (what create
    ///   answers for an unknown connector is not documented).
    async fn unknown_connection(&self, target: &Target, error: Error) -> Error {
        let Error::Api(answer) = &error else {
            return error;
        };
        let not_found = answer.status == 404
            && (matches!(
                answer.error_code.as_deref(),
                Some("RESOURCE_NOT_FOUND" | "NOT_FOUND")
            ) || answer.code == Some(5));
        let evidence = match answer.status {
            404 if not_found => Some(answer),
            400 => None,
            _ => return error,
        };
        match self.unknown(target, evidence).await {
            Ok(Some(unknown)) => unknown,
            // Listed (so the refusal is about something else), no evidence, or the list failed: the refusal
            // as it was.
            Ok(None) | Err(_) => error,
        }
    }
}

/// The token of an active account: its OAuth token, or the one Google domain-wide delegation holds (an OAuth
/// access token too, from the jwt-bearer grant). `None` when it holds none; an error for a credential that is
/// not a token (API key, basic, ...) or a token no real provider issues.
fn active_token(target: &Target, account: ConnectedAccount) -> Result<Option<AccessToken>, Error> {
    let mut details = account.authorization_details.unwrap_or_default();
    let oauth = details
        .oauth_token
        .take()
        .filter(|t| t.has_token())
        .or_else(|| details.google_dwd.take().filter(|t| t.has_token()));
    if let Some(oauth) = oauth {
        let secret = oauth.access_token.unwrap_or_else(|| "".into());
        // A token is printed, put in headers and in environments: one that is not plain visible ASCII
        // (RFC 6750's token characters are a subset) could smuggle a line break or an escape.
        if !secrecy::ExposeSecret::expose_secret(&secret)
            .bytes()
            .all(|b| b.is_ascii_graphic())
        {
            return Err(Error::Protocol {
                endpoint: crate::scalekit::Endpoint::Auth.label(),
                detail: "the access token holds spaces, control or non-ASCII characters, which no token \
                         has; refused"
                    .into(),
            });
        }
        // Zero timestamps were read as unset, so a domain-wide-delegation token's own expiry is not hidden by
        // an account-level zero one (wire audit 2, C5).
        let expires_at = account.token_expires_at.or(oauth.token_expires_at);
        return Ok(Some(AccessToken {
            secret,
            expires_at,
            scopes: oauth.scopes.unwrap_or_default(),
            service: target.service.clone(),
            connection_name: target.connection_name.clone(),
            identifier: target.identifier.clone(),
        }));
    }
    let kind = account
        .authorization_type
        .filter(|t| {
            !matches!(
                t.as_str(),
                "" | "OAUTH" | "CONNECTION_TYPE_UNSPECIFIED" | "GOOGLE_DWD"
            )
        })
        .or_else(|| details.other_kind().map(str::to_owned));
    match kind {
        Some(kind) => Err(Error::UnsupportedCredential {
            service: target.service.clone(),
            connection_name: target.connection_name.clone(),
            kind,
        }),
        None => Ok(None),
    }
}
