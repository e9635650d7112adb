//! `tessera diff` at the shell: organisation files and signed snapshots, text and JSON, and its
//! exit codes (0 nothing changes, 3 something does, 1 an error).

use serde_json::Value;

use crate::support::{DEMO_ORG, NOW, Scratch};

/// The demo organisation with London overriding `task.create` on for clients: Cleo, a London
/// client, gains it in every London Project she sees.
fn with_london_override(scratch: &Scratch) {
    let mut org: Value = serde_json::from_str(&std::fs::read_to_string(DEMO_ORG).unwrap()).unwrap();
    let london = org["offices"].as_array_mut().unwrap().iter_mut().find(|o| o["id"] == "o-lon").unwrap();
    london["overrides"]["client"]["task.create"] = Value::Bool(true);
    scratch.write("new.json", serde_json::to_string_pretty(&org).unwrap());
    scratch.write("old.json", std::fs::read(DEMO_ORG).unwrap());
}

const CLEO_GAINS: &str = "\
1 user gains or loses access

u-cleo (Cleo Barnes)
  gains  task.create on projects p-lon-board-report, p-lon-intranet, p-lon-vendor-portal, p-lon-website, p-rebrand
";

#[test]
fn diff_of_two_organisations_groups_changes_by_user() {
    let scratch = Scratch::new("diff-text");
    with_london_override(&scratch);
    let run = scratch.tessera(&["diff", "old.json", "new.json", "--now", NOW]);
    assert_eq!((run.code, run.stderr.as_str()), (3, ""));
    assert_eq!(run.stdout, CLEO_GAINS);

    // Backwards, she loses it.
    let run = scratch.tessera(&["diff", "new.json", "old.json", "--now", NOW]);
    assert_eq!(run.code, 3);
    assert!(run.stdout.contains("  loses  task.create on projects p-lon-board-report,"), "{}", run.stdout);
}

#[test]
fn diff_json_is_the_impact() {
    let scratch = Scratch::new("diff-json");
    with_london_override(&scratch);
    let run = scratch.tessera(&["diff", "old.json", "new.json", "--now", NOW, "--json"]);
    assert_eq!(run.code, 3);
    assert_eq!(run.stdout.lines().count(), 1);
    let impact: Value = serde_json::from_str(&run.stdout).unwrap();
    let users = impact["users"].as_array().unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["user"], "u-cleo");
    assert_eq!(users[0]["lost"], serde_json::json!({}));
    let gained = users[0]["gained"]["permissions"].as_array().unwrap();
    assert_eq!(gained.len(), 5);
    assert_eq!(
        gained[0],
        serde_json::json!({"can": "task.create", "target": {"project": "p-lon-board-report"}})
    );
}

#[test]
fn no_change_exits_0() {
    let scratch = Scratch::new("diff-same");
    with_london_override(&scratch);
    let run = scratch.tessera(&["diff", "old.json", "old.json", "--now", NOW]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "no user gains or loses access\n"));
    let run = scratch.tessera(&["diff", "old.json", "old.json", "--now", NOW, "--json"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "{\"users\":[]}\n"));
}

