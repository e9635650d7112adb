//! The actions and what they wrote, in the browser: the piece of state the pages take to send
//! an action ([`ContentState::send`]) and to read a list back ([`ContentState::read`]), with
//! the session's token and snapshot version (`api.rs`), by the rules of `crate::content`.
//!
//! The server decides every action on the user's own snapshot. When its answer names a newer
//! snapshot than the one held (an action that changed the organisation renews the snapshots of
//! those it concerns; a refusal comes from a snapshot the app missed), the snapshot is fetched
//! and verified before the answer is said, so that the page already shows what was made (a new
//! Project in the list) or no longer offers what was refused. A refusal (403) also hides the
//! action at once, with the server's reason, until the snapshot changes ([`ContentState::hidden`]):
//! fail closed, whatever the snapshot held says.

use leptos::prelude::*;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tessera_core::{Decision, Query};

use crate::admin::Refused;
use crate::api;
use crate::content::{self, Pending, Said, Then};
use crate::state::SessionState;
use crate::wording::{self, Names, Subject};

/// Sending actions and reading back, for the signed-in user.
#[derive(Debug, Clone, Copy)]
pub struct ContentState {
    session: SessionState,
}

impl ContentState {
    /// The piece for `session`.
    pub fn new(session: SessionState) -> ContentState {
        ContentState { session }
    }

    /// Whether the server refused `query` since the snapshot last changed (reactive).
    pub fn hidden(&self, query: &Query) -> bool {
        self.session.was_refused(query)
    }

    /// Sends `pending` (an action and its key); `context` names what it is about, for the
    /// sentence. A newer snapshot named by the answer is fetched first; a refusal (403) hides
    /// the action.
    pub async fn send(self, pending: Pending, context: String) -> Said {
        let act = pending.act.clone();
        let answer = self.session.call_only(|client| async move { client.act(&pending).await }).await;
        let (answer, newer) = match answer {
            Ok(answer) => answer,
            Err(refused) => return content::refusal(&act, &refused, None),
        };
        if newer {
            self.session.refresh_snapshot().await;
        }
        let reason = (answer.status == 403).then(|| self.reason(&act.query(), &answer.body)).flatten();
        let said = content::said(&act, &context, answer.status, &answer.body, reason);
        if let Said::Refused { then: Then::Hide, .. } = &said {
            // After the snapshot the answer named is in: a change of snapshot clears these.
            self.session.refuse_action(act.query());
        }
        said
    }

    /// A 403's decision in words, with names from the snapshot held (as "Why can't I?" says
    /// it), and its reason code; `None` if the decision does not read.
    fn reason(&self, query: &Query, body: &str) -> Option<String> {
        #[derive(Deserialize)]
        struct Body {
            error: Error,
        }
        #[derive(Deserialize)]
        struct Error {
            decision: Decision,
        }
        let decision = serde_json::from_str::<Body>(body).ok()?.error.decision;
        self.session.snapshot.with_untracked(|snapshot| {
            let names = Names::new(snapshot.as_ref()?.policy());
            let reason = wording::reason(&names, Subject::You, query, &decision);
            Some(format!("{reason} ({})", decision.code.as_str()))
        })
    }

    /// `GET path` as `T`, for the signed-in user.
    pub async fn read<T: DeserializeOwned>(self, path: String) -> Result<T, Refused> {
        let answer = self.session.call(|client| async move { client.get(&path).await }).await?;
        api::read(&answer)
    }
}
