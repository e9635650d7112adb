//! The conformance corpus and its checker.
//!
//! `tests/conformance/NNN_topic.json` files each hold an organisation, a clock and queries with
//! the decision they must get. Every face of the product (the core, the `tessera` binary, the
//! WebAssembly build) runs the same files through [`check`], so they cannot drift apart.

use std::fmt;

use serde::Deserialize;
use tessera_core::{Org, Query, Timestamp};

pub mod generated;
pub mod hostile;
pub mod reference;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/corpus.rs"));
}

/// One case file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What the file covers.
    pub description: String,
    /// The time decisions are taken at.
    pub now: Timestamp,
    /// The organisation.
    pub org: Org,
    /// The questions and their answers.
    pub queries: Vec<Expectation>,
}

/// One question and the decision it must get.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// Who asks.
    pub user: String,
    /// What they ask.
    pub query: Query,
    /// Whether it is allowed.
    pub allowed: bool,
    /// The reason code.
    pub code: String,
    /// Why, for a reader of the corpus.
    #[serde(default)]
    pub note: Option<String>,
}

/// A case file that does not parse.
#[derive(Debug)]
pub struct CorpusError {
    file: String,
    message: String,
}

impl fmt::Display for CorpusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

impl std::error::Error for CorpusError {}

/// Every case file, parsed, with its file name.
pub fn corpus() -> Result<Vec<(&'static str, Case)>, CorpusError> {
    embedded::FILES
        .iter()
        .map(|(file, text)| {
            serde_json::from_str(text)
                .map(|case| (*file, case))
                .map_err(|e| CorpusError { file: (*file).to_owned(), message: e.to_string() })
        })
        .collect()
}

/// One hostile case of `tests/hostile/`, as committed.
#[derive(Debug, Clone)]
pub struct HostileFile {
    /// The file stem, `NNN_name`.
    pub name: &'static str,
    /// How it is loaded and what it must answer.
    pub expectation: hostile::Expectation,
    /// What the loader is handed.
    pub bytes: &'static [u8],
}

/// Every hostile case of `tests/hostile/`, as committed.
pub fn hostile_cases() -> Result<Vec<HostileFile>, CorpusError> {
    embedded::HOSTILE
        .iter()
        .map(|(name, text, bytes)| {
            serde_json::from_str(text)
                .map(|expectation| HostileFile { name, expectation, bytes })
                .map_err(|e| CorpusError { file: format!("{name}.json"), message: e.to_string() })
        })
        .collect()
}

/// The raw text of every case file, for faces that take the organisation as JSON.
pub fn files() -> &'static [(&'static str, &'static str)] {
    embedded::FILES
}

/// What an implementation answered: allowed, and the code.
pub type Answer = (bool, String);

/// The outcome of running the corpus through one implementation.
#[derive(Debug, Default)]
pub struct Report {
    /// Queries run.
    pub queries: usize,
    /// Case files run.
    pub files: usize,
    /// One line per query whose answer differs from the corpus.
    pub failures: Vec<String>,
}

impl Report {
    /// Whether every query got its expected answer.
    pub fn passed(&self) -> bool {
        self.failures.is_empty() && self.queries > 0
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} queries in {} files, {} failed", self.queries, self.files, self.failures.len())?;
        for failure in &self.failures {
            writeln!(f, "  {failure}")?;
        }
        Ok(())
    }
}

/// Runs every query of every case through `implementation`, which is given the case (for its
/// organisation and clock) and one expectation, and answers or fails with a message.
pub fn check<F>(mut implementation: F) -> Result<Report, CorpusError>
where
    F: FnMut(&str, &Case, &Expectation) -> Result<Answer, String>,
{
    let mut report = Report::default();
    for (file, case) in corpus()? {
        report.files += 1;
        for (index, expectation) in case.queries.iter().enumerate() {
            report.queries += 1;
            let query = serde_json::to_string(&expectation.query).unwrap_or_default();
            match implementation(file, &case, expectation) {
                Ok((allowed, code)) if allowed == expectation.allowed && code == expectation.code => {}
                Ok((allowed, code)) => report.failures.push(format!(
                    "{file} #{index} {} {query}: expected {} {}, got {} {code}",
                    expectation.user,
                    verdict(expectation.allowed),
                    expectation.code,
                    verdict(allowed)
                )),
                Err(message) => {
                    report.failures.push(format!("{file} #{index} {} {query}: {message}", expectation.user))
                }
            }
        }
    }
    Ok(report)
}

fn verdict(allowed: bool) -> &'static str {
    if allowed { "allow" } else { "deny" }
}
