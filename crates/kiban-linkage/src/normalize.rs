//! Normalization of the values linkage compares: kana and kanji names, insurer numbers, insurance
//! symbols and numbers, postal codes and phone numbers.
//!
//! Each function maps the many spellings providers use for one value to one canonical string, so that
//! equal values compare equal. The tables are written out here (no Unicode crate): they cover the
//! characters Japanese hospital systems actually emit, and every choice is listed in the function docs.

#[cfg(test)]
mod tests;

/// Full-width forms of the half-width katakana block U+FF61..=U+FF9D, in code point order.
/// U+FF9E and U+FF9F (the half-width voiced and semi-voiced marks) are handled separately.
const HALF_WIDTH_KATAKANA: [char; 61] = [
    '。', '「', '」', '、', '・', 'ヲ', 'ァ', 'ィ', 'ゥ', 'ェ', 'ォ', 'ャ', 'ュ', 'ョ', 'ッ', 'ー', 'ア',
    'イ', 'ウ', 'エ', 'オ', 'カ', 'キ', 'ク', 'ケ', 'コ', 'サ', 'シ', 'ス', 'セ', 'ソ', 'タ', 'チ', 'ツ',
    'テ', 'ト', 'ナ', 'ニ', 'ヌ', 'ネ', 'ノ', 'ハ', 'ヒ', 'フ', 'ヘ', 'ホ', 'マ', 'ミ', 'ム', 'メ', 'モ',
    'ヤ', 'ユ', 'ヨ', 'ラ', 'リ', 'ル', 'レ', 'ロ', 'ワ', 'ン',
];

/// Old or variant kanji (異体字・旧字体) folded to the form in common use. Only pairs that are the same
/// character in different glyph standards are listed; distinct characters that people confuse (斎/斉,
/// 富/冨, 島/嶋) are kept apart, because they are different names in the family register.
const KANJI_VARIANTS: [(char, char); 19] = [
    ('髙', '高'),
    ('﨑', '崎'),
    ('嵜', '崎'),
    ('邊', '辺'),
    ('邉', '辺'),
    ('齋', '斎'),
    ('齊', '斉'),
    ('濵', '浜'),
    ('濱', '浜'),
    ('澤', '沢'),
    ('櫻', '桜'),
    ('廣', '広'),
    ('國', '国'),
    ('眞', '真'),
    ('惠', '恵'),
    ('德', '徳'),
    ('瀨', '瀬'),
    ('𠮷', '吉'),
    ('\u{FA10}', '塚'),
];

/// Folds kana spellings of a name to one katakana key.
///
/// Rules, applied in this order:
/// - half-width katakana become full-width, and a following voiced or semi-voiced mark (half-width
///   ﾞﾟ, combining U+3099/U+309A or spacing ゛゜) is combined into the preceding kana (ｶﾞ → ガ, ｳﾞ → ヴ);
/// - full-width ASCII becomes ASCII, and Latin letters are upper-cased;
/// - hiragana becomes katakana;
/// - spaces (ASCII, ideographic U+3000, no-break) and separators (middle dots ・･·, `=`) are removed;
/// - small kana become large (ァ→ア, ッ→ツ, ャ→ヤ, ュ→ユ, ョ→ヨ, ヮ→ワ, ヵ→カ, ヶ→ケ);
/// - ヂ→ジ and ヅ→ズ (the same sounds, spelled either way), ヰ→イ, ヱ→エ, ヲ→オ; ヴ is kept;
/// - the iteration marks ヽヾ (and ゝゞ) repeat the preceding kana (ヾ voiced);
/// - a long-vowel mark (ー, ｰ, ―, ‐, -, ～, 〜, −) is spelled out as the vowel that lengthens the
///   preceding kana the way names are usually written: a-row → ア, i-row → イ, u-row → ウ, e-row → イ,
///   o-row → ウ (ユーコ → ユウコ, ケーコ → ケイコ, イトー → イトウ); after anything else it is dropped.
pub fn normalize_kana(input: &str) -> String {
    let mut chars = Vec::with_capacity(input.len() / 2);
    fold_width(input, true, &mut chars);
    let mut out = String::with_capacity(input.len());
    let mut last: Option<char> = None;
    for c in chars {
        let folded = match c {
            c if is_space_or_separator(c) => None,
            'ァ' => Some('ア'),
            'ィ' => Some('イ'),
            'ゥ' => Some('ウ'),
            'ェ' => Some('エ'),
            'ォ' => Some('オ'),
            'ッ' => Some('ツ'),
            'ャ' => Some('ヤ'),
            'ュ' => Some('ユ'),
            'ョ' => Some('ヨ'),
            'ヮ' => Some('ワ'),
            'ヵ' => Some('カ'),
            'ヶ' => Some('ケ'),
            'ヂ' => Some('ジ'),
            'ヅ' => Some('ズ'),
            'ヰ' => Some('イ'),
            'ヱ' => Some('エ'),
            'ヲ' => Some('オ'),
            'ヽ' => last,
            'ヾ' => last.map(|previous| voiced(previous).unwrap_or(previous)),
            c if is_long_vowel_mark(c) => last.and_then(long_vowel_of),
            c if c.is_ascii_lowercase() => Some(c.to_ascii_uppercase()),
            c => Some(c),
        };
        if let Some(c) = folded {
            // The folds above can produce ヂ or ヅ again (ヾ after チ): fold them once more.
            let c = match c {
                'ヂ' => 'ジ',
                'ヅ' => 'ズ',
                c => c,
            };
            out.push(c);
            last = Some(c);
        }
    }
    out
}

