//! Linking provider-local persons into clusters, one cluster per person: blocking, strong keys,
//! Fellegi–Sunter scoring, and union-find with a one-ID-per-provider guard.

use std::cmp::Ordering;
use std::collections::HashMap;

use chrono::Datelike;
use kiban_model::{IdentifiedPerson, NaiveDate, Sex};

use crate::normalize::{
    normalize_insurer_number, normalize_kana, normalize_kanji_name, normalize_phone, normalize_postal_code,
    normalize_symbol_number,
};
use crate::similarity::jaro_winkler_chars;
use crate::weights::*;

#[cfg(test)]
mod tests;

/// Thresholds and limits of one linkage run.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkageConfig {
    /// Pairs scoring at least this (log2 likelihood ratio) are linked.
    pub match_threshold: f64,
    /// Pairs scoring at least this but below `match_threshold` go to the review queue.
    pub review_threshold: f64,
    /// Within one block, each record is compared with at most this many neighbours (in the block's
    /// sort order). Blocks up to `max_block_window + 1` records are compared completely.
    pub max_block_window: usize,
}

impl Default for LinkageConfig {
    /// Match at 20 (about 4:1 odds for a 100,000-person population), review from 12, window 64.
    fn default() -> LinkageConfig {
        LinkageConfig { match_threshold: 20.0, review_threshold: 12.0, max_block_window: 64 }
    }
}

/// How one field of a pair compares. The level only, never the values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Agreement {
    /// Equal after normalization.
    Exact,
    /// Close: names with a high Jaro–Winkler similarity, a birth date with one component differing.
    Similar,
    /// Different (for insurance, also the same household key with a different branch number).
    Disagree,
    /// Absent on at least one side.
    Missing,
}

/// The agreement pattern of a pair, field by field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FieldAgreement {
    pub kana_family: Agreement,
    pub kana_given: Agreement,
    pub birth_date: Agreement,
    pub sex: Agreement,
    pub postal_code: Agreement,
    pub kanji_name: Agreement,
    pub phone: Agreement,
    pub insurance: Agreement,
}

/// Why a pair waits for a person to decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReviewReason {
    /// The score lies between the review and the match threshold.
    BelowMatchThreshold,
    /// The score reaches the match threshold but the birth dates disagree completely; linkage never
    /// links such a pair on its own.
    BirthDateDisagrees,
    /// The score reaches the match threshold but the given name is contradicted (kana disagreeing, or
    /// kana and kanji both only similar): the pattern of twins and other household members, which
    /// linkage never links on its own.
    GivenNameDiffers,
    /// The pair qualifies, but linking it would put two IDs of one provider into one cluster, and the
    /// conflicting link scored higher.
    ProviderConflict,
    /// Both records come from the same provider under different patient IDs (a possible duplicate
    /// registration, 重複登録): reported when the pair would otherwise link, never linked.
    SameProvider,
}

/// One pair in the review queue (名寄せ確認待ち). Indices refer to the input slice, `a < b`.
#[derive(Clone, Debug, PartialEq)]
pub struct ReviewPair {
    pub a: usize,
    pub b: usize,
    pub score: f64,
    pub agreement: FieldAgreement,
    pub reason: ReviewReason,
}

/// Counts describing one run.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct LinkageStats {
    pub n_records: usize,
    /// Distinct pairs produced by blocking and scored (pairs of the same provider ID excluded).
    pub n_candidate_pairs: usize,
    /// Records joined because they carry the same provider and patient ID.
    pub n_identity_links: usize,
    /// Cluster merges made by a strong key.
    pub n_strong_links: usize,
    /// Cluster merges made by score.
    pub n_probabilistic_links: usize,
    /// Qualifying links refused by the one-ID-per-provider guard.
    pub n_provider_conflicts: usize,
    /// Qualifying pairs refused because both records come from one provider.
    pub n_same_provider_pairs: usize,
}

