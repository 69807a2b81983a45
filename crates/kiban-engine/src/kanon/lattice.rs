//! The generalization lattice: one node per combination of levels (one level per quasi-identifier), ordered
//! componentwise. Node `a` is a predecessor of `b` when `b` raises exactly one level of `a` by one.

/// The lattice of full-domain generalizations for quasi-identifiers with the given top levels.
///
/// Nodes are numbered in mixed radix with the first quasi-identifier most significant, so ascending node
/// index is lexicographic order of the level vectors.
#[derive(Debug, Clone)]
pub(crate) struct Lattice {
    top_levels: Vec<usize>,
    // Invariant: `strides[i]` is the product of `top_levels[j] + 1` for all `j > i`.
    strides: Vec<usize>,
    n_nodes: usize,
}

impl Lattice {
    /// Returns `None` when the lattice would have more than `max_nodes` nodes.
    pub(crate) fn new(top_levels: &[usize], max_nodes: usize) -> Option<Lattice> {
        let mut strides = vec![0; top_levels.len()];
        let mut n_nodes: usize = 1;
        for (idx, &top) in top_levels.iter().enumerate().rev() {
            strides[idx] = n_nodes;
            n_nodes = n_nodes.checked_mul(top.checked_add(1)?)?;
            if n_nodes > max_nodes {
                return None;
            }
        }
        Some(Lattice { top_levels: top_levels.to_vec(), strides, n_nodes })
    }

    pub(crate) fn n_nodes(&self) -> usize {
        self.n_nodes
    }

    pub(crate) fn top_levels(&self) -> &[usize] {
        &self.top_levels
    }

    #[cfg(test)]
    pub(crate) fn index(&self, levels: &[usize]) -> usize {
        levels.iter().zip(&self.strides).map(|(level, stride)| level * stride).sum()
    }

    pub(crate) fn levels(&self, node: usize) -> Vec<usize> {
        self.top_levels.iter().zip(&self.strides).map(|(top, stride)| node / stride % (top + 1)).collect()
    }

    /// The level of quasi-identifier `dimension` in `node`.
    pub(crate) fn level(&self, node: usize, dimension: usize) -> usize {
        node / self.strides[dimension] % (self.top_levels[dimension] + 1)
    }

    /// The sum of levels (the node's height in the lattice).
    pub(crate) fn height(&self, node: usize) -> usize {
        (0..self.top_levels.len()).map(|dimension| self.level(node, dimension)).sum()
    }

    /// The node one level higher in `dimension`, if that dimension is not at its top.
    pub(crate) fn successor(&self, node: usize, dimension: usize) -> Option<usize> {
        (self.level(node, dimension) < self.top_levels[dimension]).then(|| node + self.strides[dimension])
    }

    /// The node one level lower in `dimension`, if that dimension is not at 0.
    pub(crate) fn predecessor(&self, node: usize, dimension: usize) -> Option<usize> {
        (self.level(node, dimension) > 0).then(|| node - self.strides[dimension])
    }

    pub(crate) fn n_dimensions(&self) -> usize {
        self.top_levels.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_round_trip_in_lexicographic_order() {
        let lattice = Lattice::new(&[1, 2, 0], 100).unwrap();
        assert_eq!(lattice.n_nodes(), 6);
        let all: Vec<Vec<usize>> = (0..lattice.n_nodes()).map(|node| lattice.levels(node)).collect();
        assert_eq!(all, [[0, 0, 0], [0, 1, 0], [0, 2, 0], [1, 0, 0], [1, 1, 0], [1, 2, 0]]);
        for (node, levels) in all.iter().enumerate() {
            assert_eq!(lattice.index(levels), node);
        }
        assert_eq!(lattice.height(5), 3);
        assert_eq!(lattice.successor(1, 1), Some(2));
        assert_eq!(lattice.successor(2, 1), None);
        assert_eq!(lattice.successor(2, 2), None);
        assert_eq!(lattice.predecessor(4, 0), Some(1));
        assert_eq!(lattice.predecessor(1, 0), None);
        assert!(Lattice::new(&[9, 9, 9], 999).is_none());
    }
}
