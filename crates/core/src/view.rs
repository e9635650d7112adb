//! One user's decisions about Projects, precomputed: [`UserView`].
//!
//! A view resolves the user once and works out, from the rules in `eval.rs`, what they hold
//! wherever they can act: which Projects they see by access level (their Network, their
//! Offices, or only their teams), the profile permissions of their own context, and those of
//! every Office an active Agreement shares them into. A question about a Project, named by a
//! dense [`ProjectIndex`], is then a team lookup and a bit test, with no string hashed and
//! nothing allocated.
//!
//! A view is only a cache: it answers exactly as [`Policy::allows`] (a property test holds it
//! to that for every user, Project and question). It answers for the policy it was made from
//! and for the span of time over which its Agreements stay as they were; outside that span it
//! asks the general rules, and for another policy it denies.

use crate::clock::Timestamp;
use crate::ids::Idx;
use crate::model::{AccessLevel, PROJECT_PERMISSIONS};
use crate::policy::{BitSet, Policy};
use crate::query::ResourceKind;
use crate::snapshot::{Scope, Snapshot};

/// A Project of one policy, by its dense index: what [`Policy::project_index`] resolves an id
/// to, once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProjectIndex(u32);

impl ProjectIndex {
    /// The index with this number; one that names no Project is denied everything.
    pub const fn new(index: u32) -> ProjectIndex {
        ProjectIndex(index)
    }

    /// The number.
    pub const fn get(self) -> u32 {
        self.0
    }
}

/// A question about a Project that a [`UserView`] answers: may the user see it (and so its
/// tasks and documents), or see it and hold a profile permission in it (viewing its report or
/// finance rows, `task.create`, `file.upload`, `wiki.manage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProjectQuestion {
    /// The permission key, if one is needed besides visibility.
    holds: Option<Idx>,
}

/// Precomputed decisions about Projects for one user; see the module docs.
#[derive(Debug, Clone)]
pub struct UserView {
    stamp: u64,
    user: Idx,
    /// Everything is denied: an unknown or inactive user, or one outside the snapshot's scope.
    denied: bool,
    network: Idx,
    home_office: Idx,
    reach: Reach,
    /// Sorted.
    additional_offices: Vec<Idx>,
    /// The Projects whose team the user is on, sorted.
    teams: Vec<Idx>,
    /// The profile permissions held in the user's own context.
    own: BitSet,
    /// The Offices of other Networks that an active Agreement shares the user into (a few at
    /// most), with the profile permissions held there (any such Agreement granting suffices).
    alien: Vec<(Idx, BitSet)>,
    /// The span over which every Agreement that shares the user is as it was at creation.
    valid_from: Option<Timestamp>,
    valid_until: Option<Timestamp>,
    /// A snapshot's expiry: past it, everything is denied.
    expires_at: Option<Timestamp>,
}

/// Which Projects of their own Network a user sees beyond their teams (spec §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// Every one: `network_admin` or a superuser of the Network.
    Network,
    /// Those of their home and additional Offices: `all_in_office`.
    Offices,
    /// None: `invite_only`.
    Team,
}

impl Policy {
    /// The dense index of the Project with this id.
    pub fn project_index(&self, id: &str) -> Option<ProjectIndex> {
        self.ids.projects.get(id).map(ProjectIndex)
    }

    /// The Project at `index`, by id.
    pub fn project_id(&self, index: ProjectIndex) -> Option<&str> {
        self.ids.projects.id(index.0)
    }

    /// Viewing a resource of `kind` as a question about its Project: `None` for a kind that
    /// does not hang off one (a person, a group). For a Project, the Project is the one viewed;
    /// for the other kinds, the one they hang off.
    pub fn view_question(&self, kind: ResourceKind) -> Option<ProjectQuestion> {
        let key = match kind {
            ResourceKind::Project | ResourceKind::Task | ResourceKind::Document => {
                return Some(ProjectQuestion { holds: None });
            }
            ResourceKind::Report => "reports.view",
            ResourceKind::Finance => "finance.view",
            ResourceKind::Person | ResourceKind::Group => return None,
        };
        self.permissions.get(key).map(|key| ProjectQuestion { holds: Some(key) })
    }

