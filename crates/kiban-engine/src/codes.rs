//! Code hierarchies for set-valued clinical codes (diagnoses, drugs, procedures): how a code is released in
//! a coarser form when it is too rare to release as is (Rule 18 ④ and ⑤ of the Next Generation Medical
//! Infrastructure Act).
//!
//! A [`CodeHierarchy`] is a *parent function*: [`CodeHierarchy::parent`] gives the next-coarser released
//! form of a code, and `None` when the code is already at the top, where the only coarser step left is
//! suppression. Unlike the table hierarchies of [`crate::hierarchy`], the domain is open: any string is a
//! code, and codes of different lengths (a full ICD-10 code and a bare 3-character category) meet in the
//! same tree because the parent of the longer one *is* the shorter one.
//!
//! Three hierarchies are provided:
//!
//! | hierarchy | level 0 | level 1 | level 2 | level 3 |
//! | --- | --- | --- | --- | --- |
//! | [`Icd10Hierarchy`] | `E119` | `E11` (category) | `E10-E14` (block) | `E00-E90` (chapter) |
//! | [`YjHierarchy`] | `2171022F6276` | `2171022` (ingredient and route) | `2171` (therapeutic class) | `217` |
//! | [`PrefixHierarchy`] | the code | each configured prefix length, longest first | … | |

use std::fmt;

/// The longest chain of parents a hierarchy may have; a longer chain is treated as a broken hierarchy
/// (for example one whose parent function cycles), so that walking it always terminates.
pub const MAX_HIERARCHY_DEPTH: usize = 16;

/// A generalization hierarchy over codes, given as a parent function.
///
/// Implementations must be *finite*: repeatedly applying [`CodeHierarchy::parent`] reaches `None` within
/// [`MAX_HIERARCHY_DEPTH`] steps. Two codes that share a parent are siblings; releasing a parent releases
/// every observed code under it in that form (a cut through the tree), which is what keeps a global
/// recoding consistent.
pub trait CodeHierarchy: Sync {
    /// The next-coarser released form of `code`, or `None` when `code` is at the top (the next step is
    /// suppression). Codes the hierarchy does not recognize are at the top.
    fn parent(&self, code: &str) -> Option<String>;

    /// The level of a released code: 0 for the finest form, counting up towards the top.
    fn level(&self, code: &str) -> usize;

    /// A short human-readable name of a level, for reports.
    fn level_name(&self, level: usize) -> &'static str;
}

/// The code followed by each of its ancestors up to the top of the hierarchy (at most
/// [`MAX_HIERARCHY_DEPTH`] ancestors; a longer chain is cut there).
#[must_use]
pub fn generalization_path(hierarchy: &dyn CodeHierarchy, code: &str) -> Vec<String> {
    let mut path = vec![code.to_owned()];
    while path.len() <= MAX_HIERARCHY_DEPTH {
        let Some(parent) = path.last().and_then(|last| hierarchy.parent(last)) else { break };
        path.push(parent);
    }
    path
}

/// Why a hierarchy could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeHierarchyError {
    #[error("prefix lengths must be non-empty, at least 1 and strictly decreasing")]
    InvalidPrefixLengths,
    #[error("a prefix hierarchy has at most {max} levels above the code, got {found}")]
    TooManyPrefixLevels { max: usize, found: usize },
}

// ---------------------------------------------------------------------------------------------------------
// ICD-10
// ---------------------------------------------------------------------------------------------------------

/// One chapter of ICD-10 with its blocks, each written as its code range (`"E10-E14"`; a block of one
/// category is written `"C50-C50"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Icd10Chapter {
    /// The chapter's roman numeral, as in the WHO tabular list.
    pub numeral: &'static str,
    /// The chapter's code range, which is also its released label (`"E00-E90"`).
    pub range: &'static str,
    /// The WHO title of the chapter.
    pub title: &'static str,
    /// The finest blocks of the chapter, sorted and non-overlapping.
    pub blocks: &'static [&'static str],
}

