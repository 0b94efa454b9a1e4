//! The output boundary: every byte get-token writes passes through here. Text from outside (Scalekit's
//! answers, files, arguments) is neutralised by [`tokenbroker::printable`] on the way out, JSON strings
//! included, so no escape sequence or bidi control reaches a terminal or a program reading `--json`.

use std::sync::Mutex;
use std::time::SystemTime;

use serde_json::Value;
use tokenbroker::{printable, rfc3339};

use crate::args::Global;

/// Warnings kept for the JSON object when `--json` is on (stderr then stays empty).
static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Prints `text` on stdout, zeroing the buffer afterwards (it may hold tokens). `false` if stdout is gone.
pub(crate) fn print(text: String) -> bool {
    use std::io::IsTerminal;
    use std::io::Write;
    let text = zeroize::Zeroizing::new(text);
    let shown = printable(&text);
    let shown = if crate::colour::wanted(std::io::stdout().is_terminal()) {
        std::borrow::Cow::Owned(crate::colour::paint(&shown).into_owned())
    } else {
        shown
    };
    let mut out = std::io::stdout().lock();
    out.write_all(shown.as_bytes())
        .and_then(|()| out.flush())
        .is_ok()
}

/// Prints a script get-token generated itself (shell completions), byte for byte.
pub(crate) fn print_script(bytes: &[u8]) -> bool {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(bytes).and_then(|()| out.flush()).is_ok()
}

/// Prints one JSON object and a newline: its strings neutralised, the warnings added.
pub(crate) fn print_json(mut value: Value) -> bool {
    neutralise(&mut value);
    let warnings = std::mem::take(&mut *WARNINGS.lock().unwrap_or_else(|p| p.into_inner()));
    if let (Value::Object(map), false) = (&mut value, warnings.is_empty()) {
        map.insert(
            "warnings".into(),
            warnings.iter().map(|w| printable(w).into_owned()).collect(),
        );
    }
    print(format!("{value}\n"))
}

/// One JSON object as one line on stderr: how `--wait --json` hands each new link to a program while stdout
/// waits for the outcome.
pub(crate) fn say_json(mut value: Value) {
    neutralise(&mut value);
    eprintln!("{value}");
}

fn neutralise(value: &mut Value) {
    match value {
        Value::String(s) => {
            if let std::borrow::Cow::Owned(clean) = printable(s) {
                *s = clean;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(neutralise),
        Value::Object(map) => map.values_mut().for_each(neutralise),
        _ => {}
    }
}

/// One message for people on stderr, neutralised.
pub(crate) fn say(text: &str) {
    use std::io::IsTerminal;
    let shown = printable(text);
    if crate::colour::wanted(std::io::stderr().is_terminal()) {
        eprintln!("{}", crate::colour::paint(&shown));
    } else {
        eprintln!("{shown}");
    }
}

impl Global {
    /// The options that say where this run's configuration is, as words for a command line to suggest or
    /// write down (`--connections PATH`, `--env-file PATH`). Paths are made absolute: a relative one would
    /// be read from wherever the line runs later (git runs its helper in each repository, which could then
    /// supply its own configuration).
    pub(crate) fn config_options(&self) -> Vec<String> {
        let mut words = Vec::new();
        for (option, path) in [
            ("--connections", &self.connections),
            ("--env-file", &self.env_file),
        ] {
            if let Some(p) = path {
                let p = std::path::absolute(p).unwrap_or_else(|_| p.clone());
                words.push(format!(
                    "{option} {}",
                    shell_quote(&p.display().to_string())
                ));
            }
        }
        words
    }

    /// A message for people on stderr, unless `--quiet`, or `--json` (the object on stdout says it all).
    pub(crate) fn tell(&self, text: &str) {
        if !self.quiet && !self.json {
            say(text);
        }
    }

    /// A warning: on stderr, or with `--json` in the object's `warnings`.
    pub(crate) fn warn(&self, text: &str) {
        if self.json {
            WARNINGS
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(text.to_owned());
        } else {
            self.tell(&format!("get-token: warning: {text}"));
        }
    }
}

/// A time for tables: RFC 3339, or `-`.
pub(crate) fn time_or_dash(t: Option<SystemTime>) -> String {
    t.map_or_else(|| "-".into(), rfc3339)
}

/// Rows as a table with aligned columns (the last column is not padded).
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    // Cells are neutralised before they are measured, so an escape cannot skew the columns.
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|c| printable(&c.replace('\n', " ")).into_owned())
                .collect()
        })
        .collect();
    let rows = &rows;
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.trim_end().to_owned() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// `GMAIL_TOKEN` for `gmail`: upper-cased, non-alphanumerics as `_`, plus `_TOKEN`.
pub(crate) fn env_name(service: &str) -> String {
    let mut name: String = service
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    name + "_TOKEN"
}

/// Two services whose variables would have the same name (`x.y` and `x-y` are both `X_Y_TOKEN`): the second
/// would silently replace the first.
pub(crate) fn distinct_env_names(services: &[String]) -> Result<(), String> {
    for (i, a) in services.iter().enumerate() {
        if let Some(b) = services[..i]
            .iter()
            .find(|b| env_name(b) == env_name(a) && *b != a)
        {
            return Err(format!(
                "{b} and {a} would both be {}; rename one of them in connections.json",
                env_name(a)
            ));
        }
    }
    Ok(())
}

/// A value quoted for POSIX shells.
pub(crate) fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// `value` as one word of a suggested command line: as it is when every character is one no shell treats
/// specially (a service name, `gmail_u3134a`), else [`shell_quote`]d. Names from Scalekit or the command
/// line go through this, so a copied or agent-run line never runs part of a name.
pub(crate) fn shell_word(value: &str) -> String {
    let plain = !value.is_empty()
        && value.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@' | '/' | ':' | ',')
        });
    if plain {
        value.to_owned()
    } else {
        shell_quote(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_and_quoting() {
        assert_eq!(env_name("gmail"), "GMAIL_TOKEN");
        assert_eq!(env_name("google-calendar"), "GOOGLE_CALENDAR_TOKEN");
        assert_eq!(env_name("x.y"), "X_Y_TOKEN");
        assert_eq!(env_name("9lives"), "_9LIVES_TOKEN");
        assert_eq!(shell_quote("a'b"), r"'a'\''b'");
        assert_eq!(shell_word("gmail_u3134a"), "gmail_u3134a");
        assert_eq!(shell_word("crm;{touch,x};#"), "'crm;{touch,x};#'");
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word(""), "''");
        let services = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(distinct_env_names(&services(&["gmail", "slack", "gmail"])).is_ok());
        let e = distinct_env_names(&services(&["x.y", "x-y"])).unwrap_err();
        assert!(e.contains("X_Y_TOKEN"), "{e}");
    }
}
