//! `.env` files, read literally: `KEY=value` lines, optional `export`, quotes and comments, and nothing
//! expanded. A `$` is a `$`: a file can never pull another variable's value (the client secret) into its own.

use std::collections::HashMap;

use secrecy::SecretString;
use zeroize::Zeroizing;

/// The values of the `wanted` keys in `text`, as secrets; other keys are checked for syntax and dropped.
/// An error says which line is wrong and why, never what is on it.
pub(crate) fn parse(
    text: &str,
    wanted: &[&'static str],
) -> Result<HashMap<&'static str, SecretString>, String> {
    let mut vars = HashMap::new();
    for (index, raw) in text.lines().enumerate() {
        let fail = |why: &str| format!("line {}: {why}", index + 1);
        let line = raw.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let Some((key, rest)) = line.split_once('=') else {
            return Err(fail("expected NAME=value"));
        };
        let key = key.trim_end();
        let mut chars = key.chars();
        let valid_key = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !valid_key {
            return Err(fail("the name before = is not a variable name"));
        }
        let value = value(rest.trim_start()).map_err(fail)?;
        if let Some(known) = wanted.iter().find(|k| **k == key) {
            // A later definition replaces an earlier one, as in a shell that sources the file.
            vars.insert(*known, SecretString::from(value.as_str()));
        }
    }
    Ok(vars)
}

/// The value after `=`: 'single-quoted' (taken as is), "double-quoted" (with \" and \\), or bare up to a
/// ` #` comment; surrounding spaces are dropped.
fn value(rest: &str) -> Result<Zeroizing<String>, &'static str> {
    let mut out = Zeroizing::new(String::new());
    let after = match rest.chars().next() {
        Some('\'') => {
            let end = rest[1..].find('\'').ok_or("a quote is not closed")?;
            out.push_str(&rest[1..=end]);
            &rest[end + 2..]
        }
        Some('"') => {
            let mut chars = rest[1..].char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some((_, e @ ('"' | '\\'))) => out.push(e),
                        Some((_, other)) => {
                            out.push('\\');
                            out.push(other);
                        }
                        None => return Err("a quote is not closed"),
                    },
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    c => out.push(c),
                }
            }
            let end = end.ok_or("a quote is not closed")?;
            &rest[end + 2..]
        }
        _ => {
            let bare = match rest.find(" #") {
                Some(i) => &rest[..i],
                None => rest,
            };
            out.push_str(bare.trim_end());
            ""
        }
    };
    let after = after.trim_start();
    if !(after.is_empty() || after.starts_with('#')) {
        return Err("there is text after the closing quote");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    const KEYS: &[&str] = &["A", "B", "C", "D", "E"];

    fn get(text: &str) -> Vec<(String, String)> {
        let mut v: Vec<_> = parse(text, KEYS)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.expose_secret().to_owned()))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn values_are_literal() {
        let text = "# comment\nexport A=${B}\nB = 'x $y \"z\"' # note\nC=\"q\\\"uo\\\\te $(id)\"\nD=bare value # c\nE=pa$$word#x\nOTHER=ignored\n";
        assert_eq!(
            get(text),
            [
                ("A".into(), "${B}".into()),
                ("B".into(), "x $y \"z\"".into()),
                ("C".into(), "q\"uo\\te $(id)".into()),
                ("D".into(), "bare value".into()),
                ("E".into(), "pa$$word#x".into()),
            ]
        );
    }

    #[test]
    fn errors_name_the_line_not_its_content() {
        for (text, says) in [
            ("A=1\nnot valid\n", "line 2: expected NAME=value"),
            ("1A=x", "line 1: the name"),
            ("A='open", "line 1: a quote is not closed"),
            ("A=\"x\" trailing-secret", "line 1: there is text after"),
        ] {
            let e = parse(text, KEYS).unwrap_err();
            assert!(e.contains(says), "{text:?}: {e}");
            assert!(!e.contains("secret") && !e.contains("open"), "{e}");
        }
    }
}
