//! The conformance corpus, through the core's API.

use tessera_conformance::check;
use tessera_core::Policy;

#[test]
fn corpus_decides_as_written() {
    let report = check(|_, case, expectation| {
        let policy = Policy::new(&case.org).map_err(|e| e.to_string())?;
        let decision = policy.decide(&expectation.user, &expectation.query, case.now);
        // The explanation and the quick answer are the same rules: they must agree.
        if policy.allows(&expectation.user, &expectation.query, case.now) != decision.allowed {
            return Err("allows() and decide() disagree".to_owned());
        }
        if decision.message.is_empty() {
            return Err("the decision has no message".to_owned());
        }
        Ok((decision.allowed, decision.code.as_str().to_owned()))
    })
    .unwrap();
    println!("{report}");
    assert!(report.passed(), "{report}");
    assert!(report.queries >= 80, "the corpus holds only {} queries", report.queries);
}

#[test]
fn the_reference_evaluator_agrees_with_the_corpus() {
    let report = check(|_, case, expectation| {
        let allowed = tessera_conformance::reference::allows(
            &case.org,
            &expectation.user,
            &expectation.query,
            case.now,
        );
        // The reference answers whether, not why: compare the verdict only.
        Ok((
            allowed,
            if allowed == expectation.allowed { expectation.code.clone() } else { "(differs)".to_owned() },
        ))
    })
    .unwrap();
    assert!(report.passed(), "{report}");
}
