//! The conformance corpus through the real `tessera` binary: every case's organisation is
//! signed with a fresh key, and every query is asked with `tessera check --json`.

use tessera_conformance::{Case, Expectation, check, corpus};
use tessera_core::Query;

use crate::support::{Run, Scratch};

#[test]
fn corpus_decides_as_written_through_the_binary() {
    // The checker walks the corpus file by file: sign each organisation once, on its first query.
    let mut signed: Option<(String, Scratch)> = None;
    let report = check(|file, case, expectation| {
        if signed.as_ref().is_none_or(|(signed_file, _)| signed_file != file) {
            signed = Some((file.to_owned(), sign_case(case)?));
        }
        let Some((_, scratch)) = &signed else { return Err("not signed".to_owned()) };
        let run =
            scratch.tessera(&check_args(case, expectation).iter().map(String::as_str).collect::<Vec<_>>());
        answer(&run)
    })
    .unwrap();
    println!("{report}");
    assert!(report.passed(), "{report}");
    let expected: usize = corpus().unwrap().iter().map(|(_, case)| case.queries.len()).sum();
    assert_eq!(report.queries, expected);
}

fn sign_case(case: &Case) -> Result<Scratch, String> {
    let scratch = Scratch::new("conformance");
    scratch.write("org.json", serde_json::to_string(&case.org).map_err(|e| e.to_string())?);
    let now = case.now.to_string();
    for args in [
        vec!["keygen", "--out", "k"],
        vec![
            "sign",
            "org.json",
            "--key",
            "k",
            "--version",
            "1",
            "--out",
            "s.json",
            "--now",
            &now,
            "--expires-in",
            "1h",
        ],
    ] {
        let run = scratch.tessera(&args);
        if run.code != 0 {
            return Err(format!("tessera {args:?} exited {}: {}", run.code, run.stderr.trim()));
        }
    }
    Ok(scratch)
}

/// `tessera check` with the expectation's query as flags.
fn check_args(case: &Case, expectation: &Expectation) -> Vec<String> {
    let mut args: Vec<String> =
        ["check", "s.json", "--trust", "k.pub", "--json", "--user", &expectation.user]
            .map(String::from)
            .into();
    args.extend(["--now".to_owned(), case.now.to_string()]);
    match &expectation.query {
        Query::View { kind, id, project } => {
            args.extend(["--view".to_owned(), format!("{kind}:{id}")]);
            if let Some(project) = project {
                args.extend(["--project".to_owned(), project.clone()]);
            }
        }
        Query::Can { permission, target } => {
            args.extend(["--can".to_owned(), permission.clone()]);
            for (flag, id) in [
                ("--project", &target.project),
                ("--group", &target.group),
                ("--person", &target.person),
                ("--dm", &target.dm),
                ("--office", &target.office),
                ("--network", &target.network),
            ] {
                if let Some(id) = id {
                    args.extend([flag.to_owned(), id.clone()]);
                }
            }
        }
    }
    args
}

/// Allowed and code from the JSON on stdout, after checking that the exit code agrees.
fn answer(run: &Run) -> Result<(bool, String), String> {
    let decision: serde_json::Value = serde_json::from_str(&run.stdout)
        .map_err(|e| format!("exit {}, stdout not JSON ({e}): {}{}", run.code, run.stdout, run.stderr))?;
    let allowed = decision["allowed"].as_bool().ok_or("no `allowed` in the output")?;
    let code = decision["code"].as_str().ok_or("no `code` in the output")?.to_owned();
    let expected_exit = if allowed { 0 } else { 2 };
    if run.code != expected_exit {
        return Err(format!("exit code {} for a decision that is {allowed}", run.code));
    }
    Ok((allowed, code))
}
