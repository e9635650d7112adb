//! Widgets more than one page uses: an action as a button (or, denied, nothing or the
//! "Why can't I?" panel), and element ids that stay unique.

use std::sync::atomic::{AtomicU64, Ordering};

use leptos::prelude::*;

use crate::actions::Action;
use crate::pages::why;
use crate::state::AppState;

/// Numbers that keep element ids unique (explanations referred to by `aria-describedby`).
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// An element id that starts with `prefix` and is used nowhere else on the page.
pub fn unique_id(prefix: &str) -> String {
    format!("{prefix}-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed))
}

/// An action: a button when allowed; nothing when denied, or, with "Why can't I?" on, a
/// disabled button with the reason. `context` names what it acts on, for the notice.
pub fn action_view(action: Action, context: String) -> Option<AnyView> {
    let state = expect_context::<AppState>();
    if action.allowed {
        let label = action.label;
        let done = if context.is_empty() {
            format!("{label}: done (demo: nothing is sent).")
        } else {
            format!("{label} in {context}: done (demo: nothing is sent).")
        };
        return Some(
            view! {
                <button
                    type="button"
                    class="action"
                    data-action=action.key
                    on:click=move |_| state.notice.set(Some(done.clone()))
                >
                    {label}
                </button>
            }
            .into_any(),
        );
    }
    if !state.explain.get() {
        return None;
    }
    Some(why::denied_view(action))
}
