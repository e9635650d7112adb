//! Edits: the JSON they are written as, that each one has an inverse, and who may make them.

use std::collections::BTreeSet;

use proptest::prelude::*;
use serde_json::{Value, json};
use tessera_core::{
    AccessLevel, Code, DEFAULT_PROFILES, Edit, Org, Policy, Query, ResourceKind, Role, Target, UnknownId,
};

use crate::support::{arb_org, demo_org, now, small_org};

fn s(text: &str) -> String {
    text.to_owned()
}

/// Every kind of edit once, with the JSON it is written as and the sentence it reads as.
fn every_edit() -> Vec<(Edit, Value, &'static str)> {
    vec![
        (
            Edit::ActivateUser { user: s("u-tom") },
            json!({"edit": "activate_user", "user": "u-tom"}),
            "make `u-tom` active",
        ),
        (
            Edit::AddToTeam { user: s("u-cleo"), project: s("p-lon-website") },
            json!({"edit": "add_to_team", "user": "u-cleo", "project": "p-lon-website"}),
            "add `u-cleo` to the team of `p-lon-website`",
        ),
        (
            Edit::AddToGroup { user: s("u-cleo"), group: s("g-emea-pm") },
            json!({"edit": "add_to_group", "user": "u-cleo", "group": "g-emea-pm"}),
            "make `u-cleo` a member of group `g-emea-pm`",
        ),
        (
            Edit::AddAdditionalOffice { user: s("u-cleo"), office: s("o-par") },
            json!({"edit": "add_additional_office", "user": "u-cleo", "office": "o-par"}),
            "give `u-cleo` office `o-par` as an additional office",
        ),
        (
            Edit::ShareWithOffice {
                agreement: s("a-u-henry-o-lon"),
                user: s("u-henry"),
                guest_office: s("o-nyc"),
                host_office: s("o-lon"),
                profile: s("client"),
            },
            json!({"edit": "share_with_office", "agreement": "a-u-henry-o-lon", "user": "u-henry",
                   "guest_office": "o-nyc", "host_office": "o-lon", "profile": "client"}),
            "an agreement sharing `u-henry` (of office `o-nyc`) with office `o-lon` as `client`",
        ),
        (
            Edit::SetAccess { user: s("u-cleo"), access: AccessLevel::InviteOnly },
            json!({"edit": "set_access", "user": "u-cleo", "access": "invite_only"}),
            "set `u-cleo`'s access level to invite_only",
        ),
        (
            Edit::RaiseRole { user: s("u-cleo"), role: Role::Manager },
            json!({"edit": "raise_role", "user": "u-cleo", "role": "manager"}),
            "raise `u-cleo`'s role to manager",
        ),
        (
            Edit::OverrideOn { office: s("o-lon"), profile: s("client"), permission: s("task.create") },
            json!({"edit": "override_on", "office": "o-lon", "profile": "client", "permission": "task.create"}),
            "switch office `o-lon`'s override of `task.create` for `client` on",
        ),
        (
            Edit::AnnouncementsOn { network: s("n-amer") },
            json!({"edit": "announcements_on", "network": "n-amer"}),
            "switch announcements on in network `n-amer`",
        ),
        (
            Edit::DefaultOn { network: s("n-emea"), profile: s("client"), permission: s("task.create") },
            json!({"edit": "default_on", "network": "n-emea", "profile": "client", "permission": "task.create"}),
            "add `task.create` to network `n-emea`'s defaults for `client`",
        ),
        (
            Edit::MakeNetworkSuperuser { user: s("u-cleo") },
            json!({"edit": "make_network_superuser", "user": "u-cleo"}),
            "make `u-cleo` a superuser of their network",
        ),
        (
            Edit::MakeSystemSuperuser { user: s("u-cleo") },
            json!({"edit": "make_system_superuser", "user": "u-cleo"}),
            "make `u-cleo` a system superuser",
        ),
        (
            Edit::DeactivateUser { user: s("u-cleo") },
            json!({"edit": "deactivate_user", "user": "u-cleo"}),
            "make `u-cleo` inactive",
        ),
        (
            Edit::RemoveFromTeam { user: s("u-cleo"), project: s("p-rebrand") },
            json!({"edit": "remove_from_team", "user": "u-cleo", "project": "p-rebrand"}),
            "remove `u-cleo` from the team of `p-rebrand`",
        ),
        (
            Edit::RemoveFromGroup { user: s("u-cleo"), group: s("g-lon-design") },
            json!({"edit": "remove_from_group", "user": "u-cleo", "group": "g-lon-design"}),
            "remove `u-cleo` from group `g-lon-design`",
        ),
        (
            Edit::RemoveAdditionalOffice { user: s("u-maya"), office: s("o-par") },
            json!({"edit": "remove_additional_office", "user": "u-maya", "office": "o-par"}),
            "take office `o-par` from `u-maya`'s additional offices",
        ),
        (
            Edit::EndAgreement { agreement: s("a-lon-nyc") },
            json!({"edit": "end_agreement", "agreement": "a-lon-nyc"}),
            "end agreement `a-lon-nyc`",
        ),
        (
            Edit::LowerRole { user: s("u-ellen"), role: Role::User },
            json!({"edit": "lower_role", "user": "u-ellen", "role": "user"}),
            "lower `u-ellen`'s role to user",
        ),
        (
            Edit::OverrideOff {
                office: s("o-lon"),
                profile: s("general_user"),
                permission: s("wiki.manage"),
            },
            json!({"edit": "override_off", "office": "o-lon", "profile": "general_user", "permission": "wiki.manage"}),
            "switch office `o-lon`'s override of `wiki.manage` for `general_user` off",
        ),
        (
            Edit::ClearOverride {
                office: s("o-lon"),
                profile: s("general_user"),
                permission: s("wiki.manage"),
            },
            json!({"edit": "clear_override", "office": "o-lon", "profile": "general_user", "permission": "wiki.manage"}),
            "remove office `o-lon`'s override of `wiki.manage` for `general_user`",
        ),
        (
            Edit::AnnouncementsOff { network: s("n-emea") },
            json!({"edit": "announcements_off", "network": "n-emea"}),
            "switch announcements off in network `n-emea`",
        ),
        (
            Edit::DefaultOff { network: s("n-emea"), profile: s("client"), permission: s("file.upload") },
            json!({"edit": "default_off", "network": "n-emea", "profile": "client", "permission": "file.upload"}),
            "remove `file.upload` from network `n-emea`'s defaults for `client`",
        ),
        (
            Edit::RevokeNetworkSuperuser { user: s("u-nina") },
            json!({"edit": "revoke_network_superuser", "user": "u-nina"}),
            "make `u-nina` no longer a superuser of their network",
        ),
        (
            Edit::RevokeSystemSuperuser { user: s("u-sam") },
            json!({"edit": "revoke_system_superuser", "user": "u-sam"}),
            "make `u-sam` no longer a system superuser",
        ),
        (
            Edit::CreateProject { project: s("p-new"), name: s("New"), creator: s("u-ada") },
            json!({"edit": "create_project", "project": "p-new", "name": "New", "creator": "u-ada"}),
            "`u-ada` creates project `p-new`, named `New`",
        ),
        (
            Edit::CreateGroup { group: s("g-new"), owner: s("u-ada"), members: vec![s("u-cleo")] },
            json!({"edit": "create_group", "group": "g-new", "owner": "u-ada", "members": ["u-cleo"]}),
            "`u-ada` creates group `g-new` with 1 other members",
        ),
        (
            Edit::StartDm { dm: s("d-new"), from: s("u-ada"), with: s("u-maya") },
            json!({"edit": "start_dm", "dm": "d-new", "from": "u-ada", "with": "u-maya"}),
            "`u-ada` starts direct message `d-new` with `u-maya`",
        ),
    ]
}

