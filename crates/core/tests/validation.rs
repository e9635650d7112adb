//! Validation: each problem is found, named by entity, id and field, and all are reported.

use serde_json::{Value, json};
use tessera_core::{Org, Policy, ValidationErrorKind};

use crate::support::small_org;

/// The problems found after `change` is applied to the small organisation.
fn problems(change: impl FnOnce(&mut Value)) -> Vec<(String, String, String, ValidationErrorKind)> {
    let mut value = serde_json::to_value(small_org()).unwrap();
    change(&mut value);
    let org: Org = serde_json::from_value(value).unwrap();
    match Policy::new(&org) {
        Ok(_) => Vec::new(),
        Err(errors) => errors
            .errors()
            .iter()
            .map(|e| (e.entity.to_owned(), e.id.clone(), e.field.clone(), e.kind.clone()))
            .collect(),
    }
}

fn one(change: impl FnOnce(&mut Value)) -> (String, String, String, ValidationErrorKind) {
    let found = problems(change);
    assert_eq!(found.len(), 1, "{found:?}");
    found.into_iter().next().unwrap()
}

#[test]
fn the_small_organisation_is_valid() {
    assert!(problems(|_| {}).is_empty());
}

#[test]
fn each_problem_names_its_place() {
    // Renaming Bob to Ada also leaves Bob's places dangling: each is reported.
    let found = problems(|v| v["users"][1]["id"] = json!("u-ada"));
    let (entity, id, field, kind) = found[0].clone();
    assert_eq!(
        (entity.as_str(), id.as_str(), field.as_str(), kind),
        ("users", "u-ada", "id", ValidationErrorKind::DuplicateId)
    );
    assert_eq!(found.len(), 3, "{found:?}");

    let (_, id, field, kind) = one(|v| v["projects"][0]["office"] = json!("o-mars"));
    assert_eq!((id.as_str(), field.as_str()), ("p-rebrand", "office"));
    assert_eq!(kind, ValidationErrorKind::Dangling { expected: "office", id: "o-mars".into() });

    let (_, id, field, kind) = one(|v| v["users"][0]["additional_offices"] = json!(["o-nyc"]));
    assert_eq!((id.as_str(), field.as_str()), ("u-ada", "additional_offices"));
    assert!(matches!(kind, ValidationErrorKind::WrongNetwork { .. }), "{kind:?}");

    let (_, _, _, kind) = one(|v| v["users"][0]["profile"] = json!("wizard"));
    assert!(matches!(kind, ValidationErrorKind::UnknownProfile { .. }), "{kind:?}");

    let (_, _, field, kind) = one(|v| v["networks"][0]["messaging"] = json!({ "dm.start": "none" }));
    assert_eq!(field, "messaging.dm.start");
    assert_eq!(kind, ValidationErrorKind::ThresholdAboveAdmin { key: "dm.start".into() });

    let (_, _, _, kind) = one(|v| v["networks"][0]["messaging"] = json!({ "dm.reply": "user" }));
    assert!(matches!(kind, ValidationErrorKind::UnknownMessagingKey { .. }), "{kind:?}");

    let (_, _, _, kind) = one(|v| v["networks"][0]["defaults"]["vendor"] = json!(["group.create"]));
    assert!(matches!(kind, ValidationErrorKind::BadPermissionKey { .. }), "{kind:?}");

    let (_, _, _, kind) = one(|v| v["offices"][0]["overrides"] = json!({ "client": { "Bad Key": true } }));
    assert!(matches!(kind, ValidationErrorKind::BadPermissionKey { .. }), "{kind:?}");

    let (_, _, _, kind) = one(|v| v["projects"][0]["created_by"] = json!("u-bob2"));
    assert!(matches!(kind, ValidationErrorKind::Dangling { .. }), "{kind:?}");

    let (_, _, _, kind) = one(|v| v["projects"][0]["team"] = json!(["u-bob"]));
    assert_eq!(kind, ValidationErrorKind::CreatorNotOnTeam { user: "u-ada".into() });

    let (_, _, _, kind) = one(|v| v["projects"][0]["team"] = json!(["u-ada", "u-bob", "u-ada"]));
    assert_eq!(kind, ValidationErrorKind::Repeated { id: "u-ada".into() });

    let (_, _, _, kind) = one(|v| {
        v["agreements"][0]["guest_office"] = json!("o-lon");
        v["agreements"][0]["users"] = json!(["u-ada"]);
    });
    assert_eq!(kind, ValidationErrorKind::SameNetwork { network: "n-emea".into() });

    let (_, _, _, kind) = one(|v| v["agreements"][0]["users"] = json!(["u-ada"]));
    assert!(matches!(kind, ValidationErrorKind::NotOfGuestOffice { .. }), "{kind:?}");

    let (_, _, _, kind) = one(|v| {
        v["groups"] = json!([{ "id": "g", "network": "n-emea", "members": ["u-bob"], "owners": [] }])
    });
    assert!(matches!(kind, ValidationErrorKind::WrongNetwork { .. }), "{kind:?}");

    let (_, _, _, kind) = one(|v| {
        v["groups"] = json!([{ "id": "g", "network": "n-emea", "members": ["u-ada"], "owners": ["u-bob"] }])
    });
    assert!(matches!(kind, ValidationErrorKind::OwnerNotMember { .. }), "{kind:?}");

    let (_, _, _, kind) = one(|v| {
        v["direct_messages"] = json!([{ "id": "d", "participants": ["u-ada"], "started_by": "u-ada" }])
    });
    assert_eq!(kind, ValidationErrorKind::Participants { count: 1 });

    let (_, _, _, kind) = one(|v| {
        v["direct_messages"] =
            json!([{ "id": "d", "participants": ["u-ada", "u-bob"], "started_by": "u-cy" }])
    });
    assert!(matches!(kind, ValidationErrorKind::StarterNotParticipant { .. }), "{kind:?}");

    let (_, _, _, kind) = one(|v| v["agreements"][0]["id"] = json!(""));
    assert_eq!(kind, ValidationErrorKind::EmptyId);
}

