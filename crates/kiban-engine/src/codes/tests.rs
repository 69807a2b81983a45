//! Tests for the code hierarchies: the shape of the ICD-10 table and well-known lookups.

use super::*;

fn path(hierarchy: &dyn CodeHierarchy, code: &str) -> Vec<String> {
    generalization_path(hierarchy, code)
}

fn split(range: &str) -> (&str, &str) {
    range.split_once('-').expect("a range label has a dash")
}

fn is_category(text: &str) -> bool {
    text.len() == 3 && category_of(text) == Some(text)
}

#[test]
fn icd10_table_is_sorted_non_overlapping_and_nested() {
    let mut previous_chapter_end: Option<&str> = None;
    let mut previous_block_end: Option<&str> = None;
    let mut n_blocks = 0;
    for chapter in ICD10_CHAPTERS {
        let (first, last) = split(chapter.range);
        assert!(is_category(first) && is_category(last) && first <= last, "{chapter}");
        if let Some(end) = previous_chapter_end {
            assert!(end < first, "chapter {chapter} overlaps or is out of order");
        }
        previous_chapter_end = Some(last);
        assert!(!chapter.blocks.is_empty(), "{chapter}");
        for block in chapter.blocks {
            let (block_first, block_last) = split(block);
            assert!(is_category(block_first) && is_category(block_last), "{block}");
            assert!(block_first <= block_last, "{block}");
            if let Some(end) = previous_block_end {
                assert!(end < block_first, "block {block} overlaps or is out of order");
            }
            previous_block_end = Some(block_last);
            let containing: Vec<_> = ICD10_CHAPTERS
                .iter()
                .filter(|other| {
                    range_contains(other.range, block_first) && range_contains(other.range, block_last)
                })
                .collect();
            assert_eq!(containing, [chapter], "block {block} must lie in exactly its own chapter");
            n_blocks += 1;
        }
        // The chapter's range starts and ends with its blocks.
        assert_eq!(split(chapter.blocks[0]).0, first, "{chapter}");
        assert_eq!(split(chapter.blocks[chapter.blocks.len() - 1]).1, last, "{chapter}");
    }
    assert_eq!(ICD10_CHAPTERS.len(), 22);
    assert_eq!(n_blocks, 263);
    // Chapter labels and block labels never coincide, so a label's level is unambiguous.
    for chapter in ICD10_CHAPTERS {
        assert!(block_by_label(chapter.range).is_none(), "{chapter}");
    }
}

#[test]
fn icd10_well_known_paths() {
    let icd = Icd10Hierarchy;
    assert_eq!(path(&icd, "E119"), ["E119", "E11", "E10-E14", "E00-E90"]);
    assert_eq!(path(&icd, "I10"), ["I10", "I10-I15", "I00-I99"]);
    assert_eq!(path(&icd, "C509"), ["C509", "C50", "C50-C50", "C00-D48"]);
    assert_eq!(path(&icd, "F03"), ["F03", "F00-F09", "F00-F99"]);
    assert_eq!(path(&icd, "M8199"), ["M8199", "M81", "M80-M85", "M00-M99"]);
    assert_eq!(path(&icd, "G122"), ["G122", "G12", "G10-G14", "G00-G99"]);
    assert_eq!(path(&icd, "J069"), ["J069", "J06", "J00-J06", "J00-J99"]);
    assert_eq!(path(&icd, "E785"), ["E785", "E78", "E70-E90", "E00-E90"]);
    assert_eq!(path(&icd, "E752"), ["E752", "E75", "E70-E90", "E00-E90"]);
    assert_eq!(path(&icd, "U071"), ["U071", "U07", "U00-U49", "U00-U85"]);
    assert_eq!(path(&icd, "Z999"), ["Z999", "Z99", "Z80-Z99", "Z00-Z99"]);
    assert_eq!(path(&icd, "D509"), ["D509", "D50", "D50-D53", "D50-D89"]);
    assert_eq!(path(&icd, "D480"), ["D480", "D48", "D37-D48", "C00-D48"]);
    assert_eq!(path(&icd, "H609"), ["H609", "H60", "H60-H62", "H60-H95"]);
    assert_eq!(path(&icd, "T794"), ["T794", "T79", "T79-T79", "S00-T98"]);
    assert_eq!(path(&icd, "X599"), ["X599", "X59", "X58-X59", "V01-Y98"]);
    assert_eq!(path(&icd, "Y069"), ["Y069", "Y06", "X85-Y09", "V01-Y98"]);
    assert_eq!(path(&icd, "A90"), ["A90", "A90-A99", "A00-B99"]);
    assert_eq!(path(&icd, "A97"), ["A97", "A90-A99", "A00-B99"]);
}

