//! Which connected account to act for: the identifier, and where it came from.

use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;

use super::sources::Sources;

/// The identifier used when nothing else gives one.
pub const DEFAULT_IDENTIFIER: &str = "agent";

/// Where an identifier came from, so errors and status can say why that account was used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdentifierSource {
    /// Given by the caller (API argument, builder, `--identifier`).
    Explicit,
    /// The service's `identifier` in `connections.json`.
    ConnectionsFile,
    /// `SCALEKIT_IDENTIFIER`, from the named place.
    Variable(String),
    /// The agent name in OpenClaw's `IDENTITY.md`.
    OpenClawIdentity(PathBuf),
    /// Nothing gave one: [`DEFAULT_IDENTIFIER`].
    Default,
}

impl fmt::Display for IdentifierSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Explicit => f.write_str("as given"),
            Self::ConnectionsFile => f.write_str("from the service's entry in connections.json"),
            Self::Variable(place) => write!(f, "from {place}"),
            Self::OpenClawIdentity(p) => write!(f, "the agent name in {}", p.display()),
            Self::Default => write!(f, "the default"),
        }
    }
}

/// The identifier for services whose entry has none: `SCALEKIT_IDENTIFIER`, then OpenClaw's agent name,
/// then [`DEFAULT_IDENTIFIER`].
pub(crate) fn fallback(sources: &Sources) -> (String, IdentifierSource) {
    if let Some(found) = sources.var("SCALEKIT_IDENTIFIER") {
        return (
            found.value.expose_secret().trim().to_owned(),
            IdentifierSource::Variable(found.source),
        );
    }
    if let Some(home) = sources.home() {
        let path = home.join(".openclaw/workspace/IDENTITY.md");
        if let Some(name) = read_identity(&path) {
            return (name, IdentifierSource::OpenClawIdentity(path));
        }
    }
    (DEFAULT_IDENTIFIER.to_owned(), IdentifierSource::Default)
}

/// OpenClaw's file, read with the same guards as tokenbroker's own; one that fails them is passed over (it is
/// only a fallback, and another tool's file).
fn read_identity(path: &Path) -> Option<String> {
    let bytes = super::read::read_guarded(path, 64 * 1024).ok()?;
    agent_name(std::str::from_utf8(&bytes).ok()?)
}

/// The agent's name from an OpenClaw `IDENTITY.md`, lower-cased as the Python skill stored it.
///
/// Accepts `- **Name:** Mess`, `Name: Mess`, and the template form where the value sits on the next line.
/// Template placeholders such as `_(pick something you like)_` count as no name.
pub(crate) fn agent_name(text: &str) -> Option<String> {
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(rest) = after_name_label(line) else {
            continue;
        };
        let value = if rest.is_empty() {
            // The template puts the value on the next non-empty line, unless a new field starts there.
            lines
                .by_ref()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .filter(|l| !(l.starts_with('-') || l.starts_with('#') || l.starts_with("**")))?
        } else {
            rest
        };
        let value = value.trim_matches(|c: char| c == '*' || c.is_whitespace());
        if value.is_empty() || value.starts_with('_') || value.starts_with('(') {
            return None;
        }
        let name = value.to_lowercase();
        return super::names::check_identifier(&name, None)
            .is_ok()
            .then_some(name);
    }
    None
}

/// For a line like `- **Name:** Mess`, the trimmed text after the label; `None` for other lines.
fn after_name_label(line: &str) -> Option<&str> {
    let l = line
        .trim_start()
        .trim_start_matches(['-', '*', '+'])
        .trim_start()
        .trim_start_matches('*');
    let rest = l
        .get(..5)
        .filter(|p| p.eq_ignore_ascii_case("name:"))
        .map(|_| &l[5..])?;
    Some(rest.trim_start_matches('*').trim())
}

#[cfg(test)]
mod tests {
    use super::agent_name;

    #[test]
    fn same_line_forms() {
        assert_eq!(
            agent_name("# IDENTITY\n\n- **Name:** Mess\n- **Creature:** cat").as_deref(),
            Some("mess")
        );
        assert_eq!(agent_name("**Name:** Mess").as_deref(), Some("mess"));
        assert_eq!(
            agent_name("Name: Ada Lovelace").as_deref(),
            Some("ada lovelace")
        );
        assert_eq!(agent_name("- **name:**   Zed  ").as_deref(), Some("zed"));
    }

    #[test]
    fn value_on_the_next_line() {
        let filled =
            "# IDENTITY.md - Who Am I?\n\n- **Name:**\n  Mess\n- **Creature:**\n  _(AI? robot?)_\n";
        assert_eq!(agent_name(filled).as_deref(), Some("mess"));
    }

    #[test]
    fn template_placeholders_and_missing_names_give_none() {
        let template = "- **Name:**\n  _(pick something you like)_\n- **Creature:**\n";
        assert_eq!(agent_name(template), None);
        assert_eq!(agent_name("- **Name:**\n- **Creature:** cat"), None);
        assert_eq!(agent_name("no name here"), None);
        assert_eq!(agent_name("- **Name:** (tbd)"), None);
        assert_eq!(agent_name(""), None);
    }

    #[test]
    fn other_fields_that_contain_name_are_not_taken() {
        assert_eq!(
            agent_name("- **Nickname:** x\n- **Name:** Real"),
            Some("real".into())
        );
    }
}
