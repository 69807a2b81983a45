//! Date formatting per provider habit, including Japanese era dates (和暦: 明治, 大正, 昭和, 平成, 令和).

use chrono::Datelike;
use kiban_model::NaiveDate;

use crate::style::DateStyle;

/// (first day, kanji name, letter).
const ERAS: &[((i32, u32, u32), &str, &str)] = &[
    ((2019, 5, 1), "令和", "R"),
    ((1989, 1, 8), "平成", "H"),
    ((1926, 12, 25), "昭和", "S"),
    ((1912, 7, 30), "大正", "T"),
    ((1868, 10, 23), "明治", "M"),
];

/// The era of a date and the year within it (1 = the first year).
fn era_of(date: NaiveDate) -> Option<(&'static str, &'static str, i32)> {
    ERAS.iter().find_map(|&((year, month, day), kanji, letter)| {
        let start = NaiveDate::from_ymd_opt(year, month, day)?;
        (date >= start).then(|| (kanji, letter, date.year() - year + 1))
    })
}

pub(crate) fn format_date(date: NaiveDate, style: DateStyle) -> String {
    let (y, m, d) = (date.year(), date.month(), date.day());
    let era = era_of(date);
    match (style, era) {
        (DateStyle::Compact, _) => format!("{y:04}{m:02}{d:02}"),
        (DateStyle::Slash, _) => format!("{y:04}/{m:02}/{d:02}"),
        (DateStyle::EraDot, Some((_, letter, year))) => format!("{letter}{year:02}.{m:02}.{d:02}"),
        (DateStyle::EraDotShort, Some((_, letter, year))) => format!("{letter}{year}.{m}.{d}"),
        (DateStyle::EraKanji, Some((kanji, _, year))) => format!("{kanji}{year}年{m}月{d}日"),
        (DateStyle::EraSlash, Some((_, letter, year))) => format!("{letter}{year}/{m}/{d}"),
        _ => format!("{y:04}-{m:02}-{d:02}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(date: (i32, u32, u32), style: DateStyle, expect: &str) {
        let date = NaiveDate::from_ymd_opt(date.0, date.1, date.2).unwrap();
        assert_eq!(format_date(date, style), expect);
    }

    #[test]
    fn era_dates() {
        check((1948, 4, 5), DateStyle::EraDot, "S23.04.05");
        check((1948, 4, 5), DateStyle::EraKanji, "昭和23年4月5日");
        check((1989, 1, 8), DateStyle::EraDotShort, "H1.1.8");
        check((1989, 1, 7), DateStyle::EraDotShort, "S64.1.7");
        check((2020, 4, 1), DateStyle::EraSlash, "R2/4/1");
        check((2019, 4, 30), DateStyle::EraKanji, "平成31年4月30日");
        check((1920, 2, 3), DateStyle::EraDot, "T09.02.03");
        check((1948, 4, 5), DateStyle::Iso, "1948-04-05");
        check((1948, 4, 5), DateStyle::Compact, "19480405");
        check((1948, 4, 5), DateStyle::Slash, "1948/04/05");
    }
}
