//! Decisions, suggested edits and impacts as sentences for people.
//!
//! The core speaks in ids (`the `client` profile does not include `task.create` in network
//! `n-emea``), which is right for logs and tests. The app speaks to people: names resolved
//! through the verified snapshot ([`Names`]: London, EMEA, Rebrand, Cleo Barnes), permission
//! keys as phrases ([`permission_verb`]: "create tasks"), profiles by their titles ("Project
//! Manager"). An id the snapshot does not hold (a cut snapshot holds only what its user's
//! decisions read) is shown as it is, and so is a permission key the table does not know.
//!
//! Pure: no browser, tested natively. The reason code stays the interface; these sentences
//! may be reworded at will.

use tessera_core::{
    Access, AccessLevel, AdminPermission, Code, DM_REPLY, Decision, Edit, Fact, Grant, Impact, PEOPLE_SEARCH,
    Policy, Query, RolePermission, Target,
};

/// Every permission key the app can phrase, as what it lets someone do.
const PERMISSIONS: &[(&str, &str)] = &[
    ("project.create", "create projects"),
    ("task.create", "create tasks"),
    ("file.upload", "upload files"),
    ("wiki.manage", "edit the wiki"),
    ("reports.view", "see reports"),
    ("finance.view", "see finance figures"),
    ("timesheet.log", "log time"),
    (RolePermission::GroupCreate.key(), "create groups"),
    (RolePermission::PeopleSearchAll.key(), "find anyone in their network"),
    (RolePermission::DmStart.key(), "start direct messages"),
    (RolePermission::AnnouncementOrg.key(), "send announcements to everyone"),
    (RolePermission::AnnouncementGroup.key(), "send group announcements"),
    (DM_REPLY, "reply to direct messages"),
    (PEOPLE_SEARCH, "find people"),
    (AdminPermission::NetworkManage.key(), "manage networks"),
    (AdminPermission::DefaultsEdit.key(), "edit a network's default permissions"),
    (AdminPermission::OfficeManage.key(), "manage offices"),
    (AdminPermission::UserManage.key(), "manage people"),
    (AdminPermission::ProjectManage.key(), "manage projects"),
    (AdminPermission::OverridesEdit.key(), "edit an office's overrides"),
];

/// The six profiles every Network knows: key, title, plural, the title with its article.
const PROFILES: &[(&str, &str, &str, &str)] = &[
    ("operations_user", "Operations User", "Operations Users", "an Operations User"),
    ("project_manager", "Project Manager", "Project Managers", "a Project Manager"),
    ("account_manager", "Account Manager", "Account Managers", "an Account Manager"),
    ("general_user", "General User", "General Users", "a General User"),
    ("client", "Client", "Clients", "a Client"),
    ("vendor", "Vendor", "Vendors", "a Vendor"),
];

/// What `key` lets someone do, as a phrase that follows "may": "create tasks". A key the app
/// does not know is shown as it is: "use `invoice.approve`".
pub fn permission_verb(key: &str) -> String {
    match known_permission(key) {
        Some(phrase) => phrase.to_owned(),
        None => format!("use “{key}”"),
    }
}

/// The permission `key` as a name, for quotes: "create tasks", or the key as it is.
pub fn permission_label(key: &str) -> String {
    known_permission(key).unwrap_or(key).to_owned()
}

fn known_permission(key: &str) -> Option<&'static str> {
    PERMISSIONS.iter().find(|(known, _)| *known == key).map(|(_, phrase)| *phrase)
}

/// A profile's title: "Project Manager"; a Network's own profile by its key, in title case.
pub fn profile_title(key: &str) -> String {
    match PROFILES.iter().find(|(known, ..)| *known == key) {
        Some((_, title, _, _)) => (*title).to_owned(),
        None => title_case(key),
    }
}

/// The people holding a profile: "Clients", or "people with the Auditor profile".
pub fn profile_plural(key: &str) -> String {
    match PROFILES.iter().find(|(known, ..)| *known == key) {
        Some((_, _, plural, _)) => (*plural).to_owned(),
        None => format!("people with the {} profile", title_case(key)),
    }
}

/// Acting under a profile: "as a Client", or "under the Auditor profile".
fn as_profile(key: &str) -> String {
    match PROFILES.iter().find(|(known, ..)| *known == key) {
        Some((_, _, _, with_article)) => format!("as {with_article}"),
        None => format!("under the {} profile", title_case(key)),
    }
}

