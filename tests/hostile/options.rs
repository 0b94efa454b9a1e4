//! How the CLI's options and environment behave: global options before a subcommand (L4), `--json`
//! silent on stderr (L6), `exec` children without the credentials (M2), `config list`.

use crate::harness::{
    ACCESS, CONNECTIONS_JSON, Codes, Outcome, Report, Rules, World, account_answers, check,
    default_answers, pending_account, run_checked,
};
use crate::table::{CONFIG_LIST, CONFIG_LIST_JSON};

#[test]
fn l4_global_options_before_subcommand() {
    let report = Report::default();
    let json = r#"{
        "gmail": {"connection_name": "gmail_u3134a", "identifier": "mess"},
        "status": {"connection_name": "gmail_u3134a", "identifier": "mess"},
        "doctor": {"connection_name": "gmail_u3134a", "identifier": "mess"}
    }"#;
    let world = World::hostile(json, &[]);
    let table = |out: &Outcome| out.stdout.contains("SERVICE") && out.stdout.contains("STATUS");
    let checks = |out: &Outcome| {
        out.stdout
            .lines()
            .any(|l| l.starts_with("✓ ") || l.starts_with("✗ ") || l.starts_with("! "))
    };
    let json_with = |key: &'static str| {
        move |out: &Outcome| {
            serde_json::from_str::<serde_json::Value>(&out.stdout)
                .is_ok_and(|v| v.get(key).is_some())
        }
    };
    type LooksRight<'a> = &'a dyn Fn(&Outcome) -> bool;
    let runs: [(&[&str], &str, LooksRight); 6] = [
        (&["-q", "status"], "the status table", &table),
        (&["--timeout=10", "status"], "the status table", &table),
        (&["--json", "status"], "status JSON", &json_with("services")),
        (&["--timeout=10", "doctor"], "doctor checks", &checks),
        (&["-q", "doctor"], "doctor checks", &checks),
        (&["--json", "doctor"], "doctor JSON", &json_with("checks")),
    ];
    for (args, wanted, looks_right) in runs {
        let out = run_checked(
            &report,
            &world,
            "services named status and doctor",
            args,
            |_| {},
        );
        if !looks_right(&out) {
            report.note(
                &format!("{args:?}"),
                "services named status and doctor",
                &out,
                vec![format!("stdout is not {wanted}")],
            );
        }
    }
    report.assert_clean();
}

#[test]
fn l6_json_means_nothing_on_stderr() {
    let report = Report::default();
    // A .env readable by others: a permission warning, which must go into the JSON object. (A
    // connections.json others can read draws none: it holds no secret.)
    let world = World::with_env_file_mode(CONNECTIONS_JSON, 0o644);
    world.answer(&default_answers());
    let runs: &[(&[&str], bool)] = &[
        (&["--json", "gmail"], true),
        (&["--json", "--show-token", "gmail"], true),
        (&["--json", "status"], true),
        (&["status", "--json"], true),
        (&["--json", "doctor"], true),
        (&["authorize", "gmail", "--json"], true),
        (&["disconnect", "gmail", "--yes", "--json"], true),
        (
            &["--json", "--for-url", "https://gmail.googleapis.com/x"],
            true,
        ),
        (&["--json", "nope"], true),
        (&["--json", "gmail", "nope"], true),
        (&["--json", "--for-url", "https://unknown.example/"], true),
        (&["config", "list", "--json"], false),
    ];
    for (args, warns) in runs {
        let out = run_checked(&report, &world, ".env mode 644", args, |r| {
            r.token_out = args.contains(&"--show-token");
        });
        if *warns && !out.stdout.to_lowercase().contains("warning") {
            report.note(
                &format!("{args:?}"),
                ".env mode 644",
                &out,
                vec!["the permission warning is not in the JSON object".into()],
            );
        }
    }
    let pending = World::hostile(
        CONNECTIONS_JSON,
        &account_answers(&pending_account(), "null"),
    );
    for args in [
        &["--json", "gmail"][..],
        &["--json", "--wait=2", "gmail"],
        &["authorize", "gmail", "--json", "--wait=2"],
    ] {
        run_checked(&report, &pending, "pending account", args, |_| {});
    }
    report.assert_clean();
}

#[test]
fn m2_exec_child_gets_no_credentials() {
    let report = Report::default();
    let hidden = [
        "SCALEKIT_CLIENT_SECRET=",
        "SCALEKIT_CLIENT_ID=",
        "SCALEKIT_ENV_URL=",
        "SCALEKIT_ENVIRONMENT_URL=",
        "TOKENBROKER_",
    ];
    for alias in [false, true] {
        let mut world = World::hostile(CONNECTIONS_JSON, &[]);
        if alias {
            let url = world.emu.url();
            world.cli.env.retain(|(k, _)| k != "SCALEKIT_ENV_URL");
            world.cli.env.push(("SCALEKIT_ENVIRONMENT_URL".into(), url));
        }
        world
            .cli
            .env
            .push(("TOKENBROKER_TIMEOUT".into(), "30".into()));
        let label = if alias {
            "credentials in SCALEKIT_ENVIRONMENT_URL, ID, SECRET"
        } else {
            "credentials in SCALEKIT_ENV_URL, ID, SECRET"
        };
        // Unmasked, to see that the child got the real token (masking would conceal it in `env`'s output).
        let args = ["exec", "gmail", "--no-masking", "--", "sh", "-c", "env"];
        let out = world.run(&args);
        let mut rules = Rules::new();
        rules.token_out = true;
        rules.codes = Codes::Exactly(0);
        let mut problems = check(&out, &rules);
        for line in out.stdout.lines() {
            if let Some(h) = hidden.iter().find(|h| line.starts_with(*h)) {
                let name = line.split('=').next().unwrap_or(h);
                problems.push(format!("the child sees {name}"));
            }
        }
        if !out
            .stdout
            .lines()
            .any(|l| l == format!("GMAIL_TOKEN={ACCESS}"))
        {
            problems.push("the child does not get GMAIL_TOKEN".into());
        }
        report.record(&format!("{args:?}"), label, &out, problems);
    }
    report.assert_clean();
}

/// Config paths that never talk to Scalekit, for completeness: clean on a normal file.
#[test]
fn config_list_is_clean() {
    let report = Report::default();
    let world = World::hostile(CONNECTIONS_JSON, &[]);
    for p in [&CONFIG_LIST, &CONFIG_LIST_JSON] {
        let out = world.run(p.args);
        let mut rules = Rules::new();
        rules.json = p.json;
        rules.codes = Codes::Exactly(0);
        report.check(p.name, "normal file", &out, &rules);
    }
    report.assert_clean();
}