/// The result of [`link`].
#[derive(Clone, Debug, PartialEq)]
pub struct Linkage {
    /// Per input index, its cluster number. Clusters are numbered `0..n_clusters` in order of first
    /// appearance in the input.
    pub cluster_of: Vec<u32>,
    pub n_clusters: usize,
    /// Pairs for a person to decide, highest score first. Pairs whose records ended in one cluster
    /// anyway are left out.
    pub review: Vec<ReviewPair>,
    pub stats: LinkageStats,
}

/// Links the records of one person across providers.
///
/// 1. Records with the same provider and patient ID are the same person.
/// 2. Blocking proposes candidate pairs: same birth date, same kana full name, same insurance key
///    (保険者番号・記号・番号), same phone number, same kanji full name. Within a block, records are sorted
///    (by name in a birth-date block, by birth date otherwise) and each is compared with its next
///    `cfg.max_block_window` neighbours, so no block is ever compared all-pairs beyond that size.
/// 3. Each candidate pair is scored (see the `weights` module for the m/u values) and checked against
///    the strong keys: (kana full name, birth date, sex) equal, or (insurance key with compatible branch,
///    birth date) equal with the given name not contradicted (twins share the insurance key).
/// 4. Links are applied strongest first: strong-key pairs, then by score. A cluster holds at most one
///    patient ID per provider: a link that would break this is refused and the pair is queued for review,
///    so the higher-scoring link wins and a chain of weak links cannot pull two of one provider's patients
///    together. Same-provider pairs with different IDs are never linked (a provider keeps one ID per
///    person; duplicates are its to merge) but are queued for review when they would otherwise link.
///
/// The output depends only on the multiset of records: ties are broken by provider and patient ID,
/// never by input position or hash order, so a permutation of the input yields the same partition.
pub fn link(persons: &[&IdentifiedPerson], cfg: &LinkageConfig) -> Linkage {
    let n = persons.len();
    let prepared = prepare(persons);
    let mut stats = LinkageStats { n_records: n, ..LinkageStats::default() };

    let mut clusters = Clusters::new(&prepared);
    // Step 1: same provider and ID.
    let mut by_identity: Vec<(u32, u32)> =
        prepared.iter().enumerate().map(|(idx, p)| (p.identity, idx as u32)).collect();
    by_identity.sort_unstable();
    for window in by_identity.windows(2) {
        if window[0].0 == window[1].0 && clusters.union_identity(window[0].1, window[1].1) {
            stats.n_identity_links += 1;
        }
    }

    // Steps 2 and 3.
    let pairs = candidate_pairs(&prepared, cfg.max_block_window);
    let mut edges = Vec::new();
    for pair in pairs {
        let (a, b) = ((pair >> 32) as usize, (pair & 0xFFFF_FFFF) as usize);
        if prepared[a].identity == prepared[b].identity {
            continue;
        }
        stats.n_candidate_pairs += 1;
        let comparison = compare(&prepared[a], &prepared[b]);
        if comparison.strong || comparison.score >= cfg.review_threshold {
            edges.push(Edge { a: a as u32, b: b as u32, comparison });
        }
    }
    edges.sort_unstable_by(|x, y| edge_order(x, y, &prepared));

    // Step 4.
    let mut review = Vec::new();
    for edge in &edges {
        let (a, b) = (edge.a as usize, edge.b as usize);
        let comparison = &edge.comparison;
        let qualifies = comparison.strong || comparison.score >= cfg.match_threshold;
        let reason = if prepared[a].provider == prepared[b].provider {
            if !qualifies {
                continue;
            }
            stats.n_same_provider_pairs += 1;
            ReviewReason::SameProvider
        } else if comparison.strong || (qualifies && comparison.veto.is_none()) {
            match clusters.union_guarded(edge.a, edge.b) {
                Union::Merged if comparison.strong => {
                    stats.n_strong_links += 1;
                    continue;
                }
                Union::Merged => {
                    stats.n_probabilistic_links += 1;
                    continue;
                }
                Union::AlreadyJoined => continue,
                Union::Conflict => {
                    stats.n_provider_conflicts += 1;
                    ReviewReason::ProviderConflict
                }
            }
        } else if let (true, Some(veto)) = (qualifies, comparison.veto) {
            veto
        } else {
            ReviewReason::BelowMatchThreshold
        };
        review.push(ReviewPair { a, b, score: comparison.score, agreement: comparison.agreement, reason });
    }
    review.retain(|pair| clusters.find(pair.a as u32) != clusters.find(pair.b as u32));
    review.sort_by(|x, y| y.score.total_cmp(&x.score).then(x.a.cmp(&y.a)).then(x.b.cmp(&y.b)));

    let mut number_of_root = vec![u32::MAX; n];
    let mut cluster_of = Vec::with_capacity(n);
    let mut n_clusters = 0u32;
    for idx in 0..n {
        let root = clusters.find(idx as u32) as usize;
        if number_of_root[root] == u32::MAX {
            number_of_root[root] = n_clusters;
            n_clusters += 1;
        }
        cluster_of.push(number_of_root[root]);
    }
    Linkage { cluster_of, n_clusters: n_clusters as usize, review, stats }
}

