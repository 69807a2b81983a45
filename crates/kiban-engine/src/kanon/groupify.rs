//! Equivalence classes of one transformation: the table is dictionary-encoded once, its identical rows
//! collapsed into distinct tuples with counts, and each transformation groups those tuples by their
//! generalized codes.
//!
//! Grouping is the engine's inner loop, so it avoids strings and generic hashing: when the generalized
//! domain is small the class of a tuple is found by direct indexing, otherwise by hashing the generalized
//! codes packed into a `u64` with a cheap multiplicative hash.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::hierarchy::Hierarchy;

/// The table the search works on: distinct level-0 tuples with their counts.
pub(crate) struct Table<'a> {
    pub(crate) hierarchies: Vec<&'a Hierarchy>,
    pub(crate) n_rows: usize,
    // Invariant: `tuples[t * n_dimensions + i]` is the leaf code of quasi-identifier `i` in distinct tuple
    // `t`.
    tuples: Vec<u32>,
    // The distinct tuples as the finest class list: counts, and `reps[t] == t`.
    distinct: ClassList,
    // `row_tuple[row]` is the distinct tuple of each row.
    pub(crate) row_tuple: Vec<u32>,
    // A buffer for dense grouping, kept between calls to avoid clearing a large table each time.
    scratch: RefCell<Vec<u32>>,
}

/// Equivalence classes: a row count and one representative distinct tuple per class (to read the
/// class's generalized codes from). The distinct tuples of the table form the finest class list.
#[derive(Clone)]
pub(crate) struct ClassList {
    pub(crate) counts: Vec<u32>,
    pub(crate) reps: Vec<u32>,
}

/// The equivalence classes of one transformation, grouped from some finer class list.
pub(crate) struct Groups {
    /// The class of each entry of the finer list (of each distinct tuple when grouped from the table).
    pub(crate) entry_class: Vec<u32>,
    pub(crate) classes: ClassList,
}

/// Dense class lookup is used up to this many cells.
const MAX_DENSE_CELLS: usize = 1 << 21;

