//! Administration: pick one of the people you manage, see the standard actions the evaluator
//! denies them (`GET /api/admin/denials`), each with its reason and suggestions, and Preview
//! and Apply a suggestion where the server says every edit of it is yours to make
//! (`may_apply`).
//!
//! The tab shows only to someone whose own snapshot says they hold `user.manage` on an Office
//! (`crate::admin::managed_offices`); the people listed are those of their snapshot whose home
//! Office that is. The server decides again on every call (403 otherwise).

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use tessera_core::{Grant, Query};

use crate::admin::{self, Denials, Refused};
use crate::pages::why::explained;
use crate::wording::{self, Names, Subject};

/// The admin page. Its code, and the reader of the admin API's JSON, is a module of its own,
/// fetched the first time the page is opened (see [`administration`]).
#[component]
pub fn AdminPage() -> impl IntoView {
    view! {
        <Suspense fallback=|| view! { <p class="meta" data-testid="admin-loading">"Loading the administration page…"</p> }>
            {Suspend::new(async { administration().await })}
        </Suspense>
    }
}

/// The admin page's content: a split point (`#[lazy]`), so that what only administrators use
/// (this page, the denials and their suggestions as JSON) is a second WebAssembly module that
/// `cargo xtask site` splits off and the browser fetches when the page first opens.
#[leptos::lazy]
fn administration() -> AnyView {
    view! { <Administration/> }.into_any()
}

/// The admin page, loaded.
#[component]
fn Administration() -> impl IntoView {
    let state = crate::ui::session();
    let admin_api = crate::ui::admin();
    let chosen = RwSignal::new(String::new());
    let answer: RwSignal<Option<Result<Denials, Refused>>> = RwSignal::new(None);
    let loading = RwSignal::new(false);
    let load = move |user: String| {
        if user.is_empty() {
            return;
        }
        loading.set(true);
        spawn_local(async move {
            let found = admin_api.denials(user).await;
            answer.try_set(Some(found));
            loading.try_set(false);
        });
    };
    let reload = Callback::new(move |()| load(chosen.get_untracked()));
    view! {
        <section aria-labelledby="admin-title" data-testid="admin">
            <h2 id="admin-title">"Administration"</h2>
            {move || {
                let (snapshot, user, now) = state.ready()?;
                let people: Vec<(String, String)> = admin::managed_people(&snapshot, &user, now)
                    .into_iter()
                    .map(|person| (person.id.to_owned(), person.name.to_owned()))
                    .collect();
                if people.is_empty() {
                    return Some(view! { <p class="empty">"You manage nobody: this page is for the admins of a network."</p> }.into_any());
                }
                Some(
                    view! {
                        <form
                            class="picker-form"
                            on:submit=move |ev: SubmitEvent| {
                                ev.prevent_default();
                                load(chosen.get_untracked());
                            }
                        >
                            <label for="admin-user">"Person"</label>
                            <select id="admin-user" on:change=move |ev| chosen.set(event_target_value(&ev)) prop:value=move || chosen.get()>
                                <option value="" disabled=true selected=move || chosen.with(String::is_empty)>
                                    "Choose someone you manage…"
                                </option>
                                {people
                                    .into_iter()
                                    .map(|(id, name)| view! { <option value=id>{name}</option> })
                                    .collect_view()}
                            </select>
                            <button type="submit" class="action">"Show what they cannot do"</button>
                        </form>
                    }
                        .into_any(),
                )
            }}
            {move || loading.get().then(|| view! { <p class="meta">"Asking the server…"</p> })}
            {move || answer.get().map(|found| match found {
                Ok(denials) => denials_view(denials, reload),
                Err(refused) => view! {
                    <p class="outcome refused" role="alert" data-code=refused.code.clone()>
                        {wording::sentence(&refused.message)} " " <code>{refused.code.clone()}</code>
                    </p>
                }
                    .into_any(),
            })}
        </section>
    }
}

/// A person's denials, each with its reason and suggestions.
fn denials_view(found: Denials, reload: Callback<()>) -> AnyView {
    let state = crate::ui::session();
    let Some((snapshot, _, _)) = state.ready() else {
        return ().into_any();
    };
    let names = Names::new(snapshot.policy());
    let count = found.denials.len();
    let rows = found
        .denials
        .into_iter()
        .map(|denial| {
            let (permission, project) = match &denial.query {
                Query::Can { permission, target } => (permission.clone(), target.project.clone()),
                Query::View { .. } => (String::new(), None),
            };
            let what = wording::sentence(&wording::can(&names, &denial.query));
            let reason = wording::reason(&names, Subject::Named(&found.name), &denial.query, &denial.decision);
            let grants: Vec<(String, Grant, bool)> = denial
                .decision
                .grants
                .iter()
                .enumerate()
                .map(|(i, grant)| {
                    let may = denial.may_apply.get(i).copied().unwrap_or(false);
                    (wording::grant(&names, grant), grant.clone(), may)
                })
                .collect();
            let technical: Vec<String> = denial.decision.grants.iter().map(ToString::to_string).collect();
            let code = denial.decision.code.as_str();
            view! {
                <li class="denial" data-permission=permission data-project=project>
                    <h4>{what.trim_end_matches('.').to_owned()}</h4>
                    <div class="why">{explained(reason, code, denial.decision.message, grants, technical, Some(reload))}</div>
                </li>
            }
        })
        .collect_view();
    view! {
        <h3 data-testid="denials-of" data-user=found.user.clone()>
            {format!("What {} cannot do", found.name)} " " <span class="count">{count}</span>
        </h3>
        {(count == 0).then(|| view! { <p class="empty">"Nothing: every standard action is allowed."</p> })}
        <ul class="denials" data-testid="denials">{rows}</ul>
    }
    .into_any()
}