fn title_case(key: &str) -> String {
    key.split(['_', '-', '.'])
        .filter(|word| !word.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Who may, by a role minimum: "everyone", "managers and admins", "admins".
fn at_least(minimum: &str) -> String {
    match minimum {
        "user" => "everyone".to_owned(),
        "manager" => "managers and admins".to_owned(),
        "admin" => "admins".to_owned(),
        other => format!("people of role {other} and above"),
    }
}

/// Ids to names, through one verified snapshot's policy. An id the snapshot does not hold is
/// returned as it is.
#[derive(Clone, Copy)]
pub struct Names<'a> {
    policy: &'a Policy,
}

impl<'a> Names<'a> {
    /// Names from `policy`.
    pub fn new(policy: &'a Policy) -> Names<'a> {
        Names { policy }
    }

    /// A person's name.
    pub fn user(&self, id: &str) -> String {
        self.policy.user_summary(id).map_or(id, |person| person.name).to_owned()
    }

    /// An Office's name.
    pub fn office(&self, id: &str) -> String {
        self.policy.office_name(id).unwrap_or(id).to_owned()
    }

    /// A Network's name.
    pub fn network(&self, id: &str) -> String {
        self.policy.network_name(id).unwrap_or(id).to_owned()
    }

    /// A Project's name.
    pub fn project(&self, id: &str) -> String {
        self.policy.project_name(id).unwrap_or(id).to_owned()
    }

    /// A group, which has no name but its id.
    pub fn group(&self, id: &str) -> String {
        format!("group {id}")
    }

    /// Whatever `token` names, tried as each kind in turn: for the core's messages, whose ids
    /// come without their kind. A permission key becomes its phrase in quotes, a known profile
    /// its title; anything else stays as it is.
    fn any(&self, token: &str) -> String {
        let policy = self.policy;
        if let Some(person) = policy.user_summary(token) {
            return person.name.to_owned();
        }
        if let Some(name) = policy
            .project_name(token)
            .or_else(|| policy.office_name(token))
            .or_else(|| policy.network_name(token))
        {
            return name.to_owned();
        }
        if let Some(phrase) = known_permission(token) {
            return format!("“{phrase}”");
        }
        if let Some((_, title, _, _)) = PROFILES.iter().find(|(known, ..)| *known == token) {
            return (*title).to_owned();
        }
        token.to_owned()
    }
}

/// Who a reason is about: the signed-in person ("you"), or someone named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject<'a> {
    /// The signed-in user, addressed as "you".
    You,
    /// Someone else, by name.
    Named(&'a str),
}

impl Subject<'_> {
    fn name(self) -> String {
        match self {
            Subject::You => "you".to_owned(),
            Subject::Named(name) => name.to_owned(),
        }
    }

    /// "you are", "Cleo Barnes is".
    fn is(self) -> String {
        match self {
            Subject::You => "you are".to_owned(),
            Subject::Named(name) => format!("{name} is"),
        }
    }

    /// The subject with a verb: `("work", "works")` gives "you work", "Cleo Barnes works".
    fn does(self, plain: &str, third: &str) -> String {
        match self {
            Subject::You => format!("you {plain}"),
            Subject::Named(name) => format!("{name} {third}"),
        }
    }

    /// After the subject was named: "you are", "they are".
    fn then_is(self) -> &'static str {
        match self {
            Subject::You => "you are",
            Subject::Named(_) => "they are",
        }
    }

    /// After the subject was named, with a verb: "you see", "they see".
    fn then(self, verb: &str) -> String {
        match self {
            Subject::You => format!("you {verb}"),
            Subject::Named(_) => format!("they {verb}"),
        }
    }

    /// After the subject was named: "your", "their".
    fn their(self) -> &'static str {
        match self {
            Subject::You => "your",
            Subject::Named(_) => "their",
        }
    }

    /// "your", "Cleo Barnes's".
    fn possessive(self) -> String {
        match self {
            Subject::You => "your".to_owned(),
            Subject::Named(name) => format!("{name}'s"),
        }
    }

    /// As an object, after the subject was named: "you", "them".
    fn them(self) -> &'static str {
        match self {
            Subject::You => "you",
            Subject::Named(_) => "them",
        }
    }
}