impl<'a> Table<'a> {
    /// `columns[i][row]` is the leaf code of quasi-identifier `i` in `row`; all columns have `n_rows` codes.
    pub(crate) fn new(hierarchies: Vec<&'a Hierarchy>, columns: &[&[u32]], n_rows: usize) -> Table<'a> {
        let n_dimensions = columns.len();
        let mut index: HashMap<&[u32], u32, FastHash> = HashMap::default();
        let mut row_major: Vec<u32> = Vec::with_capacity(n_rows * n_dimensions);
        for row in 0..n_rows {
            for column in columns {
                row_major.push(column[row]);
            }
        }
        let mut tuples = Vec::new();
        let mut counts: Vec<u32> = Vec::new();
        let mut row_tuple = Vec::with_capacity(n_rows);
        // Zero quasi-identifiers cannot happen (the caller rejects it), but chunks_exact needs a non-zero size.
        for tuple in row_major.chunks_exact(n_dimensions.max(1)) {
            let next = counts.len() as u32;
            let id = *index.entry(tuple).or_insert(next);
            if id == next {
                tuples.extend_from_slice(tuple);
                counts.push(0);
            }
            counts[id as usize] += 1;
            row_tuple.push(id);
        }
        let reps = (0..counts.len() as u32).collect();
        Table {
            hierarchies,
            n_rows,
            tuples,
            distinct: ClassList { counts, reps },
            row_tuple,
            scratch: RefCell::new(Vec::new()),
        }
    }

    pub(crate) fn n_dimensions(&self) -> usize {
        self.hierarchies.len()
    }

    #[cfg(test)]
    pub(crate) fn n_tuples(&self) -> usize {
        self.distinct.counts.len()
    }

    /// The leaf code of quasi-identifier `dimension` in distinct tuple `tuple`.
    pub(crate) fn leaf(&self, tuple: u32, dimension: usize) -> u32 {
        self.tuples[tuple as usize * self.n_dimensions() + dimension]
    }

    /// Groups the distinct tuples by their generalization at `levels`.
    pub(crate) fn groupify(&self, levels: &[usize]) -> Groups {
        self.group(&self.distinct, levels)
    }

    /// Groups `source`, the classes of a less general transformation, by their generalization at `levels`.
    /// This is how classes are *rolled up*: the work is proportional to the source's classes, not the rows.
    pub(crate) fn group(&self, source: &ClassList, levels: &[usize]) -> Groups {
        let maps: Vec<&[u32]> =
            self.hierarchies.iter().zip(levels).map(|(hierarchy, &level)| hierarchy.codes(level)).collect();
        let n_codes: Vec<usize> =
            self.hierarchies.iter().zip(levels).map(|(hierarchy, &level)| hierarchy.n_codes(level)).collect();

        let mut n_cells: usize = 1;
        for &count in &n_codes {
            n_cells = n_cells.saturating_mul(count);
        }
        if n_cells <= MAX_DENSE_CELLS {
            return self.group_dense(source, &maps, &n_codes, n_cells);
        }
        let n_bits: u32 = n_codes.iter().map(|&count| bits_for(count)).sum();
        if n_bits <= 64 {
            self.group_packed(source, &maps, &n_codes)
        } else {
            self.group_refined(source, &maps)
        }
    }

    fn group_dense(&self, source: &ClassList, maps: &[&[u32]], n_codes: &[usize], n_cells: usize) -> Groups {
        let n_dimensions = self.n_dimensions();
        let tuples: &[u32] = &self.tuples;
        let mut scratch = self.scratch.borrow_mut();
        // Invariant between calls: every cell of the scratch buffer is u32::MAX.
        if scratch.len() < n_cells {
            scratch.resize(n_cells, u32::MAX);
        }
        let cell_class: &mut [u32] = &mut scratch;
        let mut class_cells: Vec<usize> = Vec::new();
        let mut groups = Groups::with_capacity(source.counts.len());
        for (&rep, &count) in source.reps.iter().zip(&source.counts) {
            let base = rep as usize * n_dimensions;
            let mut cell = 0usize;
            for dimension in 0..n_dimensions {
                let map: &[u32] = maps[dimension];
                cell = cell * n_codes[dimension] + map[tuples[base + dimension] as usize] as usize;
            }
            let mut class = cell_class[cell];
            if class == u32::MAX {
                class = groups.new_class(rep);
                cell_class[cell] = class;
                class_cells.push(cell);
            }
            groups.add(class, count);
        }
        for cell in class_cells {
            cell_class[cell] = u32::MAX;
        }
        groups
    }

    fn group_packed(&self, source: &ClassList, maps: &[&[u32]], n_codes: &[usize]) -> Groups {
        let n_dimensions = self.n_dimensions();
        let tuples: &[u32] = &self.tuples;
        let shifts: Vec<u32> = n_codes.iter().map(|&count| bits_for(count)).collect();
        let mut key_class: HashMap<u64, u32, FastHash> = HashMap::default();
        key_class.reserve(source.counts.len());
        let mut groups = Groups::with_capacity(source.counts.len());
        for (&rep, &count) in source.reps.iter().zip(&source.counts) {
            let base = rep as usize * n_dimensions;
            let mut key = 0u64;
            for dimension in 0..n_dimensions {
                let map: &[u32] = maps[dimension];
                let code = u64::from(map[tuples[base + dimension] as usize]);
                let shift = shifts[dimension];
                // A shift of 64 (only when this dimension has all 64 bits) is done as two shifts.
                key = ((key << (shift / 2)) << (shift - shift / 2)) | code;
            }
            let next = groups.classes.counts.len() as u32;
            let class = *key_class.entry(key).or_insert(next);
            if class == next {
                groups.new_class(rep);
            }
            groups.add(class, count);
        }
        groups
    }

    /// The general case: class ids are refined one quasi-identifier at a time, pairing the class so far
    /// with the next code.
    fn group_refined(&self, source: &ClassList, maps: &[&[u32]]) -> Groups {
        let n_dimensions = self.n_dimensions();
        let mut ids: Vec<u32> = vec![0; source.counts.len()];
        for (dimension, map) in maps.iter().enumerate() {
            let mut pair_id: HashMap<u64, u32, FastHash> = HashMap::default();
            for (id, &rep) in ids.iter_mut().zip(&source.reps) {
                let code = map[self.tuples[rep as usize * n_dimensions + dimension] as usize];
                let key = (u64::from(*id) << 32) | u64::from(code);
                let next = pair_id.len() as u32;
                *id = *pair_id.entry(key).or_insert(next);
            }
        }
        let mut groups = Groups::with_capacity(source.counts.len());
        for ((&id, &rep), &count) in ids.iter().zip(&source.reps).zip(&source.counts) {
            if id as usize == groups.classes.counts.len() {
                groups.new_class(rep);
            }
            groups.add(id, count);
        }
        groups
    }
}

impl Groups {
    /// `source` grouped by itself: every entry its own class.
    pub(crate) fn identity(source: &ClassList) -> Groups {
        Groups { entry_class: (0..source.counts.len() as u32).collect(), classes: source.clone() }
    }

