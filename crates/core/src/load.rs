//! Loading a snapshot in one pass: the envelope is read where it lies (a slice, or a
//! JavaScript `Uint8Array` the npm package never copies whole into WebAssembly memory), and
//! the payload is decoded from base64 a window at a time, each window hashed for the signature
//! and read, Project by Project, straight into the policy's tables. Nothing read is assembled
//! into a policy until the signature over the whole payload verifies.
//!
//! This is the fast path of [`crate::Snapshot::verify_from`], for snapshots as the signer
//! writes them. It takes no decision of its own: on anything it does not expect (an envelope
//! or payload laid out otherwise, an escape where none is needed, a signature that does not
//! verify, an expired header, a problem in the organisation) it gives up, and the caller reads
//! the snapshot whole, the slow way, which accepts or refuses it with the error it always
//! gave. What this path accepts, the slow path accepts too, into the same policy (tested on
//! every snapshot of the test corpora).

#[cfg(feature = "stream")]
mod stream;

#[cfg(feature = "stream")]
pub(crate) use stream::verify;

/// Where a snapshot's bytes are read from. The loader hashes exactly the bytes it reads, so a
/// source whose bytes change while it is read makes the load fail; it cannot make the loader
/// accept bytes that were not signed.
pub trait Source {
    /// How many bytes the source holds.
    fn len(&self) -> usize;

    /// Whether the source holds no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies the bytes at `at..at + into.len()` into `into`; false if that is out of range.
    fn read_at(&self, at: usize, into: &mut [u8]) -> bool;
}

/// Bytes in memory, as a [`Source`].
pub(crate) struct Slice<'a>(pub(crate) &'a [u8]);

impl Source for Slice<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn read_at(&self, at: usize, into: &mut [u8]) -> bool {
        match at.checked_add(into.len()).and_then(|end| self.0.get(at..end)) {
            Some(bytes) => {
                into.copy_from_slice(bytes);
                true
            }
            None => false,
        }
    }
}

/// Grows WebAssembly memory in one step by about what a load is about to take, `bytes`. The
/// allocator otherwise grows it 64 KiB at a time, and V8 takes tens of microseconds for each
/// `memory.grow`: a 115 MB snapshot made some 1,400 of them, a tenth of its first load. The
/// reservation is freed at once and the load's allocations are carved from it; callers ask
/// for no more than a load goes on to take, so memory after it is no larger (as measured on
/// the benchmark's organisations, either path). If memory cannot grow that far, nothing is
/// reserved. Called once the envelope names a trusted key (and on the whole-
/// document path, once the signature verifies), and bounded, like all a load reads, by the
/// caller's `max_bytes`. Elsewhere than in WebAssembly it does nothing.
pub(crate) fn reserve(bytes: usize) {
    #[cfg(target_arch = "wasm32")]
    {
        let mut reservation = Vec::<u8>::new();
        if reservation.try_reserve_exact(bytes).is_ok() {
            // Kept from the optimiser, which may otherwise drop an allocation nothing reads.
            std::hint::black_box(&mut reservation);
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    let _ = bytes;
}

/// The fast path gave up: the slow path decides.
#[derive(Debug)]
pub(crate) struct GiveUp;

/// Without the `stream` feature (the npm package's default build, which has a size budget),
/// every snapshot is read the slow way.
#[cfg(not(feature = "stream"))]
pub(crate) fn verify(
    _: &dyn Source,
    _: &crate::TrustedKeys,
    _: &crate::VerifyOptions,
) -> Result<crate::Snapshot, GiveUp> {
    Err(GiveUp)
}
