//! The pages: sign-in picker, status bar, refusal banner, projects, a project, messaging and
//! search. Each reads [`AppState::ready`] and renders nothing of the organisation without it.
//!
//! An action the user may not take is not rendered; with "Why can't I?" on it is rendered as a
//! disabled button with the evaluator's explanation and the edits that would allow it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use tessera_core::{Query, Snapshot, Target, Timestamp};

use crate::actions::{self, Action};
use crate::browser;
use crate::search::{self, Item};
use crate::state::{AppState, Page};
use crate::trust::rough_duration;

/// The whole app.
#[component]
pub fn App() -> impl IntoView {
    let state = AppState::restore();
    state.start();
    provide_context(state);
    // After a page change, focus moves to the new page, not to the body.
    let first_page = StoredValue::new(true);
    Effect::new(move |_| {
        state.page.track();
        if first_page.get_value() {
            first_page.set_value(false);
        } else {
            browser::focus("main");
        }
    });
    let first_render = StoredValue::new(false);
    Effect::new(move |_| {
        if state.ready().is_some() && !first_render.get_value() {
            first_render.set_value(true);
            browser::mark("tessera:first-filtered-render");
        }
    });
    view! {
        <a class="skip" href="#main">"Skip to content"</a>
        <header class="top">
            <h1 class="brand">"Tessera"<span class="sub">" demo workspace"</span></h1>
            <UserPicker/>
            <ExplainToggle/>
        </header>
        <StatusBar/>
        <Banner/>
        <Notice/>
        <main id="main" tabindex="-1">
            {move || {
                if state.user.with(String::is_empty) {
                    view! { <p class="empty">"Pick a user above to sign in."</p> }.into_any()
                } else if !state.shown() {
                    let text = if state.refusal.with(Option::is_some) {
                        "Nothing is shown: there is no policy snapshot the app can trust."
                    } else {
                        "Loading the policy snapshot…"
                    };
                    view! { <p class="empty" data-testid="no-data">{text}</p> }.into_any()
                } else {
                    view! { <Nav/> <Content/> }.into_any()
                }
            }}
        </main>
    }
}

/// The demo sign-in: a select and a button, so that moving through the list with the arrow
/// keys does not sign in as each user in turn.
#[component]
fn UserPicker() -> impl IntoView {
    let state = expect_context::<AppState>();
    let chosen = RwSignal::new(state.user.get_untracked());
    view! {
        <form
            class="picker"
            on:submit=move |ev: SubmitEvent| {
                ev.prevent_default();
                let user = chosen.get_untracked();
                if !user.is_empty() && user != state.user.get_untracked() {
                    state.sign_in(user);
                }
            }
        >
            <label for="user">"Signed in as"</label>
            <select id="user" on:change=move |ev| chosen.set(event_target_value(&ev)) prop:value=move || chosen.get()>
                <option value="" disabled=true selected=move || chosen.with(String::is_empty)>
                    "Choose a demo user…"
                </option>
                {move || {
                    let current = chosen.get_untracked();
                    state
                        .users
                        .get()
                        .into_iter()
                        .map(|user| {
                            let selected = user.id == current;
                            let label = format!("{} ({}, {}, {})", user.name, user.profile, user.office, user.network);
                            view! { <option value=user.id selected=selected>{label}</option> }
                        })
                        .collect_view()
                }}
            </select>
            <button type="submit" class="signin">"Sign in"</button>
        </form>
    }
}

#[component]
fn ExplainToggle() -> impl IntoView {
    let state = expect_context::<AppState>();
    view! {
        <label class="toggle">
            <input
                type="checkbox"
                id="explain"
                prop:checked=move || state.explain.get()
                on:change=move |ev| state.set_explain(event_target_checked(&ev))
            />
            " Why can't I?"
        </label>
    }
}

/// The snapshot's version and issuer and the network state are announced when they change;
/// the age and expiry, which change every few seconds, are not.
#[component]
fn StatusBar() -> impl IntoView {
    let state = expect_context::<AppState>();
    let version = Memo::new(move |_| {
        state.snapshot.with(|snapshot| {
            snapshot.as_ref().map(|snapshot| {
                let header = snapshot.header();
                format!("Snapshot v{} from {}", header.version, header.issuer)
            })
        })
    });
    let times = move || {
        let now = state.now.get();
        state.snapshot.with(|snapshot| {
            snapshot.as_ref().map(|snapshot| {
                let header = snapshot.header();
                format!(
                    " · signed {} · expires {}",
                    rough_duration(now.unix() - header.issued_at.unix()),
                    rough_duration(now.unix() - header.expires_at.unix()),
                )
            })
        })
    };
    view! {
        <div class="status">
            <span data-testid="snapshot-status">
                <span role="status">{move || version.get().unwrap_or_else(|| "No snapshot yet".to_owned())}</span>
                {times}
            </span>
            <span
                class="net"
                class:offline=move || !state.online.get()
                role="status"
                data-testid="network-status"
            >
                {move || if state.online.get() { "● Online" } else { "○ Offline" }}
            </span>
        </div>
    }
}

