//! A second evaluator, written plainly from the spec (§2 to §4) and `docs/decisions.md`: linear
//! scans over the source organisation, no indices, no shared code with the core's evaluator.
//!
//! It answers only *whether* a user may; the core must agree on every question. Property tests
//! and the `decide` fuzz target hold the core to it, so that an optimisation cannot quietly
//! allow what the spec denies.

use tessera_core::{
    AccessLevel, Agreement, KNOWN_PROFILE_PERMISSIONS, Org, PROJECT_PERMISSIONS, Query, ResourceKind, Role,
    RolePermission, Target, Timestamp, User,
};

/// Whether `user` may, by the spec, at `now`.
pub fn allows(org: &Org, user: &str, query: &Query, now: Timestamp) -> bool {
    let Some(u) = org.users.iter().find(|candidate| candidate.id == user) else { return false };
    if !u.active {
        return false;
    }
    let world = World { org, now };
    match query {
        Query::View { kind, id, project } => match (kind, project) {
            (ResourceKind::Project, None) => world.project_visible(u, id),
            (ResourceKind::Task | ResourceKind::Document, Some(project)) => world.project_visible(u, project),
            (ResourceKind::Report, Some(project)) => {
                world.project_visible(u, project) && world.holds_in_project(u, project, "reports.view")
            }
            (ResourceKind::Finance, Some(project)) => {
                world.project_visible(u, project) && world.holds_in_project(u, project, "finance.view")
            }
            (ResourceKind::Person, None) => world.user(id).is_some() && world.person_visible(u, id),
            (ResourceKind::Group, None) => {
                world.org.groups.iter().any(|group| group.id == *id && group.members.contains(&u.id))
            }
            _ => false,
        },
        Query::Can { permission, target } => world.can(u, permission, target),
    }
}

struct World<'a> {
    org: &'a Org,
    now: Timestamp,
}

