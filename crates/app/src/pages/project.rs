//! One Project: its actions (Create task, Upload file, Edit wiki) where allowed, each opening its
//! form (`crate::forms`); its tasks, documents, report and finance rows and its wiki, read from
//! the server (`GET /api/projects/{p}/items`, `…/wiki`: what the user may see of it) and read
//! again when the user's snapshot changes or the event stream tells of new content of the
//! Project. Every item shown passes the user's own snapshot as it renders (its view question,
//! as a search result does). Offline, the items the user's search cache holds of the Project
//! stand in, filtered the same way.

use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use tessera_core::{Query, ResourceKind, Snapshot, Timestamp};

use crate::actions;
use crate::content::{self, Concerns, Form, Item, Items, Wiki};
use crate::forms::{OnClose, OnMade, act_form};
use crate::ui::Page;
use crate::widgets::action_view;

/// The page, as a split point (`#[lazy]`): its module is fetched when it is first opened.
#[leptos::lazy]
pub fn page(id: String) -> AnyView {
    view! { <ProjectPage id=id/> }.into_any()
}

/// What the page holds of the server's answers.
#[derive(Debug, Clone, Default)]
struct Held {
    /// The items, unfiltered (they are filtered as they render).
    items: Vec<Item>,
    /// The wiki, once read.
    wiki: Option<Wiki>,
    /// Whether the items came from the device's search cache (the server could not be reached).
    offline: bool,
    /// Whether anything was read yet.
    read: bool,
}

/// The page of the Project `id`.
#[component]
pub fn ProjectPage(id: String) -> impl IntoView {
    let state = crate::ui::session();
    let search = crate::ui::search();
    let content = crate::ui::content();
    let shell = crate::ui::shell();
    let held: RwSignal<Held> = RwSignal::new(Held::default());
    // Which action's form is open, by the action's key.
    let open: RwSignal<Option<String>> = RwSignal::new(None);
    let reads = StoredValue::new(0_u64);
    let read = {
        let id = id.clone();
        move || {
            reads.update_value(|n| *n = n.wrapping_add(1));
            let seq = reads.get_value();
            let id = id.clone();
            spawn_local(async move {
                let (items, wiki) = futures::future::join(
                    content.read::<Items>(content::items_path(&id)),
                    content.read::<Wiki>(content::wiki_path(&id)),
                )
                .await;
                if reads.try_get_value() != Some(seq) {
                    return; // A later read, or the page is gone.
                }
                let next = match items {
                    Ok(items) => Held { items: items.items, wiki: wiki.ok(), offline: false, read: true },
                    Err(refused) if refused.code == "network" => Held {
                        items: search.cache.with_untracked(|cache| {
                            cache.in_project(&id).into_iter().map(Item::from).collect()
                        }),
                        wiki: None,
                        offline: true,
                        read: true,
                    },
                    // Not found (the Project is gone, or no longer the user's to see), or
                    // refused: nothing of it.
                    Err(_) => Held { read: true, ..Held::default() },
                };
                held.try_set(next);
            });
        }
    };
    // Read when the page opens, when the snapshot changes (what the server lists follows it),
    // and when the event stream tells of content of this Project.
    {
        let read = read.clone();
        let concerns = Concerns::Project(id.clone());
        Effect::new(move |previous: Option<(u64, Option<u64>)>| {
            let (told, data) = state.told();
            let touches = Concerns::touches(&data, &concerns);
            let version =
                state.snapshot.with(|snapshot| snapshot.as_ref().map(|snapshot| snapshot.header().version));
            let due = match previous {
                None => true,
                Some((seen, held_version)) => held_version != version || (seen != told && touches),
            };
            if due {
                read();
            }
            (told, version)
        });
    }
    move || {
        let (snapshot, user, now) = state.ready()?;
        let query = Query::view(ResourceKind::Project, id.clone());
        if !snapshot.allows(&user, &query, now) {
            return Some(view! { <p class="empty">"This project is not available to you."</p> }.into_any());
        }
        let policy = snapshot.policy();
        let name = policy.project_name(&id).unwrap_or_default().to_owned();
        let office = policy.project_office(&id).and_then(|office| policy.office_name(office)).unwrap_or("");
        let project_actions = actions::project_actions(&snapshot, &user, now, &id);
        let forms = {
            let (id, name, read) = (id.clone(), name.clone(), read.clone());
            let offered = project_actions.clone();
            move || {
                let key = open.try_get().flatten()?;
                // Only the form of an action the page offers.
                let action = offered.iter().find(|action| action.key == key && action.allowed)?;
                if content.hidden(&action.query) {
                    return None;
                }
                let form = match key.as_str() {
                    "create-task" => Form::CreateTask { project: id.clone() },
                    "upload-file" => Form::UploadFile { project: id.clone() },
                    "edit-wiki" => Form::EditWiki { project: id.clone() },
                    _ => return None,
                };
                let start = if key == "edit-wiki" {
                    held.with_untracked(|held| held.wiki.as_ref().and_then(|wiki| wiki.text.clone()))
                        .unwrap_or_default()
                } else {
                    String::new()
                };
                let read = read.clone();
                let on_made: OnMade = Arc::new(move |_: Option<String>| {
                    open.try_set(None);
                    read();
                });
                let on_close: OnClose = Arc::new(move || {
                    open.try_set(None);
                });
                Some(act_form(form, name.clone(), Vec::new(), start, on_made, on_close))
            }
        };
        let lists = {
            let (snapshot, id) = (Arc::clone(&snapshot), id.clone());
            move || held.try_with(|held| lists_view(&snapshot, &user, now, &id, held))
        };
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
                            .map(|action| {
                                let slot = action.key.to_owned();
                                action_view(action, open, slot)
                            })
                            .collect_view()}
                    </div>
                    {forms}
                    {lists}
                </article>
            }
            .into_any(),
        )
    }
}

