//! The architecture, checked: a library user (default features off) gets no command-line parser, no MCP SDK
//! and no HTTP server; the emulator is a package of its own.

use std::process::Command;

fn tree(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO"))
        .args(["tree", "--offline", "-p", "tokenbroker"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_library_alone_has_no_cli_no_mcp_sdk_and_no_http_server() {
    let tree = tree(&["--no-default-features", "-e", "normal,features"]);
    for banned in [
        "clap",
        "rmcp",
        "tokenbroker-emulator",
        "hyper feature \"server\"",
        "hyper-util feature \"server\"",
        "regex ",
    ] {
        assert!(
            !tree.contains(banned),
            "{banned} in the library's tree:\n{tree}"
        );
    }
    assert!(tree.contains("reqwest"), "the tree was read: {tree}");
}

#[test]
fn the_emulator_is_its_own_package_and_get_token_keeps_its_features() {
    let with_cli = tree(&["-e", "normal"]);
    assert!(
        with_cli.contains("clap") && with_cli.contains("rmcp"),
        "get-token's own dependencies: {with_cli}"
    );
    assert!(
        !with_cli.contains("tokenbroker-emulator"),
        "never a normal dependency: {with_cli}"
    );
    let manifest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    assert!(
        !manifest.contains("emulator = ["),
        "no `emulator` feature in the library"
    );
}
