//! The fast path itself (see the parent module).

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::Signature;
use ed25519_dalek::StreamVerifier;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::ids::Idx;
use crate::model::{AccessLevel, Agreement, DirectMessage, Group, Network, Office, Org, Role, User};
use crate::policy::{Policy, ReadProjects};
use crate::snapshot::{
    EnvelopeSignature, Header, KeyId, MAX_SIGNATURES, PAYLOAD_TYPE, SCHEMA_VERSION, SchemaProbe, Snapshot,
    TrustedKeys, VerifyOptions, check_header,
};
use crate::table::{IdTable, PROBE_BOUND, ProjectTable};

use super::{GiveUp, Source};

type Fast<T> = Result<T, GiveUp>;

/// Base64 read per window: a multiple of 4, so that each window decodes on its own.
const WINDOW: usize = 64 * 1024;

/// Verifies and reads `source`, or gives up.
///
/// The payload is decoded once: each window is hashed for the signature and read in the same
/// pass, and what was read is used only once the signature over all of it verifies. The
/// bytes read are then exactly the bytes signed, even from a source that changes under the
/// loader (such a source can make the load give up, never accept what was not signed).
pub(crate) fn verify(source: &dyn Source, keys: &TrustedKeys, options: &VerifyOptions) -> Fast<Snapshot> {
    let envelope = read_envelope(source)?;
    if envelope.payload_type != PAYLOAD_TYPE {
        return Err(GiveUp);
    }
    let signed = Signed::new(source, &envelope, keys)?;
    // What a load keeps is about the payload's size (1.02–1.15 times it, measured).
    super::reserve(signed.declared);
    let payload = Payload {
        decoder: Decoder::new(source, &envelope.payload, signed),
        buf: Vec::new(),
        pos: 0,
        ended: false,
    };
    let (header, key_id, policy) = read_payload(payload, options)?;
    Ok(Snapshot::from_parts(header, key_id, policy))
}

/// The envelope, with its payload left in the source.
struct Envelope {
    payload_type: String,
    signatures: Vec<EnvelopeSignature>,
    /// Where the payload's base64 lies in the source.
    payload: std::ops::Range<usize>,
}

/// Reads a source a window at a time, byte by byte where the envelope's small fields are.
struct Cursor<'s> {
    source: &'s dyn Source,
    window: Vec<u8>,
    /// Where `window` starts in the source.
    start: usize,
    /// The next byte, as an offset in the source.
    at: usize,
}