/// Folds a kanji name to one key: full-width ASCII → ASCII (Latin letters upper-cased), half-width
/// katakana → full-width, spaces of both widths and middle dots removed, and the variant kanji listed
/// in `KANJI_VARIANTS` (髙→高, 﨑/嵜→崎, 邊/邉→辺, 齋→斎, 齊→斉, 濵/濱→浜, 澤→沢, 櫻→桜, 廣→広,
/// 國→国, 眞→真, 惠→恵, 德→徳, 瀨→瀬, 𠮷→吉, and the compatibility form of 塚) folded to their common form. Hiragana is kept:
/// a name written in hiragana in the kanji field is a different spelling, not a width variant.
pub fn normalize_kanji_name(input: &str) -> String {
    let mut chars = Vec::with_capacity(input.len() / 2);
    fold_width(input, false, &mut chars);
    chars
        .into_iter()
        .filter(|&c| !is_space_or_separator(c))
        .map(|c| {
            let c = c.to_ascii_uppercase();
            KANJI_VARIANTS.iter().find(|(variant, _)| *variant == c).map_or(c, |&(_, common)| common)
        })
        .collect()
}

/// Canonical 8-digit insurer number (保険者番号).
///
/// Insurer numbers have 8 digits (法別番号 2 + 都道府県 2 + 保険者 3 + check digit), except national health
/// insurance (国民健康保険), which has 6. Some systems pad the 6-digit form to 8 with `00` in front, and
/// spreadsheets drop leading zeros, so the canonical form is the number left-padded with zeros to 8
/// digits: `138057`, `00138057` and `１３８０５７` all become `00138057`. No real 8-digit number starts
/// with `00` (法別番号 00 does not exist), so the padding is unambiguous. Full-width digits are folded;
/// spaces and hyphens are ignored. Returns `None` when anything else remains or when there are fewer
/// than 5 or more than 8 digits (5 and 7 digits are a 6- or 8-digit number that lost its leading zero).
/// The check digit is not verified here: a number with a wrong check digit still identifies the same
/// entitlement in both records, and `kiban_model::insurer_number_is_valid` is there for callers who care.
pub fn normalize_insurer_number(input: &str) -> Option<String> {
    let mut digits = String::with_capacity(8);
    for c in input.chars() {
        let c = fold_full_width_ascii(c);
        if c.is_ascii_digit() {
            digits.push(c);
        } else if !(is_space_or_separator(c) || is_dash(c)) {
            return None;
        }
    }
    if !(5..=8).contains(&digits.len()) {
        return None;
    }
    Some(format!("{digits:0>8}"))
}

/// Canonical insurance symbol (記号), number (番号) or branch (枝番): widths folded (full-width ASCII →
/// ASCII, half-width katakana → full-width), Latin letters upper-cased, and spaces, hyphens and middle
/// dots removed. A value made only of digits loses its leading zeros (`0012` and `12` are the same
/// number; some systems pad, others do not); an all-zero value becomes `0`. Kanji and kana in symbols
/// (e.g. `東京あ`) are kept as they are. The result may be empty.
pub fn normalize_symbol_number(input: &str) -> String {
    let mut chars = Vec::with_capacity(input.len());
    fold_width(input, false, &mut chars);
    let kept: String = chars
        .into_iter()
        .filter(|&c| !(is_space_or_separator(c) || is_dash(c)))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if !kept.is_empty() && kept.bytes().all(|b| b.is_ascii_digit()) {
        let trimmed = kept.trim_start_matches('0');
        return if trimmed.is_empty() { "0".to_owned() } else { trimmed.to_owned() };
    }
    kept
}

/// Canonical 7-digit postal code (郵便番号): digits of any width, with `〒`, spaces and hyphens ignored.
/// Returns `None` unless exactly 7 digits remain and nothing else.
pub fn normalize_postal_code(input: &str) -> Option<String> {
    let mut digits = String::with_capacity(7);
    for c in input.chars() {
        let c = fold_full_width_ascii(c);
        if c.is_ascii_digit() {
            digits.push(c);
        } else if !(c == '〒' || is_space_or_separator(c) || is_dash(c)) {
            return None;
        }
    }
    (digits.len() == 7).then_some(digits)
}

