//! Compact tables for the kinds an organisation holds by the hundred thousand: strings laid end
//! to end in one buffer, ids indexed by an open-addressing table over that buffer, and
//! Projects as columns. At 500k Projects this holds what a `Vec` of structs of `String`s would
//! in a third of the memory and a handful of allocations rather than millions.

use std::hash::Hasher;

use crate::ids::{IdHasher, Idx};

/// Strings laid end to end in one buffer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Strs {
    text: String,
    /// Where each string ends in `text`.
    ends: Vec<usize>,
}

impl Strs {
    pub(crate) fn push(&mut self, text: &str) {
        self.text.push_str(text);
        self.ends.push(self.text.len());
    }

    pub(crate) fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)?;
        let start = match i.checked_sub(1) {
            Some(before) => *self.ends.get(before)?,
            None => 0,
        };
        self.text.get(start..end)
    }

    /// The `i`th string's bytes: [`Strs::get`] without checking where characters begin.
    fn bytes(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)?;
        let start = match i.checked_sub(1) {
            Some(before) => *self.ends.get(before)?,
            None => 0,
        };
        self.text.as_bytes().get(start..end)
    }

    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).map(|i| self.get(i).unwrap_or_default())
    }

    #[cfg(feature = "stream")]
    fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
        self.ends.shrink_to_fit();
    }
}

/// Ids in declaration order, with an index from id to position. The index holds positions
/// only: each id is stored once, in [`Strs`].
#[derive(Debug, Clone, Default)]
pub(crate) struct IdTable {
    ids: Strs,
    /// Open addressing with linear probing, never more than half full, so a probe ends
    /// quickly. A slot is `EMPTY`, or a position in its low bits (`positions`) and bits of its
    /// id's hash above them, so that a probe compares ids (in another buffer, a cache miss
    /// away) almost only when they match.
    slots: Vec<Idx>,
    /// The bits of a slot that hold a position: enough for every position the table can hold
    /// at its size, so that all ones is never one (and `EMPTY` is never a slot in use).
    positions: Idx,
    /// The most slots a lookup may probe (0: no bound). The stream loader indexes ids before
    /// their signature is checked, and the hash has no key: ids made to collide could make
    /// every lookup walk one long cluster. A bounded table refuses instead, and the loader
    /// gives up (the whole-document path then checks the signature before it indexes).
    bound: usize,
}

/// Why [`IdTable::insert`] did not add an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotNew {
    /// Declared before, at this position (the first declaration stands).
    Repeat(Idx),
    /// A probe went past the table's bound.
    Crowded,
}

/// The bound of the stream loader's tables: at most half full, a probe this long does not
/// happen by chance (the longest at 500k sequential ids is far shorter; see the tests).
#[cfg(any(test, feature = "stream"))]
pub(crate) const PROBE_BOUND: usize = 128;

const EMPTY: Idx = Idx::MAX;

/// An id's hash: where its probe starts (low bits), and the bits a slot keeps (high bits).
#[derive(Clone, Copy)]
struct Hash {
    start: usize,
    tag: Idx,
}

fn hash(id: &str) -> Hash {
    let mut hasher = IdHasher::default();
    hasher.write(id.as_bytes());
    let hash = hasher.finish();
    #[expect(clippy::cast_possible_truncation, reason = "the two halves of a hash")]
    Hash { start: (hash ^ (hash >> 32)) as usize, tag: (hash >> 32) as Idx }
}

/// Whether two ids are equal, compared 8 bytes at a time: ids are short, and WebAssembly's
/// `memcmp` compares a byte at a time, behind a call.
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut xs, mut ys) = (a.chunks_exact(8), b.chunks_exact(8));
    let word = |chunk: &[u8]| <[u8; 8]>::try_from(chunk).map(u64::from_ne_bytes).ok();
    (&mut xs).zip(&mut ys).all(|(x, y)| word(x) == word(y))
        && xs.remainder().iter().zip(ys.remainder()).all(|(x, y)| x == y)
}

