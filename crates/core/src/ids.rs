//! Ids as the tables index them: a dense index ([`Idx`]) per id, found through maps that hash
//! with [`IdHasher`].

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A dense index into one of the [`crate::Policy`] tables.
pub(crate) type Idx = u32;

/// Id → index maps hash with a multiply and a fold per 8 bytes of id (as wyhash and foldhash
/// do, but on 64 bits: WebAssembly has no 64 × 64 → 128 multiply, and emulating one costs
/// more than the rest of a lookup) rather than SipHash, which takes dozens of instructions. Keys
/// come only from a snapshot, never from whoever asks a question (a query's id is only looked
/// up), and are indexed once the snapshot is verified; the stream loader, which indexes as it
/// reads, bounds its probes and gives up instead. Each product's high half is
/// folded into its low half, and `finish` mixes once more, so that ids differing only in their
/// last characters (`p-000123`, `p-000124`) spread over the whole table.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct IdHasher(u64);

impl IdHasher {
    fn add(&mut self, word: u64) {
        self.0 = mix(self.0 ^ word);
    }
}

fn mix(word: u64) -> u64 {
    let product = word.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    product ^ (product >> 32)
}

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        // The length ends the input, so that ids which differ only in trailing zero bytes differ.
        let mut word = [0; 8];
        for (to, from) in word.iter_mut().zip(chunks.remainder()) {
            *to = *from;
        }
        self.add(u64::from_le_bytes(word) ^ (bytes.len() as u64).wrapping_mul(0x5851_f42d_4c95_7f2d));
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn finish(&self) -> u64 {
        mix(self.0 ^ 0x2545_f491_4f6c_dd1d)
    }
}

/// A map from ids to dense indices.
pub(crate) type IdMap = HashMap<String, Idx, BuildHasherDefault<IdHasher>>;
