//! What the app needs of the browser: fetch, the clock, local and session storage, IndexedDB
//! (through `www/store.js`), the online flag, whether the tab is hidden, and server-sent events. Every call that can fail returns a `Result` or an `Option`;
//! nothing here panics when an API is missing (a private window without storage still runs,
//! with less memory).

use tessera_core::Timestamp;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestCache, RequestInit, Response};

/// A failed browser call, as a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserError(pub String);

impl From<JsValue> for BrowserError {
    fn from(value: JsValue) -> BrowserError {
        let text = value
            .dyn_ref::<js_sys::Error>()
            .map(|error| String::from(error.message()))
            .or_else(|| value.as_string())
            .unwrap_or_else(|| "a browser call failed".to_owned());
        BrowserError(text)
    }
}

fn window() -> Result<web_sys::Window, BrowserError> {
    web_sys::window().ok_or_else(|| BrowserError("no window".to_owned()))
}

/// Now, from the browser's clock.
pub fn now() -> Timestamp {
    Timestamp::from_unix((js_sys::Date::now() / 1000.0) as i64)
}

/// Whether the browser believes it is online.
pub fn online() -> bool {
    window().map_or(true, |window| window.navigator().on_line())
}

/// What the server answered.
pub struct Fetched {
    /// The HTTP status.
    pub status: u16,
    /// The `ETag` header, if any.
    pub etag: Option<String>,
    /// The other headers the app reads (`Tessera-Revision`, `Tessera-Snapshot-Version`), as
    /// (name, value).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

/// The answer headers the app reads, besides `ETag`.
const READ_HEADERS: [&str; 2] = ["Tessera-Revision", "Tessera-Snapshot-Version"];

/// An HTTP method the app uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// POST, with a JSON body.
    Post,
    /// PUT, with a JSON body.
    Put,
}

/// Sends a request to `url` with `headers` (and `body` as JSON, if any). Bypasses the HTTP
/// cache (the service worker still answers what it caches when the network is down).
pub async fn request(
    method: Method,
    url: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Result<Fetched, BrowserError> {
    let init = RequestInit::new();
    init.set_method(match method {
        Method::Get => "GET",
        Method::Post => "POST",
        Method::Put => "PUT",
    });
    init.set_cache(RequestCache::NoStore);
    if let Some(body) = body {
        init.set_body(&JsValue::from_str(body));
    }
    let request = Request::new_with_str_and_init(url, &init)?;
    if body.is_some() {
        request.headers().set("Content-Type", "application/json")?;
    }
    for (name, value) in headers {
        request.headers().set(name, value)?;
    }
    let response: Response = JsFuture::from(window()?.fetch_with_request(&request)).await?.dyn_into()?;
    let status = response.status();
    let etag = response.headers().get("ETag").ok().flatten();
    let headers = READ_HEADERS
        .iter()
        .filter_map(|name| Some(((*name).to_owned(), response.headers().get(name).ok().flatten()?)))
        .collect();
    let body = JsFuture::from(response.text()?).await?.as_string().unwrap_or_default();
    Ok(Fetched { status, etag, headers, body })
}

fn session_storage() -> Option<web_sys::Storage> {
    window().ok()?.session_storage().ok().flatten()
}

/// A value from this tab's session storage (kept across reloads, gone with the tab).
pub fn load_session(key: &str) -> Option<String> {
    session_storage()?.get_item(key).ok().flatten()
}

/// Stores a value in this tab's session storage; false when it could not be stored.
pub fn store_session(key: &str, value: &str) -> bool {
    session_storage().is_some_and(|storage| storage.set_item(key, value).is_ok())
}

/// Removes a value from this tab's session storage.
pub fn remove_session(key: &str) {
    if let Some(storage) = session_storage() {
        let _ = storage.remove_item(key);
    }
}

fn local_storage() -> Option<web_sys::Storage> {
    window().ok()?.local_storage().ok().flatten()
}

/// A value from local storage.
pub fn load(key: &str) -> Option<String> {
    local_storage()?.get_item(key).ok().flatten()
}

/// Removes a value from local storage.
pub fn remove(key: &str) {
    if let Some(storage) = local_storage() {
        let _ = storage.remove_item(key);
    }
}

/// Stores a value in local storage; false when it could not be stored.
pub fn store(key: &str, value: &str) -> bool {
    local_storage().is_some_and(|storage| storage.set_item(key, value).is_ok())
}

#[wasm_bindgen(raw_module = "/store.js")]
extern "C" {
    #[wasm_bindgen(js_name = storeGet)]
    fn store_get(key: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = storeTake)]
    fn store_take(key: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = storeSet)]
    fn store_set(key: &str, value: &[u8]) -> js_sys::Promise;
    #[wasm_bindgen(js_name = storeDelete)]
    fn store_delete(key: &str) -> js_sys::Promise;
}

/// The text stored under `key` in the device's IndexedDB (`www/store.js`); `None` when there
/// is none.
pub async fn db_get(key: &str) -> Result<Option<String>, BrowserError> {
    Ok(stored_text(&JsFuture::from(store_get(key)).await?))
}

/// As [`db_get`], taking the read the boot script started for `key` if it did (`www/boot.js`
/// reads the signed-in user's snapshot while the module loads).
pub async fn db_take(key: &str) -> Result<Option<String>, BrowserError> {
    Ok(stored_text(&JsFuture::from(store_take(key)).await?))
}

