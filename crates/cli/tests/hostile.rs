//! Every hostile case of `tests/hostile/` through the real binary: `tessera verify` answers
//! each with the code it must produce, on one line, and never crashes.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn every_hostile_case_gets_its_code() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/hostile");
    let cases = tessera_conformance::hostile_cases().unwrap();
    assert!(cases.len() >= 25, "only {} hostile cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let expectation = &case.expectation;
        let mut command = Command::new(env!("CARGO_BIN_EXE_tessera"));
        command
            .arg("verify")
            .arg(dir.join(format!("{}.snapshot", case.name)))
            .arg("--trust")
            .arg(dir.join("trusted.key.pub"))
            .args(["--now", &expectation.now, "--min-version", &expectation.min_version.to_string()]);
        if let Some(max_bytes) = expectation.max_bytes {
            command.args(["--max-bytes", &max_bytes.to_string()]);
        }
        let output = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let got = if output.status.success() {
            "ok".to_owned()
        } else {
            stderr.strip_prefix("error: ").and_then(|rest| rest.split(':').next()).unwrap_or("?").to_owned()
        };
        if got != expectation.expect
            || stderr.contains("panicked")
            || stderr.lines().count() > 1
            || output.status.code() == Some(101)
        {
            failures.push(format!("{}: expected {}, got {got} ({stderr:?})", case.name, expectation.expect));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
