//! `Cutter::edit` against a build from scratch: for random organisations and random batches of
//! every kind of edit (valid or not, ids known or not), the revision built from the last one
//! holds, decides and cuts exactly what `Cutter::new` of the edited organisation does, refuses
//! what it refuses with the same errors, names as changed exactly the users `changed_users`
//! names, and lists exactly the elements that differ.
//!
//! `TESSERA_EDIT_CASES` sets the number of cases (a few seconds' worth by default).

use std::collections::BTreeSet;

use proptest::prelude::*;
use tessera_core::{
    AccessLevel, Cutter, DEFAULT_PROFILES, Edit, KNOWN_PROFILE_PERMISSIONS, Org, Role, Scope, Timestamp,
    changed_users, diff,
};

use crate::support::{all_queries, arb_org, now};

/// One random edit: a kind, raw numbers folded into the organisation's ids, and whether to
/// name something it lacks instead.
type Choice = (u8, usize, usize, usize, u8);

fn arb_batch() -> impl Strategy<Value = Vec<Choice>> {
    prop::collection::vec((0..27u8, any::<usize>(), any::<usize>(), any::<usize>(), 0..12u8), 1..5)
}

fn pick<T>(items: &[T], index: usize) -> Option<&T> {
    (!items.is_empty()).then(|| &items[index % items.len()])
}

/// The edit `choice` names in `org`: ids of `org`, or (one time in six) one it lacks, an empty
/// one, or a custom permission key.
fn edit(org: &Org, (kind, a, b, c, odd): Choice) -> Option<Edit> {
    let odd_id = |id: String| match odd {
        0 => "x-unknown".to_owned(),
        1 => String::new(),
        _ => id,
    };
    let user = odd_id(pick(&org.users, a)?.id.clone());
    let other = odd_id(pick(&org.users, c)?.id.clone());
    let office = odd_id(pick(&org.offices, b)?.id.clone());
    let network = odd_id(pick(&org.networks, b)?.id.clone());
    let profile = DEFAULT_PROFILES[c % DEFAULT_PROFILES.len()].to_owned();
    let permission = match odd {
        2 => "custom.key".to_owned(),
        3 => "Bad Key".to_owned(),
        _ => KNOWN_PROFILE_PERMISSIONS[c % KNOWN_PROFILE_PERMISSIONS.len()].to_owned(),
    };
    let project = || pick(&org.projects, b).map(|p| odd_id(p.id.clone()));
    let group = || pick(&org.groups, b).map(|g| odd_id(g.id.clone()));
    let roles = [Role::User, Role::Manager, Role::Admin];
    let levels = [AccessLevel::AllInOffice, AccessLevel::InviteOnly, AccessLevel::NetworkAdmin];
    // New ids: fresh, or (now and then) one that is taken.
    let fresh = |prefix: &str, taken: Option<String>| match (odd, taken) {
        (4, Some(taken)) => taken,
        _ => format!("{prefix}-new-{}", c % 3),
    };
    Some(match kind {
        0 => Edit::ActivateUser { user },
        1 => Edit::DeactivateUser { user },
        2 => Edit::AddToTeam { user, project: project()? },
        3 => Edit::RemoveFromTeam { user, project: project()? },
        4 => Edit::AddToGroup { user, group: group()? },
        5 => Edit::RemoveFromGroup { user, group: group()? },
        6 => Edit::AddAdditionalOffice { user, office },
        7 => Edit::RemoveAdditionalOffice { user, office },
        8 => {
            let guest =
                org.users.iter().find(|u| u.id == user).map_or(office.clone(), |u| u.home_office.clone());
            Edit::ShareWithOffice {
                agreement: fresh("a", pick(&org.agreements, a).map(|x| x.id.clone())),
                user,
                guest_office: guest,
                host_office: office,
                profile,
            }
        }
        9 => Edit::EndAgreement {
            agreement: pick(&org.agreements, b).map_or("a-none".to_owned(), |x| x.id.clone()),
        },
        10 => Edit::SetAccess { user, access: levels[c % 3] },
        11 => Edit::RaiseRole { user, role: roles[c % 3] },
        12 => Edit::LowerRole { user, role: roles[c % 3] },
        13 => Edit::OverrideOn { office, profile, permission },
        14 => Edit::OverrideOff { office, profile, permission },
        15 => Edit::ClearOverride { office, profile, permission },
        16 => Edit::AnnouncementsOn { network },
        17 => Edit::AnnouncementsOff { network },
        18 => Edit::DefaultOn { network, profile, permission },
        19 => Edit::DefaultOff { network, profile, permission },
        20 => Edit::MakeNetworkSuperuser { user },
        21 => Edit::RevokeNetworkSuperuser { user },
        22 => Edit::MakeSystemSuperuser { user },
        23 => Edit::RevokeSystemSuperuser { user },
        24 => Edit::CreateProject { project: fresh("p", project()), name: format!("New {c}"), creator: user },
        25 => {
            let members =
                org.users.iter().skip(b % 4).step_by(1 + c % 3).take(3).map(|u| u.id.clone()).collect();
            Edit::CreateGroup { group: fresh("g", group()), owner: user, members }
        }
        _ => Edit::StartDm {
            dm: fresh("d", pick(&org.direct_messages, a).map(|d| d.id.clone())),
            from: user,
            with: other,
        },
    })
}