/// `text` as a sentence: a capital first letter and a full stop.
pub fn sentence(text: &str) -> String {
    let mut chars = text.trim().chars();
    let mut out: String = chars.next().map(|first| first.to_uppercase().collect()).unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// The core's message with each id in backticks replaced by its name, as a sentence: what
/// [`reason`] falls back on when the facts do not hold what its own sentence needs.
pub fn humanise(names: &Names<'_>, message: &str) -> String {
    let text: String = message
        .split('`')
        .enumerate()
        .map(|(i, part)| if i % 2 == 1 { names.any(part) } else { part.to_owned() })
        .collect();
    sentence(&text)
}

fn last<'d, T>(decision: &'d Decision, pick: impl Fn(&'d Fact) -> Option<T>) -> Option<T> {
    decision.facts.iter().rev().find_map(pick)
}

/// Why `decision` (about `subject` asking `query`) came out as it did, as sentences for people,
/// names in place of ids. A denial says its one reason; anything the facts do not spell out
/// falls back on the core's message, humanised.
pub fn reason(names: &Names<'_>, subject: Subject<'_>, query: &Query, decision: &Decision) -> String {
    own_reason(names, subject, query, decision).unwrap_or_else(|| humanise(names, &decision.message))
}

/// Where a profile permission was read: "you work in London as a Client", and the Office and
/// Network read.
fn holder(names: &Names<'_>, subject: Subject<'_>, decision: &Decision) -> Option<(String, String, String)> {
    let (profile, office, network, via) = last(decision, |fact| match fact {
        Fact::Profile { profile, office, network, via } => Some((profile, office, network, via)),
        _ => None,
    })?;
    let office_name = names.office(office);
    let under = if via == "home" { String::new() } else { " under an agreement,".to_owned() };
    let text = format!("{} in {office_name}{under} {}", subject.does("work", "works"), as_profile(profile));
    Some((text, office_name, names.network(network)))
}

fn own_reason(names: &Names<'_>, subject: Subject<'_>, query: &Query, decision: &Decision) -> Option<String> {
    let permission = match query {
        Query::Can { permission, .. } => Some(permission.as_str()),
        Query::View { .. } => None,
    };
    let text = match decision.code {
        Code::UnknownUser => format!("{} not in this policy snapshot", subject.is()),
        Code::InactiveUser => {
            format!("{} inactive, and an inactive account may see nothing and do nothing", subject.is())
        }
        Code::UnknownPermission => {
            format!("“{}” is not a permission this organisation knows", permission?)
        }
        Code::Firewall => firewall(names, subject, decision)?,
        Code::AgreementExpired => {
            let (host, expires) = last(decision, |fact| match fact {
                Fact::Agreement { host_office, expires_at, active: false, .. } => {
                    Some((host_office, expires_at.as_deref()))
                }
                _ => None,
            })?;
            let date = expires.and_then(|at| at.get(..10)).unwrap_or("some time ago");
            format!(
                "the agreement that would link {} with {} expired on {date}",
                subject.name(),
                names.office(host)
            )
        }
        Code::NotOnTeam => {
            let project = last(decision, |fact| match fact {
                Fact::Team { project, .. } => Some(project),
                _ => None,
            })?;
            let alien = last(decision, |fact| match fact {
                Fact::Agreement { host_office, active: true, .. } => Some(host_office),
                _ => None,
            });
            match alien {
                Some(host) => format!(
                    "an agreement shares {} with {}, but only for the projects whose team {} on, and {} not on the team of {}",
                    subject.name(),
                    names.office(host),
                    subject.then_is(),
                    subject.then_is(),
                    names.project(project)
                ),
                None => format!(
                    "{} invite-only: {} only the projects whose team {} on, and {} not on the team of {}",
                    subject.is(),
                    subject.then("see"),
                    subject.then_is(),
                    subject.then_is(),
                    names.project(project)
                ),
            }
        }
        Code::OfficeNotLinked => {
            let (project, office) = last(decision, |fact| match fact {
                Fact::Project { project, office, .. } => Some((project, office)),
                _ => None,
            })?;
            format!(
                "{} belongs to {}, which is neither {} home office nor one of {} additional offices",
                names.project(project),
                names.office(office),
                subject.possessive(),
                subject.their()
            )
        }
        Code::ProfileLacksPermission => {
            let (profile, key) = last(decision, |fact| match fact {
                Fact::NetworkDefault { profile, permission, value: false, .. } => Some((profile, permission)),
                _ => None,
            })?;
            let (who, office, network) = holder(names, subject, decision)?;
            format!(
                "{who}. {} in {network} may not {}, and {office} does not switch it on for them",
                profile_plural(profile),
                permission_verb(key)
            )
        }
        Code::OfficeOverrideOff => {
            let (office, profile, key) = last(decision, |fact| match fact {
                Fact::Override { office, profile, permission, value: false } => {
                    Some((office, profile, permission))
                }
                _ => None,
            })?;
            let (who, _, _) = holder(names, subject, decision)?;
            format!(
                "{who}. {} switches “{}” off for {}",
                names.office(office),
                permission_label(key),
                profile_plural(profile)
            )
        }
        Code::RoleBelowMinimum => {
            let (network, key, minimum, role) = last(decision, |fact| match fact {
                Fact::Threshold { network, permission, minimum, role } => {
                    Some((network, permission, minimum, role))
                }
                _ => None,
            })?;
            format!(
                "in {}, only {} may {}, and {} messaging role is {role}",
                names.network(network),
                at_least(minimum),
                permission_verb(key),
                subject.possessive()
            )
        }
        Code::FeatureOff => {
            let network = last(decision, |fact| match fact {
                Fact::Feature { network, on: false, .. } => Some(network),
                _ => None,
            })?;
            format!(
                "announcements are switched off in {}, for everyone, admins included",
                names.network(network)
            )
        }
        Code::NotGroupMember => {
            let group = last(decision, |fact| match fact {
                Fact::GroupMember { group, member: false } => Some(group),
                _ => None,
            })?;
            format!("{} not a member of {}", subject.is(), names.group(group))
        }
        Code::NotAParticipant => format!("{} no part in this conversation", subject.does("take", "takes")),
        Code::NotAConnection => {
            let person = last(decision, |fact| match fact {
                Fact::Connection { person, .. } => Some(person),
                _ => None,
            })?;
            format!(
                "{} only {} Connections (people who share a group or a conversation with {}), and {} is not one",
                subject.does("may find", "may find"),
                subject.their(),
                subject.them(),
                names.user(person)
            )
        }
        Code::TargetInactive => {
            let person = last(decision, |fact| match fact {
                Fact::Person { person, .. } => Some(person),
                _ => None,
            })?;
            format!("{} is inactive", names.user(person))
        }
        Code::NotSystemSuperuser => format!("only system superusers may {}", permission_verb(permission?)),
        Code::NotNetworkAdmin => {
            let (office, network) = last(decision, |fact| match fact {
                Fact::Office { office, network } => Some((office, network)),
                _ => None,
            })?;
            format!(
                "only network admins and superusers of {} may {} in {}",
                names.network(network),
                permission_verb(permission?),
                names.office(office)
            )
        }
        Code::SnapshotExpired => {
            format!("{} policy snapshot has expired, and a new one is needed", subject.possessive())
        }
        Code::OutOfScope => format!("this policy snapshot was cut for someone else than {}", subject.name()),
        _ => return None,
    };
    Some(sentence(&text))
}

fn firewall(names: &Names<'_>, subject: Subject<'_>, decision: &Decision) -> Option<String> {
    let behind = |network: &str| format!("{}, behind the firewall", names.network(network));
    decision.facts.iter().rev().find_map(|fact| match fact {
        Fact::Project { project, network, .. } => Some(format!(
            "{} belongs to {}, and no agreement shares {} with its office",
            names.project(project),
            behind(network),
            subject.name()
        )),
        Fact::Person { person, network, .. } => Some(format!(
            "{} is in {}, and no agreement links {} with them",
            names.user(person),
            behind(network),
            subject.name()
        )),
        Fact::Office { office, network } => {
            Some(format!("{} belongs to {}", names.office(office), behind(network)))
        }
        _ => None,
    })
}

/// One suggested edit, for people: "switch on “create tasks” for Clients in London". Starts
/// in lower case, to go into a sentence ([`grant`]).
pub fn edit(names: &Names<'_>, edit: &Edit) -> String {
    match edit {
        Edit::ActivateUser { user } => format!("make {} active again", names.user(user)),
        Edit::AddToTeam { user, project } => {
            format!("add {} to the team of {}", names.user(user), names.project(project))
        }
        Edit::AddToGroup { user, group } => format!("add {} to {}", names.user(user), names.group(group)),
        Edit::AddAdditionalOffice { user, office } => {
            format!("give {} {} as an additional office", names.user(user), names.office(office))
        }
        Edit::ShareWithOffice { user, guest_office, host_office, profile, .. } => format!(
            "share {} (of {}) with {} by a new agreement, {}",
            names.user(user),
            names.office(guest_office),
            names.office(host_office),
            as_profile(profile)
        ),
        Edit::SetAccess { user, access } => match access {
            AccessLevel::AllInOffice => {
                format!("let {} see every project of their offices", names.user(user))
            }
            AccessLevel::InviteOnly => format!("make {} invite-only", names.user(user)),
            AccessLevel::NetworkAdmin => {
                format!("make {} a network admin, seeing every project of their network", names.user(user))
            }
        },
        Edit::RaiseRole { user, role } => {
            format!("raise {}'s messaging role to {}", names.user(user), role.as_str())
        }
        Edit::OverrideOn { office, profile, permission } => format!(
            "switch on “{}” for {} in {}",
            permission_label(permission),
            profile_plural(profile),
            names.office(office)
        ),
        Edit::AnnouncementsOn { network } => format!("switch announcements on in {}", names.network(network)),
        Edit::DefaultOn { network, profile, permission } => format!(
            "switch on “{}” for {} throughout {} (the network's default)",
            permission_label(permission),
            profile_plural(profile),
            names.network(network)
        ),
        Edit::MakeNetworkSuperuser { user } => {
            let network = names.policy.user_summary(user).map(|person| names.network(person.network));
            match network {
                Some(network) => format!("make {} a superuser of {network}", names.user(user)),
                None => format!("make {} a superuser of their network", names.user(user)),
            }
        }
        Edit::MakeSystemSuperuser { user } => format!("make {} a system superuser", names.user(user)),
        Edit::DeactivateUser { user } => format!("make {} inactive", names.user(user)),
        Edit::RemoveFromTeam { user, project } => {
            format!("take {} off the team of {}", names.user(user), names.project(project))
        }
        Edit::RemoveFromGroup { user, group } => {
            format!("take {} out of {}", names.user(user), names.group(group))
        }
        Edit::RemoveAdditionalOffice { user, office } => {
            format!("take {} from {}'s additional offices", names.office(office), names.user(user))
        }
        Edit::EndAgreement { agreement } => format!("end agreement {agreement}"),
        Edit::LowerRole { user, role } => {
            format!("lower {}'s messaging role to {}", names.user(user), role.as_str())
        }
        Edit::OverrideOff { office, profile, permission } => format!(
            "switch off “{}” for {} in {}",
            permission_label(permission),
            profile_plural(profile),
            names.office(office)
        ),
        Edit::ClearOverride { office, profile, permission } => format!(
            "remove {}'s override of “{}” for {}, so that the network's default decides",
            names.office(office),
            permission_label(permission),
            profile_plural(profile)
        ),
        Edit::AnnouncementsOff { network } => {
            format!("switch announcements off in {}", names.network(network))
        }
        Edit::DefaultOff { network, profile, permission } => format!(
            "switch off “{}” for {} throughout {} (the network's default)",
            permission_label(permission),
            profile_plural(profile),
            names.network(network)
        ),
        Edit::RevokeNetworkSuperuser { user } => {
            format!("make {} no longer a superuser of their network", names.user(user))
        }
        Edit::RevokeSystemSuperuser { user } => {
            format!("make {} no longer a system superuser", names.user(user))
        }
        Edit::CreateProject { name, creator, .. } => {
            format!("{} creates the project “{name}”", names.user(creator))
        }
        Edit::CreateGroup { owner, members, .. } => {
            format!("{} creates a group of {} people", names.user(owner), members.len().saturating_add(1))
        }
        Edit::StartDm { from, with, .. } => {
            format!("{} starts a conversation with {}", names.user(from), names.user(with))
        }
    }
}

/// One suggestion, every edit in it, as a sentence: "Add Cleo Barnes to the team of Rebrand,
/// and switch on “create tasks” for Clients in London."
pub fn grant(names: &Names<'_>, grant: &Grant) -> String {
    let edits: Vec<String> = grant.edits.iter().map(|one| edit(names, one)).collect();
    sentence(&edits.join(", and "))
}

/// A permission with its target, for people: "create tasks in Rebrand", "start direct
/// messages with Bob Stone", "send announcements to everyone".
pub fn can(names: &Names<'_>, query: &Query) -> String {
    match query {
        Query::View { kind, id, .. } => format!("see {} {id}", kind.as_str()),
        Query::Can { permission, target } => {
            let verb = permission_verb(permission);
            match target_phrase(names, target) {
                Some(target) => format!("{verb} {target}"),
                None => verb,
            }
        }
    }
}

fn target_phrase(names: &Names<'_>, target: &Target) -> Option<String> {
    if let Some(project) = &target.project {
        return Some(format!("in {}", names.project(project)));
    }
    if let Some(person) = &target.person {
        return Some(format!("with {}", names.user(person)));
    }
    if let Some(group) = &target.group {
        return Some(format!("in {}", names.group(group)));
    }
    if let Some(dm) = &target.dm {
        return Some(format!("in conversation {dm}"));
    }
    if let Some(office) = &target.office {
        return Some(format!("in {}", names.office(office)));
    }
    target.network.as_ref().map(|network| format!("in {}", names.network(network)))
}

/// What a set of access holds, one line per thing, names in place of ids: "see Rebrand",
/// "create tasks in Rebrand", "see the reports of Rebrand".
pub fn access(names: &Names<'_>, access: &Access) -> Vec<String> {
    let mut lines = Vec::new();
    lines.extend(access.projects.iter().map(|id| format!("see {}", names.project(id))));
    lines.extend(access.reports.iter().map(|id| format!("see the reports of {}", names.project(id))));
    lines.extend(access.finance.iter().map(|id| format!("see the finance figures of {}", names.project(id))));
    lines.extend(access.people.iter().map(|id| format!("see {}", names.user(id))));
    lines.extend(access.groups.iter().map(|id| format!("see {}", names.group(id))));
    lines.extend(access.permissions.iter().map(|query| can(names, query)));
    lines
}

/// What one person would gain and lose, for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonImpact {
    /// Their id.
    pub user: String,
    /// Their name, or their id where the snapshot does not hold them.
    pub name: String,
    /// What they would gain, a line each.
    pub gained: Vec<String>,
    /// What they would lose, a line each.
    pub lost: Vec<String>,
}

