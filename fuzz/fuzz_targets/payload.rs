//! Arbitrary bytes as an organisation: parsing, validation, decisions and cuts never crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::{Org, Policy, Scope, cut};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(org) = serde_json::from_slice::<Org>(data) else { return };
    let Ok(policy) = Policy::new(&org) else { return };
    let queries = tessera_conformance::generated::all_queries(&org);
    for user in org.users.iter().take(4) {
        for query in queries.iter().take(64) {
            let decision = policy.decide(&user.id, query, common::now());
            assert_eq!(decision.allowed, policy.allows(&user.id, query, common::now()));
        }
        let scoped = cut(&org, &Scope::User(user.id.clone()), common::now()).expect("a valid org cuts");
        Policy::new(&scoped).expect("a cut of a valid org is valid");
    }
});