/// The kind of an edit, as its JSON spells it. No wildcard: a new kind of edit does not
/// compile here until it is named, and [`every_edit`] must then show it.
fn kind(edit: &Edit) -> &'static str {
    match edit {
        Edit::ActivateUser { .. } => "activate_user",
        Edit::AddToTeam { .. } => "add_to_team",
        Edit::AddToGroup { .. } => "add_to_group",
        Edit::AddAdditionalOffice { .. } => "add_additional_office",
        Edit::ShareWithOffice { .. } => "share_with_office",
        Edit::SetAccess { .. } => "set_access",
        Edit::RaiseRole { .. } => "raise_role",
        Edit::OverrideOn { .. } => "override_on",
        Edit::AnnouncementsOn { .. } => "announcements_on",
        Edit::DefaultOn { .. } => "default_on",
        Edit::MakeNetworkSuperuser { .. } => "make_network_superuser",
        Edit::MakeSystemSuperuser { .. } => "make_system_superuser",
        Edit::DeactivateUser { .. } => "deactivate_user",
        Edit::RemoveFromTeam { .. } => "remove_from_team",
        Edit::RemoveFromGroup { .. } => "remove_from_group",
        Edit::RemoveAdditionalOffice { .. } => "remove_additional_office",
        Edit::EndAgreement { .. } => "end_agreement",
        Edit::LowerRole { .. } => "lower_role",
        Edit::OverrideOff { .. } => "override_off",
        Edit::ClearOverride { .. } => "clear_override",
        Edit::AnnouncementsOff { .. } => "announcements_off",
        Edit::DefaultOff { .. } => "default_off",
        Edit::RevokeNetworkSuperuser { .. } => "revoke_network_superuser",
        Edit::RevokeSystemSuperuser { .. } => "revoke_system_superuser",
        Edit::CreateProject { .. } => "create_project",
        Edit::CreateGroup { .. } => "create_group",
        Edit::StartDm { .. } => "start_dm",
    }
}

