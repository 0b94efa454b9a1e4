//! The same calls for code without an async runtime.
//!
//! ```no_run
//! fn main() -> Result<(), tokenbroker::Error> {
//!     let token = tokenbroker::blocking::get_token("gmail")?;
//!     println!("{} scopes", token.scopes().len());
//!     Ok(())
//! }
//! ```

use std::future::Future;
use std::sync::{Arc, Mutex};

use crate::error::{AuthorizationRequired, Error};
use crate::token::AccessToken;
use crate::wait::WaitOptions;

/// A [`crate::Broker`] with its own small runtime; every call blocks until done.
pub struct Broker {
    inner: crate::Broker,
    runtime: tokio::runtime::Runtime,
}

impl Broker {
    /// Wraps an async broker.
    pub fn new(inner: crate::Broker) -> Result<Self, Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Unavailable {
                url: String::new(),
                detail: format!("could not start the runtime for blocking calls: {e}"),
                source: None,
            })?;
        Ok(Self { inner, runtime })
    }

    /// Like [`crate::Broker::from_env`].
    pub fn from_env() -> Result<Self, Error> {
        Self::new(crate::Broker::from_env()?)
    }

    /// See [`crate::Broker::get_token`].
    pub fn get_token(&self, service: &str) -> Result<AccessToken, Error> {
        self.run(self.inner.get_token(service))
    }

    /// See [`crate::Broker::get_token_for`].
    pub fn get_token_for(&self, service: &str, identifier: &str) -> Result<AccessToken, Error> {
        self.run(self.inner.get_token_for(service, identifier))
    }

    /// See [`crate::Broker::wait_for_token`].
    pub fn wait_for_token(
        &self,
        service: &str,
        identifier: Option<&str>,
        options: &WaitOptions,
        on_link: impl FnMut(&AuthorizationRequired) + Send,
    ) -> Result<AccessToken, Error> {
        self.run(
            self.inner
                .wait_for_token(service, identifier, options, on_link),
        )
    }

    /// See [`crate::Broker::wait_renewing_links`].
    pub fn wait_renewing_links(
        &self,
        auth: AuthorizationRequired,
        options: &WaitOptions,
        on_link: impl FnMut(&AuthorizationRequired) + Send,
    ) -> Result<AccessToken, Error> {
        self.run(self.inner.wait_renewing_links(auth, options, on_link))
    }

    /// See [`crate::Broker::wait_for_authorization`].
    pub fn wait_for_authorization(
        &self,
        auth: &AuthorizationRequired,
        options: &WaitOptions,
    ) -> Result<AccessToken, Error> {
        self.run(self.inner.wait_for_authorization(auth, options))
    }

    /// See [`crate::Broker::environment_connections`].
    pub fn environment_connections(
        &self,
    ) -> Result<Option<std::sync::Arc<Vec<crate::EnvironmentConnection>>>, Error> {
        self.run(self.inner.environment_connections())
    }

    /// See [`crate::Broker::check_connection`].
    pub fn check_connection(&self, service: &str) -> Result<(), Error> {
        self.run(self.inner.check_connection(service))
    }

    /// See [`crate::Broker::invalidate`].
    pub fn invalidate(&self, service: &str, identifier: Option<&str>) -> Result<(), Error> {
        self.run(self.inner.invalidate(service, identifier))
    }

    /// See [`crate::Broker::wait_until_active`].
    pub fn wait_until_active(
        &self,
        service: &str,
        identifier: Option<&str>,
        options: &WaitOptions,
    ) -> Result<AccessToken, Error> {
        self.run(self.inner.wait_until_active(service, identifier, options))
    }

    /// See [`crate::Broker::authorization_link`].
    pub fn authorization_link(
        &self,
        service: &str,
        identifier: Option<&str>,
    ) -> Result<AuthorizationRequired, Error> {
        self.run(self.inner.authorization_link(service, identifier))
    }

    /// See [`crate::Broker::complete_verification`].
    pub fn complete_verification(&self, address: &str) -> Result<crate::Verified, Error> {
        self.run(self.inner.complete_verification(address))
    }

    /// See [`crate::Broker::complete_verification_with`].
    pub fn complete_verification_with(
        &self,
        auth_request_id: &str,
        state: &str,
    ) -> Result<crate::Verified, Error> {
        self.run(
            self.inner
                .complete_verification_with(auth_request_id, state),
        )
    }

    /// See [`crate::Broker::account_info`].
    pub fn account_info(
        &self,
        service: &str,
        identifier: Option<&str>,
    ) -> Result<(crate::Target, Option<crate::AccountInfo>), Error> {
        self.run(self.inner.account_info(service, identifier))
    }

    /// See [`crate::Broker::verify_credentials`].
    pub fn verify_credentials(&self) -> Result<(), Error> {
        self.run(self.inner.verify_credentials())
    }

    /// See [`crate::Broker::disconnect`].
    pub fn disconnect(&self, service: &str, identifier: Option<&str>) -> Result<bool, Error> {
        self.run(self.inner.disconnect(service, identifier))
    }

    /// [`crate::Broker::send`], with the whole answer read: its status, headers and body.
    pub fn send(
        &self,
        service: &str,
        identifier: Option<&str>,
        request: reqwest::Request,
    ) -> Result<(reqwest::StatusCode, reqwest::header::HeaderMap, Vec<u8>), Error> {
        self.run(async {
            let answer = self.inner.send(service, identifier, request).await?;
            let (status, headers) = (answer.status(), answer.headers().clone());
            let body = answer.bytes().await.map_err(|e| Error::Request {
                url: String::new(),
                detail: format!("reading the answer failed: {e}"),
            })?;
            Ok((status, headers, body.to_vec()))
        })
    }

    /// The async broker inside.
    pub fn as_async(&self) -> &crate::Broker {
        &self.inner
    }

    fn run<F: Future + Send>(&self, future: F) -> F::Output
    where
        F::Output: Send,
    {
        if tokio::runtime::Handle::try_current().is_err() {
            return self.runtime.block_on(future);
        }
        // Called from inside an async runtime, where blocking this thread on another runtime would panic:
        // block a helper thread instead.
        std::thread::scope(|s| match s.spawn(|| self.runtime.block_on(future)).join() {
            Ok(output) => output,
            Err(panic) => std::panic::resume_unwind(panic),
        })
    }
}

/// A token for `service` from a process-wide blocking broker built from the environment on first use.
pub fn get_token(service: &str) -> Result<AccessToken, Error> {
    static DEFAULT: Mutex<Option<Arc<Broker>>> = Mutex::new(None);
    let broker = {
        let mut slot = DEFAULT.lock().unwrap_or_else(|p| p.into_inner());
        match &*slot {
            Some(b) => b.clone(),
            None => slot.insert(Arc::new(Broker::from_env()?)).clone(),
        }
    };
    broker.get_token(service)
}