/// Canonical domestic phone number: the digits only (any width; spaces, hyphens and brackets ignored),
/// with the country code `+81`/`81` replaced by the trunk prefix `0`. Returns `None` unless 10 digits
/// (land line) or 11 digits (mobile, IP phone) remain.
pub fn normalize_phone(input: &str) -> Option<String> {
    let mut digits = String::with_capacity(12);
    for c in input.chars() {
        let c = fold_full_width_ascii(c);
        if c.is_ascii_digit() {
            digits.push(c);
        } else if !(is_space_or_separator(c) || is_dash(c) || matches!(c, '(' | ')' | '+')) {
            return None;
        }
    }
    if digits.starts_with("81") && (digits.len() == 11 || digits.len() == 12) {
        digits.replace_range(..2, "0");
    }
    (digits.len() == 10 || digits.len() == 11).then_some(digits)
}

/// First pass shared by the name normalizers: half-width katakana → full-width with voiced marks
/// combined, full-width ASCII → ASCII, ideographic space → space, and (when `to_katakana`) hiragana
/// → katakana.
fn fold_width(input: &str, to_katakana: bool, out: &mut Vec<char>) {
    for c in input.chars() {
        match c {
            '\u{FF61}'..='\u{FF9D}' => out.push(HALF_WIDTH_KATAKANA[c as usize - 0xFF61]),
            '\u{FF9E}' | '\u{3099}' | '\u{309B}' => combine_last(out, voiced),
            '\u{FF9F}' | '\u{309A}' | '\u{309C}' => combine_last(out, semi_voiced),
            '\u{3041}'..='\u{3096}' | '\u{309D}' | '\u{309E}' if to_katakana => {
                out.push(hiragana_to_katakana(c))
            }
            c => out.push(fold_full_width_ascii(c)),
        }
    }
}

/// Replaces the last character by its combination with a voiced or semi-voiced mark; a mark that
/// cannot combine is dropped, as it carries no letter of its own.
fn combine_last(out: &mut [char], combine: fn(char) -> Option<char>) {
    if let Some(last) = out.last_mut()
        && let Some(combined) = combine(*last)
    {
        *last = combined;
    }
}

fn fold_full_width_ascii(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        c => c,
    }
}

fn hiragana_to_katakana(c: char) -> char {
    char::from_u32(c as u32 + 0x60).unwrap_or(c)
}

fn katakana_to_hiragana(c: char) -> char {
    char::from_u32(c as u32 - 0x60).unwrap_or(c)
}

fn is_space_or_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '・' | '･' | '·' | '=' | '゠')
}

fn is_dash(c: char) -> bool {
    matches!(c, '-' | '‐' | '‑' | '‒' | '–' | '—' | '―' | '−' | 'ー' | 'ｰ')
}

fn is_long_vowel_mark(c: char) -> bool {
    matches!(c, 'ー' | 'ｰ' | '―' | '‐' | '‑' | '-' | '~' | '〜' | '−' | '—')
}

/// The voiced (濁音) form of a kana, hiragana or katakana.
fn voiced(c: char) -> Option<char> {
    if ('\u{3041}'..='\u{3096}').contains(&c) {
        return voiced(hiragana_to_katakana(c)).filter(|&v| v != 'ヷ').map(katakana_to_hiragana);
    }
    match c {
        // カ..チ: the unvoiced kana sit on odd code points, each followed by its voiced form.
        'カ' | 'キ' | 'ク' | 'ケ' | 'コ' | 'サ' | 'シ' | 'ス' | 'セ' | 'ソ' | 'タ' | 'チ' | 'ツ' | 'テ'
        | 'ト' => char::from_u32(c as u32 + 1),
        'ハ' | 'ヒ' | 'フ' | 'ヘ' | 'ホ' => char::from_u32(c as u32 + 1),
        'ウ' => Some('ヴ'),
        'ワ' => Some('ヷ'),
        'ヽ' => Some('ヾ'),
        _ => None,
    }
}

/// The semi-voiced (半濁音) form of a kana, hiragana or katakana.
fn semi_voiced(c: char) -> Option<char> {
    if ('\u{3041}'..='\u{3096}').contains(&c) {
        return semi_voiced(hiragana_to_katakana(c)).map(katakana_to_hiragana);
    }
    match c {
        'ハ' | 'ヒ' | 'フ' | 'ヘ' | 'ホ' => char::from_u32(c as u32 + 2),
        _ => None,
    }
}

/// The vowel a long-vowel mark stands for after `c`, as names are usually spelled out.
fn long_vowel_of(c: char) -> Option<char> {
    const A_ROW: &str = "アカガサザタダナハバパマヤラワ";
    const I_ROW: &str = "イキギシジチニヒビピミリ";
    const U_ROW: &str = "ウクグスズツヌフブプムユルヴ";
    const E_ROW: &str = "エケゲセゼテデネヘベペメレ";
    const O_ROW: &str = "オコゴソゾトドノホボポモヨロ";
    if A_ROW.contains(c) {
        Some('ア')
    } else if I_ROW.contains(c) || E_ROW.contains(c) {
        Some('イ')
    } else if U_ROW.contains(c) || O_ROW.contains(c) {
        Some('ウ')
    } else {
        None
    }
}
