//! Messaging: Create group, Start direct message and Send announcement where allowed, each
//! opening its form (`crate::forms`); the announcements of the user's Network; the user's groups
//! by name (`GET /api/groups`), each opening its announcements (with Send group announcement
//! where allowed); their direct messages, each opening its messages and a reply (`dm.reply`
//! needs only being in the conversation). Lists are read from the server and read again when
//! the snapshot changes or the event stream tells of what they show; a group's or a
//! conversation's messages render only while the user's snapshot lets them see it.

use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use tessera_core::{Policy, Query, ResourceKind, Snapshot, Target};

use crate::actions;
use crate::content::{self, Concerns, Form, Groups, Message, Messages};
use crate::forms::{OnClose, OnMade, act_form};
use crate::widgets::action_view;

/// The page, as a split point (`#[lazy]`): its module is fetched when it is first opened.
#[leptos::lazy]
pub fn page() -> AnyView {
    view! { <Messaging/> }.into_any()
}

/// What an open panel is: a group's announcements or a conversation, by its slot in `open`
/// (`group:ID`, `dm:ID`).
fn panel_of(slot: &str) -> Option<Concerns> {
    if let Some(group) = slot.strip_prefix("group:") {
        return Some(Concerns::Announcements(Some(group.to_owned())));
    }
    slot.strip_prefix("dm:").map(|dm| Concerns::Dm(dm.to_owned()))
}

