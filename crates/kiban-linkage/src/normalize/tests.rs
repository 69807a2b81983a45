//! One-line cases for every normalization rule.

use super::*;

#[track_caller]
fn kana(input: &str, expect: &str) {
    assert_eq!(normalize_kana(input), expect, "normalize_kana of case {expect}");
}

#[test]
fn kana_width_and_voiced_marks() {
    kana("ｶﾝｼﾞｬ", "カンジヤ");
    kana("ｶﾞ", "ガ");
    kana("ﾊﾟ", "パ");
    kana("ﾊﾞ", "バ");
    kana("ｳﾞｧｲｵﾘﾝ", "ヴアイオリン");
    kana("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダタロウ");
    kana("ｻﾄｳ", "サトウ");
    kana("ﾎﾟﾝﾎﾟｺ", "ポンポコ");
    kana("カ\u{3099}", "ガ");
    kana("ハ\u{309A}", "パ");
    kana("カ゛", "ガ");
    kana("ﾞｱ", "ア");
    kana("ｱﾞ", "ア");
}

#[test]
fn kana_hiragana_spaces_and_dots() {
    kana("やまだ　たろう", "ヤマダタロウ");
    kana("ヤマダ タロウ", "ヤマダタロウ");
    kana(" ヤマダ\tタロウ ", "ヤマダタロウ");
    kana("スミス・ジョン", "スミスジヨン");
    kana("スミス･ｼﾞｮﾝ", "スミスジヨン");
    kana("がっこう", "ガツコウ");
    kana("ぱぴぷぺぽ", "パピプペポ");
    kana("ｓｍｉｔｈ", "SMITH");
}

#[test]
fn kana_small_and_variant_kana() {
    kana("キョウコ", "キヨウコ");
    kana("ショウ", "シヨウ");
    kana("ハットリ", "ハツトリ");
    kana("ァィゥェォ", "アイウエオ");
    kana("ヮヵヶ", "ワカケ");
    kana("ちぢみ", "チジミ");
    kana("ツヅキ", "ツズキ");
    kana("つづき", "ツズキ");
    kana("ヰヱヲ", "イエオ");
    kana("ヴ", "ヴ");
    kana("ゔ", "ヴ");
    kana("ササキ", "ササキ");
    kana("サヽキ", "ササキ");
    kana("さゝき", "ササキ");
    kana("イスヾ", "イスズ");
    kana("チヾミ", "チジミ");
}

#[test]
fn kana_long_vowels() {
    kana("ユーコ", "ユウコ");
    kana("ﾕｰｺ", "ユウコ");
    kana("ユウコ", "ユウコ");
    kana("ケーコ", "ケイコ");
    kana("イトー", "イトウ");
    kana("イト―", "イトウ");
    kana("イト-", "イトウ");
    kana("イト～", "イトウ");
    kana("イト〜", "イトウ");
    kana("ショーヘイ", "シヨウヘイ");
    kana("ショウヘイ", "シヨウヘイ");
    kana("マーサ", "マアサ");
    kana("ミーナ", "ミイナ");
    kana("ーア", "ア");
    kana("ンー", "ン");
    kana("", "");
}

#[track_caller]
fn kanji(input: &str, expect: &str) {
    assert_eq!(normalize_kanji_name(input), expect, "normalize_kanji_name of case {expect}");
}

#[test]
fn kanji_names() {
    kanji("山田　太郎", "山田太郎");
    kanji("山田 太郎", "山田太郎");
    kanji("髙橋", "高橋");
    kanji("山﨑", "山崎");
    kanji("山嵜", "山崎");
    kanji("渡邊", "渡辺");
    kanji("渡邉", "渡辺");
    kanji("齋藤", "斎藤");
    kanji("齊藤", "斉藤");
    kanji("斉藤", "斉藤");
    kanji("濵田", "浜田");
    kanji("濱田", "浜田");
    kanji("小澤", "小沢");
    kanji("\u{FA10}本", "塚本");
    kanji("𠮷田", "吉田");
    kanji("冨田", "冨田");
    kanji("ＳＭＩＴＨ　Ｊｏｈｎ", "SMITHJOHN");
    kanji("ｽﾐｽ･ｼﾞｮﾝ", "スミスジョン");
    kanji("さくら", "さくら");
}

#[track_caller]
fn insurer(input: &str, expect: Option<&str>) {
    assert_eq!(
        normalize_insurer_number(input).as_deref(),
        expect,
        "normalize_insurer_number of case {expect:?}"
    );
}

#[test]
fn insurer_numbers() {
    insurer("01130012", Some("01130012"));
    insurer("０１１３００１２", Some("01130012"));
    insurer("0113-0012", Some("01130012"));
    insurer(" 0113 0012 ", Some("01130012"));
    insurer("1130012", Some("01130012"));
    insurer("138057", Some("00138057"));
    insurer("00138057", Some("00138057"));
    insurer("１３８０５７", Some("00138057"));
    insurer("13805", Some("00013805"));
    insurer("1380", None);
    insurer("011300123", None);
    insurer("0113001X", None);
    insurer("", None);
}

#[track_caller]
fn symbol(input: &str, expect: &str) {
    assert_eq!(normalize_symbol_number(input), expect, "normalize_symbol_number of case {expect}");
}

#[test]
fn symbols_and_numbers() {
    symbol("1234-5678", "12345678");
    symbol("１２３４　５６７８", "12345678");
    symbol("0012", "12");
    symbol("00", "0");
    symbol("東京・あ", "東京あ");
    symbol("ａｂ-１２", "AB12");
    symbol("ｱｲ", "アイ");
    symbol("", "");
}

#[test]
fn postal_codes_and_phones() {
    assert_eq!(normalize_postal_code("〒100-0001").as_deref(), Some("1000001"));
    assert_eq!(normalize_postal_code("１００－０００１").as_deref(), Some("1000001"));
    assert_eq!(normalize_postal_code("100001"), None);
    assert_eq!(normalize_postal_code("100-000A"), None);
    assert_eq!(normalize_phone("03-1234-5678").as_deref(), Some("0312345678"));
    assert_eq!(normalize_phone("(03)1234-5678").as_deref(), Some("0312345678"));
    assert_eq!(normalize_phone("０９０－１２３４－５６７８").as_deref(), Some("09012345678"));
    assert_eq!(normalize_phone("+81 90 1234 5678").as_deref(), Some("09012345678"));
    assert_eq!(normalize_phone("+81 3 1234 5678").as_deref(), Some("0312345678"));
    assert_eq!(normalize_phone("1234"), None);
    assert_eq!(normalize_phone("03-1234-567X"), None);
}
