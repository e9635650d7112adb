//! What the app needs of the browser: fetch, the clock, local and session storage, Cache
//! Storage, the online flag, whether the tab is hidden, and server-sent events. Every call that can fail returns a `Result` or an `Option`;
//! nothing here panics when an API is missing (a private window without storage still runs,
//! with less memory).

use tessera_core::Timestamp;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Cache, Request, RequestCache, RequestInit, Response};

/// The name of the Cache Storage cache holding search results.
const SEARCH_CACHE: &str = "tessera-search-v1";
/// The cache key of the search index.
const SEARCH_KEY: &str = "/__tessera/search-index.json";

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

/// What a GET answered.
pub struct Fetched {
    /// The HTTP status.
    pub status: u16,
    /// The `ETag` header, if any.
    pub etag: Option<String>,
    /// The body.
    pub body: String,
}

/// GETs `url`, sending `If-None-Match` when `etag` is given and `Authorization` when
/// `authorization` is. Bypasses the HTTP cache (the service worker still answers what it
/// caches when the network is down).
pub async fn get(
    url: &str,
    etag: Option<&str>,
    authorization: Option<&str>,
) -> Result<Fetched, BrowserError> {
    let init = RequestInit::new();
    init.set_method("GET");
    init.set_cache(RequestCache::NoStore);
    let request = Request::new_with_str_and_init(url, &init)?;
    if let Some(etag) = etag {
        request.headers().set("If-None-Match", etag)?;
    }
    if let Some(authorization) = authorization {
        request.headers().set("Authorization", authorization)?;
    }
    send(&request).await
}

/// POSTs `body` as JSON to `url`, with `Authorization` when `authorization` is given.
pub async fn post_json(url: &str, body: &str, authorization: Option<&str>) -> Result<Fetched, BrowserError> {
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_cache(RequestCache::NoStore);
    init.set_body(&JsValue::from_str(body));
    let request = Request::new_with_str_and_init(url, &init)?;
    request.headers().set("Content-Type", "application/json")?;
    if let Some(authorization) = authorization {
        request.headers().set("Authorization", authorization)?;
    }
    send(&request).await
}

async fn send(request: &Request) -> Result<Fetched, BrowserError> {
    let response: Response = JsFuture::from(window()?.fetch_with_request(request)).await?.dyn_into()?;
    let status = response.status();
    let etag = response.headers().get("ETag").ok().flatten();
    let body = JsFuture::from(response.text()?).await?.as_string().unwrap_or_default();
    Ok(Fetched { status, etag, body })
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

async fn search_cache() -> Result<Cache, BrowserError> {
    let caches = window()?.caches()?;
    Ok(JsFuture::from(caches.open(SEARCH_CACHE)).await?.dyn_into()?)
}

/// The device's search index, as stored by [`store_search_index`]; `None` when there is none.
pub async fn load_search_index() -> Result<Option<String>, BrowserError> {
    let cache = search_cache().await?;
    let found = JsFuture::from(cache.match_with_str(SEARCH_KEY)).await?;
    let Ok(response) = found.dyn_into::<Response>() else {
        return Ok(None);
    };
    Ok(JsFuture::from(response.text()?).await?.as_string())
}

/// Stores the device's search index in Cache Storage.
pub async fn store_search_index(json: &str) -> Result<(), BrowserError> {
    let cache = search_cache().await?;
    let response = Response::new_with_opt_str(Some(json))?;
    response.headers().set("Content-Type", "application/json")?;
    JsFuture::from(cache.put_with_str(SEARCH_KEY, &response)).await?;
    Ok(())
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
