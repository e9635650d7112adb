//! WebAssembly bindings of the Tessera core, shipped as the npm package `tessera-policy`.
//!
//! Only this crate knows about JavaScript. Long-lived data (the verified snapshot) stays in
//! Rust behind [`PolicyEngine`]; only small answers cross the boundary. A failed load or update
//! throws a `TesseraError` (an `Error` whose `name` is `TesseraError`, with a stable `code`); a
//! denial is never an exception. Nothing here can panic: the workspace lints forbid it.
//!
//! Questions about Projects have a fast path in JavaScript, `js/fast.js`, which `cargo xtask
//! dist` appends to the glue: it keeps per view and question the Set of Projects allowed, which
//! the internal export `__visible` computes from the core's `UserView`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, Ordering};

use js_sys::{Array, Date, Reflect, Uint8Array};
use serde::Serialize;
use tessera_core::{
    DEFAULT_MAX_BYTES, Engine, Header, PROJECT_PERMISSIONS, ProjectIndex, ProjectQuestion, PublicKey, Query,
    ResourceKind, Snapshot, Target, Timestamp, TrustedKeys, VerifyOptions,
};
use wasm_bindgen::prelude::*;

mod trust;

pub use trust::PolicyTrust;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = r#"
/** What a user can be asked to view. Tasks, documents, report and finance rows hang off a project. */
export type ResourceKind = "project" | "task" | "document" | "report" | "finance" | "person" | "group";

/** What a permission acts on: at most one of these. */
export interface Target {
  project?: string;
  group?: string;
  person?: string;
  dm?: string;
  office?: string;
  network?: string;
}

/** One question: may the user view this, or may they do this. */
export type Query =
  | { view: ResourceKind; id: string; project?: string }
  | { can: string; target?: Target };

/** How to verify a snapshot. */
export interface LoadOptions {
  /** The contents of `KEY.pub` files written by `tessera keygen`. Several at once, for rotation. */
  trustedKeys: string[];
  /** The lowest version accepted: the highest accepted before (rollback protection). */
  minVersion?: number;
  /** The time to verify and decide at (milliseconds or a Date); by default the clock, read at each call. */
  now?: number | Date;
  /** The largest snapshot accepted, in bytes (default 32 MiB). */
  maxBytes?: number;
}

/** What a verified snapshot says about itself. */
export interface SnapshotInfo {
  issuer: string;
  version: number;
  issuedAt: string;
  expiresAt: string;
  /** `org`, `network:ID` or `user:ID`. */
  scope: string;
  /** The trusted key whose signature verified. */
  keyId: string;
}

/** A fact a decision rested on; `fact` says which kind (user, project, team, agreement, profile, override, ...). */
export interface Fact {
  fact: string;
  [field: string]: unknown;
}

/** A decision, explained. */
export interface Decision {
  allowed: boolean;
  /** A stable reason code, e.g. `on_team`, `firewall`, `profile_lacks_permission`. */
  code: string;
  /** A sentence a person can read. */
  message: string;
  facts: Fact[];
  /** For a denial, the smallest changes of the organisation that would allow it, smallest
   * first: in the `tessera-policy/full` build only. */
  grants?: Grant[];
}

/** One concrete edit of the organisation; `edit` says which kind (`add_to_team`, `override_on`, `raise_role`, ...). */
export interface Edit {
  edit: string;
  [field: string]: unknown;
}

/** Edits that, applied together, would allow a denied decision. */
export interface Grant {
  edits: Edit[];
}

/** The stable codes of a `TesseraError`. */
export type TesseraErrorCode =
  | "malformed_envelope" | "wrong_payload_type" | "unknown_key" | "bad_signature" | "expired"
  | "not_yet_valid" | "rollback" | "unsupported_schema" | "too_large" | "invalid_content" | "scope_mismatch" | "over_limit"
  | "invalid_key" | "invalid_options" | "invalid_input" | "invalid_query";

/** A failed load or update: an `Error` whose `name` is `"TesseraError"`, with a stable `code`. */
export interface TesseraError extends Error {
  name: "TesseraError";
  code: TesseraErrorCode;
}

/** Where a `VersionStore` keeps versions: `localStorage`, `sessionStorage`, or any look-alike. */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export interface UserView {
  /** The items the user may see, in order; an item of an unknown kind is left out. */
  filter<T extends { kind: ResourceKind | string; id: string; project?: string }>(items: T[]): T[];
  /** The ids of `kind` the user may see, in order. An unknown kind keeps none. */
  filterIds(kind: ResourceKind, ids: string[], project?: string | null): string[];
}
"#;

#[cfg(feature = "impact")]
#[wasm_bindgen(typescript_custom_section)]
const IMPACT_TYPES: &str = r#"
/** What one user gains or loses between two snapshots. */
export interface Access {
  projects?: string[];
  reports?: string[];
  finance?: string[];
  people?: string[];
  groups?: string[];
  permissions?: Query[];
}

