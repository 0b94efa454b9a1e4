//! User verification (Scalekit's Custom mode): after the user approves at the provider, Scalekit sends the
//! browser to the app's `user_verify_url` with an `auth_request_id` and the `state` the link was made with,
//! and the account stays `PENDING_VERIFICATION` until the app confirms the user with
//! `POST /api/v1/connected_accounts/user/verify`. [`Broker::complete_verification`] is that step.

pub mod listener;
pub mod port;
pub(crate) mod state;
pub(crate) mod used;

use std::time::SystemTime;

use url::Url;

use crate::error::{Error, VerificationError};
use crate::{Broker, Target};

/// Verification done: the account is active.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// The service whose account was verified.
    pub service: String,
    /// Its Scalekit connection name.
    pub connection_name: String,
    /// The identifier of the connected account.
    pub identifier: String,
    /// Where Scalekit says to send the user's browser next, when it names a place that is safe to go to
    /// (`https`, no user name).
    pub redirect: Option<Url>,
}

/// The `auth_request_id` and `state` of a redirect address.
fn redirect_parts(address: &str) -> Result<(String, String), Error> {
    let invalid = |reason: &str| VerificationError::InvalidState {
        reason: reason.to_owned(),
    };
    let url = Url::parse(address.trim())
        .map_err(|_| invalid("it is not a URL; pass the whole address the browser showed"))?;
    let (mut auth_request_id, mut state) = (None, None);
    for (key, value) in url.query_pairs() {
        match key.as_ref() {
            "auth_request_id" => auth_request_id = Some(value.into_owned()),
            "state" => state = Some(value.into_owned()),
            _ => {}
        }
    }
    match (auth_request_id, state) {
        (Some(id), Some(state)) => Ok((id, state)),
        _ => Err(invalid(
            "it has no auth_request_id and state; pass the whole address the browser showed after approving",
        )
        .into()),
    }
}

impl Broker {
    /// Completes user verification from the address the browser was sent to after the user approved
    /// (`...?auth_request_id=...&state=...`), as the user pasted it back or a listener received it.
    ///
    /// The `state` is checked here first, in constant time: made by this installation (a MAC keyed from the
    /// client secret), for a configured service and its connection, and not expired. Only then is Scalekit
    /// asked. Outcomes: `Ok(Verified)`; [`VerificationError::InvalidState`] (nothing sent);
    /// [`VerificationError::WrongUser`] (403); [`VerificationError::FlowExpired`] (404, also a flow already
    /// completed and gone); [`VerificationError::OtherFlow`] when Scalekit accepted it but the account the
    /// state names did not become active (the `auth_request_id` was another link's). With
    /// [`Builder::used_states_file`](crate::Builder::used_states_file), a state already used is
    /// [`VerificationError::AlreadyUsed`] (nothing sent); without it, repeating a completed verification
    /// while Scalekit still knows it succeeds again.
    ///
    /// ```no_run
    /// # async fn run(broker: tokenbroker::Broker) -> Result<(), tokenbroker::Error> {
    /// let done = broker
    ///     .complete_verification("http://127.0.0.1:53117/tokenbroker/verify?auth_request_id=ar_1&state=tbv1...")
    ///     .await?;
    /// println!("{} is connected", done.service);
    /// # Ok(()) }
    /// ```
    pub async fn complete_verification(&self, address: &str) -> Result<Verified, Error> {
        let (auth_request_id, state) = redirect_parts(address)?;
        self.complete_verification_with(&auth_request_id, &state)
            .await
    }

    /// Which account a verification address is for, with its `state` checked here (made by this
    /// installation, for a configured service, not expired) and nothing sent: for a listener that completes
    /// only the verifications it waits for.
    pub fn verification_target(&self, address: &str) -> Result<Target, Error> {
        let (_, state) = redirect_parts(address)?;
        self.checked_state(&state)
    }

    /// [`Broker::complete_verification`] from the two values of the redirect.
    pub async fn complete_verification_with(
        &self,
        auth_request_id: &str,
        state: &str,
    ) -> Result<Verified, Error> {
        if auth_request_id.is_empty()
            || auth_request_id.len() > 1000
            || auth_request_id.chars().any(crate::text::is_unsafe)
        {
            return Err(VerificationError::InvalidState {
                reason: "the auth_request_id is empty, too long or not printable".into(),
            }
            .into());
        }
        let target = self.checked_state(state)?;
        let used = self.used_states();
        if let Some(used) = used
            && !used.claim(state)?
        {
            return Err(VerificationError::AlreadyUsed.into());
        }
        let outcome = self.verify_and_check(&target, auth_request_id).await;
        if outcome.is_err()
            && let Some(used) = used
        {
            // Not completed here: the real redirect for this state may still come.
            used.release(state)?;
        }
        let redirect = outcome?;
        Ok(Verified {
            service: target.service,
            connection_name: target.connection_name,
            identifier: target.identifier,
            redirect,
        })
    }

    /// `/user/verify`, then a look at the account the state names: `/user/verify` carries only the
    /// `auth_request_id` and the identifier, so a state for one connection with another link's request id
    /// finishes that other flow; the account must now be active, else [`VerificationError::OtherFlow`].
    async fn verify_and_check(
        &self,
        target: &Target,
        auth_request_id: &str,
    ) -> Result<Option<Url>, Error> {
        let redirect = self.client().verify_user(target, auth_request_id).await?;
        self.forget(target).await;
        // Looked at a few times, briefly: Scalekit may show the change a moment after answering.
        for attempt in 0..3 {
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(400)).await;
            }
            let (_, info) = self
                .account_info(&target.service, Some(&target.identifier))
                .await?;
            if info.is_some_and(|i| i.status.is_active()) {
                return Ok(redirect);
            }
        }
        Err(VerificationError::OtherFlow {
            service: target.service.clone(),
            identifier: target.identifier.clone(),
        }
        .into())
    }

    /// The account a state is for, once its MAC (in constant time) and expiry are checked.
    fn checked_state(&self, state: &str) -> Result<Target, Error> {
        let invalid = |reason: String| Error::from(VerificationError::InvalidState { reason });
        let claims = state::parse(state).map_err(|r| invalid(format!("the state: {r}")))?;
        let target = self
            .resolve(&claims.service, Some(&claims.identifier))
            .map_err(|e| {
                invalid(format!(
                    "the state names an account not configured here ({e})"
                ))
            })?;
        self.state_key()
            .check(&claims, &target.connection_name, SystemTime::now())
            .map_err(|r| invalid(format!("the state: {r}")))?;
        Ok(target)
    }
}
