//! The app around its pages: the sign-in form and Sign out (`crate::sign_in`), the "Why can't
//! I?" switch, the status bar, the refusal banner, the notice, the navigation, and the page
//! shown (`crate::pages`). It makes the pieces of state and gives each on its own
//! ([`session`], [`search`], [`admin`], [`content`], [`shell`]), so that a page names what it
//! reads.
//! Nothing of the organisation renders without [`SessionState::ready`].
//!
//! An action the user may not take is not rendered; with "Why can't I?" on it is rendered as a
//! disabled button with the evaluator's explanation and the edits that would allow it
//! (`crate::widgets::action_view`, `crate::pages::why`). An action the user may take opens its
//! form (`crate::forms`), which sends it to the server.

use leptos::prelude::*;

use crate::admin;
use crate::admin_state::AdminState;
use crate::browser;
use crate::content_state::ContentState;
use crate::live::Link;
use crate::pages::admin::AdminPage;
use crate::pages::projects::Projects;
use crate::pages::{messaging, project, search};
use crate::search_state::SearchState;
use crate::sign_in::{SignIn, SignOut};
use crate::state::SessionState;
use crate::trust::rough_duration;

const EXPLAIN_KEY: &str = "tessera.explain";

/// The pages of the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    /// The Projects the user sees.
    Projects,
    /// One Project.
    Project(String),
    /// Groups, direct messages, announcements.
    Messaging,
    /// Global search.
    Search,
    /// Administration: a person's denials, and the edits that would allow them.
    Admin,
}

/// What the shell shows around the pages: which page, the "Why can't I?" view, and the
/// passing notice.
#[derive(Debug, Clone, Copy)]
pub struct Shell {
    /// The page shown.
    pub page: RwSignal<Page>,
    /// The "Why can't I?" view, remembered per device.
    pub explain: RwSignal<bool>,
    /// A passing message ("Task created").
    pub notice: RwSignal<Option<String>>,
}

impl Shell {
    /// Turns the "Why can't I?" view on or off, remembered on the device.
    pub fn set_explain(&self, on: bool) {
        browser::store(EXPLAIN_KEY, if on { "on" } else { "off" });
        self.explain.set(on);
    }
}

/// The app's pieces of state, made once for the page.
#[derive(Debug, Clone, Copy)]
struct Pieces {
    session: SessionState,
    search: SearchState,
    admin: AdminState,
    shell: Shell,
}

impl Pieces {
    fn make() -> Pieces {
        let shell = Shell {
            page: RwSignal::new(Page::Projects),
            explain: RwSignal::new(browser::load(EXPLAIN_KEY).as_deref() == Some("on")),
            notice: RwSignal::new(None),
        };
        let session = SessionState::restore(shell.notice);
        Pieces { session, search: SearchState::new(session), admin: AdminState::new(session), shell }
    }
}

thread_local! {
    // Not Leptos's context: code of the split modules that re-renders (a page open when the
    // snapshot changes) runs under an owner whose chain no longer reaches the app's, and
    // `expect_context` would panic there. One app per page, so one of each piece per thread.
    static PIECES: std::cell::OnceCell<Pieces> = const { std::cell::OnceCell::new() };
}

fn pieces() -> Pieces {
    PIECES.with(|pieces| *pieces.get_or_init(Pieces::make))
}

/// The signed-in session and its snapshot.
pub fn session() -> SessionState {
    pieces().session
}

/// Search and the signed-in user's cache.
pub fn search() -> SearchState {
    pieces().search
}

/// The admin API.
pub fn admin() -> AdminState {
    pieces().admin
}

/// The actions and what they wrote: sending, reading back, the server's refusals.
pub fn content() -> ContentState {
    ContentState::new(pieces().session)
}

/// The page shown, "Why can't I?", the notice.
pub fn shell() -> Shell {
    pieces().shell
}