#[component]
fn Banner() -> impl IntoView {
    let state = expect_context::<AppState>();
    move || {
        state.refusal.get().map(|refusal| {
            let kept = state.snapshot.with(|snapshot| {
                snapshot.as_ref().map(|snapshot| {
                    format!(
                        " The last good snapshot (v{}) is kept and will be used again once the server sends it.",
                        snapshot.header().version
                    )
                })
            });
            view! {
                <div class="banner" role="alert" data-testid="refusal" data-code=refusal.code.clone()>
                    <strong>"Policy snapshot refused. "</strong>
                    {refusal.message}
                    " Nothing is shown until a snapshot passes verification."
                    {kept}
                </div>
            }
        })
    }
}

#[component]
fn Notice() -> impl IntoView {
    let state = expect_context::<AppState>();
    view! {
        <div class="notice" aria-live="polite">
            {move || {
                state.notice.get().map(|text| {
                    view! {
                        <p>
                            {text} " "
                            <button type="button" class="link" on:click=move |_| state.notice.set(None)>
                                "Dismiss"
                            </button>
                        </p>
                    }
                })
            }}
        </div>
    }
}

#[component]
fn Nav() -> impl IntoView {
    let state = expect_context::<AppState>();
    let tab = move |page: Page, label: &'static str| {
        let target = page.clone();
        let current = move || {
            let shown = state.page.get();
            shown == page || (page == Page::Projects && matches!(shown, Page::Project(_)))
        };
        view! {
            <button
                type="button"
                class="tab"
                aria-current=move || current().then_some("page")
                on:click=move |_| state.page.set(target.clone())
            >
                {label}
            </button>
        }
    };
    view! {
        <nav class="tabs" aria-label="Sections">
            {tab(Page::Projects, "Projects")}
            {tab(Page::Messaging, "Messaging")}
            {tab(Page::Search, "Search")}
        </nav>
    }
}

#[component]
fn Content() -> impl IntoView {
    let state = expect_context::<AppState>();
    move || match state.page.get() {
        Page::Projects => view! { <Projects/> }.into_any(),
        Page::Project(id) => view! { <ProjectPage id=id/> }.into_any(),
        Page::Messaging => view! { <Messaging/> }.into_any(),
        Page::Search => view! { <SearchPage/> }.into_any(),
    }
}

