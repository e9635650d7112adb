//! The Tessera demo app: a Leptos (client-side rendered) PWA that links `tessera-core`
//! directly, hides what the signed-in user may not do and filters what they may not see, with
//! or without a network.
//!
//! - [`trust`]: the app's driver of the core's trust machine ([`tessera_core::Trust`], which
//!   decides which snapshot may be used): the device's storage, the keys, the refusals.
//! - [`search`]: search results, the device's cache of them, and the evaluator as their filter.
//! - [`actions`]: the actions of each page and the decisions about them.
//! - [`content`]: each action as the request the server decides (with its `Idempotency-Key`),
//!   its answer in words, the lists read back, and what an `event: content` concerns.
//! - [`admin`]: who may apply a suggestion (decided on the user's own snapshot), the people an
//!   administrator manages, and the JSON of the admin API.
//! - [`session`]: the signed-in user and their bearer token.
//! - [`live`]: how the app learns of a change: the issuer's events, reconnecting with backoff,
//!   polling as the fallback.
//! - [`wording`]: decisions, suggested edits and impacts as sentences for people, with names.
//! - [`window`]: which rows of a long list to render (windowed lists).
//! - Browser only (wasm32): the state in pieces a page can take, each provided on its own:
//!   `state` (the signed-in session and its verified snapshot), `search_state` (search and the
//!   user's cache), `admin_state` (the admin API), `content_state` (sending actions, reading
//!   lists back, the server's refusals), and the shell's `ui::Shell` (page, "Why can't I?",
//!   notice); `api` (every request the app makes, view-free); `device` (what the device keeps:
//!   IndexedDB and local storage); `listen` (the event stream and the poll driven by [`live`]);
//!   `ui`, `sign_in`, `pages`, `widgets`, `forms` (the app around its pages, the sign-in form,
//!   the pages one module each, what several pages share, the actions' forms); `browser` (the
//!   browser APIs).
//!
//! The app shell (`index.html`, the service worker, the manifest, icons, styles) lives in
//! `www/`; `cargo xtask serve` builds this crate with `wasm-bindgen` into `target/site/`.

pub mod actions;
pub mod admin;
pub mod content;
pub mod live;
pub mod search;
pub mod session;
pub mod trust;
pub mod window;
pub mod wording;

#[cfg(target_arch = "wasm32")]
mod admin_state;
#[cfg(target_arch = "wasm32")]
mod api;
#[cfg(target_arch = "wasm32")]
mod browser;
#[cfg(target_arch = "wasm32")]
mod content_state;
#[cfg(target_arch = "wasm32")]
mod device;
#[cfg(target_arch = "wasm32")]
mod forms;
#[cfg(target_arch = "wasm32")]
mod listen;
#[cfg(target_arch = "wasm32")]
mod pages;
#[cfg(target_arch = "wasm32")]
mod search_state;
#[cfg(target_arch = "wasm32")]
mod sign_in;
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
    browser::mark("tessera:started");
    leptos::mount::mount_to_body(ui::App);
}