/** Who gains or loses what between two snapshots; users whose access does not change are left out. */
export interface Impact {
  users: { user: string; gained: Access; lost: Access }[];
}
"#;

#[wasm_bindgen]
extern "C" {
    /// `Uint8Array | string`.
    #[wasm_bindgen(typescript_type = "Uint8Array | string")]
    pub type SnapshotInput;
    /// `LoadOptions`.
    #[wasm_bindgen(typescript_type = "LoadOptions")]
    pub type LoadOptionsInput;
    /// `Partial<LoadOptions>`.
    #[wasm_bindgen(typescript_type = "Partial<LoadOptions>")]
    pub type PartialLoadOptionsInput;
    /// `SnapshotInfo`.
    #[wasm_bindgen(typescript_type = "SnapshotInfo")]
    pub type SnapshotInfoOutput;
    /// `Query`.
    #[wasm_bindgen(typescript_type = "Query")]
    pub type QueryInput;
    /// `Target`.
    #[wasm_bindgen(typescript_type = "Target")]
    pub type TargetInput;
    /// `Decision`.
    #[wasm_bindgen(typescript_type = "Decision")]
    pub type DecisionOutput;
    /// `Record<string, boolean>`.
    #[wasm_bindgen(typescript_type = "Record<string, boolean>")]
    pub type PermissionsOutput;
    /// `Impact`.
    #[cfg(feature = "impact")]
    #[wasm_bindgen(typescript_type = "Impact")]
    pub type ImpactOutput;
    /// `StorageLike`.
    #[wasm_bindgen(typescript_type = "StorageLike")]
    pub type StorageInput;
}

/// Whether `value` is a `TesseraError` thrown by this package.
#[wasm_bindgen(js_name = isTesseraError, unchecked_return_type = "value is TesseraError")]
pub fn is_tessera_error(value: &JsValue) -> bool {
    value.dyn_ref::<js_sys::Error>().is_some_and(|error| error.name() == "TesseraError")
        && Reflect::get(value, &JsValue::from_str("code")).is_ok_and(|code| code.is_string())
}

/// A stable error code and a message, thrown to JavaScript as a `TesseraError`.
fn error(code: &str, message: impl AsRef<str>) -> JsValue {
    let error = js_sys::Error::new(message.as_ref());
    error.set_name("TesseraError");
    // Setting a property on a fresh object cannot fail; if it did, the error still throws.
    let _ = Reflect::set(&error, &JsValue::from_str("code"), &JsValue::from_str(code));
    error.into()
}

/// The settings a load or update verifies with.
#[derive(Clone)]
struct Settings {
    keys: TrustedKeys,
    min_version: u64,
    /// A fixed clock, when the caller gave one.
    now: Option<Timestamp>,
    max_bytes: usize,
}

impl Settings {
    fn now(&self) -> Timestamp {
        self.now.unwrap_or_else(clock)
    }

    fn verify_options(&self) -> VerifyOptions {
        VerifyOptions {
            min_version: self.min_version,
            max_bytes: self.max_bytes,
            ..VerifyOptions::new(self.now())
        }
    }

    /// Reads `options` over `self`: only the fields given change. Unknown fields are refused, so
    /// that a misspelt `minVersion` cannot silently switch rollback protection off.
    fn read(mut self, options: &JsValue, whole: bool) -> Result<Settings, JsValue> {
        if !options.is_object() {
            return Err(error("invalid_options", "options must be an object such as { trustedKeys: [...] }"));
        }
        for key in js_sys::Object::keys(options.unchecked_ref::<js_sys::Object>()).iter() {
            let key = key.as_string().unwrap_or_default();
            if !["trustedKeys", "minVersion", "now", "maxBytes"].contains(&key.as_str()) {
                return Err(error("invalid_options", format!("unknown option `{key}`")));
            }
        }
        let get = |name: &str| Reflect::get(options, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED);

        let keys = get("trustedKeys");
        if keys.is_undefined() {
            if whole {
                return Err(error("invalid_options", "`trustedKeys` is required"));
            }
        } else {
            let Some(array) = keys.dyn_ref::<Array>() else {
                return Err(error("invalid_options", "`trustedKeys` must be an array of public keys"));
            };
            let mut trusted = TrustedKeys::new();
            for (index, key) in array.iter().enumerate() {
                let Some(text) = key.as_string() else {
                    return Err(error("invalid_key", format!("trustedKeys[{index}] is not a string")));
                };
                let key = PublicKey::from_text(&text)
                    .map_err(|e| error("invalid_key", format!("trustedKeys[{index}]: {e}")))?;
                trusted.add(key);
            }
            self.keys = trusted;
        }
        if let Some(min_version) = whole_number(&get("minVersion"), "minVersion")? {
            self.min_version = min_version;
        }
        if let Some(max_bytes) = whole_number(&get("maxBytes"), "maxBytes")? {
            self.max_bytes = usize::try_from(max_bytes).unwrap_or(usize::MAX);
        }
        let now = get("now");
        if !now.is_undefined() {
            let millis = match now.dyn_ref::<Date>() {
                Some(date) => date.get_time(),
                None => now.as_f64().unwrap_or(f64::NAN),
            };
            if !millis.is_finite() {
                return Err(error("invalid_options", "`now` must be a Date or milliseconds since 1970"));
            }
            self.now = Some(from_millis(millis));
        }
        Ok(self)
    }
}