impl IdTable {
    /// Appends `id` at the next position and indexes it; returns that position, or
    /// `Err(first)` with the position of an earlier declaration, which keeps the index (the
    /// first declaration stands; positions still count the repeat).
    pub(crate) fn insert(&mut self, id: &str) -> Result<Idx, NotNew> {
        let position = Idx::try_from(self.ids.len()).unwrap_or(EMPTY);
        let hash = hash(id);
        let first = self.find(&self.ids, id, hash)?;
        // A repeat takes a position too: the table grows with every id, repeats included, so
        // that every position fits below `positions`.
        self.ids.push(id);
        if (self.ids.len() + 1) * 2 > self.slots.len() {
            self.grow();
        } else if first.is_none() {
            self.place(hash, position);
        }
        match first {
            Some(first) => Err(NotNew::Repeat(first)),
            None => Ok(position),
        }
    }

    /// A table whose lookups probe at most `bound` slots (see `bound`).
    #[cfg(feature = "stream")]
    pub(crate) fn bounded(bound: usize) -> IdTable {
        IdTable { bound, ..IdTable::default() }
    }

    /// Lifts the bound, once every id is in.
    #[cfg(feature = "stream")]
    pub(crate) fn unbound(&mut self) {
        self.bound = 0;
    }

    #[cfg(any(test, feature = "stream"))]
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.ids.ends.reserve(additional);
        let wanted = (self.ids.len() + additional + 1).saturating_mul(2).next_power_of_two();
        if wanted > self.slots.len() {
            self.rebuild(wanted);
        }
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(16);
        self.rebuild(size);
    }

    /// Indexes every id again in `size` slots (a power of two).
    fn rebuild(&mut self, size: usize) {
        self.slots = vec![EMPTY; size];
        // At most half full: every position is below `size / 2 - 1`.
        self.positions = Idx::try_from(size / 2 - 1).unwrap_or(EMPTY);
        let ids = std::mem::take(&mut self.ids);
        for (position, id) in ids.iter().enumerate() {
            let Ok(position) = Idx::try_from(position) else { continue };
            let hash = hash(id);
            // A repeated id keeps its first position.
            if !matches!(self.find(&ids, id, hash), Ok(Some(_))) {
                self.place(hash, position);
            }
        }
        self.ids = ids;
    }

    fn place(&mut self, hash: Hash, position: Idx) {
        let mask = self.slots.len().wrapping_sub(1);
        let packed = position | (hash.tag & !self.positions);
        let mut slot = hash.start & mask;
        // The table is never full: a free slot is always found.
        for _ in 0..self.slots.len() {
            match self.slots.get_mut(slot) {
                Some(free) if *free == EMPTY => {
                    *free = packed;
                    return;
                }
                _ => slot = (slot + 1) & mask,
            }
        }
    }

    /// The position of `id` (none either if it is absent, or if a bounded table's probe for
    /// it ran past the bound).
    pub(crate) fn get(&self, id: &str) -> Option<Idx> {
        self.find(&self.ids, id, hash(id)).ok().flatten()
    }

    fn find(&self, ids: &Strs, id: &str, hash: Hash) -> Result<Option<Idx>, NotNew> {
        let Some(mask) = self.slots.len().checked_sub(1) else { return Ok(None) };
        let tag = hash.tag & !self.positions;
        let mut slot = hash.start & mask;
        let steps = if self.bound == 0 { self.slots.len() } else { self.bound.min(self.slots.len()) };
        for _ in 0..steps {
            let Some(&found) = self.slots.get(slot) else { return Ok(None) };
            if found == EMPTY {
                return Ok(None);
            }
            let position = found & self.positions;
            if found & !self.positions == tag
                && ids.bytes(position as usize).is_some_and(|other| same(other, id.as_bytes()))
            {
                return Ok(Some(position));
            }
            slot = (slot + 1) & mask;
        }
        if steps < self.slots.len() { Err(NotNew::Crowded) } else { Ok(None) }
    }

    /// The id at `position`.
    pub(crate) fn id(&self, position: Idx) -> Option<&str> {
        self.ids.get(position as usize)
    }

    #[cfg(any(test, feature = "stream"))]
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        self.ids.iter()
    }

    #[cfg(feature = "stream")]
    pub(crate) fn shrink_to_fit(&mut self) {
        self.ids.shrink_to_fit();
    }
}

/// The ids of a kind that edits add to (Projects): an [`IdTable`] shared whole between
/// revisions, and natively a small one of the ids added since, folded into a new shared table
/// once it holds more than a sixteenth as many (so an added id costs a copy of the small table,
/// and now and then a rebuild of the whole, rather than a copy of the whole each time).
#[derive(Debug, Clone, Default)]
pub(crate) struct GrowingIds {
    #[cfg(not(target_family = "wasm"))]
    base: std::sync::Arc<IdTable>,
    #[cfg(not(target_family = "wasm"))]
    added: IdTable,
    #[cfg(target_family = "wasm")]
    base: IdTable,
}