impl<'s> Cursor<'s> {
    fn new(source: &'s dyn Source) -> Cursor<'s> {
        Cursor { source, window: Vec::new(), start: 0, at: 0 }
    }

    fn peek(&mut self) -> Fast<Option<u8>> {
        let offset = self.at - self.start;
        if let Some(&byte) = self.window.get(offset) {
            return Ok(Some(byte));
        }
        let len = WINDOW.min(self.source.len().saturating_sub(self.at));
        if len == 0 {
            return Ok(None);
        }
        self.window.resize(len, 0);
        if !self.source.read_at(self.at, &mut self.window) {
            return Err(GiveUp);
        }
        self.start = self.at;
        Ok(self.window.first().copied())
    }

    fn next(&mut self) -> Fast<Option<u8>> {
        let byte = self.peek()?;
        if byte.is_some() {
            self.at += 1;
        }
        Ok(byte)
    }

    /// The next byte that is not JSON whitespace, not consumed.
    fn peek_token(&mut self) -> Fast<Option<u8>> {
        while let Some(byte) = self.peek()? {
            if !byte.is_ascii_whitespace() || byte == 0x0c {
                return Ok(Some(byte));
            }
            self.at += 1;
        }
        Ok(None)
    }

    fn expect(&mut self, wanted: u8) -> Fast<()> {
        if self.peek_token()? == Some(wanted) {
            self.at += 1;
            Ok(())
        } else {
            Err(GiveUp)
        }
    }

    /// A JSON string written without escapes, as an object key is; its text.
    fn plain_string(&mut self, limit: usize) -> Fast<Vec<u8>> {
        self.expect(b'"')?;
        let mut text = Vec::new();
        loop {
            match self.next()? {
                Some(b'"') => return Ok(text),
                Some(b'\\') | None => return Err(GiveUp),
                Some(byte) if text.len() < limit => text.push(byte),
                Some(_) => return Err(GiveUp),
            }
        }
    }

    /// Skips to the end of the payload's string, whose opening quote was read.
    ///
    /// The payload is most of a snapshot and its bytes are read again as they are decoded, so
    /// it is not scanned twice: the closing quote is looked for from [`TAIL`] bytes before the
    /// end of the source. That finds it exactly when no quote comes before, and the decoder
    /// refuses any byte that is not base64 (a quote or a backslash among them). An envelope
    /// whose other fields take more than [`TAIL`] bytes is read by the slow path.
    fn skip_payload(&mut self) -> Fast<()> {
        let tail = self.source.len().saturating_sub(TAIL);
        if tail > self.at {
            self.at = tail;
        }
        loop {
            self.peek()?.ok_or(GiveUp)?;
            let offset = self.at - self.start;
            let rest = self.window.get(offset..).ok_or(GiveUp)?;
            match memchr::memchr(b'"', rest) {
                Some(quote) => {
                    self.at += quote + 1;
                    return Ok(());
                }
                None => self.at += rest.len(),
            }
        }
    }

    /// A whole small JSON value (at most `limit` bytes), as text, for serde to read.
    fn small_value(&mut self, limit: usize) -> Fast<Vec<u8>> {
        self.peek_token()?;
        let mut text = Vec::new();
        let mut scan = Scan::default();
        loop {
            let byte = self.peek()?;
            let step = scan.step(byte);
            if matches!(step, Step::EndBefore) {
                return Ok(text);
            }
            let byte = byte.ok_or(GiveUp)?;
            if text.len() >= limit {
                return Err(GiveUp);
            }
            text.push(byte);
            self.at += 1;
            if matches!(step, Step::EndAfter) {
                return Ok(text);
            }
        }
    }
}

/// One value read by serde from the start of `text`, and the bytes it took; `None` if `text`
/// ends before the value does (and more may follow). Out of line: it is called once per
/// element.
///
/// The bytes read are checked as UTF-8 too, as the whole-document path checks all of the
/// payload: serde checks the strings it reads, but not those it skips (no element type skips
/// any today: they all deny unknown fields).
#[inline(never)]
fn element<T: DeserializeOwned>(text: &[u8], ended: bool) -> Fast<Option<(T, usize)>> {
    let mut stream = serde_json::Deserializer::from_slice(text).into_iter::<T>();
    match stream.next() {
        Some(Ok(value)) => {
            let read = stream.byte_offset();
            std::str::from_utf8(text.get(..read).ok_or(GiveUp)?).map_err(|_| GiveUp)?;
            Ok(Some((value, read)))
        }
        Some(Err(error)) if error.is_eof() && !ended => Ok(None),
        _ => Err(GiveUp),
    }
}

/// A user as `tessera sign` writes one: [`User`]'s fields in their order, those at their
/// default left out, no whitespace, strings without escapes; and the bytes it took. `None`
/// for anything else (serde then reads it, and refuses what is not a user). Out of line: it is
/// called once per user.
#[inline(never)]
fn plain_user(text: &[u8]) -> Option<(User, usize)> {
    let mut at = Plain { text, at: 0 };
    let id = at.field(b"{\"id\":\"")?.to_owned();
    let name = at.field(b",\"name\":\"")?.to_owned();
    let home_office = at.field(b",\"home_office\":\"")?.to_owned();
    let mut additional_offices = Vec::new();
    if at.literal(b",\"additional_offices\":[").is_some() {
        loop {
            additional_offices.push(at.field(b"\"")?.to_owned());
            if at.literal(b",").is_none() {
                at.literal(b"]")?;
                break;
            }
        }
    }
    let levels = [AccessLevel::AllInOffice, AccessLevel::InviteOnly, AccessLevel::NetworkAdmin];
    let access = at.named(b",\"access\":", levels, AccessLevel::as_str)?.unwrap_or_default();
    let profile = at.field(b",\"profile\":\"")?.to_owned();
    let roles = [Role::User, Role::Manager, Role::Admin];
    let role = at.named(b",\"role\":", roles, Role::as_str)?.unwrap_or_default();
    let system_superuser = at.flag(b",\"system_superuser\":")?.unwrap_or(false);
    let network_superuser = at.flag(b",\"network_superuser\":")?.unwrap_or(false);
    let active = at.flag(b",\"active\":")?.unwrap_or(true);
    at.literal(b"}")?;
    let user = User {
        id,
        name,
        home_office,
        additional_offices,
        access,
        profile,
        role,
        system_superuser,
        network_superuser,
        active,
    };
    Some((user, at.at))
}

/// Reads JSON text as the slow path reads the payload (from a `&str`), so that the module
/// holds one copy of each type's deserializer rather than two.
fn from_text<T: DeserializeOwned>(text: &[u8]) -> Fast<T> {
    let text = std::str::from_utf8(text).map_err(|_| GiveUp)?;
    serde_json::from_str(text).map_err(|_| GiveUp)
}

/// Finds where a JSON value ends, a byte at a time: strings, nesting and scalars. It only
/// delimits; serde reads what it delimits (and refuses what is not JSON).
#[derive(Default)]
struct Scan {
    started: bool,
    depth: usize,
    in_string: bool,
    escaped: bool,
    scalar: bool,
}

enum Step {
    /// The byte belongs to the value; more follow.
    More,
    /// The value ended just before this byte.
    EndBefore,
    /// The value ends with this byte.
    EndAfter,
}

impl Scan {
    fn step(&mut self, byte: Option<u8>) -> Step {
        let Some(byte) = byte else { return Step::EndBefore };
        if !self.started {
            self.started = true;
            match byte {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth = 1,
                _ => self.scalar = true,
            }
            return Step::More;
        }
        if self.scalar {
            return match byte {
                b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r' => Step::EndBefore,
                _ => Step::More,
            };
        }
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if byte == b'\\' {
                self.escaped = true;
            } else if byte == b'"' {
                self.in_string = false;
                if self.depth == 0 {
                    return Step::EndAfter;
                }
            }
            return Step::More;
        }
        match byte {
            b'"' => self.in_string = true,
            b'{' | b'[' => self.depth += 1,
            b'}' | b']' => {
                self.depth = self.depth.saturating_sub(1);
                if self.depth == 0 {
                    return Step::EndAfter;
                }
            }
            _ => {}
        }
        Step::More
    }
}

/// Bytes of the envelope's small fields (its type and signatures), at most.
const SMALL: usize = 64 * 1024;

/// The payload's closing quote is looked for in this many bytes at the end of the source: an
/// envelope's fields after the payload (its type and at most [`MAX_SIGNATURES`] signatures)
/// take a few hundred bytes each as `tessera sign` writes them.
const TAIL: usize = 8 * 1024;

#[inline(never)]
fn read_envelope(source: &dyn Source) -> Fast<Envelope> {
    let mut cursor = Cursor::new(source);
    let mut payload_type = None;
    let mut signatures = None;
    let mut payload = None;
    cursor.expect(b'{')?;
    loop {
        let key = cursor.plain_string(32)?;
        cursor.expect(b':')?;
        match key.as_slice() {
            b"payloadType" if payload_type.is_none() => {
                payload_type =
                    Some(serde_json::from_slice::<String>(&cursor.small_value(SMALL)?).map_err(|_| GiveUp)?);
            }
            b"signatures" if signatures.is_none() => {
                let text = cursor.small_value(SMALL)?;
                signatures =
                    Some(serde_json::from_slice::<Vec<EnvelopeSignature>>(&text).map_err(|_| GiveUp)?);
            }
            b"payload" if payload.is_none() => {
                cursor.expect(b'"')?;
                let start = cursor.at;
                cursor.skip_payload()?;
                payload = Some(start..cursor.at - 1);
            }
            _ => return Err(GiveUp),
        }
        match cursor.peek_token()? {
            Some(b',') => cursor.at += 1,
            Some(b'}') => {
                cursor.at += 1;
                break;
            }
            _ => return Err(GiveUp),
        }
    }
    if cursor.peek_token()?.is_some() {
        return Err(GiveUp);
    }
    Ok(Envelope {
        payload_type: payload_type.ok_or(GiveUp)?,
        signatures: signatures.ok_or(GiveUp)?,
        payload: payload.ok_or(GiveUp)?,
    })
}

