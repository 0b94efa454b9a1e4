//! SKILL.md is valid under the Agent Skills format and identical in both places.

const ALLOWED: &[&str] = &[
    "name",
    "description",
    "license",
    "compatibility",
    "metadata",
    "allowed-tools",
];

fn split(text: &str) -> (Vec<(&str, &str)>, &str) {
    let rest = text
        .strip_prefix("---\n")
        .expect("frontmatter starts the file");
    let end = rest.find("\n---\n").expect("frontmatter is closed");
    let keys = rest[..end]
        .lines()
        .map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim(), v.trim()))
                .expect("one key: value per line")
        })
        .collect();
    (keys, &rest[end + 5..])
}

#[test]
fn skill_is_valid_and_identical_in_both_places() {
    let top = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/SKILL.md")).unwrap();
    let inner =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/skill/SKILL.md")).unwrap();
    assert_eq!(top, inner, "SKILL.md and skill/SKILL.md must be identical");

    let (keys, body) = split(&top);
    for (k, _) in &keys {
        assert!(
            ALLOWED.contains(k),
            "key {k:?} is not allowed by the Agent Skills format"
        );
    }
    let get = |name: &str| {
        keys.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
            .unwrap()
    };
    let name = get("name");
    assert!((1..=64).contains(&name.len()));
    assert!(
        name.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    );
    assert!(!name.starts_with('-') && !name.ends_with('-') && !name.contains("--"));
    let description = get("description");
    assert!(!description.is_empty() && description.chars().count() <= 1024);
    assert!(!description.contains('<') && !description.contains('>'));
    assert!(body.lines().count() < 500);

    let metadata: serde_json::Value = serde_json::from_str(get("metadata")).unwrap();
    let openclaw = &metadata["openclaw"];
    assert_eq!(openclaw["requires"]["bins"][0], "get-token");
    let env: Vec<_> = openclaw["requires"]["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(
        env,
        [
            "SCALEKIT_CLIENT_ID",
            "SCALEKIT_CLIENT_SECRET",
            "SCALEKIT_ENV_URL"
        ]
    );
    for installer in openclaw["install"].as_array().into_iter().flatten() {
        let kind = installer["kind"].as_str().unwrap_or_default();
        assert!(
            ["brew", "node", "go", "uv", "download"].contains(&kind),
            "OpenClaw drops installer kind {kind:?}"
        );
    }
}