    fn with_capacity(n_entries: usize) -> Groups {
        Groups {
            entry_class: Vec::with_capacity(n_entries),
            classes: ClassList { counts: Vec::new(), reps: Vec::new() },
        }
    }

    fn new_class(&mut self, rep: u32) -> u32 {
        self.classes.counts.push(0);
        self.classes.reps.push(rep);
        (self.classes.counts.len() - 1) as u32
    }

    /// Adds the next entry of the source list to `class`.
    fn add(&mut self, class: u32, count: u32) {
        self.entry_class.push(class);
        self.classes.counts[class as usize] += count;
    }
}

/// Bits needed to store codes `0..count`.
fn bits_for(count: usize) -> u32 {
    usize::BITS - count.saturating_sub(1).leading_zeros()
}

type FastHash = BuildHasherDefault<KeyHasher>;

/// A multiply-rotate hasher for integer keys, with a final mix so that the low bits the table uses depend on
/// every input bit. Not DoS resistant, which does not matter here: the keys are our own codes.
#[derive(Default)]
struct KeyHasher(u64);

const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u32(&mut self, value: u32) {
        self.write_u64(u64::from(value));
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = (self.0.rotate_left(26) ^ value).wrapping_mul(MULTIPLIER);
    }

    fn write_usize(&mut self, value: usize) {
        self.write_u64(value as u64);
    }

    fn finish(&self) -> u64 {
        let mixed = self.0 ^ (self.0 >> 31);
        mixed.wrapping_mul(0xbf58_476d_1ce4_e5b9) ^ (mixed >> 29)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_cover_the_codes() {
        assert_eq!(bits_for(0), 0);
        assert_eq!(bits_for(1), 0);
        assert_eq!(bits_for(2), 1);
        assert_eq!(bits_for(3), 2);
        assert_eq!(bits_for(4), 2);
        assert_eq!(bits_for(5), 3);
    }

    #[test]
    fn all_strategies_and_rollup_find_the_same_classes() {
        let rows = |table: &[&[&str]]| -> Vec<Vec<String>> {
            table.iter().map(|row| row.iter().map(|cell| (*cell).to_owned()).collect()).collect()
        };
        let hierarchy =
            Hierarchy::from_rows(&rows(&[&["a", "x", "*"], &["b", "x", "*"], &["c", "y", "*"]])).unwrap();
        let first = [0u32, 1, 2, 0, 1, 2, 0];
        let second = [0u32, 0, 1, 1, 2, 2, 0];
        let table = Table::new(vec![&hierarchy, &hierarchy], &[&first, &second], first.len());
        assert_eq!(table.n_tuples(), 6);
        assert_eq!(table.row_tuple, [0, 1, 2, 3, 4, 5, 0]);
        let maps: Vec<&[u32]> = vec![hierarchy.codes(1), hierarchy.codes(0)];
        let n_codes = [2, 3];
        let dense = table.group_dense(&table.distinct, &maps, &n_codes, 6);
        let dense_again = table.group_dense(&table.distinct, &maps, &n_codes, 6);
        let packed = table.group_packed(&table.distinct, &maps, &n_codes);
        let refined = table.group_refined(&table.distinct, &maps);
        // By tuple: (x,a) (x,a) (y,b) (x,b) (x,c) (y,c); tuple 0 stands for two rows.
        for groups in [&dense, &dense_again, &packed, &refined] {
            assert_eq!(groups.entry_class, [0, 0, 1, 2, 3, 4]);
            assert_eq!(groups.classes.counts, [3, 1, 1, 1, 1]);
            assert_eq!(groups.classes.reps, [0, 2, 3, 4, 5]);
        }
        let rolled = table.group(&dense.classes, &[2, 1]);
        assert_eq!(rolled.classes.counts, [5, 2]);
        assert_eq!(rolled.classes.counts, table.groupify(&[2, 1]).classes.counts);
        assert_eq!(table.groupify(&[2, 2]).classes.counts, [7]);
    }
}