/// One record's normalized fields.
struct Prepared {
    /// Normalized kana family name; the whole name when the provider did not split it.
    family: Vec<char>,
    /// Normalized kana given name; empty when the provider did not split the name.
    given: Vec<char>,
    /// `family` followed by `given`.
    full: Vec<char>,
    /// The u-probability of exact agreement on this family name (value-specific).
    family_u: f64,
    given_u: f64,
    kanji: Vec<char>,
    birth: Option<NaiveDate>,
    /// `None` when unknown.
    sex: Option<Sex>,
    postal: Option<String>,
    phone: Option<String>,
    insurances: Vec<InsuranceKey>,
    /// Interned provider code, in sorted code order.
    provider: u32,
    /// Interned (provider, patient ID), in sorted order.
    identity: u32,
}

struct InsuranceKey {
    /// Insurer number, symbol and number, joined by U+001F.
    household: String,
    branch: Option<String>,
}

fn prepare(persons: &[&IdentifiedPerson]) -> Vec<Prepared> {
    let providers = intern(persons.iter().map(|p| (p.provider.as_str(), "")));
    let identities = intern(persons.iter().map(|p| (p.provider.as_str(), p.local_id.as_str())));
    let mut prepared: Vec<Prepared> = persons
        .iter()
        .enumerate()
        .map(|(idx, person)| {
            let (family, given) = kana_parts(person);
            let full: Vec<char> = family.iter().chain(&given).copied().collect();
            Prepared {
                family,
                given,
                full,
                family_u: FAMILY_EXACT_U_DEFAULT,
                given_u: GIVEN_EXACT_U_DEFAULT,
                kanji: person
                    .name_kanji
                    .as_ref()
                    .map(|name| normalize_kanji_name(&name.joined()).chars().collect())
                    .unwrap_or_default(),
                birth: person.birth_date,
                sex: (person.sex != Sex::Unknown).then_some(person.sex),
                postal: person.postal_code.as_deref().and_then(normalize_postal_code),
                phone: person.phone.as_deref().and_then(normalize_phone),
                insurances: person.insurances.iter().filter_map(insurance_key).collect(),
                provider: providers[idx],
                identity: identities[idx],
            }
        })
        .collect();

    // Value-specific u for exact name agreement: the frequency among split names, smoothed.
    let mut family_counts: HashMap<&[char], u32> = HashMap::new();
    let mut given_counts: HashMap<&[char], u32> = HashMap::new();
    let mut n_split = 0u32;
    for p in &prepared {
        if !p.given.is_empty() {
            n_split += 1;
            *family_counts.entry(&p.family).or_default() += 1;
            *given_counts.entry(&p.given).or_default() += 1;
        }
    }
    let smoothed = |count: u32, default: f64| {
        (f64::from(count) + NAME_FREQUENCY_PSEUDO_COUNT * default)
            / (f64::from(n_split) + NAME_FREQUENCY_PSEUDO_COUNT)
    };
    let frequencies: Vec<(f64, f64)> = prepared
        .iter()
        .map(|p| {
            if p.given.is_empty() {
                return (FAMILY_EXACT_U_DEFAULT, GIVEN_EXACT_U_DEFAULT);
            }
            let family = family_counts.get(p.family.as_slice()).copied().unwrap_or(0);
            let given = given_counts.get(p.given.as_slice()).copied().unwrap_or(0);
            (smoothed(family, FAMILY_EXACT_U_DEFAULT), smoothed(given, GIVEN_EXACT_U_DEFAULT))
        })
        .collect();
    for (p, (family_u, given_u)) in prepared.iter_mut().zip(frequencies) {
        p.family_u = family_u;
        p.given_u = given_u;
    }
    prepared
}