/// The chapters of ICD-10 and their finest blocks, after the WHO 2019 edition, sorted by code range (so
/// chapter XXII, `U00-U85`, sits between XIX and XX).
///
/// Where WHO nests blocks (for example `M00-M25` Arthropathies around `M00-M03` … `M20-M25`), only the
/// finest blocks are listed, so a category has exactly one block. One deliberate difference from WHO
/// 2019: the arthropod-borne viral fevers are the 2013 block `A90-A99`, not 2019's `A92-A99`, because Japan
/// codes with ICD-10 (2013), which still has dengue as `A90`/`A91`.
pub const ICD10_CHAPTERS: &[Icd10Chapter] = &[
    Icd10Chapter {
        numeral: "I",
        range: "A00-B99",
        title: "Certain infectious and parasitic diseases",
        blocks: &[
            "A00-A09", "A15-A19", "A20-A28", "A30-A49", "A50-A64", "A65-A69", "A70-A74", "A75-A79",
            "A80-A89", "A90-A99", "B00-B09", "B15-B19", "B20-B24", "B25-B34", "B35-B49", "B50-B64",
            "B65-B83", "B85-B89", "B90-B94", "B95-B98", "B99-B99",
        ],
    },
    Icd10Chapter {
        numeral: "II",
        range: "C00-D48",
        title: "Neoplasms",
        blocks: &[
            "C00-C14", "C15-C26", "C30-C39", "C40-C41", "C43-C44", "C45-C49", "C50-C50", "C51-C58",
            "C60-C63", "C64-C68", "C69-C72", "C73-C75", "C76-C80", "C81-C96", "C97-C97", "D00-D09",
            "D10-D36", "D37-D48",
        ],
    },
    Icd10Chapter {
        numeral: "III",
        range: "D50-D89",
        title: "Diseases of the blood and blood-forming organs and certain disorders involving the immune \
                mechanism",
        blocks: &["D50-D53", "D55-D59", "D60-D64", "D65-D69", "D70-D77", "D80-D89"],
    },
    Icd10Chapter {
        numeral: "IV",
        range: "E00-E90",
        title: "Endocrine, nutritional and metabolic diseases",
        blocks: &["E00-E07", "E10-E14", "E15-E16", "E20-E35", "E40-E46", "E50-E64", "E65-E68", "E70-E90"],
    },
    Icd10Chapter {
        numeral: "V",
        range: "F00-F99",
        title: "Mental and behavioural disorders",
        blocks: &[
            "F00-F09", "F10-F19", "F20-F29", "F30-F39", "F40-F48", "F50-F59", "F60-F69", "F70-F79",
            "F80-F89", "F90-F98", "F99-F99",
        ],
    },
    Icd10Chapter {
        numeral: "VI",
        range: "G00-G99",
        title: "Diseases of the nervous system",
        blocks: &[
            "G00-G09", "G10-G14", "G20-G26", "G30-G32", "G35-G37", "G40-G47", "G50-G59", "G60-G64",
            "G70-G73", "G80-G83", "G90-G99",
        ],
    },
    Icd10Chapter {
        numeral: "VII",
        range: "H00-H59",
        title: "Diseases of the eye and adnexa",
        blocks: &[
            "H00-H06", "H10-H13", "H15-H22", "H25-H28", "H30-H36", "H40-H42", "H43-H45", "H46-H48",
            "H49-H52", "H53-H54", "H55-H59",
        ],
    },
    Icd10Chapter {
        numeral: "VIII",
        range: "H60-H95",
        title: "Diseases of the ear and mastoid process",
        blocks: &["H60-H62", "H65-H75", "H80-H83", "H90-H95"],
    },
    Icd10Chapter {
        numeral: "IX",
        range: "I00-I99",
        title: "Diseases of the circulatory system",
        blocks: &[
            "I00-I02", "I05-I09", "I10-I15", "I20-I25", "I26-I28", "I30-I52", "I60-I69", "I70-I79",
            "I80-I89", "I95-I99",
        ],
    },
    Icd10Chapter {
        numeral: "X",
        range: "J00-J99",
        title: "Diseases of the respiratory system",
        blocks: &[
            "J00-J06", "J09-J18", "J20-J22", "J30-J39", "J40-J47", "J60-J70", "J80-J84", "J85-J86",
            "J90-J94", "J95-J99",
        ],
    },
    Icd10Chapter {
        numeral: "XI",
        range: "K00-K93",
        title: "Diseases of the digestive system",
        blocks: &[
            "K00-K14", "K20-K31", "K35-K38", "K40-K46", "K50-K52", "K55-K64", "K65-K67", "K70-K77",
            "K80-K87", "K90-K93",
        ],
    },
    Icd10Chapter {
        numeral: "XII",
        range: "L00-L99",
        title: "Diseases of the skin and subcutaneous tissue",
        blocks: &["L00-L08", "L10-L14", "L20-L30", "L40-L45", "L50-L54", "L55-L59", "L60-L75", "L80-L99"],
    },
    Icd10Chapter {
        numeral: "XIII",
        range: "M00-M99",
        title: "Diseases of the musculoskeletal system and connective tissue",
        blocks: &[
            "M00-M03", "M05-M14", "M15-M19", "M20-M25", "M30-M36", "M40-M43", "M45-M49", "M50-M54",
            "M60-M63", "M65-M68", "M70-M79", "M80-M85", "M86-M90", "M91-M94", "M95-M99",
        ],
    },
    Icd10Chapter {
        numeral: "XIV",
        range: "N00-N99",
        title: "Diseases of the genitourinary system",
        blocks: &[
            "N00-N08", "N10-N16", "N17-N19", "N20-N23", "N25-N29", "N30-N39", "N40-N51", "N60-N64",
            "N70-N77", "N80-N98", "N99-N99",
        ],
    },
    Icd10Chapter {
        numeral: "XV",
        range: "O00-O99",
        title: "Pregnancy, childbirth and the puerperium",
        blocks: &["O00-O08", "O10-O16", "O20-O29", "O30-O48", "O60-O75", "O80-O84", "O85-O92", "O94-O99"],
    },
    Icd10Chapter {
        numeral: "XVI",
        range: "P00-P96",
        title: "Certain conditions originating in the perinatal period",
        blocks: &[
            "P00-P04", "P05-P08", "P10-P15", "P20-P29", "P35-P39", "P50-P61", "P70-P74", "P75-P78",
            "P80-P83", "P90-P96",
        ],
    },
    Icd10Chapter {
        numeral: "XVII",
        range: "Q00-Q99",
        title: "Congenital malformations, deformations and chromosomal abnormalities",
        blocks: &[
            "Q00-Q07", "Q10-Q18", "Q20-Q28", "Q30-Q34", "Q35-Q37", "Q38-Q45", "Q50-Q56", "Q60-Q64",
            "Q65-Q79", "Q80-Q89", "Q90-Q99",
        ],
    },
    Icd10Chapter {
        numeral: "XVIII",
        range: "R00-R99",
        title: "Symptoms, signs and abnormal clinical and laboratory findings, not elsewhere classified",
        blocks: &[
            "R00-R09", "R10-R19", "R20-R23", "R25-R29", "R30-R39", "R40-R46", "R47-R49", "R50-R69",
            "R70-R79", "R80-R82", "R83-R89", "R90-R94", "R95-R99",
        ],
    },
    Icd10Chapter {
        numeral: "XIX",
        range: "S00-T98",
        title: "Injury, poisoning and certain other consequences of external causes",
        blocks: &[
            "S00-S09", "S10-S19", "S20-S29", "S30-S39", "S40-S49", "S50-S59", "S60-S69", "S70-S79",
            "S80-S89", "S90-S99", "T00-T07", "T08-T14", "T15-T19", "T20-T25", "T26-T28", "T29-T32",
            "T33-T35", "T36-T50", "T51-T65", "T66-T78", "T79-T79", "T80-T88", "T90-T98",
        ],
    },
    Icd10Chapter {
        numeral: "XXII",
        range: "U00-U85",
        title: "Codes for special purposes",
        blocks: &["U00-U49", "U82-U85"],
    },
    Icd10Chapter {
        numeral: "XX",
        range: "V01-Y98",
        title: "External causes of morbidity and mortality",
        blocks: &[
            "V01-V09", "V10-V19", "V20-V29", "V30-V39", "V40-V49", "V50-V59", "V60-V69", "V70-V79",
            "V80-V89", "V90-V94", "V95-V97", "V98-V99", "W00-W19", "W20-W49", "W50-W64", "W65-W74",
            "W75-W84", "W85-W99", "X00-X09", "X10-X19", "X20-X29", "X30-X39", "X40-X49", "X50-X57",
            "X58-X59", "X60-X84", "X85-Y09", "Y10-Y34", "Y35-Y36", "Y40-Y59", "Y60-Y69", "Y70-Y82",
            "Y83-Y84", "Y85-Y89", "Y90-Y98",
        ],
    },
    Icd10Chapter {
        numeral: "XXI",
        range: "Z00-Z99",
        title: "Factors influencing health status and contact with health services",
        blocks: &["Z00-Z13", "Z20-Z29", "Z30-Z39", "Z40-Z54", "Z55-Z65", "Z70-Z76", "Z80-Z99"],
    },
];