#[component]
fn Projects() -> impl IntoView {
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

#[component]
fn ProjectPage(id: String) -> impl IntoView {
    let state = expect_context::<AppState>();
    move || {
        let (snapshot, user, now) = state.ready()?;
        let query = Query::view(tessera_core::ResourceKind::Project, id.clone());
        if !snapshot.allows(&user, &query, now) {
            return Some(view! { <p class="empty">"This project is not available to you."</p> }.into_any());
        }
        let policy = snapshot.policy();
        let name = policy.project_name(&id).unwrap_or_default().to_owned();
        let office = policy.project_office(&id).and_then(|office| policy.office_name(office)).unwrap_or("");
        let items = state.cache.with(|cache| cache.in_project(&id));
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
                    <button type="button" class="link back" on:click=move |_| state.page.set(Page::Projects)>
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

/// Numbers that keep element ids unique (explanations referred to by `aria-describedby`).
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// An action: a button when allowed; nothing when denied, or, with "Why can't I?" on, a
/// disabled button with the reason.
fn action_view(action: Action, context: String) -> Option<AnyView> {
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
    let (message, code, grants) = match action.why {
        Some(why) => (
            sentence(&why.message),
            Some(why.code.as_str()),
            why.grants.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ),
        None => ("There is nobody you may find in person search.".to_owned(), None, Vec::new()),
    };
    let described = format!("why-{}-{}", action.key, NEXT_ID.fetch_add(1, Ordering::Relaxed));
    Some(
        view! {
            <div class="denied" data-denied=action.key>
                <button type="button" class="action" disabled=true aria-describedby=described.clone()>
                    {action.label}
                </button>
                <div class="why" id=described>
                    <p>
                        {message} " " {code.map(|code| view! { <code>{code}</code> })}
                    </p>
                    {(!grants.is_empty())
                        .then(|| {
                            view! {
                                <p class="grants">"Would be allowed if an administrator were to:"</p>
                                <ul class="grants">
                                    {grants.into_iter().map(|grant| view! { <li>{grant}</li> }).collect_view()}
                                </ul>
                            }
                        })}
                </div>
            </div>
        }
        .into_any(),
    )
}

#[component]
fn Messaging() -> impl IntoView {
    let state = expect_context::<AppState>();
    let picking = RwSignal::new(false);
    move || {
        let (snapshot, user, now) = state.ready()?;
        let top = actions::messaging_actions(&snapshot, &user, now);
        let groups = actions::groups(&snapshot, &user, now);
        let conversations: Vec<(String, String)> = actions::conversations(&snapshot, &user, now)
            .into_iter()
            .map(|dm| (dm.to_owned(), other_participant(&snapshot, dm, &user)))
            .collect();
        let candidates: Vec<(String, String)> = actions::dm_candidates(&snapshot, &user, now)
            .into_iter()
            .map(|person| (person.id.to_owned(), person.name.to_owned()))
            .collect();
        Some(view! {
            <section aria-labelledby="messaging-title" data-testid="messaging" data-user=user.clone()>
                <h2 id="messaging-title">"Messaging"</h2>
                <div class="actions">
                    {top
                        .into_iter()
                        .map(|action| {
                            if action.key == "start-dm" && action.allowed {
                                view! {
                                    <button
                                        type="button"
                                        class="action"
                                        data-action="start-dm"
                                        aria-expanded=move || picking.get().to_string()
                                        on:click=move |_| picking.update(|open| *open = !*open)
                                    >
                                        "Start direct message"
                                    </button>
                                }
                                    .into_any()
                                    .into()
                            } else {
                                action_view(action, String::new())
                            }
                        })
                        .collect_view()}
                </div>
                {move || picking.get().then(|| person_picker(candidates.clone()))}
                <h3>"Your groups"</h3>
                <ul class="groups" data-testid="groups">
                    {groups
                        .into_iter()
                        .map(|group| {
                            let context = format!("group {}", group.id);
                            view! {
                                <li data-group=group.id.clone()>
                                    <span class="name">{group.id.clone()}</span>
                                    {action_view(group.announce, context)}
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
                <h3>"Direct messages"</h3>
                <ul class="dms" data-testid="dms">
                    {conversations
                        .into_iter()
                        .map(|(dm, other)| {
                            let done = format!("Reply to {other}: sent (demo: nothing is sent).");
                            view! {
                                <li data-dm=dm>
                                    <span class="name">{format!("Conversation with {other}")}</span>
                                    <button
                                        type="button"
                                        class="action"
                                        data-action="reply"
                                        on:click=move |_| state.notice.set(Some(done.clone()))
                                    >
                                        "Reply"
                                    </button>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            </section>
        })
    }
}

fn other_participant(snapshot: &Arc<Snapshot>, dm: &str, user: &str) -> String {
    let policy = snapshot.policy();
    policy
        .dm_participants(dm)
        .and_then(|pair| pair.into_iter().find(|id| *id != user))
        .map(|id| policy.user_summary(id).map_or_else(|| id.to_owned(), |person| person.name.to_owned()))
        .unwrap_or_else(|| "someone".to_owned())
}

fn person_picker(people: Vec<(String, String)>) -> impl IntoView {
    let state = expect_context::<AppState>();
    let chosen = RwSignal::new(people.first().map(|(id, _)| id.clone()).unwrap_or_default());
    let names = people.clone();
    view! {
        <form
            class="picker-form"
            data-testid="dm-picker"
            on:submit=move |ev: SubmitEvent| {
                ev.prevent_default();
                let id = chosen.get_untracked();
                let Some((snapshot, user, now)) = state.ready() else { return };
                let query = Query::can("dm.start", Target::person(id.clone()));
                let name = names.iter().find(|(person, _)| *person == id).map_or(id.clone(), |(_, name)| name.clone());
                let text = if snapshot.allows(&user, &query, now) {
                    format!("Direct message with {name} started (demo: nothing is sent).")
                } else {
                    format!("You may not start a direct message with {name}.")
                };
                state.notice.set(Some(text));
            }
        >
            <label for="dm-person">"Person"</label>
            <select id="dm-person" on:change=move |ev| chosen.set(event_target_value(&ev))>
                {people
                    .into_iter()
                    .map(|(id, name)| view! { <option value=id>{name}</option> })
                    .collect_view()}
            </select>
            <button type="submit" class="action">"Start"</button>
        </form>
    }
}

#[component]
fn SearchPage() -> impl IntoView {
    let state = expect_context::<AppState>();
    let text = RwSignal::new(state.results.get_untracked().map(|results| results.query).unwrap_or_default());
    view! {
        <section aria-labelledby="search-title">
            <h2 id="search-title">"Search"</h2>
            <form
                class="search"
                role="search"
                on:submit=move |ev: SubmitEvent| {
                    ev.prevent_default();
                    state.search(text.get_untracked());
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
                let results = state.results.get()?;
                let (snapshot, user, now) = state.ready()?;
                Some(results_view(&snapshot, &user, now, &results))
            }}
        </section>
    }
}

fn results_view(snapshot: &Snapshot, user: &str, now: Timestamp, results: &crate::state::Results) -> AnyView {
    let (items, from_cache) = (&results.items, results.from_cache);
    let state = expect_context::<AppState>();
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
                                    on:click=move |_| state.page.set(crate::state::Page::Project(id.clone()))
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

/// A message as a sentence: a capital first letter and a full stop.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = chars.next().map(|first| first.to_uppercase().collect()).unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}