/// Maps each item to its rank among the distinct items, so ids depend on content, not input order.
fn intern<'a>(items: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<u32> {
    let mut keyed: Vec<((&str, &str), u32)> =
        items.enumerate().map(|(idx, item)| (item, idx as u32)).collect();
    keyed.sort_unstable();
    let mut ids = vec![0u32; keyed.len()];
    let mut next = 0u32;
    for (position, &(item, idx)) in keyed.iter().enumerate() {
        if position > 0 && keyed[position - 1].0 != item {
            next += 1;
        }
        ids[idx as usize] = next;
    }
    ids
}

/// Normalized kana family and given names. A name sent as one string with a space in it is split at
/// the first space; one sent without a space stays whole in `family`.
fn kana_parts(person: &IdentifiedPerson) -> (Vec<char>, Vec<char>) {
    let Some(name) = &person.name_kana else { return (Vec::new(), Vec::new()) };
    let (family, given) = if name.given.trim().is_empty() {
        let whole = name.family.trim_matches(|c: char| c.is_whitespace());
        match whole.split_once(|c: char| c.is_whitespace()) {
            Some((family, given)) => (normalize_kana(family), normalize_kana(given)),
            None => (normalize_kana(whole), String::new()),
        }
    } else if name.family.trim().is_empty() {
        (normalize_kana(&name.given), String::new())
    } else {
        (normalize_kana(&name.family), normalize_kana(&name.given))
    };
    let (family, given): (Vec<char>, Vec<char>) = (family.chars().collect(), given.chars().collect());
    if family.is_empty() { (given, Vec::new()) } else { (family, given) }
}

fn insurance_key(insurance: &kiban_model::Insurance) -> Option<InsuranceKey> {
    let insurer = normalize_insurer_number(&insurance.insurer_number)?;
    let number = normalize_symbol_number(insurance.number.as_deref()?);
    if number.is_empty() {
        return None;
    }
    let symbol = insurance.symbol.as_deref().map(normalize_symbol_number).unwrap_or_default();
    let branch = insurance.branch.as_deref().map(normalize_symbol_number).filter(|branch| !branch.is_empty());
    Some(InsuranceKey { household: format!("{insurer}\u{1F}{symbol}\u{1F}{number}"), branch })
}