/// A non-negative whole number option, if given.
fn whole_number(value: &JsValue, name: &str) -> Result<Option<u64>, JsValue> {
    if value.is_undefined() {
        return Ok(None);
    }
    match value.as_f64() {
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "checked to be a safe integer"
        )]
        Some(number) if number >= 0.0 && number.fract() == 0.0 && number <= 9_007_199_254_740_991.0 => {
            Ok(Some(number as u64))
        }
        _ => Err(error("invalid_options", format!("`{name}` must be a whole number, 0 or more"))),
    }
}

#[expect(clippy::cast_possible_truncation, reason = "whole seconds are enough; far ends saturate")]
fn from_millis(millis: f64) -> Timestamp {
    Timestamp::from_unix((millis / 1000.0).floor() as i64)
}

fn clock() -> Timestamp {
    from_millis(Date::now())
}

#[cfg(feature = "stream")]
/// A snapshot as the loader reads it: bytes left in JavaScript, read a window at a time, so
/// that a large snapshot is never copied whole into WebAssembly memory (which, once grown,
/// never shrinks); or a string's bytes.
enum Input {
    Bytes(Bytes),
    Text(Vec<u8>),
}

/// The caller's `Uint8Array`, not copied, read without running any of the caller's code: its
/// buffer, offset and length are read once, by the getters the language defines (not the
/// array's own properties, which a subclass or the caller may redefine), and each window is a
/// fresh view of that buffer. Bytes that change while they are read (a `SharedArrayBuffer`
/// written by a worker) can only make the load fail: the loader hashes exactly what it reads.
#[cfg(feature = "stream")]
struct Bytes {
    buffer: JsValue,
    offset: f64,
    len: usize,
}

#[cfg(feature = "stream")]
#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = Uint8Array)]
    type Window;

    /// `new Uint8Array(buffer, byteOffset, length)`; throws when out of range.
    #[wasm_bindgen(constructor, js_class = "Uint8Array", catch)]
    fn new(buffer: &JsValue, byte_offset: f64, length: f64) -> Result<Window, JsValue>;
}

#[cfg(feature = "stream")]
impl Bytes {
    fn of(array: &JsValue) -> Option<Bytes> {
        // %TypedArray%.prototype, reached from a fresh array of our own.
        let own = Uint8Array::new_with_length(0);
        let typed_array = js_sys::Object::get_prototype_of(&js_sys::Object::get_prototype_of(&own));
        let get = |name: &str| -> Option<JsValue> {
            let descriptor =
                js_sys::Object::get_own_property_descriptor(&typed_array, &JsValue::from_str(name));
            let getter: js_sys::Function =
                Reflect::get(&descriptor, &JsValue::from_str("get")).ok()?.dyn_into().ok()?;
            getter.call0(array).ok()
        };
        let buffer = get("buffer")?;
        let offset = get("byteOffset")?.as_f64()?;
        let len = get("byteLength")?.as_f64()?;
        // A whole number of bytes that this module can address, or nothing.
        #[expect(clippy::cast_precision_loss, reason = "usize::MAX as a bound only")]
        let addressable = (0.0..=usize::MAX as f64).contains(&len) && len.fract() == 0.0;
        if !addressable {
            return None;
        }
        #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "checked just above")]
        let len = len as usize;
        Some(Bytes { buffer, offset, len })
    }

    fn read_at(&self, at: usize, into: &mut [u8]) -> bool {
        if at.checked_add(into.len()).is_none_or(|end| end > self.len) {
            return false;
        }
        #[expect(clippy::cast_precision_loss, reason = "offsets within an ArrayBuffer are below 2^53")]
        let (start, len) = (self.offset + at as f64, into.len() as f64);
        let Ok(window) = Window::new(&self.buffer, start, len) else { return false };
        let window: Uint8Array = window.unchecked_into();
        if window.length() as usize != into.len() {
            return false;
        }
        window.copy_to(into);
        true
    }
}

#[cfg(feature = "stream")]
impl tessera_core::Source for Input {
    fn len(&self) -> usize {
        match self {
            Input::Bytes(bytes) => bytes.len,
            Input::Text(bytes) => bytes.len(),
        }
    }

    fn read_at(&self, at: usize, into: &mut [u8]) -> bool {
        match self {
            Input::Bytes(bytes) => bytes.read_at(at, into),
            Input::Text(text) => match at.checked_add(into.len()).and_then(|end| text.get(at..end)) {
                Some(bytes) => {
                    into.copy_from_slice(bytes);
                    true
                }
                None => false,
            },
        }
    }
}