impl From<IdTable> for GrowingIds {
    fn from(table: IdTable) -> GrowingIds {
        #[cfg(not(target_family = "wasm"))]
        let ids = GrowingIds { base: std::sync::Arc::new(table), added: IdTable::default() };
        #[cfg(target_family = "wasm")]
        let ids = GrowingIds { base: table };
        ids
    }
}

#[cfg(not(target_family = "wasm"))]
impl GrowingIds {
    pub(crate) fn get(&self, id: &str) -> Option<Idx> {
        match self.base.get(id) {
            Some(position) => Some(position),
            None => self.added.get(id).map(|position| position.saturating_add(self.base_len())),
        }
    }

    fn base_len(&self) -> Idx {
        Idx::try_from(self.base.ids.len()).unwrap_or(EMPTY)
    }

    pub(crate) fn contains_key(&self, id: &str) -> bool {
        self.get(id).is_some()
    }

    pub(crate) fn id(&self, position: Idx) -> Option<&str> {
        match position.checked_sub(self.base_len()) {
            None => self.base.id(position),
            Some(added) => self.added.id(added),
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.base.ids.len() + self.added.ids.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        self.base.iter().chain(self.added.iter())
    }

    /// Appends `id` (an edit's new Project); `None` if it is there already.
    pub(crate) fn push(&mut self, id: &str) -> Option<Idx> {
        if self.base.get(id).is_some() {
            return None;
        }
        let position = self.added.insert(id).ok()?.saturating_add(self.base_len());
        if self.added.ids.len() > (self.base.ids.len() / 16).max(1024) {
            let mut whole = IdTable::default();
            for id in self.base.iter().chain(self.added.iter()) {
                let _ = whole.insert(id);
            }
            *self = GrowingIds::from(whole);
        }
        Some(position)
    }
}

#[cfg(target_family = "wasm")]
impl GrowingIds {
    pub(crate) fn get(&self, id: &str) -> Option<Idx> {
        self.base.get(id)
    }

    pub(crate) fn contains_key(&self, id: &str) -> bool {
        self.base.get(id).is_some()
    }

    pub(crate) fn id(&self, position: Idx) -> Option<&str> {
        self.base.id(position)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        self.base.iter()
    }

    pub(crate) fn push(&mut self, id: &str) -> Option<Idx> {
        self.base.insert(id).ok()
    }
}

/// The Projects, as columns: names, Offices and teams (each sorted), by position.
///
/// Natively the columns are cut in chunks of [`PROJECT_CHUNK`] Projects, each behind a
/// reference count, so that revisions share the chunks an edit leaves alone
/// ([`crate::rows`]); in WebAssembly they are one chunk, as they always were.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProjectTable {
    #[cfg(not(target_family = "wasm"))]
    chunks: Vec<std::sync::Arc<ProjectChunk>>,
    #[cfg(not(target_family = "wasm"))]
    len: usize,
    #[cfg(target_family = "wasm")]
    whole: ProjectChunk,
}

/// Projects per chunk: a chunk is some 40 kB to copy.
#[cfg(not(target_family = "wasm"))]
const PROJECT_CHUNK: usize = 1024;

#[cfg(not(target_family = "wasm"))]
impl ProjectTable {
    /// Appends a Project; `team` must be sorted and free of repeats.
    pub(crate) fn push(&mut self, name: &str, office: Idx, team: &[Idx]) {
        match self.chunks.last_mut() {
            Some(last) if last.len() < PROJECT_CHUNK => {
                std::sync::Arc::make_mut(last).push(name, office, team)
            }
            _ => {
                let mut chunk = ProjectChunk::default();
                chunk.push(name, office, team);
                self.chunks.push(std::sync::Arc::new(chunk));
            }
        }
        self.len += 1;
    }

    /// Room for `additional` more Projects of a usual size.
    #[cfg(feature = "stream")]
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.chunks.reserve(additional.div_ceil(PROJECT_CHUNK));
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn chunk(&self, p: usize) -> Option<(&ProjectChunk, usize)> {
        Some((self.chunks.get(p / PROJECT_CHUNK)?, p % PROJECT_CHUNK))
    }

