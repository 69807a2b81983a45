//! A small synthetic population for linkage tests: people, their records at several providers with the
//! spelling and data-entry variations real registers show, and the true person of each record.
//!
//! Names are built from parts (ヤマ+ダ, ヒロ+シ) so that a population of 100,000 has realistic
//! repetition without a long list. Deterministic for a seed.

use kiban_model::{IdentifiedPerson, Insurance, LocalPatientId, NaiveDate, PersonName, ProviderCode, Sex};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const FAMILY_HEADS: [(&str, &str); 24] = [
    ("ヤマ", "山"),
    ("タ", "田"),
    ("ナカ", "中"),
    ("コ", "小"),
    ("オオ", "大"),
    ("タカ", "高"),
    ("イシ", "石"),
    ("マツ", "松"),
    ("イ", "井"),
    ("キ", "木"),
    ("ハヤシ", "林"),
    ("モリ", "森"),
    ("イケ", "池"),
    ("カワ", "川"),
    ("ウエ", "上"),
    ("オカ", "岡"),
    ("ムラ", "村"),
    ("ニシ", "西"),
    ("ヒガシ", "東"),
    ("キタ", "北"),
    ("ヨシ", "吉"),
    ("フジ", "藤"),
    ("サワ", "沢"),
    ("ワタ", "渡"),
];
const FAMILY_TAILS: [(&str, &str); 18] = [
    ("ダ", "田"),
    ("モト", "本"),
    ("カワ", "川"),
    ("ノ", "野"),
    ("サキ", "崎"),
    ("ハシ", "橋"),
    ("ムラ", "村"),
    ("イ", "井"),
    ("ベ", "辺"),
    ("シマ", "島"),
    ("ハラ", "原"),
    ("ヤマ", "山"),
    ("モリ", "森"),
    ("オカ", "岡"),
    ("ザワ", "沢"),
    ("ウチ", "内"),
    ("タ", "多"),
    ("キ", "木"),
];
const MALE_HEADS: [(&str, &str); 16] = [
    ("ヒロ", "博"),
    ("タカ", "隆"),
    ("カズ", "和"),
    ("マサ", "正"),
    ("ヨシ", "義"),
    ("ケン", "健"),
    ("ユウ", "雄"),
    ("シン", "信"),
    ("テツ", "哲"),
    ("ヒデ", "秀"),
    ("トシ", "俊"),
    ("ノブ", "伸"),
    ("ショウ", "翔"),
    ("リョウ", "亮"),
    ("ダイ", "大"),
    ("コウ", "浩"),
];
const MALE_TAILS: [(&str, &str); 8] = [
    ("シ", "志"),
    ("ユキ", "幸"),
    ("オ", "夫"),
    ("ヤ", "也"),
    ("キ", "樹"),
    ("ト", "人"),
    ("ジ", "二"),
    ("タ", "太"),
];
const FEMALE_HEADS: [(&str, &str); 16] = [
    ("ヨウ", "洋"),
    ("ケイ", "恵"),
    ("ユ", "由"),
    ("マ", "真"),
    ("サ", "佐"),
    ("ミ", "美"),
    ("ア", "亜"),
    ("ハル", "春"),
    ("ナツ", "夏"),
    ("チ", "千"),
    ("サチ", "幸"),
    ("トモ", "智"),
    ("キョウ", "京"),
    ("ユウ", "優"),
    ("リ", "里"),
    ("ナ", "奈"),
];
const FEMALE_TAILS: [(&str, &str); 6] =
    [("コ", "子"), ("ミ", "美"), ("エ", "恵"), ("カ", "花"), ("ナ", "奈"), ("ヨ", "代")];
const INSURERS: [&str; 8] =
    ["01130012", "06139999", "138057", "273003", "31130015", "39131008", "01270016", "06271234"];
const TYPO_KANA: &str =
    "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン";

/// Options for [`generate`].
#[derive(Clone, Copy)]
pub(crate) struct Shape {
    pub(crate) n_people: usize,
    pub(crate) n_providers: usize,
    /// Use only the first parts of each name list: many people share names (a stress case).
    pub(crate) few_names: bool,
}

pub(crate) struct Generated {
    pub(crate) persons: Vec<IdentifiedPerson>,
    pub(crate) truth: Vec<u64>,
}

struct Person {
    family: (String, String),
    given: (String, String),
    sex: Sex,
    birth: NaiveDate,
    postal: String,
    phone: String,
    insurance: (String, String, String, String),
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T], few: bool) -> &'a T {
    let len = if few { items.len().min(3) } else { items.len() };
    // Squaring a uniform number skews the choice toward the front, as real name frequencies are.
    let skewed: f64 = rng.r#gen::<f64>().powi(2);
    &items[((skewed * len as f64) as usize).min(len - 1)]
}

fn join(rng: &mut ChaCha8Rng, heads: &[(&str, &str)], tails: &[(&str, &str)], few: bool) -> (String, String) {
    let head = pick(rng, heads, few);
    let tail = pick(rng, tails, few);
    (format!("{}{}", head.0, tail.0), format!("{}{}", head.1, tail.1))
}

