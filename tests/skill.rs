//! SKILL.md is valid under the Agent Skills format and identical in both places, and every installer in its
//! `metadata.openclaw.install` is one OpenClaw runs, pointing at what the release workflow publishes.

use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

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
}

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The installer kinds OpenClaw runs (any other is dropped silently), each with the field it cannot do without.
const KINDS: &[(&str, &[&str])] = &[
    ("brew", &["formula", "cask"]),
    ("node", &["package"]),
    ("go", &["module"]),
    ("uv", &["package"]),
    ("download", &["url"]),
];
/// Every field OpenClaw reads from an installer entry.
const FIELDS: &[&str] = &[
    "id",
    "kind",
    "label",
    "bins",
    "os",
    "formula",
    "cask",
    "package",
    "module",
    "url",
    "archive",
    "extract",
    "stripComponents",
    "targetDir",
    "sha256",
];
/// OpenClaw's names for operating systems (Node's `process.platform`).
const OSES: &[&str] = &["darwin", "linux", "win32"];
const ARCHIVES: &[&str] = &["tar.gz", "tar.bz2", "zip"];

fn strings(value: &Value, what: &str) -> Vec<String> {
    let list = value
        .as_array()
        .unwrap_or_else(|| panic!("{what} must be an array"));
    assert!(!list.is_empty(), "{what} is empty");
    list.iter()
        .map(|v| {
            v.as_str()
                .unwrap_or_else(|| panic!("{what} holds a non-string"))
                .to_owned()
        })
        .collect()
}

/// OpenClaw's check of a uv package: `^[A-Za-z0-9][A-Za-z0-9._\-[\]=<>!~+,]*$`.
fn safe_uv_package(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "._-[]=<>!~+,".contains(c))
}

/// The version in Cargo.toml's `[package]`.
fn cargo_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// `https://github.com/OWNER/REPO/releases/download/`, from Cargo.toml's binstall `pkg-url`.
fn release_base() -> String {
    let cargo = read("Cargo.toml");
    let binstall = &cargo[cargo
        .find("[package.metadata.binstall]")
        .expect("Cargo.toml has [package.metadata.binstall]")..];
    let url = binstall
        .lines()
        .find_map(|l| l.strip_prefix("pkg-url = \""))
        .expect("binstall pkg-url")
        .trim_end_matches('"');
    assert!(
        url.ends_with("/releases/download/v{ version }/get-token-{ version }-{ target }.tar.gz"),
        "binstall pkg-url {url} does not name the release archives"
    );
    assert!(
        binstall.contains("bin-dir = \"get-token-{ version }-{ target }/{ bin }{ binary-ext }\"")
    );
    let base = &url[..url.find("/releases/download/").unwrap() + "/releases/download/".len()];
    assert!(base.starts_with("https://github.com/"), "{base}");
    base.to_owned()
}

