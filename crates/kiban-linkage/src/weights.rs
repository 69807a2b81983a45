//! The Fellegi–Sunter m- and u-probabilities that linkage scores with, and why each was chosen.
//!
//! For each field, m is the probability of an agreement level when both records are the same person
//! and u the probability when they are two different people. A pair's score is the sum over fields of
//! log2(m/u) for the level observed, a log2 likelihood ratio: +1 doubles the odds of a match. A field
//! missing on either side adds 0.
//!
//! The prior odds that two random records of a 100,000-person population are the same person are about
//! 2^-18 (30,000 true pairs among 8·10^9), so a score of 18 is even odds; the default match threshold of
//! 20 asks for about 4:1, and the review threshold of 12 sends pairs from about 1:64 upward to a person.
//!
//! The values are estimates from the structure of Japanese names and registers, not fitted to data:
//! - Kana family names: the most common (サトウ) covers about 1.5 % of people, and the sum of squared
//!   frequencies is about 0.5 %, hence the default u for exact agreement. The u actually used is
//!   value-specific: the value's frequency among the records being linked, smoothed toward the default
//!   with `NAME_FREQUENCY_PSEUDO_COUNT` pseudo-records, so サトウ weighs less than a rare name.
//!   m allows for typing errors and married names (3 % disagree).
//! - Kana given names are more varied (default u 0.3 %). Disagreement is rarer for the same person
//!   than for family names (no change at marriage).
//! - "Similar" means Jaro–Winkler at least `NAME_SIMILAR_JARO_WINKLER` on the normalized kana. Short kana
//!   names make similarity coarse (サトウ/サイトウ scores 0.93, タナカ/タナハ 0.82), so u for the similar
//!   level is high and the weight small: similarity rescues a typo only with other fields agreeing.
//! - Birth date: about 1/(365·90) for random pairs. "One component differs" (year, month or day alone,
//!   or day and month swapped) covers typing errors and era-conversion mistakes; random pairs land there
//!   about 0.4 % of the time.
//! - Sex: 2 % recording disagreement for the same person, random pairs agree half the time.
//! - Postal code: people move, and providers record at different times (m 0.6); there are about 120,000
//!   codes with skewed populations (u 0.05 %).
//! - Phone: often missing or a relative's (m 0.4 given both present), nearly unique per household.
//! - Insurance (保険者番号+記号+番号): people change insurers (m 0.4), and the key is shared only within
//!   one household. A differing branch number (枝番) on the same key means a different member of the
//!   household, which the independence model would still count as positive evidence; it is overridden by
//!   a fixed strong penalty instead.
//! - Kanji name: kanji and kana spell the same name, so the kanji weights are conditional on the kana
//!   result. When the kana names agree exactly, kanji agreement is nearly implied (`KANJI_WITH_KANA_*`,
//!   small weights; a kanji disagreement then hints at a homophone, 佐藤/佐東). When the kana names
//!   differ somewhere, an identical kanji name says the kana difference is a typing error: two
//!   different people whose kana names nearly match rarely share the kanji too
//!   (`KANJI_AFTER_KANA_MISMATCH_*`). When kana is missing on either side, kanji carries the name on its
//!   own (`KANJI_ALONE_*`). A kanji name one character off is usually a different given name (洋奈/洋美)
//!   or a homophone picked from the input method (浩幸/弘幸), so similar kanji weighs little alone and
//!   counts against a match when the kana names differ too.
//!
//! Household fields (postal code, phone, insurance) are shared by family members, who also share the
//! family name and often the birth date (twins). Independence fails exactly there, so when the given
//! name is contradicted (kana disagreeing, or kana not equal while the kanji names differ too), or the
//! insurance branch conflicts, household agreement adds nothing; disagreement still subtracts.

/// An (m, u) pair for one agreement level.
#[derive(Clone, Copy)]
pub(crate) struct MU {
    pub(crate) m: f64,
    pub(crate) u: f64,
}

impl MU {
    pub(crate) fn weight(self) -> f64 {
        (self.m / self.u).log2()
    }
}

const fn mu(m: f64, u: f64) -> MU {
    MU { m, u }
}

pub(crate) const NAME_SIMILAR_JARO_WINKLER: f64 = 0.8;
pub(crate) const KANJI_SIMILAR_JARO_WINKLER: f64 = 0.85;
pub(crate) const NAME_FREQUENCY_PSEUDO_COUNT: f64 = 1000.0;

pub(crate) const FAMILY_EXACT_M: f64 = 0.92;
pub(crate) const FAMILY_EXACT_U_DEFAULT: f64 = 0.005;
pub(crate) const FAMILY_SIMILAR: MU = mu(0.05, 0.02);
pub(crate) const FAMILY_DISAGREE: MU = mu(0.03, 0.975);

pub(crate) const GIVEN_EXACT_M: f64 = 0.93;
pub(crate) const GIVEN_EXACT_U_DEFAULT: f64 = 0.003;
pub(crate) const GIVEN_SIMILAR: MU = mu(0.05, 0.01);
pub(crate) const GIVEN_DISAGREE: MU = mu(0.02, 0.987);

/// Used when a name is not split into family and given on at least one side and the whole names are
/// compared: roughly the product of the family and given probabilities.
pub(crate) const FULL_NAME_EXACT: MU = mu(0.9, 1.5e-5);

pub(crate) const BIRTH_EXACT: MU = mu(0.95, 3.0e-5);
pub(crate) const BIRTH_ONE_COMPONENT: MU = mu(0.035, 0.004);
pub(crate) const BIRTH_DISAGREE: MU = mu(0.015, 0.996);

pub(crate) const SEX_AGREE: MU = mu(0.98, 0.5);
pub(crate) const SEX_DISAGREE: MU = mu(0.02, 0.5);

pub(crate) const POSTAL_AGREE: MU = mu(0.6, 5.0e-4);
pub(crate) const POSTAL_DISAGREE: MU = mu(0.4, 0.9995);

pub(crate) const PHONE_AGREE: MU = mu(0.4, 1.0e-4);
pub(crate) const PHONE_DISAGREE: MU = mu(0.6, 0.9999);

pub(crate) const INSURANCE_AGREE: MU = mu(0.4, 1.0e-5);
pub(crate) const INSURANCE_DISAGREE: MU = mu(0.6, 0.99999);
/// Same insurer, symbol and number but a different branch: a different member of one household.
pub(crate) const INSURANCE_BRANCH_CONFLICT_WEIGHT: f64 = -10.0;

pub(crate) const KANJI_WITH_KANA_EXACT: MU = mu(0.85, 0.4);
pub(crate) const KANJI_WITH_KANA_SIMILAR: MU = mu(0.1, 0.2);
pub(crate) const KANJI_WITH_KANA_DISAGREE: MU = mu(0.05, 0.4);
pub(crate) const KANJI_ALONE_EXACT: MU = mu(0.85, 1.0e-5);
pub(crate) const KANJI_ALONE_SIMILAR: MU = mu(0.1, 1.0e-2);
pub(crate) const KANJI_ALONE_DISAGREE: MU = mu(0.05, 0.999);
pub(crate) const KANJI_AFTER_KANA_MISMATCH_EXACT: MU = mu(0.85, 1.0e-3);
pub(crate) const KANJI_AFTER_KANA_MISMATCH_SIMILAR: MU = mu(0.02, 0.2);
pub(crate) const KANJI_AFTER_KANA_MISMATCH_DISAGREE: MU = mu(0.1, 0.989);