#[test]
fn every_edit_has_its_documented_json_and_sentence() {
    let edits = every_edit();
    let kinds: BTreeSet<&str> = edits.iter().map(|(edit, _, _)| kind(edit)).collect();
    assert_eq!(kinds.len(), 27, "every kind of edit, once");
    assert_eq!(kinds.len(), edits.len());
    for (edit, shape, sentence) in &edits {
        assert_eq!(serde_json::to_value(edit).unwrap(), *shape, "{edit:?}");
        assert_eq!(serde_json::from_value::<Edit>(shape.clone()).unwrap(), *edit);
        assert_eq!(shape["edit"], kind(edit));
        assert_eq!(edit.to_string(), *sentence);
        let mut extra = shape.clone();
        extra["extra"] = json!(1);
        assert!(serde_json::from_value::<Edit>(extra).is_err(), "{edit:?}: an unknown field is refused");
    }
    assert!(serde_json::from_value::<Edit>(json!({"edit": "rename_user", "user": "u-cleo"})).is_err());
    assert!(serde_json::from_value::<Edit>(json!({"edit": "end_agreement"})).is_err());
}

/// Every edit of `org` worth undoing, each with the edit that undoes it: the first changes
/// `org` and keeps it valid, the second gives it back.
fn with_inverses(org: &Org) -> Vec<(Edit, Edit)> {
    let policy = Policy::new(org).unwrap();
    let network_of = |office: &str| org.offices.iter().find(|o| o.id == office).unwrap().network.clone();
    let mut pairs = Vec::new();
    for user in &org.users {
        let u = || user.id.clone();
        pairs.push(if user.active {
            (Edit::DeactivateUser { user: u() }, Edit::ActivateUser { user: u() })
        } else {
            (Edit::ActivateUser { user: u() }, Edit::DeactivateUser { user: u() })
        });
        for access in [AccessLevel::AllInOffice, AccessLevel::InviteOnly, AccessLevel::NetworkAdmin] {
            if access != user.access {
                pairs.push((
                    Edit::SetAccess { user: u(), access },
                    Edit::SetAccess { user: u(), access: user.access },
                ));
            }
        }
        for role in [Role::User, Role::Manager, Role::Admin] {
            if role > user.role {
                pairs.push((
                    Edit::RaiseRole { user: u(), role },
                    Edit::LowerRole { user: u(), role: user.role },
                ));
            } else if role < user.role {
                pairs.push((
                    Edit::LowerRole { user: u(), role },
                    Edit::RaiseRole { user: u(), role: user.role },
                ));
            }
        }
        pairs.push(if user.network_superuser {
            (Edit::RevokeNetworkSuperuser { user: u() }, Edit::MakeNetworkSuperuser { user: u() })
        } else {
            (Edit::MakeNetworkSuperuser { user: u() }, Edit::RevokeNetworkSuperuser { user: u() })
        });
        pairs.push(if user.system_superuser {
            (Edit::RevokeSystemSuperuser { user: u() }, Edit::MakeSystemSuperuser { user: u() })
        } else {
            (Edit::MakeSystemSuperuser { user: u() }, Edit::RevokeSystemSuperuser { user: u() })
        });
        for project in org.projects.iter().filter(|p| !p.team.contains(&user.id)) {
            pairs.push((
                Edit::AddToTeam { user: u(), project: project.id.clone() },
                Edit::RemoveFromTeam { user: u(), project: project.id.clone() },
            ));
        }
        let network = network_of(&user.home_office);
        for group in org.groups.iter().filter(|g| g.network == network && !g.members.contains(&user.id)) {
            pairs.push((
                Edit::AddToGroup { user: u(), group: group.id.clone() },
                Edit::RemoveFromGroup { user: u(), group: group.id.clone() },
            ));
        }
        for office in &org.offices {
            if office.network == network {
                if office.id != user.home_office && !user.additional_offices.contains(&office.id) {
                    pairs.push((
                        Edit::AddAdditionalOffice { user: u(), office: office.id.clone() },
                        Edit::RemoveAdditionalOffice { user: u(), office: office.id.clone() },
                    ));
                }
            } else {
                let agreement = format!("a-new-{}-{}", user.id, office.id);
                pairs.push((
                    Edit::ShareWithOffice {
                        agreement: agreement.clone(),
                        user: u(),
                        guest_office: user.home_office.clone(),
                        host_office: office.id.clone(),
                        profile: s("general_user"),
                    },
                    Edit::EndAgreement { agreement },
                ));
            }
        }
    }
    let permissions: Vec<&str> = policy.profile_permissions().collect();
    for network in &org.networks {
        let id = || network.id.clone();
        pairs.push(if network.features.announcements {
            (Edit::AnnouncementsOff { network: id() }, Edit::AnnouncementsOn { network: id() })
        } else {
            (Edit::AnnouncementsOn { network: id() }, Edit::AnnouncementsOff { network: id() })
        });
        let profiles: BTreeSet<&str> =
            DEFAULT_PROFILES.into_iter().chain(network.defaults.keys().map(String::as_str)).collect();
        // A profile the defaults do not name gets an entry from `default_on`, which
        // `default_off` leaves (empty): the pair is undone on named profiles only.
        for (profile, keys) in &network.defaults {
            for &permission in &permissions {
                if !keys.iter().any(|k| k == permission) {
                    pairs.push((
                        Edit::DefaultOn { network: id(), profile: s(profile), permission: s(permission) },
                        Edit::DefaultOff { network: id(), profile: s(profile), permission: s(permission) },
                    ));
                }
            }
        }
        for office in org.offices.iter().filter(|o| o.network == network.id) {
            for &profile in &profiles {
                for &permission in &permissions {
                    let cell = || (office.id.clone(), s(profile), s(permission));
                    let on = || {
                        let (office, profile, permission) = cell();
                        Edit::OverrideOn { office, profile, permission }
                    };
                    let off = || {
                        let (office, profile, permission) = cell();
                        Edit::OverrideOff { office, profile, permission }
                    };
                    let clear = || {
                        let (office, profile, permission) = cell();
                        Edit::ClearOverride { office, profile, permission }
                    };
                    let switches = office.overrides.get(profile);
                    match switches.and_then(|switches| switches.get(permission)) {
                        // `clear_override` drops a profile's map once empty, one written
                        // empty too.
                        None if switches.is_some_and(|switches| switches.is_empty()) => {}
                        None => {
                            pairs.push((on(), clear()));
                            pairs.push((off(), clear()));
                        }
                        Some(true) => pairs.push((off(), on())),
                        Some(false) => pairs.push((on(), off())),
                    }
                }
            }
        }
    }
    pairs
}

