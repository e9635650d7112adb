//! "Why can't I?": a denied action rendered disabled, with the reason as a sentence (names,
//! not ids, through the verified snapshot: `crate::wording`), the reason code for the curious,
//! and the suggestions that would allow it. Where the signed-in user may make every edit of a
//! suggestion (decided on their own snapshot: `crate::admin::may_apply`), it has Preview and
//! Apply.

use leptos::prelude::*;
use tessera_core::Grant;

use crate::actions::Action;
use crate::admin;
use crate::widgets::{grant_item, unique_id};
use crate::wording::{self, Names, Subject};

/// The panel of a denied `action`: a disabled button described by the reason. Its code (the
/// evaluator's explanation and planner of suggestions, their wording) is a module of its own,
/// fetched the first time "Why can't I?" shows a panel ([`denied`]); until then, nothing.
pub fn denied_view(action: Action) -> AnyView {
    view! { <Suspense fallback=|| ()>{Suspend::new(async move { denied(action).await })}</Suspense> }
        .into_any()
}

/// The panel: a split point (`#[lazy]`). Called while a page renders from
/// [`SessionState::ready`]; without a snapshot it is the bare disabled button.
#[leptos::lazy]
fn denied(action: Action) -> AnyView {
    let state = crate::ui::session();
    let described = unique_id(&format!("why-{}", action.key));
    let explanation =
        state.ready().map(|(snapshot, user, now)| match action.explain(&snapshot, &user, now) {
            Some(why) => {
                let names = Names::new(snapshot.policy());
                let reason = wording::reason(&names, Subject::You, &action.query, &why);
                let grants: Vec<(String, Grant, bool)> = why
                    .grants
                    .iter()
                    .map(|grant| {
                        let can_apply = admin::may_apply(snapshot.policy(), &user, grant, now);
                        (wording::grant(&names, grant), grant.clone(), can_apply)
                    })
                    .collect();
                let technical: Vec<String> = why.grants.iter().map(ToString::to_string).collect();
                explained(reason, why.code.as_str(), why.message, grants, technical, None)
            }
            None => view! { <p>"There is nobody you may find in person search."</p> }.into_any(),
        });
    view! {
        <div class="denied" data-denied=action.key>
            <button type="button" class="action" disabled=true aria-describedby=described.clone()>
                {action.label}
            </button>
            <div class="why" id=described>{explanation}</div>
        </div>
    }
    .into_any()
}

/// The reason, its code, the suggestions (each with whether it may be applied), and the
/// evaluator's own words under "Details". `on_applied` runs after a suggestion is applied.
pub fn explained(
    reason: String,
    code: &'static str,
    message: String,
    grants: Vec<(String, Grant, bool)>,
    technical: Vec<String>,
    on_applied: Option<Callback<()>>,
) -> AnyView {
    let suggested = (!grants.is_empty()).then(|| {
        view! {
            <p class="grants">"An administrator could allow it; any one of these would do:"</p>
            <ul class="grants">
                {grants
                    .into_iter()
                    .map(|(text, grant, can_apply)| grant_item(text, grant.edits, can_apply, on_applied))
                    .collect_view()}
            </ul>
        }
    });
    view! {
        <p>
            <span class="reason">{reason}</span> " " <code class="code" title="The reason code">{code}</code>
        </p>
        {suggested}
        <details class="technical">
            <summary>"Details"</summary>
            <p>"The evaluator says: " {message}</p>
            {(!technical.is_empty())
                .then(|| {
                    view! {
                        <ul>{technical.into_iter().map(|edit| view! { <li><code>{edit}</code></li> }).collect_view()}</ul>
                    }
                })}
        </details>
    }
    .into_any()
}
