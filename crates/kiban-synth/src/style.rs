//! Per-provider habits (how a provider's system writes names, kana, dates, codes), derived from the
//! provider code alone so that the generator and the writers agree without shared state.

use kiban_model::DrugCodeSystem;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::OutputFormat;

/// How the kanji and kana names are split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NameSplit {
    /// Family and given name in separate fields.
    Split,
    /// The whole name in the family field, with this separator (empty, half- or full-width space).
    Whole(&'static str),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KanaScript {
    Katakana,
    HalfWidth,
    Hiragana,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AddressStyle {
    /// 本町3丁目5番12号
    Kanji,
    /// 本町3-5-12
    Hyphen,
    /// 本町３－５－１２
    FullWidth,
}

/// How a CSV provider writes dates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DateStyle {
    Iso,
    Compact,
    Slash,
    /// S23.04.05
    EraDot,
    /// H1.1.8
    EraDotShort,
    /// 昭和23年4月5日
    EraKanji,
    /// R2/4/1
    EraSlash,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SexStyle {
    Hl7,
    Kanji,
    Digit,
}

/// All habits of one provider.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ProviderStyle {
    pub(crate) name_split: NameSplit,
    pub(crate) kana: KanaScript,
    pub(crate) no_small_kana: bool,
    pub(crate) long_vowel_mark: bool,
    pub(crate) postal_hyphen: bool,
    pub(crate) address: AddressStyle,
    pub(crate) records_branch: bool,
    pub(crate) prefers_landline: bool,
    pub(crate) drug_codes: DrugCodeSystem,
    /// Local patient IDs: digits, zero padded or not.
    pub(crate) id_digits: u32,
    pub(crate) id_zero_padded: bool,
    /// CSV only.
    pub(crate) birth_date: DateStyle,
    pub(crate) event_date: DateStyle,
    pub(crate) sex: SexStyle,
    /// CSV only: separator written between family and given name when the record has both.
    pub(crate) csv_name_separator: &'static str,
}

fn fnv1a(text: &str) -> u64 {
    text.bytes()
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

impl ProviderStyle {
    pub(crate) fn new(code: &str, format: OutputFormat) -> ProviderStyle {
        let mut rng = ChaCha8Rng::seed_from_u64(fnv1a(code));
        let csv = format == OutputFormat::Csv;
        let name_split = match (csv, rng.gen_range(0..6)) {
            // A CSV reader splits on a space, so a CSV provider either splits or writes no space at all.
            (true, 0 | 1) => NameSplit::Whole(""),
            (true, _) => NameSplit::Split,
            (false, 0) => NameSplit::Whole(""),
            (false, 1) => NameSplit::Whole(" "),
            (false, 2) => NameSplit::Whole("　"),
            (false, _) => NameSplit::Split,
        };
        let kana = match rng.gen_range(0..5) {
            // ISO-2022-JP has no half-width kana, so SS-MIX2 providers never use them.
            0 | 1 if format != OutputFormat::Ssmix2 => KanaScript::HalfWidth,
            2 => KanaScript::Hiragana,
            _ => KanaScript::Katakana,
        };
        let birth_date = match rng.gen_range(0..8) {
            0 => DateStyle::EraDot,
            1 => DateStyle::EraKanji,
            2 => DateStyle::EraDotShort,
            3 => DateStyle::EraSlash,
            4 => DateStyle::Compact,
            5 => DateStyle::Slash,
            _ => DateStyle::Iso,
        };
        let event_date = [DateStyle::Iso, DateStyle::Compact, DateStyle::Slash][rng.gen_range(0..3)];
        ProviderStyle {
            name_split,
            kana,
            no_small_kana: rng.gen_bool(0.2),
            long_vowel_mark: rng.gen_bool(0.25),
            postal_hyphen: rng.gen_bool(0.7),
            address: [AddressStyle::Kanji, AddressStyle::Hyphen, AddressStyle::FullWidth]
                [rng.gen_range(0..3)],
            records_branch: rng.gen_bool(0.75),
            prefers_landline: rng.gen_bool(0.5),
            drug_codes: if rng.gen_bool(0.65) { DrugCodeSystem::Hot } else { DrugCodeSystem::Yj },
            id_digits: rng.gen_range(7..=10),
            id_zero_padded: rng.gen_bool(0.5),
            birth_date,
            event_date,
            sex: [SexStyle::Hl7, SexStyle::Kanji, SexStyle::Digit][rng.gen_range(0..3)],
            csv_name_separator: if rng.gen_bool(0.6) { " " } else { "　" },
        }
    }
}
