//! `PolicyTrust`: the core's rules of trust ([`tessera_core::Trust`]) for the JavaScript
//! client (`tessera-policy/client`, `js/client.js`), which does the fetching, storing and timing
//! and feeds each event here. Every method answers one JSON text: what to store, whether
//! the state (the client tells a change by comparing states).

use tessera_core::{DEFAULT_MAX_BYTES, Effects, Engine, Failure, Origin, Trust, TrustConfig, TrustedKeys};
use wasm_bindgen::prelude::*;

use crate::{LoadOptionsInput, PolicyEngine, Settings, Shared, SnapshotInput, from_millis};

/// The rules of trust the client (`tessera-policy/client`) drives: which snapshot to accept,
/// refuse, keep or activate, and when it goes stale or expires. Times are milliseconds since
/// 1970; each method answers a JSON text of what to store and the state.
#[wasm_bindgen]
pub struct PolicyTrust {
    trust: Trust,
    keys: TrustedKeys,
}

#[wasm_bindgen]
impl PolicyTrust {
    /// Trusts `options.trustedKeys` (the contents of `KEY.pub` files); a snapshot is usable
    /// until its expiry or `maxAge` seconds after the issuer last confirmed it; a newer one waits
    /// as pending unless `activateOnLoad`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        options: &LoadOptionsInput,
        max_age: Option<f64>,
        activate_on_load: bool,
    ) -> Result<PolicyTrust, JsValue> {
        let keys =
            Settings { keys: TrustedKeys::new(), min_version: 0, now: None, max_bytes: DEFAULT_MAX_BYTES }
                .read(options, true)?
                .keys;
        #[expect(clippy::cast_possible_truncation, reason = "seconds; far ends saturate")]
        let max_age = max_age.filter(|age| !age.is_nan()).map(|age| age.max(0.0) as i64);
        let config = TrustConfig { keys: keys.clone(), max_age, activate_on_load };
        Ok(PolicyTrust { trust: Trust::new(config, None), keys })
    }

    /// One input, by `kind`: snapshot bytes from `network`, `cache` or `bootstrap` (`text` their
    /// ETag, `confirmedAt` the time (ms) the issuer last confirmed them if stored, `floors(issuer)`
    /// the user's rollback floor for an issuer as stored now: a whole number, 0 if none);
    /// `not_modified` (the issuer answered 304 to the ETag held); `fail` (a refresh failed: `text`
    /// the reason, `network`, `http` or the issuer's error code, with `message` and the HTTP
    /// `status`); `tick` (time passed); `activate` (swap in the pending snapshot); `sign_out`;
    /// `user` (the signed-in user is `text`); anything else only reads the state. One method
    /// for all: each export costs the module glue.
    #[expect(clippy::too_many_arguments, reason = "one export for every input")]
    pub fn input(
        &mut self,
        kind: &str,
        text: Option<String>,
        message: Option<String>,
        status: Option<u16>,
        now: f64,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array | string | undefined")] snapshot: &JsValue,
        confirmed_at: Option<f64>,
        #[wasm_bindgen(unchecked_param_type = "((issuer: string) => number) | undefined")] floors: &JsValue,
    ) -> Result<String, JsValue> {
        let now = from_millis(now);
        let trust = &mut self.trust;
        let effects = match kind {
            "not_modified" => trust.not_modified(now),
            "fail" => trust.failed(
                Failure { reason: text.unwrap_or_default(), message: message.unwrap_or_default(), status },
                now,
            ),
            "tick" => trust.tick(now),
            "activate" => trust.activate(now),
            "sign_out" => trust.sign_out(),
            "user" => trust.set_user(text),
            source => match Origin::parse(source) {
                Some(origin) => {
                    // The floor the driver holds for an issuer: a whole number, or everything
                    // is refused.
                    let floor = |issuer: &str| {
                        let floor = floors
                            .dyn_ref::<js_sys::Function>()
                            .and_then(|floors| floors.call1(&JsValue::NULL, &JsValue::from_str(issuer)).ok())
                            .and_then(|v| v.as_f64());
                        #[expect(
                            clippy::cast_possible_truncation,
                            clippy::cast_sign_loss,
                            reason = "checked whole, 0 or more"
                        )]
                        floor.filter(|v| *v >= 0.0 && v.fract() == 0.0).map_or(u64::MAX, |v| v as u64)
                    };
                    let bytes = snapshot_input(snapshot.unchecked_ref())?;
                    trust.load(&bytes, text, origin, confirmed_at.map(from_millis), &floor, now)
                }
                None => Effects::default(),
            },
        };
        Ok(self.out(&effects))
    }

    /// An engine over the snapshot to decide with, if one is usable (verified, for the user,
    /// within its deadline); it decides at the clock, so past the snapshot's expiry it denies.
    pub fn engine(&self) -> Option<PolicyEngine> {
        let snapshot = self.trust.usable()?;
        let settings =
            Settings { keys: self.keys.clone(), min_version: 0, now: None, max_bytes: DEFAULT_MAX_BYTES };
        let engine = Engine::from(std::sync::Arc::clone(snapshot));
        Some(PolicyEngine { shared: std::rc::Rc::new(std::cell::RefCell::new(Shared { engine, settings })) })
    }
}

