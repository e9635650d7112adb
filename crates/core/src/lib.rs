//! The Tessera core: the organisation model, signed policy snapshots and the evaluator.
//!
//! No I/O, no clock, no JavaScript: bytes and times come in from the caller, decisions go out.
//! The same crate runs natively (the CLI, a server) and compiled to WebAssembly (the browser).
//!
//! - [`Org`] is the organisation source format (spec §7); [`Policy::new`] validates it and
//!   resolves every id once.
//! - [`sign`] wraps an organisation in a signed envelope; [`Snapshot::verify`] checks the
//!   signature before it parses the payload, then the header, then the organisation.
//!   [`Engine`] holds the current snapshot and updates it atomically.
//! - [`Policy::decide`] answers a [`Query`] with a [`Decision`]: allowed or not, a stable
//!   [`Code`], a sentence, and the [`Fact`]s it rested on. A denial is a value, not an error.
//! - [`UserView`] precomputes one user's decisions about Projects ([`Policy::user_view`],
//!   [`Snapshot::user_view`]): a question about a Project resolved once to a [`ProjectIndex`]
//!   is then a few array reads, with the answers of [`Policy::allows`].
//! - [`cut`] scopes an organisation to one user or one Network; a [`Cutter`] validates and
//!   indexes one once, for many cuts that each cost what they keep.
//! - [`diff`] says what a change of the organisation does to each user ([`Impact`]);
//!   [`Policy::explain`] adds to a denial the smallest edits ([`Grant`], [`Edit`]) that would
//!   allow it.
//! - [`Policy::authorize`] says whether a user may make an [`Edit`]: the evaluator's decision
//!   on the administrative question [`Edit::authority`] names.
//!
//! ```
//! use tessera_core::{Org, Policy, Query, Target, Timestamp};
//!
//! let org: Org = serde_json::from_str(r#"{
//!   "networks": [{ "id": "n-emea", "name": "EMEA",
//!                  "defaults": { "project_manager": ["task.create"] } }],
//!   "offices": [{ "id": "o-lon", "name": "London", "network": "n-emea" }],
//!   "users": [{ "id": "u-ada", "name": "Ada", "home_office": "o-lon", "profile": "project_manager" },
//!             { "id": "u-cleo", "name": "Cleo", "home_office": "o-lon", "profile": "client" }],
//!   "projects": [{ "id": "p-rebrand", "name": "Rebrand", "office": "o-lon",
//!                  "team": ["u-ada", "u-cleo"] }]
//! }"#)?;
//! let policy = Policy::new(&org)?;
//! let now = Timestamp::parse("2026-06-01T00:00:00Z")?;
//! let create_task = Query::can("task.create", Target::project("p-rebrand"));
//!
//! assert!(policy.allows("u-ada", &create_task, now));
//! let decision = policy.decide("u-cleo", &create_task, now);
//! assert!(!decision.allowed);
//! assert_eq!(decision.code.as_str(), "profile_lacks_permission");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

mod clock;
mod decision;
mod diff;
mod edit;
mod eval;
mod grant;
mod ids;
mod incremental;
mod limits;
mod load;
mod model;
mod permission;
mod policy;
mod query;
mod rows;
mod scope;
mod snapshot;
mod table;
mod trust;
mod validate;
mod view;

pub use clock::{Timestamp, TimestampError};
pub use decision::{Code, Decision, Fact};
pub use diff::{Access, Impact, UserImpact, changed_users, diff};
pub use edit::{Edit, UnknownId};
pub use grant::{Grant, MAX_GRANTS};
pub use incremental::{Changes, Edited};
pub use limits::{LimitError, Limits};
pub use load::Source;
pub use model::{
    AccessLevel, Agreement, DEFAULT_PROFILES, DirectMessage, Features, Group, KNOWN_PROFILE_PERMISSIONS,
    Network, Office, Org, PROJECT_PERMISSIONS, Project, Role, Threshold, User,
};
pub use permission::{AdminPermission, DM_REPLY, PEOPLE_SEARCH, RolePermission};
pub use policy::{Counts, Policy, UserSummary};
pub use query::{Query, QueryError, ResourceKind, Target};
pub use scope::{Cutter, ProjectRow, ScopeError, cut};
pub use snapshot::{
    DEFAULT_CLOCK_SKEW_SECONDS, DEFAULT_MAX_BYTES, Engine, Header, KeyError, KeyId, LoadError, LoadErrorKind,
    MAX_SIGNATURES, PAYLOAD_TYPE, PublicKey, SCHEMA_VERSION, Scope, SecretKey, SignError, Snapshot,
    TrustedKeys, VerifyOptions, sign,
};
pub use trust::{Effects, Failure, Origin, Status, Trust, TrustConfig};
pub use validate::{ValidationError, ValidationErrorKind, ValidationErrors};
pub use view::{ProjectIndex, ProjectQuestion, UserView};
