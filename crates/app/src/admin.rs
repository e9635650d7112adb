//! Administration from the app: who may apply a suggestion, the people an administrator
//! manages, and the JSON of the admin API (`POST /api/admin/preview`, `POST /api/admin/edits`,
//! `GET /api/admin/denials`).
//!
//! Pure, tested natively. Whether to offer Preview and Apply is decided on the signed-in
//! user's own verified snapshot, by the evaluator ([`Policy::authorize`], the administrative
//! question each edit needs), and fails closed: an edit naming anything the snapshot lacks, or
//! a denial, means no Apply. The server decides again, on the whole organisation, when the
//! edits arrive; the app only chooses what to offer.

use serde::{Deserialize, Serialize};
use tessera_core::{
    AdminPermission, Decision, Edit, Grant, Impact, Policy, Query, Snapshot, Target, Timestamp, UserSummary,
};

/// Whether `caller` may make every edit of `grant`, by their own policy: each edit's
/// authority is known to it and allowed. Anything else (an id it does not hold, a denial, an
/// empty suggestion) is no.
pub fn may_apply(policy: &Policy, caller: &str, grant: &Grant, now: Timestamp) -> bool {
    !grant.edits.is_empty()
        && grant
            .edits
            .iter()
            .all(|edit| policy.authorize(caller, edit, now).is_ok_and(|decision| decision.allowed))
}

/// The Offices whose people `user` may manage (`user.manage`), by id: those of their own
/// Network for its admins and superusers, none for anyone else.
pub fn managed_offices<'a>(snapshot: &'a Snapshot, user: &str, now: Timestamp) -> Vec<&'a str> {
    snapshot
        .policy()
        .office_ids()
        .filter(|office| {
            snapshot.allows(
                user,
                &Query::can(AdminPermission::UserManage.key(), Target::office(*office)),
                now,
            )
        })
        .collect()
}

/// The people `user` may manage: everyone of their snapshot whose home Office they hold
/// `user.manage` on, themselves included, by name.
pub fn managed_people<'a>(snapshot: &'a Snapshot, user: &str, now: Timestamp) -> Vec<UserSummary<'a>> {
    let offices = managed_offices(snapshot, user, now);
    let mut people: Vec<UserSummary<'a>> =
        snapshot.policy().users().filter(|person| offices.contains(&person.home_office)).collect();
    people.sort_unstable_by(|a, b| a.name.cmp(b.name).then(a.id.cmp(b.id)));
    people
}

/// The body of `POST /api/admin/preview` and `POST /api/admin/edits`.
#[derive(Debug, Serialize)]
pub struct EditBatch<'a> {
    /// The edits, all or none.
    pub edits: &'a [Edit],
    /// The revision the edits were previewed on, if they were: the server refuses them on
    /// another (409 `stale_revision`), so that what is applied is what was previewed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expect_revision: Option<u64>,
}

/// What `POST /api/admin/preview` answers.
#[derive(Debug, Clone, Deserialize)]
pub struct Preview {
    /// The revision the impact was computed on.
    pub revision: u64,
    /// Who would gain and lose what.
    pub impact: Impact,
}

/// What `POST /api/admin/edits` answers.
#[derive(Debug, Clone, Deserialize)]
pub struct Applied {
    /// The revision now served.
    pub revision: u64,
    /// Whether the edits changed the organisation.
    pub changed: bool,
}

/// What `GET /api/admin/denials?user=ID` answers.
#[derive(Debug, Clone, Deserialize)]
pub struct Denials {
    /// The user asked about.
    pub user: String,
    /// Their name.
    pub name: String,
    /// Their denied standard actions.
    pub denials: Vec<Denial>,
}

/// One denied action, its explanation with suggestions, and per suggestion whether the
/// caller may make every edit of it (the server's word, on the whole organisation).
#[derive(Debug, Clone, Deserialize)]
pub struct Denial {
    /// The question.
    pub query: Query,
    /// The evaluator's explanation, with `grants`.
    pub decision: Decision,
    /// Per suggestion.
    #[serde(default)]
    pub may_apply: Vec<bool>,
}

/// A refusal of the admin API: its code, its message, and for `forbidden` the evaluator's
/// decision on the permission that was lacking.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Refused {
    /// The stable code (`forbidden`, `stale_revision`, `unknown_id`, …).
    pub code: String,
    /// The server's sentence.
    #[serde(default)]
    pub message: String,
    /// The decision's message, for `forbidden`: only the message is shown, so the decision is
    /// not read as a [`Decision`] (whose reader, with its facts and suggested edits, is for the
    /// admin page alone, and loads with it).
    #[serde(default, rename = "decision", deserialize_with = "message_of")]
    pub decision_message: Option<String>,
}

impl Refused {
    /// The message of the decision a `forbidden` refusal carries.
    pub fn decision_message(&self) -> Option<&str> {
        self.decision_message.as_deref()
    }
}

/// A decision's `message`, the rest of it skipped.
fn message_of<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    struct Message {
        message: String,
    }
    Ok(Option::<Message>::deserialize(deserializer)?.map(|decision| decision.message))
}

