//! What to do next, in get-token's words: its commands and flags, with the options this run was given.
//! The library's own hints speak of builder methods; get-token words the ones where that differs.

use tokenbroker::{ConfigError, CredentialsError, Error, VerificationError};

use crate::{output, report};

/// The hint for an error, as a get-token user would act on it.
pub(crate) fn hint(error: &Error) -> String {
    let run = report::invocation();
    match error {
        Error::TokenExpired { service, .. } | Error::TokenRejected { service, .. } => {
            format!("authorize it again: {run} authorize {service} --wait")
        }
        Error::ProxyNotEnabled { .. } => {
            "send the request directly (without --via-scalekit), or ask Scalekit support to enable the proxy \
             for this provider"
                .into()
        }
        Error::Verification(VerificationError::WrongUser { .. }) => {
            "the link must be approved by the user it was made for: send it to them, or authorize with their \
             identifier (--identifier ID)"
                .into()
        }
        Error::Verification(VerificationError::PortTaken { .. }) => format!(
            "choose a free port for every get-token command of this user: {} --verify-port PORT (or set \
             TOKENBROKER_VERIFY_PORT), and ask who holds this one",
            report::invocation_without_port()
        ),
        Error::Verification(VerificationError::OtherFlow { .. }) => format!(
            "see which accounts are connected ({run} status), disconnect any you did not approve yourself \
             ({run} disconnect SERVICE), then authorize again: {run} authorize SERVICE --wait"
        ),
        Error::Verification(VerificationError::Refused(_)) => format!(
            "check that the account was approved with a link from this installation, then authorize again: \
             {run} authorize SERVICE --wait"
        ),
        Error::Verification(_) => format!(
            "authorize again for a new link ({run} authorize SERVICE), and pass on the address the browser \
             shows after approving, unchanged, on stdin: {run} verify -"
        ),
        Error::WaitTimedOut {
            service,
            identifier,
            identifier_source,
            ..
        } => format!(
            "ask the user to open the authorization link, then run: {}",
            report::next_wait(service, identifier, identifier_source)
        ),
        Error::UnknownConnection {
            service,
            suggestion,
            ..
        } => {
            let name = suggestion
                .as_deref()
                .map_or_else(|| "CONNECTION_NAME".into(), output::shell_word);
            format!(
                "correct the connection name: {run} config add {} {name} (the environment's names are \
                 in the Scalekit dashboard under Agent Auth > Connections)",
                output::shell_word(service)
            )
        }
        Error::Config(ConfigError::ConnectionsNotFound { .. }) => format!(
            "nothing is set up yet: run {run} init (it asks for the Scalekit credentials and offers the \
             environment's connections); with credentials already set up, add a service: {run} config add \
             SERVICE CONNECTION_NAME, or name the file with --connections PATH"
        ),
        // A close name is most likely the one meant: no advice to add the typo.
        Error::Config(ConfigError::UnknownService {
            suggestion: Some(close),
            ..
        }) => format!("run {run} {close}, or see the configured services: {run} config list"),
        Error::Config(ConfigError::UnknownService { service, .. }) => format!(
            "check the name against the configured ones ({run} config list); to add it: {run} config add \
             {} CONNECTION_NAME (the connection name is in the Scalekit dashboard under Agent Auth > \
             Connections)",
            output::shell_word(service)
        ),
        Error::Config(ConfigError::Unwritable { .. }) => {
            "check that the directory exists and is writable, or pass --connections PATH".into()
        }
        Error::Config(ConfigError::InvalidName { what, .. }) => {
            format!("give a valid {what}: the message says the rule")
        }
        Error::Credentials(CredentialsError::Conflict { .. }) => {
            "keep the credentials in one place: unset the variables in the shell, or remove them from the .env \
             file, or name the file to use with --env-file PATH"
                .into()
        }
        Error::Credentials(CredentialsError::Missing { .. }) => format!(
            "set them up: {run} init (or write SCALEKIT_ENV_URL, SCALEKIT_CLIENT_ID and SCALEKIT_CLIENT_SECRET \
             to ~/.config/tokenbroker/.env, mode 600)"
        ),
        Error::CredentialsRejected(_) => format!(
            "copy the client ID and secret again from app.scalekit.com > Developers > Settings > API \
             Credentials, then run {run} init --force"
        ),
        _ => error.hint(),
    }
}