/// Without the `stream` feature (the default build, which has a size budget) the loader reads
/// the snapshot whole: its bytes are copied into WebAssembly memory.
#[cfg(not(feature = "stream"))]
type Input = Vec<u8>;

#[cfg(not(feature = "stream"))]
#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = Uint8Array)]
    type Copy;

    /// `new Uint8Array(array)`: a copy made by the language's own constructor, which reads the
    /// array's internal length, not its (perhaps redefined) properties; throws when detached.
    #[wasm_bindgen(constructor, js_class = "Uint8Array", catch)]
    fn new(array: &JsValue) -> Result<Copy, JsValue>;
}

#[cfg(not(feature = "stream"))]
fn snapshot_input(snapshot: &JsValue) -> Result<Input, JsValue> {
    if let Some(text) = snapshot.as_string() {
        return Ok(text.into_bytes());
    }
    if snapshot.is_instance_of::<Uint8Array>() {
        let copy = Copy::new(snapshot)
            .map_err(|_| error("invalid_input", "the snapshot's Uint8Array could not be read"))?;
        return Ok(copy.unchecked_into::<Uint8Array>().to_vec());
    }
    Err(error("invalid_input", "a snapshot is a Uint8Array or a string"))
}

#[cfg(not(feature = "stream"))]
fn load_engine(input: &Input, keys: &TrustedKeys, options: &VerifyOptions) -> Result<Engine, JsValue> {
    Engine::load(input, keys, options).map_err(|e| error(e.code(), e.to_string()))
}

#[cfg(feature = "stream")]
fn load_engine(input: &Input, keys: &TrustedKeys, options: &VerifyOptions) -> Result<Engine, JsValue> {
    Engine::load_from(input, keys, options).map_err(|e| error(e.code(), e.to_string()))
}

#[cfg(not(feature = "stream"))]
fn update_engine(
    engine: &mut Engine,
    input: &Input,
    keys: &TrustedKeys,
    options: &VerifyOptions,
) -> Result<(), JsValue> {
    engine.update(input, keys, options).map(|_| ()).map_err(|e| error(e.code(), e.to_string()))
}

#[cfg(feature = "stream")]
fn update_engine(
    engine: &mut Engine,
    input: &Input,
    keys: &TrustedKeys,
    options: &VerifyOptions,
) -> Result<(), JsValue> {
    engine.update_from(input, keys, options).map(|_| ()).map_err(|e| error(e.code(), e.to_string()))
}

#[cfg(feature = "stream")]
fn snapshot_input(snapshot: &JsValue) -> Result<Input, JsValue> {
    if let Some(text) = snapshot.as_string() {
        return Ok(Input::Text(text.into_bytes()));
    }
    if snapshot.is_instance_of::<Uint8Array>() {
        return Bytes::of(snapshot)
            .map(Input::Bytes)
            .ok_or_else(|| error("invalid_input", "the snapshot's Uint8Array could not be read"));
    }
    Err(error("invalid_input", "a snapshot is a Uint8Array or a string"))
}

struct Shared {
    engine: Engine,
    settings: Settings,
}

/// Counts the updates of every engine: the fast path in JavaScript reads it straight from the
/// module's memory, and forgets what it knew of any view when it changes.
static UPDATES: AtomicU32 = AtomicU32::new(0);

/// A verified policy snapshot, and the settings it was verified with.
#[wasm_bindgen]
pub struct PolicyEngine {
    shared: Rc<RefCell<Shared>>,
}

#[wasm_bindgen]
impl PolicyEngine {
    /// Verifies `snapshot` with `options` and loads it; throws a `TesseraError` if it does not
    /// verify.
    pub fn load(snapshot: &SnapshotInput, options: &LoadOptionsInput) -> Result<PolicyEngine, JsValue> {
        let settings =
            Settings { keys: TrustedKeys::new(), min_version: 0, now: None, max_bytes: DEFAULT_MAX_BYTES }
                .read(options, true)?;
        let engine = load_engine(&snapshot_input(snapshot)?, &settings.keys, &settings.verify_options())?;
        Ok(PolicyEngine { shared: Rc::new(RefCell::new(Shared { engine, settings })) })
    }

    /// Replaces the snapshot with `snapshot` if it verifies and is no older than the current
    /// one. Atomic: on any error it throws and the engine keeps the snapshot it had. Options
    /// given here are kept for later updates.
    pub fn update(
        &self,
        snapshot: &SnapshotInput,
        options: Option<PartialLoadOptionsInput>,
    ) -> Result<SnapshotInfoOutput, JsValue> {
        // Read before the engine is borrowed: nothing of the caller's runs while it is.
        let input = snapshot_input(snapshot)?;
        let mut shared =
            self.shared.try_borrow_mut().map_err(|_| error("invalid_input", "the engine is busy"))?;
        let settings = match &options {
            Some(options) => shared.settings.clone().read(options, false)?,
            None => shared.settings.clone(),
        };
        update_engine(&mut shared.engine, &input, &settings.keys, &settings.verify_options())?;
        shared.settings = settings;
        UPDATES.fetch_add(1, Ordering::Relaxed);
        info(shared.engine.snapshot())
    }