/// The one target of a query, or `Err` for several.
enum One<'t> {
    None,
    Project(&'t str),
    Group(&'t str),
    Person(&'t str),
    Dm(&'t str),
    Office(&'t str),
    Network(&'t str),
}

fn one(target: &Target) -> Option<One<'_>> {
    let set = [
        target.project.as_deref().map(One::Project),
        target.group.as_deref().map(One::Group),
        target.person.as_deref().map(One::Person),
        target.dm.as_deref().map(One::Dm),
        target.office.as_deref().map(One::Office),
        target.network.as_deref().map(One::Network),
    ];
    let mut given = set.into_iter().flatten();
    match (given.next(), given.next()) {
        (None, _) => Some(One::None),
        (Some(first), None) => Some(first),
        (Some(_), Some(_)) => None,
    }
}

impl World<'_> {
    fn user(&self, id: &str) -> Option<&User> {
        self.org.users.iter().find(|user| user.id == id)
    }

    fn network_of_office(&self, office: &str) -> Option<&str> {
        self.org.offices.iter().find(|o| o.id == office).map(|o| o.network.as_str())
    }

    fn network_of(&self, user: &User) -> Option<&str> {
        self.network_of_office(&user.home_office)
    }

    fn active(&self, agreement: &Agreement) -> bool {
        agreement.expires_at.is_none_or(|expires_at| self.now < expires_at)
    }

    fn shares(agreement: &Agreement, user: &User) -> bool {
        match &agreement.users {
            Some(list) => list.contains(&user.id),
            None => user.home_office == agreement.guest_office,
        }
    }

    /// Active Agreements that share `user` into `office`.
    fn agreements_into<'s>(
        &'s self,
        user: &'s User,
        office: &'s str,
    ) -> impl Iterator<Item = &'s Agreement> + 's {
        self.org
            .agreements
            .iter()
            .filter(move |a| a.host_office == office && self.active(a) && Self::shares(a, user))
    }

    /// Spec §3, the five rules.
    fn project_visible(&self, u: &User, project: &str) -> bool {
        let Some(p) = self.org.projects.iter().find(|p| p.id == project) else { return false };
        let on_team = p.team.contains(&u.id);
        let project_network = self.network_of_office(&p.office);
        if self.network_of(u) != project_network {
            return on_team && self.agreements_into(u, &p.office).next().is_some();
        }
        on_team
            || u.access == AccessLevel::NetworkAdmin
            || u.network_superuser
            || (u.access == AccessLevel::AllInOffice
                && (u.home_office == p.office || u.additional_offices.contains(&p.office)))
    }

    /// Default or override, for `profile` in `office` of `network`.
    fn profile_holds(&self, profile: &str, office: &str, network: &str, key: &str) -> bool {
        let overridden = self
            .org
            .offices
            .iter()
            .find(|o| o.id == office)
            .and_then(|o| o.overrides.get(profile))
            .and_then(|switches| switches.get(key));
        if let Some(&on) = overridden {
            return on;
        }
        self.org
            .networks
            .iter()
            .find(|n| n.id == network)
            .and_then(|n| n.defaults.get(profile))
            .is_some_and(|keys| keys.iter().any(|k| k == key))
    }

    fn holds_at_home(&self, u: &User, key: &str) -> bool {
        self.network_of(u).is_some_and(|network| self.profile_holds(&u.profile, &u.home_office, network, key))
    }

    fn holds_in_project(&self, u: &User, project: &str, key: &str) -> bool {
        let Some(p) = self.org.projects.iter().find(|p| p.id == project) else { return false };
        let Some(network) = self.network_of_office(&p.office) else { return false };
        if self.network_of(u) == Some(network) {
            return self.holds_at_home(u, key);
        }
        self.agreements_into(u, &p.office).any(|a| self.profile_holds(&a.profile, &p.office, network, key))
    }

    fn person_visible(&self, u: &User, v: &str) -> bool {
        let Some(v) = self.user(v) else { return false };
        if v.id == u.id {
            return true;
        }
        if !v.active {
            return false;
        }
        if self.network_of(u) == self.network_of(v) {
            return true;
        }
        self.org.agreements.iter().filter(|a| self.active(a)).any(|a| {
            (Self::shares(a, u) && v.home_office == a.host_office)
                || (Self::shares(a, v) && u.home_office == a.host_office)
        })
    }

    fn role_meets(&self, u: &User, network: Option<&str>, permission: RolePermission) -> bool {
        let Some(network) = self.org.networks.iter().find(|n| Some(n.id.as_str()) == network) else {
            return false;
        };
        let minimum = network
            .messaging
            .get(permission.key())
            .map_or(Some(permission.default_minimum()), |threshold| threshold.role());
        minimum.is_some_and(|minimum| role_rank(u.role) >= role_rank(minimum))
    }

    fn announcements(&self, network: Option<&str>) -> bool {
        self.org.networks.iter().any(|n| Some(n.id.as_str()) == network && n.features.announcements)
    }

    fn connected(&self, u: &User, v: &str) -> bool {
        self.org
            .direct_messages
            .iter()
            .any(|d| d.participants.contains(&u.id) && d.participants.iter().any(|p| p == v))
            || self.org.groups.iter().any(|g| g.members.contains(&u.id) && g.members.iter().any(|m| m == v))
    }

    fn known_profile_permission(&self, key: &str) -> bool {
        KNOWN_PROFILE_PERMISSIONS.contains(&key)
            || self.org.networks.iter().any(|n| n.defaults.values().any(|keys| keys.iter().any(|k| k == key)))
            || self
                .org
                .offices
                .iter()
                .any(|o| o.overrides.values().any(|switches| switches.contains_key(key)))
    }

    fn can(&self, u: &User, permission: &str, target: &Target) -> bool {
        let Some(target) = one(target) else { return false };
        let home = self.network_of(u);
        match (permission, target) {
            ("group.create", One::None) => self.role_meets(u, home, RolePermission::GroupCreate),
            ("people.search_all", One::None) => self.role_meets(u, home, RolePermission::PeopleSearchAll),
            ("announcement.org", One::None) => {
                self.announcements(home) && self.role_meets(u, home, RolePermission::AnnouncementOrg)
            }
            ("announcement.group", One::Group(g)) => {
                let Some(group) = self.org.groups.iter().find(|group| group.id == g) else { return false };
                let network = Some(group.network.as_str());
                network == home
                    && self.announcements(network)
                    && group.members.contains(&u.id)
                    && self.role_meets(u, network, RolePermission::AnnouncementGroup)
            }
            ("dm.start", One::Person(v)) => {
                v != u.id && self.person_visible(u, v) && self.role_meets(u, home, RolePermission::DmStart)
            }
            ("dm.reply", One::Dm(d)) => {
                self.org.direct_messages.iter().any(|dm| dm.id == d && dm.participants.contains(&u.id))
            }
            ("people.search", One::Person(v)) => {
                self.person_visible(u, v)
                    && (v == u.id
                        || self.role_meets(u, home, RolePermission::PeopleSearchAll)
                        || self.connected(u, v))
            }
            ("network.manage", One::None) => u.system_superuser,
            ("defaults.edit", One::Network(n)) => {
                u.system_superuser && self.org.networks.iter().any(|net| net.id == n)
            }
            ("office.manage" | "user.manage" | "project.manage" | "overrides.edit", One::Office(o)) => {
                self.network_of_office(o).is_some()
                    && self.network_of_office(o) == home
                    && (u.access == AccessLevel::NetworkAdmin || u.network_superuser)
            }
            (key, target) if self.known_profile_permission(key) && !is_product_key(key) => {
                match (PROJECT_PERMISSIONS.contains(&key), target) {
                    (true, One::Project(p)) => self.project_visible(u, p) && self.holds_in_project(u, p, key),
                    (false, One::None) => self.holds_at_home(u, key),
                    _ => false,
                }
            }
            _ => false,
        }
    }
}

fn is_product_key(key: &str) -> bool {
    RolePermission::from_key(key).is_some()
        || tessera_core::AdminPermission::from_key(key).is_some()
        || key == tessera_core::DM_REPLY
        || key == tessera_core::PEOPLE_SEARCH
}

fn role_rank(role: Role) -> u8 {
    match role {
        Role::User => 0,
        Role::Manager => 1,
        Role::Admin => 2,
    }
}
