//! Kana variants that real systems produce for the same reading: hiragana, half-width katakana, no small
//! kana (ッ → ツ), long-vowel marks (サトウ → サトー), and the occasional typo.

/// Katakana → hiragana; `ー` and anything outside the katakana block are kept.
pub(crate) fn to_hiragana(katakana: &str) -> String {
    katakana
        .chars()
        .map(|c| match c {
            'ァ'..='ヶ' => char::from_u32(u32::from(c) - 0x60).unwrap_or(c),
            other => other,
        })
        .collect()
}

const HALF_WIDTH: &[(char, &str)] = &[
    ('ア', "ｱ"),
    ('イ', "ｲ"),
    ('ウ', "ｳ"),
    ('エ', "ｴ"),
    ('オ', "ｵ"),
    ('カ', "ｶ"),
    ('キ', "ｷ"),
    ('ク', "ｸ"),
    ('ケ', "ｹ"),
    ('コ', "ｺ"),
    ('サ', "ｻ"),
    ('シ', "ｼ"),
    ('ス', "ｽ"),
    ('セ', "ｾ"),
    ('ソ', "ｿ"),
    ('タ', "ﾀ"),
    ('チ', "ﾁ"),
    ('ツ', "ﾂ"),
    ('テ', "ﾃ"),
    ('ト', "ﾄ"),
    ('ナ', "ﾅ"),
    ('ニ', "ﾆ"),
    ('ヌ', "ﾇ"),
    ('ネ', "ﾈ"),
    ('ノ', "ﾉ"),
    ('ハ', "ﾊ"),
    ('ヒ', "ﾋ"),
    ('フ', "ﾌ"),
    ('ヘ', "ﾍ"),
    ('ホ', "ﾎ"),
    ('マ', "ﾏ"),
    ('ミ', "ﾐ"),
    ('ム', "ﾑ"),
    ('メ', "ﾒ"),
    ('モ', "ﾓ"),
    ('ヤ', "ﾔ"),
    ('ユ', "ﾕ"),
    ('ヨ', "ﾖ"),
    ('ラ', "ﾗ"),
    ('リ', "ﾘ"),
    ('ル', "ﾙ"),
    ('レ', "ﾚ"),
    ('ロ', "ﾛ"),
    ('ワ', "ﾜ"),
    ('ヲ', "ｦ"),
    ('ン', "ﾝ"),
    ('ァ', "ｧ"),
    ('ィ', "ｨ"),
    ('ゥ', "ｩ"),
    ('ェ', "ｪ"),
    ('ォ', "ｫ"),
    ('ッ', "ｯ"),
    ('ャ', "ｬ"),
    ('ュ', "ｭ"),
    ('ョ', "ｮ"),
    ('ー', "ｰ"),
    ('ガ', "ｶﾞ"),
    ('ギ', "ｷﾞ"),
    ('グ', "ｸﾞ"),
    ('ゲ', "ｹﾞ"),
    ('ゴ', "ｺﾞ"),
    ('ザ', "ｻﾞ"),
    ('ジ', "ｼﾞ"),
    ('ズ', "ｽﾞ"),
    ('ゼ', "ｾﾞ"),
    ('ゾ', "ｿﾞ"),
    ('ダ', "ﾀﾞ"),
    ('ヂ', "ﾁﾞ"),
    ('ヅ', "ﾂﾞ"),
    ('デ', "ﾃﾞ"),
    ('ド', "ﾄﾞ"),
    ('バ', "ﾊﾞ"),
    ('ビ', "ﾋﾞ"),
    ('ブ', "ﾌﾞ"),
    ('ベ', "ﾍﾞ"),
    ('ボ', "ﾎﾞ"),
    ('パ', "ﾊﾟ"),
    ('ピ', "ﾋﾟ"),
    ('プ', "ﾌﾟ"),
    ('ペ', "ﾍﾟ"),
    ('ポ', "ﾎﾟ"),
    ('ヴ', "ｳﾞ"),
    ('　', " "),
];

/// Full-width katakana → half-width katakana (voiced marks become separate characters).
pub(crate) fn to_half_width(katakana: &str) -> String {
    let mut out = String::with_capacity(katakana.len());
    for c in katakana.chars() {
        match HALF_WIDTH.iter().find(|(full, _)| *full == c) {
            Some((_, half)) => out.push_str(half),
            None => out.push(c),
        }
    }
    out
}

