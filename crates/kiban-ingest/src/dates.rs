//! Date parsing for intake: ISO, `YYYYMMDD`, `YYYY/MM/DD`, `YYYY年M月D日` and Japanese era dates
//! (`S23.04.05`, `昭和23年4月5日`, `H1.1.8`, `R2/4/1`, `令和元年5月1日`).
//!
//! An era date must fall inside its era: 明治 M from 1868-09-08, 大正 T from 1912-07-30, 昭和 S from
//! 1926-12-25, 平成 H from 1989-01-08, 令和 R from 2019-05-01, each until the day before the next starts.
//! Full-width digits and punctuation are accepted. Anything else is `None`.

use chrono::NaiveDate;

struct Era {
    letters: &'static [&'static str],
    start: (i32, u32, u32),
}

const ERAS: [Era; 5] = [
    Era { letters: &["M", "明治", "明", "㍾"], start: (1868, 9, 8) },
    Era { letters: &["T", "大正", "大", "㍽"], start: (1912, 7, 30) },
    Era { letters: &["S", "昭和", "昭", "㍼"], start: (1926, 12, 25) },
    Era { letters: &["H", "平成", "平", "㍻"], start: (1989, 1, 8) },
    Era { letters: &["R", "令和", "令", "㋿"], start: (2019, 5, 1) },
];

/// Parses a calendar date written in any of the forms above.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let text = normalize(text);
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if text.as_bytes()[0].is_ascii_digit() { parse_gregorian(text) } else { parse_era(text) }
}

/// Full-width digits and separators to ASCII; upper-case era letters.
fn normalize(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
            '／' => '/',
            '－' | '‐' | '−' => '-',
            '．' => '.',
            '　' => ' ',
            'm' | 't' | 's' | 'h' | 'r' => c.to_ascii_uppercase(),
            _ => c,
        })
        .collect()
}

fn parse_gregorian(text: &str) -> Option<NaiveDate> {
    // A datetime: keep the date part.
    let text = text.split(['T', ' ']).next().unwrap_or(text);
    if text.len() == 8 && text.bytes().all(|b| b.is_ascii_digit()) {
        let year = text.get(0..4)?.parse().ok()?;
        let month = text.get(4..6)?.parse().ok()?;
        let day = text.get(6..8)?.parse().ok()?;
        return NaiveDate::from_ymd_opt(year, month, day);
    }
    let [year, month, day] = split_numbers(text)?;
    if !(1000..=9999).contains(&year) {
        return None;
    }
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)
}

fn parse_era(text: &str) -> Option<NaiveDate> {
    let (era_idx, rest) = ERAS.iter().enumerate().find_map(|(idx, era)| {
        era.letters.iter().find_map(|letter| text.strip_prefix(letter)).map(|rest| (idx, rest))
    })?;
    let era = &ERAS[era_idx];
    let rest = rest.trim_start();
    let rest = match rest.strip_prefix("元") {
        Some(after) => format!("1{after}"),
        None => rest.to_owned(),
    };
    let [era_year, month, day] = split_numbers(&rest)?;
    if era_year == 0 {
        return None;
    }
    let year = era.start.0 + i32::try_from(era_year).ok()? - 1;
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    let start = NaiveDate::from_ymd_opt(era.start.0, era.start.1, era.start.2)?;
    let next_start = ERAS
        .get(era_idx + 1)
        .and_then(|next| NaiveDate::from_ymd_opt(next.start.0, next.start.1, next.start.2));
    let within = date >= start && next_start.is_none_or(|next| date < next);
    within.then_some(date)
}

/// Splits `Y?M?D` where each `?` is one of `- / . 年 月` (and an optional trailing `日`) into three numbers.
fn split_numbers(text: &str) -> Option<[u32; 3]> {
    let text = text.strip_suffix('日').unwrap_or(text);
    let mut parts = text.split(['-', '/', '.', '年', '月']);
    let mut numbers = [0u32; 3];
    for number in &mut numbers {
        let part = parts.next()?.trim();
        if part.is_empty() || part.len() > 4 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *number = part.parse().ok()?;
    }
    parts.next().is_none().then_some(numbers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Option<(i32, u32, u32)>) {
        let expected = expected.and_then(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d));
        assert_eq!(parse_date(text), expected, "parsing {text:?}");
    }

    #[test]
    fn gregorian_forms() {
        check("2024-01-02", Some((2024, 1, 2)));
        check("20240102", Some((2024, 1, 2)));
        check("2024/1/2", Some((2024, 1, 2)));
        check("2024.01.02", Some((2024, 1, 2)));
        check("2024年1月2日", Some((2024, 1, 2)));
        check("２０２４／０１／０２", Some((2024, 1, 2)));
        check(" 1948-04-05 ", Some((1948, 4, 5)));
        check("2021-07-05T11:19:41+09:00", Some((2021, 7, 5)));
        check("2024-02-30", None);
        check("20241301", None);
        check("2024-01", None);
        check("24-01-02", None);
        check("2024-01-02-03", None);
        check("", None);
        check("abc", None);
    }

    #[test]
    fn era_forms() {
        check("S23.04.05", Some((1948, 4, 5)));
        check("s23.4.5", Some((1948, 4, 5)));
        check("昭和23年4月5日", Some((1948, 4, 5)));
        check("昭和２３年４月５日", Some((1948, 4, 5)));
        check("H1.1.8", Some((1989, 1, 8)));
        check("平成元年1月8日", Some((1989, 1, 8)));
        check("R2/4/1", Some((2020, 4, 1)));
        check("令和元年5月1日", Some((2019, 5, 1)));
        check("R1-05-01", Some((2019, 5, 1)));
        check("T1.7.30", Some((1912, 7, 30)));
        check("大正15年12月24日", Some((1926, 12, 24)));
        check("M45.7.29", Some((1912, 7, 29)));
        check("明治1年9月8日", Some((1868, 9, 8)));
        check("S64.1.7", Some((1989, 1, 7)));
        check("㍼50年1月1日", Some((1975, 1, 1)));
    }

    #[test]
    fn era_dates_outside_their_era_are_rejected() {
        check("H1.1.7", None);
        check("S64.1.8", None);
        check("令和元年4月30日", None);
        check("M1.1.1", None);
        check("T15.12.25", None);
        check("S0.1.1", None);
        check("X2.1.1", None);
        check("S23.13.01", None);
        check("S23.04", None);
    }
}
