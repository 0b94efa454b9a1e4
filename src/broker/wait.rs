//! Waiting for the user to authorize: polling the account's details until it is active.

use std::time::Duration;

use tokio::time::Instant;

use super::{Broker, Target};
use crate::account::AccountStatus;
use crate::error::{AuthorizationRequired, Error, PendingVerification};
use crate::scalekit::Endpoint;
use crate::scalekit::model::ConnectedAccount;
use crate::timefmt::saturating_after;
use crate::token::AccessToken;
use crate::wait::WaitOptions;

/// Less time than this left is not worth a new link: nobody opens and approves one that fast.
const MIN_LINK_TIME: Duration = Duration::from_secs(2);
/// The pause before asking again after a link that arrived expired: the first, and the longest.
const STALE_PAUSE: Duration = Duration::from_secs(2);
const MAX_STALE_PAUSE: Duration = Duration::from_secs(30);

impl Broker {
    /// Gets the token of `service`; when the user must authorize, hands the link to `on_link` (relay it to
    /// the user), then waits for them, with a new link (to `on_link` again) whenever one expires, until the
    /// account is active or [`WaitOptions::timeout`] (default 2 minutes) has passed.
    ///
    /// `on_link` is called before any waiting, so nobody waits on a link nobody was shown. A link that
    /// arrives already expired (this machine's clock is probably ahead of Scalekit's) is passed too, with
    /// `expires_in() == Some(ZERO)`; the next is asked for after a pause of 2 s, doubling up to 30 s. No new
    /// link is asked for with less than 2 s left.
    ///
    /// The outcomes: `Ok(token)`; [`Error::WaitTimedOut`] when the time ran out;
    /// [`Error::VerificationPending`] when the user approved but user verification had not completed by
    /// then; any error of [`Broker::get_token`].
    ///
    /// ```no_run
    /// # async fn run(broker: tokenbroker::Broker) -> Result<(), tokenbroker::Error> {
    /// use std::time::Duration;
    /// use tokenbroker::WaitOptions;
    ///
    /// let options = WaitOptions::default().timeout(Duration::from_secs(300));
    /// let token = broker
    ///     .wait_for_token("gmail", None, &options, |auth| println!("{}", auth.message()))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn wait_for_token(
        &self,
        service: &str,
        identifier: Option<&str>,
        options: &WaitOptions,
        on_link: impl FnMut(&AuthorizationRequired) + Send,
    ) -> Result<AccessToken, Error> {
        let target = self.resolve(service, identifier)?;
        match self.token(&target).await {
            Err(Error::AuthorizationRequired(auth)) => {
                self.wait_renewing_links(*auth, options, on_link).await
            }
            // Approved already: only verification is left, and no link would help.
            Err(Error::VerificationPending(_)) => {
                self.wait_until_active(service, identifier, options).await
            }
            other => other,
        }
    }

    /// The waiting half of [`Broker::wait_for_token`], from a link the caller already has (from
    /// [`Broker::get_token`] or [`Broker::authorization_link`], to authorize an active account again):
    /// `on_link` gets `auth` first, then each new link, as described there.
    pub async fn wait_renewing_links(
        &self,
        mut auth: AuthorizationRequired,
        options: &WaitOptions,
        mut on_link: impl FnMut(&AuthorizationRequired) + Send,
    ) -> Result<AccessToken, Error> {
        let start = Instant::now();
        let deadline = saturating_after(
            start,
            options.timeout.unwrap_or(crate::wait::DEFAULT_TIMEOUT),
        );
        let left = || deadline.saturating_duration_since(Instant::now());
        let mut stale_pause = STALE_PAUSE;
        loop {
            on_link(&auth);
            if auth.expires_in() == Some(Duration::ZERO) {
                tokio::time::sleep(stale_pause.min(left())).await;
                stale_pause = (stale_pause * 2).min(MAX_STALE_PAUSE);
            } else {
                let options = options.clone().timeout(left());
                match self.wait_for_authorization(&auth, &options).await {
                    Err(Error::LinkExpired(_)) => {}
                    Err(Error::WaitTimedOut { .. }) => break,
                    other => return other,
                }
            }
            if left() <= MIN_LINK_TIME {
                break;
            }
            let source = auth.identifier_source.clone();
            auth = self
                .authorization_link(&auth.service, Some(&auth.identifier))
                .await?;
            auth.identifier_source = source;
            auth.replaces_expired_link = true;
        }
        let mut target = self.resolve(&auth.service, Some(&auth.identifier))?;
        target.identifier_source = auth.identifier_source;
        // The time given, not the time taken: less than MIN_LINK_TIME before the end is not worth a link.
        Err(timed_out(target, deadline - start))
    }

    /// Polls Scalekit (account details, about every [`WaitOptions::poll_interval`], never the token) until
    /// the account of `auth` is active, then returns its token.
    ///
    /// The outcomes are distinct: `Ok(token)` once authorized; [`Error::LinkExpired`] when the link expired
    /// first (ask for a new one with [`Broker::authorization_link`]); [`Error::WaitTimedOut`] when
    /// [`WaitOptions::timeout`] passed first. Without a timeout the deadline is the link's expiry.
    ///
    /// An account that reaches `PENDING_VERIFICATION` has been through the link: from then on the link's
    /// expiry no longer ends the wait, and a wait that ends before verification completes returns
    /// [`Error::VerificationPending`] (no new link is wanted then).
    pub async fn wait_for_authorization(
        &self,
        auth: &AuthorizationRequired,
        options: &WaitOptions,
    ) -> Result<AccessToken, Error> {
        let target = self.resolve(&auth.service, Some(&auth.identifier))?;
        let mut target = target;
        target.identifier_source = auth.identifier_source.clone();
        let start = Instant::now();
        let link_deadline = auth.expires_in().map(|left| saturating_after(start, left));
        let timeout_deadline = options.timeout.map(|t| saturating_after(start, t));
        // Re-authorizing an account that is already active is seen as a change of its `updated_at`. Decision
        // (wire audit, row 15): Scalekit also changes it when it refreshes the token, which can end such a
        // wait early; the token handed out is good either way, so this is accepted.
        let reauthorized = |a: &ConnectedAccount| {
            !auth.status.is_active() || a.updated_at != auth.account_updated_at
        };
        match self
            .poll(
                &target,
                start,
                link_deadline,
                timeout_deadline,
                options,
                reauthorized,
            )
            .await?
        {
            Polled::Active(token) => Ok(token),
            Polled::Verifying => Err(pending(target)),
            Polled::Deadline
                if link_deadline.is_some_and(|l| timeout_deadline.is_none_or(|t| l <= t)) =>
            {
                Err(Error::LinkExpired(Box::new(auth.clone())))
            }
            Polled::Deadline => Err(timed_out(target, start.elapsed())),
        }
    }

    /// Waits, polling Scalekit, until the account of `service` is active, then returns its token; never asks
    /// for a link. For a caller that relayed a link earlier (another process, another turn of a chat) and
    /// now waits for the user: [`Error::WaitTimedOut`] or [`Error::VerificationPending`] when
    /// [`WaitOptions::timeout`] (default 2 minutes) passes first.
    pub async fn wait_until_active(
        &self,
        service: &str,
        identifier: Option<&str>,
        options: &WaitOptions,
    ) -> Result<AccessToken, Error> {
        let target = self.resolve(service, identifier)?;
        let start = Instant::now();
        let deadline = saturating_after(
            start,
            options.timeout.unwrap_or(crate::wait::DEFAULT_TIMEOUT),
        );
        match self
            .poll(&target, start, None, Some(deadline), options, |_| true)
            .await?
        {
            Polled::Active(token) => Ok(token),
            Polled::Verifying => Err(pending(target)),
            Polled::Deadline => Err(timed_out(target, start.elapsed())),
        }
    }

    /// Polls the account's details until it is active and `done` agrees, or a deadline passes. Reaching
    /// `PENDING_VERIFICATION` lifts the link's deadline (the user has been through the link).
    async fn poll(
        &self,
        target: &Target,
        start: Instant,
        link_deadline: Option<Instant>,
        timeout_deadline: Option<Instant>,
        options: &WaitOptions,
        done: impl Fn(&ConnectedAccount) -> bool,
    ) -> Result<Polled, Error> {
        let default = saturating_after(start, crate::wait::DEFAULT_TIMEOUT);
        let mut verifying = false;
        // The first look is at once (the account may be active already); later ones a poll interval apart.
        let mut first = true;
        loop {
            let deadline = match (link_deadline.filter(|_| !verifying), timeout_deadline) {
                (Some(l), Some(t)) => l.min(t),
                (l, t) => l.or(t).unwrap_or(default),
            };
            let now = Instant::now();
            if now >= deadline {
                return Ok(if verifying {
                    Polled::Verifying
                } else {
                    Polled::Deadline
                });
            }
            if !std::mem::take(&mut first) {
                tokio::time::sleep_until((now + options.poll_interval).min(deadline)).await;
                if Instant::now() >= deadline {
                    continue;
                }
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
            let Some(account) = account else { continue };
            match AccountStatus::from_wire(account.status.as_deref()) {
                AccountStatus::PendingVerification => verifying = true,
                AccountStatus::Active if done(&account) => {
                    self.forget(target).await;
                    match self.token(target).await {
                        Err(Error::AuthorizationRequired(_) | Error::VerificationPending(_)) => {
                            continue;
                        }
                        other => return other.map(Polled::Active),
                    }
                }
                _ => {}
            }
        }
    }
}

/// How a poll ended.
enum Polled {
    Active(AccessToken),
    /// The deadline passed while the account waited for verification.
    Verifying,
    Deadline,
}

fn pending(target: Target) -> Error {
    Error::VerificationPending(Box::new(PendingVerification {
        service: target.service,
        connection_name: target.connection_name,
        identifier: target.identifier,
        identifier_source: target.identifier_source,
    }))
}

fn timed_out(target: Target, waited: Duration) -> Error {
    Error::WaitTimedOut {
        service: target.service,
        connection_name: target.connection_name,
        identifier: target.identifier,
        identifier_source: target.identifier_source,
        waited,
    }
}
