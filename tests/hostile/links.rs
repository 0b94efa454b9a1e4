//! Authorization links and waiting: foreign links (L1), links that arrive expired (L2), `--wait` of
//! `u64::MAX` seconds (M3).

use std::time::Duration;

use tokenbroker_emulator::Route;

use crate::harness::{
    BASE, CONNECTIONS_JSON, Codes, HOSTPORT, Outcome, Report, Rules, World, account_answers, check,
    json_str, link_answer, pending_account, run_bounded, run_checked,
};
use crate::table::{LINK, Scenario, drive};

/// Counts the links (`/magic/ml_expired`) in a run's output.
fn links_printed(out: &Outcome) -> usize {
    out.stdout.matches("ml_expired").count() + out.stderr.matches("ml_expired").count()
}

/// A pending account whose every magic link is already expired.
fn expired_link_world() -> World {
    let mut answers = account_answers(&pending_account(), "null");
    answers.push(link_answer(
        &json_str(&format!("{BASE}/magic/ml_expired")),
        "\"2000-01-01T00:00:00Z\"",
    ));
    World::hostile(CONNECTIONS_JSON, &answers)
}

/// `--wait=u64::MAX`: a usage error or a clean (backed-off) wait, never an overflow panic.
#[test]
fn m3_huge_wait_never_panics() {
    let report = Report::default();
    const MAX: &str = "--wait=18446744073709551615";
    let runs: [&[&str]; 3] = [
        &[MAX, "gmail"],
        &["authorize", "gmail", MAX],
        &["exec", MAX, "gmail", "--", "true"],
    ];
    crate::harness::par_each(&runs, |args| {
        for (label, world, limit) in [
            (
                "expired links",
                expired_link_world(),
                Duration::from_secs(10),
            ),
            (
                "valid link",
                World::hostile(
                    CONNECTIONS_JSON,
                    &account_answers(&pending_account(), "null"),
                ),
                Duration::from_secs(4),
            ),
        ] {
            let out = run_bounded(&world.cli, args, limit);
            let mut problems = check(&out, &Rules::new());
            if out.timed_out {
                // Still waiting when cut: fine, as long as it is not relaying links in a loop.
                problems.retain(|p| !p.starts_with("did not end"));
                if links_printed(&out) > 8 {
                    problems.push(format!(
                        "{} links printed in {} s",
                        links_printed(&out),
                        limit.as_secs()
                    ));
                }
            }
            report.record(&format!("{args:?}"), label, &out, problems);
        }
    });
    report.assert_clean();
}

#[test]
fn l1_foreign_links_are_never_relayed() {
    let report = Report::default();
    let long = format!("{BASE}/magic/{}", "a".repeat(900_000));
    let links = [
        "https://phish.evil.test/login".to_owned(),
        "https://app.scalekit.com:443@evil.test/magic".into(),
        "https://ACCOUNTS.GOOGLE.COM.evil.test/".into(),
        "http://phish.evil.test/".into(),
        "https://scalekit.com.evil.test/magic".into(),
        "https://evil.test\\@app.scalekit.com/magic".into(),
        format!("http://user:pw@{HOSTPORT}/magic/ml_userinfo"),
        "http://127.0.0.1.evil.test/magic/ml_x".into(),
        long,
    ];
    let scenarios: Vec<Scenario> = links
        .iter()
        .map(|link| {
            let mut answers = account_answers(&pending_account(), "null");
            answers.push(link_answer(&json_str(link), "\"2099-01-01T00:00:00Z\""));
            let shown: String = link.chars().take(60).collect();
            let mut s = Scenario::new(format!("link {shown}"), answers).paths(LINK);
            if link.len() > 1000 {
                s = s.forbid("a".repeat(200));
            } else {
                s = s.forbid(link.clone());
                if let Ok(url) = url::Url::parse(link) {
                    s = s.forbid(url.as_str().to_owned());
                }
            }
            s.foreign_link = true;
            s
        })
        .collect();
    drive(&scenarios, &report);
    // Control: a link on a Scalekit domain is still relayed (the fix must not refuse every link).
    let mut answers = account_answers(&pending_account(), "null");
    let good = "https://hostile-env.scalekit.dev/magic/ml_ok";
    answers.push(link_answer(&json_str(good), "\"2099-01-01T00:00:00Z\""));
    let world = World::hostile(CONNECTIONS_JSON, &answers);
    let out = run_checked(&report, &world, "scalekit.dev link", &["gmail"], |r| {
        r.codes = Codes::Exactly(3);
    });
    if !out.stderr.contains(good) {
        report.note(
            "gmail",
            "scalekit.dev link",
            &out,
            vec!["a *.scalekit.dev link is not relayed".into()],
        );
    }
    report.assert_clean();
}

#[test]
fn l2_expired_links_back_off() {
    let report = Report::default();
    let runs: [&[&str]; 4] = [
        &["--wait=5", "gmail"],
        &["--json", "--wait=5", "gmail"],
        &["authorize", "gmail", "--wait=5"],
        &["exec", "--wait=5", "gmail", "--", "true"],
    ];
    crate::harness::par_each(&runs, |args| {
        let world = expired_link_world();
        let out = world.run(args);
        let mut rules = Rules::new();
        rules.json = args.contains(&"--json");
        let mut problems = check(&out, &rules);
        if links_printed(&out) > 6 {
            problems.push(format!("{} links printed", links_printed(&out)));
        }
        let requests = world.total_requests();
        if requests > 30 {
            problems.push(format!(
                "{requests} requests to Scalekit ({} magic links)",
                world.emu.requests(Route::MagicLink)
            ));
        }
        report.record(
            &format!("{args:?}"),
            "links already expired",
            &out,
            problems,
        );
    });
    report.assert_clean();
}
