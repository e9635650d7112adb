//! `tessera db`: migrate, import and export, on a SQLite file.

use tessera_core::Org;

use crate::support::{DEMO_ORG, Scratch};

fn org_of(text: &str) -> Org {
    serde_json::from_str(text).unwrap()
}

#[test]
fn import_then_export_gives_back_the_organisation() {
    let scratch = Scratch::new("db-round-trip");
    let database = format!("sqlite:{}", scratch.path("org.db").display());
    let run = scratch.ok(&["db", "migrate", "--database", &database]);
    assert_eq!(run.stdout, "tessera db migrate: the schema is up to date; no organisation imported yet\n");
    let run = scratch.ok(&["db", "import", DEMO_ORG, "--database", &database, "--who", "ada"]);
    // An import is numbered by the Unix time at least, above the versions a server without a
    // database gave.
    let revision: u64 = run
        .stdout
        .strip_prefix(&format!("imported `{DEMO_ORG}` as revision "))
        .and_then(|rest| rest.split(':').next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(revision > 1_700_000_000, "{revision}");
    assert!(run.stdout.contains(": 3 networks, 9 offices, 45 users"), "{}", run.stdout);
    // To a file, and to standard output.
    let run = scratch.ok(&["db", "export", "--database", &database, "--out", "exported.json"]);
    assert!(
        run.stdout.starts_with(&format!("exported revision {revision} to `exported.json`: ")),
        "{}",
        run.stdout
    );
    let demo = org_of(&std::fs::read_to_string(DEMO_ORG).unwrap());
    assert_eq!(org_of(&scratch.read("exported.json")), demo);
    let run = scratch.ok(&["db", "export", "--database", &database]);
    assert_eq!(org_of(&run.stdout), demo);
    // What is exported is what `tessera sign` reads.
    scratch.ok(&["keygen", "--out", "k"]);
    scratch.ok(&["sign", "exported.json", "--key", "k", "--version", "1", "--out", "s.json"]);
    let run = scratch.ok(&["db", "migrate", "--database", &database]);
    assert_eq!(
        run.stdout,
        format!("tessera db migrate: the schema is up to date; current revision {revision}\n")
    );
}

#[test]
fn import_refuses_an_invalid_organisation_and_writes_nothing() {
    let scratch = Scratch::new("db-invalid");
    let database = format!("sqlite:{}", scratch.path("org.db").display());
    scratch.ok(&["db", "migrate", "--database", &database]);
    scratch.write(
        "org.json",
        r#"{
          "networks": [{ "id": "n-1", "name": "One" }],
          "offices": [{ "id": "o-1", "name": "A", "network": "n-9" }],
          "users": [],
          "projects": []
        }"#,
    );
    let run = scratch.tessera(&["db", "import", "org.json", "--database", &database]);
    assert_eq!(run.code, 1);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(
        lines,
        [
            "error: refusing to import `org.json`: 1 problem in the organisation",
            "  offices `o-1`: network: unknown network `n-9`"
        ]
    );
    let run = scratch.tessera(&["db", "export", "--database", &database]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.error_line(),
        "error: cannot export the organisation: the database holds no organisation yet: import one"
    );
}

#[test]
fn db_errors_are_one_line() {
    let scratch = Scratch::new("db-errors");
    let run = scratch.tessera(&["db", "migrate", "--database", "mysql://localhost/x"]);
    assert_eq!(run.code, 1);
    assert!(
        run.error_line().starts_with("error: cannot connect to the database: invalid database URL"),
        "{}",
        run.stderr
    );
    let database = format!("sqlite:{}", scratch.path("never-migrated.db").display());
    let run = scratch.tessera(&["db", "export", "--database", &database]);
    assert_eq!(run.code, 1);
    assert!(run.error_line().contains("run?"), "{}", run.stderr);
    let run = scratch.tessera(&["db", "import", "missing.json", "--database", &database]);
    assert_eq!(run.error_line(), "error: cannot read `missing.json`: No such file or directory (os error 2)");
}