/// The refusal in `body`; the status stands in for a code when the body does not read.
pub fn refused(status: u16, body: &str) -> Refused {
    #[derive(Deserialize)]
    struct Body {
        error: Refused,
    }
    serde_json::from_str::<Body>(body).map(|body| body.error).unwrap_or_else(|_| Refused {
        code: format!("http_{status}"),
        message: format!("the server answered {status}"),
        decision_message: None,
    })
}

#[cfg(test)]
mod tests {
    use tessera_core::{
        Header, Org, SCHEMA_VERSION, Scope, SecretKey, TrustedKeys, VerifyOptions, cut, sign,
    };

    use super::*;

    fn now() -> Timestamp {
        Timestamp::parse("2026-06-01T00:00:00Z").unwrap()
    }

    fn snapshot_of(user: &str) -> Snapshot {
        let org: Org = serde_json::from_str(include_str!("../../../tests/demo/org.json")).unwrap();
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
        let bytes = sign(&cut(&org, &scope, now()).unwrap(), &header, &[&key]).unwrap();
        let mut keys = TrustedKeys::new();
        keys.add(key.public_key());
        Snapshot::verify(&bytes, &keys, &VerifyOptions::new(now())).unwrap()
    }

    fn override_on(office: &str) -> Grant {
        Grant {
            edits: vec![Edit::OverrideOn {
                office: office.into(),
                profile: "client".into(),
                permission: "task.create".into(),
            }],
        }
    }

    #[test]
    fn an_admin_may_apply_in_her_network_and_a_client_nowhere() {
        let ellen = snapshot_of("u-ellen");
        assert!(may_apply(ellen.policy(), "u-ellen", &override_on("o-lon"), now()));
        assert!(may_apply(ellen.policy(), "u-ellen", &override_on("o-par"), now()));
        // Another Network's Office: her cut does not hold it, and it is behind the firewall.
        assert!(!may_apply(ellen.policy(), "u-ellen", &override_on("o-nyc"), now()));
        // A Network's defaults are for system superusers.
        let default_on = Grant {
            edits: vec![Edit::DefaultOn {
                network: "n-emea".into(),
                profile: "client".into(),
                permission: "task.create".into(),
            }],
        };
        assert!(!may_apply(ellen.policy(), "u-ellen", &default_on, now()));
        // Every edit must be hers to make.
        let both = Grant { edits: [override_on("o-lon").edits, default_on.edits].concat() };
        assert!(!may_apply(ellen.policy(), "u-ellen", &both, now()));
        assert!(!may_apply(ellen.policy(), "u-ellen", &Grant { edits: Vec::new() }, now()));

        let cleo = snapshot_of("u-cleo");
        assert!(!may_apply(cleo.policy(), "u-cleo", &override_on("o-lon"), now()));
        // Asked of someone the snapshot does not hold: no.
        assert!(!may_apply(cleo.policy(), "u-ellen", &override_on("o-lon"), now()));
    }

    #[test]
    fn admins_manage_the_people_of_their_network() {
        let ellen = snapshot_of("u-ellen");
        let offices = managed_offices(&ellen, "u-ellen", now());
        assert!(offices.contains(&"o-lon") && offices.contains(&"o-par") && offices.contains(&"o-ber"));
        let people = managed_people(&ellen, "u-ellen", now());
        assert!(people.iter().any(|person| person.id == "u-cleo"));
        assert!(people.iter().all(|person| person.network == "n-emea"), "not Bob, an alien in London");
        assert!(managed_offices(&snapshot_of("u-cleo"), "u-cleo", now()).is_empty());
        assert!(
            managed_offices(&snapshot_of("u-grace"), "u-grace", now()).is_empty(),
            "an admin role is not enough"
        );
        assert!(managed_offices(&snapshot_of("u-iris"), "u-iris", now()).contains(&"o-nyc"));
    }

    #[test]
    fn the_admin_api_reads_and_writes_as_the_server_does() {
        let grant = override_on("o-lon");
        let body = serde_json::to_value(EditBatch { edits: &grant.edits, expect_revision: Some(7) }).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"edits": [{"edit": "override_on", "office": "o-lon", "profile": "client",
                "permission": "task.create"}], "expect_revision": 7})
        );
        let body = serde_json::to_value(EditBatch { edits: &grant.edits, expect_revision: None }).unwrap();
        assert!(body.get("expect_revision").is_none());

        let preview: Preview = serde_json::from_str(
            r#"{"revision": 3, "impact": {"users": [{"user": "u-cleo",
                "gained": {"permissions": [{"can": "task.create", "target": {"project": "p-rebrand"}}]},
                "lost": {}}]}}"#,
        )
        .unwrap();
        assert_eq!(preview.impact.users.first().unwrap().gained.permissions.len(), 1);

        let forbidden = refused(
            403,
            r#"{"error": {"code": "forbidden", "message": "edit 0 is not yours to make", "edit": 0,
                "decision": {"allowed": false, "code": "not_network_admin", "message": "only …", "facts": []}}}"#,
        );
        assert_eq!(forbidden.code, "forbidden");
        assert_eq!(forbidden.decision_message(), Some("only …"));
        assert_eq!(refused(500, "oops").code, "http_500");
    }
}