/// The text of a value read from IndexedDB: its UTF-8 bytes as [`db_set`] keeps them (copied
/// in, not converted), or a string as an older version of the app kept it. Bytes that are not
/// UTF-8 were not written by the app: they are given with the damage marked, so that what reads
/// them (the trust machine verifies every stored snapshot) refuses them as it would any text
/// tampered with.
fn stored_text(value: &JsValue) -> Option<String> {
    match value.dyn_ref::<js_sys::Uint8Array>() {
        Some(bytes) => Some(
            String::from_utf8(bytes.to_vec())
                .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned()),
        ),
        None => value.as_string(),
    }
}

/// Stores `value` under `key` in the device's IndexedDB, as its UTF-8 bytes; an error says why
/// it could not (the quota, a private window).
pub async fn db_set(key: &str, value: &str) -> Result<(), BrowserError> {
    JsFuture::from(store_set(key, value.as_bytes())).await?;
    Ok(())
}

/// Deletes `key` from the device's IndexedDB.
pub async fn db_delete(key: &str) -> Result<(), BrowserError> {
    JsFuture::from(store_delete(key)).await?;
    Ok(())
}

/// Deletes the Cache Storage cache `name`, if there is one.
pub async fn delete_cache(name: &str) -> Result<(), BrowserError> {
    let caches = window()?.caches()?;
    JsFuture::from(caches.delete(name)).await?;
    Ok(())
}

/// Removes the element with `id`, if there is one.
pub fn remove_element(id: &str) {
    if let Some(element) =
        window().ok().and_then(|window| window.document()).and_then(|document| document.get_element_by_id(id))
    {
        element.remove();
    }
}

/// Moves the keyboard focus to the element with `id`.
pub fn focus(id: &str) {
    let element = window()
        .ok()
        .and_then(|window| window.document())
        .and_then(|document| document.get_element_by_id(id));
    if let Some(element) = element.and_then(|element| element.dyn_into::<web_sys::HtmlElement>().ok()) {
        let _ = element.focus();
    }
}

/// The `data-position` of the element a keyboard event came from, if it has one.
pub fn target_position(event: &web_sys::KeyboardEvent) -> Option<usize> {
    event.target()?.dyn_into::<web_sys::Element>().ok()?.get_attribute("data-position")?.parse().ok()
}

/// Records a performance mark (seen by tests and the browser's profiler).
pub fn mark(name: &str) {
    if let Some(performance) = window().ok().and_then(|window| window.performance()) {
        let _ = performance.mark(name);
    }
}

/// Whether the tab is hidden (another tab in front, the window minimised).
pub fn hidden() -> bool {
    window().ok().and_then(|window| window.document()).is_some_and(|document| document.hidden())
}

/// A number from 0 to 1, for jitter.
pub fn random() -> f64 {
    js_sys::Math::random()
}

/// A new random `Idempotency-Key`: `crypto.randomUUID()` (a secure context's, as the app's
/// origin or loopback is), else the clock and `Math.random` (unique enough for one person's
/// actions, which is all a key is compared with).
pub fn random_key() -> String {
    window()
        .ok()
        .and_then(|window| window.crypto().ok())
        .map(|crypto| crypto.random_uuid())
        .unwrap_or_else(|| format!("k-{}-{}", js_sys::Date::now(), js_sys::Math::random()))
}

/// A file the person chose in an `<input type=file>`.
pub struct ChosenFile {
    /// Its name.
    pub name: String,
    /// Its size in bytes.
    pub size: f64,
    /// Its text (read as UTF-8), when it is at most the limit asked for.
    pub text: Option<String>,
}

/// The first file chosen in `input`, its text read if it is at most `limit` bytes; `None` when
/// none is chosen.
pub async fn chosen_file(
    input: &web_sys::HtmlInputElement,
    limit: usize,
) -> Result<Option<ChosenFile>, BrowserError> {
    let Some(file) = input.files().and_then(|files| files.get(0)) else {
        return Ok(None);
    };
    let size = file.size();
    let text = if size <= limit as f64 { JsFuture::from(file.text()).await?.as_string() } else { None };
    Ok(Some(ChosenFile { name: file.name(), size, text }))
}

/// An open `EventSource`, closed when dropped (and its handlers with it).
pub struct EventStream {
    source: web_sys::EventSource,
    _handlers: Vec<Closure<dyn FnMut(web_sys::Event)>>,
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.source.close();
    }
}

/// Opens `url` as an `EventSource`: `on_event(name, data)` for each event named in `names`,
/// and `on_error()` when the stream fails to open, fails or ends. The browser's own
/// reconnection is never left to run: the caller drops the stream on an error and opens
/// another (a ticket in the URL is spent by its first use).
pub fn open_events(
    url: &str,
    names: &[&'static str],
    on_event: impl Fn(&str, &str) + 'static,
    on_error: impl Fn() + 'static,
) -> Result<EventStream, BrowserError> {
    let source = web_sys::EventSource::new(url)?;
    let on_event = std::rc::Rc::new(on_event);
    let mut handlers = Vec::with_capacity(names.len() + 1);
    for &name in names {
        let on_event = std::rc::Rc::clone(&on_event);
        let handler = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
            let data = event
                .dyn_ref::<web_sys::MessageEvent>()
                .and_then(|message| message.data().as_string())
                .unwrap_or_default();
            on_event(name, &data);
        });
        source.add_event_listener_with_callback(name, handler.as_ref().unchecked_ref())?;
        handlers.push(handler);
    }
    let handler = Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| on_error());
    source.set_onerror(Some(handler.as_ref().unchecked_ref()));
    handlers.push(handler);
    Ok(EventStream { source, _handlers: handlers })
}
