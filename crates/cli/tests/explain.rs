//! `tessera check --explain`: a denial also lists the smallest edits that would allow it.

use serde_json::Value;

use crate::support::{NOW, Scratch};

const CLEO: [&str; 5] = ["--user", "u-cleo", "--can", "task.create", "--project"];

fn check(scratch: &Scratch, extra: &[&str]) -> crate::support::Run {
    let mut args = vec!["check", "s.json", "--trust", "k.pub", "--now", NOW];
    args.extend_from_slice(&CLEO);
    args.push("p-rebrand");
    args.extend_from_slice(extra);
    scratch.tessera(&args)
}

#[test]
fn explain_lists_what_would_grant() {
    let scratch = Scratch::signed_demo();
    let run = check(&scratch, &["--explain"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stdout.ends_with(
            "would be allowed after any one of:\n\
             \x20 1. switch office `o-lon`'s override of `task.create` for `client` on\n\
             \x20 2. add `task.create` to network `n-emea`'s defaults for `client`\n"
        ),
        "{}",
        run.stdout
    );
    // Without --explain the output is as it was.
    let plain = check(&scratch, &[]);
    assert_eq!(plain.code, 2);
    assert!(!plain.stdout.contains("would be allowed"), "{}", plain.stdout);
    assert!(run.stdout.starts_with(&plain.stdout));
}

#[test]
fn explain_in_json_adds_grants_and_nothing_else() {
    let scratch = Scratch::signed_demo();
    let explained: Value = serde_json::from_str(&check(&scratch, &["--explain", "--json"]).stdout).unwrap();
    let plain: Value = serde_json::from_str(&check(&scratch, &["--json"]).stdout).unwrap();
    assert!(plain.get("grants").is_none());
    let mut without = explained.clone();
    without.as_object_mut().unwrap().remove("grants");
    assert_eq!(without, plain);
    assert_eq!(
        explained["grants"],
        serde_json::json!([
            {"edits": [{"edit": "override_on", "office": "o-lon", "profile": "client", "permission": "task.create"}]},
            {"edits": [{"edit": "default_on", "network": "n-emea", "profile": "client", "permission": "task.create"}]}
        ])
    );
}

#[test]
fn an_allowed_decision_has_nothing_to_explain() {
    let scratch = Scratch::signed_demo();
    let run = scratch.tessera(&[
        "check",
        "s.json",
        "--trust",
        "k.pub",
        "--now",
        NOW,
        "--user",
        "u-ada",
        "--can",
        "task.create",
        "--project",
        "p-rebrand",
        "--explain",
        "--json",
    ]);
    assert_eq!(run.code, 0);
    let decision: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(decision.get("grants").is_none());
}