/// The payload's base64, decoded a window at a time, each window hashed as it is decoded.
struct Decoder<'s> {
    source: &'s dyn Source,
    next: usize,
    end: usize,
    window: Vec<u8>,
    signed: Signed,
}

impl<'s> Decoder<'s> {
    fn new(source: &'s dyn Source, payload: &std::ops::Range<usize>, signed: Signed) -> Decoder<'s> {
        Decoder { source, next: payload.start, end: payload.end, window: Vec::new(), signed }
    }

    /// The key whose signature verifies over the whole payload, once all of it is decoded.
    fn verified(self) -> Fast<KeyId> {
        if self.next < self.end {
            return Err(GiveUp);
        }
        self.signed.verified()
    }

    /// Appends the next window's bytes to `into`, hashed; false once all are decoded.
    fn decode_into(&mut self, into: &mut Vec<u8>) -> Fast<bool> {
        let len = WINDOW.min(self.end.saturating_sub(self.next));
        if len == 0 {
            return Ok(false);
        }
        self.window.resize(len, 0);
        if !self.source.read_at(self.next, &mut self.window) {
            return Err(GiveUp);
        }
        self.next += len;
        let at = into.len();
        into.resize(at + len / 4 * 3 + 3, 0);
        let tail = into.get_mut(at..).ok_or(GiveUp)?;
        let written = BASE64.decode_slice(&self.window, tail).map_err(|_| GiveUp)?;
        into.truncate(at + written);
        self.signed.update(into.get(at..).ok_or(GiveUp)?);
        Ok(true)
    }
}

/// How many bytes the payload decodes to, from its length and padding.
fn decoded_len(source: &dyn Source, payload: &std::ops::Range<usize>) -> Fast<usize> {
    let len = payload.len();
    if len % 4 != 0 {
        return Err(GiveUp);
    }
    let mut tail = [0; 2];
    let padding = if len >= 2 && source.read_at(payload.end - 2, &mut tail) {
        tail.iter().filter(|&&byte| byte == b'=').count()
    } else {
        0
    };
    Ok(len / 4 * 3 - padding)
}

/// The signature check over the payload, fed as the payload is decoded: one streaming
/// verifier for each signature a trusted key might have made.
struct Signed {
    candidates: Vec<(KeyId, StreamVerifier)>,
    /// The payload's length as the signed prefix declares it; what is decoded must have it.
    declared: usize,
    decoded: usize,
}

impl Signed {
    fn new(source: &dyn Source, envelope: &Envelope, keys: &TrustedKeys) -> Fast<Signed> {
        if envelope.signatures.is_empty() || envelope.signatures.len() > MAX_SIGNATURES {
            return Err(GiveUp);
        }
        let mut candidates: Vec<(KeyId, StreamVerifier)> = Vec::new();
        for signature in &envelope.signatures {
            let Ok(bytes) = BASE64.decode(signature.sig.as_bytes()) else { continue };
            let Ok(sig) = Signature::from_slice(&bytes) else { continue };
            for (key_id, key) in keys.candidates(&signature.keyid) {
                let key = key.verifying_key();
                // What `verify_strict` refuses besides a wrong signature: a weak key, and an R
                // that is not a point or is of small order.
                let r = curve25519_dalek::edwards::CompressedEdwardsY(sig.r_bytes().to_owned());
                if key.is_weak() || r.decompress().is_none_or(|point| point.is_small_order()) {
                    continue;
                }
                if let Ok(verifier) = key.verify_stream(&sig) {
                    candidates.push((key_id.clone(), verifier));
                }
            }
        }
        if candidates.is_empty() {
            return Err(GiveUp);
        }
        let declared = decoded_len(source, &envelope.payload)?;
        let prefix = format!("DSSEv1 {} {} {declared} ", envelope.payload_type.len(), envelope.payload_type);
        for (_, verifier) in &mut candidates {
            verifier.update(prefix.as_bytes());
        }
        Ok(Signed { candidates, declared, decoded: 0 })
    }

    fn update(&mut self, bytes: &[u8]) {
        self.decoded += bytes.len();
        for (_, verifier) in &mut self.candidates {
            verifier.update(bytes);
        }
    }

    fn verified(self) -> Fast<KeyId> {
        if self.decoded != self.declared {
            return Err(GiveUp);
        }
        self.candidates
            .into_iter()
            .find_map(|(key_id, verifier)| verifier.finalize_and_verify().is_ok().then_some(key_id))
            .ok_or(GiveUp)
    }
}

/// The decoded payload, read as a stream of JSON: what has been decoded and not yet read is
/// in `buf`, from `pos`.
struct Payload<'s> {
    decoder: Decoder<'s>,
    buf: Vec<u8>,
    pos: usize,
    ended: bool,
}

/// At least this much is decoded ahead of a value (a Project, a user) before it is read, so
/// that one is rarely cut in two.
const AHEAD: usize = 16 * 1024;

/// The longest Project the fast path reads (a name of a megabyte is not one `tessera sign`
/// is asked to write); a longer one is read by the whole-document path.
const LARGEST: usize = 1024 * 1024;