    /// What the current snapshot says about itself.
    #[wasm_bindgen(getter)]
    pub fn info(&self) -> Result<SnapshotInfoOutput, JsValue> {
        let shared = self.shared.try_borrow().map_err(|_| error("invalid_input", "the engine is busy"))?;
        info(shared.engine.snapshot())
    }

    /// What changes from this engine's snapshot to `other`'s: for every user whose access
    /// changes, the Projects, people, report and finance rows and permissions they gain or lose.
    /// Both sides are decided by the same evaluator at the same time, so it is exact: an app can
    /// re-render just what a new snapshot changed. A snapshot scoped to one user answers for that
    /// user only. (`tessera-policy/full` build only.)
    #[cfg(feature = "impact")]
    pub fn diff(&self, other: &PolicyEngine) -> Result<ImpactOutput, JsValue> {
        let (Ok(ours), Ok(theirs)) = (self.shared.try_borrow(), other.shared.try_borrow()) else {
            return Err(error("invalid_input", "the engine is busy"));
        };
        let (old, new) = (ours.engine.snapshot(), theirs.engine.snapshot());
        let user = match &new.header().scope {
            tessera_core::Scope::User(id) => Some(id.as_str()),
            _ => None,
        };
        let impact = tessera_core::diff(old.policy(), new.policy(), ours.settings.now(), user);
        to_js(&impact).map(JsCast::unchecked_into)
    }

    /// The decisions of one user. A view answers from the engine's current snapshot, so it
    /// follows updates. An unknown or inactive user is denied everything, with that reason.
    #[wasm_bindgen(js_name = forUser)]
    pub fn for_user(&self, user: String) -> UserView {
        UserView { shared: Rc::clone(&self.shared), user, precomputed: RefCell::new(None) }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Info<'a> {
    issuer: &'a str,
    version: f64,
    issued_at: String,
    expires_at: String,
    scope: String,
    key_id: &'a str,
}

#[expect(clippy::cast_precision_loss, reason = "versions beyond 2^53 do not occur; JS numbers are f64")]
fn info(snapshot: &Snapshot) -> Result<SnapshotInfoOutput, JsValue> {
    let header: &Header = snapshot.header();
    let info = Info {
        issuer: &header.issuer,
        version: header.version as f64,
        issued_at: header.issued_at.to_string(),
        expires_at: header.expires_at.to_string(),
        scope: header.scope.to_string(),
        key_id: snapshot.key_id().as_str(),
    };
    to_js(&info).map(JsCast::unchecked_into)
}

/// Structured values cross the boundary as JSON text: the JSON code is in the module anyway (for
/// the snapshot), and a second serializer would cost size for no speed that matters here.
fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    let text = serde_json::to_string(value).map_err(|e| error("invalid_input", e.to_string()))?;
    js_sys::JSON::parse(&text)
}

/// A decision without `grants`, which only the full build computes: the default build then
/// carries no code to write them.
#[cfg(not(feature = "impact"))]
#[derive(Serialize)]
struct Plain<'a> {
    allowed: bool,
    code: tessera_core::Code,
    message: &'a str,
    facts: &'a [tessera_core::Fact],
}

#[cfg(not(feature = "impact"))]
impl<'a> From<&'a tessera_core::Decision> for Plain<'a> {
    fn from(decision: &'a tessera_core::Decision) -> Self {
        Plain {
            allowed: decision.allowed,
            code: decision.code,
            message: &decision.message,
            facts: &decision.facts,
        }
    }
}

/// Reads a structured value from JavaScript (through JSON text, as [`to_js`] writes).
fn from_js<T: serde::de::DeserializeOwned>(value: &JsValue, what: &str) -> Result<T, JsValue> {
    let text = js_sys::JSON::stringify(value)
        .ok()
        .and_then(|text| text.as_string())
        .ok_or_else(|| error("invalid_query", format!("invalid {what}: not JSON")))?;
    serde_json::from_str(&text).map_err(|e| error("invalid_query", format!("invalid {what}: {e}")))
}

/// One user's decisions.
#[wasm_bindgen]
pub struct UserView {
    shared: Rc<RefCell<Shared>>,
    user: String,
    /// The core's precomputed view, made on first use and again when it goes stale.
    precomputed: RefCell<Option<Precomputed>>,
}

