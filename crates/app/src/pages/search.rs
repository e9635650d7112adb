//! Global search: the server's answer (or, offline, the device's cache), every result passed
//! through the evaluator as it renders.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use tessera_core::{Snapshot, Timestamp};

use crate::search;
use crate::search_state::Results;
use crate::ui::Page;

/// The page, as a split point (`#[lazy]`): its module is fetched when it is first opened.
#[leptos::lazy]
pub fn page() -> AnyView {
    view! { <SearchPage/> }.into_any()
}

/// The search page.
#[component]
pub fn SearchPage() -> impl IntoView {
    let state = crate::ui::session();
    let search = crate::ui::search();
    let text = RwSignal::new(search.results.get_untracked().map(|results| results.query).unwrap_or_default());
    view! {
        <section aria-labelledby="search-title">
            <h2 id="search-title">"Search"</h2>
            <form
                class="search"
                role="search"
                on:submit=move |ev: SubmitEvent| {
                    ev.prevent_default();
                    search.search(text.get_untracked());
                }
            >
                <label for="q">"Search projects, tasks, documents, people, reports and finance"</label>
                <div class="row">
                    <input
                        id="q"
                        type="search"
                        autocomplete="off"
                        prop:value=move || text.get()
                        on:input=move |ev| text.set(event_target_value(&ev))
                    />
                    <button type="submit" class="action">"Search"</button>
                </div>
            </form>
            {move || {
                let results = search.results.get()?;
                let (snapshot, user, now) = state.ready()?;
                Some(results_view(&snapshot, &user, now, &results))
            }}
        </section>
    }
}

fn results_view(snapshot: &Snapshot, user: &str, now: Timestamp, results: &Results) -> AnyView {
    let (items, from_cache) = (&results.items, results.from_cache);
    let shell = crate::ui::shell();
    let shown = search::visible(snapshot, user, now, items);
    let count = shown.len();
    let source = if from_cache { "from this device's cache (offline)" } else { "from the server" };
    let policy = snapshot.policy();
    let rows = shown
        .into_iter()
        .map(|item| {
            let project = item.project.as_deref().and_then(|id| policy.project_name(id)).map(str::to_owned);
            let open = item.project.clone().filter(|_| item.kind != "person");
            view! {
                <li data-kind=item.kind.clone() data-id=item.id.clone() data-project=item.project.clone()>
                    <span class="kind">{item.kind.clone()}</span>
                    {match open {
                        Some(id) => {
                            view! {
                                <button
                                    type="button"
                                    class="link"
                                    on:click=move |_| shell.page.set(Page::Project(id.clone()))
                                >
                                    {item.title.clone()}
                                </button>
                            }
                                .into_any()
                        }
                        None => view! { <span>{item.title.clone()}</span> }.into_any(),
                    }}
                    {project.filter(|_| item.kind != "project").map(|name| view! { <span class="meta">{name}</span> })}
                </li>
            }
        })
        .collect_view();
    view! {
        <p
            class="meta"
            data-testid="search-summary"
            data-query=results.query.clone()
            data-seq=results.seq
            data-source=if from_cache { "cache" } else { "server" }
        >
            {format!("{count} {} {source}", if count == 1 { "result" } else { "results" })}
        </p>
        <ul class="results" data-testid="results">{rows}</ul>
    }
    .into_any()
}
