//! The actions' forms: what each action asks for (a name, a text, a file, members, a person),
//! sent to the server that decides it (`crate::content_state`), and what became of it said in
//! words: made (the shell's notice, and the page shows it), refused with the reason, or not sent
//! (Try again, with the same `Idempotency-Key`).
//!
//! Nothing here is in the module every user loads: the Project and Messaging pages are split
//! modules, and the Projects page fetches New project's form ([`new_project`]) when it is first
//! opened.

use std::sync::Arc;

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::browser;
use crate::content::{Draft, Form, MAX_TEXT_BYTES, Pending, Said, Then};
use crate::ui::Page;
use crate::widgets::unique_id;

/// What a form says under itself: a sentence, its code, and whether it is worth trying again.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Status {
    sentence: String,
    code: String,
    retry: bool,
}

/// What the form's owner does once the server made the action, with the new thing's id. A
/// plain closure, not a `Callback`: the answer may come after the form is gone (the snapshot
/// the answer named re-renders the page), and what follows must still happen (New project
/// opens the Project).
pub type OnMade = Arc<dyn Fn(Option<String>) + Send + Sync>;
/// What the form's owner does when the form closes (Cancel, or a refusal that hides it).
pub type OnClose = Arc<dyn Fn() + Send + Sync>;

/// The form of an action. `context` names what it is about, for the sentences ("Rebrand"; for
/// Start direct message, the person chosen);
/// `people` are whom Create group and Start direct message offer (id, name); `start` is the
/// text the form starts with (the wiki's). Once the server made it, `on_made` runs with the new
/// thing's id (the form's owner closes it); a refusal (403) closes it with the reason in the
/// notice; anything else is said in the notice and under the form, which stays open.
pub fn act_form(
    form: Form,
    context: String,
    people: Vec<(String, String)>,
    start: String,
    on_made: OnMade,
    on_close: OnClose,
) -> AnyView {
    let shell = crate::ui::shell();
    let content = crate::ui::content();
    let draft = RwSignal::new(Draft {
        text: start,
        person: people.first().map(|(id, _)| id.clone()).unwrap_or_default(),
        ..Draft::default()
    });
    let busy = RwSignal::new(false);
    let status: RwSignal<Option<Status>> = RwSignal::new(None);
    // The action sent last and not answered (no answer, or one worth trying again): sent again
    // unchanged, it keeps its key.
    let unanswered: StoredValue<Option<Pending>> = StoredValue::new(None);
    let key = form.key();
    let submit_label = form.submit();
    // Start direct message names the person chosen.
    let names = if matches!(form, Form::StartDm) { people.clone() } else { Vec::new() };
    let fields = fields(&form, draft, status, people);
    let submit = {
        let form = form.clone();
        let on_close = on_close.clone();
        move |ev: SubmitEvent| {
            ev.prevent_default();
            if busy.get_untracked() {
                return;
            }
            let draft = draft.get_untracked();
            let act = form.act(&draft);
            if let Err(why) = act.check() {
                status.set(Some(Status { sentence: why, code: "invalid".to_owned(), retry: false }));
                return;
            }
            let pending =
                unanswered.with_value(|last| Pending::next(last.as_ref(), act, browser::random_key));
            unanswered.set_value(Some(pending.clone()));
            busy.set(true);
            status.set(None);
            let context = names
                .iter()
                .find(|(person, _)| *person == draft.person)
                .map_or_else(|| context.clone(), |(_, name)| name.clone());
            let (on_made, on_close) = (on_made.clone(), on_close.clone());
            spawn_local(async move {
                let said = content.send(pending, context).await;
                // The form may be gone by now (the snapshot the answer named re-renders the
                // page), or go with what follows: nothing here reads its signals, and a form
                // that closes is not told it is no longer busy (its effects would run after it).
                match said {
                    Said::Made { sentence, id } => {
                        shell.notice.set(Some(sentence));
                        on_made(id);
                    }
                    Said::Refused { sentence, then: Then::Hide, .. } => {
                        shell.notice.set(Some(sentence));
                        on_close();
                    }
                    Said::Refused { sentence, code, then } => {
                        busy.try_set(false);
                        let retry = then == Then::Retry;
                        if !retry {
                            unanswered.try_set_value(None);
                        }
                        // Said at the page's level too: the form may be gone once the snapshot
                        // the answer named is in (a Project no longer seen).
                        shell.notice.set(Some(sentence.clone()));
                        status.try_set(Some(Status { sentence, code, retry }));
                    }
                }
            });
        }
    };
    view! {
        <form class="act-form" data-form=key on:submit=submit>
            {fields}
            <div class="row">
                <button type="submit" class="action" disabled=move || busy.try_get().unwrap_or(true)>
                    {move || {
                        if status.try_with(|status| status.as_ref().is_some_and(|status| status.retry)) == Some(true) {
                            "Try again"
                        } else {
                            submit_label
                        }
                    }}
                </button>
                <button type="button" class="link" on:click=move |_| on_close()>"Cancel"</button>
                {move || busy.try_get().unwrap_or(false).then(|| view! { <span class="meta" role="status">"Sending…"</span> })}
            </div>
            {move || {
                status.try_get().flatten().map(|status| {
                    view! {
                        <p class="outcome refused" role="alert" data-code=status.code.clone()>
                            {status.sentence} " " <code>{status.code.clone()}</code>
                        </p>
                    }
                })
            }}
        </form>
    }
    .into_any()
}

