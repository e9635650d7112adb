//! What every target shares: the fixed trusted key and clock, and signing arbitrary payloads.
#![allow(dead_code, reason = "each target uses part of what is shared")]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signer, SigningKey};
use tessera_core::{PAYLOAD_TYPE, SecretKey, Timestamp, TrustedKeys, VerifyOptions};

/// The key every target trusts (the seed corpus is signed with it).
pub const KEY_SEED: [u8; 32] = [7; 32];

pub fn keys() -> TrustedKeys {
    [SecretKey::from_bytes(KEY_SEED).public_key()].into_iter().collect()
}

pub fn now() -> Timestamp {
    Timestamp::from_unix(1_780_272_000) // 2026-06-01T00:00:00Z
}

pub fn options() -> VerifyOptions {
    VerifyOptions::new(now())
}

/// A DSSE envelope around `payload`, signed by the trusted key: lets fuzzing reach past the
/// signature into everything the payload can hold.
pub fn sign_payload(payload: &[u8]) -> Vec<u8> {
    let key = SigningKey::from_bytes(&KEY_SEED);
    let mut message = format!("DSSEv1 {} {PAYLOAD_TYPE} {} ", PAYLOAD_TYPE.len(), payload.len()).into_bytes();
    message.extend_from_slice(payload);
    let signature = key.sign(&message);
    let key_id = SecretKey::from_bytes(KEY_SEED).public_key().key_id();
    serde_json::json!({
        "payloadType": PAYLOAD_TYPE,
        "payload": BASE64.encode(payload),
        "signatures": [{ "keyid": key_id.as_str(), "sig": BASE64.encode(signature.to_bytes()) }],
    })
    .to_string()
    .into_bytes()
}
