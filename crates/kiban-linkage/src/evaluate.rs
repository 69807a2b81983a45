//! Pairwise precision and recall of a clustering against ground truth.

/// Pairwise linkage quality: a pair of records is "found" when both are in one cluster, "true" when both
/// belong to one true person.
#[derive(Clone, Debug, PartialEq)]
pub struct PairwiseQuality {
    pub true_pairs: u64,
    pub found_pairs: u64,
    pub correct_pairs: u64,
    /// `correct / found`; 1.0 when nothing was linked.
    pub precision: f64,
    /// `correct / true`; 1.0 when there is nothing to link.
    pub recall: f64,
    /// The harmonic mean of precision and recall; 0.0 when both are 0.
    pub f1: f64,
}

/// Compares a clustering (`cluster_of[i]` is record i's cluster) with the true person of each record.
///
/// Pairs are counted from group sizes (a group of n records holds n·(n-1)/2 pairs): found pairs from
/// the clusters, true pairs from the truth groups, correct pairs from the groups of records sharing both
/// cluster and truth. This is O(n log n) and never enumerates pairs.
///
/// Both slices hold one entry per record and must have the same length; if they do not (a caller bug),
/// only the records both cover, a common prefix, are evaluated (and debug builds assert).
pub fn evaluate(cluster_of: &[u32], truth: &[u64]) -> PairwiseQuality {
    debug_assert_eq!(cluster_of.len(), truth.len(), "one cluster and one true person per record");
    let n = cluster_of.len().min(truth.len());
    let (cluster_of, truth) = (&cluster_of[..n], &truth[..n]);
    let mut clusters = cluster_of.to_vec();
    let mut people = truth.to_vec();
    let mut both: Vec<(u32, u64)> = cluster_of.iter().copied().zip(truth.iter().copied()).collect();
    let found_pairs = pairs_within_groups(&mut clusters);
    let true_pairs = pairs_within_groups(&mut people);
    let correct_pairs = pairs_within_groups(&mut both);
    let ratio = |numerator: u64, denominator: u64| {
        if denominator == 0 { 1.0 } else { numerator as f64 / denominator as f64 }
    };
    let precision = ratio(correct_pairs, found_pairs);
    let recall = ratio(correct_pairs, true_pairs);
    let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
    PairwiseQuality { true_pairs, found_pairs, correct_pairs, precision, recall, f1 }
}

fn pairs_within_groups<T: Ord>(labels: &mut [T]) -> u64 {
    labels.sort_unstable();
    labels
        .chunk_by(|x, y| x == y)
        .map(|group| {
            let size = group.len() as u64;
            size * (size - 1) / 2
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_clustering() {
        let quality = evaluate(&[0, 0, 1, 2, 2, 2], &[7, 7, 8, 9, 9, 9]);
        assert_eq!((quality.true_pairs, quality.found_pairs, quality.correct_pairs), (4, 4, 4));
        assert_eq!((quality.precision, quality.recall, quality.f1), (1.0, 1.0, 1.0));
    }

    #[test]
    fn over_and_under_linking() {
        // Truth: {0,1,2} {3} {4,5}. Found: {0,1} {2,3} {4,5}.
        let quality = evaluate(&[0, 0, 1, 1, 2, 2], &[1, 1, 1, 2, 3, 3]);
        assert_eq!(quality.true_pairs, 3 + 1);
        assert_eq!(quality.found_pairs, 3);
        assert_eq!(quality.correct_pairs, 2);
        assert!((quality.precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((quality.recall - 0.5).abs() < 1e-12);
        assert!((quality.f1 - 2.0 * (2.0 / 3.0) * 0.5 / (2.0 / 3.0 + 0.5)).abs() < 1e-12);
    }

    #[test]
    fn everything_in_one_cluster() {
        let quality = evaluate(&[5, 5, 5, 5], &[1, 1, 2, 2]);
        assert_eq!((quality.true_pairs, quality.found_pairs, quality.correct_pairs), (2, 6, 2));
        assert!((quality.precision - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(quality.recall, 1.0);
    }

    #[test]
    fn nothing_linked_and_nothing_to_link() {
        let quality = evaluate(&[0, 1, 2], &[0, 1, 2]);
        assert_eq!((quality.precision, quality.recall, quality.f1), (1.0, 1.0, 1.0));
        let quality = evaluate(&[0, 1], &[4, 4]);
        assert_eq!((quality.precision, quality.recall, quality.f1), (1.0, 0.0, 0.0));
        let quality = evaluate(&[], &[]);
        assert_eq!(quality.true_pairs, 0);
    }

    #[test]
    fn cluster_numbers_need_not_match_truth_labels() {
        let quality = evaluate(&[3, 3, 1], &[100, 100, 0]);
        assert_eq!(quality.f1, 1.0);
    }
}
