//! The Tessera demo app: a Leptos (client-side rendered) PWA that links `tessera-core`
//! directly, hides what the signed-in user may not do and filters what they may not see, with
//! or without a network.
//!
//! - [`trust`]: the app's driver of the core's trust machine ([`tessera_core::Trust`], which
//!   decides which snapshot may be used): the device's storage, the keys, the refusals.
//! - [`search`]: search results, the device's cache of them, and the evaluator as their filter.
//! - [`actions`]: the actions of each page and the decisions about them.
//! - [`admin`]: who may apply a suggestion (decided on the user's own snapshot), the people an
//!   administrator manages, and the JSON of the admin API.
//! - [`session`]: the signed-in user and their bearer token.
//! - [`live`]: how the app learns of a change: the issuer's events, reconnecting with backoff,
//!   polling as the fallback.
//! - [`wording`]: decisions, suggested edits and impacts as sentences for people, with names.
//! - `state`, `listen`, `ui`, `pages`, `widgets`, `browser` (wasm only): the signals; the event
//!   stream and the poll driven by [`live`]; the app around its pages; the pages, one module
//!   each; the widgets several pages share; the browser APIs.
//!
//! The app shell (`index.html`, the service worker, the manifest, icons, styles) lives in
//! `www/`; `cargo xtask serve` builds this crate with `wasm-bindgen` into `target/site/`.

pub mod actions;
pub mod admin;
pub mod live;
pub mod search;
pub mod session;
pub mod trust;
pub mod wording;

#[cfg(target_arch = "wasm32")]
mod browser;
#[cfg(target_arch = "wasm32")]
mod listen;
#[cfg(target_arch = "wasm32")]
mod pages;
#[cfg(target_arch = "wasm32")]
mod state;
#[cfg(target_arch = "wasm32")]
mod ui;
#[cfg(target_arch = "wasm32")]
mod widgets;

/// Mounts the app on the page's body; called once the module is instantiated.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    leptos::mount::mount_to_body(ui::App);
}