/// The fields `form` asks for, bound to `draft`.
fn fields(
    form: &Form,
    draft: RwSignal<Draft>,
    status: RwSignal<Option<Status>>,
    people: Vec<(String, String)>,
) -> AnyView {
    let line = |label: &'static str| {
        let id = unique_id("field");
        view! {
            <label for=id.clone()>{label}</label>
            <input
                id=id
                type="text"
                autocomplete="off"
                data-field="line"
                prop:value=move || draft.try_with(|draft| draft.line.clone()).unwrap_or_default()
                on:input=move |ev| draft.update(|draft| draft.line = event_target_value(&ev))
            />
        }
    };
    let text = |label: &'static str| {
        let id = unique_id("field");
        view! {
            <label for=id.clone()>{label}</label>
            <textarea
                id=id
                rows="5"
                data-field="text"
                prop:value=move || draft.try_with(|draft| draft.text.clone()).unwrap_or_default()
                on:input=move |ev| draft.update(|draft| draft.text = event_target_value(&ev))
            ></textarea>
        }
    };
    match form {
        Form::NewProject => line("Project name").into_any(),
        Form::CreateTask { .. } => line("Task title").into_any(),
        Form::UploadFile { .. } => {
            view! { {file_field(draft, status)} {line("File name")} {text("Text of the file")} }.into_any()
        }
        Form::EditWiki { .. } => text("Wiki text").into_any(),
        Form::Reply { .. } => text("Your reply").into_any(),
        Form::Announce { .. } => text("Announcement").into_any(),
        Form::CreateGroup => view! { {line("Group name")} {members_field(draft, people)} }.into_any(),
        Form::StartDm => person_field(draft, people).into_any(),
    }
}

/// A text file chosen from the device: its name and text fill the form's (a file over
/// [`MAX_TEXT_BYTES`], the server's cap, is refused here).
fn file_field(draft: RwSignal<Draft>, status: RwSignal<Option<Status>>) -> impl IntoView {
    let id = unique_id("file");
    let input = NodeRef::<html::Input>::new();
    let chosen = move |_| {
        let Some(input) = input.get_untracked() else { return };
        spawn_local(async move {
            let said = match browser::chosen_file(&input, MAX_TEXT_BYTES).await {
                Ok(Some(file)) => match file.text {
                    Some(text) => {
                        draft.update(|draft| {
                            draft.line = file.name;
                            draft.text = text;
                        });
                        None
                    }
                    None => Some(format!(
                        "“{}” is {} bytes: files are at most {} KiB here.",
                        file.name,
                        file.size as u64,
                        MAX_TEXT_BYTES / 1024
                    )),
                },
                Ok(None) => None,
                Err(error) => Some(format!("The file could not be read ({}).", error.0)),
            };
            status.try_set(said.map(|sentence| Status { sentence, code: "file".to_owned(), retry: false }));
        });
    };
    view! {
        <label for=id.clone()>"Choose a text file (at most 32 KiB), or type it below"</label>
        <input id=id type="file" accept="text/*,.txt,.md,.csv,.json" node_ref=input on:change=chosen/>
    }
}

/// The members of a new group, chosen among `people`.
fn members_field(draft: RwSignal<Draft>, people: Vec<(String, String)>) -> impl IntoView {
    view! {
        <fieldset class="members">
            <legend>"Members (you are its owner)"</legend>
            {people
                .into_iter()
                .map(|(person, name)| {
                    let id = unique_id("member");
                    let label_for = id.clone();
                    let toggled = person.clone();
                    view! {
                        <label for=label_for class="member">
                            <input
                                id=id
                                type="checkbox"
                                value=person.clone()
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    draft.update(|draft| {
                                        draft.members.retain(|member| *member != toggled);
                                        if on {
                                            draft.members.push(toggled.clone());
                                        }
                                    });
                                }
                            />
                            " " {name}
                        </label>
                    }
                })
                .collect_view()}
        </fieldset>
    }
}

/// The person of a new conversation, chosen among `people`.
fn person_field(draft: RwSignal<Draft>, people: Vec<(String, String)>) -> impl IntoView {
    let id = unique_id("person");
    view! {
        <label for=id.clone()>"Person"</label>
        <select id=id data-field="person" on:change=move |ev| draft.update(|draft| draft.person = event_target_value(&ev))>
            {people
                .into_iter()
                .map(|(person, name)| view! { <option value=person>{name}</option> })
                .collect_view()}
        </select>
    }
}

/// New project's form, for the Projects page: a split point (`#[lazy]`), fetched when the form
/// is first opened. Once made, the app (whose snapshot now holds the Project) opens it.
#[leptos::lazy]
pub fn new_project(open: RwSignal<Option<String>>) -> AnyView {
    let shell = crate::ui::shell();
    let on_made: OnMade = Arc::new(move |id: Option<String>| {
        open.try_set(None);
        if let Some(id) = id {
            shell.page.set(Page::Project(id));
        }
    });
    let on_close: OnClose = Arc::new(move || {
        open.try_set(None);
    });
    act_form(Form::NewProject, String::new(), Vec::new(), String::new(), on_made, on_close)
}