fn new_person(rng: &mut ChaCha8Rng, few: bool) -> Person {
    let sex = if rng.gen_bool(0.5) { Sex::Male } else { Sex::Female };
    let given = match sex {
        Sex::Male => join(rng, &MALE_HEADS, &MALE_TAILS, few),
        _ => join(rng, &FEMALE_HEADS, &FEMALE_TAILS, few),
    };
    let birth = NaiveDate::from_ymd_opt(1930, 1, 1).expect("valid date")
        + chrono::Days::new(rng.gen_range(0..32_000));
    Person {
        family: join(rng, &FAMILY_HEADS, &FAMILY_TAILS, few),
        given,
        sex,
        birth,
        postal: format!("{:07}", rng.gen_range(1_000_000..1_003_000)),
        phone: format!("0{}", rng.gen_range(100_000_000u64..999_999_999)),
        insurance: new_insurance(rng),
    }
}

fn new_insurance(rng: &mut ChaCha8Rng) -> (String, String, String, String) {
    (
        INSURERS[rng.gen_range(0..INSURERS.len())].to_owned(),
        rng.gen_range(1..9999).to_string(),
        rng.gen_range(1..99_999).to_string(),
        "00".to_owned(),
    )
}

/// A member of `person`'s household: same family name, address, phone and insurance key.
fn relative(rng: &mut ChaCha8Rng, person: &Person, twin: bool, few: bool) -> Person {
    let mut other = new_person(rng, few);
    other.family = person.family.clone();
    other.postal = person.postal.clone();
    other.phone = person.phone.clone();
    other.insurance = person.insurance.clone();
    other.insurance.3 = if twin { "02".to_owned() } else { "01".to_owned() };
    if twin {
        other.birth = person.birth;
        while other.given.0 == person.given.0 {
            other = Person { given: new_person(rng, few).given, ..other };
        }
    }
    other
}

fn to_half_width(kana: &str) -> String {
    const FULL: &str = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワンガギグゲゴザジズゼゾダヂヅデドバビブベボパピプペポョャュッー";
    const HALF: [&str; 76] = [
        "ｱ", "ｲ", "ｳ", "ｴ", "ｵ", "ｶ", "ｷ", "ｸ", "ｹ", "ｺ", "ｻ", "ｼ", "ｽ", "ｾ", "ｿ", "ﾀ", "ﾁ", "ﾂ", "ﾃ", "ﾄ",
        "ﾅ", "ﾆ", "ﾇ", "ﾈ", "ﾉ", "ﾊ", "ﾋ", "ﾌ", "ﾍ", "ﾎ", "ﾏ", "ﾐ", "ﾑ", "ﾒ", "ﾓ", "ﾔ", "ﾕ", "ﾖ", "ﾗ", "ﾘ",
        "ﾙ", "ﾚ", "ﾛ", "ﾜ", "ﾝ", "ｶﾞ", "ｷﾞ", "ｸﾞ", "ｹﾞ", "ｺﾞ", "ｻﾞ", "ｼﾞ", "ｽﾞ", "ｾﾞ", "ｿﾞ", "ﾀﾞ", "ﾁﾞ", "ﾂﾞ", "ﾃﾞ", "ﾄﾞ",
        "ﾊﾞ", "ﾋﾞ", "ﾌﾞ", "ﾍﾞ", "ﾎﾞ", "ﾊﾟ", "ﾋﾟ", "ﾌﾟ", "ﾍﾟ", "ﾎﾟ", "ｮ", "ｬ", "ｭ", "ｯ", "ｰ", " ",
    ];
    kana.chars()
        .map(|c| FULL.chars().position(|f| f == c).map_or_else(|| c.to_string(), |idx| HALF[idx].to_owned()))
        .collect()
}

fn to_hiragana(kana: &str) -> String {
    kana.chars()
        .map(|c| {
            if ('\u{30A1}'..='\u{30F6}').contains(&c) {
                char::from_u32(c as u32 - 0x60).unwrap_or(c)
            } else {
                c
            }
        })
        .collect()
}

fn typo(rng: &mut ChaCha8Rng, name: &str) -> String {
    let mut chars: Vec<char> = name.chars().collect();
    let position = rng.gen_range(0..chars.len());
    let replacements: Vec<char> = TYPO_KANA.chars().collect();
    chars[position] = replacements[rng.gen_range(0..replacements.len())];
    chars.into_iter().collect()
}

/// A data-entry error: one digit of YYYYMMDD changed, day and month swapped, or the year off by one
/// (a wrong era conversion). Falls back to the true date when the result is not a date.
fn mistyped_date(rng: &mut ChaCha8Rng, date: NaiveDate) -> Option<NaiveDate> {
    use chrono::Datelike;
    let (year, month, day) = (date.year(), date.month(), date.day());
    let mistyped = match rng.gen_range(0..3) {
        0 => {
            let mut digits: Vec<u8> = date.format("%Y%m%d").to_string().into_bytes();
            let position = rng.gen_range(2..8);
            digits[position] = b'0' + rng.gen_range(0..10);
            let text = String::from_utf8(digits).expect("ASCII digits");
            NaiveDate::parse_from_str(&text, "%Y%m%d").ok()
        }
        1 => NaiveDate::from_ymd_opt(year, day, month),
        _ => NaiveDate::from_ymd_opt(year + if rng.gen_bool(0.5) { 1 } else { -1 }, month, day),
    };
    mistyped.or(Some(date))
}