/// ICD-10 diagnosis codes in the Japanese style, without a dot (`E119`, `M8199`).
///
/// | level | name | example |
/// | --- | --- | --- |
/// | 0 | code (4–5 characters) | `E119` |
/// | 1 | category (3 characters) | `E11` |
/// | 2 | block | `E10-E14` |
/// | 3 | chapter, written as its code range | `E00-E90` |
///
/// A 3-character input starts at the category level. A code is recognized when it is an uppercase ASCII
/// letter, two digits and optionally more ASCII letters or digits, and its category lies in a block of
/// [`ICD10_CHAPTERS`]; any other code (lowercase, dotted, or outside every block such as `U99`) has no
/// parent, so it is suppressed when rare. Callers normalize codes (uppercase, no dot) before.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Icd10Hierarchy;

impl Icd10Hierarchy {
    /// The chapter a code, category, block or chapter label belongs to, if any.
    #[must_use]
    pub fn chapter_of(code: &str) -> Option<&'static Icd10Chapter> {
        if let Some(chapter) = chapter_by_label(code) {
            return Some(chapter);
        }
        if let Some((chapter, _)) = block_by_label(code) {
            return Some(chapter);
        }
        category_of(code).and_then(block_of_category).map(|(chapter, _)| chapter)
    }
}

