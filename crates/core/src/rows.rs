//! Tables shared between revisions of an organisation: [`Rows`], a vector held in chunks of
//! [`CHUNK`] elements behind reference counts, and [`Lists`], a list of indices per key.
//!
//! Cloning one copies a pointer per chunk; changing an element copies its chunk only, so two
//! revisions built one from the other ([`crate::Cutter::edit`]) hold together what one holds
//! plus the chunks the edit touched. A read is one more pointer away than in a `Vec`.
//!
//! In WebAssembly (the npm package and the app, which never edit an organisation) a `Rows` is a
//! plain `Vec` with the same methods: the evaluator's code there stays what it was, within the
//! package's size budget.

use std::fmt;
#[cfg(not(target_family = "wasm"))]
use std::sync::Arc;

use crate::ids::Idx;

/// Elements per chunk: a chunk of users or Projects is a few kilobytes to copy.
#[cfg(not(target_family = "wasm"))]
pub(crate) const CHUNK: usize = 64;

/// A vector shared in chunks; see the module docs.
#[derive(Clone)]
pub(crate) struct Rows<T> {
    #[cfg(not(target_family = "wasm"))]
    chunks: Vec<Arc<Vec<T>>>,
    #[cfg(not(target_family = "wasm"))]
    len: usize,
    #[cfg(target_family = "wasm")]
    items: Vec<T>,
}

impl<T> Default for Rows<T> {
    fn default() -> Rows<T> {
        Rows::from_vec(Vec::new())
    }
}

impl<T: fmt::Debug> fmt::Debug for Rows<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(not(target_family = "wasm"))]
impl<T> Rows<T> {
    pub(crate) fn from_vec(items: Vec<T>) -> Rows<T> {
        let len = items.len();
        let mut chunks = Vec::with_capacity(len.div_ceil(CHUNK));
        let mut items = items.into_iter();
        loop {
            let chunk: Vec<T> = items.by_ref().take(CHUNK).collect();
            if chunk.is_empty() {
                break;
            }
            chunks.push(Arc::new(chunk));
        }
        Rows { chunks, len }
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        self.chunks.get(i / CHUNK)?.get(i % CHUNK)
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + '_ {
        self.chunks.iter().flat_map(|chunk| chunk.iter())
    }

    /// Whether the two share element `i`'s chunk (a test of the sharing, and of nothing else).
    #[cfg(test)]
    pub(crate) fn shares(&self, other: &Rows<T>, i: usize) -> bool {
        match (self.chunks.get(i / CHUNK), other.chunks.get(i / CHUNK)) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

#[cfg(not(target_family = "wasm"))]
impl<T: Clone> Rows<T> {
    /// Element `i`, its chunk copied first if another revision shares it.
    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        Arc::make_mut(self.chunks.get_mut(i / CHUNK)?).get_mut(i % CHUNK)
    }

    pub(crate) fn push(&mut self, item: T) {
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => Arc::make_mut(last).push(item),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(item);
                self.chunks.push(Arc::new(chunk));
            }
        }
        self.len += 1;
    }
}

#[cfg(target_family = "wasm")]
impl<T> Rows<T> {
    pub(crate) fn from_vec(items: Vec<T>) -> Rows<T> {
        Rows { items }
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        self.items.get(i)
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + '_ {
        self.items.iter()
    }
}

#[cfg(target_family = "wasm")]
impl<T: Clone> Rows<T> {
    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.items.get_mut(i)
    }

    pub(crate) fn push(&mut self, item: T) {
        self.items.push(item);
    }
}

impl<'a, T> IntoIterator for &'a Rows<T> {
    type Item = &'a T;
    type IntoIter = Box<dyn DoubleEndedIterator<Item = &'a T> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl<T> FromIterator<T> for Rows<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Rows<T> {
        Rows::from_vec(items.into_iter().collect())
    }
}

/// A sorted list of indices per key (the Offices of each Network, the Projects of each Office,
/// …), each list shared whole between revisions: changing one copies that list only.
#[derive(Clone, Default)]
pub(crate) struct Lists {
    #[cfg(not(target_family = "wasm"))]
    lists: Rows<Arc<[Idx]>>,
    #[cfg(target_family = "wasm")]
    lists: Rows<Vec<Idx>>,
}

impl fmt::Debug for Lists {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.lists.iter()).finish()
    }
}

