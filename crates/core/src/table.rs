//! Compact tables for the kinds an organisation holds by the hundred thousand: strings laid end
//! to end in one buffer, ids indexed by an open-addressing table over that buffer, and
//! Projects as columns. At 500k Projects this holds what a `Vec` of structs of `String`s would
//! in a third of the memory and a handful of allocations rather than millions.

use std::hash::Hasher;

use crate::policy::{IdHasher, Idx};

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

    pub(crate) fn contains_key(&self, id: &str) -> bool {
        self.get(id).is_some()
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

/// The Projects, as columns: names, Offices and teams (each sorted), by position.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProjectTable {
    names: Strs,
    pub(crate) offices: Vec<Idx>,
    /// Where each team ends in `members`.
    team_ends: Vec<usize>,
    members: Vec<Idx>,
}

impl ProjectTable {
    /// Appends a Project; `team` must be sorted and free of repeats.
    pub(crate) fn push(&mut self, name: &str, office: Idx, team: &[Idx]) {
        self.names.push(name);
        self.offices.push(office);
        self.members.extend_from_slice(team);
        self.team_ends.push(self.members.len());
    }

    /// Room for `additional` more Projects of a usual size.
    #[cfg(feature = "stream")]
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.names.text.reserve(additional.saturating_mul(24));
        self.names.ends.reserve(additional);
        self.offices.reserve(additional);
        self.team_ends.reserve(additional);
        self.members.reserve(additional.saturating_mul(6));
    }

    pub(crate) fn len(&self) -> usize {
        self.offices.len()
    }

    pub(crate) fn name(&self, p: usize) -> Option<&str> {
        self.names.get(p)
    }

    pub(crate) fn team(&self, p: usize) -> Option<&[Idx]> {
        let end = *self.team_ends.get(p)?;
        let start = match p.checked_sub(1) {
            Some(before) => *self.team_ends.get(before)?,
            None => 0,
        };
        self.members.get(start..end)
    }

    /// Every (Project, team member) pair, Project by Project.
    pub(crate) fn memberships(&self) -> impl Iterator<Item = (Idx, Idx)> + '_ {
        (0..self.len()).flat_map(move |p| {
            let team = self.team(p).unwrap_or_default();
            let p = Idx::try_from(p).unwrap_or(Idx::MAX);
            team.iter().map(move |&u| (p, u))
        })
    }

    #[cfg(feature = "stream")]
    pub(crate) fn shrink_to_fit(&mut self) {
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
    }
}
