//! The actions the app offers, each tied to the question that decides it, and what a user's
//! snapshot says of them.
//!
//! Pure logic: which buttons a page has, whether each is allowed, and, for the "Why can't I?"
//! view, the evaluator's explanation of each one that is not ([`Action::explain`], asked only
//! by that view). The UI renders an allowed action
//! as a button and a denied one not at all (or greyed out with its explanation when asked).

use tessera_core::{
    DM_REPLY, Decision, PEOPLE_SEARCH, Policy, Query, ResourceKind, Snapshot, Target, Timestamp, UserSummary,
};

/// One action and the decision about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// A stable key, used in the page (`data-action`).
    pub key: &'static str,
    /// The button's label.
    pub label: &'static str,
    /// The permission asked.
    pub permission: &'static str,
    /// The question that decides it.
    pub query: Query,
    /// Whether the user may.
    pub allowed: bool,
    /// Whether there is a question to explain: not for "Start direct message" when there is
    /// nobody the user may find.
    pub explainable: bool,
}

impl Action {
    /// The explanation of a denied action, with the edits that would allow it (`None` when
    /// there is nothing to ask). Computed when asked for, since only "Why can't I?" shows it and
    /// its code (the planner of suggestions) loads with that view.
    pub fn explain(&self, snapshot: &Snapshot, user: &str, now: Timestamp) -> Option<Decision> {
        self.explainable.then(|| snapshot.explain(user, &self.query, now))
    }
}

fn action(
    snapshot: &Snapshot,
    user: &str,
    now: Timestamp,
    (key, label, permission): (&'static str, &'static str, &'static str),
    target: Target,
) -> Action {
    let query = Query::can(permission, target);
    let allowed = snapshot.allows(user, &query, now);
    Action { key, label, permission, query, allowed, explainable: true }
}

/// The actions of a Project page.
pub fn project_actions(snapshot: &Snapshot, user: &str, now: Timestamp, project: &str) -> Vec<Action> {
    [
        ("create-task", "Create task", "task.create"),
        ("upload-file", "Upload file", "file.upload"),
        ("edit-wiki", "Edit wiki", "wiki.manage"),
    ]
    .into_iter()
    .map(|spec| action(snapshot, user, now, spec, Target::project(project)))
    .collect()
}

/// The organisation-wide actions of the messaging page. Starting a direct message is allowed
/// when it is allowed with at least one person the user may find; the picker then lists those.
pub fn messaging_actions(snapshot: &Snapshot, user: &str, now: Timestamp) -> Vec<Action> {
    let mut actions = vec![
        action(snapshot, user, now, ("create-group", "Create group", "group.create"), Target::none()),
        action(
            snapshot,
            user,
            now,
            ("send-announcement", "Send announcement", "announcement.org"),
            Target::none(),
        ),
    ];
    let dm = ("start-dm", "Start direct message", "dm.start");
    let people = dm_candidates(snapshot, user, now);
    actions.insert(
        1,
        match people.first() {
            Some(person) => action(snapshot, user, now, dm, Target::person(person.id)),
            // Nobody to ask about: the explanation says so (see `ui::action_view`).
            None => Action {
                key: dm.0,
                label: dm.1,
                permission: dm.2,
                query: Query::can(dm.2, Target::none()),
                allowed: false,
                explainable: false,
            },
        },
    );
    actions
}

/// The people `user` may find (`people.search`) and start a direct message with, by name.
pub fn dm_candidates<'a>(snapshot: &'a Snapshot, user: &str, now: Timestamp) -> Vec<UserSummary<'a>> {
    findable(snapshot, user, now)
        .into_iter()
        .filter(|person| snapshot.allows(user, &Query::can("dm.start", Target::person(person.id)), now))
        .collect()
}

/// The people `user` may find in person search, by name.
pub fn findable<'a>(snapshot: &'a Snapshot, user: &str, now: Timestamp) -> Vec<UserSummary<'a>> {
    let mut people: Vec<UserSummary<'a>> = snapshot
        .policy()
        .users()
        .filter(|person| person.id != user)
        .filter(|person| snapshot.allows(user, &Query::can(PEOPLE_SEARCH, Target::person(person.id)), now))
        .collect();
    // Ids are unique, so no two compare equal: the unstable sort is exact, and smaller.
    people.sort_unstable_by(|a, b| a.name.cmp(b.name).then(a.id.cmp(b.id)));
    people
}

/// A group the user belongs to, with its one action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRow {
    /// The group's id.
    pub id: String,
    /// Send group announcement.
    pub announce: Action,
}

/// The groups `user` is a member of (a member sees their group), each with its action.
pub fn groups(snapshot: &Snapshot, user: &str, now: Timestamp) -> Vec<GroupRow> {
    snapshot
        .policy()
        .group_ids()
        .filter(|group| snapshot.allows(user, &Query::view(ResourceKind::Group, *group), now))
        .map(|group| GroupRow {
            id: group.to_owned(),
            announce: action(
                snapshot,
                user,
                now,
                ("send-group-announcement", "Send group announcement", "announcement.group"),
                Target::group(group),
            ),
        })
        .collect()
}

