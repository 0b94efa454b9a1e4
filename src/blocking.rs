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
        options: &WaitOptions,
    ) -> Result<AccessToken, Error> {
        self.run(self.inner.wait_for_token(service, options))
    }

    /// See [`crate::Broker::wait_for_authorization`].
    pub fn wait_for_authorization(
        &self,
        auth: &AuthorizationRequired,
        options: &WaitOptions,
    ) -> Result<AccessToken, Error> {
        self.run(self.inner.wait_for_authorization(auth, options))
    }

    /// See [`crate::Broker::invalidate`].
    pub fn invalidate(&self, service: &str, identifier: Option<&str>) -> Result<(), Error> {
        self.run(self.inner.invalidate(service, identifier))
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
