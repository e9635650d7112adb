//! Where the organisation comes from: today, a JSON file in the source format, read at start
//! and again on `SIGHUP`; and the content file that search reads beside it.
//!
//! Reading is all this module does. Validation (`Policy::new`) is part of building a revision,
//! in [`crate::issuer`], so that a file that reads but does not validate is refused the same way
//! whatever brought it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow, bail};
use serde::{Deserialize, Serialize};
use tessera_core::{Org, ResourceKind};

/// The longest content id accepted: the core's limit on an id.
pub const MAX_ID_BYTES: usize = 256;
/// The longest title in a content file.
const MAX_CONTENT_TEXT_BYTES: usize = 1024;

/// An organisation file in the source format.
#[derive(Debug, Clone)]
pub struct OrgFile {
    path: PathBuf,
}

impl OrgFile {
    /// The file at `path`; nothing is read yet.
    pub fn new(path: impl Into<PathBuf>) -> OrgFile {
        OrgFile { path: path.into() }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads and parses it (not validated: building a revision does that).
    pub fn read(&self) -> anyhow::Result<Org> {
        read_org(&self.path)
    }
}

/// Reads an organisation file; a JSON error reads `PATH:LINE:COLUMN: message`.
pub fn read_org(path: &Path) -> anyhow::Result<Org> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    parse_org(path, &bytes)
}

/// Parses an organisation read from `path`; a JSON error reads `PATH:LINE:COLUMN: message`.
pub fn parse_org(path: &Path, bytes: &[u8]) -> anyhow::Result<Org> {
    serde_json::from_slice(bytes).map_err(|e| {
        let message = e.to_string();
        // serde_json ends its messages with the position; we lead with it instead.
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let message = message.strip_suffix(&suffix).unwrap_or(&message);
        anyhow!("{}:{}:{}: {message}", path.display(), e.line(), e.column())
    })
}

/// One searchable item that hangs off a Project: a task, a document, a report row or a finance
/// row. The content file is `{"items": [ContentItem, ...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentItem {
    /// `task`, `document`, `report` or `finance`.
    pub kind: ResourceKind,
    /// Unique among the items of its kind.
    pub id: String,
    /// What search matches and shows.
    pub title: String,
    /// The Project it hangs off; must be in the organisation.
    pub project: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContentFile {
    items: Vec<ContentItem>,
}

/// Reads a content file's JSON, `{"items": [...]}`; [`validate_content`] checks it against an
/// organisation.
pub fn parse_content(bytes: &[u8]) -> anyhow::Result<Vec<ContentItem>> {
    let file: ContentFile = serde_json::from_slice(bytes).map_err(|e| anyhow!("{e}"))?;
    Ok(file.items)
}

/// Checks every item: a kind that hangs off a Project, a non-empty id unique for its kind, a
/// non-empty title, a Project of `org`. The error names the first ten problems and counts the
/// rest.
pub fn validate_content(items: &[ContentItem], org: &Org) -> anyhow::Result<()> {
    let projects: BTreeSet<&str> = org.projects.iter().map(|project| project.id.as_str()).collect();
    let mut seen: BTreeSet<(&str, &str)> = BTreeSet::new();
    let mut problems: Vec<String> = Vec::new();
    for (n, item) in items.iter().enumerate() {
        let at = format!("item {n} (`{}`)", quoted(&item.id));
        if !item.kind.in_project() {
            problems.push(format!(
                "{at}: kind `{}` is not one of task, document, report, finance (projects and people come from the organisation)",
                item.kind
            ));
        }
        if item.id.is_empty() || item.id.len() > MAX_ID_BYTES {
            problems.push(format!("{at}: the id must be 1 to {MAX_ID_BYTES} bytes"));
        }
        if item.title.trim().is_empty() || item.title.len() > MAX_CONTENT_TEXT_BYTES {
            problems.push(format!("{at}: the title must be 1 to {MAX_CONTENT_TEXT_BYTES} bytes, not blank"));
        }
        if !projects.contains(item.project.as_str()) {
            problems.push(format!("{at}: unknown project `{}`", quoted(&item.project)));
        }
        if !seen.insert((item.kind.as_str(), item.id.as_str())) {
            problems.push(format!("{at}: {} id `{}` is used twice", item.kind, quoted(&item.id)));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let count = problems.len();
    let shown: Vec<&str> = problems.iter().take(10).map(String::as_str).collect();
    let more = if count > 10 { format!("; and {} more", count - 10) } else { String::new() };
    bail!("{count} problem{} in the content: {}{more}", if count == 1 { "" } else { "s" }, shown.join("; "))
}

/// `text` cut to 64 characters, for messages.
pub(crate) fn quoted(text: &str) -> String {
    if text.chars().count() <= 64 {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(64).collect::<String>())
    }
}
