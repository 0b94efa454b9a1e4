//! Exit codes: the stable contract with shell scripts and agents.

use std::process::ExitCode;

use tokenbroker::{Error, ErrorKind};

pub(crate) const OK: u8 = 0;
pub(crate) const UNEXPECTED: u8 = 1;
pub(crate) const USAGE: u8 = 2;
pub(crate) const AUTHORIZATION_REQUIRED: u8 = 3;
pub(crate) const NOT_CONFIGURED: u8 = 4;
pub(crate) const CREDENTIALS: u8 = 5;
pub(crate) const REFUSED: u8 = 6;
pub(crate) const UNAVAILABLE: u8 = 7;
pub(crate) const VERIFICATION_FAILED: u8 = 8;
pub(crate) const HTTP_ERROR: u8 = 9;

/// The exit codes as `--help` prints them; keep them in step with the constants above and the README. A
/// macro, so that `--help` can `concat!` it with the rest of its text.
#[macro_export]
macro_rules! exit_table {
    () => {
        "\
Exit codes:
  0  token printed
  1  unexpected error
  2  usage error (bad arguments)
  3  the user must act: authorize (the link and its expiry are on stderr, or in --json), finish a
     pending verification, or authorize again after a token Scalekit could not refresh
  4  service or connections.json not configured or invalid, or a connection name the Scalekit
     environment does not have
  5  Scalekit credentials missing or rejected
  6  Scalekit refused the request
  7  network trouble or Scalekit unavailable
  8  user verification failed: wrong user, flow expired or used, or the address refused
  9  api: the API answered with an HTTP status other than 2xx (the status is on stderr)
status: 0 when every service is ready, 3 when any needs authorization.
exec: the command's own exit code (a command killed by a signal ends get-token with that signal);
126 it cannot be run, 127 not found."
    };
}

pub(crate) fn code_for(error: &Error) -> u8 {
    match error.kind() {
        ErrorKind::AuthorizationRequired
        | ErrorKind::VerificationPending
        | ErrorKind::TokenExpired
        | ErrorKind::TokenRejected => AUTHORIZATION_REQUIRED,
        ErrorKind::VerificationFailed => VERIFICATION_FAILED,
        ErrorKind::NotConfigured | ErrorKind::InvalidConfig | ErrorKind::UnknownConnection => {
            NOT_CONFIGURED
        }
        ErrorKind::CredentialsMissing | ErrorKind::CredentialsRejected => CREDENTIALS,
        ErrorKind::ScalekitRefused
        | ErrorKind::UnsupportedCredential
        | ErrorKind::ProxyNotEnabled => REFUSED,
        ErrorKind::Unavailable | ErrorKind::RateLimited => UNAVAILABLE,
        _ => UNEXPECTED,
    }
}

pub(crate) fn exit(code: u8) -> ExitCode {
    ExitCode::from(code)
}
