//! Every hostile case of `tests/hostile/` through the core: each gets the code it must, and
//! nothing panics.

use tessera_core::{PublicKey, Snapshot, Timestamp, TrustedKeys, VerifyOptions};

#[test]
fn every_hostile_case_gets_its_code() {
    let key = tessera_conformance::hostile::key().public_key();
    let committed = include_str!("../../../tests/hostile/trusted.key.pub");
    assert_eq!(PublicKey::from_text(committed).unwrap(), key);
    let keys: TrustedKeys = [key].into_iter().collect();
    let cases = tessera_conformance::hostile_cases().unwrap();
    assert!(cases.len() >= 25, "only {} hostile cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let expectation = &case.expectation;
        let mut options = VerifyOptions::new(Timestamp::parse(&expectation.now).unwrap());
        options.min_version = expectation.min_version;
        if let Some(max_bytes) = expectation.max_bytes {
            options.max_bytes = max_bytes;
        }
        let got = match Snapshot::verify(case.bytes, &keys, &options) {
            Ok(_) => "ok",
            Err(error) => error.code(),
        };
        if got != expectation.expect {
            failures.push(format!("{}: expected {}, got {got}", case.name, expectation.expect));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
