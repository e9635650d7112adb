//! Each command at the shell: what it prints, what it refuses, and its exit codes.

use crate::support::{DEMO_ORG, NOW, Run, Scratch};

/// The value of a `label:   value` line, as `verify` and `inspect` print them.
fn field<'a>(stdout: &'a str, label: &str) -> &'a str {
    let prefix = format!("{label}:");
    stdout
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no `{label}:` line in:\n{stdout}"))
}

/// The key id that `keygen` printed.
fn key_id(keygen: &Run) -> String {
    let id = keygen.stdout.lines().find_map(|line| line.strip_prefix("key id: ")).unwrap();
    assert_eq!(id.len(), 16, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    id.to_owned()
}

// ---- keygen -----------------------------------------------------------------------------------

#[test]
fn keygen_writes_both_files_and_refuses_to_overwrite() {
    let scratch = Scratch::new("keygen");
    let first = scratch.ok(&["keygen", "--out", "k"]);
    let first_id = key_id(&first);
    let secret = scratch.read("k");
    assert!(secret.starts_with("tessera-ed25519-secret:"), "{secret}");
    assert!(scratch.read("k.pub").starts_with("tessera-ed25519-public:"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(scratch.path("k")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }

    let again = scratch.tessera(&["keygen", "--out", "k"]);
    assert_eq!(again.code, 1);
    assert_eq!(again.error_line(), "error: `k` already exists; pass --force to overwrite it");
    assert_eq!(scratch.read("k"), secret, "the refused keygen changed the key");

    let forced = scratch.ok(&["keygen", "--out", "k", "--force"]);
    assert_ne!(key_id(&forced), first_id);
    assert_ne!(scratch.read("k"), secret);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(scratch.path("k")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
}

#[test]
fn keygen_refuses_to_overwrite_a_lone_public_key() {
    let scratch = Scratch::new("keygen-pub");
    scratch.write("k.pub", "someone trusts this\n");
    let run = scratch.tessera(&["keygen", "--out", "k"]);
    assert_eq!(run.code, 1);
    assert!(run.error_line().contains("`k.pub` already exists"), "{}", run.stderr);
    assert!(!scratch.path("k").exists());
}

// ---- sign -------------------------------------------------------------------------------------

#[test]
fn sign_prints_a_one_line_summary() {
    let scratch = Scratch::new("sign");
    let keygen = scratch.ok(&["keygen", "--out", "k"]);
    let run =
        scratch.ok(&["sign", DEMO_ORG, "--key", "k", "--version", "7", "--out", "s.json", "--now", NOW]);
    let bytes = std::fs::metadata(scratch.path("s.json")).unwrap().len();
    assert_eq!(
        run.stdout,
        format!(
            "signed `s.json`: scope org, version 7, expires 2026-06-02T09:00:00Z, key id {}, {bytes} bytes\n",
            key_id(&keygen)
        )
    );
}

#[test]
fn sign_refuses_an_invalid_org_listing_every_problem() {
    let scratch = Scratch::new("sign-invalid");
    scratch.ok(&["keygen", "--out", "k"]);
    scratch.write(
        "org.json",
        r#"{
          "networks": [{ "id": "n-1", "name": "One" }],
          "offices": [{ "id": "o-1", "name": "A", "network": "n-1" },
                      { "id": "o-1", "name": "B", "network": "n-9" }],
          "users": [{ "id": "u-1", "name": "U", "home_office": "o-x", "profile": "client" }],
          "projects": [{ "id": "p-1", "name": "P", "office": "o-1", "team": ["u-1"], "created_by": "u-2" }]
        }"#,
    );
    let run = scratch.tessera(&["sign", "org.json", "--key", "k", "--version", "1", "--out", "s.json"]);
    assert_eq!(run.code, 1);
    assert!(!run.stderr.contains("panicked"));
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines[0], "error: refusing to sign `org.json`: 4 problems in the organisation");
    assert_eq!(
        &lines[1..],
        [
            "  offices `o-1`: id: id `o-1` is used twice",
            "  offices `o-1`: network: unknown network `n-9`",
            "  users `u-1`: home_office: unknown office `o-x`",
            "  projects `p-1`: created_by: unknown user `u-2`",
        ]
    );
    assert!(!scratch.path("s.json").exists());
}

#[test]
fn sign_reports_bad_json_with_line_and_column() {
    let scratch = Scratch::new("sign-json");
    scratch.ok(&["keygen", "--out", "k"]);
    scratch.write("org.json", "{\"networks\": [],\n  \"userz\": []}");
    let run = scratch.tessera(&["sign", "org.json", "--key", "k", "--version", "1", "--out", "s.json"]);
    assert_eq!(run.code, 1);
    let line = run.error_line();
    assert!(line.starts_with("error: org.json:2:9: unknown field `userz`"), "{line}");

    scratch.write("cut.json", "{\"networks\": [");
    let run = scratch.tessera(&["sign", "cut.json", "--key", "k", "--version", "1", "--out", "s.json"]);
    assert_eq!(run.error_line(), "error: cut.json:1:14: EOF while parsing a list");
}

#[test]
fn sign_refuses_bad_values_in_one_line() {
    let scratch = Scratch::new("sign-flags");
    scratch.ok(&["keygen", "--out", "k"]);
    let sign = |extra: &[&str]| {
        let mut args = vec!["sign", DEMO_ORG, "--version", "1", "--out", "s.json"];
        if !extra.contains(&"--key") {
            args.extend(["--key", "k"]);
        }
        args.extend_from_slice(extra);
        let run = scratch.tessera(&args);
        assert_eq!(run.code, 1, "{extra:?}");
        run.error_line().to_owned()
    };
    assert_eq!(
        sign(&["--expires-in", "3x"]),
        "error: invalid value for --expires-in: `3x` is not a duration such as `30m`, `24h` or `7d`"
    );
    assert_eq!(
        sign(&["--scope", "team:x"]),
        "error: invalid value for --scope: `team:x` is not org, user:ID or network:ID"
    );
    assert_eq!(sign(&["--scope", "user:u-nobody"]), "error: cannot scope to unknown user `u-nobody`");
    assert_eq!(
        sign(&["--now", "tomorrow"]),
        "error: invalid value for --now: `tomorrow` is not an RFC 3339 time such as `2027-01-01T00:00:00Z`"
    );
    assert!(
        sign(&["--key", "k.pub"])
            .starts_with("error: cannot read secret key `k.pub`: not a tessera secret key")
    );
    assert!(!scratch.path("s.json").exists());
}

// ---- verify -----------------------------------------------------------------------------------

#[test]
fn verify_prints_the_header() {
    let scratch = Scratch::new("verify");
    let keygen = scratch.ok(&["keygen", "--out", "k"]);
    scratch.ok(&["sign", DEMO_ORG, "--key", "k", "--version", "3", "--out", "s.json", "--now", NOW]);
    let run = scratch.ok(&["verify", "s.json", "--trust", "k.pub", "--now", "2026-06-01T12:00:00Z"]);
    assert_eq!(field(&run.stdout, "schema"), "1");
    assert_eq!(field(&run.stdout, "issuer"), "tessera");
    assert_eq!(field(&run.stdout, "version"), "3");
    assert_eq!(field(&run.stdout, "issued_at"), NOW);
    assert_eq!(field(&run.stdout, "expires_at"), "2026-06-02T09:00:00Z");
    assert_eq!(field(&run.stdout, "scope"), "org");
    assert_eq!(field(&run.stdout, "key_id"), key_id(&keygen));
    assert_eq!(run.stdout.lines().count(), 7);
    assert_eq!(run.stderr, "");
}

#[test]
fn verify_names_the_issuer_and_accepts_any_trusted_key() {
    let scratch = Scratch::new("verify-rotate");
    scratch.ok(&["keygen", "--out", "old"]);
    let new = scratch.ok(&["keygen", "--out", "new"]);
    scratch.ok(&[
        "sign",
        DEMO_ORG,
        "--key",
        "new",
        "--version",
        "1",
        "--out",
        "s.json",
        "--now",
        NOW,
        "--issuer",
        "hq",
    ]);
    let run = scratch.ok(&["verify", "s.json", "--trust", "old.pub", "--trust", "new.pub", "--now", NOW]);
    assert_eq!(field(&run.stdout, "key_id"), key_id(&new));
    assert_eq!(field(&run.stdout, "issuer"), "hq");
}

#[test]
fn verify_with_a_wrong_key_is_unknown_key() {
    let scratch = Scratch::signed_demo();
    scratch.ok(&["keygen", "--out", "other"]);
    let run = scratch.tessera(&["verify", "s.json", "--trust", "other.pub", "--now", NOW]);
    assert_eq!(run.code, 1);
    assert!(run.error_line().starts_with("error: unknown_key: "), "{}", run.stderr);
    assert_eq!(run.stdout, "");
}

#[test]
fn verify_a_tampered_snapshot_fails() {
    let scratch = Scratch::signed_demo();
    let mut envelope: serde_json::Value = serde_json::from_str(&scratch.read("s.json")).unwrap();
    let payload = envelope["payload"].as_str().unwrap().to_owned();
    let middle = payload.len() / 2;
    let flipped = if &payload[middle..=middle] == "A" { "B" } else { "A" };
    envelope["payload"] = format!("{}{flipped}{}", &payload[..middle], &payload[middle + 1..]).into();
    scratch.write("s.json", envelope.to_string());
    let run = scratch.tessera(&["verify", "s.json", "--trust", "k.pub", "--now", NOW]);
    assert_eq!(run.code, 1);
    let line = run.error_line();
    assert!(
        line.starts_with("error: bad_signature: ") || line.starts_with("error: malformed_envelope: "),
        "{line}"
    );
}

#[test]
fn verify_below_the_minimum_version_is_rollback() {
    let scratch = Scratch::signed_demo();
    scratch.ok(&["verify", "s.json", "--trust", "k.pub", "--now", NOW, "--min-version", "3"]);
    let run = scratch.tessera(&["verify", "s.json", "--trust", "k.pub", "--now", NOW, "--min-version", "4"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.error_line(), "error: rollback: version 3 is older than version 4 already accepted");
}

#[test]
fn verify_past_expiry_is_expired() {
    let scratch = Scratch::signed_demo();
    let run = scratch.tessera(&["verify", "s.json", "--trust", "k.pub", "--now", "2026-06-02T09:00:00Z"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.error_line(), "error: expired: expired at 2026-06-02T09:00:00Z");
}

#[test]
fn a_missing_file_is_one_line() {
    let scratch = Scratch::signed_demo();
    for args in [
        &["verify", "nope.json", "--trust", "k.pub"][..],
        &["verify", "s.json", "--trust", "nope.pub"],
        &["check", "nope.json", "--trust", "k.pub", "--user", "u-ada", "--can", "project.create"],
        &["inspect", "nope.json", "--trust", "k.pub"],
        &["sign", "nope.json", "--key", "k", "--version", "1", "--out", "x.json"],
        &["sign", DEMO_ORG, "--key", "nope", "--version", "1", "--out", "x.json"],
    ] {
        let run = scratch.tessera(args);
        assert_eq!(run.code, 1, "{args:?}");
        let line = run.error_line();
        assert!(line.starts_with("error: cannot read `nope"), "{line}");
        assert!(line.contains("(os error 2)"), "{line}");
    }
}

// ---- check ------------------------------------------------------------------------------------

/// `tessera check s.json --trust k.pub --now NOW` and `extra`.
fn check(scratch: &Scratch, extra: &[&str]) -> Run {
    let mut args = vec!["check", "s.json", "--trust", "k.pub", "--now", NOW];
    args.extend_from_slice(extra);
    scratch.tessera(&args)
}

#[test]
fn check_json_is_exactly_the_decision() {
    let scratch = Scratch::signed_demo();
    let run =
        check(&scratch, &["--user", "u-ada", "--can", "task.create", "--project", "p-rebrand", "--json"]);
    assert_eq!(run.code, 0);
    assert_eq!(run.stdout.lines().count(), 1);
    let decision: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let mut keys: Vec<&str> = decision.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["allowed", "code", "facts", "message"]);
    assert_eq!(decision["allowed"], true);
    assert_eq!(decision["code"], "profile_grants");
    assert!(decision["facts"].as_array().is_some_and(|facts| !facts.is_empty()));
    // It is the core's Decision, as serde writes it.
    let _: tessera_core::Decision = serde_json::from_str(&run.stdout).unwrap();
}

#[test]
fn check_exit_codes() {
    let scratch = Scratch::signed_demo();
    let allowed = check(&scratch, &["--user", "u-ada", "--view", "project:p-rebrand"]);
    assert_eq!(allowed.code, 0, "{allowed:?}");
    let denied = check(&scratch, &["--user", "u-cleo", "--can", "project.create"]);
    assert_eq!(denied.code, 2, "{denied:?}");
    // An unknown user is an answer, not an error.
    let unknown = check(&scratch, &["--user", "u-nobody", "--can", "project.create", "--json"]);
    assert_eq!(unknown.code, 2, "{unknown:?}");
    assert!(unknown.stdout.contains(r#""code":"unknown_user""#), "{}", unknown.stdout);
    // So are the query's shape problems.
    let invalid =
        check(&scratch, &["--user", "u-ada", "--view", "project:p-rebrand", "--project", "p-rebrand"]);
    assert_eq!(invalid.code, 2);
    assert!(invalid.stdout.starts_with("denied (invalid_target): "), "{}", invalid.stdout);
    let missing = check(&scratch, &["--user", "u-ada", "--can", "task.create"]);
    assert!(missing.stdout.starts_with("denied (missing_target): "), "{}", missing.stdout);
    let two =
        check(&scratch, &["--user", "u-ada", "--can", "task.create", "--project", "p-rebrand", "--dm", "d"]);
    assert!(two.stdout.starts_with("denied (invalid_target): "), "{}", two.stdout);

    let bad_kind = check(&scratch, &["--user", "u-ada", "--view", "widget:w-1"]);
    assert_eq!(bad_kind.code, 1);
    assert_eq!(
        bad_kind.error_line(),
        "error: invalid value for --view: `widget` is not a kind of resource: \
         use one of project, task, document, report, finance, person, group"
    );
    // Usage errors are failures (1), never mistaken for a denial (2).
    for extra in [
        &["--user", "u-ada"][..],
        &["--user", "u-ada", "--view", "project:p-rebrand", "--can", "project.create"],
        &["--user", "u-ada", "--view", "project:p-rebrand", "--group", "g-1"],
        &["--can", "project.create"],
    ] {
        let run = check(&scratch, extra);
        assert_eq!(run.code, 1, "{extra:?}: {run:?}");
        assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
    }
    // A snapshot that does not verify is an error too.
    let expired = scratch.tessera(&[
        "check",
        "s.json",
        "--trust",
        "k.pub",
        "--now",
        "2027-01-01T00:00:00Z",
        "--user",
        "u-ada",
        "--can",
        "project.create",
    ]);
    assert_eq!(expired.code, 1);
    assert!(expired.error_line().starts_with("error: expired: "));
}

#[test]
fn check_explains_with_the_facts() {
    let scratch = Scratch::signed_demo();
    let run = check(&scratch, &["--user", "u-cleo", "--can", "project.create"]);
    let mut lines = run.stdout.lines();
    assert_eq!(
        lines.next().unwrap(),
        "denied (profile_lacks_permission): the `client` profile does not include `project.create` in network `n-emea`"
    );
    let facts: Vec<&str> = lines.collect();
    assert!(!facts.is_empty());
    assert!(facts.iter().all(|fact| fact.starts_with("  ") && fact.len() > 2), "{facts:?}");
    assert!(facts.contains(&"  default in network n-emea: project.create for client is off"), "{facts:?}");
}

// ---- inspect ----------------------------------------------------------------------------------

#[test]
fn inspect_users_prints_one_row_per_user() {
    let scratch = Scratch::signed_demo();
    let run = scratch.ok(&["inspect", "s.json", "--trust", "k.pub", "--now", NOW, "--users"]);
    assert_eq!(field(&run.stdout, "users"), "45");
    assert_eq!(field(&run.stdout, "projects"), "22");
    assert_eq!(field(&run.stdout, "scope"), "org");
    let lines: Vec<&str> = run.stdout.lines().collect();
    let header = lines.iter().position(|line| line.starts_with("user ")).unwrap();
    let rows = &lines[header + 1..];
    assert_eq!(rows.len(), 45, "{}", run.stdout);
    // Fixed width: every column starts where its heading does.
    let column = lines[header].find("project.create").unwrap();
    for row in rows {
        assert!(row.starts_with("u-"), "{row}");
        assert!(row[column..].starts_with("yes ") || row[column..].starts_with("no "), "{row}");
    }
    let sam = rows.iter().find(|row| row.starts_with("u-sam ")).unwrap();
    assert!(sam.contains(" sys "), "{sam}");
    assert!(sam.trim_end().ends_with("yes"), "a system superuser manages networks: {sam}");
    let tom = rows.iter().find(|row| row.starts_with("u-tom ")).unwrap();
    assert!(tom.contains(" inactive ") && tom.contains(" 0/22 "), "{tom}");

    let without = scratch.ok(&["inspect", "s.json", "--trust", "k.pub", "--now", NOW]);
    assert!(!without.stdout.contains("project.create"));
}

#[test]
fn a_snapshot_scoped_to_a_user_holds_less_and_verifies() {
    let scratch = Scratch::signed_demo();
    scratch.ok(&[
        "sign",
        DEMO_ORG,
        "--key",
        "k",
        "--version",
        "4",
        "--out",
        "ada.json",
        "--now",
        NOW,
        "--scope",
        "user:u-ada",
    ]);
    let verify = scratch.ok(&["verify", "ada.json", "--trust", "k.pub", "--now", NOW]);
    assert_eq!(field(&verify.stdout, "scope"), "user:u-ada");
    let whole = scratch.ok(&["inspect", "s.json", "--trust", "k.pub", "--now", NOW]);
    let scoped = scratch.ok(&["inspect", "ada.json", "--trust", "k.pub", "--now", NOW, "--users"]);
    let count = |run: &Run, label: &str| field(&run.stdout, label).parse::<usize>().unwrap();
    assert!(count(&scoped, "users") < count(&whole, "users"), "{}", scoped.stdout);
    assert!(count(&scoped, "projects") < count(&whole, "projects"), "{}", scoped.stdout);
    assert!(scoped.stdout.contains("scoped to `u-ada`: only that row"), "{}", scoped.stdout);
    // Ada decides alike on both.
    let ada = |snapshot: &str| {
        let run = scratch.tessera(&[
            "check",
            snapshot,
            "--trust",
            "k.pub",
            "--now",
            NOW,
            "--user",
            "u-ada",
            "--can",
            "project.create",
        ]);
        (run.code, run.stdout.lines().next().unwrap_or_default().to_owned())
    };
    assert_eq!(ada("ada.json"), ada("s.json"));
}
