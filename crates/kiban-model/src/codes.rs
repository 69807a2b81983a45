//! National code tables the model needs everywhere: prefectures (JIS X 0401) and the insurer-number check digit.

/// One of the 47 prefectures (都道府県), with its JIS X 0401 code and region (地方).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Prefecture {
    /// JIS X 0401 code, 1-47.
    pub code: u8,
    /// Name in kanji, e.g. 東京都.
    pub name: &'static str,
    /// Region (地方区分), e.g. 関東.
    pub region: &'static str,
}

macro_rules! prefectures {
    ($(($code:expr, $name:expr, $region:expr)),* $(,)?) => {
        /// The 47 prefectures in JIS X 0401 order.
        pub const PREFECTURES: [Prefecture; 47] = [$(Prefecture { code: $code, name: $name, region: $region }),*];
    };
}

prefectures![
    (1, "北海道", "北海道"),
    (2, "青森県", "東北"),
    (3, "岩手県", "東北"),
    (4, "宮城県", "東北"),
    (5, "秋田県", "東北"),
    (6, "山形県", "東北"),
    (7, "福島県", "東北"),
    (8, "茨城県", "関東"),
    (9, "栃木県", "関東"),
    (10, "群馬県", "関東"),
    (11, "埼玉県", "関東"),
    (12, "千葉県", "関東"),
    (13, "東京都", "関東"),
    (14, "神奈川県", "関東"),
    (15, "新潟県", "中部"),
    (16, "富山県", "中部"),
    (17, "石川県", "中部"),
    (18, "福井県", "中部"),
    (19, "山梨県", "中部"),
    (20, "長野県", "中部"),
    (21, "岐阜県", "中部"),
    (22, "静岡県", "中部"),
    (23, "愛知県", "中部"),
    (24, "三重県", "近畿"),
    (25, "滋賀県", "近畿"),
    (26, "京都府", "近畿"),
    (27, "大阪府", "近畿"),
    (28, "兵庫県", "近畿"),
    (29, "奈良県", "近畿"),
    (30, "和歌山県", "近畿"),
    (31, "鳥取県", "中国"),
    (32, "島根県", "中国"),
    (33, "岡山県", "中国"),
    (34, "広島県", "中国"),
    (35, "山口県", "中国"),
    (36, "徳島県", "四国"),
    (37, "香川県", "四国"),
    (38, "愛媛県", "四国"),
    (39, "高知県", "四国"),
    (40, "福岡県", "九州"),
    (41, "佐賀県", "九州"),
    (42, "長崎県", "九州"),
    (43, "熊本県", "九州"),
    (44, "大分県", "九州"),
    (45, "宮崎県", "九州"),
    (46, "鹿児島県", "九州"),
    (47, "沖縄県", "九州"),
];

impl Prefecture {
    /// The prefecture an address starts with, if any. Addresses in Japan are written prefecture first.
    pub fn of_address(address: &str) -> Option<Prefecture> {
        let address = address.trim_start();
        PREFECTURES.iter().copied().find(|prefecture| address.starts_with(prefecture.name))
    }

    /// The prefecture with this JIS code.
    pub fn by_code(code: u8) -> Option<Prefecture> {
        PREFECTURES.get(usize::from(code).checked_sub(1)?).copied()
    }
}

/// The check digit (検証番号) of an insurer number body: the first 7 digits of an 8-digit 保険者番号 or the
/// first 5 of a 6-digit national-health-insurance one. Weights 2 and 1 alternate from the rightmost body
/// digit, two-digit products count as the sum of their digits, and the check digit brings the total to a
/// multiple of 10. Returns `None` when `body` is not all ASCII digits.
pub fn insurer_check_digit(body: &str) -> Option<u8> {
    let mut sum = 0u32;
    for (idx, byte) in body.bytes().rev().enumerate() {
        if !byte.is_ascii_digit() {
            return None;
        }
        let digit = u32::from(byte - b'0');
        let product = if idx % 2 == 0 { digit * 2 } else { digit };
        sum += product / 10 + product % 10;
    }
    if body.is_empty() {
        return None;
    }
    Some(((10 - sum % 10) % 10) as u8)
}

/// Whether a 6- or 8-digit insurer number carries the right check digit.
pub fn insurer_number_is_valid(number: &str) -> bool {
    if !(number.len() == 6 || number.len() == 8) || !number.is_ascii() {
        return false;
    }
    let (body, check) = number.split_at(number.len() - 1);
    match (insurer_check_digit(body), check.as_bytes()[0]) {
        (Some(expected), actual) => actual.is_ascii_digit() && expected == actual - b'0',
        (None, _) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insurer_check_digits_match_published_numbers() {
        // 01130012 is 全国健康保険協会 東京支部 (協会けんぽ), the insurer in the SS-MIX2 sample messages.
        assert!(insurer_number_is_valid("01130012"));
        assert!(insurer_number_is_valid("138057"));
        assert!(!insurer_number_is_valid("01130013"));
        assert!(!insurer_number_is_valid("0113001"));
        assert!(!insurer_number_is_valid("0113001X"));
        assert_eq!(insurer_check_digit("0113001"), Some(2));
    }

    #[test]
    fn prefecture_lookup() {
        assert_eq!(Prefecture::of_address("静岡県静岡市駿河区登呂3-1-1").map(|p| p.code), Some(22));
        assert_eq!(Prefecture::by_code(13).map(|p| p.name), Some("東京都"));
        assert_eq!(Prefecture::by_code(0), None);
        assert_eq!(Prefecture::by_code(48), None);
        assert!(PREFECTURES.iter().enumerate().all(|(idx, p)| usize::from(p.code) == idx + 1));
    }
}