fn cases() -> u32 {
    std::env::var("TESSERA_EDIT_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(64)
}

/// Now, and a second either side of every Agreement's expiry.
fn times(orgs: &[&Org]) -> Vec<Timestamp> {
    let mut times = vec![now()];
    for agreement in orgs.iter().flat_map(|org| &org.agreements) {
        if let Some(at) = agreement.expires_at {
            times.extend([at.plus_seconds(-1), at, at.plus_seconds(1)]);
        }
    }
    times.sort();
    times.dedup();
    times
}

/// The ids of `items` that differ between `old` and `new` (changed, added or removed).
fn differing<T: PartialEq>(old: &[T], new: &[T], id: impl Fn(&T) -> &str) -> BTreeSet<String> {
    let find = |items: &[T], wanted: &str| items.iter().position(|x| id(x) == wanted);
    let mut ids = BTreeSet::new();
    for x in old {
        if find(new, id(x)).and_then(|i| new.get(i)) != Some(x) {
            ids.insert(id(x).to_owned());
        }
    }
    for x in new {
        if find(old, id(x)).and_then(|i| old.get(i)) != Some(x) {
            ids.insert(id(x).to_owned());
        }
    }
    ids
}

/// Applies the batch `choices` names to `base` both ways and holds the two to each other.
/// Answers the incrementally built revision, if the batch was valid.
fn check(base: &Cutter, choices: &[Choice]) -> Result<Option<Cutter>, TestCaseError> {
    let old = base.to_org();
    let edits: Vec<Edit> = choices.iter().filter_map(|&choice| edit(&old, choice)).collect();
    let mut expected = old.clone();
    for edit in &edits {
        edit.apply(&mut expected);
    }
    let full = Cutter::new(expected.clone());
    let edited = base.edit(&edits, now());
    let edited = match (edited, full) {
        (Err(errors), Err(expected_errors)) => {
            prop_assert_eq!(errors, expected_errors, "{:?}", edits);
            return Ok(None);
        }
        (Ok(edited), Ok(full)) => (edited, full),
        (edited, full) => {
            return Err(TestCaseError::fail(format!(
                "{edits:?}: incremental {:?}, whole {:?}",
                edited.map(|_| ()),
                full.map(|_| ())
            )));
        }
    };
    let (edited, full) = edited;
    let next = edited.cutter();
    prop_assert!(next.to_org() == expected, "{:?}", edits);
    for user in &expected.users {
        prop_assert_eq!(next.user(&user.id), Some(user));
    }
    for project in &expected.projects {
        prop_assert_eq!(next.project(&project.id).map(|row| row.to_project()), Some(project.clone()));
    }

    // Decisions and cuts, at times around every expiry.
    let queries = all_queries(&expected);
    let times = times(&[&old, &expected]);
    for &at in &times {
        for user in &expected.users {
            for query in &queries {
                prop_assert_eq!(
                    next.policy().allows(&user.id, query, at),
                    full.policy().allows(&user.id, query, at),
                    "{} {:?} at {} after {:?}",
                    user.id,
                    query,
                    at,
                    edits
                );
            }
            let scope = Scope::User(user.id.clone());
            prop_assert_eq!(next.cut(&scope, at).unwrap(), full.cut(&scope, at).unwrap(), "{:?}", edits);
        }
        for network in &expected.networks {
            let scope = Scope::Network(network.id.clone());
            prop_assert_eq!(next.cut(&scope, at).unwrap(), full.cut(&scope, at).unwrap(), "{:?}", edits);
        }
    }

    // The users it names changed are `changed_users`'s, and every other one decides alike.
    let changed = changed_users(base.policy(), full.policy(), now());
    prop_assert_eq!(edited.changed_users(), changed.as_slice(), "{:?}", edits);
    // Which is every user the whole impact analysis names, now or at a later expiry.
    let mut named: BTreeSet<String> = BTreeSet::new();
    for &at in times.iter().filter(|&&at| at >= now()) {
        named.extend(diff(base.policy(), full.policy(), at, None).users.into_iter().map(|u| u.user));
    }
    prop_assert_eq!(changed.iter().cloned().collect::<BTreeSet<String>>(), named, "{:?}", edits);
    let old_queries = all_queries(&old);
    for user in expected.users.iter().filter(|u| !changed.contains(&u.id)) {
        for &at in times.iter().filter(|&&at| at >= now()) {
            for query in queries.iter().chain(&old_queries) {
                prop_assert_eq!(
                    base.policy().allows(&user.id, query, at),
                    next.policy().allows(&user.id, query, at),
                    "{} {:?} at {}",
                    user.id,
                    query,
                    at
                );
            }
        }
    }

    // The rows it names changed are those that differ.
    let changes = edited.changes();
    let listed = |ids: &[String]| ids.iter().cloned().collect::<BTreeSet<String>>();
    prop_assert_eq!(listed(&changes.networks), differing(&old.networks, &expected.networks, |x| &x.id));
    prop_assert_eq!(listed(&changes.offices), differing(&old.offices, &expected.offices, |x| &x.id));
    prop_assert_eq!(listed(&changes.users), differing(&old.users, &expected.users, |x| &x.id));
    prop_assert_eq!(listed(&changes.projects), differing(&old.projects, &expected.projects, |x| &x.id));
    prop_assert_eq!(listed(&changes.agreements), differing(&old.agreements, &expected.agreements, |x| &x.id));
    prop_assert_eq!(listed(&changes.groups), differing(&old.groups, &expected.groups, |x| &x.id));
    prop_assert_eq!(
        listed(&changes.direct_messages),
        differing(&old.direct_messages, &expected.direct_messages, |x| &x.id)
    );
    prop_assert_eq!(changes.is_empty(), old == expected);
    Ok(Some(edited.into_cutter()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// Two batches in a row: the second one edits a revision that was itself built by an edit.
    #[test]
    fn an_edited_revision_is_a_revision_built_whole(org in arb_org(), first in arb_batch(), second in arb_batch()) {
        let base = Cutter::new(org).unwrap();
        if let Some(next) = check(&base, &first)? {
            check(&next, &second)?;
        }
    }
}

#[test]
fn an_edited_revision_of_the_demo_organisation_is_one_built_whole() {
    // Agreements with guests on host teams, conversations across the firewall, custom profiles.
    let base = Cutter::new(crate::support::demo_org()).unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: cases() / 16,
        ..ProptestConfig::default()
    });
    runner
        .run(&arb_batch(), |batch| {
            check(&base, &batch)?;
            Ok(())
        })
        .unwrap();
}

#[test]
fn an_edited_revision_of_a_generated_organisation_is_one_built_whole() {
    use tessera_generate::{Scale, generate};
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: cases() / 8,
        ..ProptestConfig::default()
    });
    runner
        .run(&(0..1000u64, arb_batch()), |(seed, batch)| {
            let org = generate(&Scale { users: 30, projects: 60, networks: 3, offices: 6, seed });
            check(&Cutter::new(org).unwrap(), &batch)?;
            Ok(())
        })
        .unwrap();
}

