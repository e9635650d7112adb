//! "Why can't I?": a denied action rendered disabled, with the evaluator's explanation and the
//! edits that would allow it.

use leptos::prelude::*;

use crate::actions::Action;
use crate::widgets::{sentence, unique_id};

/// The panel of a denied `action`: a disabled button described by the reason.
pub fn denied_view(action: Action) -> AnyView {
    let (message, code, grants) = match action.why {
        Some(why) => (
            sentence(&why.message),
            Some(why.code.as_str()),
            why.grants.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ),
        None => ("There is nobody you may find in person search.".to_owned(), None, Vec::new()),
    };
    let described = unique_id(&format!("why-{}", action.key));
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
    .into_any()
}
