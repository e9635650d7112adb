//! Widgets more than one page uses: an action as a button (or, denied, nothing or the
//! "Why can't I?" panel), a suggestion with its Preview and Apply, and element ids that stay
//! unique.

use std::sync::atomic::{AtomicU64, Ordering};

use leptos::prelude::*;
use leptos::task::spawn_local;
use tessera_core::Edit;

use crate::actions::Action;
use crate::admin::Refused;
use crate::pages::why;
use crate::wording::{self, Names, PersonImpact};

/// Numbers that keep element ids unique (explanations referred to by `aria-describedby`).
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// An element id that starts with `prefix` and is used nowhere else on the page.
pub fn unique_id(prefix: &str) -> String {
    format!("{prefix}-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed))
}

/// An action: a button when allowed, which opens its form (sets `open` to `slot`, or back to
/// nothing); nothing when denied, or, with "Why can't I?" on, a disabled button with the
/// reason. An action the server refused since the snapshot last changed is not rendered
/// either (`crate::content_state::ContentState::hidden`).
pub fn action_view(action: Action, open: RwSignal<Option<String>>, slot: String) -> Option<AnyView> {
    let shell = crate::ui::shell();
    let refused = crate::ui::content().hidden(&action.query);
    if action.allowed && !refused {
        let label = action.label;
        // Read in the caller's render: the button is drawn again when its form opens or closes.
        let expanded = open.try_with(|open| open.as_deref() == Some(slot.as_str())) == Some(true);
        return Some(
            view! {
                <button
                    type="button"
                    class="action"
                    data-action=action.key
                    aria-expanded=if expanded { "true" } else { "false" }
                    on:click=move |_| {
                        open.update(|open| {
                            *open = if open.as_deref() == Some(slot.as_str()) { None } else { Some(slot.clone()) }
                        })
                    }
                >
                    {label}
                </button>
            }
            .into_any(),
        );
    }
    if !shell.explain.get() {
        return None;
    }
    // Refused by the server: its reason is said in the notice and under the form; "Why can't
    // I?" explains what the snapshot denies, once the one the answer named is in.
    if refused {
        return None;
    }
    Some(why::denied_view(action))
}

/// What a preview or an Apply came to, shown under its suggestion.
#[derive(Debug, Clone)]
enum Outcome {
    /// Who would gain and lose what, on this revision.
    Previewed(u64, Vec<PersonImpact>),
    /// Applied: the revision now served, and whether anything changed.
    Applied(u64, bool),
    /// The server said no (or could not be reached).
    Refused(Refused),
}

/// One suggestion: its sentence, and where `can_apply`, Preview (who would gain and lose
/// what, with names where the signed-in user's snapshot holds them) and Apply (the edits, on
/// the previewed revision if previewed; then the snapshot is fetched again and `on_applied`
/// runs). Without `can_apply`, the sentence alone.
pub fn grant_item(
    text: String,
    edits: Vec<Edit>,
    can_apply: bool,
    on_applied: Option<Callback<()>>,
) -> AnyView {
    if !can_apply {
        return view! { <li class="grant">{text}</li> }.into_any();
    }
    let shell = crate::ui::shell();
    let admin_api = crate::ui::admin();
    let outcome: RwSignal<Option<Outcome>> = RwSignal::new(None);
    let busy = RwSignal::new(false);
    let for_preview = edits.clone();
    let preview = move |_| {
        let edits = for_preview.clone();
        busy.set(true);
        spawn_local(async move {
            let answer = match admin_api.preview(edits).await {
                Ok((revision, people)) => Outcome::Previewed(revision, people),
                Err(refused) => Outcome::Refused(refused),
            };
            outcome.try_set(Some(answer));
            busy.try_set(false);
        });
    };
    let apply = move |_| {
        let edits = edits.clone();
        let expect = outcome.with_untracked(|outcome| match outcome {
            Some(Outcome::Previewed(revision, _)) => Some(*revision),
            _ => None,
        });
        busy.set(true);
        spawn_local(async move {
            let answer = match admin_api.apply(edits, expect).await {
                Ok(applied) => {
                    // Said at the page's level too: the suggestion itself may be gone once the
                    // snapshot or the list it came from is fetched again.
                    shell.notice.set(Some(if applied.changed {
                        format!("Applied: revision {} is now served.", applied.revision)
                    } else {
                        "Nothing to change: it was already so.".to_owned()
                    }));
                    if let Some(callback) = on_applied {
                        callback.run(());
                    }
                    Outcome::Applied(applied.revision, applied.changed)
                }
                Err(refused) => Outcome::Refused(refused),
            };
            outcome.try_set(Some(answer));
            busy.try_set(false);
        });
    };
    view! {
        <li class="grant">
            {text} " "
            <span class="admin-buttons">
                <button type="button" class="small" data-admin="preview" disabled=move || busy.get() on:click=preview>
                    "Preview"
                </button>
                <button type="button" class="small" data-admin="apply" disabled=move || busy.get() on:click=apply>
                    "Apply"
                </button>
            </span>
            {move || outcome.get().map(outcome_view)}
        </li>
    }
    .into_any()
}

fn outcome_view(outcome: Outcome) -> AnyView {
    match outcome {
        Outcome::Previewed(revision, people) => impact_view(revision, people),
        Outcome::Applied(revision, changed) => {
            let text = if changed {
                format!("Applied: revision {revision} is now served.")
            } else {
                format!("Nothing to change: revision {revision} already allows it.")
            };
            view! { <p class="outcome" role="status" data-testid="applied">{text}</p> }.into_any()
        }
        Outcome::Refused(refused) => {
            let text = match refused.code.as_str() {
                "stale_revision" => "The organisation changed since the preview: preview again.".to_owned(),
                "forbidden" => {
                    let reason = refused.decision_message().map_or(refused.message.clone(), |message| {
                        let state = crate::ui::session();
                        state
                            .snapshot
                            .with_untracked(|snapshot| {
                                snapshot.as_ref().map(|snapshot| {
                                    wording::humanise(&Names::new(snapshot.policy()), message)
                                })
                            })
                            .unwrap_or_else(|| message.to_owned())
                    });
                    format!("The server refused: {reason}")
                }
                _ => wording::sentence(&refused.message),
            };
            view! {
                <p class="outcome refused" role="alert" data-code=refused.code.clone()>
                    {text} " " <code>{refused.code.clone()}</code>
                </p>
            }
            .into_any()
        }
    }
}

/// Who would gain and lose what, person by person.
fn impact_view(revision: u64, people: Vec<PersonImpact>) -> AnyView {
    if people.is_empty() {
        return view! {
            <p class="outcome" data-testid="impact" data-revision=revision>"Nobody's access would change."</p>
        }
        .into_any();
    }
    let lines = |label: &'static str, class: &'static str, items: Vec<String>| {
        (!items.is_empty()).then(|| {
            view! {
                <p class=class>
                    {label} " " {items.join("; ")}
                </p>
            }
        })
    };
    view! {
        <div class="outcome impact" data-testid="impact" data-revision=revision>
            <p>"If applied:"</p>
            <ul>
                {people
                    .into_iter()
                    .map(|person| {
                        view! {
                            <li data-user=person.user.clone()>
                                <strong>{person.name.clone()}</strong>
                                {lines("would gain:", "gained", person.gained)}
                                {lines("would lose:", "lost", person.lost)}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </div>
    }
    .into_any()
}