impl Payload<'_> {
    /// Decodes another window; false at the end.
    fn more(&mut self) -> Fast<bool> {
        if self.ended {
            return Ok(false);
        }
        if self.pos > 0 && self.pos >= self.buf.len() / 2 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let more = self.decoder.decode_into(&mut self.buf)?;
        self.ended = !more;
        Ok(more)
    }

    fn peek_token(&mut self) -> Fast<Option<u8>> {
        loop {
            match self.buf.get(self.pos) {
                Some(&byte) if byte.is_ascii_whitespace() && byte != 0x0c => self.pos += 1,
                Some(&byte) => return Ok(Some(byte)),
                None => {
                    if !self.more()? {
                        return Ok(None);
                    }
                }
            }
        }
    }

    fn expect(&mut self, wanted: u8) -> Fast<()> {
        if self.peek_token()? == Some(wanted) {
            self.pos += 1;
            Ok(())
        } else {
            Err(GiveUp)
        }
    }

    /// An object key written without escapes.
    fn key(&mut self) -> Fast<Vec<u8>> {
        self.expect(b'"')?;
        let mut key = Vec::new();
        loop {
            let Some(&byte) = self.buf.get(self.pos) else {
                if self.more()? {
                    continue;
                }
                return Err(GiveUp);
            };
            self.pos += 1;
            match byte {
                b'"' => break,
                b'\\' => return Err(GiveUp),
                _ if key.len() < 32 => key.push(byte),
                _ => return Err(GiveUp),
            }
        }
        self.expect(b':')?;
        Ok(key)
    }

    /// An array, read by serde an element at a time. Each element is read by a call of its
    /// own, so that V8 can swap in optimised code for it part way through a first load (it
    /// does so only at a function's next call: one call reading all users would run
    /// unoptimised to the end).
    fn array<T: DeserializeOwned>(&mut self) -> Fast<Vec<T>> {
        self.expect(b'[')?;
        let mut items = Vec::new();
        if self.peek_token()? == Some(b']') {
            self.pos += 1;
            return Ok(items);
        }
        loop {
            // No bound but the payload's: a group of everyone in a 100k-user organisation is
            // over a megabyte, and it is read no more than twice over.
            items.push(self.read(usize::MAX, element)?);
            if !self.another(b']')? {
                return Ok(items);
            }
        }
    }

    /// The users, read by hand where they are written as `tessera sign` writes them, by
    /// serde otherwise (one at a time), as [`Payload::array`] reads other arrays.
    fn users(&mut self) -> Fast<Vec<User>> {
        self.expect(b'[')?;
        let mut users = Vec::new();
        if self.peek_token()? == Some(b']') {
            self.pos += 1;
            return Ok(users);
        }
        loop {
            let user = self.read(usize::MAX, |text, ended| match plain_user(text) {
                Some(read) => Ok(Some(read)),
                None => element(text, ended),
            })?;
            users.push(user);
            if !self.another(b']')? {
                return Ok(users);
            }
        }
    }

    /// The value at `pos`, read by `read` from what is decoded (it returns the value and the
    /// bytes it took, or `None` when they end before the value does). A value cut short is
    /// read again with more decoded; one larger than `largest` is left to the whole-document
    /// path (each retry reads it from its start, and decodes twice as much before the next:
    /// a value is read at most twice over, all told, plus the tries of `AHEAD`).
    fn read<T>(
        &mut self,
        largest: usize,
        mut read: impl FnMut(&[u8], bool) -> Fast<Option<(T, usize)>>,
    ) -> Fast<T> {
        while !self.ended && self.buf.len() - self.pos < AHEAD {
            self.more()?;
        }
        self.peek_token()?;
        loop {
            let text = self.buf.get(self.pos..).ok_or(GiveUp)?;
            if let Some((value, len)) = read(text, self.ended)? {
                self.pos += len;
                return Ok(value);
            }
            let unread = self.buf.len() - self.pos;
            if self.ended || unread > largest {
                return Err(GiveUp);
            }
            // Twice as much before the next try: a long value is read a few times, not once
            // per window.
            while self.buf.len() - self.pos < unread.saturating_mul(2).max(AHEAD) {
                if !self.more()? {
                    break;
                }
            }
        }
    }

    /// A whole value, as text.
    fn raw_value(&mut self) -> Fast<Vec<u8>> {
        let end = self.value_end()?;
        let text = self.buf.get(self.pos..end).ok_or(GiveUp)?.to_vec();
        self.pos = end;
        Ok(text)
    }

    /// Where the value at `pos` ends in `buf`, with all of it decoded.
    fn value_end(&mut self) -> Fast<usize> {
        self.peek_token()?;
        let mut scan = Scan::default();
        let mut end = self.pos;
        loop {
            let byte = match self.buf.get(end) {
                Some(&byte) => Some(byte),
                // `more` may move what is unread to the front of the buffer.
                None => {
                    let read = end - self.pos;
                    let more = self.more()?;
                    end = self.pos + read;
                    if more {
                        continue;
                    }
                    None
                }
            };
            match scan.step(byte) {
                Step::More => end += 1,
                Step::EndBefore => break,
                Step::EndAfter => {
                    end += 1;
                    break;
                }
            }
        }
        Ok(end)
    }

    /// After a member or an element: true if another follows, false at `close`.
    fn another(&mut self, close: u8) -> Fast<bool> {
        match self.peek_token()? {
            Some(b',') => {
                self.pos += 1;
                Ok(true)
            }
            Some(byte) if byte == close => {
                self.pos += 1;
                Ok(false)
            }
            _ => Err(GiveUp),
        }
    }
}

/// A Project as the payload writes it ([`crate::Project`]'s fields and rules), its text
/// borrowed from the decoded payload where no escape forces a copy.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectIn<'a> {
    #[serde(borrow)]
    id: Text<'a>,
    #[serde(borrow)]
    name: Text<'a>,
    #[serde(borrow)]
    office: Text<'a>,
    #[serde(borrow)]
    team: Vec<Text<'a>>,
    #[serde(default, borrow)]
    created_by: Option<Text<'a>>,
}

/// A JSON string, borrowed when it can be. (A `Cow<str>` inside a `Vec` is always copied.)
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Text<'a>, D::Error> {
        struct Visitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visitor<'a> {
            type Value = Text<'a>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(text)))
            }

            fn visit_str<E>(self, text: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }
        }
        deserializer.deserialize_str(Visitor(std::marker::PhantomData))
    }
}

impl std::ops::Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