    /// `permission` in a Project as a question about it: `None` unless the permission acts in a
    /// Project (`task.create`, `file.upload`, `wiki.manage`).
    pub fn can_question(&self, permission: &str) -> Option<ProjectQuestion> {
        if !PROJECT_PERMISSIONS.contains(&permission) {
            return None;
        }
        self.permissions.get(permission).map(|key| ProjectQuestion { holds: Some(key) })
    }

    /// The precomputed decisions of `user` at `now`. An unknown or inactive user gets a view
    /// that denies everything, as [`Policy::decide`] does.
    pub fn user_view(&self, user: &str, now: Timestamp) -> UserView {
        self.view_of(self.ids.users.get(user).copied().unwrap_or(Idx::MAX), now)
    }

    pub(crate) fn view_of(&self, u: Idx, now: Timestamp) -> UserView {
        let mut view = UserView {
            stamp: self.stamp,
            user: u,
            denied: true,
            network: Idx::MAX,
            home_office: Idx::MAX,
            reach: Reach::Team,
            additional_offices: Vec::new(),
            teams: Vec::new(),
            own: BitSet::default(),
            alien: Vec::new(),
            valid_from: None,
            valid_until: None,
            expires_at: None,
        };
        let Some(entry) = self.user(u).filter(|entry| entry.active) else { return view };
        view.denied = false;
        view.network = entry.network;
        view.home_office = entry.home_office;
        view.reach = if entry.access == AccessLevel::NetworkAdmin || entry.network_superuser {
            Reach::Network
        } else if entry.access == AccessLevel::AllInOffice {
            Reach::Offices
        } else {
            Reach::Team
        };
        view.additional_offices.clone_from(&entry.additional_offices);
        view.teams.clone_from(&entry.projects);
        let keys = self.permissions.names.len();
        view.own = self.holds(entry.profile, entry.home_office, entry.network, keys);
        for &a in &entry.shared_by {
            let Some(agreement) = self.agreement(a) else { continue };
            if let Some(expires_at) = agreement.expires_at {
                if now < expires_at {
                    view.valid_until = Some(view.valid_until.map_or(expires_at, |t| t.min(expires_at)));
                } else {
                    view.valid_from = Some(view.valid_from.map_or(expires_at, |t| t.max(expires_at)));
                }
            }
            if !agreement.active_at(now) {
                continue;
            }
            let office = agreement.host_office;
            let network = self.office(office).map_or(Idx::MAX, |o| o.network);
            let held = self.holds(agreement.profile, office, network, keys);
            match view.alien.iter_mut().find(|(o, _)| *o == office) {
                Some((_, set)) => set.union_with(&held),
                None => view.alien.push((office, held)),
            }
        }
        view
    }

    /// The profile permissions `profile` holds in `office` of `network`, by the evaluator's rule.
    fn holds(&self, profile: Idx, office: Idx, network: Idx, keys: usize) -> BitSet {
        let mut set = BitSet::with_len(keys);
        for key in 0..keys {
            let key = Idx::try_from(key).unwrap_or(Idx::MAX);
            if self.profile_holds_quietly(profile, office, network, key) {
                set.insert(key);
            }
        }
        set
    }
}

impl Snapshot {
    /// The precomputed decisions of `user` at `now`, under this snapshot's expiry and scope:
    /// past the expiry, or for someone outside the scope, it denies everything, as
    /// [`Snapshot::decide`] does.
    pub fn user_view(&self, user: &str, now: Timestamp) -> UserView {
        let mut view = self.policy().user_view(user, now);
        let expires_at = self.header().expires_at;
        view.expires_at = Some(expires_at);
        view.valid_until = Some(view.valid_until.map_or(expires_at, |t| t.min(expires_at)));
        let in_scope = match &self.header().scope {
            Scope::Org => true,
            Scope::User(id) => id == user,
            // An unknown user is denied anyway.
            Scope::Network(id) => self.policy().user_network_id(user).is_none_or(|network| network == id),
        };
        if !in_scope {
            view.denied = true;
        }
        view
    }
}