/// The messaging page.
#[component]
pub fn Messaging() -> impl IntoView {
    let state = crate::ui::session();
    let content = crate::ui::content();
    // What is open: a form (`create-group`, `start-dm`, `send-announcement`) or a panel
    // (`group:ID`, `dm:ID`).
    let open: RwSignal<Option<String>> = RwSignal::new(None);
    let network: RwSignal<Option<Vec<Message>>> = RwSignal::new(None);
    let names: RwSignal<Vec<content::Group>> = RwSignal::new(Vec::new());
    // The open panel's messages, with its slot.
    let panel: RwSignal<Option<(String, Vec<Message>)>> = RwSignal::new(None);
    let read_network = move || {
        spawn_local(async move {
            if let Ok(read) = content.read::<Messages>(content::announcements_path(None)).await {
                network.try_set(Some(read.messages));
            }
        });
    };
    let read_names = move || {
        spawn_local(async move {
            if let Ok(read) = content.read::<Groups>("/api/groups".to_owned()).await {
                names.try_set(read.groups);
            }
        });
    };
    let read_panel = move |slot: Option<String>| {
        let Some((slot, concerns)) = slot.and_then(|slot| Some((slot.clone(), panel_of(&slot)?))) else {
            panel.set(None);
            return;
        };
        spawn_local(async move {
            let path = match &concerns {
                Concerns::Dm(dm) => content::messages_path(dm),
                Concerns::Announcements(group) => content::announcements_path(group.as_deref()),
                _ => return,
            };
            let read = content.read::<Messages>(path).await.map(|read| read.messages).unwrap_or_default();
            // Only if that panel is still the one open.
            if open.try_with_untracked(|open| open.as_deref() == Some(slot.as_str())) == Some(true) {
                panel.try_set(Some((slot, read)));
            }
        });
    };
    // The page's lists: read when it opens, when the snapshot changes, and when the event
    // stream tells of them.
    Effect::new(move |previous: Option<(u64, Option<u64>)>| {
        let (told, data) = state.told();
        let concerns = Concerns::parse(&data);
        let version =
            state.snapshot.with(|snapshot| snapshot.as_ref().map(|snapshot| snapshot.header().version));
        match previous {
            Some((seen, held)) if held == version => {
                if seen != told {
                    match concerns {
                        Some(Concerns::All) => {
                            read_network();
                            read_names();
                        }
                        Some(Concerns::Announcements(None)) => read_network(),
                        Some(Concerns::Group(_)) => read_names(),
                        _ => {}
                    }
                }
            }
            _ => {
                read_network();
                read_names();
            }
        }
        (told, version)
    });
    // The open panel: read when opened, and when the event stream tells of it.
    Effect::new(move |previous: Option<(u64, Option<String>)>| {
        let slot = open.try_get().flatten();
        let (told, data) = state.told();
        let touches =
            slot.as_deref().and_then(panel_of).is_some_and(|concerns| Concerns::touches(&data, &concerns));
        let due = match &previous {
            None => true,
            Some((seen, was)) => *was != slot || (*seen != told && touches),
        };
        if due {
            read_panel(slot.clone());
        }
        (told, slot)
    });
    move || {
        let (snapshot, user, now) = state.ready()?;
        let top = actions::messaging_actions(&snapshot, &user, now);
        let groups = actions::groups(&snapshot, &user, now);
        let conversations: Vec<(String, String)> = actions::conversations(&snapshot, &user, now)
            .into_iter()
            .map(|dm| (dm.to_owned(), other_participant(snapshot.policy(), dm, &user)))
            .collect();
        let candidates: Vec<(String, String)> = actions::dm_candidates(&snapshot, &user, now)
            .into_iter()
            .map(|person| (person.id.to_owned(), person.name.to_owned()))
            .collect();
        let network_id =
            snapshot.policy().user_summary(&user).map(|me| me.network.to_owned()).unwrap_or_default();
        let members: Vec<(String, String)> = actions::findable(&snapshot, &user, now)
            .into_iter()
            .filter(|person| person.network == network_id)
            .map(|person| (person.id.to_owned(), person.name.to_owned()))
            .collect();
        let offered = top.clone();
        let top_form = move || {
            let slot = open.try_get().flatten()?;
            // Only the form of an action the page offers.
            let action = offered.iter().find(|action| action.key == slot && action.allowed)?;
            if content.hidden(&action.query) {
                return None;
            }
            let (form, people) = match slot.as_str() {
                "create-group" => (Form::CreateGroup, members.clone()),
                "start-dm" => (Form::StartDm, candidates.clone()),
                "send-announcement" => (Form::Announce { group: None }, Vec::new()),
                _ => return None,
            };
            let reads_network = matches!(form, Form::Announce { .. });
            let on_made: OnMade = Arc::new(move |id: Option<String>| {
                let next = match (slot.as_str(), id) {
                    ("create-group", Some(id)) => Some(format!("group:{id}")),
                    ("start-dm", Some(id)) => Some(format!("dm:{id}")),
                    _ => None,
                };
                if reads_network {
                    read_network();
                }
                open.try_set(next);
            });
            let on_close: OnClose = Arc::new(move || {
                open.try_set(None);
            });
            Some(act_form(form, String::new(), people, String::new(), on_made, on_close))
        };
        let group_rows = groups
            .iter()
            .map(|group| {
                let slot = format!("group:{}", group.id);
                let toggle = slot.clone();
                let expanded = slot.clone();
                let id = group.id.clone();
                let name = move || group_name(&names, &id);
                view! {
                    <li data-group=group.id.clone()>
                        <button
                            type="button"
                            class="link name"
                            aria-expanded=move || (open.try_with(|open| open.as_deref() == Some(expanded.as_str())) == Some(true)).to_string()
                            on:click=move |_| toggle_slot(open, &toggle)
                        >
                            {name}
                        </button>
                        {action_view(group.announce.clone(), open, slot)}
                    </li>
                }
            })
            .collect_view();
        let group_panel = {
            let snapshot = Arc::clone(&snapshot);
            let user = user.clone();
            move || {
                let slot = open.try_get().flatten()?;
                let group = slot.strip_prefix("group:")?.to_owned();
                let row = groups.iter().find(|row| row.id == group)?.clone();
                // Only a group the user's snapshot lets them see.
                if !snapshot.allows(&user, &Query::view(ResourceKind::Group, group.clone()), now) {
                    return None;
                }
                let may_announce = row.announce.allowed && !content.hidden(&row.announce.query);
                let title = group_name(&names, &group);
                Some(view! {
                    <section class="panel" data-testid="group-panel" data-group=group.clone()>
                        <h4>{format!("Announcements of {title}")}</h4>
                        {messages_view(Arc::clone(&snapshot), panel, slot.clone())}
                        {may_announce.then(|| sending_form(Form::Announce { group: Some(group.clone()) }, title, slot.clone(), read_panel))}
                    </section>
                })
            }
        };
        let dm_rows = conversations
            .iter()
            .map(|(dm, other)| {
                let slot = format!("dm:{dm}");
                let toggle = slot.clone();
                view! {
                    <li data-dm=dm.clone()>
                        <span class="name">{format!("Conversation with {other}")}</span>
                        <button
                            type="button"
                            class="action"
                            data-action="reply"
                            aria-expanded=move || (open.try_with(|open| open.as_deref() == Some(slot.as_str())) == Some(true)).to_string()
                            on:click=move |_| toggle_slot(open, &toggle)
                        >
                            "Reply"
                        </button>
                    </li>
                }
            })
            .collect_view();
        let dm_panel = {
            let snapshot = Arc::clone(&snapshot);
            let user = user.clone();
            move || {
                let slot = open.try_get().flatten()?;
                let dm = slot.strip_prefix("dm:")?.to_owned();
                let (_, other) = conversations.iter().find(|(id, _)| *id == dm)?.clone();
                // Only a conversation the user's snapshot says they are in.
                if !snapshot.allows(&user, &Query::can("dm.reply", Target::dm(dm.clone())), now) {
                    return None;
                }
                Some(view! {
                    <section class="panel" data-testid="dm-panel" data-dm=dm.clone()>
                        <h4>{format!("Conversation with {other}")}</h4>
                        {messages_view(Arc::clone(&snapshot), panel, slot.clone())}
                        {sending_form(Form::Reply { dm: dm.clone() }, other, slot.clone(), read_panel)}
                    </section>
                })
            }
        };
        let network_list = {
            let snapshot = Arc::clone(&snapshot);
            move || {
                network.try_with(|read| match read {
                    None => view! { <p class="meta">"Loading…"</p> }.into_any(),
                    Some(messages) if messages.is_empty() => {
                        view! { <p class="meta" data-testid="announcements">"No announcements yet."</p> }.into_any()
                    }
                    Some(messages) => view! {
                        <ul class="messages" data-testid="announcements">{message_rows(snapshot.policy(), messages)}</ul>
                    }
                    .into_any(),
                })
            }
        };
        Some(view! {
            <section aria-labelledby="messaging-title" data-testid="messaging" data-user=user.clone()>
                <h2 id="messaging-title">"Messaging"</h2>
                <div class="actions">
                    {top
                        .into_iter()
                        .map(|action| {
                            let slot = action.key.to_owned();
                            action_view(action, open, slot)
                        })
                        .collect_view()}
                </div>
                {top_form}
                <h3>"Announcements"</h3>
                {network_list}
                <h3>"Your groups"</h3>
                <ul class="groups" data-testid="groups">{group_rows}</ul>
                {group_panel}
                <h3>"Direct messages"</h3>
                <ul class="dms" data-testid="dms">{dm_rows}</ul>
                {dm_panel}
            </section>
        })
    }
}