    pub(crate) fn name(&self, p: usize) -> Option<&str> {
        let (chunk, p) = self.chunk(p)?;
        chunk.name(p)
    }

    #[inline]
    pub(crate) fn office(&self, p: usize) -> Option<Idx> {
        let (chunk, p) = self.chunk(p)?;
        chunk.offices.get(p).copied()
    }

    pub(crate) fn team(&self, p: usize) -> Option<&[Idx]> {
        let (chunk, p) = self.chunk(p)?;
        chunk.team(p)
    }

    /// Gives Project `p` the team `team` (sorted, free of repeats).
    pub(crate) fn set_team(&mut self, p: usize, team: &[Idx]) {
        if let Some(chunk) = self.chunks.get_mut(p / PROJECT_CHUNK) {
            std::sync::Arc::make_mut(chunk).set_team(p % PROJECT_CHUNK, team);
        }
    }

    /// Each Project's Office, in order.
    pub(crate) fn offices(&self) -> impl Iterator<Item = Idx> + '_ {
        self.chunks.iter().flat_map(|chunk| chunk.offices.iter().copied())
    }

    /// Every (Project, team member) pair, Project by Project.
    pub(crate) fn memberships(&self) -> impl Iterator<Item = (Idx, Idx)> + '_ {
        self.chunks.iter().enumerate().flat_map(|(c, chunk)| {
            chunk.memberships().map(move |(p, u)| (to_idx(c * PROJECT_CHUNK + p as usize), u))
        })
    }

    #[cfg(feature = "stream")]
    pub(crate) fn shrink_to_fit(&mut self) {
        if let Some(last) = self.chunks.last_mut() {
            std::sync::Arc::make_mut(last).shrink_to_fit();
        }
        self.chunks.shrink_to_fit();
    }
}

#[cfg(target_family = "wasm")]
impl ProjectTable {
    pub(crate) fn push(&mut self, name: &str, office: Idx, team: &[Idx]) {
        self.whole.push(name, office, team);
    }

    #[cfg(feature = "stream")]
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.whole.reserve(additional);
    }

    pub(crate) fn len(&self) -> usize {
        self.whole.len()
    }

    pub(crate) fn name(&self, p: usize) -> Option<&str> {
        self.whole.name(p)
    }

    #[inline]
    pub(crate) fn office(&self, p: usize) -> Option<Idx> {
        self.whole.offices.get(p).copied()
    }

    pub(crate) fn team(&self, p: usize) -> Option<&[Idx]> {
        self.whole.team(p)
    }

    pub(crate) fn set_team(&mut self, p: usize, team: &[Idx]) {
        self.whole.set_team(p, team);
    }

    pub(crate) fn offices(&self) -> impl Iterator<Item = Idx> + '_ {
        self.whole.offices.iter().copied()
    }

    pub(crate) fn memberships(&self) -> impl Iterator<Item = (Idx, Idx)> + '_ {
        self.whole.memberships()
    }

    #[cfg(feature = "stream")]
    pub(crate) fn shrink_to_fit(&mut self) {
        self.whole.shrink_to_fit();
    }
}

#[cfg(not(target_family = "wasm"))]
fn to_idx(i: usize) -> Idx {
    Idx::try_from(i).unwrap_or(Idx::MAX)
}

/// Projects as columns, by position within the chunk.
#[derive(Debug, Clone, Default)]
struct ProjectChunk {
    names: Strs,
    offices: Vec<Idx>,
    /// Where each team ends in `members`.
    team_ends: Vec<usize>,
    members: Vec<Idx>,
}

impl ProjectChunk {
    fn push(&mut self, name: &str, office: Idx, team: &[Idx]) {
        self.names.push(name);
        self.offices.push(office);
        self.members.extend_from_slice(team);
        self.team_ends.push(self.members.len());
    }

    #[cfg(all(feature = "stream", target_family = "wasm"))]
    fn reserve(&mut self, additional: usize) {
        self.names.text.reserve(additional.saturating_mul(24));
        self.names.ends.reserve(additional);
        self.offices.reserve(additional);
        self.team_ends.reserve(additional);
        self.members.reserve(additional.saturating_mul(6));
    }

    fn len(&self) -> usize {
        self.offices.len()
    }

    fn name(&self, p: usize) -> Option<&str> {
        self.names.get(p)
    }