/// The archive targets the release workflow builds: each matrix entry's `archive`, else its `target`.
fn workflow_archive_targets() -> Vec<String> {
    let workflow = read(".github/workflows/release.yml");
    assert!(
        read(".ci/release-archive").contains("f\"get-token-{version}-{target}\""),
        ".ci/release-archive no longer names archives get-token-VERSION-TARGET"
    );
    assert!(
        workflow
            .contains("python .ci/release-archive dist \"${{ matrix.archive || matrix.target }}\"")
    );
    let mut targets: Vec<String> = Vec::new();
    let mut entry: Vec<(String, String)> = Vec::new();
    let mut flush = |entry: &mut Vec<(String, String)>| {
        let get = |k: &str| {
            entry
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        if let Some(name) = get("archive").or_else(|| get("target")) {
            targets.push(name);
        }
        entry.clear();
    };
    for line in workflow.lines() {
        let line = line.trim();
        if line.starts_with("- runner:") {
            flush(&mut entry);
        }
        let line = line.trim_start_matches("- ");
        if let Some((key, value)) = line.split_once(':')
            && ["runner", "target", "archive"].contains(&key)
            && !value.contains("${{")
        {
            entry.push((key.to_owned(), value.trim().to_owned()));
        }
    }
    flush(&mut entry);
    targets.sort();
    targets.dedup();
    assert!(targets.len() >= 4, "no build matrix found: {targets:?}");
    targets
}

#[test]
fn every_installer_is_one_openclaw_runs() {
    let (keys, body) = {
        let text = read("SKILL.md");
        let (keys, body) = split(&text);
        let keys: Vec<(String, String)> = keys
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        (keys, body.to_owned())
    };
    let metadata = &keys.iter().find(|(k, _)| k == "metadata").unwrap().1;
    let metadata: Value = serde_json::from_str(metadata).unwrap();
    let install = metadata["openclaw"]["install"]
        .as_array()
        .expect("metadata.openclaw.install lists the installers");

    let version = cargo_version();
    let base = release_base();
    let targets = workflow_archive_targets();
    let pyproject = read("pyproject.toml");
    let mut ids = Vec::new();
    let mut download_oses = Vec::new();
    let mut uv_packages = Vec::new();

    for installer in install {
        let entry = installer
            .as_object()
            .expect("an installer is a JSON object");
        for field in entry.keys() {
            assert!(
                FIELDS.contains(&field.as_str()),
                "OpenClaw ignores installer field {field:?}"
            );
        }
        let kind = installer["kind"].as_str().unwrap_or_default();
        let required = KINDS
            .iter()
            .find(|(k, _)| *k == kind)
            .unwrap_or_else(|| panic!("OpenClaw drops installer kind {kind:?}"))
            .1;
        assert!(
            required
                .iter()
                .any(|f| installer[*f].as_str().is_some_and(|v| !v.trim().is_empty())),
            "a {kind} installer without {required:?} is dropped by OpenClaw"
        );
        let id = installer["id"].as_str().expect("each installer has an id");
        assert!(
            !id.is_empty() && !ids.contains(&id),
            "installer id {id:?} is empty or repeated"
        );
        ids.push(id);
        assert!(
            installer["label"].as_str().is_some_and(|l| !l.is_empty()),
            "{id}: no label"
        );
        assert_eq!(
            strings(&installer["bins"], "bins"),
            ["get-token"],
            "{id}: bins"
        );
        let oses = match installer.get("os") {
            Some(os) => strings(os, "os"),
            None => Vec::new(),
        };
        for os in &oses {
            assert!(
                OSES.contains(&os.as_str()),
                "{id}: OpenClaw knows no os {os:?}"
            );
        }
        for field in ["archive", "extract", "stripComponents", "targetDir", "url"] {
            assert!(
                kind == "download" || installer.get(field).is_none(),
                "{id}: {field} is for download installers only"
            );
        }
        if let Some(sha256) = installer.get("sha256") {
            let sha256 = sha256.as_str().unwrap_or_default();
            assert!(
                kind == "download"
                    && sha256.len() == 64
                    && sha256.chars().all(|c| c.is_ascii_hexdigit())
            );
        }

        match kind {
            "uv" => {
                let package = installer["package"].as_str().unwrap();
                assert!(
                    safe_uv_package(package) && !package.starts_with('-'),
                    "{id}: {package:?}"
                );
                uv_packages.push(package.to_owned());
            }
            "download" => {
                assert!(
                    !oses.is_empty(),
                    "{id}: a download installer needs an os filter"
                );
                download_oses.extend(oses.iter().cloned());
                let url = installer["url"].as_str().unwrap();
                assert!(!url.chars().any(char::is_whitespace), "{id}: {url}");
                let file = url
                    .strip_prefix(&format!("{base}v{version}/"))
                    .unwrap_or_else(|| panic!("{id}: {url} is not under {base}v{version}/"));
                let archive = installer["archive"]
                    .as_str()
                    .expect("download installers name their archive");
                assert!(
                    ARCHIVES.contains(&archive),
                    "{id}: OpenClaw cannot unpack {archive:?}"
                );
                let target = file
                    .strip_prefix(&format!("get-token-{version}-"))
                    .and_then(|rest| rest.strip_suffix(&format!(".{archive}")))
                    .unwrap_or_else(|| {
                        panic!("{id}: {file} is not get-token-{version}-TARGET.{archive}")
                    });
                assert!(
                    targets.iter().any(|t| t == target),
                    "{id}: the workflow builds no {target} archive ({targets:?})"
                );
                let windows = target.contains("windows");
                assert_eq!(
                    archive == "zip",
                    windows,
                    "{id}: zip on Windows, tar.gz elsewhere"
                );
                assert_eq!(
                    oses.iter().any(|o| o == "win32"),
                    windows,
                    "{id}: os {oses:?} for {target}"
                );
                assert_eq!(
                    oses.iter().any(|o| o == "darwin"),
                    target.contains("apple-darwin"),
                    "{id}: os {oses:?} for {target}"
                );
                assert_eq!(
                    oses.iter().any(|o| o == "linux"),
                    target.contains("linux"),
                    "{id}: os {oses:?} for {target}"
                );
                // The archive holds get-token-VERSION-TARGET/get-token: one level to strip.
                assert_eq!(installer["stripComponents"], 1, "{id}: stripComponents");
                if let Some(dir) = installer.get("targetDir") {
                    let dir = dir.as_str().expect("targetDir is a string");
                    assert!(
                        !dir.is_empty()
                            && !dir.starts_with(['/', '~', '\\'])
                            && !dir.contains(".."),
                        "{id}: OpenClaw refuses targetDir {dir:?} outside the skill's tools directory"
                    );
                }
            }
            _ => {}
        }
    }

    assert_eq!(
        uv_packages,
        ["tokenbroker"],
        "one uv installer, for the wheel"
    );
    assert!(
        pyproject.contains("\n[project]\nname = \"tokenbroker\"\n"),
        "pyproject.toml names another package"
    );
    for os in OSES {
        assert!(
            download_oses.iter().any(|o| o == os),
            "no download installer for {os}"
        );
    }
    let check = &body[body
        .find("## Check it is installed")
        .expect("a 'Check it is installed' section")..];
    let check = &check[..check[3..].find("\n## ").map_or(check.len(), |i| i + 3)];
    assert!(
        check.contains("uv tool install tokenbroker"),
        "the section gives the one-line install"
    );
}
