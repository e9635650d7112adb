//! "What would grant": every suggestion, applied to the organisation, really allows the query,
//! and the organisation stays valid.

use proptest::prelude::*;
use tessera_core::{Code, Edit, Grant, MAX_GRANTS, Org, Policy, Query, ResourceKind, Role, Target};

use crate::support::{all_queries, arb_org, demo_org, now, small_org};

/// Whether a denial with this code, for this query, must come with a suggestion: every rule an
/// edit of ours can pass. Not: unknown users, resources and permissions, malformed queries,
/// replying in someone else's conversation, and groups or Offices behind the firewall.
fn fixable(org: &Org, user: &str, query: &Query, code: Code) -> bool {
    let behind_the_firewall_only = match query {
        Query::View { kind: ResourceKind::Group, .. } => true,
        Query::Can { permission, target } => {
            target.group.is_some()
                || (target.office.is_some()
                    && !["defaults.edit", "network.manage"].contains(&permission.as_str()))
        }
        _ => false,
    };
    match code {
        Code::UnknownUser
        | Code::UnknownPermission
        | Code::MissingTarget
        | Code::InvalidTarget
        | Code::UnknownResource
        | Code::NotAParticipant => false,
        Code::Firewall | Code::AgreementExpired | Code::NotNetworkAdmin => !behind_the_firewall_only,
        Code::InactiveUser => {
            // Fixable when, once active, the user is allowed or can be.
            let mut active = org.clone();
            active.users.iter_mut().filter(|u| u.id == user).for_each(|u| u.active = true);
            let policy = Policy::new(&active).unwrap();
            let code = policy.code(user, query, now());
            code.is_allowed() || fixable(&active, user, query, code)
        }
        _ => true,
    }
}

/// Applies each suggestion and asks again.
fn check_grants(org: &Org, queries: &[Query]) -> Result<usize, TestCaseError> {
    let policy = Policy::new(org).unwrap();
    let mut checked = 0;
    for user in org.users.iter().map(|u| u.id.as_str()).chain(["nobody"]) {
        for query in queries {
            let grants = policy.grants(user, query, now());
            let code = policy.code(user, query, now());
            if code.is_allowed() {
                prop_assert!(grants.is_empty());
                continue;
            }
            prop_assert!(grants.len() <= MAX_GRANTS);
            prop_assert!(
                !fixable(org, user, query, code) || !grants.is_empty(),
                "{user} {query:?} ({code}): no suggestion"
            );
            prop_assert!(
                grants.windows(2).all(|pair| pair[0].edits.len() <= pair[1].edits.len()),
                "{grants:?}"
            );
            for grant in &grants {
                // Every id a suggestion names is in the policy (but a new Agreement's), so
                // that who may make it can be asked.
                for edit in &grant.edits {
                    let authority = edit.authority(&policy);
                    prop_assert!(authority.is_ok(), "{user} {query:?}: `{edit}`: {}", authority.unwrap_err());
                }
                let mut edited = org.clone();
                grant.apply(&mut edited);
                let after = Policy::new(&edited);
                prop_assert!(after.is_ok(), "{user} {query:?}: {grant}: {}", after.err().unwrap());
                prop_assert!(
                    after.unwrap().allows(user, query, now()),
                    "{user} {query:?} ({code}): `{grant}` does not grant"
                );
                // And no edit in it is idle: without any one of them, it does not grant.
                if grant.edits.len() > 1 {
                    for left_out in 0..grant.edits.len() {
                        let mut edited = org.clone();
                        for (i, edit) in grant.edits.iter().enumerate() {
                            if i != left_out {
                                edit.apply(&mut edited);
                            }
                        }
                        let without = Policy::new(&edited).unwrap();
                        prop_assert!(
                            !without.allows(user, query, now()),
                            "{user} {query:?}: `{grant}` grants without `{}`",
                            grant.edits[left_out]
                        );
                    }
                }
                let json = serde_json::to_string(grant).unwrap();
                prop_assert_eq!(&serde_json::from_str::<Grant>(&json).unwrap(), grant);
                checked += 1;
            }
        }
    }
    Ok(checked)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Spec: "each suggestion, applied, really grants".
    #[test]
    fn every_grant_grants(org in arb_org()) {
        check_grants(&org, &all_queries(&org))?;
    }
}