/// Candidate pairs as `a << 32 | b` with `a < b`, sorted and distinct.
fn candidate_pairs(prepared: &[Prepared], window: usize) -> Vec<u64> {
    const BIRTH: u8 = 0;
    const KANA: u8 = 1;
    const INSURANCE: u8 = 2;
    const PHONE: u8 = 3;
    const KANJI: u8 = 4;
    // (block kind, block key, order within the block, identity, index)
    let mut keys: Vec<(u8, String, String, u32, u32)> = Vec::with_capacity(prepared.len() * 4);
    for (idx, p) in prepared.iter().enumerate() {
        let idx = idx as u32;
        let birth = p.birth.map(|date| date.format("%Y%m%d").to_string()).unwrap_or_default();
        let full: String = p.full.iter().collect();
        if !birth.is_empty() {
            keys.push((BIRTH, birth.clone(), full.clone(), p.identity, idx));
        }
        if !full.is_empty() {
            keys.push((KANA, full, birth.clone(), p.identity, idx));
        }
        for insurance in &p.insurances {
            keys.push((INSURANCE, insurance.household.clone(), birth.clone(), p.identity, idx));
        }
        if let Some(phone) = &p.phone {
            keys.push((PHONE, phone.clone(), birth.clone(), p.identity, idx));
        }
        if !p.kanji.is_empty() {
            keys.push((KANJI, p.kanji.iter().collect(), birth, p.identity, idx));
        }
    }
    keys.sort_unstable();
    let mut pairs = Vec::new();
    let mut start = 0;
    while start < keys.len() {
        let mut end = start + 1;
        while end < keys.len() && keys[end].0 == keys[start].0 && keys[end].1 == keys[start].1 {
            end += 1;
        }
        let block = &keys[start..end];
        for (position, first) in block.iter().enumerate() {
            for second in block.iter().skip(position + 1).take(window) {
                let (a, b) = (first.4.min(second.4), first.4.max(second.4));
                if a != b {
                    pairs.push(u64::from(a) << 32 | u64::from(b));
                }
            }
        }
        start = end;
    }
    pairs.sort_unstable();
    pairs.dedup();
    pairs
}

struct Comparison {
    score: f64,
    agreement: FieldAgreement,
    strong: bool,
    /// Why the pair may not link on score alone, whatever the score.
    veto: Option<ReviewReason>,
}

struct Edge {
    a: u32,
    b: u32,
    comparison: Comparison,
}

/// Strong links first, then higher scores; ties by the records' (provider, patient ID) ranks, which
/// do not depend on input order; input indices last, only between records of the same two IDs, which
/// identity linking has already joined.
fn edge_order(x: &Edge, y: &Edge, prepared: &[Prepared]) -> Ordering {
    let identities = |edge: &Edge| {
        let (a, b) = (prepared[edge.a as usize].identity, prepared[edge.b as usize].identity);
        (a.min(b), a.max(b))
    };
    y.comparison
        .strong
        .cmp(&x.comparison.strong)
        .then(y.comparison.score.total_cmp(&x.comparison.score))
        .then(identities(x).cmp(&identities(y)))
        .then((x.a, x.b).cmp(&(y.a, y.b)))
}

