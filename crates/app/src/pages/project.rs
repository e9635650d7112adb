//! One Project: its actions (Create task, Upload file, Edit wiki) where allowed, and the tasks,
//! documents, report and finance rows the user may see.

use leptos::prelude::*;
use tessera_core::Query;

use crate::actions;
use crate::search::{self, Item};
use crate::ui::Page;
use crate::widgets::action_view;

/// The page, as a split point (`#[lazy]`): its module is fetched when it is first opened.
#[leptos::lazy]
pub fn page(id: String) -> AnyView {
    view! { <ProjectPage id=id/> }.into_any()
}

/// The page of the Project `id`.
#[component]
pub fn ProjectPage(id: String) -> impl IntoView {
    let state = crate::ui::session();
    let search = crate::ui::search();
    let shell = crate::ui::shell();
    move || {
        let (snapshot, user, now) = state.ready()?;
        let query = Query::view(tessera_core::ResourceKind::Project, id.clone());
        if !snapshot.allows(&user, &query, now) {
            return Some(view! { <p class="empty">"This project is not available to you."</p> }.into_any());
        }
        let policy = snapshot.policy();
        let name = policy.project_name(&id).unwrap_or_default().to_owned();
        let office = policy.project_office(&id).and_then(|office| policy.office_name(office)).unwrap_or("");
        let items = search.cache.with(|cache| cache.in_project(&id));
        let shown: Vec<Item> = search::visible(&snapshot, &user, now, &items).into_iter().cloned().collect();
        let section = |kind: &'static str, title: &'static str| {
            let rows: Vec<Item> = shown.iter().filter(|item| item.kind == kind).cloned().collect();
            (!rows.is_empty()).then(|| {
                view! {
                    <section class="rows" data-kind=kind>
                        <h3>{title}</h3>
                        <ul>
                            {rows
                                .into_iter()
                                .map(|item| view! { <li data-id=item.id>{item.title}</li> })
                                .collect_view()}
                        </ul>
                    </section>
                }
            })
        };
        let project_actions = actions::project_actions(&snapshot, &user, now, &id);
        Some(
            view! {
                <article class="project" data-testid="project-page" data-project=id.clone()>
                    <button type="button" class="link back" on:click=move |_| shell.page.set(Page::Projects)>
                        "← All projects"
                    </button>
                    <h2>{name.clone()}</h2>
                    <p class="meta">{format!("{office} office · {id}")}</p>
                    <div class="actions" data-testid="project-actions">
                        {project_actions
                            .into_iter()
                            .map(|action| action_view(action, name.clone()))
                            .collect_view()}
                    </div>
                    {section("task", "Tasks")}
                    {section("document", "Documents")}
                    {section("report", "Reports")}
                    {section("finance", "Finance")}
                </article>
            }
            .into_any(),
        )
    }
}