impl UserView {
    /// Whether the view still answers from what it precomputed at `now` for `policy`. When not,
    /// [`UserView::answer`] stays right (it asks the general rules), only slower: make a new
    /// view.
    pub fn is_current(&self, policy: &Policy, now: Timestamp) -> bool {
        self.stamp == policy.stamp
            && self.valid_from.is_none_or(|from| from <= now)
            && self.valid_until.is_none_or(|until| now < until)
    }

    /// From when the view answers from what it precomputed (`None`: since ever).
    pub fn valid_from(&self) -> Option<Timestamp> {
        self.valid_from
    }

    /// Until when (excluded) the view answers from what it precomputed (`None`: for ever).
    pub fn valid_until(&self) -> Option<Timestamp> {
        self.valid_until
    }

    /// The answer to `question` about `project` at `now`, exactly as [`Policy::allows`] (or
    /// [`Snapshot::allows`], for a view made by [`Snapshot::user_view`]) gives it. Denied for a
    /// policy other than the view's own.
    pub fn answer(
        &self,
        policy: &Policy,
        question: ProjectQuestion,
        project: ProjectIndex,
        now: Timestamp,
    ) -> bool {
        if self.is_current(policy, now) {
            self.precomputed(policy, question, project)
        } else {
            self.general(policy, question, project, now)
        }
    }

    /// [`UserView::answer`] for each of `projects`, in order.
    pub fn answers<'a, I>(
        &'a self,
        policy: &'a Policy,
        question: ProjectQuestion,
        projects: I,
        now: Timestamp,
    ) -> impl Iterator<Item = bool> + 'a
    where
        I: IntoIterator<Item = ProjectIndex> + 'a,
    {
        let current = self.is_current(policy, now);
        projects.into_iter().map(move |project| {
            if current {
                self.precomputed(policy, question, project)
            } else {
                self.general(policy, question, project, now)
            }
        })
    }

    /// Which Projects of their own Network the user sees beyond their teams; `None` when the
    /// view denies everything. Every Project the view allows is on their teams, or of their
    /// Network within this reach (what a cut looks through: `scope.rs`).
    pub(crate) fn reach(&self) -> Option<Reach> {
        (!self.denied).then_some(self.reach)
    }

    /// Whether the user may see Project `p` at `now`: [`UserView::answer`] to viewing it.
    pub(crate) fn sees(&self, policy: &Policy, p: Idx, now: Timestamp) -> bool {
        self.answer(policy, ProjectQuestion { holds: None }, ProjectIndex(p), now)
    }

    fn precomputed(&self, policy: &Policy, question: ProjectQuestion, project: ProjectIndex) -> bool {
        if self.denied {
            return false;
        }
        let Some(office) = policy.projects.office(project.0 as usize) else { return false };
        let network = policy.office_networks.get(office as usize).copied().unwrap_or(Idx::MAX);
        let on_team = self.teams.binary_search(&project.0).is_ok();
        let held = if network == self.network {
            let visible = on_team
                || match self.reach {
                    Reach::Network => true,
                    Reach::Offices => {
                        office == self.home_office || self.additional_offices.binary_search(&office).is_ok()
                    }
                    Reach::Team => false,
                };
            if !visible {
                return false;
            }
            &self.own
        } else {
            // Across the firewall: only the teams of Offices an active Agreement shares into.
            if !on_team {
                return false;
            }
            match self.alien.iter().find(|(o, _)| *o == office) {
                Some((_, held)) => held,
                None => return false,
            }
        };
        question.holds.is_none_or(|key| held.contains(key))
    }

    /// Outside the span the view was made for: what a view made at `now` answers.
    fn general(
        &self,
        policy: &Policy,
        question: ProjectQuestion,
        project: ProjectIndex,
        now: Timestamp,
    ) -> bool {
        if self.stamp != policy.stamp || self.denied || self.expires_at.is_some_and(|t| now >= t) {
            return false;
        }
        policy.view_of(self.user, now).precomputed(policy, question, project)
    }
}
