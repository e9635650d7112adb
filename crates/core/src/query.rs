//! The two questions one user can ask (spec §5): may I view this resource, and may I do this.
//!
//! The JSON shape is the same in every face of the product:
//! `{"view": "task", "id": "t-1", "project": "p-1"}` or
//! `{"can": "task.create", "target": {"project": "p-1"}}`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A question one user asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawQuery", into = "RawQuery")]
pub enum Query {
    /// May the user see this resource?
    View {
        /// What kind of resource.
        kind: ResourceKind,
        /// Its id.
        id: String,
        /// The Project it hangs off (tasks, documents, report and finance rows).
        project: Option<String>,
    },
    /// May the user do this?
    Can {
        /// The permission key.
        permission: String,
        /// What it acts on, if anything.
        target: Target,
    },
}

impl Query {
    /// Viewing a resource that is not part of a Project.
    pub fn view(kind: ResourceKind, id: impl Into<String>) -> Query {
        Query::View { kind, id: id.into(), project: None }
    }

    /// Viewing a resource that hangs off `project`.
    pub fn view_in(kind: ResourceKind, id: impl Into<String>, project: impl Into<String>) -> Query {
        Query::View { kind, id: id.into(), project: Some(project.into()) }
    }

    /// Doing `permission` with `target`.
    pub fn can(permission: impl Into<String>, target: Target) -> Query {
        Query::Can { permission: permission.into(), target }
    }
}

/// The kinds of resource a user can be asked to view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    /// A Project.
    Project,
    /// A Task of a Project.
    Task,
    /// A Document of a Project's asset library.
    Document,
    /// A Report row of a Project; needs `reports.view`.
    Report,
    /// A Finance row of a Project; needs `finance.view`.
    Finance,
    /// A person.
    Person,
    /// A messaging group.
    Group,
}

impl ResourceKind {
    /// Every kind.
    pub const ALL: [ResourceKind; 7] = [
        ResourceKind::Project,
        ResourceKind::Task,
        ResourceKind::Document,
        ResourceKind::Report,
        ResourceKind::Finance,
        ResourceKind::Person,
        ResourceKind::Group,
    ];

    /// The stable spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Project => "project",
            ResourceKind::Task => "task",
            ResourceKind::Document => "document",
            ResourceKind::Report => "report",
            ResourceKind::Finance => "finance",
            ResourceKind::Person => "person",
            ResourceKind::Group => "group",
        }
    }

    /// Whether resources of this kind hang off a Project.
    pub const fn in_project(self) -> bool {
        matches!(
            self,
            ResourceKind::Task | ResourceKind::Document | ResourceKind::Report | ResourceKind::Finance
        )
    }

    /// The kind with this spelling.
    pub fn parse(text: &str) -> Option<ResourceKind> {
        ResourceKind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a permission acts on: at most one of these is set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// A Project (`task.create`, `file.upload`, `wiki.manage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// A group (`announcement.group`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// A person (`dm.start`, `people.search`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    /// A direct message (`dm.reply`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dm: Option<String>,
    /// An Office (`office.manage`, `user.manage`, `project.manage`, `overrides.edit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub office: Option<String>,
    /// A Network (`defaults.edit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
}

impl Target {
    /// No target.
    pub fn none() -> Target {
        Target::default()
    }

    /// A Project.
    pub fn project(id: impl Into<String>) -> Target {
        Target { project: Some(id.into()), ..Target::default() }
    }

    /// A group.
    pub fn group(id: impl Into<String>) -> Target {
        Target { group: Some(id.into()), ..Target::default() }
    }

    /// A person.
    pub fn person(id: impl Into<String>) -> Target {
        Target { person: Some(id.into()), ..Target::default() }
    }

    /// A direct message.
    pub fn dm(id: impl Into<String>) -> Target {
        Target { dm: Some(id.into()), ..Target::default() }
    }

    /// An Office.
    pub fn office(id: impl Into<String>) -> Target {
        Target { office: Some(id.into()), ..Target::default() }
    }

    /// A Network.
    pub fn network(id: impl Into<String>) -> Target {
        Target { network: Some(id.into()), ..Target::default() }
    }

    /// The one target set, if exactly one is; `Err(())` when several are.
    pub(crate) fn single(&self) -> Result<Option<(TargetKind, &str)>, ()> {
        let all = [
            (TargetKind::Project, &self.project),
            (TargetKind::Group, &self.group),
            (TargetKind::Person, &self.person),
            (TargetKind::Dm, &self.dm),
            (TargetKind::Office, &self.office),
            (TargetKind::Network, &self.network),
        ];
        let mut set = all.into_iter().filter_map(|(kind, id)| id.as_deref().map(|id| (kind, id)));
        let first = set.next();
        match set.next() {
            Some(_) => Err(()),
            None => Ok(first),
        }
    }
}

/// The kind of a permission's target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TargetKind {
    Project,
    Group,
    Person,
    Dm,
    Office,
    Network,
}

impl TargetKind {
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            TargetKind::Project => "project",
            TargetKind::Group => "group",
            TargetKind::Person => "person",
            TargetKind::Dm => "direct message",
            TargetKind::Office => "office",
            TargetKind::Network => "network",
        }
    }
}

/// The wire shape of a query, turned into [`Query`] with a precise error.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    view: Option<ResourceKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    project: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    can: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target: Option<Target>,
}

/// A query that is neither a view nor a permission question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError(&'static str);

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for QueryError {}

impl TryFrom<RawQuery> for Query {
    type Error = QueryError;

    fn try_from(raw: RawQuery) -> Result<Query, QueryError> {
        match (raw.view, raw.can) {
            (Some(kind), None) => {
                if raw.target.is_some() {
                    return Err(QueryError("a view query takes `project`, not `target`"));
                }
                let Some(id) = raw.id else {
                    return Err(QueryError("a view query needs an `id`"));
                };
                Ok(Query::View { kind, id, project: raw.project })
            }
            (None, Some(permission)) => {
                if raw.id.is_some() || raw.project.is_some() {
                    return Err(QueryError("a permission query takes `target`, not `id` or `project`"));
                }
                Ok(Query::Can { permission, target: raw.target.unwrap_or_default() })
            }
            (Some(_), Some(_)) => Err(QueryError("a query has either `view` or `can`, not both")),
            (None, None) => Err(QueryError("a query needs `view` or `can`")),
        }
    }
}

impl From<Query> for RawQuery {
    fn from(query: Query) -> RawQuery {
        match query {
            Query::View { kind, id, project } => {
                RawQuery { view: Some(kind), id: Some(id), project, can: None, target: None }
            }
            Query::Can { permission, target } => {
                let target = (target != Target::default()).then_some(target);
                RawQuery { view: None, id: None, project: None, can: Some(permission), target }
            }
        }
    }
}