fn check_inverses(org: &Org) -> Result<usize, TestCaseError> {
    let pairs = with_inverses(org);
    for (edit, inverse) in &pairs {
        let mut edited = org.clone();
        edit.apply(&mut edited);
        prop_assert_ne!(&edited, org, "`{}` changes nothing", edit);
        let valid = Policy::new(&edited);
        prop_assert!(valid.is_ok(), "`{}`: {}", edit, valid.err().unwrap());
        inverse.apply(&mut edited);
        prop_assert_eq!(&edited, org, "`{}`, then `{}`", edit, inverse);
    }
    Ok(pairs.len())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Every edit has an inverse: the edit, then its inverse, gives back the organisation.
    #[test]
    fn every_edit_is_undone_by_its_inverse(org in arb_org()) {
        check_inverses(&org)?;
    }
}

#[test]
fn every_edit_is_undone_by_its_inverse_on_the_demo_organisation() {
    let checked = check_inverses(&demo_org()).unwrap();
    assert!(checked > 500, "only {checked} pairs");
}

#[test]
fn an_edit_naming_what_the_organisation_lacks_changes_nothing() {
    let org = demo_org();
    for (edit, shape, _) in every_edit() {
        if kind(&edit) == "share_with_office" {
            // It adds an Agreement whatever it names; validation refuses one that names nothing.
            continue;
        }
        let mut shape = shape.as_object().unwrap().clone();
        for (field, value) in &mut shape {
            if field == "members" {
                *value = json!(["nothing-of-that-name"]);
            } else if !["edit", "access", "role"].contains(&field.as_str()) {
                *value = json!("nothing-of-that-name");
            }
        }
        let edit: Edit = serde_json::from_value(Value::Object(shape)).unwrap();
        let mut edited = org.clone();
        edit.apply(&mut edited);
        assert_eq!(edited, org, "`{edit}`");
    }
}