/// One provider's record of `person`, with the variations of real registers.
fn record(rng: &mut ChaCha8Rng, person: &Person, provider: &str, local_id: usize) -> IdentifiedPerson {
    let mut record = IdentifiedPerson::new(
        ProviderCode::new(provider).expect("valid provider code"),
        LocalPatientId::new(&format!("{local_id:07}")).expect("valid patient id"),
    );
    let mut family = person.family.0.clone();
    let mut given = person.given.0.clone();
    if rng.gen_bool(0.03) {
        if rng.gen_bool(0.5) {
            family = typo(rng, &family);
        } else {
            given = typo(rng, &given);
        }
    }
    if rng.gen_bool(0.1) && given.ends_with('ウ') {
        given = format!("{}ー", given.trim_end_matches('ウ'));
    }
    let (family, given) = match rng.gen_range(0..10) {
        0 | 1 => (to_half_width(&family), to_half_width(&given)),
        2 => (to_hiragana(&family), to_hiragana(&given)),
        3 => (format!("{family}\u{3000}{given}"), String::new()),
        4 => (to_half_width(&format!("{family} {given}")), String::new()),
        5 => (format!("{family}{given}"), String::new()),
        _ => (family, given),
    };
    if rng.gen_bool(0.97) {
        record.name_kana = Some(PersonName::new(&family, &given));
    }
    if rng.gen_bool(0.9) {
        let family = if rng.gen_bool(0.1) {
            person.family.1.replace('高', "髙").replace('崎', "﨑")
        } else {
            person.family.1.clone()
        };
        record.name_kanji = Some(PersonName::new(&family, &person.given.1));
    }
    record.birth_date = Some(person.birth);
    if rng.gen_bool(0.02) {
        record.birth_date = mistyped_date(rng, person.birth);
    }
    record.sex = if rng.gen_bool(0.02) { Sex::Unknown } else { person.sex };
    if rng.gen_bool(0.7) {
        record.postal_code = Some(if rng.gen_bool(0.15) {
            format!("{:07}", rng.gen_range(1_000_000..1_003_000))
        } else if rng.gen_bool(0.3) {
            format!("{}-{}", &person.postal[..3], &person.postal[3..])
        } else {
            person.postal.clone()
        });
    }
    if rng.gen_bool(0.5) {
        record.phone = Some(person.phone.clone());
    }
    if rng.gen_bool(0.8) {
        let (insurer, symbol, number, branch) =
            if rng.gen_bool(0.2) { new_insurance(rng) } else { person.insurance.clone() };
        let insurer = if insurer.len() == 6 && rng.gen_bool(0.3) { format!("00{insurer}") } else { insurer };
        record.insurances.push(Insurance {
            insurer_number: insurer,
            symbol: Some(symbol),
            number: Some(number),
            branch: rng.gen_bool(0.5).then_some(branch),
            valid_from: None,
        });
    }
    record
}

/// Generates `shape.n_people` people (with twins and other household members among them) and
/// their records at 1 to 3 providers, shuffled.
pub(crate) fn generate(shape: Shape, seed: u64) -> Generated {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut people: Vec<Person> = Vec::with_capacity(shape.n_people);
    while people.len() < shape.n_people {
        let person = new_person(&mut rng, shape.few_names);
        let household = rng.gen_range(0..100);
        let relatives = match household {
            0 => vec![relative(&mut rng, &person, true, shape.few_names)],
            1..=5 => vec![relative(&mut rng, &person, false, shape.few_names)],
            _ => Vec::new(),
        };
        people.push(person);
        people.extend(relatives);
    }
    people.truncate(shape.n_people);
    let mut next_local_id = vec![0usize; shape.n_providers];
    let mut persons = Vec::new();
    let mut truth = Vec::new();
    for (person_idx, person) in people.iter().enumerate() {
        let n_records = match rng.gen_range(0..100) {
            0..=44 => 1,
            45..=79 => 2,
            _ => 3,
        }
        .min(shape.n_providers);
        let mut providers: Vec<usize> = Vec::new();
        while providers.len() < n_records {
            let provider = rng.gen_range(0..shape.n_providers);
            if !providers.contains(&provider) {
                providers.push(provider);
            }
        }
        for provider in providers {
            next_local_id[provider] += 1;
            let code = format!("131000{provider:04}");
            persons.push(record(&mut rng, person, &code, next_local_id[provider]));
            truth.push(person_idx as u64);
        }
    }
    // Shuffle records and truth together.
    for idx in (1..persons.len()).rev() {
        let other = rng.gen_range(0..=idx);
        persons.swap(idx, other);
        truth.swap(idx, other);
    }
    Generated { persons, truth }
}