/// A user's precomputed view, and the questions the fast path asks by number: 0 view a
/// Project (or a task or document of it), 1 a report row, 2 a finance row, then `task.create`,
/// `file.upload`, `wiki.manage`.
struct Precomputed {
    view: tessera_core::UserView,
    questions: [Option<ProjectQuestion>; 6],
    /// The engine's clock is fixed: the answers hold whatever the time.
    fixed: bool,
}

impl Precomputed {
    fn new(snapshot: &Snapshot, user: &str, now: Timestamp, fixed: bool) -> Precomputed {
        let policy = snapshot.policy();
        let [task, file, wiki] = PROJECT_PERMISSIONS.map(|key| policy.can_question(key));
        Precomputed {
            view: snapshot.user_view(user, now),
            questions: [
                policy.view_question(ResourceKind::Project),
                policy.view_question(ResourceKind::Report),
                policy.view_question(ResourceKind::Finance),
                task,
                file,
                wiki,
            ],
            fixed,
        }
    }

    /// Question `code` about the Project at `project`; an unknown question is denied.
    fn answer(&self, snapshot: &Snapshot, code: u32, project: u32, now: Timestamp) -> bool {
        let question = self.questions.get(code as usize).copied().flatten();
        question.is_some_and(|question| {
            self.view.answer(snapshot.policy(), question, ProjectIndex::new(project), now)
        })
    }
}

impl UserView {
    /// Runs `f` on the current snapshot and clock; a busy engine (impossible from single-threaded
    /// JS, but not provably so) denies.
    fn with<R>(&self, denied: R, f: impl FnOnce(&Snapshot, Timestamp) -> R) -> R {
        match self.shared.try_borrow() {
            Ok(shared) => f(shared.engine.snapshot(), shared.settings.now()),
            Err(_) => denied,
        }
    }

    fn allows(&self, query: &Query) -> bool {
        self.with(false, |snapshot, now| snapshot.allows(&self.user, query, now))
    }

    /// Runs `f` with the precomputed view, current at `now_ms` (the caller's clock, unless the
    /// engine has a fixed one); `None` when the engine is busy.
    fn precomputed<R>(
        &self,
        now_ms: f64,
        f: impl FnOnce(&Snapshot, &Precomputed, Timestamp) -> R,
    ) -> Option<R> {
        let shared = self.shared.try_borrow().ok()?;
        let snapshot = shared.engine.snapshot();
        let fixed = shared.settings.now;
        let now = fixed.unwrap_or_else(|| from_millis(now_ms));
        let mut cached = self.precomputed.try_borrow_mut().ok()?;
        if !cached.as_ref().is_some_and(|cached| cached.view.is_current(snapshot.policy(), now)) {
            *cached = Some(Precomputed::new(snapshot, &self.user, now, fixed.is_some()));
        }
        let precomputed = cached.as_ref()?;
        Some(f(snapshot, precomputed, now))
    }
}

/// `filter` and `filterIds` as Rust wrote them. The npm package's are in JavaScript
/// (`js/fast.js`): they answer from the Sets each view keeps, and the module stays within its
/// size budget. These are what they answer like; the wasm tests check them.
impl UserView {
    /// The items the user may see, in order. Each item's `kind`, `id` and `project` are read;
    /// an item without them, or of an unknown kind, is left out.
    pub fn filter(&self, items: Array) -> Array {
        let field = |item: &JsValue, name: &str| {
            Reflect::get(item, &JsValue::from_str(name)).ok().and_then(|value| value.as_string())
        };
        self.with(Array::new(), |snapshot, now| {
            items
                .iter()
                .filter(|item| {
                    let (Some(kind), Some(id)) = (field(item, "kind"), field(item, "id")) else {
                        return false;
                    };
                    view_query(&kind, id, field(item, "project"))
                        .is_some_and(|query| snapshot.allows(&self.user, &query, now))
                })
                .collect()
        })
    }

    /// The ids of `kind` the user may see, in order. An unknown kind keeps none.
    pub fn filter_ids(&self, kind: &str, ids: Vec<String>, project: Option<String>) -> Vec<String> {
        let Some(kind) = ResourceKind::parse(kind) else { return Vec::new() };
        self.with(Vec::new(), |snapshot, now| {
            ids.into_iter()
                .filter(|id| {
                    let query = Query::View { kind, id: id.clone(), project: project.clone() };
                    snapshot.allows(&self.user, &query, now)
                })
                .collect()
        })
    }
}

fn view_query(kind: &str, id: String, project: Option<String>) -> Option<Query> {
    ResourceKind::parse(kind).map(|kind| Query::View { kind, id, project })
}

#[wasm_bindgen]
impl UserView {
    /// The user this view decides for.
    #[wasm_bindgen(getter, js_name = userId)]
    pub fn user_id(&self) -> String {
        self.user.clone()
    }

    /// May the user see this resource? An unknown kind is denied.
    #[wasm_bindgen(js_name = canView)]
    pub fn can_view(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ResourceKind")] kind: &str,
        id: String,
        project: Option<String>,
    ) -> bool {
        view_query(kind, id, project).is_some_and(|query| self.allows(&query))
    }