#[test]
fn taking_away_keeps_the_organisation_valid() {
    let org = demo_org();
    let apply = |edit: Edit| {
        let mut edited = org.clone();
        edit.apply(&mut edited);
        Policy::new(&edited).unwrap();
        edited
    };
    // The creator off the team: the Project keeps no creator (one must be on the team).
    let edited = apply(Edit::RemoveFromTeam { user: s("u-ada"), project: s("p-rebrand") });
    let project = edited.projects.iter().find(|p| p.id == "p-rebrand").unwrap();
    assert!(!project.team.contains(&s("u-ada")) && project.created_by.is_none());
    // An owner out of a group: neither member nor owner.
    let edited = apply(Edit::RemoveFromGroup { user: s("u-ada"), group: s("g-lon-design") });
    let group = edited.groups.iter().find(|g| g.id == "g-lon-design").unwrap();
    assert!(!group.members.contains(&s("u-ada")) && !group.owners.contains(&s("u-ada")));
    // The last override of a profile cleared: its map goes too.
    let edited = apply(Edit::ClearOverride {
        office: s("o-par"),
        profile: s("project_manager"),
        permission: s("finance.view"),
    });
    assert!(edited.offices.iter().find(|o| o.id == "o-par").unwrap().overrides.is_empty());
    // A custom profile's last default taken away: the profile stays known to its Network.
    let mut edited = org.clone();
    for permission in ["reports.view", "finance.view", "invoice.approve"] {
        Edit::DefaultOff { network: s("n-amer"), profile: s("auditor"), permission: s(permission) }
            .apply(&mut edited);
    }
    let amer = edited.networks.iter().find(|n| n.id == "n-amer").unwrap();
    assert_eq!(amer.defaults["auditor"], Vec::<String>::new());
    Policy::new(&edited).unwrap();
    // A default profile's entry stays too; one the defaults did not name is added by
    // `default_on` and left empty by `default_off`.
    let mut edited = small_org();
    let (on, off) = (
        Edit::DefaultOn { network: s("n-emea"), profile: s("client"), permission: s("task.create") },
        Edit::DefaultOff { network: s("n-emea"), profile: s("client"), permission: s("task.create") },
    );
    on.apply(&mut edited);
    off.apply(&mut edited);
    assert_eq!(edited.networks[0].defaults["client"], Vec::<String>::new());
    // Lowering never raises.
    let edited = apply(Edit::LowerRole { user: s("u-cleo"), role: Role::Admin });
    assert_eq!(edited, org);
}

#[test]
fn ending_an_agreement_a_conversation_rests_on_is_refused_by_validation() {
    let mut org = small_org();
    org.direct_messages = serde_json::from_value(json!([
        {"id": "d-ada-bob", "participants": ["u-ada", "u-bob"], "started_by": "u-bob"}
    ]))
    .unwrap();
    Policy::new(&org).unwrap();
    Edit::EndAgreement { agreement: s("a-1") }.apply(&mut org);
    assert!(org.agreements.is_empty());
    let errors = Policy::new(&org).unwrap_err();
    assert!(errors.to_string().contains("d-ada-bob"), "{errors}");
}

// ---- Who may make an edit --------------------------------------------------------------------

/// Every edit of London (`o-lon`, in `n-emea`) and its people, with the question that decides
/// who may make it.
fn london_edits() -> Vec<(Edit, Query)> {
    let office = |permission: &str| Query::can(permission, Target::office("o-lon"));
    let user_manage = || office("user.manage");
    vec![
        (
            Edit::OverrideOn { office: s("o-lon"), profile: s("client"), permission: s("task.create") },
            office("overrides.edit"),
        ),
        (
            Edit::OverrideOff { office: s("o-lon"), profile: s("vendor"), permission: s("wiki.manage") },
            office("overrides.edit"),
        ),
        (
            Edit::ClearOverride { office: s("o-lon"), profile: s("vendor"), permission: s("wiki.manage") },
            office("overrides.edit"),
        ),
        (Edit::AddToTeam { user: s("u-cleo"), project: s("p-lon-website") }, office("project.manage")),
        // The team of a London Project, whoever the member: Bob is of New York.
        (Edit::RemoveFromTeam { user: s("u-bob"), project: s("p-lon-website") }, office("project.manage")),
        (Edit::AddToGroup { user: s("u-cleo"), group: s("g-emea-pm") }, user_manage()),
        (Edit::RemoveFromGroup { user: s("u-cleo"), group: s("g-lon-design") }, user_manage()),
        (Edit::AddAdditionalOffice { user: s("u-cleo"), office: s("o-ber") }, user_manage()),
        (Edit::RemoveAdditionalOffice { user: s("u-maya"), office: s("o-par") }, user_manage()),
        (Edit::SetAccess { user: s("u-cleo"), access: AccessLevel::NetworkAdmin }, user_manage()),
        (Edit::RaiseRole { user: s("u-cleo"), role: Role::Admin }, user_manage()),
        (Edit::LowerRole { user: s("u-ellen"), role: Role::User }, user_manage()),
        (Edit::ActivateUser { user: s("u-tom") }, user_manage()),
        (Edit::DeactivateUser { user: s("u-cleo") }, user_manage()),
        (Edit::MakeNetworkSuperuser { user: s("u-cleo") }, user_manage()),
        (Edit::RevokeNetworkSuperuser { user: s("u-cleo") }, user_manage()),
        (
            Edit::ShareWithOffice {
                agreement: s("a-u-henry-o-lon"),
                user: s("u-henry"),
                guest_office: s("o-nyc"),
                host_office: s("o-lon"),
                profile: s("client"),
            },
            office("office.manage"),
        ),
        (Edit::EndAgreement { agreement: s("a-lon-nyc") }, office("office.manage")),
    ]
}