#[test]
fn icd10_codes_outside_the_table_are_at_the_top() {
    let icd = Icd10Hierarchy;
    // Not ICD-10 shaped: lowercase, dotted, too short, digits first, other characters.
    for code in ["e119", "E11.9", "E1", "", "119E", "E11-9", "Ｅ119"] {
        assert_eq!(icd.parent(code), None, "{code:?}");
        assert_eq!(icd.level(code), 0, "{code:?}");
    }
    // Shaped, but the category lies outside every block (gaps between blocks and chapters).
    for code in ["U99", "U999", "E95", "E959", "A10", "K95", "B10", "C42", "P97", "V00", "Y99"] {
        assert_eq!(icd.parent(code), None, "{code:?}");
        assert_eq!(Icd10Hierarchy::chapter_of(code), None, "{code:?}");
    }
}

#[test]
fn icd10_levels_and_chapters() {
    let icd = Icd10Hierarchy;
    assert_eq!(icd.level("E119"), 0);
    assert_eq!(icd.level("M8199"), 0);
    assert_eq!(icd.level("E11"), 1);
    assert_eq!(icd.level("E10-E14"), 2);
    assert_eq!(icd.level("C50-C50"), 2);
    assert_eq!(icd.level("E00-E90"), 3);
    assert_eq!(icd.level("S00-T98"), 3);
    assert_eq!(icd.level_name(2), "ICD-10 block");
    assert_eq!(Icd10Hierarchy::chapter_of("E119").map(|chapter| chapter.numeral), Some("IV"));
    assert_eq!(Icd10Hierarchy::chapter_of("U07").map(|chapter| chapter.numeral), Some("XXII"));
    assert_eq!(Icd10Hierarchy::chapter_of("T79-T79").map(|chapter| chapter.numeral), Some("XIX"));
    assert_eq!(Icd10Hierarchy::chapter_of("V01-Y98").map(|chapter| chapter.numeral), Some("XX"));
}

#[test]
fn every_block_label_walks_to_its_chapter() {
    let icd = Icd10Hierarchy;
    for chapter in ICD10_CHAPTERS {
        for block in chapter.blocks {
            assert_eq!(icd.parent(block).as_deref(), Some(chapter.range), "{block}");
            let (first, last) = split(block);
            assert_eq!(icd.parent(first).as_deref(), Some(*block));
            assert_eq!(icd.parent(last).as_deref(), Some(*block));
        }
        assert_eq!(icd.parent(chapter.range), None);
    }
}

#[test]
fn yj_paths_and_levels() {
    let yj = YjHierarchy;
    assert_eq!(path(&yj, "2171022F6276"), ["2171022F6276", "2171022", "2171", "217"]);
    assert_eq!(yj.level("2171022F6276"), 0);
    assert_eq!(yj.level("2171022"), 1);
    assert_eq!(yj.level("2171"), 2);
    assert_eq!(yj.level("217"), 3);
    // Shorter codes skip the levels they do not reach.
    assert_eq!(path(&yj, "21710"), ["21710", "2171", "217"]);
    assert_eq!(path(&yj, "21"), ["21"]);
    assert_eq!(yj.level_name(1), "YJ ingredient and route (7)");
}

#[test]
fn prefix_hierarchies() {
    let hot = PrefixHierarchy::hot9();
    assert_eq!(path(&hot, "121431401"), ["121431401", "1214314"]);
    assert_eq!(hot.level("121431401"), 0);
    assert_eq!(hot.level("1214314"), 1);
    assert_eq!(hot.level_name(1), "HOT7 product");
    let procedures = PrefixHierarchy::new(&[5, 3, 1]).unwrap();
    assert_eq!(path(&procedures, "K5461"), ["K5461", "K54", "K"]);
    assert_eq!(path(&procedures, "150372910"), ["150372910", "15037", "150", "1"]);
    assert_eq!(procedures.level_name(2), "prefix level 2");
    // Characters, not bytes: a multi-byte code is cut on character boundaries.
    assert_eq!(path(&procedures, "処置コード甲乙"), ["処置コード甲乙", "処置コード", "処置コ", "処"]);
    assert_eq!(PrefixHierarchy::new(&[]), Err(CodeHierarchyError::InvalidPrefixLengths));
    assert_eq!(PrefixHierarchy::new(&[3, 3]), Err(CodeHierarchyError::InvalidPrefixLengths));
    assert_eq!(PrefixHierarchy::new(&[3, 0]), Err(CodeHierarchyError::InvalidPrefixLengths));
    assert_eq!(PrefixHierarchy::new(&[2, 5]), Err(CodeHierarchyError::InvalidPrefixLengths));
    assert_eq!(
        PrefixHierarchy::new(&[9, 8, 7, 6, 5, 4, 3, 2, 1]),
        Err(CodeHierarchyError::TooManyPrefixLevels { max: 8, found: 9 })
    );
}

#[test]
fn generalization_path_stops_on_cycles() {
    struct Cycle;
    impl CodeHierarchy for Cycle {
        fn parent(&self, code: &str) -> Option<String> {
            Some(if code == "a" { "b" } else { "a" }.to_owned())
        }
        fn level(&self, _code: &str) -> usize {
            0
        }
        fn level_name(&self, _level: usize) -> &'static str {
            "cycle"
        }
    }
    assert_eq!(generalization_path(&Cycle, "a").len(), MAX_HIERARCHY_DEPTH + 1);
}
