//! A link for a person at this terminal: drawn as a QR code for a phone (`--qr`), opened in this machine's
//! browser (`--open`), and a live countdown while get-token waits (stderr on a terminal only).

use std::io::{IsTerminal, Write};
use std::time::Duration;

use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;
use tokio::time::Instant;
use url::Url;

use crate::args::{Global, Show};

/// Shows `url` the ways `show` asks, after its text was printed. Links reaching here were checked by the
/// library (https on the environment's host or a Scalekit domain), so opening one cannot start a program.
pub(crate) fn link(global: &Global, show: Show, url: &Url) {
    if show.qr && !global.quiet && !global.json {
        match QrCode::new(url.as_str()) {
            Ok(code) => {
                let art = code
                    .render::<Dense1x2>()
                    .dark_color(Dense1x2::Light)
                    .light_color(Dense1x2::Dark)
                    .quiet_zone(true)
                    .build();
                eprintln!("{art}");
            }
            Err(e) => global.tell(&format!(
                "get-token: cannot draw the link as a QR code: {e}"
            )),
        }
    }
    if show.open
        && let Err(e) = open(url)
    {
        global.tell(&format!(
            "get-token: could not open a browser ({e}); open the link above by hand."
        ));
    }
}

/// The platform's "open this URL" command, given the URL as one argument (never through a shell).
fn open(url: &Url) -> std::io::Result<()> {
    let (program, args): (&str, &[&str]) = if cfg!(target_os = "macos") {
        ("open", &[])
    } else if cfg!(windows) {
        ("rundll32", &["url.dll,FileProtocolHandler"])
    } else {
        ("xdg-open", &[])
    };
    let status = std::process::Command::new(program)
        .args(args)
        .arg(url.as_str())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "{program} exited with {status}"
        )))
    }
}

/// Runs `work`, with a line on stderr counting down to `deadline` when stderr is a terminal (and not
/// `--quiet` or `--json`). The line is cleared when `work` ends.
/// Erases the countdown line, so that what is said next starts on a clean line.
pub(crate) fn clear_countdown(global: &Global) {
    if live(global) {
        eprint!("\r\x1b[2K");
        let _ = std::io::stderr().flush();
    }
}

fn live(global: &Global) -> bool {
    !global.quiet && !global.json && std::io::stderr().is_terminal()
}

pub(crate) async fn countdown<T>(
    global: &Global,
    deadline: Instant,
    work: impl Future<Output = T>,
) -> T {
    if !live(global) {
        return work.await;
    }
    tokio::pin!(work);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            result = &mut work => {
                eprint!("\r\x1b[2K");
                let _ = std::io::stderr().flush();
                return result;
            }
            _ = tick.tick() => {
                let left = deadline.saturating_duration_since(Instant::now()).as_secs();
                // Our own text, written raw on purpose: the carriage return and the erase are the point.
                let line = format!("waiting for the user: {left} s left (Ctrl-C to stop)");
                eprint!("\r\x1b[2K{}", tokenbroker::printable(&line));
                let _ = std::io::stderr().flush();
            }
        }
    }
}