/// Opens the panel or form `slot`, or closes it if it is open.
fn toggle_slot(open: RwSignal<Option<String>>, slot: &str) {
    open.update(|open| *open = if open.as_deref() == Some(slot) { None } else { Some(slot.to_owned()) });
}

/// A group's name as `GET /api/groups` gave it, or its id.
fn group_name(names: &RwSignal<Vec<content::Group>>, id: &str) -> String {
    names
        .try_with(|names| names.iter().find(|group| group.id == id).and_then(|group| group.name.clone()))
        .flatten()
        .unwrap_or_else(|| id.to_owned())
}

/// A form that stays open (a reply, a group announcement): sent, the panel `slot` is read
/// again and the form starts afresh.
fn sending_form(
    form: Form,
    context: String,
    slot: String,
    read_panel: impl Fn(Option<String>) + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let sent = RwSignal::new(0_u32);
    move || {
        sent.track();
        let (slot, read_panel) = (slot.clone(), read_panel.clone());
        let on_made: OnMade = Arc::new(move |_: Option<String>| {
            read_panel(Some(slot.clone()));
            sent.try_update(|n| *n = n.wrapping_add(1));
        });
        let on_close: OnClose = Arc::new(move || {
            sent.try_update(|n| *n = n.wrapping_add(1));
        });
        act_form(form.clone(), context.clone(), Vec::new(), String::new(), on_made, on_close)
    }
}

/// The open panel's messages, oldest first.
fn messages_view(
    snapshot: Arc<Snapshot>,
    panel: RwSignal<Option<(String, Vec<Message>)>>,
    slot: String,
) -> impl IntoView {
    move || {
        panel.try_with(|panel| match panel {
            Some((read, messages)) if *read == slot => {
                if messages.is_empty() {
                    view! { <p class="meta" data-testid="messages">"Nothing yet."</p> }.into_any()
                } else {
                    view! {
                        <ul class="messages" data-testid="messages">{message_rows(snapshot.policy(), messages)}</ul>
                    }
                    .into_any()
                }
            }
            _ => view! { <p class="meta">"Loading…"</p> }.into_any(),
        })
    }
}

fn message_rows(policy: &Policy, messages: &[Message]) -> impl IntoView {
    messages
        .iter()
        .map(|message| {
            let author = policy
                .user_summary(&message.author)
                .map_or_else(|| message.author.clone(), |person| person.name.to_owned());
            view! {
                <li data-id=message.id.clone()>
                    <p class="text">{message.text.clone()}</p>
                    <p class="meta">{format!("{author} · {}", content::short_time(&message.at))}</p>
                </li>
            }
        })
        .collect_view()
}

fn other_participant(policy: &Policy, dm: &str, user: &str) -> String {
    policy
        .dm_participants(dm)
        .and_then(|pair| pair.into_iter().find(|id| *id != user))
        .map(|id| policy.user_summary(id).map_or_else(|| id.to_owned(), |person| person.name.to_owned()))
        .unwrap_or_else(|| "someone".to_owned())
}