impl CodeHierarchy for Icd10Hierarchy {
    fn parent(&self, code: &str) -> Option<String> {
        if chapter_by_label(code).is_some() {
            return None;
        }
        if let Some((chapter, _)) = block_by_label(code) {
            return Some(chapter.range.to_owned());
        }
        let category = category_of(code)?;
        let (_, block) = block_of_category(category)?;
        if code.len() > category.len() { Some(category.to_owned()) } else { Some(block.to_owned()) }
    }

    fn level(&self, code: &str) -> usize {
        if chapter_by_label(code).is_some() {
            return 3;
        }
        if block_by_label(code).is_some() {
            return 2;
        }
        usize::from(code.len() == 3 && category_of(code).is_some())
    }

    fn level_name(&self, level: usize) -> &'static str {
        match level {
            0 => "ICD-10 code",
            1 => "ICD-10 category",
            2 => "ICD-10 block",
            3 => "ICD-10 chapter",
            _ => "beyond the ICD-10 hierarchy",
        }
    }
}

/// The 3-character category of an ICD-10-shaped code: an uppercase letter, two digits, then only ASCII
/// letters or digits.
fn category_of(code: &str) -> Option<&str> {
    let bytes = code.as_bytes();
    let shaped = bytes.len() >= 3
        && bytes[0].is_ascii_uppercase()
        && bytes[1].is_ascii_digit()
        && bytes[2].is_ascii_digit()
        && bytes[3..].iter().all(u8::is_ascii_alphanumeric);
    if shaped { code.get(..3) } else { None }
}