    fn bounds(&self, p: usize) -> Option<(usize, usize)> {
        let end = *self.team_ends.get(p)?;
        let start = match p.checked_sub(1) {
            Some(before) => *self.team_ends.get(before)?,
            None => 0,
        };
        Some((start, end))
    }

    fn team(&self, p: usize) -> Option<&[Idx]> {
        let (start, end) = self.bounds(p)?;
        self.members.get(start..end)
    }

    fn set_team(&mut self, p: usize, team: &[Idx]) {
        let Some((start, end)) = self.bounds(p) else { return };
        if start > end || end > self.members.len() {
            return;
        }
        self.members.splice(start..end, team.iter().copied());
        let (old, new) = (end - start, team.len());
        for later in self.team_ends.iter_mut().skip(p) {
            *later = (*later + new).saturating_sub(old);
        }
    }

    fn memberships(&self) -> impl Iterator<Item = (Idx, Idx)> + '_ {
        (0..self.len()).flat_map(move |p| {
            let team = self.team(p).unwrap_or_default();
            let p = Idx::try_from(p).unwrap_or(Idx::MAX);
            team.iter().map(move |&u| (p, u))
        })
    }

    #[cfg(feature = "stream")]
    fn shrink_to_fit(&mut self) {
        self.names.shrink_to_fit();
        self.offices.shrink_to_fit();
        self.team_ends.shrink_to_fit();
        self.members.shrink_to_fit();
    }
}

