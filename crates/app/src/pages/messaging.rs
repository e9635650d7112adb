//! Messaging: the user's groups (with Send group announcement where allowed), their direct
//! messages (Reply is always there), and Create group, Start direct message and Send
//! announcement where allowed.

use std::sync::Arc;

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use tessera_core::{Query, Snapshot, Target};

use crate::actions;
use crate::widgets::action_view;

/// The page, as a split point (`#[lazy]`): its module is fetched when it is first opened.
#[leptos::lazy]
pub fn page() -> AnyView {
    view! { <Messaging/> }.into_any()
}

/// The messaging page.
#[component]
pub fn Messaging() -> impl IntoView {
    let state = crate::ui::session();
    let shell = crate::ui::shell();
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
                                        on:click=move |_| shell.notice.set(Some(done.clone()))
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
    let state = crate::ui::session();
    let shell = crate::ui::shell();
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
                shell.notice.set(Some(text));
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