#[test]
fn ending_the_agreement_a_conversation_rests_on_is_refused_as_a_whole_build_refuses_it() {
    let mut org = crate::support::small_org();
    org.direct_messages = serde_json::from_value(serde_json::json!([
        {"id": "d-ada-bob", "participants": ["u-ada", "u-bob"], "started_by": "u-bob"}
    ]))
    .unwrap();
    let base = Cutter::new(org.clone()).unwrap();
    let end = Edit::EndAgreement { agreement: "a-1".into() };
    end.apply(&mut org);
    assert_eq!(base.edit(&[end], now()).unwrap_err(), Cutter::new(org).unwrap_err());
}

#[test]
fn a_new_project_group_and_conversation_are_built_from_the_last_revision() {
    let org = crate::support::small_org();
    let base = Cutter::new(org).unwrap();
    let edits = [
        Edit::CreateProject { project: "p-new".into(), name: "New".into(), creator: "u-ada".into() },
        Edit::CreateGroup { group: "g-new".into(), owner: "u-ada".into(), members: Vec::new() },
        Edit::OverrideOff {
            office: "o-lon".into(),
            profile: "project_manager".into(),
            permission: "task.create".into(),
        },
        Edit::SetAccess { user: "u-ada".into(), access: AccessLevel::InviteOnly },
    ];
    let edited = base.edit(&edits, now()).unwrap();
    assert!(edited.incremental());
    assert_eq!(edited.changes().projects, ["p-new"]);
    assert_eq!(edited.changes().groups, ["g-new"]);
    assert_eq!(edited.changes().offices, ["o-lon"]);
    assert_eq!(edited.changes().users, ["u-ada"]);
    assert_eq!(edited.changed_users(), ["u-ada"]);
    // Ending an Agreement: Bob, its guest, loses London.
    let ended = base.edit(&[Edit::EndAgreement { agreement: "a-1".into() }], now()).unwrap();
    assert!(ended.incremental());
    assert_eq!(ended.changes().agreements, ["a-1"]);
    assert_eq!(ended.cutter().agreement("a-1"), None);
    assert!(ended.changed_users().contains(&"u-bob".to_owned()));
    // A Network's defaults are built whole, and say so.
    let default = Edit::DefaultOn {
        network: "n-amer".into(),
        profile: "client".into(),
        permission: "task.create".into(),
    };
    assert!(!base.edit(&[default], now()).unwrap().incremental());
    // Nothing changed, nothing to write.
    let same = base.edit(&[Edit::RaiseRole { user: "u-ada".into(), role: Role::User }], now()).unwrap();
    assert!(same.changes().is_empty() && same.changed_users().is_empty());
}