/// Every edit of the system's settings, with its question.
fn system_edits() -> Vec<(Edit, Query)> {
    let defaults = |network: &str| Query::can("defaults.edit", Target::network(network));
    let network_manage = || Query::can("network.manage", Target::none());
    vec![
        (
            Edit::DefaultOn { network: s("n-amer"), profile: s("auditor"), permission: s("wiki.manage") },
            defaults("n-amer"),
        ),
        (
            Edit::DefaultOff { network: s("n-emea"), profile: s("client"), permission: s("file.upload") },
            defaults("n-emea"),
        ),
        (Edit::AnnouncementsOn { network: s("n-amer") }, network_manage()),
        (Edit::AnnouncementsOff { network: s("n-emea") }, network_manage()),
        (Edit::MakeSystemSuperuser { user: s("u-iris") }, network_manage()),
        (Edit::RevokeSystemSuperuser { user: s("u-sam") }, network_manage()),
    ]
}

#[test]
fn every_kind_of_edit_has_its_question() {
    let kinds: BTreeSet<&str> =
        london_edits().iter().chain(&system_edits()).map(|(edit, _)| kind(edit)).collect();
    assert_eq!(kinds.len(), 24, "every kind of edit, once at least");
    let policy = Policy::new(&demo_org()).unwrap();
    for (edit, question) in london_edits().into_iter().chain(system_edits()) {
        assert_eq!(edit.authority(&policy), Ok(question), "{edit}");
        // And every one of them applies to a valid organisation.
        let mut edited = demo_org();
        edit.apply(&mut edited);
        assert!(Policy::new(&edited).is_ok(), "{edit}");
    }
}

/// `caller`'s decision on each edit.
fn decisions(policy: &Policy, caller: &str, edits: &[(Edit, Query)]) -> Vec<(String, Code)> {
    edits
        .iter()
        .map(|(edit, _)| (edit.to_string(), policy.authorize(caller, edit, now()).unwrap().code))
        .collect()
}

fn all(edits: &[(Edit, Query)], code: Code) -> Vec<(String, Code)> {
    edits.iter().map(|(edit, _)| (edit.to_string(), code)).collect()
}

#[test]
fn network_admins_and_superusers_may_edit_their_network_only() {
    let policy = Policy::new(&demo_org()).unwrap();
    let (london, system) = (london_edits(), system_edits());
    // Ellen: London, `network_admin` of n-emea. Nina: Paris, superuser of n-emea.
    assert_eq!(decisions(&policy, "u-ellen", &london), all(&london, Code::NetworkAdmin));
    assert_eq!(decisions(&policy, "u-nina", &london), all(&london, Code::NetworkSuperuser));
    // Iris is `network_admin` of n-amer: London is behind the firewall. Bob is shared into
    // London by an Agreement: he sees it, but is no administrator of n-emea.
    assert_eq!(decisions(&policy, "u-iris", &london), all(&london, Code::Firewall));
    assert_eq!(decisions(&policy, "u-bob", &london), all(&london, Code::NotNetworkAdmin));
    // Cleo is a plain user; Sam, a system superuser, is no administrator of Offices either.
    assert_eq!(decisions(&policy, "u-cleo", &london), all(&london, Code::NotNetworkAdmin));
    assert_eq!(decisions(&policy, "u-sam", &london), all(&london, Code::NotNetworkAdmin));
    // The system's settings are for system superusers, of every Network.
    assert_eq!(decisions(&policy, "u-sam", &system), all(&system, Code::SystemSuperuser));
    for caller in ["u-ellen", "u-nina", "u-iris", "u-cleo"] {
        assert_eq!(decisions(&policy, caller, &system), all(&system, Code::NotSystemSuperuser), "{caller}");
    }
    // Paulo's Agreement into Singapore has expired.
    let singapore =
        Edit::OverrideOn { office: s("o-sin"), profile: s("client"), permission: s("task.create") };
    assert_eq!(policy.authorize("u-paulo", &singapore, now()).unwrap().code, Code::AgreementExpired);
    // A caller the policy lacks is a denial, as for any question.
    let decision = policy.authorize("u-nobody", &london[0].0, now()).unwrap();
    assert_eq!(decision.code, Code::UnknownUser);
    // The decision is the evaluator's, explained.
    let decision = policy.authorize("u-ellen", &london[0].0, now()).unwrap();
    assert_eq!(decision, policy.decide("u-ellen", &london[0].1, now()));
    assert!(decision.message.contains("network admin"), "{}", decision.message);
}