/// Whether a range label `"A00-B99"` contains a category. Categories and range ends are 3 ASCII
/// characters of the same shape, so string order is code order.
fn range_contains(range: &str, category: &str) -> bool {
    range.split_once('-').is_some_and(|(first, last)| first <= category && category <= last)
}

fn chapter_by_label(label: &str) -> Option<&'static Icd10Chapter> {
    ICD10_CHAPTERS.iter().find(|chapter| chapter.range == label)
}

fn block_by_label(label: &str) -> Option<(&'static Icd10Chapter, &'static str)> {
    ICD10_CHAPTERS.iter().find_map(|chapter| {
        chapter.blocks.iter().find(|block| **block == label).map(|block| (chapter, *block))
    })
}

fn block_of_category(category: &str) -> Option<(&'static Icd10Chapter, &'static str)> {
    let chapter = ICD10_CHAPTERS.iter().find(|chapter| range_contains(chapter.range, category))?;
    let block = chapter.blocks.iter().find(|block| range_contains(block, category))?;
    Some((chapter, block))
}

// ---------------------------------------------------------------------------------------------------------
// Prefix hierarchies: YJ, HOT, procedure codes
// ---------------------------------------------------------------------------------------------------------

/// The most prefix levels a [`PrefixHierarchy`] may have above the code itself.
pub const MAX_PREFIX_LEVELS: usize = 8;

/// Level names of a [`PrefixHierarchy`] built without names.
const GENERIC_PREFIX_NAMES: [&str; MAX_PREFIX_LEVELS + 1] = [
    "code",
    "prefix level 1",
    "prefix level 2",
    "prefix level 3",
    "prefix level 4",
    "prefix level 5",
    "prefix level 6",
    "prefix level 7",
    "prefix level 8",
];

/// A hierarchy that generalizes a code by keeping a prefix of it: each level keeps fewer leading
/// characters (counted in `char`s), and the shortest prefix is the top.
///
/// Level 0 is the code itself and level `i` (1-based) its prefix of `lengths[i - 1]` characters. A code
/// not longer than a level's length skips that level, so a code's parent is its prefix of the first
/// configured length shorter than it, and a code no longer than the last length is at the top. The level
/// of a code is the number of configured lengths at least as long as it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixHierarchy {
    // Invariant: non-empty, every length >= 1, strictly decreasing, at most MAX_PREFIX_LEVELS.
    lengths: Vec<usize>,
    // Invariant: names[0] names level 0; levels beyond it fall back to the generic names.
    names: &'static [&'static str],
}

impl PrefixHierarchy {
    /// A prefix hierarchy with the given prefix lengths, longest first, and generic level names.
    ///
    /// # Errors
    /// [`CodeHierarchyError::InvalidPrefixLengths`] when `lengths` is empty, contains 0 or is not strictly
    /// decreasing; [`CodeHierarchyError::TooManyPrefixLevels`] beyond [`MAX_PREFIX_LEVELS`].
    pub fn new(lengths: &[usize]) -> Result<PrefixHierarchy, CodeHierarchyError> {
        PrefixHierarchy::named(lengths, &GENERIC_PREFIX_NAMES)
    }