    /// May the user do this? Throws a `TesseraError` (`invalid_query`) only for a malformed
    /// target object.
    pub fn can(&self, permission: String, target: Option<TargetInput>) -> Result<bool, JsValue> {
        let target = match target {
            Some(target) if !target.is_undefined() && !target.is_null() => {
                from_js::<Target>(&target, "target")?
            }
            _ => Target::none(),
        };
        Ok(self.allows(&Query::can(permission, target)))
    }

    /// The decision, explained: `{ allowed, code, message, facts }` (and in the full build, for a
    /// denial, `grants`: the smallest changes that would allow it). Throws a `TesseraError`
    /// (`invalid_query`) only for a malformed query.
    pub fn explain(&self, query: QueryInput) -> Result<DecisionOutput, JsValue> {
        let query: Query = from_js(&query, "query")?;
        let shared = self.shared.try_borrow().map_err(|_| error("invalid_input", "the engine is busy"))?;
        let snapshot = shared.engine.snapshot();
        // The full build adds what would grant a denial; the default build stays small.
        #[cfg(feature = "impact")]
        let decision = snapshot.explain(&self.user, &query, shared.settings.now());
        #[cfg(not(feature = "impact"))]
        let decision = snapshot.decide(&self.user, &query, shared.settings.now());
        #[cfg(not(feature = "impact"))]
        let decision = Plain::from(&decision);
        to_js(&decision).map(JsCast::unchecked_into)
    }

    /// The ids of every Project the user may see.
    #[wasm_bindgen(js_name = visibleProjects)]
    pub fn visible_projects(&self) -> Vec<String> {
        self.with(Vec::new(), |snapshot, now| {
            snapshot.visible_projects(&self.user, now).into_iter().map(str::to_owned).collect()
        })
    }

    /// Where in the module's memory the count of updates lies (the fast path in JavaScript
    /// reads it there).
    #[wasm_bindgen(js_name = "__updates", skip_typescript)]
    pub fn updates(&self) -> usize {
        std::ptr::from_ref(&UPDATES) as usize
    }

    /// The ids of the Projects for which question `question_code` is allowed at `now_ms`, one a
    /// line, after a first line with the span of time (milliseconds, `from until`) over which
    /// the answers hold; empty when the engine is busy or an id holds a newline. For the fast
    /// path in JavaScript, which keeps them as a `Set`.
    #[wasm_bindgen(js_name = "__visible", skip_typescript)]
    pub fn visible(&self, question_code: u32, now_ms: f64) -> String {
        self.precomputed(now_ms, |snapshot, precomputed, now| {
            // With a fixed clock, the answers hold whatever the time.
            let millis = |t: Option<Timestamp>| {
                t.filter(|_| !precomputed.fixed).map(|t| t.unix().saturating_mul(1000).to_string())
            };
            let view = &precomputed.view;
            if !view.is_current(snapshot.policy(), now) {
                // Past the snapshot's expiry (a view made now is current otherwise): nothing is
                // allowed from then on.
                let expired = millis(Some(snapshot.header().expires_at)).unwrap_or_default();
                return format!("{expired} Infinity");
            }
            let from = millis(view.valid_from()).unwrap_or_else(|| "-Infinity".to_owned());
            let until = millis(view.valid_until()).unwrap_or_else(|| "Infinity".to_owned());
            let mut out = format!("{from} {until}");
            let policy = snapshot.policy();
            for (index, id) in policy.project_ids().enumerate() {
                let index = u32::try_from(index).unwrap_or(u32::MAX);
                if precomputed.answer(snapshot, question_code, index, now) {
                    if id.contains('\n') {
                        return String::new();
                    }
                    out.push('\n');
                    out.push_str(id);
                }
            }
            out
        })
        .unwrap_or_default()
    }

    /// Every permission that takes no target, with whether the user holds it.
    pub fn permissions(&self) -> Result<PermissionsOutput, JsValue> {
        let map: BTreeMap<String, bool> = self.with(BTreeMap::new(), |snapshot, now| {
            snapshot
                .permissions_without_target(&self.user, now)
                .into_iter()
                .map(|(key, allowed)| (key.to_owned(), allowed))
                .collect()
        });
        to_js(&map).map(JsCast::unchecked_into)
    }
}

/// Rollback protection that survives a reload: keeps the highest snapshot version accepted per
/// issuer in a storage (`localStorage` by default in a browser, memory elsewhere) and refuses
/// anything older, across loads, updates and tabs.
#[wasm_bindgen]
pub struct VersionStore {
    storage: Option<JsValue>,
    memory: RefCell<BTreeMap<String, u64>>,
    namespace: String,
}