/// The direct messages `user` takes part in. Replying needs nothing more, so there is no
/// decision to show beyond membership.
pub fn conversations<'a>(snapshot: &'a Snapshot, user: &str, now: Timestamp) -> Vec<&'a str> {
    snapshot
        .policy()
        .dm_ids()
        .filter(|dm| snapshot.allows(user, &Query::can(DM_REPLY, Target::dm(*dm)), now))
        .collect()
}

/// The Projects `user` sees, as (id, name, office name), by name.
pub fn projects<'a>(snapshot: &'a Snapshot, user: &str, now: Timestamp) -> Vec<(&'a str, &'a str, &'a str)> {
    let policy: &Policy = snapshot.policy();
    let mut rows: Vec<(&str, &str, &str)> = snapshot
        .visible_projects(user, now)
        .into_iter()
        .filter_map(|id| {
            let name = policy.project_name(id)?;
            let office =
                policy.project_office(id).and_then(|office| policy.office_name(office)).unwrap_or("");
            Some((id, name, office))
        })
        .collect();
    // Ids are unique, so no two compare equal: the unstable sort is exact, and smaller.
    rows.sort_unstable_by(|a, b| a.1.cmp(b.1).then(a.0.cmp(b.0)));
    rows
}

/// Create a Project (it lands in the user's home Office, with them on its team).
pub fn project_create(snapshot: &Snapshot, user: &str, now: Timestamp) -> Action {
    action(snapshot, user, now, ("new-project", "New project", "project.create"), Target::none())
}

#[cfg(test)]
mod tests {
    use tessera_core::{
        Header, Org, SCHEMA_VERSION, Scope, SecretKey, TrustedKeys, VerifyOptions, cut, sign,
    };

    use super::*;

    /// The demo organisation cut to `user` and signed, as the server sends it.
    fn snapshot_of(user: &str) -> (Snapshot, Timestamp) {
        let org: Org = serde_json::from_str(include_str!("../../../tests/demo/org.json")).unwrap();
        let now = Timestamp::parse("2026-06-01T00:00:00Z").unwrap();
        let scope = Scope::User(user.to_owned());
        let key = SecretKey::from_bytes([5; 32]);
        let header = Header {
            schema: SCHEMA_VERSION,
            issuer: "test".into(),
            version: 1,
            issued_at: now,
            expires_at: now.plus_seconds(3_600),
            scope: scope.clone(),
        };
        let bytes = sign(&cut(&org, &scope, now).unwrap(), &header, &[&key]).unwrap();
        let mut keys = TrustedKeys::new();
        keys.add(key.public_key());
        (Snapshot::verify(&bytes, &keys, &VerifyOptions::new(now)).unwrap(), now)
    }

    fn allowed(actions: &[Action]) -> Vec<&'static str> {
        actions.iter().filter(|action| action.allowed).map(|action| action.key).collect()
    }

    #[test]
    fn project_actions_follow_the_profile_and_explain_denials() {
        let (ada, now) = snapshot_of("u-ada");
        assert_eq!(
            allowed(&project_actions(&ada, "u-ada", now, "p-rebrand")),
            ["create-task", "upload-file", "edit-wiki"]
        );
        let (cleo, now) = snapshot_of("u-cleo");
        let actions = project_actions(&cleo, "u-cleo", now, "p-rebrand");
        assert_eq!(allowed(&actions), ["upload-file"]);
        let why = actions
            .iter()
            .find(|action| action.key == "create-task")
            .unwrap()
            .explain(&cleo, "u-cleo", now)
            .unwrap();
        assert_eq!(why.code.as_str(), "profile_lacks_permission");
        assert!(!why.grants.is_empty(), "the explanation says what would allow it");
    }

    #[test]
    fn pages_list_only_what_the_user_sees() {
        let (priya, now) = snapshot_of("u-priya");
        let ids: Vec<&str> = projects(&priya, "u-priya", now).into_iter().map(|(id, _, _)| id).collect();
        assert_eq!(ids, ["p-par-launch", "p-lon-website"], "by name: Paris Store Launch, Website Relaunch");

        let (oliver, now) = snapshot_of("u-oliver");
        let rows = groups(&oliver, "u-oliver", now);
        assert_eq!(rows.iter().map(|row| row.id.as_str()).collect::<Vec<_>>(), ["g-lon-design"]);
        assert!(rows.iter().all(|row| row.announce.allowed));

        let (grace, now) = snapshot_of("u-grace");
        let top = messaging_actions(&grace, "u-grace", now);
        assert!(!top.iter().any(|action| action.key == "send-announcement" && action.allowed));
        let (ellen, now) = snapshot_of("u-ellen");
        let top = messaging_actions(&ellen, "u-ellen", now);
        assert!(top.iter().any(|action| action.key == "send-announcement" && action.allowed));
        // Her Network, and Bob, whom an Agreement shares into her Office.
        for person in dm_candidates(&ellen, "u-ellen", now) {
            assert!(person.network == "n-emea" || person.id == "u-bob", "{}", person.id);
        }
    }
}