/// Reads the Projects straight into their tables, checking what [`Policy::new`] checks of
/// them; gives up on the first problem (the slow path then lists them all).
#[inline(never)]
fn read_projects(payload: &mut Payload<'_>, org: &Org, options: &VerifyOptions) -> Fast<ReadProjects> {
    // Teams are resolved through a compact index of their own (most of a load's lookups; the
    // ids lie in one buffer rather than one allocation each). Nothing is verified yet: every
    // table here is bounded, and gives up on ids made to collide.
    let mut members = IdTable::bounded(PROBE_BOUND);
    members.reserve(org.users.len());
    for user in &org.users {
        if user.id.is_empty() {
            return Err(GiveUp);
        }
        members.insert(&user.id).map_err(|_| GiveUp)?;
    }
    let mut offices = IdTable::bounded(PROBE_BOUND);
    offices.reserve(org.offices.len());
    for office in &org.offices {
        if office.id.is_empty() {
            return Err(GiveUp);
        }
        offices.insert(&office.id).map_err(|_| GiveUp)?;
    }
    // About 150 bytes of JSON to a Project: a first guess that spares most regrowing.
    let guess = (payload.decoder.end - payload.decoder.next) / 200;
    let mut into = Projects {
        ids: IdTable::bounded(PROBE_BOUND),
        table: ProjectTable::default(),
        team: Vec::new(),
        members,
        offices,
        limits: &options.limits,
    };
    into.ids.reserve(guess);
    into.table.reserve(guess);

    payload.expect(b'[')?;
    if payload.peek_token()? == Some(b']') {
        payload.pos += 1;
        into.ids.unbound();
        return Ok(ReadProjects { ids: into.ids, table: into.table });
    }
    while into.next(payload)? {}
    into.table.shrink_to_fit();
    into.ids.shrink_to_fit();
    into.ids.unbound();
    Ok(ReadProjects { ids: into.ids, table: into.table })
}

/// The Projects read so far, and what they are resolved with.
struct Projects<'l> {
    ids: IdTable,
    table: ProjectTable,
    /// The team being read, resolved.
    team: Vec<Idx>,
    members: IdTable,
    offices: IdTable,
    limits: &'l crate::Limits,
}

impl Projects<'_> {
    /// Reads the next Project of the array; false after the last. Kept out of line (here, and
    /// by `cargo xtask dist`'s `wasm-opt` flags): V8 first runs WebAssembly with a baseline
    /// compiler, and swaps in optimised code only at a function's next call, so a loop run in
    /// one long call would stay slow for a whole first load.
    #[inline(never)]
    fn next(&mut self, payload: &mut Payload<'_>) -> Fast<bool> {
        payload.read(LARGEST, |text, ended| {
            if let Some(read) = self.plain(text)? {
                return Ok(Some(((), read)));
            }
            let mut stream = serde_json::Deserializer::from_slice(text).into_iter::<ProjectIn<'_>>();
            match stream.next() {
                Some(Ok(project)) => {
                    self.team.clear();
                    for member in &project.team {
                        self.member(member)?;
                    }
                    self.add(&project.id, &project.name, &project.office, project.created_by.as_deref())?;
                    Ok(Some(((), stream.byte_offset())))
                }
                Some(Err(error)) if error.is_eof() && !ended => Ok(None),
                _ => Err(GiveUp),
            }
        })?;
        payload.another(b']')
    }

    fn member(&mut self, id: &str) -> Fast<()> {
        if self.team.len() >= self.limits.team_size {
            return Err(GiveUp);
        }
        self.team.push(self.members.get(id).ok_or(GiveUp)?);
        Ok(())
    }

    /// Adds the Project whose team was just read.
    fn add(&mut self, id: &str, name: &str, office: &str, created_by: Option<&str>) -> Fast<()> {
        if self.ids.len() >= self.limits.entities_per_kind
            || id.is_empty()
            || id.len() > self.limits.id_bytes
            || self.team.len() > self.limits.team_size
        {
            return Err(GiveUp);
        }
        let office = self.offices.get(office).ok_or(GiveUp)?;
        self.team.sort_unstable();
        if self.team.windows(2).any(|pair| pair.first() == pair.get(1)) {
            return Err(GiveUp);
        }
        if let Some(creator) = created_by {
            let creator = self.members.get(creator).ok_or(GiveUp)?;
            self.team.binary_search(&creator).map_err(|_| GiveUp)?;
        }
        self.ids.insert(id).map_err(|_| GiveUp)?;
        self.table.push(name, office, &self.team);
        Ok(())
    }

    /// Reads a Project written exactly as the signer writes one, without serde:
    /// `{"id":"…","name":"…","office":"…","team":["…",…]}`, perhaps with `,"created_by":"…"`
    /// before the brace, no whitespace, no escapes; how many bytes it took. `None` for anything
    /// else, or text cut short: serde then reads it. What this accepts, serde accepts alike.
    fn plain(&mut self, text: &[u8]) -> Fast<Option<usize>> {
        let mut at = Plain { text, at: 0 };
        let Some(id) = at.field(b"{\"id\":\"") else { return Ok(None) };
        let Some(name) = at.field(b",\"name\":\"") else { return Ok(None) };
        let Some(office) = at.field(b",\"office\":\"") else { return Ok(None) };
        if at.literal(b",\"team\":[").is_none() {
            return Ok(None);
        }
        self.team.clear();
        if at.literal(b"]").is_none() {
            loop {
                let Some(member) = at.field(b"\"") else { return Ok(None) };
                self.member(member)?;
                if at.literal(b",").is_none() {
                    if at.literal(b"]").is_none() {
                        return Ok(None);
                    }
                    break;
                }
            }
        }
        let created_by = if at.literal(b"}").is_some() {
            None
        } else {
            let Some(creator) = at.field(b",\"created_by\":\"") else { return Ok(None) };
            if at.literal(b"}").is_none() {
                return Ok(None);
            }
            Some(creator)
        };
        self.add(id, name, office, created_by)?;
        Ok(Some(at.at))
    }
}

/// A cursor over the text of one Project (see [`Projects::plain`]).
struct Plain<'t> {
    text: &'t [u8],
    at: usize,
}

impl<'t> Plain<'t> {
    fn literal(&mut self, literal: &[u8]) -> Option<()> {
        let end = self.at.checked_add(literal.len())?;
        (self.text.get(self.at..end)? == literal).then(|| self.at = end)
    }

    /// `Some(None)` where `prefix` is not next; after it, the one of `values` whose name is the
    /// string that follows (or `None`: not read by hand).
    fn named<T: Copy, const N: usize>(
        &mut self,
        prefix: &[u8],
        values: [T; N],
        name: fn(T) -> &'static str,
    ) -> Option<Option<T>> {
        if self.literal(prefix).is_none() {
            return Some(None);
        }
        let text = self.field(b"\"")?;
        values.into_iter().find(|&value| name(value) == text).map(Some)
    }

