//! Generated organisations and every question: the core must answer exactly as the reference
//! evaluator (written plainly from the spec), explained and quick answers must agree, and a
//! user's scoped snapshot must decide as the whole.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_conformance::{generated, reference};
use tessera_core::{Policy, Scope, cut};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let org = generated::build(&generated::Raw::from_bytes(data));
    let policy = Policy::new(&org).expect("generated organisations are valid");
    let now = common::now();
    let queries = generated::all_queries(&org);
    let scoped_user = data.last().map(|&b| usize::from(b) % org.users.len().max(1));
    for (index, user) in org.users.iter().enumerate() {
        let scoped = (Some(index) == scoped_user).then(|| {
            let cut = cut(&org, &Scope::User(user.id.clone()), now).expect("a valid org cuts");
            Policy::new(&cut).expect("a cut is valid")
        });
        for query in &queries {
            let allowed = policy.allows(&user.id, query, now);
            assert_eq!(allowed, reference::allows(&org, &user.id, query, now), "{} {query:?}", user.id);
            assert_eq!(allowed, policy.decide(&user.id, query, now).allowed);
            if let Some(scoped) = &scoped {
                assert_eq!(allowed, scoped.allows(&user.id, query, now), "scoped {} {query:?}", user.id);
            }
        }
    }
});