#[test]
fn an_office_in_two_networks_is_a_duplicate_id() {
    let (entity, id, _, kind) = one(|v| {
        v["offices"]
            .as_array_mut()
            .unwrap()
            .push(json!({ "id": "o-lon", "name": "London too", "network": "n-amer" }));
    });
    assert_eq!((entity.as_str(), id.as_str(), kind), ("offices", "o-lon", ValidationErrorKind::DuplicateId));
}

#[test]
fn every_problem_is_reported_at_once() {
    let found = problems(|v| {
        v["users"][0]["profile"] = json!("wizard");
        v["projects"][0]["office"] = json!("o-mars");
        v["networks"][0]["messaging"] = json!({ "announcement.org": "none" });
    });
    assert_eq!(found.len(), 3, "{found:?}");
}

#[test]
fn unknown_fields_and_defaults_follow_the_spec() {
    let mut value = serde_json::to_value(small_org()).unwrap();
    value["users"][0]["favourite_colour"] = json!("blue");
    let error = serde_json::from_value::<Org>(value).unwrap_err().to_string();
    assert!(error.contains("favourite_colour"), "{error}");

    let org: Org = serde_json::from_str(
        r#"{"networks":[{"id":"n","name":"N"}],"offices":[{"id":"o","name":"O","network":"n"}],
            "users":[{"id":"u","name":"U","home_office":"o","profile":"client"}],"projects":[]}"#,
    )
    .unwrap();
    let user = &org.users[0];
    assert_eq!(user.access, tessera_core::AccessLevel::AllInOffice);
    assert_eq!(user.role, tessera_core::Role::User);
    assert!(user.active && !user.system_superuser && !user.network_superuser);
    assert!(org.agreements.is_empty() && org.groups.is_empty() && org.direct_messages.is_empty());
    assert!(!org.networks[0].features.announcements);
}

#[test]
fn a_direct_message_crosses_the_firewall_only_where_an_agreement_linked_the_two() {
    // Bob (New York) is shared into London, Ada's home Office: they may talk.
    assert!(
        problems(|v| v["direct_messages"] =
            json!([{ "id": "d", "participants": ["u-ada", "u-bob"], "started_by": "u-bob" }]))
        .is_empty()
    );
    // Without the Agreement, they may not.
    let (_, _, _, kind) = one(|v| {
        v["agreements"] = json!([]);
        v["direct_messages"] =
            json!([{ "id": "d", "participants": ["u-ada", "u-bob"], "started_by": "u-bob" }]);
    });
    assert!(matches!(kind, ValidationErrorKind::AcrossTheFirewall { .. }), "{kind:?}");
}

#[test]
fn a_policy_says_one_thing_once() {
    let text = r#"{"networks":[{"id":"n","name":"N","defaults":{"client":["file.upload"],"client":[]}}],
                   "offices":[],"users":[],"projects":[]}"#;
    let error = serde_json::from_str::<Org>(text).unwrap_err().to_string();
    assert!(error.contains("duplicate key `client`"), "{error}");
    let text = r#"{"networks":[{"id":"n","name":"N"}],
                   "offices":[{"id":"o","name":"O","network":"n","overrides":{"client":{"file.upload":true,"file.upload":false}}}],
                   "users":[],"projects":[]}"#;
    let error = serde_json::from_str::<Org>(text).unwrap_err().to_string();
    assert!(error.contains("duplicate key `file.upload`"), "{error}");
    // Spec §7 gives teams, members and owners no default.
    let text = r#"{"networks":[],"offices":[],"users":[],"projects":[{"id":"p","name":"P","office":"o"}]}"#;
    let error = serde_json::from_str::<Org>(text).unwrap_err().to_string();
    assert!(error.contains("missing field `team`"), "{error}");
}