/// The whole app.
#[component]
pub fn App() -> impl IntoView {
    let Pieces { session, shell, .. } = pieces();
    session.start();
    // The shell's loading message goes once the app is there.
    browser::remove_element("boot");
    // Another user (or none) starts on the Projects page.
    Effect::new(move |previous: Option<String>| {
        let user = session.user.get();
        if previous.is_some_and(|previous| previous != user) {
            shell.page.set(Page::Projects);
        }
        user
    });
    // After a page change, focus moves to the new page, not to the body.
    let first_page = StoredValue::new(true);
    Effect::new(move |_| {
        shell.page.track();
        if first_page.get_value() {
            first_page.set_value(false);
        } else {
            browser::focus("main");
        }
    });
    let first_render = StoredValue::new(false);
    Effect::new(move |_| {
        if session.shown() && !first_render.get_value() {
            first_render.set_value(true);
            browser::mark("tessera:first-filtered-render");
        }
    });
    // Effects run once the view is in the page: the sign-in form is there.
    Effect::new(move |_| browser::mark("tessera:mounted"));
    view! {
        <a class="skip" href="#main">"Skip to content"</a>
        <header class="top">
            <h1 class="brand">"Tessera"<span class="sub">" demo workspace"</span></h1>
            <SignIn/>
            <SignOut/>
            <ExplainToggle/>
        </header>
        <StatusBar/>
        <Banner/>
        <Notice/>
        <main id="main" tabindex="-1">
            {move || {
                if session.user.with(String::is_empty) {
                    let text = session
                        .signed_out
                        .get()
                        .unwrap_or_else(|| "Type your name or id above and sign in.".to_owned());
                    view! { <p class="empty" data-testid="signed-out">{text}</p> }.into_any()
                } else if !session.shown() {
                    let text = if session.refusal.with(Option::is_some) {
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

#[component]
fn ExplainToggle() -> impl IntoView {
    let shell = crate::ui::shell();
    view! {
        <label class="toggle">
            <input
                type="checkbox"
                id="explain"
                prop:checked=move || shell.explain.get()
                on:change=move |ev| shell.set_explain(event_target_checked(&ev))
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
    let state = crate::ui::session();
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
        {move || {
            state.storage.0.get().map(|problem| {
                view! { <p class="storage" role="alert" data-testid="storage-problem">{problem}</p> }
            })
        }}
    }
}

#[component]
fn Banner() -> impl IntoView {
    let state = crate::ui::session();
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
    let state = crate::ui::shell();
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
    let state = crate::ui::session();
    let shell = crate::ui::shell();
    let tab = move |page: Page, label: &'static str| {
        let target = page.clone();
        let current = move || {
            let shown = shell.page.get();
            shown == page || (page == Page::Projects && matches!(shown, Page::Project(_)))
        };
        view! {
            <button
                type="button"
                class="tab"
                aria-current=move || current().then_some("page")
                on:click=move |_| shell.page.set(target.clone())
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
    let shell = crate::ui::shell();
    // Every page but the Projects list is a module of its own (`#[lazy]`), fetched when it is
    // first opened: the first paint loads only what it shows.
    move || match shell.page.get() {
        Page::Projects => view! { <Projects/> }.into_any(),
        Page::Project(id) => lazily(Box::pin(async move { project::page(id).await })),
        Page::Messaging => lazily(Box::pin(messaging::page())),
        Page::Search => lazily(Box::pin(search::page())),
        Page::Admin => view! { <AdminPage/> }.into_any(),
    }
}

/// What a module fetched on first use renders, once it is there.
pub type Lazy = std::pin::Pin<Box<dyn std::future::Future<Output = AnyView> + Send>>;

/// A page or form whose module is fetched on first use: "Loading…" until it is there. (One
/// boxed future type for all of them: each future type would be a copy of this in the module
/// every user loads.)
pub fn lazily(page: Lazy) -> AnyView {
    view! {
        <Suspense fallback=|| view! { <p class="meta" data-testid="page-loading">"Loading…"</p> }>
            {Suspend::new(page)}
        </Suspense>
    }
    .into_any()
}
