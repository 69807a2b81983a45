//! Jaro–Winkler string similarity, on Unicode scalar values (one kana is one character).

/// The Jaro–Winkler similarity of two strings, in `0.0..=1.0` (1.0 for equal strings).
///
/// Jaro counts the characters that match within a window of half the longer length and the
/// transpositions among them; Winkler adds 0.1 per common leading character (at most 4) when the Jaro
/// similarity exceeds 0.7. Two empty strings are equal (1.0); an empty and a non-empty string share
/// nothing (0.0).
pub fn jaro_winkler(a: &str, b: &str) -> f64 {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    jaro_winkler_chars(&a, &b)
}

/// [`jaro_winkler`] on pre-split characters, so linkage splits each name once.
pub(crate) fn jaro_winkler_chars(a: &[char], b: &[char]) -> f64 {
    let jaro = jaro_chars(a, b);
    if jaro <= 0.7 {
        return jaro;
    }
    let prefix = a.iter().zip(b).take(4).take_while(|(x, y)| x == y).count();
    jaro + 0.1 * prefix as f64 * (1.0 - jaro)
}

fn jaro_chars(a: &[char], b: &[char]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    if a == b {
        return 1.0;
    }
    let window = (a.len().max(b.len()) / 2).saturating_sub(1);
    // Names are short: a fixed-size flag array avoids allocating for the common case.
    let mut b_matched_small = [false; 32];
    let mut b_matched_large = Vec::new();
    let b_matched: &mut [bool] = if b.len() <= 32 {
        &mut b_matched_small[..b.len()]
    } else {
        b_matched_large.resize(b.len(), false);
        &mut b_matched_large
    };
    let mut a_matches = Vec::with_capacity(a.len().min(b.len()));
    for (i, &ca) in a.iter().enumerate() {
        let start = i.saturating_sub(window);
        let end = (i + window + 1).min(b.len());
        for j in start..end {
            if !b_matched[j] && b[j] == ca {
                b_matched[j] = true;
                a_matches.push(ca);
                break;
            }
        }
    }
    let n_matches = a_matches.len();
    if n_matches == 0 {
        return 0.0;
    }
    let b_matches = b.iter().zip(b_matched.iter()).filter(|(_, matched)| **matched).map(|(c, _)| c);
    let n_half_transpositions = a_matches.iter().zip(b_matches).filter(|(x, y)| x != y).count();
    let m = n_matches as f64;
    let t = (n_half_transpositions / 2) as f64;
    (m / a.len() as f64 + m / b.len() as f64 + (m - t) / m) / 3.0
}

#[cfg(test)]
mod tests {
    use super::jaro_winkler;

    #[track_caller]
    fn check(a: &str, b: &str, expect: f64) {
        let got = jaro_winkler(a, b);
        assert!((got - expect).abs() < 0.0005, "jaro_winkler({a}, {b}) = {got}, expected {expect}");
        let swapped = jaro_winkler(b, a);
        assert!((got - swapped).abs() < 1e-12, "jaro_winkler is not symmetric on ({a}, {b})");
    }

    #[test]
    fn known_values() {
        check("MARTHA", "MARHTA", 0.961);
        check("DWAYNE", "DUANE", 0.840);
        check("DIXON", "DICKSONX", 0.813);
        check("JELLYFISH", "SMELLYFISH", 0.896);
        check("", "", 1.0);
        check("A", "", 0.0);
        check("ABC", "ABC", 1.0);
        check("ABC", "XYZ", 0.0);
    }

    #[test]
    fn kana_values() {
        // One mora substituted in a three-mora name.
        check("タナカ", "タナハ", 0.822);
        check("ヤマモト", "ヤマモテ", 0.883);
        check("サトウ", "サイトウ", 0.925);
        check("カトウ", "サトウ", 0.778);
    }
}
