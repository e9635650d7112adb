//! The Projects the signed-in user sees, by name, with New project where allowed.

use leptos::prelude::*;

use crate::actions;
use crate::state::{AppState, Page};
use crate::widgets::action_view;

/// The Projects page.
#[component]
pub fn Projects() -> impl IntoView {
    let state = expect_context::<AppState>();
    move || {
        let (snapshot, user, now) = state.ready()?;
        let rows = actions::projects(&snapshot, &user, now);
        let count = rows.len();
        let new_project = actions::project_create(&snapshot, &user, now);
        Some(view! {
            <section aria-labelledby="projects-title">
                <h2 id="projects-title">"Projects " <span class="count">{count}</span></h2>
                <div class="actions">{action_view(new_project, String::new())}</div>
                <ul class="projects" data-testid="projects" data-user=user.clone()>
                    {rows
                        .into_iter()
                        .map(|(id, name, office)| {
                            let id = id.to_owned();
                            let open = id.clone();
                            view! {
                                <li data-project=id>
                                    <button
                                        type="button"
                                        class="link"
                                        on:click=move |_| state.page.set(Page::Project(open.clone()))
                                    >
                                        {name.to_owned()}
                                    </button>
                                    <span class="meta">{office.to_owned()}</span>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            </section>
        })
    }
}
