//! The Projects the signed-in user sees, by name, with New project where allowed (its form a
//! module of its own, `crate::forms::new_project`), a filter over all of them, and the count of
//! the whole.
//!
//! The list is windowed (`crate::window`): however many Projects a user sees (a network
//! administrator of the large organisation sees 30,000), only those on screen and a few either
//! side are in the page, each with `aria-setsize` and `aria-posinset` so that a screen reader
//! knows where it is in the whole list. The arrow keys, Page Up/Down, Home and End move from row
//! to row across the whole list, scrolling it as they go, so the keyboard reaches every row.

use std::sync::Arc;

use leptos::html;
use leptos::prelude::*;
use tessera_core::{Snapshot, Timestamp};

use crate::actions;
use crate::browser;
use crate::forms;
use crate::ui::Page;
use crate::widgets::action_view;
use crate::window;

/// One row: a Project's id, name and Office's name.
type Row = (String, String, String);

/// The Projects page.
#[component]
pub fn Projects() -> impl IntoView {
    let state = crate::ui::session();
    move || {
        let (snapshot, user, now) = state.ready()?;
        Some(view! { <ProjectList snapshot=snapshot user=user now=now/> })
    }
}

/// The list of `user`'s Projects in `snapshot` at `now`.
#[component]
fn ProjectList(
    /// The verified snapshot.
    snapshot: Arc<Snapshot>,
    /// The signed-in user.
    user: String,
    /// The time to decide at.
    now: Timestamp,
) -> impl IntoView {
    let shell = crate::ui::shell();
    let rows: Arc<Vec<Row>> = Arc::new(
        actions::projects(&snapshot, &user, now)
            .into_iter()
            .map(|(id, name, office)| (id.to_owned(), name.to_owned(), office.to_owned()))
            .collect(),
    );
    let total = rows.len();
    let new_project = actions::project_create(&snapshot, &user, now);
    // Which action's form is open: New project's, or none.
    let open: RwSignal<Option<String>> = RwSignal::new(None);
    let filter = RwSignal::new(String::new());
    // The rows that pass the filter, by their place in `rows`.
    let shown = {
        let rows = Arc::clone(&rows);
        Memo::new(move |_| {
            let text = filter.with(|text| text.trim().to_lowercase());
            let terms: Vec<&str> = text.split_whitespace().collect();
            rows.iter()
                .enumerate()
                .filter(|(_, (id, name, office))| {
                    terms.is_empty()
                        || terms.iter().all(|term| {
                            name.to_lowercase().contains(term)
                                || id.contains(term)
                                || office.to_lowercase().contains(term)
                        })
                })
                .map(|(index, _)| index)
                .collect::<Vec<usize>>()
        })
    };
    let scroll_top = RwSignal::new(0_usize);
    let viewport = RwSignal::new(window::FIRST_VIEWPORT_PX);
    let list = NodeRef::<html::Div>::new();
    let measure = move || {
        if let Some(list) = list.get_untracked() {
            scroll_top.set(usize::try_from(list.scroll_top()).unwrap_or(0));
            viewport.set(usize::try_from(list.client_height()).unwrap_or(0));
        }
    };
    // A filtered list starts at its top.
    Effect::new(move |_| {
        filter.track();
        if let Some(list) = list.get_untracked() {
            list.set_scroll_top(0);
        }
        scroll_top.set(0);
    });
    let range =
        Memo::new(move |_| shown.with(|shown| window::rows(shown.len(), scroll_top.get(), viewport.get())));
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        let Some(index) = browser::target_position(&ev) else { return };
        let count = shown.with_untracked(Vec::len);
        let Some(to) = window::moved(&ev.key(), index, count, viewport.get_untracked()) else { return };
        ev.prevent_default();
        if let Some(list) = list.get_untracked() {
            let top = window::scroll_to_show(
                to,
                usize::try_from(list.scroll_top()).unwrap_or(0),
                usize::try_from(list.client_height()).unwrap_or(0),
            );
            list.set_scroll_top(i32::try_from(top).unwrap_or(i32::MAX));
        }
        measure();
        // The row is rendered by now (the window follows the scroll at once).
        request_animation_frame(move || browser::focus(&row_id(to)));
    };
    let body = {
        let rows = Arc::clone(&rows);
        move || {
            let range = range.get();
            let count = shown.with(Vec::len);
            let (above, below) = window::padding(count, &range);
            let items = shown.with(|shown| {
                shown
                    .get(range.clone())
                    .unwrap_or_default()
                    .iter()
                    .zip(range.clone())
                    .filter_map(|(&index, position)| {
                        let (id, name, office) = rows.get(index)?.clone();
                        let open = id.clone();
                        Some(view! {
                            <li data-project=id aria-setsize=count aria-posinset={position + 1}>
                                <button
                                    type="button"
                                    class="link"
                                    id=row_id(position)
                                    data-position=position
                                    on:click=move |_| shell.page.set(Page::Project(open.clone()))
                                >
                                    {name}
                                </button>
                                <span class="meta">{office}</span>
                            </li>
                        })
                    })
                    .collect_view()
            });
            view! {
                <ul
                    class="projects windowed"
                    data-testid="projects"
                    data-user=user.clone()
                    data-count=count
                    aria-labelledby="projects-title"
                    style:padding-top=format!("{above}px")
                    style:padding-bottom=format!("{below}px")
                >
                    {items}
                </ul>
            }
        }
    };
    let summary = move || {
        let count = shown.with(Vec::len);
        if filter.with(|text| text.trim().is_empty()) {
            String::new()
        } else {
            format!("{} of {} match", thousands(count), thousands(total))
        }
    };
    Effect::new(move |_| browser::mark("tessera:projects-shown"));
    view! {
        <section aria-labelledby="projects-title">
            <h2 id="projects-title">
                "Projects " <span class="count" data-testid="project-count">{thousands(total)}</span>
            </h2>
            {move || {
                let form = open.with(Option::is_some).then(|| crate::ui::lazily(Box::pin(forms::new_project(open))));
                view! {
                    <div class="actions">{action_view(new_project.clone(), open, "new-project".to_owned())}</div>
                    {form}
                }
                .into_any()
            }}
            <div class="filter">
                <label for="project-filter">"Filter projects"</label>
                <input
                    id="project-filter"
                    type="search"
                    autocomplete="off"
                    prop:value=move || filter.get()
                    on:input=move |ev| filter.set(event_target_value(&ev))
                />
                <span class="meta" role="status" data-testid="project-filter-count">{summary}</span>
            </div>
            <div class="window" node_ref=list on:scroll=move |_| measure() on:keydown=on_key>
                {body}
            </div>
        </section>
    }
}

/// The element id of the row at `position` in the shown list.
fn row_id(position: usize) -> String {
    format!("project-row-{position}")
}

/// 30912 as "30,912".
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}