    /// As [`PrefixHierarchy::new`], with level names for reports: `names[0]` names the code itself and
    /// `names[i]` the prefix of `lengths[i - 1]`; missing names fall back to generic ones.
    ///
    /// # Errors
    /// As [`PrefixHierarchy::new`].
    pub fn named(
        lengths: &[usize],
        names: &'static [&'static str],
    ) -> Result<PrefixHierarchy, CodeHierarchyError> {
        if lengths.len() > MAX_PREFIX_LEVELS {
            return Err(CodeHierarchyError::TooManyPrefixLevels {
                max: MAX_PREFIX_LEVELS,
                found: lengths.len(),
            });
        }
        let decreasing = lengths.windows(2).all(|pair| pair[0] > pair[1]);
        if lengths.is_empty() || lengths.contains(&0) || !decreasing {
            return Err(CodeHierarchyError::InvalidPrefixLengths);
        }
        Ok(PrefixHierarchy { lengths: lengths.to_vec(), names })
    }

    /// HOT9 codes (9 digits: the 7-digit HOT7 product number and a 2-digit distributor): 9 → 7 → top.
    #[must_use]
    pub fn hot9() -> PrefixHierarchy {
        PrefixHierarchy { lengths: vec![7], names: &["HOT9 code", "HOT7 product"] }
    }

    /// The prefix lengths, longest first.
    #[must_use]
    pub fn lengths(&self) -> &[usize] {
        &self.lengths
    }
}

impl CodeHierarchy for PrefixHierarchy {
    fn parent(&self, code: &str) -> Option<String> {
        prefix_parent(&self.lengths, code)
    }

    fn level(&self, code: &str) -> usize {
        prefix_level(&self.lengths, code)
    }

    fn level_name(&self, level: usize) -> &'static str {
        self.names
            .get(level)
            .or_else(|| GENERIC_PREFIX_NAMES.get(level))
            .copied()
            .unwrap_or("beyond the prefix hierarchy")
    }
}

/// YJ codes (薬価基準収載医薬品コード, 12 characters) for prescriptions.
///
/// | level | length | meaning | example |
/// | --- | --- | --- | --- |
/// | 0 | 12 | the product | `2171022F6276` |
/// | 1 | 7 | ingredient and route (成分) | `2171022` |
/// | 2 | 4 | therapeutic class (薬効分類) | `2171` |
/// | 3 | 3 | coarser therapeutic class | `217` |
///
/// Codes of other lengths skip the levels they are not longer than, as in [`PrefixHierarchy`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct YjHierarchy;

/// The prefix lengths of [`YjHierarchy`].
const YJ_LENGTHS: [usize; 3] = [7, 4, 3];

impl CodeHierarchy for YjHierarchy {
    fn parent(&self, code: &str) -> Option<String> {
        prefix_parent(&YJ_LENGTHS, code)
    }

    fn level(&self, code: &str) -> usize {
        prefix_level(&YJ_LENGTHS, code)
    }

    fn level_name(&self, level: usize) -> &'static str {
        match level {
            0 => "YJ code",
            1 => "YJ ingredient and route (7)",
            2 => "YJ therapeutic class (4)",
            3 => "YJ therapeutic class (3)",
            _ => "beyond the YJ hierarchy",
        }
    }
}

/// The prefix of the first length shorter than the code, if any. `lengths` is strictly decreasing.
fn prefix_parent(lengths: &[usize], code: &str) -> Option<String> {
    let n_chars = code.chars().count();
    let length = lengths.iter().copied().find(|&length| length < n_chars)?;
    Some(code.chars().take(length).collect())
}

/// The number of lengths at least as long as the code.
fn prefix_level(lengths: &[usize], code: &str) -> usize {
    let n_chars = code.chars().count();
    lengths.iter().filter(|&&length| length >= n_chars).count()
}

impl fmt::Display for Icd10Chapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.numeral, self.range, self.title)
    }
}

#[cfg(test)]
mod tests;
