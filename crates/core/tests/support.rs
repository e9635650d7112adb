//! Shared test support: a small fixed organisation, a generator of random valid ones, and every
//! query worth asking of an organisation.

use proptest::prelude::*;
use tessera_conformance::generated::RawUser;
pub use tessera_conformance::generated::{Raw, all_queries, build};
use tessera_core::{KNOWN_PROFILE_PERMISSIONS, Org, Timestamp};

/// The clock the generated organisations are decided at.
pub fn now() -> Timestamp {
    Timestamp::parse("2026-06-01T00:00:00Z").unwrap()
}

/// The demo organisation (`tests/demo/org.json`): three Networks, Agreements (one expired),
/// custom profiles and thresholds, groups and direct messages.
pub fn demo_org() -> Org {
    serde_json::from_str(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/demo/org.json")))
        .unwrap()
}

/// A small organisation with two Networks and an Agreement between them.
pub fn small_org() -> Org {
    serde_json::from_str(
        r#"{
          "networks": [
            { "id": "n-emea", "name": "EMEA",
              "defaults": { "project_manager": ["project.create", "task.create"], "vendor": ["file.upload"] },
              "features": { "announcements": true } },
            { "id": "n-amer", "name": "Americas" }
          ],
          "offices": [
            { "id": "o-lon", "name": "London", "network": "n-emea" },
            { "id": "o-nyc", "name": "New York", "network": "n-amer" }
          ],
          "users": [
            { "id": "u-ada", "name": "Ada", "home_office": "o-lon", "profile": "project_manager" },
            { "id": "u-bob", "name": "Bob", "home_office": "o-nyc", "profile": "general_user" }
          ],
          "projects": [
            { "id": "p-rebrand", "name": "Rebrand", "office": "o-lon", "team": ["u-ada", "u-bob"], "created_by": "u-ada" }
          ],
          "agreements": [
            { "id": "a-1", "host_office": "o-lon", "guest_office": "o-nyc", "users": ["u-bob"],
              "profile": "vendor", "expires_at": "2030-01-01T00:00:00Z" }
          ]
        }"#,
    )
    .unwrap()
}

fn raw_user() -> impl Strategy<Value = RawUser> {
    (
        any::<usize>(),
        prop::collection::vec(any::<usize>(), 0..2),
        0..3u8,
        0..6usize,
        0..3u8,
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.15),
        prop::bool::weighted(0.9),
    )
        .prop_map(
            |(office, additional, access, profile, role, system_superuser, network_superuser, active)| {
                RawUser {
                    office,
                    additional,
                    access,
                    profile,
                    role,
                    system_superuser,
                    network_superuser,
                    active,
                }
            },
        )
}

/// Random organisations: up to 3 Networks, 6 Offices, 12 users, 10 Projects.
pub fn arb_org() -> impl Strategy<Value = Org> {
    let n_perms = KNOWN_PROFILE_PERMISSIONS.len();
    (
        1..4usize,
        prop::collection::vec(prop::collection::vec(prop::bool::weighted(0.5), 6 * n_perms), 3),
        prop::collection::vec(prop::array::uniform5(0..3u8), 3),
        prop::collection::vec(any::<bool>(), 3),
        prop::collection::vec(any::<usize>(), 1..7),
        prop::collection::vec((any::<usize>(), 0..6usize, 0..n_perms, any::<bool>()), 0..6),
        prop::collection::vec(raw_user(), 1..13),
        prop::collection::vec((any::<usize>(), prop::collection::vec(any::<usize>(), 0..5)), 0..11),
        (
            prop::collection::vec(
                (
                    any::<usize>(),
                    any::<usize>(),
                    prop::option::of(prop::collection::vec(any::<usize>(), 0..3)),
                    0..6usize,
                    0..3u8,
                ),
                0..4,
            ),
            prop::collection::vec((any::<usize>(), prop::collection::vec(any::<usize>(), 0..5)), 0..4),
            prop::collection::vec((any::<usize>(), any::<usize>()), 0..6),
        ),
    )
        .prop_map(
            |(
                networks,
                defaults,
                thresholds,
                announcements,
                offices,
                overrides,
                users,
                projects,
                (agreements, groups, dms),
            )| {
                build(&Raw {
                    networks,
                    defaults,
                    thresholds,
                    announcements,
                    offices,
                    overrides,
                    users,
                    projects,
                    agreements,
                    groups,
                    dms,
                })
            },
        )
}