impl Lists {
    /// From `(key, item)` pairs, each key's items in the order the pairs give them. A key out of
    /// range is left out.
    pub(crate) fn new(keys: usize, pairs: impl Iterator<Item = (Idx, Idx)>) -> Lists {
        let mut lists: Vec<Vec<Idx>> = vec![Vec::new(); keys];
        for (key, item) in pairs {
            if let Some(list) = lists.get_mut(key as usize) {
                list.push(item);
            }
        }
        #[cfg(not(target_family = "wasm"))]
        let lists = {
            let empty: Arc<[Idx]> = Arc::from(Vec::new());
            lists
                .into_iter()
                .map(|list| if list.is_empty() { Arc::clone(&empty) } else { Arc::from(list) })
                .collect()
        };
        #[cfg(target_family = "wasm")]
        let lists = Rows::from_vec(lists);
        Lists { lists }
    }

    /// The list of `key` (empty for a key out of range).
    pub(crate) fn get(&self, key: Idx) -> &[Idx] {
        self.lists.get(key as usize).map_or(&[], |list| &list[..])
    }

    /// Adds `item` to the list of `key`, where it sorts (nothing if it is there already).
    pub(crate) fn insert(&mut self, key: Idx, item: Idx) {
        let list = self.get(key);
        if let Err(at) = list.binary_search(&item) {
            let mut next = Vec::with_capacity(list.len() + 1);
            next.extend_from_slice(list.get(..at).unwrap_or_default());
            next.push(item);
            next.extend_from_slice(list.get(at..).unwrap_or_default());
            self.set(key, next);
        }
    }

    /// Takes `item` out of the list of `key`.
    pub(crate) fn remove(&mut self, key: Idx, item: Idx) {
        let list = self.get(key);
        if let Ok(at) = list.binary_search(&item) {
            let mut next = list.to_vec();
            next.remove(at);
            self.set(key, next);
        }
    }

    fn set(&mut self, key: Idx, list: Vec<Idx>) {
        if let Some(slot) = self.lists.get_mut(key as usize) {
            #[cfg(not(target_family = "wasm"))]
            {
                *slot = Arc::from(list);
            }
            #[cfg(target_family = "wasm")]
            {
                *slot = list;
            }
        }
    }
}

/// A table that is shared whole between revisions (the small ones, and those no edit changes):
/// an `Arc` natively, the table itself in WebAssembly.
#[cfg(not(target_family = "wasm"))]
pub(crate) type Shared<T> = Arc<T>;
#[cfg(target_family = "wasm")]
pub(crate) type Shared<T> = T;

/// `table`, to be shared.
#[cfg(not(target_family = "wasm"))]
pub(crate) fn share<T>(table: T) -> Shared<T> {
    Arc::new(table)
}

#[cfg(target_family = "wasm")]
pub(crate) fn share<T>(table: T) -> Shared<T> {
    table
}

/// The table `shared` holds, copied first if another revision shares it.
#[cfg(not(target_family = "wasm"))]
pub(crate) fn make_mut<T: Clone>(shared: &mut Shared<T>) -> &mut T {
    Arc::make_mut(shared)
}

#[cfg(target_family = "wasm")]
pub(crate) fn make_mut<T: Clone>(shared: &mut Shared<T>) -> &mut T {
    shared
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_read_back_and_share_what_an_edit_leaves() {
        let rows: Rows<usize> = (0..200).collect();
        assert_eq!(rows.len(), 200);
        assert_eq!(rows.get(199), Some(&199));
        assert_eq!(rows.get(200), None);
        let mut next = rows.clone();
        *next.get_mut(70).unwrap() = 7000;
        next.push(200);
        assert_eq!(rows.get(70), Some(&70));
        assert_eq!(next.get(70), Some(&7000));
        assert_eq!(next.get(200), Some(&200));
        assert_eq!(next.len(), 201);
        assert_eq!(next.iter().count(), 201);
        #[cfg(not(target_family = "wasm"))]
        {
            assert!(next.shares(&rows, 0));
            assert!(!next.shares(&rows, 70));
        }
    }

    #[test]
    fn lists_stay_sorted() {
        let mut lists = Lists::new(3, [(0, 1), (0, 4), (2, 2), (9, 9)].into_iter());
        assert_eq!(lists.get(0), [1, 4]);
        assert_eq!(lists.get(1), [0; 0]);
        assert_eq!(lists.get(9), [0; 0]);
        lists.insert(0, 3);
        lists.insert(0, 3);
        lists.insert(1, 5);
        lists.remove(2, 2);
        assert_eq!(lists.get(0), [1, 3, 4]);
        assert_eq!(lists.get(1), [5]);
        assert_eq!(lists.get(2), [0; 0]);
    }
}