#[wasm_bindgen]
impl VersionStore {
    /// A store in `storage` (default: `globalThis.localStorage` if there is one, else memory),
    /// under keys that start with `namespace` (default `"tessera-policy"`).
    #[wasm_bindgen(constructor)]
    pub fn new(storage: Option<StorageInput>, namespace: Option<String>) -> VersionStore {
        let storage = match storage {
            Some(storage) if storage.is_object() => Some(storage.into()),
            _ => Reflect::get(&js_sys::global(), &JsValue::from_str("localStorage"))
                .ok()
                .filter(JsValue::is_object),
        };
        VersionStore {
            storage,
            memory: RefCell::new(BTreeMap::new()),
            namespace: namespace.unwrap_or_else(|| "tessera-policy".to_owned()),
        }
    }

    /// The highest version accepted from `issuer`, or 0.
    #[wasm_bindgen(js_name = minVersion)]
    pub fn min_version(&self, issuer: &str) -> f64 {
        #[expect(clippy::cast_precision_loss, reason = "versions beyond 2^53 do not occur")]
        let version = self.get(issuer) as f64;
        version
    }

    /// Verifies and loads `snapshot`, refusing (`rollback`) a version older than one accepted
    /// before from the same issuer; remembers the version it accepts.
    pub fn load(
        &self,
        snapshot: &SnapshotInput,
        options: &LoadOptionsInput,
    ) -> Result<PolicyEngine, JsValue> {
        let engine = PolicyEngine::load(snapshot, options)?;
        let (issuer, version) = {
            let shared =
                engine.shared.try_borrow().map_err(|_| error("invalid_input", "the engine is busy"))?;
            let header = shared.engine.snapshot().header();
            (header.issuer.clone(), header.version)
        };
        let accepted = self.get(&issuer);
        if version < accepted {
            return Err(error(
                "rollback",
                format!(
                    "version {version} is older than version {accepted} already accepted from `{issuer}`"
                ),
            ));
        }
        self.set(&issuer, version)?;
        Ok(engine)
    }

    /// Updates `engine` with `snapshot` (atomically, as `PolicyEngine.update`), no older than
    /// anything accepted from its issuer before, and remembers the version.
    pub fn update(
        &self,
        engine: &PolicyEngine,
        snapshot: &SnapshotInput,
        options: Option<PartialLoadOptionsInput>,
    ) -> Result<SnapshotInfoOutput, JsValue> {
        let issuer = {
            let shared =
                engine.shared.try_borrow().map_err(|_| error("invalid_input", "the engine is busy"))?;
            shared.engine.snapshot().header().issuer.clone()
        };
        let floor = JsValue::from_f64(self.min_version(&issuer));
        let options: JsValue = match options {
            Some(options) if options.is_object() => options.into(),
            _ => js_sys::Object::new().into(),
        };
        // The caller's options are not changed: the floor goes on a copy.
        let merged = js_sys::Object::assign(&js_sys::Object::new(), options.unchecked_ref());
        let given = Reflect::get(&merged, &JsValue::from_str("minVersion")).ok().and_then(|v| v.as_f64());
        if given.is_none_or(|given| given < floor.as_f64().unwrap_or(0.0)) {
            let _ = Reflect::set(&merged, &JsValue::from_str("minVersion"), &floor);
        }
        let info = engine.update(snapshot, Some(JsValue::from(merged).unchecked_into()))?;
        let shared = engine.shared.try_borrow().map_err(|_| error("invalid_input", "the engine is busy"))?;
        let header = shared.engine.snapshot().header();
        self.set(&header.issuer, header.version)?;
        Ok(info)
    }
}

impl VersionStore {
    fn key(&self, issuer: &str) -> String {
        format!("{}:{issuer}", self.namespace)
    }

    fn get(&self, issuer: &str) -> u64 {
        let Some(storage) = &self.storage else {
            return self.memory.borrow().get(issuer).copied().unwrap_or(0);
        };
        let get_item = Reflect::get(storage, &JsValue::from_str("getItem")).ok();
        let value = get_item
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
            .and_then(|f| f.call1(storage, &JsValue::from_str(&self.key(issuer))).ok())
            .and_then(|v| v.as_string());
        // Anything unreadable counts as nothing accepted yet: the snapshot's own signature and
        // the engine's version floor still hold.
        value.and_then(|text| text.parse().ok()).unwrap_or(0)
    }

    fn set(&self, issuer: &str, version: u64) -> Result<(), JsValue> {
        if version <= self.get(issuer) {
            return Ok(());
        }
        let Some(storage) = &self.storage else {
            self.memory.borrow_mut().insert(issuer.to_owned(), version);
            return Ok(());
        };
        let set_item = Reflect::get(storage, &JsValue::from_str("setItem"))?
            .dyn_into::<js_sys::Function>()
            .map_err(|_| error("invalid_options", "the storage has no setItem"))?;
        set_item.call2(
            storage,
            &JsValue::from_str(&self.key(issuer)),
            &JsValue::from_str(&version.to_string()),
        )?;
        Ok(())
    }
}
