//! The demo's sign-in form and Sign out.
//!
//! The form is there at once, whatever the size of the organisation: one types a name or an
//! exact id into the field `user`, and as one types the app asks `GET /api/users?q=…&limit=20`
//! (the server's bounded lookup of active users) and offers what it answers in a `<datalist>`;
//! it never downloads a directory. Offline (or when the lookup fails), it offers the users who
//! signed in on this device before (`device::known_users`), whose last good snapshot the device
//! may hold. "Sign in" takes the id picked, or the one person whose name was typed, or the text
//! as an id; the server decides.

use std::time::Duration;

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::browser;
use crate::device;
use crate::session::{DemoUser, chosen, label, matches};

/// How many people the form offers.
const OFFERED: usize = 20;
/// How long typing must pause before the form asks the server.
const PAUSE: Duration = Duration::from_millis(120);

/// What the form offers while offline: the users who signed in here, matching `text`.
fn offline_offer(text: &str) -> Vec<DemoUser> {
    device::known_users().into_iter().filter(|user| matches(user, text)).take(OFFERED).collect()
}

/// The sign-in form: a text field with suggestions, and a button.
#[component]
pub fn SignIn() -> impl IntoView {
    let state = crate::ui::session();
    let text = RwSignal::new(state.user.get_untracked());
    let offered: RwSignal<Vec<DemoUser>> = RwSignal::new(Vec::new());
    let typed = StoredValue::new(0_u64);
    let look_up = move |value: String| {
        typed.update_value(|n| *n += 1);
        let seq = typed.get_value();
        if !browser::online() || value.trim().is_empty() {
            offered.set(offline_offer(&value));
            return;
        }
        set_timeout(
            move || {
                if typed.get_value() != seq {
                    return;
                }
                spawn_local(async move {
                    let found = api::find_users(value.trim(), OFFERED).await;
                    if typed.get_value() != seq {
                        return;
                    }
                    offered.set(found.unwrap_or_else(|_| offline_offer(&value)));
                });
            },
            PAUSE,
        );
    };
    view! {
        <form
            class="picker"
            data-testid="sign-in"
            on:submit=move |ev: SubmitEvent| {
                ev.prevent_default();
                let (user, known) = offered.with_untracked(|offered| chosen(&text.get_untracked(), offered));
                // Again for the same user when the tab holds no token (started offline).
                if !user.is_empty()
                    && (user != state.user.get_untracked() || state.session.with_untracked(Option::is_none))
                {
                    state.sign_in(user, known);
                }
            }
        >
            <label for="user">"Sign in as"</label>
            <input
                id="user"
                type="text"
                list="user-options"
                autocomplete="off"
                spellcheck="false"
                placeholder="a name or an id"
                prop:value=move || text.get()
                on:input=move |ev| {
                    let value = event_target_value(&ev);
                    text.set(value.clone());
                    look_up(value);
                }
                on:focus=move |_| {
                    if offered.with_untracked(Vec::is_empty) {
                        look_up(text.get_untracked());
                    }
                }
            />
            <datalist id="user-options" data-testid="user-options">
                {move || {
                    offered
                        .get()
                        .into_iter()
                        .map(|user| {
                            let label = label(&user);
                            view! { <option value=user.id>{label}</option> }
                        })
                        .collect_view()
                }}
            </datalist>
            <button type="submit" class="signin">"Sign in"</button>
        </form>
    }
}

/// Sign out: the session ends, and the device forgets the user's snapshot and search cache.
#[component]
pub fn SignOut() -> impl IntoView {
    let state = crate::ui::session();
    move || {
        (!state.user.with(String::is_empty)).then(|| {
            view! {
                <button type="button" class="signin" data-testid="sign-out" on:click=move |_| state.sign_out_and_forget()>
                    "Sign out"
                </button>
            }
        })
    }
}