/// The demo organisation: Agreements (one expired), custom thresholds, groups and direct
/// messages, every user and every query once.
#[test]
fn every_grant_grants_on_the_demo_organisation() {
    let org = demo_org();
    let checked = check_grants(&org, &all_queries(&org)).unwrap();
    assert!(checked > 1000, "only {checked} suggestions checked");
}

#[test]
fn explain_adds_grants_to_a_denial_only() {
    let org = demo_org();
    let policy = Policy::new(&org).unwrap();
    let query = Query::can("task.create", Target::project("p-rebrand"));
    let decision = policy.explain("u-cleo", &query, now());
    assert_eq!(decision.code, Code::ProfileLacksPermission);
    let shown: Vec<String> = decision.grants.iter().map(Grant::to_string).collect();
    assert_eq!(
        shown,
        [
            "switch office `o-lon`'s override of `task.create` for `client` on",
            "add `task.create` to network `n-emea`'s defaults for `client`",
        ]
    );
    // Without explain, nothing changes: the JSON keeps its four keys.
    let plain = serde_json::to_value(policy.decide("u-cleo", &query, now())).unwrap();
    assert_eq!(
        plain.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["allowed", "code", "facts", "message"]
    );
    let explained = serde_json::to_value(&decision).unwrap();
    assert_eq!(
        explained["grants"][0],
        serde_json::json!({"edits": [{
            "edit": "override_on", "office": "o-lon", "profile": "client", "permission": "task.create"
        }]})
    );

    let allowed = policy.explain("u-ada", &query, now());
    assert!(allowed.allowed && allowed.grants.is_empty());
}

#[test]
fn the_narrowest_edit_comes_first() {
    let org = small_org();
    let policy = Policy::new(&org).unwrap();
    // Bob, shared into London as a vendor, on Rebrand's team, but vendors may not create tasks
    // in n-emea: switch London's override on for vendors.
    let grants = policy.grants("u-bob", &Query::can("task.create", Target::project("p-rebrand")), now());
    assert_eq!(
        grants[0].edits,
        [Edit::OverrideOn {
            office: "o-lon".to_owned(),
            profile: "vendor".to_owned(),
            permission: "task.create".to_owned()
        }]
    );
    // Ada may not post to the whole organisation: announcements are on in n-emea, she needs
    // the admin role.
    let grants = policy.grants("u-ada", &Query::can("announcement.org", Target::none()), now());
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].edits, [Edit::RaiseRole { user: "u-ada".to_owned(), role: Role::Admin }]);
}

#[test]
fn across_the_firewall_an_agreement_and_the_team() {
    let mut org = small_org();
    org.agreements.clear();
    let policy = Policy::new(&org).unwrap();
    let grants = policy.grants("u-bob", &Query::can("file.upload", Target::project("p-rebrand")), now());
    // Bob is on the team already; sharing him into London as a vendor (who may upload there)
    // is one edit.
    assert_eq!(
        grants[0].edits,
        [Edit::ShareWithOffice {
            agreement: "a-u-bob-o-lon".to_owned(),
            user: "u-bob".to_owned(),
            guest_office: "o-nyc".to_owned(),
            host_office: "o-lon".to_owned(),
            profile: "vendor".to_owned(),
        }]
    );
    let mut edited = org.clone();
    grants[0].apply(&mut edited);
    assert!(Policy::new(&edited).unwrap().allows(
        "u-bob",
        &Query::can("file.upload", Target::project("p-rebrand")),
        now()
    ));
}