/// Small kana written large, as systems without small kana do (ハットリ → ハツトリ).
pub(crate) fn without_small_kana(katakana: &str) -> String {
    katakana
        .chars()
        .map(|c| match c {
            'ァ' => 'ア',
            'ィ' => 'イ',
            'ゥ' => 'ウ',
            'ェ' => 'エ',
            'ォ' => 'オ',
            'ッ' => 'ツ',
            'ャ' => 'ヤ',
            'ュ' => 'ユ',
            'ョ' => 'ヨ',
            other => other,
        })
        .collect()
}

fn is_o_row(c: char) -> bool {
    "オコソトノホモヨロヲゴゾドボポョ".contains(c)
}

/// Long vowels written with `ー` (サトウ → サトー, オオノ → オーノ, ユウコ → ユーコ).
pub(crate) fn with_long_vowel_mark(katakana: &str) -> String {
    let chars: Vec<char> = katakana.chars().collect();
    let mut out = String::with_capacity(katakana.len());
    for (idx, &c) in chars.iter().enumerate() {
        let previous = idx.checked_sub(1).map(|p| chars[p]);
        // イノウエ is イノ・ウエ, not a long vowel: a vowel after ウ starts a new mora.
        let next_is_vowel = chars.get(idx + 1).is_some_and(|next| "アイウエオ".contains(*next));
        let long = match (previous, c) {
            (Some(p), 'ウ') if !next_is_vowel => is_o_row(p) || "ユュクスツフムルグズブプ".contains(p),
            (Some('オ'), 'オ') => true,
            _ => false,
        };
        out.push(if long { 'ー' } else { c });
    }
    out
}

const TYPO_KANA: &[char] = &[
    'ア', 'イ', 'ウ', 'エ', 'オ', 'カ', 'キ', 'ク', 'コ', 'サ', 'シ', 'ス', 'タ', 'チ', 'ト', 'ナ', 'ニ',
    'ハ', 'ヒ', 'マ', 'ミ', 'ヤ', 'ユ', 'ヨ', 'ラ', 'リ', 'ル', 'ロ', 'ワ', 'ン',
];

/// One mora changed or dropped at `position` (taken modulo the length); `pick` chooses the replacement.
pub(crate) fn with_typo(katakana: &str, position: usize, drop: bool, pick: usize) -> String {
    let chars: Vec<char> = katakana.chars().collect();
    if chars.len() < 2 {
        return katakana.to_owned();
    }
    let position = position % chars.len();
    let mut out: Vec<char> = chars.clone();
    if drop && chars.len() > 2 {
        out.remove(position);
    } else {
        let mut replacement = TYPO_KANA[pick % TYPO_KANA.len()];
        if replacement == chars[position] {
            replacement = TYPO_KANA[(pick + 1) % TYPO_KANA.len()];
        }
        out[position] = replacement;
    }
    out.into_iter().collect()
}

/// Whether every character is kana (full- or half-width katakana, hiragana, `ー`) or a space.
pub fn is_kana_text(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| matches!(c, 'ぁ'..='ゖ' | 'ァ'..='ヺ' | 'ー' | '｡'..='ﾟ' | ' ' | '　' | '゛' | '゜'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants() {
        assert_eq!(to_hiragana("サトウ ハナコ"), "さとう はなこ");
        assert_eq!(to_half_width("ヤマダ　ハナコ"), "ﾔﾏﾀﾞ ﾊﾅｺ");
        assert_eq!(without_small_kana("ハットリ キョウコ"), "ハツトリ キヨウコ");
        assert_eq!(with_long_vowel_mark("サトウ"), "サトー");
        assert_eq!(with_long_vowel_mark("オオノ ユウコ"), "オーノ ユーコ");
        assert_eq!(with_long_vowel_mark("イノウエ"), "イノウエ");
        assert_eq!(with_typo("タナカ", 1, true, 0), "タカ");
        assert_eq!(with_typo("タナカ", 1, false, 0), "タアカ");
        assert!(
            is_kana_text("ﾔﾏﾀﾞ ﾊﾅｺ") && is_kana_text("さとう") && !is_kana_text("佐藤") && !is_kana_text("")
        );
    }
}