/// An impact, person by person, names in place of ids.
pub fn impact(names: &Names<'_>, impact: &Impact) -> Vec<PersonImpact> {
    impact
        .users
        .iter()
        .map(|one| PersonImpact {
            user: one.user.clone(),
            name: names.user(&one.user),
            gained: access(names, &one.gained),
            lost: access(names, &one.lost),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use tessera_core::{
        Header, Org, SCHEMA_VERSION, Scope, SecretKey, Snapshot, Timestamp, TrustedKeys, VerifyOptions, cut,
        sign,
    };

    use super::*;
    use crate::actions;

    fn demo() -> Org {
        serde_json::from_str(include_str!("../../../tests/demo/org.json")).unwrap()
    }

    fn now() -> Timestamp {
        Timestamp::parse("2026-06-01T00:00:00Z").unwrap()
    }

    /// `org` cut to `user` and signed, as the server sends it.
    fn snapshot_of(org: &Org, user: &str) -> Snapshot {
        let scope = Scope::User(user.to_owned());
        let key = SecretKey::from_bytes([5; 32]);
        let header = Header {
            schema: SCHEMA_VERSION,
            issuer: "test".into(),
            version: 1,
            issued_at: now(),
            expires_at: now().plus_seconds(3_600),
            scope: scope.clone(),
        };
        let bytes = sign(&cut(org, &scope, now()).unwrap(), &header, &[&key]).unwrap();
        let mut keys = TrustedKeys::new();
        keys.add(key.public_key());
        Snapshot::verify(&bytes, &keys, &VerifyOptions::new(now())).unwrap()
    }

    /// The reason and the suggestions for `user` asking `query`, as the panel shows them,
    /// from their own snapshot.
    fn explained(org: &Org, user: &str, query: &Query) -> (String, Vec<String>) {
        let snapshot = snapshot_of(org, user);
        let decision = snapshot.explain(user, query, now());
        worded(snapshot.policy(), user, query, &decision)
    }

    /// The same from the whole organisation, for what a user's own cut does not hold (a
    /// Project they do not see is not in it at all).
    fn explained_whole(org: &Org, user: &str, query: &Query) -> (String, Vec<String>) {
        let policy = Policy::new(org).unwrap();
        let decision = policy.explain(user, query, now());
        worded(&policy, user, query, &decision)
    }

    fn worded(policy: &Policy, user: &str, query: &Query, decision: &Decision) -> (String, Vec<String>) {
        assert!(!decision.allowed, "{user} may {query:?}");
        let names = Names::new(policy);
        let grants = decision.grants.iter().map(|one| grant(&names, one)).collect();
        (reason(&names, Subject::You, query, decision), grants)
    }

    #[test]
    fn a_clients_missing_permission_reads_with_names_and_phrases() {
        let query = Query::can("task.create", Target::project("p-rebrand"));
        let (why, grants) = explained(&demo(), "u-cleo", &query);
        assert_eq!(
            why,
            "You work in London as a Client. Clients in EMEA may not create tasks, and London does not \
             switch it on for them."
        );
        assert!(!why.contains('`'));
        assert_eq!(grants.first().unwrap(), "Switch on “create tasks” for Clients in London.");
        assert!(grants.contains(
            &"Switch on “create tasks” for Clients throughout EMEA (the network's default).".to_owned()
        ));
        for line in &grants {
            assert!(
                !line.contains("o-lon") && !line.contains("n-emea") && !line.contains("task.create"),
                "{line}"
            );
        }

        // The same, about someone else (the admin page).
        let snapshot = snapshot_of(&demo(), "u-cleo");
        let names = Names::new(snapshot.policy());
        let decision = snapshot.explain("u-cleo", &query, now());
        assert_eq!(
            reason(&names, Subject::Named("Cleo Barnes"), &query, &decision),
            "Cleo Barnes works in London as a Client. Clients in EMEA may not create tasks, and London \
             does not switch it on for them."
        );
    }

    #[test]
    fn the_reasons_of_the_demo_read_as_sentences() {
        let org = demo();
        // An override off, for a Project Manager of London.
        let mut off = org.clone();
        let london = off.offices.iter_mut().find(|office| office.id == "o-lon").unwrap();
        london.overrides.entry("project_manager".into()).or_default().insert("task.create".into(), false);
        let (why, _) = explained(&off, "u-ada", &Query::can("task.create", Target::project("p-rebrand")));
        assert_eq!(
            why,
            "You work in London as a Project Manager. London switches “create tasks” off for Project Managers."
        );

        // Announcements off in the Americas, for admins too.
        let (why, grants) = explained(&org, "u-grace", &Query::can("announcement.org", Target::none()));
        assert_eq!(why, "Announcements are switched off in Americas, for everyone, admins included.");
        assert_eq!(grants, ["Switch announcements on in Americas."]);

        // Invite-only: only the team's projects. (Her own cut does not hold Rebrand at all.)
        let (why, _) = explained(&org, "u-priya", &Query::can("task.create", Target::project("p-rebrand")));
        assert_eq!(why, "There is no project p-rebrand in this snapshot.");
        let (why, grants) =
            explained_whole(&org, "u-priya", &Query::can("task.create", Target::project("p-rebrand")));
        assert_eq!(
            why,
            "You are invite-only: you see only the projects whose team you are on, and you are not on the \
             team of Rebrand."
        );
        assert_eq!(grants.first().unwrap(), "Add Priya Nair to the team of Rebrand.");
        assert!(grants.contains(&"Let Priya Nair see every project of their offices.".to_owned()));

        // A messaging role below the Network's minimum.
        let (why, grants) = explained(&org, "u-sam", &Query::can("announcement.org", Target::none()));
        assert_eq!(
            why,
            "In EMEA, only admins may send announcements to everyone, and your messaging role is user."
        );
        assert_eq!(grants, ["Raise Sam Whitfield's messaging role to admin."]);

        // Inactive.
        let (why, grants) = explained(&org, "u-tom", &Query::can("group.create", Target::none()));
        assert_eq!(why, "You are inactive, and an inactive account may see nothing and do nothing.");
        assert_eq!(grants, ["Make Tom Hale active again."]);

        // An alien, under an Agreement's profile.
        let (why, _) = explained(&org, "u-bob", &Query::can("task.create", Target::project("p-lon-website")));
        assert_eq!(
            why,
            "You work in London under an agreement, as a Vendor. Vendors in EMEA may not create tasks, and \
             London does not switch it on for them."
        );

        // An Agreement that has expired.
        let (why, _) =
            explained_whole(&org, "u-paulo", &Query::can("task.create", Target::project("p-sin-fintech")));
        assert_eq!(why, "The agreement that would link you with Singapore expired on 2025-03-31.");

        // Administering: only network admins and superusers.
        let (why, _) = explained(&org, "u-cleo", &Query::can("user.manage", Target::office("o-lon")));
        assert_eq!(why, "Only network admins and superusers of EMEA may manage people in London.");

        // Across the firewall.
        let (why, grants) =
            explained_whole(&org, "u-dana", &Query::can("task.create", Target::project("p-rebrand")));
        assert_eq!(
            why,
            "Rebrand belongs to EMEA, behind the firewall, and no agreement shares you with its office."
        );
        let (why, _) = explained_whole(&org, "u-dana", &Query::can("user.manage", Target::office("o-lon")));
        assert_eq!(why, "London belongs to EMEA, behind the firewall.");
        assert!(grants.iter().all(|line| !line.contains('`')), "{grants:?}");
    }

    #[test]
    fn every_reason_of_every_demo_action_is_free_of_backticks() {
        let org = demo();
        for user in org.users.iter().map(|user| user.id.as_str()) {
            let snapshot = snapshot_of(&org, user);
            let names = Names::new(snapshot.policy());
            let mut denied: Vec<actions::Action> = actions::messaging_actions(&snapshot, user, now());
            for project in org.projects.iter().map(|project| project.id.as_str()) {
                denied.extend(actions::project_actions(&snapshot, user, now(), project));
            }
            for action in denied.into_iter().filter(|action| !action.allowed) {
                let Some(why) = action.explain(&snapshot, user, now()) else { continue };
                let text = reason(&names, Subject::You, &action.query, &why);
                assert!(!text.contains('`'), "{user} {}: {text}", action.key);
                assert!(text.ends_with('.'), "{text}");
                for one in &why.grants {
                    let text = grant(&names, one);
                    assert!(!text.contains('`'), "{user} {}: {text}", action.key);
                }
            }
        }
    }

    #[test]
    fn unknown_keys_and_profiles_are_shown_as_they_are() {
        assert_eq!(permission_verb("task.create"), "create tasks");
        assert_eq!(permission_verb("invoice.approve"), "use “invoice.approve”");
        assert_eq!(permission_label("invoice.approve"), "invoice.approve");
        assert_eq!(profile_title("project_manager"), "Project Manager");
        assert_eq!(profile_title("auditor"), "Auditor");
        assert_eq!(profile_plural("auditor"), "people with the Auditor profile");
        assert_eq!(as_profile("operations_user"), "as an Operations User");
        let snapshot = snapshot_of(&demo(), "u-ada");
        let names = Names::new(snapshot.policy());
        assert_eq!(names.office("o-nowhere"), "o-nowhere");
        assert_eq!(
            edit(
                &names,
                &Edit::OverrideOn {
                    office: "o-lon".into(),
                    profile: "auditor".into(),
                    permission: "invoice.approve".into()
                }
            ),
            "switch on “invoice.approve” for people with the Auditor profile in London"
        );
        assert_eq!(
            humanise(&names, "the `client` profile does not include `task.create` in network `n-emea`"),
            "The Client profile does not include “create tasks” in network EMEA."
        );
    }

    #[test]
    fn every_kind_of_edit_reads_with_names() {
        let snapshot = snapshot_of(&demo(), "u-ellen");
        let names = Names::new(snapshot.policy());
        let (user, office, network) = ("u-cleo".to_owned(), "o-lon".to_owned(), "n-emea".to_owned());
        let (profile, permission) = ("client".to_owned(), "task.create".to_owned());
        let edits = [
            Edit::ActivateUser { user: user.clone() },
            Edit::DeactivateUser { user: user.clone() },
            Edit::AddToTeam { user: user.clone(), project: "p-rebrand".into() },
            Edit::RemoveFromTeam { user: user.clone(), project: "p-rebrand".into() },
            Edit::AddToGroup { user: user.clone(), group: "g-lon-design".into() },
            Edit::RemoveFromGroup { user: user.clone(), group: "g-lon-design".into() },
            Edit::AddAdditionalOffice { user: user.clone(), office: "o-par".into() },
            Edit::RemoveAdditionalOffice { user: user.clone(), office: "o-par".into() },
            Edit::SetAccess { user: user.clone(), access: AccessLevel::InviteOnly },
            Edit::RaiseRole { user: user.clone(), role: tessera_core::Role::Manager },
            Edit::LowerRole { user: user.clone(), role: tessera_core::Role::User },
            Edit::OverrideOn {
                office: office.clone(),
                profile: profile.clone(),
                permission: permission.clone(),
            },
            Edit::OverrideOff {
                office: office.clone(),
                profile: profile.clone(),
                permission: permission.clone(),
            },
            Edit::ClearOverride {
                office: office.clone(),
                profile: profile.clone(),
                permission: permission.clone(),
            },
            Edit::AnnouncementsOn { network: network.clone() },
            Edit::AnnouncementsOff { network: network.clone() },
            Edit::DefaultOn {
                network: network.clone(),
                profile: profile.clone(),
                permission: permission.clone(),
            },
            Edit::DefaultOff { network: network.clone(), profile, permission },
            Edit::MakeNetworkSuperuser { user: user.clone() },
            Edit::RevokeNetworkSuperuser { user: user.clone() },
            Edit::MakeSystemSuperuser { user: user.clone() },
            Edit::RevokeSystemSuperuser { user },
        ];
        for one in &edits {
            let text = edit(&names, one);
            assert!(
                text.contains("Cleo Barnes") || text.contains("London") || text.contains("EMEA"),
                "{text}"
            );
            for id in ["u-cleo", "o-lon", "n-emea", "o-par", "p-rebrand", "task.create", "`"] {
                assert!(!text.contains(id), "{text}");
            }
        }
        assert_eq!(
            edit(&names, &edits[13]),
            "remove London's override of “create tasks” for Clients, so that the network's default decides"
        );
        assert_eq!(edit(&names, &edits[19]), "make Cleo Barnes no longer a superuser of their network");
    }

    #[test]
    fn an_impact_reads_with_names() {
        let snapshot = snapshot_of(&demo(), "u-ellen");
        let names = Names::new(snapshot.policy());
        let gained = Access {
            projects: vec!["p-rebrand".into()],
            permissions: vec![
                Query::can("task.create", Target::project("p-rebrand")),
                Query::can("dm.start", Target::person("u-cleo")),
                Query::can("group.create", Target::none()),
            ],
            ..Access::default()
        };
        assert_eq!(
            access(&names, &gained),
            [
                "see Rebrand",
                "create tasks in Rebrand",
                "start direct messages with Cleo Barnes",
                "create groups"
            ]
        );
        let whole = Impact {
            users: vec![
                tessera_core::UserImpact { user: "u-cleo".into(), gained, lost: Access::default() },
                tessera_core::UserImpact {
                    user: "u-dana".into(),
                    gained: Access::default(),
                    lost: Access { projects: vec!["p-nyc-app".into()], ..Access::default() },
                },
            ],
        };
        let people = impact(&names, &whole);
        assert_eq!(people.first().unwrap().name, "Cleo Barnes");
        // Someone of another Network: not in Ellen's snapshot, so by id.
        assert_eq!(people.get(1).unwrap().name, "u-dana");
        assert_eq!(people.get(1).unwrap().lost, ["see p-nyc-app"]);
    }
}
