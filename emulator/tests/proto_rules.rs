//! The emulator's rule table (`tokenbroker_emulator::rules`) against Scalekit's protos, mechanically: every
//! field of every request message the emulator serves, with its type and `buf.validate` rules, must read in
//! the table exactly as in the dumps of Scalekit's Python SDK 2.21.0. The dumps are vendored in
//! `tests/proto-evidence/` (and checked equal to `../shared/reference/proto-evidence/` where that exists), so
//! the emulator cannot fall behind the evidence without this test failing.

use std::path::Path;

use tokenbroker_emulator::rules::{Field, MESSAGES, Message, Rule};

/// A field as the dump writes it: `(number, type, name, validate rules)`.
type DumpField = (u32, String, String, Option<String>);

fn dump(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/proto-evidence")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The text of the balanced `{ ... }` starting at `text[0]`, quotes respected.
fn braced(text: &str) -> Option<&str> {
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '{' if !quoted => depth += 1,
            '}' if !quoted => {
                depth -= 1;
                if depth == 0 {
                    return Some(&text[..=i]);
                }
            }
            _ => {}
        }
    }
    None
}

/// The fields and CEL rule ids of `message` in a dump.
fn parse(dump: &str, message: &str) -> (Vec<DumpField>, Vec<String>) {
    let mut lines = dump.lines();
    let header = lines
        .find(|l| l.starts_with(&format!("message {message} {{")))
        .unwrap_or_else(|| panic!("message {message} is not in the dump"));
    let cel = header
        .match_indices("cel { id: \"")
        .map(|(i, m)| {
            let rest = &header[i + m.len()..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect();
    let mut fields = Vec::new();
    for line in lines.take_while(|l| *l != "}") {
        let decl = &line[..line.find(';').unwrap()];
        let (ty_name, number) = decl.trim().rsplit_once(" = ").unwrap();
        let (ty, name) = ty_name.rsplit_once(' ').unwrap();
        let rules = line
            .find("[buf.validate.field] ")
            .and_then(|i| braced(&line[i + "[buf.validate.field] ".len()..]))
            .map(str::to_owned);
        fields.push((
            number.parse().unwrap(),
            ty.to_owned(),
            name.to_owned(),
            rules,
        ));
    }
    (fields, cel)
}

fn table_fields(message: &Message) -> Vec<DumpField> {
    message.fields.iter().map(as_dump).collect()
}

fn as_dump(f: &Field) -> DumpField {
    (
        f.number,
        f.type_text(),
        f.name.to_owned(),
        f.validate_text(),
    )
}

/// Every difference between the table's message and the dump's, as lines.
fn differences(message: &Message, fields: &[DumpField]) -> Vec<String> {
    let (dumped, cel) = parse(&dump(message.proto.dump()), message.name);
    let mut out = Vec::new();
    for f in &dumped {
        match fields.iter().find(|t| t.2 == f.2) {
            None => out.push(format!(
                "{}.{}: in the proto, not in the table: {f:?}",
                message.name, f.2
            )),
            Some(t) if t != f => out.push(format!(
                "{}.{}: table {t:?}, proto {f:?}",
                message.name, f.2
            )),
            Some(_) => {}
        }
    }
    for t in fields {
        if !dumped.iter().any(|f| f.2 == t.2) {
            out.push(format!(
                "{}.{}: in the table, not in the proto",
                message.name, t.2
            ));
        }
    }
    let table_cel: Vec<String> = message.cel.iter().map(|c| (*c).to_owned()).collect();
    if table_cel != cel {
        out.push(format!(
            "{}: CEL rules: table {table_cel:?}, proto {cel:?}",
            message.name
        ));
    }
    out
}

#[test]
fn every_field_and_rule_of_the_protos_is_in_the_table_as_written_there() {
    let all: Vec<String> = MESSAGES
        .iter()
        .flat_map(|m| differences(m, &table_fields(m)))
        .collect();
    assert!(
        all.is_empty(),
        "the rule table differs from the 2.21.0 protos:\n{}",
        all.join("\n")
    );
    // The messages the client sends are all covered.
    for name in [
        "GetConnectedAccountByIdentifierRequest",
        "CreateConnectedAccountRequest",
        "CreateConnectedAccount",
        "GetMagicLinkForConnectedAccountRequest",
        "DeleteConnectedAccountRequest",
        "VerifyConnectedAccountUserRequest",
        "ListAppConnectionsRequest",
    ] {
        assert!(MESSAGES.iter().any(|m| m.name == name), "{name}");
    }
}

#[test]
fn removing_or_changing_any_rule_of_the_table_is_noticed() {
    let mut checked = 0;
    for message in MESSAGES {
        for (i, field) in message.fields.iter().enumerate() {
            for r in 0..field.rules.len() {
                let fewer: Vec<Rule> = field
                    .rules
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != r)
                    .map(|(_, x)| *x)
                    .collect();
                let mutated = Field {
                    rules: Box::leak(fewer.into_boxed_slice()),
                    ..*field
                };
                let mut fields = table_fields(message);
                fields[i] = as_dump(&mutated);
                assert!(
                    !differences(message, &fields).is_empty(),
                    "{}.{} without {:?} went unnoticed",
                    message.name,
                    field.name,
                    field.rules[r]
                );
                checked += 1;
            }
        }
        let mut fields = table_fields(message);
        let dropped = fields.pop().unwrap();
        assert!(
            !differences(message, &fields).is_empty(),
            "{}.{} dropped",
            message.name,
            dropped.2
        );
    }
    assert!(checked >= 50, "only {checked} rules checked");
}

#[test]
fn the_vendored_dumps_are_the_shared_evidence() {
    let shared =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference/proto-evidence");
    if !shared.is_dir() {
        // CI runs with shared/ beside the clone; a clone elsewhere has only the vendored copies.
        assert!(
            std::env::var_os("CI").is_none(),
            "{} is missing in CI",
            shared.display()
        );
        return;
    }
    for name in [
        "connected_accounts.proto.python-2.21.0.txt",
        "connections.proto.python-2.21.0.txt",
    ] {
        // The vendored copies name token shapes from the protos' examples neutrally, so that no secret
        // scanner takes them for credentials; nothing else differs.
        let evidence = redact_examples(&std::fs::read_to_string(shared.join(name)).unwrap());
        assert!(
            evidence == dump(name),
            "tests/proto-evidence/{name} differs from the shared evidence"
        );
    }
}

/// The protos' example token shapes (Google access tokens, live API keys) as the vendored dumps write them.
fn redact_examples(text: &str) -> String {
    text.replace(concat!("ya", "29."), "<google-token>.")
        .replace(concat!("sk_", "live_"), "<live-key>_")
}