#[test]
fn an_edit_naming_what_the_policy_lacks_is_refused() {
    let policy = Policy::new(&demo_org()).unwrap();
    let unknown = |kind: &'static str, id: &str| UnknownId { kind, id: s(id) };
    let share = |user: &str, guest: &str, host: &str, profile: &str| Edit::ShareWithOffice {
        agreement: s("a-new"),
        user: s(user),
        guest_office: s(guest),
        host_office: s(host),
        profile: s(profile),
    };
    let cases = [
        (Edit::ActivateUser { user: s("u-nobody") }, unknown("user", "u-nobody")),
        (
            Edit::SetAccess { user: s("u-nobody"), access: AccessLevel::InviteOnly },
            unknown("user", "u-nobody"),
        ),
        (Edit::RevokeSystemSuperuser { user: s("u-nobody") }, unknown("user", "u-nobody")),
        (Edit::AddToTeam { user: s("u-nobody"), project: s("p-nowhere") }, unknown("user", "u-nobody")),
        (Edit::AddToTeam { user: s("u-cleo"), project: s("p-nowhere") }, unknown("project", "p-nowhere")),
        (Edit::RemoveFromGroup { user: s("u-cleo"), group: s("g-none") }, unknown("group", "g-none")),
        // A group, an additional Office of another Network than the user's: none of theirs.
        (Edit::AddToGroup { user: s("u-cleo"), group: s("g-amer-sales") }, unknown("group", "g-amer-sales")),
        (
            Edit::RemoveFromGroup { user: s("u-bob"), group: s("g-lon-design") },
            unknown("group", "g-lon-design"),
        ),
        (Edit::AddAdditionalOffice { user: s("u-cleo"), office: s("o-nyc") }, unknown("office", "o-nyc")),
        (Edit::RemoveAdditionalOffice { user: s("u-cleo"), office: s("o-x") }, unknown("office", "o-x")),
        (share("u-nobody", "o-nyc", "o-lon", "client"), unknown("user", "u-nobody")),
        (share("u-henry", "o-x", "o-lon", "client"), unknown("office", "o-x")),
        (share("u-henry", "o-nyc", "o-x", "client"), unknown("office", "o-x")),
        // `auditor` is a profile of n-amer, not of London's n-emea.
        (share("u-henry", "o-nyc", "o-lon", "auditor"), unknown("profile", "auditor")),
        (Edit::EndAgreement { agreement: s("a-none") }, unknown("agreement", "a-none")),
        (
            Edit::OverrideOn { office: s("o-x"), profile: s("client"), permission: s("task.create") },
            unknown("office", "o-x"),
        ),
        (
            Edit::OverrideOff { office: s("o-lon"), profile: s("auditor"), permission: s("task.create") },
            unknown("profile", "auditor"),
        ),
        (
            Edit::ClearOverride { office: s("o-lon"), profile: s("client"), permission: s("task.delete") },
            unknown("permission", "task.delete"),
        ),
        // A role or administrative key is no profile permission.
        (
            Edit::OverrideOn { office: s("o-lon"), profile: s("client"), permission: s("user.manage") },
            unknown("permission", "user.manage"),
        ),
        (
            Edit::DefaultOn { network: s("n-x"), profile: s("client"), permission: s("task.create") },
            unknown("network", "n-x"),
        ),
        (
            Edit::DefaultOn { network: s("n-emea"), profile: s("auditor"), permission: s("task.create") },
            unknown("profile", "auditor"),
        ),
        (
            Edit::DefaultOff { network: s("n-amer"), profile: s("auditor"), permission: s("dm.start") },
            unknown("permission", "dm.start"),
        ),
        (Edit::AnnouncementsOff { network: s("n-x") }, unknown("network", "n-x")),
    ];
    for (edit, error) in cases {
        assert_eq!(edit.authority(&policy), Err(error.clone()), "{edit}");
        assert_eq!(policy.authorize("u-sam", &edit, now()), Err(error), "{edit}");
    }
    assert_eq!(unknown("profile", "auditor").to_string(), "unknown profile `auditor`");
    // Known elsewhere, known here: `auditor` and `invoice.approve` in a New York override;
    // a permission only an Office names.
    for edit in [
        Edit::OverrideOn { office: s("o-nyc"), profile: s("auditor"), permission: s("invoice.approve") },
        Edit::DefaultOn { network: s("n-emea"), profile: s("client"), permission: s("invoice.approve") },
    ] {
        assert!(edit.authority(&policy).is_ok(), "{edit}");
    }
    // The new Agreement's id may be taken: `apply` gives it another.
    let taken = Edit::ShareWithOffice {
        agreement: s("a-lon-nyc"),
        user: s("u-henry"),
        guest_office: s("o-nyc"),
        host_office: s("o-lon"),
        profile: s("client"),
    };
    assert_eq!(taken.authority(&policy), Ok(Query::can("office.manage", Target::office("o-lon"))));
    let mut edited = demo_org();
    taken.apply(&mut edited);
    assert_eq!(edited.agreements.last().unwrap().id, "a-lon-nyc-2");
    Policy::new(&edited).unwrap();
}