/// One Project, read from the tables.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProjectRef<'a> {
    pub(crate) id: &'a str,
    pub(crate) name: &'a str,
    pub(crate) office: Idx,
    pub(crate) network: Idx,
    /// Sorted.
    pub(crate) team: &'a [Idx],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_found_where_they_were_declared_and_repeats_keep_the_first() {
        let mut table = IdTable::default();
        for i in 0..1000 {
            assert_eq!(table.insert(&format!("p-{i:06}")), Ok(i));
        }
        assert_eq!(table.insert("p-000007"), Err(NotNew::Repeat(7)));
        assert_eq!(table.insert("after"), Ok(1001));
        for i in 0..1000 {
            assert_eq!(table.get(&format!("p-{i:06}")), Some(i));
        }
        assert_eq!(table.get("after"), Some(1001));
        assert_eq!(table.id(1000), Some("p-000007"));
        assert_eq!(table.get("p-001000"), None);
        assert_eq!(table.get(""), None);
        table.reserve(5000);
        assert_eq!(table.get("p-000999"), Some(999));
        assert_eq!(table.get("p-000007"), Some(7));
        assert_eq!(table.len(), 1002);
    }

    #[test]
    fn ids_that_differ_in_their_last_characters_spread_over_the_table() {
        let mut table = IdTable::default();
        let count = 200_000;
        for i in 0..count {
            assert!(table.insert(&format!("p-{i:06}")).is_ok());
        }
        // Linear probing at most half full: about 1.5 slots a hit when the hash spreads well.
        let mask = table.slots.len() - 1;
        let mut probes = 0;
        let mut longest = 0;
        for i in 0..count {
            let id = format!("p-{i:06}");
            let mut slot = hash(&id).start & mask;
            probes += 1;
            let before = probes;
            while table
                .slots
                .get(slot)
                .is_some_and(|s| table.ids.get((s & table.positions) as usize) != Some(id.as_str()))
            {
                slot = (slot + 1) & mask;
                probes += 1;
            }
            longest = longest.max(probes - before + 1);
        }
        assert!(probes < count * 2, "{probes} probes for {count} ids");
        // The stream loader's bound is far from what such ids need.
        assert!(longest * 4 < PROBE_BOUND, "a probe of {longest}");
    }

    #[test]
    fn ids_are_compared_whole() {
        for (a, b) in [
            ("", ""),
            ("u-1", "u-1"),
            ("p-000123", "p-000123"),
            ("a long id of many words", "a long id of many words"),
        ] {
            assert!(same(a.as_bytes(), b.as_bytes()));
        }
        for (a, b) in [
            ("", "a"),
            ("u-1", "u-2"),
            ("p-000123", "p-000124"),
            ("p-0001234", "p-0001235"),
            ("abcdefgh1", "bbcdefgh1"),
        ] {
            assert!(!same(a.as_bytes(), b.as_bytes()) && !same(b.as_bytes(), a.as_bytes()));
        }
    }

    #[test]
    fn repeats_count_as_positions_and_the_table_grows_with_them() {
        let mut table = IdTable::default();
        assert_eq!(table.insert("a"), Ok(0));
        for _ in 0..40 {
            assert_eq!(table.insert("a"), Err(NotNew::Repeat(0)));
        }
        assert_eq!(table.insert("b"), Ok(41));
        assert_eq!(table.insert("b"), Err(NotNew::Repeat(41)));
        assert_eq!(table.get("b"), Some(41));
        assert!((table.len() + 1) * 2 <= table.slots.len());
    }

    #[test]
    #[cfg(feature = "stream")]
    fn a_bounded_table_refuses_a_crowded_probe() {
        // Ids that all start their probe at one slot, as ids made to collide would.
        let mut table = IdTable::bounded(8);
        table.reserve(100);
        let mask = table.slots.len() - 1;
        let start = hash("x-0").start & mask;
        let crowd: Vec<String> = (0..200_000)
            .map(|i| format!("x-{i}"))
            .filter(|id| hash(id).start & mask == start)
            .take(20)
            .collect();
        assert_eq!(crowd.len(), 20);
        let results: Vec<_> = crowd.iter().map(|id| table.insert(id)).collect();
        assert!(results.iter().take(8).all(Result::is_ok));
        assert!(results.contains(&Err(NotNew::Crowded)));
        table.unbound();
        assert_eq!(crowd.first().and_then(|id| table.get(id)), Some(0));
    }

    #[test]
    fn growing_ids_find_old_and_new_and_fold_them_together() {
        let mut table = IdTable::default();
        for i in 0..100 {
            table.insert(&format!("p-{i}")).unwrap();
        }
        let mut ids = GrowingIds::from(table);
        let before = ids.clone();
        for i in 100..3000 {
            assert_eq!(ids.push(&format!("p-{i}")), Some(i));
        }
        assert_eq!(ids.push("p-5"), None);
        assert_eq!(ids.push("p-2000"), None);
        assert_eq!(ids.len(), 3000);
        for i in 0..3000 {
            assert_eq!(ids.get(&format!("p-{i}")), Some(i));
            assert_eq!(ids.id(i), Some(format!("p-{i}").as_str()));
        }
        assert_eq!(ids.iter().count(), 3000);
        assert_eq!(before.len(), 100);
        assert_eq!(before.get("p-100"), None);
    }

    #[test]
    fn an_empty_table_finds_nothing() {
        let table = IdTable::default();
        assert_eq!(table.get("p-1"), None);
        assert_eq!(table.id(0), None);
    }

    #[test]
    fn project_columns_read_back() {
        let mut table = ProjectTable::default();
        table.push("One", 3, &[1, 4]);
        table.push("", 0, &[]);
        table.push("Three", 1, &[2]);
        assert_eq!(table.name(0), Some("One"));
        assert_eq!(table.name(1), Some(""));
        assert_eq!(table.team(0), Some(&[1, 4][..]));
        assert_eq!(table.team(1), Some(&[][..]));
        assert_eq!(table.team(2), Some(&[2][..]));
        assert_eq!(table.team(3), None);
        assert_eq!(table.memberships().collect::<Vec<_>>(), [(0, 1), (0, 4), (2, 2)]);
        table.set_team(0, &[5]);
        table.set_team(1, &[1, 2, 3]);
        assert_eq!(table.team(0), Some(&[5][..]));
        assert_eq!(table.team(1), Some(&[1, 2, 3][..]));
        assert_eq!(table.team(2), Some(&[2][..]));
        assert_eq!(table.office(2), Some(1));
    }

    #[test]
    fn project_columns_span_chunks() {
        let mut table = ProjectTable::default();
        for p in 0..3000 {
            table.push(&format!("P{p}"), p, &[p, p + 1]);
        }
        let copy = table.clone();
        table.set_team(2500, &[7]);
        table.push("last", 9, &[]);
        assert_eq!(table.len(), 3001);
        assert_eq!(copy.len(), 3000);
        assert_eq!(table.name(2999), Some("P2999"));
        assert_eq!(table.team(2500), Some(&[7][..]));
        assert_eq!(copy.team(2500), Some(&[2500, 2501][..]));
        assert_eq!(table.office(1500), Some(1500));
        assert_eq!(table.offices().count(), 3001);
        assert_eq!(table.memberships().filter(|&(p, _)| p == 2999).count(), 2);
    }
}