    /// `Some(None)` where `prefix` is not next; after it, `true` or `false` (or `None`: not
    /// read by hand).
    fn flag(&mut self, prefix: &[u8]) -> Option<Option<bool>> {
        if self.literal(prefix).is_none() {
            return Some(None);
        }
        if self.literal(b"true").is_some() {
            Some(Some(true))
        } else {
            self.literal(b"false").map(|()| Some(false))
        }
    }

    /// `prefix` (which opens a string), then the string's text up to its closing quote:
    /// UTF-8, without escapes or the control characters JSON refuses.
    fn field(&mut self, prefix: &[u8]) -> Option<&'t str> {
        self.literal(prefix)?;
        let rest = self.text.get(self.at..)?;
        let len = rest.iter().position(|&byte| byte == b'"' || byte == b'\\' || byte < 0x20)?;
        if rest.get(len) != Some(&b'"') {
            return None;
        }
        let text = std::str::from_utf8(rest.get(..len)?).ok()?;
        self.at += len + 1;
        Some(text)
    }
}

/// Reads the payload, and checks its signature once all of it is decoded: nothing it read is
/// assembled into a policy before then.
#[inline(never)]
fn read_payload(mut payload: Payload<'_>, options: &VerifyOptions) -> Fast<(Header, KeyId, Policy)> {
    payload.expect(b'{')?;
    if payload.key()? != b"header" {
        return Err(GiveUp);
    }
    let header = payload.raw_value()?;
    let probe: SchemaProbe = from_text(&header)?;
    if probe.schema != Some(u64::from(SCHEMA_VERSION)) {
        return Err(GiveUp);
    }
    let header: Header = from_text(&header)?;
    check_header(&header, options).map_err(|_| GiveUp)?;
    payload.expect(b',')?;
    if payload.key()? != b"org" {
        return Err(GiveUp);
    }

    let mut networks: Option<Vec<Network>> = None;
    let mut offices: Option<Vec<Office>> = None;
    let mut users: Option<Vec<User>> = None;
    let mut agreements: Option<Vec<Agreement>> = None;
    let mut groups: Option<Vec<Group>> = None;
    let mut direct_messages: Option<Vec<DirectMessage>> = None;
    let mut projects = None;
    payload.expect(b'{')?;
    loop {
        let key = payload.key()?;
        match key.as_slice() {
            b"networks" if networks.is_none() => networks = Some(payload.array()?),
            b"offices" if offices.is_none() => offices = Some(payload.array()?),
            b"users" if users.is_none() => users = Some(payload.users()?),
            b"agreements" if agreements.is_none() => agreements = Some(payload.array()?),
            b"groups" if groups.is_none() => groups = Some(payload.array()?),
            b"direct_messages" if direct_messages.is_none() => direct_messages = Some(payload.array()?),
            b"projects" if projects.is_none() => {
                // Teams are resolved as they are read: the users and Offices come first.
                let org = Org {
                    networks: Vec::new(),
                    offices: offices.take().ok_or(GiveUp)?,
                    users: users.take().ok_or(GiveUp)?,
                    projects: Vec::new(),
                    agreements: Vec::new(),
                    groups: Vec::new(),
                    direct_messages: Vec::new(),
                };
                projects = Some(read_projects(&mut payload, &org, options)?);
                offices = Some(org.offices);
                users = Some(org.users);
            }
            _ => return Err(GiveUp),
        }
        if !payload.another(b'}')? {
            break;
        }
    }
    payload.expect(b'}')?;
    if payload.peek_token()?.is_some() {
        return Err(GiveUp);
    }
    // All of it is decoded and hashed (the end was reached); its text need not stay.
    let Payload { decoder, buf, .. } = payload;
    drop(buf);
    let key_id = decoder.verified()?;
    let org = Org {
        networks: networks.ok_or(GiveUp)?,
        offices: offices.ok_or(GiveUp)?,
        users: users.ok_or(GiveUp)?,
        projects: Vec::new(),
        agreements: agreements.unwrap_or_default(),
        groups: groups.unwrap_or_default(),
        direct_messages: direct_messages.unwrap_or_default(),
    };
    let projects = projects.ok_or(GiveUp)?;
    options.limits.check(&org).map_err(|_| GiveUp)?;
    let policy = Policy::assemble(&org, Some(projects)).map_err(|_| GiveUp)?;
    Ok((header, key_id, policy))
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signer, SigningKey};

    use super::*;
    use crate::load::Slice;
    use crate::snapshot::{PayloadOut, Scope, pae};
    use crate::{Project, Timestamp};

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    fn keys() -> TrustedKeys {
        let public = crate::PublicKey::from_text(&format!(
            "tessera-ed25519-public:{}",
            BASE64.encode(key().verifying_key().to_bytes())
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        [public].into_iter().collect()
    }

    fn header() -> Header {
        Header {
            schema: SCHEMA_VERSION,
            issuer: "test".to_owned(),
            version: 3,
            issued_at: Timestamp::from_unix(1_000),
            expires_at: Timestamp::from_unix(1_000_000),
            scope: Scope::Org,
        }
    }

    fn options() -> VerifyOptions {
        VerifyOptions { max_bytes: usize::MAX, ..VerifyOptions::new(Timestamp::from_unix(2_000)) }
    }

    /// An envelope around `payload` as given, signed, laid out by `layout`.
    fn envelope(payload: &[u8], layout: fn(&str, &str) -> String) -> Vec<u8> {
        let sig = BASE64.encode(key().sign(&pae(PAYLOAD_TYPE, payload)).to_bytes());
        layout(&BASE64.encode(payload), &sig).into_bytes()
    }

    fn compact(payload: &str, sig: &str) -> String {
        format!(
            r#"{{"payloadType":"{PAYLOAD_TYPE}","payload":"{payload}","signatures":[{{"keyid":"","sig":"{sig}"}}]}}"#
        )
    }

    fn spaced(payload: &str, sig: &str) -> String {
        format!(
            "\n {{ \"signatures\" : [ {{ \"sig\" : \"{sig}\" }} ] ,\n\t\"payload\" :\"{payload}\" , \"payloadType\": \"{PAYLOAD_TYPE}\" }}\r\n"
        )
    }

    fn org(users: usize, projects: usize) -> Org {
        let org = tessera_generate::generate(&tessera_generate::Scale {
            users,
            projects,
            networks: 3,
            offices: 12,
            seed: 11,
        });
        // The generator's `Org` is the one of the crate built as a library: carried across as JSON.
        serde_json::from_value(serde_json::to_value(org).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Reads `bytes` both ways: the fast path must accept it, into the policy the slow path builds.
    fn fast_and_slow_agree(bytes: &[u8]) {
        let fast = verify(&Slice(bytes), &keys(), &options())
            .unwrap_or_else(|GiveUp| panic!("the fast path gave up"));
        let slow = Snapshot::verify_whole(bytes, &keys(), &options()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(fast.header(), slow.header());
        assert_eq!(fast.key_id(), slow.key_id());
        fast.policy().assert_same(slow.policy());
    }

    #[test]
    fn a_signed_organisation_reads_the_same_fast_as_slow() {
        // Large enough that the payload spans many windows.
        let org = org(400, 3_000);
        let payload = serde_json::to_vec(&PayloadOut { header: &header(), org: &org }).unwrap_or_default();
        assert!(payload.len() > 4 * WINDOW);
        fast_and_slow_agree(&envelope(&payload, compact));
        fast_and_slow_agree(&envelope(&payload, spaced));
        let pretty =
            serde_json::to_vec_pretty(&PayloadOut { header: &header(), org: &org }).unwrap_or_default();
        fast_and_slow_agree(&envelope(&pretty, compact));
    }

    #[test]
    fn users_read_by_hand_are_the_users_serde_reads() {
        let cases: [&[u8]; 12] = [
            br#"{"id":"u1","name":"Ada","home_office":"o1","profile":"client"}"#,
            br#"{"id":"u1","name":"Ada","home_office":"o1","additional_offices":["o2","o3"],"access":"invite_only","profile":"client","role":"admin","system_superuser":true,"network_superuser":true,"active":false}"#,
            br#"{"id":"u1","name":"Ada","home_office":"o1","access":"network_admin","profile":"client","role":"manager"}"#,
            // Defaults written out, which `tessera sign` leaves out: read all the same.
            br#"{"id":"u1","name":"Ada","home_office":"o1","access":"all_in_office","profile":"client","role":"user","system_superuser":false,"network_superuser":false,"active":true}"#,
            // Left to serde: an escape, a space, another order, an empty list, an unknown
            // field or value, a repeated field, a name JSON refuses.
            br#"{"id":"u1","name":"A\u0064a","home_office":"o1","profile":"client"}"#,
            br#"{"id":"u1", "name":"Ada","home_office":"o1","profile":"client"}"#,
            br#"{"name":"Ada","id":"u1","home_office":"o1","profile":"client"}"#,
            br#"{"id":"u1","name":"Ada","home_office":"o1","additional_offices":[],"profile":"client"}"#,
            br#"{"id":"u1","name":"Ada","home_office":"o1","profile":"client","extra":1}"#,
            br#"{"id":"u1","name":"Ada","home_office":"o1","access":"everything","profile":"client"}"#,
            br#"{"id":"u1","name":"Ada","home_office":"o1","profile":"client","active":false,"active":true}"#,
            b"{\"id\":\"u1\",\"name\":\"A\x01a\",\"home_office\":\"o1\",\"profile\":\"client\"}",
        ];
        for (case, text) in cases.iter().enumerate() {
            let by_serde = serde_json::from_slice::<User>(text).ok();
            match plain_user(text) {
                Some((user, read)) => {
                    assert!(case < 4, "case {case} should be left to serde");
                    assert_eq!(read, text.len(), "case {case}");
                    assert_eq!(Some(user), by_serde, "case {case}");
                }
                None => assert!(case >= 4, "case {case} should be read by hand"),
            }
        }
    }

    #[test]
    fn an_element_larger_than_a_project_may_be_is_read_fast_all_the_same() {
        // As a group of everyone in a large organisation would be: over a megabyte, and over
        // `LARGEST`, which bounds Projects only.
        let mut org = org(30, 40);
        if let Some(office) = org.offices.first_mut() {
            office.name = "x".repeat(LARGEST + LARGEST / 2);
        }
        let payload = serde_json::to_vec(&PayloadOut { header: &header(), org: &org }).unwrap_or_default();
        fast_and_slow_agree(&envelope(&payload, compact));
    }

    #[test]
    fn escapes_in_projects_are_read_as_serde_reads_them() {
        let mut org = org(30, 40);
        if let Some(project) = org.projects.first_mut() {
            project.name = "Quote \" slash \\ and é \u{1}".to_owned();
        }
        let payload = serde_json::to_vec(&PayloadOut { header: &header(), org: &org }).unwrap_or_default();
        let text = String::from_utf8(payload).unwrap_or_default().replace("\"p-", "\"\\u0070-");
        fast_and_slow_agree(&envelope(text.as_bytes(), compact));
    }

    /// Gives `first` until `reads` reads are made, then `then` (of the same length).
    struct Changing<'a> {
        first: &'a [u8],
        then: &'a [u8],
        reads: std::cell::Cell<usize>,
    }

    impl Source for Changing<'_> {
        fn len(&self) -> usize {
            self.first.len()
        }

        fn read_at(&self, at: usize, into: &mut [u8]) -> bool {
            let left = self.reads.get();
            self.reads.set(left.saturating_sub(1));
            Slice(if left > 0 { self.first } else { self.then }).read_at(at, into)
        }
    }

    #[test]
    fn a_source_that_changes_under_the_loader_cannot_slip_in_what_was_not_signed() {
        let org = org(60, 400);
        let payload = serde_json::to_vec(&PayloadOut { header: &header(), org: &org }).unwrap_or_default();
        let signed = envelope(&payload, compact);
        // The same envelope and signature around another payload of the same length.
        let mut other = payload.clone();
        let name = other.windows(8).position(|w| w == b"\"name\":\"").unwrap_or_default() + 8;
        if let Some(byte) = other.get_mut(name) {
            *byte = if *byte == b'Z' { b'Y' } else { b'Z' };
        }
        let forged = String::from_utf8(signed.clone())
            .unwrap_or_default()
            .replace(&BASE64.encode(&payload), &BASE64.encode(&other))
            .into_bytes();
        assert_eq!(forged.len(), signed.len());
        assert_ne!(forged, signed);
        // Whenever the change happens, the loader reads what it hashed: the signed payload, or
        // a refusal.
        let mut accepted = 0;
        for reads in 0..40 {
            for (first, then) in [(&signed, &forged), (&forged, &signed)] {
                let source = Changing { first, then, reads: std::cell::Cell::new(reads) };
                if let Ok(snapshot) = verify(&source, &keys(), &options()) {
                    let slow = Snapshot::verify_whole(&signed, &keys(), &options())
                        .unwrap_or_else(|e| panic!("{e}"));
                    snapshot.policy().assert_same(slow.policy());
                    accepted += 1;
                }
            }
        }
        // Read from one version throughout, the signed one is accepted; mixed, none is.
        assert!(accepted > 0 && accepted < 80, "{accepted} accepted");
    }

    #[test]
    fn what_the_fast_path_does_not_expect_is_left_to_the_slow_one() {
        let org = org(30, 40);
        let payload = serde_json::to_vec(&PayloadOut { header: &header(), org: &org }).unwrap_or_default();
        let good = envelope(&payload, compact);
        let give_up = |bytes: &[u8]| verify(&Slice(bytes), &keys(), &options()).is_err();
        let text = String::from_utf8(good.clone()).unwrap_or_default();
        // Tampered, an escape in the base64, trailing bytes, a second payload.
        let mut tampered = good.clone();
        if let Some(byte) = tampered.get_mut(200) {
            *byte = if *byte == b'A' { b'B' } else { b'A' };
        }
        for bytes in [
            tampered,
            text.replacen("\"payload\":\"e", "\"payload\":\"\\u0065", 1).into_bytes(),
            format!("{text} x").into_bytes(),
            text.replacen("\"payload\":", "\"payload\":\"AAAA\",\"payload\":", 1).into_bytes(),
        ] {
            assert!(
                give_up(&bytes),
                "{}",
                String::from_utf8_lossy(&bytes).chars().take(120).collect::<String>()
            );
        }
        // The payload's end is looked for near the end of the source: an escape before that
        // is left to the decoder, and so is a tail longer than `TAIL` (the first quote found
        // there is not the payload's), which the slow path reads.
        let big = self::org(100, 200);
        let payload = serde_json::to_vec(&PayloadOut { header: &header(), org: &big }).unwrap_or_default();
        let text = String::from_utf8(envelope(&payload, compact)).unwrap_or_default();
        assert!(text.len() > 2 * TAIL);
        let escaped = text.replacen("\"payload\":\"e", "\"payload\":\"\\u0065", 1);
        assert!(give_up(escaped.as_bytes()));
        assert!(Snapshot::verify(escaped.as_bytes(), &keys(), &options()).is_ok());
        let long_tail = text.replacen("\"signatures\":", &format!("\"signatures\":{}", " ".repeat(TAIL)), 1);
        assert!(give_up(long_tail.as_bytes()));
        assert!(Snapshot::verify(long_tail.as_bytes(), &keys(), &options()).is_ok());
        // A payload with its members in another order, or a problem in it.
        let value = serde_json::to_value(&PayloadOut { header: &header(), org: &org }).unwrap_or_default();
        assert!(give_up(&envelope(&serde_json::to_vec(&value).unwrap_or_default(), compact)));
        let mut broken = org.clone();
        broken.projects.push(Project {
            id: "p-x".to_owned(),
            name: "X".to_owned(),
            office: "o-nowhere".to_owned(),
            team: Vec::new(),
            created_by: None,
        });
        let payload = serde_json::to_vec(&PayloadOut { header: &header(), org: &broken }).unwrap_or_default();
        let bytes = envelope(&payload, compact);
        assert!(give_up(&bytes));
        assert!(Snapshot::verify(&bytes, &keys(), &options()).is_err());
        // A name JSON refuses in a Project written as the signer writes one: a raw control
        // character, bytes that are not UTF-8.
        let mut named = org.clone();
        if let Some(project) = named.projects.first_mut() {
            project.name = "Q@R".to_owned();
        }
        let payload = serde_json::to_vec(&PayloadOut { header: &header(), org: &named }).unwrap_or_default();
        for raw in [&[0x01_u8][..], &[0xff, 0xfe]] {
            let at = payload.windows(3).position(|w| w == b"Q@R").unwrap_or_default() + 1;
            let mut refused = payload.clone();
            refused.splice(at..=at, raw.iter().copied());
            let bytes = envelope(&refused, compact);
            assert!(give_up(&bytes));
            assert!(Snapshot::verify(&bytes, &keys(), &options()).is_err());
        }
        // The slow path still reads what the fast one gave up on, when it is sound.
        let reordered = envelope(&serde_json::to_vec(&value).unwrap_or_default(), compact);
        let slow = Snapshot::verify(&reordered, &keys(), &options()).unwrap_or_else(|e| panic!("{e}"));
        let fast = verify(&Slice(&good), &keys(), &options()).unwrap_or_else(|GiveUp| panic!("gave up"));
        fast.policy().assert_same(slow.policy());
    }

    /// (The corpus was written with its keys sorted, Projects before users: the fast path
    /// gives up on the valid ones too, and the slow path reads them.)
    #[test]
    fn every_hostile_snapshot_the_fast_path_accepts_the_slow_one_accepts_alike() {
        let secret = tessera_conformance::hostile::key().to_text();
        let secret = crate::SecretKey::from_text(&secret).unwrap_or_else(|e| panic!("{e}"));
        let keys: TrustedKeys = [secret.public_key()].into_iter().collect();
        let cases = tessera_conformance::hostile_cases().unwrap_or_default();
        assert!(cases.len() > 20);
        for case in &cases {
            let expectation = &case.expectation;
            let now = Timestamp::parse(&expectation.now).unwrap_or_else(|e| panic!("{e}"));
            let mut options = VerifyOptions::new(now);
            options.min_version = expectation.min_version;
            options.max_bytes = expectation.max_bytes.unwrap_or(options.max_bytes);
            if let Ok(fast) = verify(&Slice(case.bytes), &keys, &options) {
                let slow = Snapshot::verify_whole(case.bytes, &keys, &options);
                let slow = slow.unwrap_or_else(|e| panic!("{}: {e}", case.name));
                fast.policy().assert_same(slow.policy());
            }
        }
    }
}