/// A user's own actions (issue 22): made by the user who acts, decided by the action's own
/// permission, applied as a new Project, group or conversation; anyone else is refused
/// `out_of_scope`, an administrator too.
#[test]
fn a_users_own_actions_are_theirs_alone_and_decided_by_their_permission() {
    let org = demo_org();
    let policy = Policy::new(&org).unwrap();
    let now = now();
    let create =
        |creator: &str| Edit::CreateProject { project: s("p-new"), name: s("New"), creator: s(creator) };
    for (user, edit) in [
        ("u-ada", create("u-ada")),
        ("u-cleo", create("u-cleo")),
        ("u-ada", Edit::CreateGroup { group: s("g-new"), owner: s("u-ada"), members: vec![s("u-cleo")] }),
        ("u-ada", Edit::StartDm { dm: s("d-new"), from: s("u-ada"), with: s("u-maya") }),
    ] {
        let query = edit.authority(&policy).unwrap();
        let decision = policy.authorize(user, &edit, now).unwrap();
        assert_eq!(decision, policy.decide(user, &query, now), "{edit}");
        assert_eq!(edit.actor(), Some(user));
    }
    // Someone else, however powerful, cannot act for the creator.
    let refused = policy.authorize("u-sam", &create("u-ada"), now).unwrap();
    assert!(!refused.allowed);
    assert_eq!(refused.code.as_str(), "out_of_scope");
    assert_eq!(Edit::ActivateUser { user: s("u-ada") }.actor(), None);
    // Members of another Network are unknown to the owner's group, as for `add_to_group`.
    let across = Edit::CreateGroup { group: s("g-x"), owner: s("u-ada"), members: vec![s("u-bob")] };
    assert_eq!(across.authority(&policy).unwrap_err().id, "u-bob");

    let mut edited = org.clone();
    create("u-ada").apply(&mut edited);
    Edit::CreateGroup { group: s("g-new"), owner: s("u-ada"), members: vec![s("u-cleo"), s("u-ada")] }
        .apply(&mut edited);
    Edit::StartDm { dm: s("d-new"), from: s("u-ada"), with: s("u-maya") }.apply(&mut edited);
    let after = Policy::new(&edited).unwrap();
    let project = edited.projects.iter().find(|p| p.id == "p-new").unwrap();
    assert_eq!((project.office.as_str(), project.team.clone()), ("o-lon", vec![s("u-ada")]));
    let group = edited.groups.iter().find(|g| g.id == "g-new").unwrap();
    assert_eq!(
        (group.members.clone(), group.owners.clone()),
        (vec![s("u-ada"), s("u-cleo")], vec![s("u-ada")])
    );
    assert!(after.allows("u-ada", &Query::view(ResourceKind::Project, "p-new"), now));
    assert!(after.allows("u-maya", &Query::can("dm.reply", Target::dm("d-new")), now));
    // A taken id changes nothing.
    let before = edited.clone();
    create("u-cleo").apply(&mut edited);
    assert_eq!(edited, before);
}