/// Scores one pair. The records are put in identity order first so that the result does not depend
/// on which of the two came first in the input.
fn compare<'a>(mut a: &'a Prepared, mut b: &'a Prepared) -> Comparison {
    if b.identity < a.identity {
        std::mem::swap(&mut a, &mut b);
    }
    let mut score = 0.0;
    let names = compare_names(a, b);
    score += names.weight;

    let birth_date = match (a.birth, b.birth) {
        (Some(x), Some(y)) if x == y => Agreement::Exact,
        (Some(x), Some(y)) if birth_dates_close(x, y) => Agreement::Similar,
        (Some(_), Some(_)) => Agreement::Disagree,
        _ => Agreement::Missing,
    };
    score += match birth_date {
        Agreement::Exact => BIRTH_EXACT.weight(),
        Agreement::Similar => BIRTH_ONE_COMPONENT.weight(),
        Agreement::Disagree => BIRTH_DISAGREE.weight(),
        Agreement::Missing => 0.0,
    };

    let sex = match (a.sex, b.sex) {
        (Some(x), Some(y)) if x == y => Agreement::Exact,
        (Some(_), Some(_)) => Agreement::Disagree,
        _ => Agreement::Missing,
    };
    score += match sex {
        Agreement::Exact => SEX_AGREE.weight(),
        Agreement::Disagree => SEX_DISAGREE.weight(),
        _ => 0.0,
    };

    let kanji_name = if a.kanji.is_empty() || b.kanji.is_empty() {
        Agreement::Missing
    } else if a.kanji == b.kanji {
        Agreement::Exact
    } else if jaro_winkler_chars(&a.kanji, &b.kanji) >= KANJI_SIMILAR_JARO_WINKLER {
        Agreement::Similar
    } else {
        Agreement::Disagree
    };
    // Kanji and kana spell the same name, so kanji weighs according to what kana already said.
    let (kanji_exact, kanji_similar, kanji_disagree) = match (names.family, names.given) {
        (Agreement::Missing, _) => (KANJI_ALONE_EXACT, KANJI_ALONE_SIMILAR, KANJI_ALONE_DISAGREE),
        (Agreement::Exact, Agreement::Exact) => {
            (KANJI_WITH_KANA_EXACT, KANJI_WITH_KANA_SIMILAR, KANJI_WITH_KANA_DISAGREE)
        }
        _ => (
            KANJI_AFTER_KANA_MISMATCH_EXACT,
            KANJI_AFTER_KANA_MISMATCH_SIMILAR,
            KANJI_AFTER_KANA_MISMATCH_DISAGREE,
        ),
    };
    score += match kanji_name {
        Agreement::Exact => kanji_exact.weight(),
        Agreement::Similar => kanji_similar.weight(),
        Agreement::Disagree => kanji_disagree.weight(),
        Agreement::Missing => 0.0,
    };

    let insurance = compare_insurances(&a.insurances, &b.insurances);
    // A contradicted given name, or a different branch number, says "another member of the household".
    // The given name is contradicted when the kana disagrees and the kanji does not confirm it, or when
    // neither script agrees exactly (a typing error rarely hits both scripts).
    let kanji_contradicts = matches!(kanji_name, Agreement::Similar | Agreement::Disagree);
    let given_contradicted = (names.given == Agreement::Disagree && kanji_name != Agreement::Exact)
        || (kanji_contradicts && names.given != Agreement::Exact);
    let other_household_member = given_contradicted || insurance == InsuranceMatch::BranchConflict;
    // Household fields count for a link only when nothing says "another member of the household".
    let household = |agreement: Agreement, agree: MU, disagree: MU| match agreement {
        Agreement::Exact if other_household_member => 0.0,
        Agreement::Exact => agree.weight(),
        Agreement::Disagree => disagree.weight(),
        _ => 0.0,
    };

    let postal_code = exact_or_missing(a.postal.as_deref(), b.postal.as_deref());
    score += household(postal_code, POSTAL_AGREE, POSTAL_DISAGREE);
    let phone = exact_or_missing(a.phone.as_deref(), b.phone.as_deref());
    score += household(phone, PHONE_AGREE, PHONE_DISAGREE);
    let insurance_agreement = match insurance {
        InsuranceMatch::Same => Agreement::Exact,
        InsuranceMatch::BranchConflict | InsuranceMatch::Different => Agreement::Disagree,
        InsuranceMatch::Missing => Agreement::Missing,
    };
    score += if insurance == InsuranceMatch::BranchConflict {
        INSURANCE_BRANCH_CONFLICT_WEIGHT
    } else {
        household(insurance_agreement, INSURANCE_AGREE, INSURANCE_DISAGREE)
    };

    let same_birth = birth_date == Agreement::Exact;
    let strong_name = same_birth && sex == Agreement::Exact && !a.full.is_empty() && a.full == b.full;
    let strong_insurance = same_birth && insurance == InsuranceMatch::Same && !given_contradicted;
    Comparison {
        score,
        agreement: FieldAgreement {
            kana_family: names.family,
            kana_given: names.given,
            birth_date,
            sex,
            postal_code,
            kanji_name,
            phone,
            insurance: insurance_agreement,
        },
        strong: strong_name || strong_insurance,
        veto: if birth_date == Agreement::Disagree {
            Some(ReviewReason::BirthDateDisagrees)
        } else if given_contradicted {
            Some(ReviewReason::GivenNameDiffers)
        } else {
            None
        },
    }
}

fn exact_or_missing(a: Option<&str>, b: Option<&str>) -> Agreement {
    match (a, b) {
        (Some(x), Some(y)) if x == y => Agreement::Exact,
        (Some(_), Some(_)) => Agreement::Disagree,
        _ => Agreement::Missing,
    }
}