#[test]
fn one_user_only() {
    let scratch = Scratch::new("diff-user");
    with_london_override(&scratch);
    let run = scratch.tessera(&["diff", "old.json", "new.json", "--now", NOW, "--user", "u-ada"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "no user gains or loses access\n"));
    let run = scratch.tessera(&["diff", "old.json", "new.json", "--now", NOW, "--user", "u-cleo"]);
    assert_eq!((run.code, run.stdout.as_str()), (3, CLEO_GAINS));
    let run = scratch.tessera(&["diff", "old.json", "new.json", "--now", NOW, "--user", "u-nobody"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.error_line(), "error: unknown user `u-nobody`: in neither `old.json` nor `new.json`");
}

#[test]
fn signed_snapshots_are_verified_first() {
    let scratch = Scratch::new("diff-signed");
    with_london_override(&scratch);
    scratch.ok(&["keygen", "--out", "k"]);
    scratch.ok(&["sign", "old.json", "--key", "k", "--version", "1", "--out", "old.snap", "--now", NOW]);
    scratch.ok(&["sign", "new.json", "--key", "k", "--version", "2", "--out", "new.snap", "--now", NOW]);

    let run = scratch.tessera(&["diff", "old.snap", "new.snap", "--trust", "k.pub", "--now", NOW]);
    assert_eq!((run.code, run.stdout.as_str()), (3, CLEO_GAINS));
    // A file and a snapshot compare just as well.
    let run = scratch.tessera(&["diff", "old.json", "new.snap", "--trust", "k.pub", "--now", NOW]);
    assert_eq!((run.code, run.stdout.as_str()), (3, CLEO_GAINS));

    let run = scratch.tessera(&["diff", "old.snap", "new.snap", "--now", NOW]);
    assert_eq!(run.code, 1);
    assert_eq!(run.error_line(), "error: `old.snap` is a signed snapshot: pass --trust KEY.pub to verify it");

    scratch.ok(&["keygen", "--out", "other"]);
    let run = scratch.tessera(&["diff", "old.snap", "new.snap", "--trust", "other.pub", "--now", NOW]);
    assert_eq!(run.code, 1);
    assert!(run.error_line().starts_with("error: cannot verify `old.snap`: unknown_key: "), "{}", run.stderr);

    let mut envelope: Value = serde_json::from_str(&scratch.read("new.snap")).unwrap();
    envelope["payloadType"] = Value::from("application/vnd.tessera.snapshot+jsonx");
    scratch.write("new.snap", envelope.to_string());
    let run = scratch.tessera(&["diff", "old.snap", "new.snap", "--trust", "k.pub", "--now", NOW]);
    assert_eq!(run.code, 1);
    assert!(run.error_line().starts_with("error: cannot verify `new.snap`: "), "{}", run.stderr);
    assert_eq!(run.stdout, "");
}

#[test]
fn user_scoped_snapshots_compare_for_their_user() {
    let scratch = Scratch::new("diff-scoped");
    with_london_override(&scratch);
    scratch.ok(&["keygen", "--out", "k"]);
    for (org, version, scope, out) in [
        ("old.json", "1", "user:u-cleo", "old.snap"),
        ("new.json", "2", "user:u-cleo", "new.snap"),
        ("new.json", "3", "user:u-ada", "ada.snap"),
    ] {
        scratch.ok(&[
            "sign",
            org,
            "--key",
            "k",
            "--version",
            version,
            "--scope",
            scope,
            "--out",
            out,
            "--now",
            NOW,
        ]);
    }
    let run = scratch.tessera(&["diff", "old.snap", "new.snap", "--trust", "k.pub", "--now", NOW]);
    assert_eq!((run.code, run.stdout.as_str()), (3, CLEO_GAINS));

    let run = scratch.tessera(&["diff", "old.snap", "ada.snap", "--trust", "k.pub", "--now", NOW]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.error_line(),
        "error: `old.snap` is scoped to `user:u-cleo` and `ada.snap` to `user:u-ada`: their decisions cannot be compared"
    );
    let run = scratch
        .tessera(&["diff", "old.snap", "new.snap", "--trust", "k.pub", "--now", NOW, "--user", "u-ada"]);
    assert_eq!(run.code, 1);
    assert!(
        run.error_line().contains("scoped to `user:u-cleo` and decide for no one else"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_invalid_organisation_is_refused_with_its_problems() {
    let scratch = Scratch::new("diff-invalid");
    with_london_override(&scratch);
    scratch.write(
        "bad.json",
        r#"{"networks": [], "offices": [],
            "users": [{ "id": "u-1", "name": "U", "home_office": "o-x", "profile": "client" }],
            "projects": []}"#,
    );
    let run = scratch.tessera(&["diff", "old.json", "bad.json", "--now", NOW]);
    assert_eq!(run.code, 1);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(
        lines,
        [
            "error: cannot diff `bad.json`: 1 problem in the organisation",
            "  users `u-1`: home_office: unknown office `o-x`"
        ]
    );
    scratch.write("broken.json", "{\"networks\": [");
    let run = scratch.tessera(&["diff", "broken.json", "old.json", "--now", NOW]);
    assert_eq!(run.code, 1);
    assert_eq!(run.error_line(), "error: broken.json:1:14: EOF while parsing a list");
}