/// JSON written by hand: a derived serializer costs the module more than this.
struct Json(String);

impl Json {
    fn key(&mut self, key: &str) {
        self.0.push(if self.0.is_empty() { '{' } else { ',' });
        self.0.push('"');
        self.0.push_str(key);
        self.0.push_str("\":");
    }

    fn text(&mut self, key: &str, value: Option<&str>) {
        self.key(key);
        let Some(value) = value else { return self.0.push_str("null") };
        // JavaScript escapes the string (the module then carries no escaper of its own).
        let quoted =
            js_sys::JSON::stringify(&JsValue::from_str(value)).ok().and_then(|text| text.as_string());
        self.0.push_str(quoted.as_deref().unwrap_or("null"));
    }

    fn number(&mut self, key: &str, value: Option<i64>) {
        self.key(key);
        match value {
            Some(value) => self.0.push_str(&value.to_string()),
            None => self.0.push_str("null"),
        }
    }

    fn flag(&mut self, key: &str, value: bool) {
        self.key(key);
        self.0.push_str(if value { "true" } else { "false" });
    }
}

impl PolicyTrust {
    fn out(&self, effects: &Effects) -> String {
        let trust = &self.trust;
        let header = trust.active().map(|snapshot| snapshot.header());
        let version = |version: u64| i64::try_from(version).unwrap_or(i64::MAX);
        let mut json = Json(String::new());
        json.flag("pending", trust.pending());
        if let Some(etag) = &effects.store {
            json.text("store", etag.as_deref());
        }
        json.number("confirmed", effects.confirmed.map(|at| at.unix()));
        json.text("clear", effects.clear.as_deref());
        json.text("floorIssuer", effects.floor.as_ref().map(|(issuer, _)| issuer.as_str()));
        json.number("floor", effects.floor.as_ref().map(|(_, floor)| version(*floor)));
        json.text("status", Some(trust.status().as_str()));
        json.text("source", trust.origin().map(Origin::as_str));
        json.number("version", header.map(|header| version(header.version)));
        json.number("expiresAt", header.map(|header| header.expires_at.unix()));
        json.number("deadline", trust.deadline().map(|at| at.unix()));
        json.text("user", trust.user());
        json.text("etag", trust.etag());
        let failure = trust.last_error();
        json.text("reason", failure.map(|failure| failure.reason.as_str()));
        json.text("message", failure.map(|failure| failure.message.as_str()));
        json.number("httpStatus", failure.and_then(|failure| failure.status).map(i64::from));
        json.0.push('}');
        json.0
    }
}

/// The snapshot's bytes, copied (the trust rules verify from memory).
#[cfg(not(feature = "stream"))]
fn snapshot_input(snapshot: &SnapshotInput) -> Result<Vec<u8>, JsValue> {
    crate::snapshot_input(snapshot)
}

#[cfg(feature = "stream")]
fn snapshot_input(snapshot: &SnapshotInput) -> Result<Vec<u8>, JsValue> {
    use tessera_core::Source as _;
    let input = crate::snapshot_input(snapshot)?;
    let mut bytes = vec![0; input.len()];
    if !input.read_at(0, &mut bytes) {
        return Err(crate::error("invalid_input", "the snapshot's Uint8Array could not be read"));
    }
    Ok(bytes)
}