/// Birth dates that differ in exactly one of year, month and day, or whose day and month are swapped.
fn birth_dates_close(x: NaiveDate, y: NaiveDate) -> bool {
    let (same_year, same_month, same_day) =
        (x.year() == y.year(), x.month() == y.month(), x.day() == y.day());
    let n_same = usize::from(same_year) + usize::from(same_month) + usize::from(same_day);
    n_same == 2 || (same_year && x.month() == y.day() && x.day() == y.month())
}

struct NameComparison {
    family: Agreement,
    given: Agreement,
    weight: f64,
}

fn name_level(x: &[char], y: &[char]) -> Agreement {
    if x == y {
        Agreement::Exact
    } else if jaro_winkler_chars(x, y) >= NAME_SIMILAR_JARO_WINKLER {
        Agreement::Similar
    } else {
        Agreement::Disagree
    }
}

fn family_weight(level: Agreement, u: f64) -> f64 {
    match level {
        Agreement::Exact => (FAMILY_EXACT_M / u).log2(),
        Agreement::Similar => FAMILY_SIMILAR.weight(),
        Agreement::Disagree => FAMILY_DISAGREE.weight(),
        Agreement::Missing => 0.0,
    }
}

fn given_weight(level: Agreement, u: f64) -> f64 {
    match level {
        Agreement::Exact => (GIVEN_EXACT_M / u).log2(),
        Agreement::Similar => GIVEN_SIMILAR.weight(),
        Agreement::Disagree => GIVEN_DISAGREE.weight(),
        Agreement::Missing => 0.0,
    }
}

/// Compares kana names part by part when both are split. When one is not, the unsplit one is split
/// like the other if it starts with the other's family name; otherwise the whole names are compared
/// and the level applies to both parts.
fn compare_names(a: &Prepared, b: &Prepared) -> NameComparison {
    if a.full.is_empty() || b.full.is_empty() {
        return NameComparison { family: Agreement::Missing, given: Agreement::Missing, weight: 0.0 };
    }
    let both_split = !a.given.is_empty() && !b.given.is_empty();
    if both_split {
        if a.full == b.full && a.family != b.family {
            // Split at different places: one name, equal.
            return whole_name(Agreement::Exact);
        }
        let family = name_level(&a.family, &b.family);
        let given = name_level(&a.given, &b.given);
        let weight = family_weight(family, a.family_u) + given_weight(given, a.given_u);
        return NameComparison { family, given, weight };
    }
    let (split, whole) = if a.given.is_empty() { (b, a) } else { (a, b) };
    if !split.given.is_empty() && whole.family.starts_with(&split.family) {
        let rest = &whole.family[split.family.len()..];
        let given = name_level(rest, &split.given);
        let weight = family_weight(Agreement::Exact, split.family_u) + given_weight(given, split.given_u);
        return NameComparison { family: Agreement::Exact, given, weight };
    }
    let level = name_level(&a.full, &b.full);
    if level != Agreement::Exact {
        // Whole names that share a beginning and then differ completely are one family name with two
        // given names (ヤマイタカシ, ヤマイヨシシ): the given names disagree, however similar the whole is.
        let n_common = a.full.iter().zip(&b.full).take_while(|(x, y)| x == y).count();
        let (rest_a, rest_b) = (&a.full[n_common..], &b.full[n_common..]);
        // Remainders of one character are a typing error in the last mora, not another given name.
        if n_common > 0
            && rest_a.len() > 1
            && rest_b.len() > 1
            && name_level(rest_a, rest_b) == Agreement::Disagree
        {
            let weight = family_weight(level, FAMILY_EXACT_U_DEFAULT)
                + given_weight(Agreement::Disagree, GIVEN_EXACT_U_DEFAULT);
            return NameComparison { family: level, given: Agreement::Disagree, weight };
        }
    }
    whole_name(level)
}

