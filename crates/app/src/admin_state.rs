//! Administration's piece of state: the admin API called with the session's token
//! (`POST /api/admin/preview`, `POST /api/admin/edits`, `GET /api/admin/denials`), and the
//! snapshot fetched again after an edit. The admin page and the suggestions' Preview and Apply
//! take it; the server decides every call again.

use std::sync::Arc;

use leptos::prelude::*;

use tessera_core::{Edit, Snapshot};

use crate::admin::{Applied, Denials, Preview, Refused};
use crate::api;
use crate::state::SessionState;
use crate::wording::{self, Names, PersonImpact};

/// The admin API for the signed-in user.
#[derive(Debug, Clone, Copy)]
pub struct AdminState {
    session: SessionState,
}

impl AdminState {
    /// The piece for `session`.
    pub fn new(session: SessionState) -> AdminState {
        AdminState { session }
    }

    /// The impact of `edits`, applying nothing: the revision it was computed on, and each person
    /// who would gain or lose something, named through the signed-in user's snapshot.
    pub async fn preview(self, edits: Vec<Edit>) -> Result<(u64, Vec<PersonImpact>), Refused> {
        let answer = self.session.call(|client| async move { client.preview(&edits).await }).await?;
        read_preview(answer.status, answer.body, self.session.snapshot.with_untracked(Clone::clone)).await
    }

    /// Makes `edits`, on `expect_revision` when they were previewed there; then asks for this
    /// user's snapshot again.
    pub async fn apply(self, edits: Vec<Edit>, expect_revision: Option<u64>) -> Result<Applied, Refused> {
        let answer =
            self.session.call(|client| async move { client.apply(&edits, expect_revision).await }).await?;
        let applied: Applied = api::read(&answer)?;
        self.session.refresh_snapshot().await;
        Ok(applied)
    }

    /// `user`'s denied actions with suggestions.
    pub async fn denials(self, user: String) -> Result<Denials, Refused> {
        let answer = self.session.call(|client| async move { client.denials(&user).await }).await?;
        api::read(&answer)
    }
}

/// A preview's answer read and worded: a split point (`#[lazy]`), so that the reader of an
/// impact's JSON loads only when someone previews.
#[leptos::lazy]
fn read_preview(
    status: u16,
    body: String,
    snapshot: Option<Arc<Snapshot>>,
) -> Result<(u64, Vec<PersonImpact>), Refused> {
    let preview: Preview = api::read_body(status, &body)?;
    let people = snapshot
        .map(|snapshot| wording::impact(&Names::new(snapshot.policy()), &preview.impact))
        .unwrap_or_default();
    Ok((preview.revision, people))
}
