//! Property tests: the partition depends only on the records, not on their order, and runs repeat.

use kiban_linkage::{Linkage, LinkageConfig, link};
use kiban_model::IdentifiedPerson;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::generate::{Shape, generate};

/// Cluster numbers renumbered by first appearance in the original order.
fn canonical(cluster_of: &[u32]) -> Vec<u32> {
    let mut renumbered = std::collections::HashMap::new();
    cluster_of
        .iter()
        .map(|cluster| {
            let next = renumbered.len() as u32;
            *renumbered.entry(*cluster).or_insert(next)
        })
        .collect()
}

fn run(persons: &[IdentifiedPerson]) -> Linkage {
    let refs: Vec<&IdentifiedPerson> = persons.iter().collect();
    link(&refs, &LinkageConfig::default())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn partition_is_invariant_under_permutation(seed in any::<u64>(), n_people in 5usize..60, few_names in any::<bool>(), n_providers in 1usize..5) {
        let generated = generate(Shape { n_people, n_providers, few_names }, seed);
        let n = generated.persons.len();
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5EED);
        let mut order: Vec<usize> = (0..n).collect();
        for idx in (1..n).rev() {
            order.swap(idx, rng.gen_range(0..=idx));
        }
        let permuted: Vec<IdentifiedPerson> = order.iter().map(|&idx| generated.persons[idx].clone()).collect();

        let original = run(&generated.persons);
        let shuffled = run(&permuted);
        // Map the shuffled result back to original positions.
        let mut back = vec![0u32; n];
        for (position, &idx) in order.iter().enumerate() {
            back[idx] = shuffled.cluster_of[position];
        }
        prop_assert_eq!(canonical(&original.cluster_of), canonical(&back));
        prop_assert_eq!(original.n_clusters, shuffled.n_clusters);
        prop_assert_eq!(&original.stats, &shuffled.stats);

        let review_pairs = |linkage: &Linkage, map: &dyn Fn(usize) -> usize| {
            let mut pairs: Vec<(usize, usize, u64)> = linkage
                .review
                .iter()
                .map(|pair| {
                    let (a, b) = (map(pair.a), map(pair.b));
                    (a.min(b), a.max(b), pair.score.to_bits())
                })
                .collect();
            pairs.sort_unstable();
            pairs
        };
        prop_assert_eq!(review_pairs(&original, &|idx| idx), review_pairs(&shuffled, &|position| order[position]));

        prop_assert_eq!(run(&generated.persons), original, "the same input gives the same output");
    }
}
