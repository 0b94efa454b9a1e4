//! Waiting for the user to authorize: polling the account's details until it is active.

use tokio::time::Instant;

use super::Broker;
use crate::account::AccountStatus;
use crate::error::{AuthorizationRequired, Error};
use crate::scalekit::Endpoint;
use crate::timefmt::{parse_rfc3339, saturating_after};
use crate::token::AccessToken;
use crate::wait::WaitOptions;

impl Broker {
    /// Like [`Broker::get_token`], but when the user must authorize, waits for them (polling Scalekit) and
    /// then returns the token. See [`Broker::wait_for_authorization`] for the outcomes.
    pub async fn wait_for_token(
        &self,
        service: &str,
        options: &WaitOptions,
    ) -> Result<AccessToken, Error> {
        let target = self.resolve(service, None)?;
        match self.token(&target).await {
            Err(Error::AuthorizationRequired(auth)) => {
                self.wait_for_authorization(&auth, options).await
            }
            other => other,
        }
    }

    /// Polls Scalekit (account details, about every [`WaitOptions::poll_interval`], never the token) until
    /// the account of `auth` is active, then returns its token.
    ///
    /// The outcomes are distinct: `Ok(token)` once authorized; [`Error::LinkExpired`] when the link expired
    /// first (ask for a new one with [`Broker::authorization_link`]); [`Error::WaitTimedOut`] when
    /// [`WaitOptions::timeout`] passed first. Without a timeout the deadline is the link's expiry.
    pub async fn wait_for_authorization(
        &self,
        auth: &AuthorizationRequired,
        options: &WaitOptions,
    ) -> Result<AccessToken, Error> {
        let target = self.resolve(&auth.service, Some(&auth.identifier))?;
        let start = Instant::now();
        let link_deadline = auth.expires_in().map(|left| saturating_after(start, left));
        let timeout_deadline = options.timeout.map(|t| saturating_after(start, t));
        let deadline = match (link_deadline, timeout_deadline) {
            (Some(l), Some(t)) => l.min(t),
            (l, t) => l.or(t).unwrap_or(start + crate::wait::DEFAULT_TIMEOUT),
        };
        let link_expires_first = link_deadline.is_some_and(|l| l <= deadline);
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(if link_expires_first {
                    Error::LinkExpired(Box::new(auth.clone()))
                } else {
                    Error::WaitTimedOut {
                        service: target.service,
                        connection_name: target.connection_name,
                        identifier: target.identifier,
                        waited: now - start,
                    }
                });
            }
            tokio::time::sleep_until((now + options.poll_interval).min(deadline)).await;
            if Instant::now() >= deadline {
                continue;
            }
            let account = match self
                .client()
                .account(
                    Endpoint::Details,
                    &target.connection_name,
                    &target.identifier,
                )
                .await
            {
                Ok(account) => account,
                // A blip while the user is busy clicking should not end the wait.
                Err(Error::Unavailable { .. }) => continue,
                Err(e) => return Err(e),
            };
            let done = account.is_some_and(|a| {
                AccountStatus::from_wire(a.status.as_deref()).is_active()
                    && (!auth.status.is_active()
                        || a.updated_at.as_deref().and_then(parse_rfc3339)
                            != auth.account_updated_at)
            });
            if done {
                self.flight(&target).invalidate(|_| true).await;
                match self.token(&target).await {
                    Err(Error::AuthorizationRequired(_)) => continue,
                    other => return other,
                }
            }
        }
    }
}
