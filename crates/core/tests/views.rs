//! `UserView`, the precomputed decisions about Projects, against the general evaluator: the
//! same answer for every user, Project and question, at every time, under a snapshot's expiry
//! and scope too.

use proptest::prelude::*;
use tessera_core::{
    Header, Org, PROJECT_PERMISSIONS, Policy, ProjectIndex, Query, ResourceKind, SCHEMA_VERSION, Scope,
    SecretKey, Snapshot, Target, Timestamp, TrustedKeys, VerifyOptions, sign,
};

use crate::support::{arb_org, now};

/// Every question a view answers, with the query it stands for.
fn questions(policy: &Policy, project: &str) -> Vec<(tessera_core::ProjectQuestion, Query)> {
    let mut out = Vec::new();
    for kind in [
        ResourceKind::Project,
        ResourceKind::Task,
        ResourceKind::Document,
        ResourceKind::Report,
        ResourceKind::Finance,
    ] {
        let query = if kind == ResourceKind::Project {
            Query::view(kind, project)
        } else {
            Query::view_in(kind, "x-1", project)
        };
        out.push((policy.view_question(kind).unwrap(), query));
    }
    for permission in PROJECT_PERMISSIONS {
        out.push((
            policy.can_question(permission).unwrap(),
            Query::can(permission, Target::project(project)),
        ));
    }
    out
}

/// Times around every Agreement's expiry, and the usual clock.
fn times(org: &Org) -> Vec<Timestamp> {
    let mut times = vec![now()];
    for agreement in &org.agreements {
        if let Some(t) = agreement.expires_at {
            times.extend([t.plus_seconds(-1), t, t.plus_seconds(1)]);
        }
    }
    times
}

/// Checks a view made at `made` and asked at `asked` against `allows`, for every Project and
/// question; `answers` (the batch form) too.
fn check_user(
    policy: &Policy,
    view: &tessera_core::UserView,
    user: &str,
    asked: Timestamp,
    allows: &dyn Fn(&Query) -> bool,
) -> Result<(), TestCaseError> {
    let projects: Vec<ProjectIndex> =
        policy.project_ids().map(|id| policy.project_index(id).unwrap()).collect();
    for (&index, id) in projects.iter().zip(policy.project_ids()) {
        for (question, query) in questions(policy, id) {
            prop_assert_eq!(
                view.answer(policy, question, index, asked),
                allows(&query),
                "{} {:?} at {}: the evaluator says {:?}",
                user,
                query,
                asked,
                policy.decide(user, &query, asked).code
            );
        }
    }
    for (question, _) in questions(policy, "any") {
        let batch: Vec<bool> = view.answers(policy, question, projects.iter().copied(), asked).collect();
        let single: Vec<bool> = projects.iter().map(|&p| view.answer(policy, question, p, asked)).collect();
        prop_assert_eq!(batch, single);
    }
    Ok(())
}

fn signed(org: &Org, scope: Scope, expires_at: Timestamp) -> Snapshot {
    let key = SecretKey::from_bytes([3; 32]);
    let header = Header {
        schema: SCHEMA_VERSION,
        issuer: "views".to_owned(),
        version: 1,
        issued_at: now(),
        expires_at,
        scope,
    };
    let bytes = sign(org, &header, &[&key]).unwrap();
    let keys: TrustedKeys = [key.public_key()].into_iter().collect();
    Snapshot::verify(&bytes, &keys, &VerifyOptions::new(now())).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// A view answers as `Policy::allows` for every user (and someone unknown), Project and
    /// question, whether made at the time it is asked or at another (then it asks the rules).
    #[test]
    fn a_user_view_answers_as_the_evaluator(org in arb_org()) {
        let policy = Policy::new(&org).unwrap();
        let times = times(&org);
        for user in org.users.iter().map(|u| u.id.as_str()).chain(["nobody"]) {
            for &made in &times {
                let view = policy.user_view(user, made);
                for &asked in [made, now()].iter().chain(times.iter().take(3)) {
                    check_user(&policy, &view, user, asked, &|query| policy.allows(user, query, asked))?;
                }
            }
        }
    }

    /// Under a snapshot, a view answers as `Snapshot::allows`: denied past the expiry, and for
    /// anyone outside a scope.
    #[test]
    fn a_snapshot_view_answers_as_the_snapshot(org in arb_org(), scoped in any::<bool>()) {
        let expires_at = now().plus_seconds(3600);
        let scope = match (scoped, org.users.first()) {
            (true, Some(user)) => Scope::User(user.id.clone()),
            _ => Scope::Org,
        };
        let whole = if scoped { tessera_core::cut(&org, &scope, now()).unwrap() } else { org.clone() };
        let snapshot = signed(&whole, scope, expires_at);
        let policy = snapshot.policy();
        for user in org.users.iter().map(|u| u.id.as_str()).chain(["nobody"]) {
            let view = snapshot.user_view(user, now());
            for asked in [now(), expires_at.plus_seconds(-1), expires_at, expires_at.plus_seconds(7)] {
                check_user(policy, &view, user, asked, &|query| snapshot.allows(user, query, asked))?;
            }
        }
    }
}

/// On a generated organisation of the kind the benchmarks use: every user, Project and
/// question.
#[test]
fn user_views_answer_as_the_evaluator_on_a_generated_organisation() {
    let org = tessera_generate::generate(&tessera_generate::Scale {
        users: 120,
        projects: 400,
        networks: 3,
        offices: 12,
        seed: 11,
    });
    let policy = Policy::new(&org).unwrap();
    for user in &org.users {
        let view = policy.user_view(&user.id, now());
        check_user(&policy, &view, &user.id, now(), &|query| policy.allows(&user.id, query, now())).unwrap();
    }
}

/// A view answers only for the policy it was made from.
#[test]
fn a_view_denies_for_another_policy() {
    let org = crate::support::small_org();
    let (one, two) = (Policy::new(&org).unwrap(), Policy::new(&org).unwrap());
    let user = &org.users[0].id;
    let project = one.project_index(&org.projects[0].id).unwrap();
    let question = one.view_question(ResourceKind::Project).unwrap();
    let view = one.user_view(user, now());
    assert!(view.answer(&one, question, project, now()));
    assert!(view.is_current(&one, now()));
    assert!(!view.answer(&two, question, project, now()));
    assert!(!view.is_current(&two, now()));
    assert!(!view.answer(&one, question, ProjectIndex::new(u32::MAX), now()));
    assert_eq!(one.clone().project_id(project), Some(org.projects[0].id.as_str()));
    assert!(one.view_question(ResourceKind::Person).is_none());
    assert!(one.can_question("project.create").is_none());
}