fn whole_name(level: Agreement) -> NameComparison {
    let weight = match level {
        Agreement::Exact => FULL_NAME_EXACT.weight(),
        other => family_weight(other, FAMILY_EXACT_U_DEFAULT) + given_weight(other, GIVEN_EXACT_U_DEFAULT),
    };
    NameComparison { family: level, given: level, weight }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum InsuranceMatch {
    /// Some entitlement agrees on insurer, symbol, number and (where both have it) branch.
    Same,
    /// Only entitlements with the same household key but different branches were found.
    BranchConflict,
    /// Both have entitlements and none is shared.
    Different,
    Missing,
}

fn compare_insurances(a: &[InsuranceKey], b: &[InsuranceKey]) -> InsuranceMatch {
    if a.is_empty() || b.is_empty() {
        return InsuranceMatch::Missing;
    }
    let mut result = InsuranceMatch::Different;
    for x in a {
        for y in b {
            if x.household != y.household {
                continue;
            }
            match (&x.branch, &y.branch) {
                (Some(p), Some(q)) if p != q => result = InsuranceMatch::BranchConflict,
                _ => return InsuranceMatch::Same,
            }
        }
    }
    result
}

enum Union {
    Merged,
    AlreadyJoined,
    Conflict,
}

/// Union-find over record indices; each root keeps its cluster's (provider, identity) list, sorted
/// and distinct. Invariant: within a cluster's list, a provider appears at most once.
struct Clusters {
    parent: Vec<u32>,
    members: Vec<Vec<(u32, u32)>>,
}

impl Clusters {
    fn new(prepared: &[Prepared]) -> Clusters {
        Clusters {
            parent: (0..prepared.len() as u32).collect(),
            members: prepared.iter().map(|p| vec![(p.provider, p.identity)]).collect(),
        }
    }

    fn find(&mut self, mut idx: u32) -> u32 {
        let mut root = idx;
        while self.parent[root as usize] != root {
            root = self.parent[root as usize];
        }
        while self.parent[idx as usize] != root {
            let next = self.parent[idx as usize];
            self.parent[idx as usize] = root;
            idx = next;
        }
        root
    }

    /// Joins two records of the same identity (never conflicts: it is one entry in both lists).
    fn union_identity(&mut self, a: u32, b: u32) -> bool {
        matches!(self.union_guarded(a, b), Union::Merged)
    }

    fn union_guarded(&mut self, a: u32, b: u32) -> Union {
        let (root_a, root_b) = (self.find(a), self.find(b));
        if root_a == root_b {
            return Union::AlreadyJoined;
        }
        let (x, y) = (&self.members[root_a as usize], &self.members[root_b as usize]);
        let Some(merged) = merge_members(x, y) else { return Union::Conflict };
        // Attach the smaller cluster under the larger to keep trees shallow.
        let (root, child) = if x.len() >= y.len() { (root_a, root_b) } else { (root_b, root_a) };
        self.parent[child as usize] = root;
        self.members[root as usize] = merged;
        self.members[child as usize] = Vec::new();
        Union::Merged
    }
}

/// Merges two sorted member lists, or `None` when a provider would appear with two identities.
fn merge_members(x: &[(u32, u32)], y: &[(u32, u32)]) -> Option<Vec<(u32, u32)>> {
    let mut merged = Vec::with_capacity(x.len() + y.len());
    let (mut i, mut j) = (0, 0);
    while i < x.len() && j < y.len() {
        match x[i].0.cmp(&y[j].0) {
            Ordering::Less => {
                merged.push(x[i]);
                i += 1;
            }
            Ordering::Greater => {
                merged.push(y[j]);
                j += 1;
            }
            Ordering::Equal if x[i].1 == y[j].1 => {
                merged.push(x[i]);
                i += 1;
                j += 1;
            }
            Ordering::Equal => return None,
        }
    }
    merged.extend_from_slice(&x[i..]);
    merged.extend_from_slice(&y[j..]);
    Some(merged)
}
