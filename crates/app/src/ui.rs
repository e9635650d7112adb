//! The app around its pages: the sign-in picker, the "Why can't I?" switch, the status bar, the
//! refusal banner, the notice, the navigation, and the page shown (`crate::pages`). Nothing of
//! the organisation renders without [`AppState::ready`].
//!
//! An action the user may not take is not rendered; with "Why can't I?" on it is rendered as a
//! disabled button with the evaluator's explanation and the edits that would allow it
//! (`crate::widgets::action_view`, `crate::pages::why`).

use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use crate::admin;
use crate::browser;
use crate::live::Link;
use crate::pages::admin::AdminPage;
use crate::pages::messaging::Messaging;
use crate::pages::project::ProjectPage;
use crate::pages::projects::Projects;
use crate::pages::search::SearchPage;
use crate::state::{AppState, Page};
use crate::trust::rough_duration;
use crate::wording;

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
                    let text = state
                        .signed_out
                        .get()
                        .unwrap_or_else(|| "Pick a user above and sign in.".to_owned());
                    view! { <p class="empty" data-testid="signed-out">{text}</p> }.into_any()
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
                // Again for the same user when the tab holds no token (started offline).
                if !user.is_empty()
                    && (user != state.user.get_untracked() || state.session.with_untracked(Option::is_none))
                {
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
                            let label = format!(
                                "{} ({}, {}, {})",
                                user.name,
                                wording::profile_title(&user.profile),
                                user.office,
                                user.network
                            );
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
/// the age and expiry, which change every few seconds, are not; nor is the event stream's
/// health, which a failing server could change often.
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
            <span
                class="live"
                data-testid="link-status"
                data-link=move || state.link.get().as_str()
                title="Changes to your policy arrive as events from the server while live; otherwise the app checks every minute."
            >
                {move || match state.link.get() {
                    Link::Live => "live updates",
                    Link::Connecting => "connecting…",
                    Link::Down => "checking every minute (reconnecting)",
                    Link::Off => "",
                }}
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
            {move || {
                let (snapshot, user, now) = state.ready()?;
                (!admin::managed_offices(&snapshot, &user, now).is_empty()).then(|| tab(Page::Admin, "Admin"))
            }}
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
        Page::Admin => view! { <AdminPage/> }.into_any(),
    }
}
