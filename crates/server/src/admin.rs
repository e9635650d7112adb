//! What administrators read, decided by the evaluator: a user's denied actions, with the
//! suggestions that would allow each and whether the caller may make them. (How an edit is made
//! is `edits.rs`'s.)

use serde::Serialize;
use tessera_core::{Decision, Policy, Query, Target, Timestamp};

use crate::issuer::Sight;

/// The most Projects whose actions `/api/admin/denials` asks about.
pub const MAX_DENIAL_PROJECTS: usize = 50;

/// One denied action of a user, with the suggestions that would allow it and whether the
/// caller may make each.
#[derive(Debug, Serialize)]
pub struct Denial {
    /// The question.
    pub query: Query,
    /// The evaluator's explanation, with its suggestions (`grants`).
    pub decision: Decision,
    /// Per suggestion: whether the caller may make every edit of it.
    pub may_apply: Vec<bool>,
}

/// The question whose answer lets the caller read `user`'s denials: `user.manage` on their home
/// Office, asked on the caller's own snapshot (`None` when it does not hold `user`: to the
/// caller, such a user does not exist).
pub fn authority(sight: &Sight, user: &str) -> Option<Query> {
    let home = sight.policy().user_summary(user)?.home_office;
    Some(Query::can("user.manage", Target::office(home)))
}

/// The standard actions of `user` that are denied, with suggestions: creating tasks, uploading
/// files and editing the wiki in each Project they see that the caller's own snapshot holds too
/// (the first [`MAX_DENIAL_PROJECTS`] by id), creating a group and sending an announcement.
/// Decided on the whole organisation `policy`; a suggestion may be applied when the caller may
/// make every edit of it, on their snapshot and on the whole alike. The caller's authority
/// ([`authority`]) is checked first, by the route.
pub fn denials(policy: &Policy, sight: &Sight, user: &str, now: Timestamp) -> Vec<Denial> {
    let seen = sight.policy();
    let mut projects: Vec<&str> = policy
        .visible_projects(user, now)
        .into_iter()
        .filter(|project| seen.project_index(project).is_some())
        .collect();
    projects.sort_unstable();
    projects.truncate(MAX_DENIAL_PROJECTS);
    let mut queries: Vec<Query> = projects
        .iter()
        .flat_map(|project| {
            ["task.create", "file.upload", "wiki.manage"]
                .into_iter()
                .map(move |permission| Query::can(permission, Target::project(*project)))
        })
        .collect();
    queries.push(Query::can("group.create", Target::none()));
    queries.push(Query::can("announcement.org", Target::none()));
    let may_make = |edit: &tessera_core::Edit| {
        [seen, policy]
            .iter()
            .all(|policy| policy.authorize(&sight.user, edit, now).is_ok_and(|decision| decision.allowed))
    };
    queries
        .into_iter()
        .filter(|query| !policy.allows(user, query, now))
        .map(|query| {
            let decision = policy.explain(user, &query, now);
            let may_apply = decision.grants.iter().map(|grant| grant.edits.iter().all(&may_make)).collect();
            Denial { query, decision, may_apply }
        })
        .collect()
}