/// The Project's items and wiki, each item shown only where `user`'s snapshot lets them see it.
fn lists_view(snapshot: &Snapshot, user: &str, now: Timestamp, project: &str, held: &Held) -> AnyView {
    if !held.read {
        return view! { <p class="meta" data-testid="project-lists" data-state="loading">"Loading…"</p> }
            .into_any();
    }
    let policy = snapshot.policy();
    let author = |id: &Option<String>| -> Option<String> {
        let id = id.as_deref()?;
        Some(policy.user_summary(id).map_or_else(|| id.to_owned(), |person| person.name.to_owned()))
    };
    let shown: Vec<&Item> = held
        .items
        .iter()
        .filter(|item| item.project.as_deref() == Some(project))
        .filter(|item| item.query().is_some_and(|query| snapshot.allows(user, &query, now)))
        .collect();
    let section = |kind: &'static str, title: &'static str, always: bool| {
        let rows: Vec<&Item> = shown.iter().copied().filter(|item| item.kind == kind).collect();
        (always || !rows.is_empty()).then(|| {
            let rows = rows
                .into_iter()
                .map(|item| {
                    let by = match (author(&item.author), &item.at) {
                        (Some(name), Some(at)) => Some(format!("{name} · {}", content::short_time(at))),
                        (Some(name), None) => Some(name),
                        _ => None,
                    };
                    let text = item.text.clone().map(|text| {
                        view! {
                            <details class="file-text">
                                <summary>"Show text"</summary>
                                <pre>{text}</pre>
                            </details>
                        }
                    });
                    view! {
                        <li data-id=item.id.clone()>
                            <span class="title">{item.title.clone()}</span>
                            {by.map(|by| view! { <span class="meta">{by}</span> })}
                            {text}
                        </li>
                    }
                })
                .collect_view();
            view! {
                <section class="rows" data-kind=kind>
                    <h3>{title}</h3>
                    <ul>{rows}</ul>
                </section>
            }
        })
    };
    let wiki = held.wiki.as_ref().map(|wiki| {
        let by = match (author(&wiki.author), &wiki.at) {
            (Some(name), Some(at)) => format!("Last written by {name}, {}.", content::short_time(at)),
            _ => String::new(),
        };
        match &wiki.text {
            Some(text) => view! {
                <section class="wiki" data-testid="wiki">
                    <h3>"Wiki"</h3>
                    <div class="wiki-text">{text.clone()}</div>
                    <p class="meta">{by}</p>
                </section>
            }
            .into_any(),
            None => view! {
                <section class="wiki" data-testid="wiki">
                    <h3>"Wiki"</h3>
                    <p class="meta">"No wiki yet."</p>
                </section>
            }
            .into_any(),
        }
    });
    view! {
        <div data-testid="project-lists" data-state="read" data-source=if held.offline { "cache" } else { "server" }>
            {held.offline.then(|| view! {
                <p class="meta">"Offline: what this device's search cache holds of this project."</p>
            })}
            {section("task", "Tasks", true)}
            {section("document", "Documents", true)}
            {section("report", "Reports", false)}
            {section("finance", "Finance", false)}
            {wiki}
        </div>
    }
    .into_any()
}
