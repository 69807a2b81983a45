//! The cohort generator: providers, persons, their visits to 1-3 providers and each provider's record.

use std::collections::HashSet;

use chrono::{Datelike, Duration};
use kiban_model::{
    Diagnosis, DrugCodeSystem, Encounter, EncounterClass, IdentifiedPerson, Insurance, LabResult, LabValue,
    LocalPatientId, NaiveDate, PREFECTURES, PatientRecord, PersonName, Prescription, Procedure, ProviderCode,
    Sex, insurer_check_digit,
};
use rand::distributions::{Distribution, WeightedIndex};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::clinical::{self, Course, DISEASES, DiseaseDef, GENERAL_PANEL, SUSPECTED};
use crate::geo::{self, MUNICIPALITIES, Municipality, PREFECTURE_POPULATION, TOWNS};
use crate::kana;
use crate::names::{FEMALE_OLDER, FEMALE_YOUNGER, MALE_OLDER, MALE_YOUNGER, SURNAMES};
use crate::style::{AddressStyle, KanaScript, NameSplit, ProviderStyle};
use crate::{Cohort, OutputFormat, SynthConfig, SynthProvider, TruthRow};

/// Sampling tables built once per cohort.
struct Tables {
    surnames: WeightedIndex<u32>,
    given: [WeightedIndex<f64>; 4],
    age_bands: WeightedIndex<f64>,
    prefectures: WeightedIndex<u32>,
}

/// 5-year age bands 0-4 ... 95-99 and 100-105: Japan's 2020 population in millions, with the middle-aged
/// and old weighted up a little because patients are older than the population.
const AGE_BANDS: [f64; 21] = [
    4.5 * 0.8,
    5.0 * 0.8,
    5.3 * 0.8,
    5.6 * 0.8,
    6.2,
    6.2,
    6.7,
    7.5,
    8.4,
    9.7 * 1.2,
    8.8 * 1.2,
    7.9 * 1.2,
    7.4 * 1.2,
    8.2 * 1.2,
    9.1 * 1.2,
    7.0 * 1.2,
    5.4 * 1.2,
    3.7,
    1.8,
    0.5,
    0.08,
];

fn zipf_weights(n: usize) -> Vec<f64> {
    (0..n).map(|rank| 1.0 / ((rank + 1) as f64).powf(0.8)).collect()
}

impl Tables {
    fn new() -> Tables {
        let weighted = |n: usize| WeightedIndex::new(zipf_weights(n)).expect("name tables are not empty");
        Tables {
            surnames: WeightedIndex::new(SURNAMES.iter().map(|s| s.2)).expect("surname weights are positive"),
            given: [
                weighted(MALE_OLDER.len()),
                weighted(MALE_YOUNGER.len()),
                weighted(FEMALE_OLDER.len()),
                weighted(FEMALE_YOUNGER.len()),
            ],
            age_bands: WeightedIndex::new(AGE_BANDS).expect("age bands are positive"),
            prefectures: WeightedIndex::new(PREFECTURE_POPULATION).expect("populations are positive"),
        }
    }
}

#[derive(Clone)]
struct Address {
    municipality: &'static Municipality,
    town: &'static str,
    chome: u32,
    ban: u32,
    go: u32,
    postal_suffix: u32,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum InsurerKind {
    Kyokai,
    Kumiai,
    Kyosai,
    Kokuho,
    Koki,
}

struct Condition {
    disease: &'static DiseaseDef,
    onset: NaiveDate,
    /// Index into the disease's drug list chosen for this person.
    drug_choice: usize,
    dialysis: bool,
}

struct Person {
    id: u64,
    sex: Sex,
    birth: NaiveDate,
    age: i32,
    family: (&'static str, &'static str),
    given: (&'static str, &'static str),
    address: Address,
    moved_to: Option<Address>,
    landline: Option<String>,
    mobile: Option<String>,
    insurance: Insurance,
    new_insurance: Option<Insurance>,
    conditions: Vec<Condition>,
}

struct ProviderState {
    style: ProviderStyle,
    prefecture: u8,
    next_id: u64,
    id_step: u64,
    used_ids: HashSet<String>,
}

pub(crate) fn generate(cfg: &SynthConfig) -> Cohort {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let tables = Tables::new();
    let n_providers = cfg.n_providers.max(1);
    let (providers, mut states) = make_providers(cfg, n_providers, &tables, &mut rng);
    let size_weights: Vec<f64> = (0..n_providers).map(|idx| 1.0 / ((idx + 1) as f64).powf(0.5)).collect();
    let provider_pick = WeightedIndex::new(&size_weights).expect("provider weights are positive");

    let mut records: Vec<Vec<PatientRecord>> = vec![Vec::new(); n_providers];
    let mut truth = Vec::new();
    for person_idx in 0..cfg.n_patients {
        let primary = provider_pick.sample(&mut rng);
        let person = make_person(
            person_idx as u64 + 1,
            cfg.reference_date,
            states[primary].prefecture,
            &tables,
            &mut rng,
        );
        let visited = choose_providers(primary, n_providers, &states, &provider_pick, &mut rng);
        for (visit_idx, &provider_idx) in visited.iter().enumerate() {
            let state = &mut states[provider_idx];
            let local_id = next_local_id(state, &mut rng);
            let record = make_record(
                &person,
                visit_idx,
                &providers[provider_idx],
                state,
                local_id.clone(),
                cfg.reference_date,
                &mut rng,
            );
            truth.push(TruthRow {
                provider: providers[provider_idx].code.clone(),
                local_id,
                person: person.id,
            });
            records[provider_idx].push(record);
        }
    }
    Cohort { providers, records, truth }
}

fn make_providers(
    cfg: &SynthConfig,
    n_providers: usize,
    tables: &Tables,
    rng: &mut ChaCha8Rng,
) -> (Vec<SynthProvider>, Vec<ProviderState>) {
    let n_prefectures = n_providers.div_ceil(3).clamp(1, 4);
    let mut prefectures: Vec<u8> = Vec::new();
    while prefectures.len() < n_prefectures {
        let code = PREFECTURES[tables.prefectures.sample(rng)].code;
        if !prefectures.contains(&code) {
            prefectures.push(code);
        }
    }
    let mut codes = HashSet::new();
    let mut providers = Vec::new();
    let mut states = Vec::new();
    for idx in 0..n_providers {
        let prefecture = prefectures[idx % prefectures.len()];
        let code = loop {
            let code = format!("{prefecture:02}1{:07}", rng.gen_range(0..10_000_000u32));
            if codes.insert(code.clone()) {
                break code;
            }
        };
        let format = match cfg.format {
            OutputFormat::Mixed => [OutputFormat::Ssmix2, OutputFormat::Fhir, OutputFormat::Csv][idx % 3],
            other => other,
        };
        let municipalities: Vec<&Municipality> = geo::municipalities_of(prefecture).collect();
        let municipality = municipalities[rng.gen_range(0..municipalities.len())];
        let name = provider_name(municipality, idx, rng);
        let address = Address {
            municipality,
            town: TOWNS[rng.gen_range(0..TOWNS.len())],
            chome: rng.gen_range(1..=5),
            ban: rng.gen_range(1..=30),
            go: rng.gen_range(1..=20),
            postal_suffix: rng.gen_range(0..10_000),
        };
        let style = ProviderStyle::new(&code, format);
        let id_max = 10u64.pow(style.id_digits);
        let next_id = if style.id_zero_padded {
            rng.gen_range(1..id_max / 100)
        } else {
            id_max / 10 + rng.gen_range(0..id_max / 20)
        };
        states.push(ProviderState {
            style,
            prefecture,
            next_id,
            id_step: rng.gen_range(1..=13),
            used_ids: HashSet::new(),
        });
        providers.push(SynthProvider {
            code: ProviderCode::new(&code).expect("10 ASCII digits are a valid provider code"),
            name,
            postal_code: format!("{}-{:04}", municipality.postal_prefix, address.postal_suffix),
            address: format_address(&address, AddressStyle::Hyphen),
            format,
            dir: code.into(),
        });
    }
    (providers, states)
}

fn provider_name(municipality: &Municipality, idx: usize, rng: &mut ChaCha8Rng) -> String {
    let city =
        municipality.name.find(['市', '区', '町']).map_or(municipality.name, |end| &municipality.name[..end]);
    let prefecture = PREFECTURES[usize::from(municipality.prefecture) - 1].name;
    let prefecture_short = prefecture.trim_end_matches(['都', '府', '県']);
    let surname = SURNAMES[rng.gen_range(0..40)].0;
    match (idx + rng.gen_range(0..6)) % 6 {
        0 => format!("{city}市民病院"),
        1 => format!("国立病院機構{city}医療センター"),
        2 => format!("{prefecture_short}県立中央病院")
            .replace("東京県", "東京都")
            .replace("大阪県", "大阪府")
            .replace("京都県", "京都府")
            .replace("北海道県", "北海道"),
        3 => format!("医療法人{surname}会{surname}内科クリニック"),
        4 => format!("{city}赤十字病院"),
        _ => format!("{surname}整形外科医院"),
    }
}

fn choose_providers(
    primary: usize,
    n_providers: usize,
    states: &[ProviderState],
    provider_pick: &WeightedIndex<f64>,
    rng: &mut ChaCha8Rng,
) -> Vec<usize> {
    let wanted = match rng.gen_range(0..100) {
        0..=74 => 1,
        75..=94 => 2,
        _ => 3,
    }
    .min(n_providers);
    let mut visited = vec![primary];
    let mut attempts = 0;
    while visited.len() < wanted && attempts < 50 {
        attempts += 1;
        let candidate = provider_pick.sample(rng);
        let near = states[candidate].prefecture == states[primary].prefecture;
        if visited.contains(&candidate) || (!near && rng.gen_bool(0.7)) {
            continue;
        }
        visited.push(candidate);
    }
    visited
}

fn next_local_id(state: &mut ProviderState, rng: &mut ChaCha8Rng) -> LocalPatientId {
    loop {
        state.next_id += state.id_step + rng.gen_range(0..3);
        let max = 10u64.pow(state.style.id_digits);
        if state.next_id >= max {
            state.next_id = 1 + state.next_id % (max / 100);
        }
        let width = state.style.id_digits as usize;
        let text = if state.style.id_zero_padded {
            format!("{:0width$}", state.next_id)
        } else {
            format!("{:06}", state.next_id)
        };
        if state.used_ids.insert(text.clone()) {
            return LocalPatientId::new(&text).expect("digits are a valid local patient ID");
        }
    }
}

fn random_address(prefecture: u8, near: Option<&Municipality>, rng: &mut ChaCha8Rng) -> Address {
    let municipalities: Vec<&'static Municipality> = geo::municipalities_of(prefecture).collect();
    let municipality = match near {
        Some(near) if rng.gen_bool(0.5) => {
            MUNICIPALITIES.iter().find(|m| m.name == near.name).unwrap_or(municipalities[0])
        }
        _ => municipalities[rng.gen_range(0..municipalities.len())],
    };
    Address {
        municipality,
        town: TOWNS[rng.gen_range(0..TOWNS.len())],
        chome: rng.gen_range(1..=6),
        ban: rng.gen_range(1..=40),
        go: rng.gen_range(1..=30),
        postal_suffix: rng.gen_range(0..10_000),
    }
}

fn years_before(date: NaiveDate, years: i32) -> NaiveDate {
    date.with_year(date.year() - years).unwrap_or_else(|| date - Duration::days(i64::from(years) * 365))
}

fn make_person(
    id: u64,
    today: NaiveDate,
    provider_prefecture: u8,
    tables: &Tables,
    rng: &mut ChaCha8Rng,
) -> Person {
    let band = tables.age_bands.sample(rng) as i32;
    let age = if band == 20 { rng.gen_range(100..=105) } else { band * 5 + rng.gen_range(0..5) };
    let birth = years_before(today, age) - Duration::days(rng.gen_range(1..365));
    let female_share = match age {
        0..=59 => 0.49,
        60..=74 => 0.52,
        75..=84 => 0.57,
        _ => 0.68,
    };
    let sex = if rng.gen_bool(female_share) { Sex::Female } else { Sex::Male };
    let family = SURNAMES[tables.surnames.sample(rng)];
    let younger = birth.year() >= 1975;
    let list_idx = match (sex, younger) {
        (Sex::Male, false) => 0,
        (Sex::Male, true) => 1,
        (_, false) => 2,
        (_, true) => 3,
    };
    let list = [MALE_OLDER, MALE_YOUNGER, FEMALE_OLDER, FEMALE_YOUNGER][list_idx];
    let given = list[tables.given[list_idx].sample(rng)];

    let prefecture = if rng.gen_bool(0.93) {
        provider_prefecture
    } else {
        PREFECTURES[tables.prefectures.sample(rng)].code
    };
    let home_near = geo::municipalities_of(provider_prefecture).next();
    let address = random_address(prefecture, home_near, rng);
    let moved_to = rng.gen_bool(0.08).then(|| {
        let target = if rng.gen_bool(0.7) { prefecture } else { provider_prefecture };
        random_address(target, None, rng)
    });
    let landline = rng
        .gen_bool(if age >= 60 { 0.8 } else { 0.4 })
        .then(|| landline(address.municipality.area_code, rng));
    let mobile = ((13..=90).contains(&age) && rng.gen_bool(0.9)).then(|| mobile(rng));

    let kind = insurer_kind(age, rng);
    let dependent = age < 20 || (rng.gen_bool(0.15) && kind != InsurerKind::Koki);
    let insurance = make_insurance(kind, prefecture, dependent, today, age, rng);
    let new_insurance = rng.gen_bool(0.10).then(|| {
        let new_kind = if age >= 75 {
            InsurerKind::Koki
        } else {
            match kind {
                InsurerKind::Kyokai => InsurerKind::Kumiai,
                InsurerKind::Kumiai | InsurerKind::Kyosai => InsurerKind::Kyokai,
                InsurerKind::Kokuho | InsurerKind::Koki => InsurerKind::Kyokai,
            }
        };
        make_insurance(new_kind, prefecture, dependent, today, age.min(74), rng)
    });
    let conditions = sample_conditions(sex, age, birth, today, rng);
    Person {
        id,
        sex,
        birth,
        age,
        family: (family.0, family.1),
        given,
        address,
        moved_to,
        landline,
        mobile,
        insurance,
        new_insurance,
        conditions,
    }
}

fn landline(area_code: &str, rng: &mut ChaCha8Rng) -> String {
    // Japanese landline numbers have 10 digits: area code, exchange, and a 4-digit subscriber number.
    let exchange_digits = 10 - area_code.len() - 4;
    let low = 10u32.pow(exchange_digits as u32 - 1).max(2);
    let exchange = rng.gen_range(low..10u32.pow(exchange_digits as u32));
    format!("{area_code}-{exchange:0exchange_digits$}-{:04}", rng.gen_range(0..10_000))
}

fn mobile(rng: &mut ChaCha8Rng) -> String {
    let prefix = ["090", "080", "070"][rng.gen_range(0..3)];
    format!("{prefix}-{:04}-{:04}", rng.gen_range(1000..10_000), rng.gen_range(0..10_000))
}

fn insurer_kind(age: i32, rng: &mut ChaCha8Rng) -> InsurerKind {
    if age >= 75 {
        return InsurerKind::Koki;
    }
    let roll = rng.gen_range(0..100);
    if (65..75).contains(&age) {
        return if roll < 75 { InsurerKind::Kokuho } else { InsurerKind::Kyokai };
    }
    match roll {
        0..=44 => InsurerKind::Kyokai,
        45..=69 => InsurerKind::Kumiai,
        70..=77 => InsurerKind::Kyosai,
        _ => InsurerKind::Kokuho,
    }
}

fn with_check_digit(body: String) -> String {
    let check = insurer_check_digit(&body).expect("insurer number bodies are ASCII digits");
    format!("{body}{check}")
}

fn make_insurance(
    kind: InsurerKind,
    prefecture: u8,
    dependent: bool,
    today: NaiveDate,
    age: i32,
    rng: &mut ChaCha8Rng,
) -> Insurance {
    let (insurer_number, symbol, number) = match kind {
        // 協会けんぽ: 01 + prefecture + 001 + check (e.g. 01130012, 東京支部).
        InsurerKind::Kyokai => (
            with_check_digit(format!("01{prefecture:02}001")),
            Some(format!("{}", rng.gen_range(1_000_000..100_000_000u32))),
            format!("{}", rng.gen_range(1..200_000u32)),
        ),
        InsurerKind::Kumiai => (
            with_check_digit(format!("06{prefecture:02}{:03}", rng.gen_range(1..1000))),
            Some(format!("{}", rng.gen_range(1..10_000u32))),
            format!("{}", rng.gen_range(1..100_000u32)),
        ),
        InsurerKind::Kyosai => (
            with_check_digit(format!(
                "{}{prefecture:02}{:03}",
                ["31", "32", "34"][rng.gen_range(0..3)],
                rng.gen_range(1..1000)
            )),
            Some(format!("{}", rng.gen_range(10..1000u32))),
            format!("{}", rng.gen_range(1..1_000_000u32)),
        ),
        // 国民健康保険: 6 digits, prefecture + 3 + check.
        InsurerKind::Kokuho => (
            with_check_digit(format!("{prefecture:02}{:03}", rng.gen_range(1..400))),
            Some(if rng.gen_bool(0.3) {
                ["国", "保", "一般", "北", "中"][rng.gen_range(0..5)].to_owned()
            } else {
                format!("{}", rng.gen_range(1..100u32))
            }),
            format!("{}", rng.gen_range(100_000..10_000_000u32)),
        ),
        // 後期高齢者医療広域連合: 39 + prefecture + 3 + check; no 記号, an 8-digit 番号.
        InsurerKind::Koki => (
            with_check_digit(format!("39{prefecture:02}{:03}", rng.gen_range(1..100))),
            None,
            format!("{:08}", rng.gen_range(10_000_000..100_000_000u32)),
        ),
    };
    let branch = if dependent { format!("{:02}", rng.gen_range(1..=4)) } else { "00".to_owned() };
    let years_held = rng.gen_range(0..=age.clamp(1, 20));
    Insurance {
        insurer_number,
        symbol,
        number: Some(number),
        branch: Some(branch),
        valid_from: Some(years_before(today, years_held) - Duration::days(rng.gen_range(0..365))),
    }
}

fn age_band(age: i32) -> usize {
    match age {
        0..=19 => 0,
        20..=39 => 1,
        40..=59 => 2,
        60..=74 => 3,
        _ => 4,
    }
}

fn sample_conditions(
    sex: Sex,
    age: i32,
    birth: NaiveDate,
    today: NaiveDate,
    rng: &mut ChaCha8Rng,
) -> Vec<Condition> {
    let sex_idx = usize::from(sex == Sex::Female);
    let mut conditions = Vec::new();
    for disease in DISEASES {
        // Patients are sicker than the population: chronic prevalence is scaled up a little.
        let rate = disease.prevalence[sex_idx][age_band(age)]
            * if disease.course == Course::Chronic { 1.2 } else { 1.0 };
        if !rng.gen_bool(rate.min(0.95)) {
            continue;
        }
        let max_years_ago = (age - 1).clamp(0, 15);
        let onset_days = rng.gen_range(30..=(30 + i64::from(max_years_ago) * 365));
        let onset = (today - Duration::days(onset_days)).max(birth + Duration::days(30));
        conditions.push(Condition {
            disease,
            onset,
            drug_choice: rng.gen_range(0..disease.drugs.len().max(1)),
            dialysis: disease.icd10 == "N189" && rng.gen_bool(0.08),
        });
    }
    conditions
}

/// The demographics and events of `person` as provider `provider` records them.
fn make_record(
    person: &Person,
    visit_idx: usize,
    provider: &SynthProvider,
    state: &ProviderState,
    local_id: LocalPatientId,
    today: NaiveDate,
    rng: &mut ChaCha8Rng,
) -> PatientRecord {
    let style = &state.style;
    let mut identified = IdentifiedPerson::new(provider.code.clone(), local_id);
    identified.name_kanji = Some(split_name(person.family.0, person.given.0, style.name_split));
    let mut family_kana = person.family.1.to_owned();
    let mut given_kana = person.given.1.to_owned();
    if rng.gen_bool(0.025) {
        // A typo in one mora, in the family or the given name.
        let target = if rng.gen_bool(0.5) { &mut family_kana } else { &mut given_kana };
        *target = kana::with_typo(target, rng.gen_range(0..8), rng.gen_bool(0.4), rng.gen_range(0..64));
    }
    let kana_variant = |text: &str| {
        let mut text = text.to_owned();
        if style.no_small_kana {
            text = kana::without_small_kana(&text);
        }
        if style.long_vowel_mark {
            text = kana::with_long_vowel_mark(&text);
        }
        match style.kana {
            KanaScript::Katakana => text,
            KanaScript::HalfWidth => kana::to_half_width(&text),
            KanaScript::Hiragana => kana::to_hiragana(&text),
        }
    };
    let kana_split = match (style.name_split, style.kana) {
        (NameSplit::Whole("　"), KanaScript::HalfWidth) => NameSplit::Whole(" "),
        (split, _) => split,
    };
    identified.name_kana =
        Some(split_name(&kana_variant(&family_kana), &kana_variant(&given_kana), kana_split));
    identified.birth_date = Some(person.birth);
    identified.sex = person.sex;
    let address = match (&person.moved_to, visit_idx) {
        (Some(new), idx) if idx > 0 => new,
        _ => &person.address,
    };
    let prefix = address.municipality.postal_prefix;
    identified.postal_code = Some(if style.postal_hyphen {
        format!("{prefix}-{:04}", address.postal_suffix)
    } else {
        format!("{prefix}{:04}", address.postal_suffix)
    });
    identified.address = Some(format_address(address, style.address));
    identified.phone = match (&person.landline, &person.mobile) {
        (Some(home), Some(mobile)) => {
            Some(if style.prefers_landline { home.clone() } else { mobile.clone() })
        }
        (Some(only), None) | (None, Some(only)) => Some(only.clone()),
        (None, None) => None,
    };
    let mut insurances = match (&person.new_insurance, visit_idx) {
        (Some(new), 0) => vec![new.clone(), person.insurance.clone()],
        (Some(new), _) => vec![new.clone()],
        (None, _) => vec![person.insurance.clone()],
    };
    if visit_idx == 0 && person.new_insurance.is_some() && rng.gen_bool(0.5) {
        // The first provider has not seen the new card yet.
        insurances = vec![person.insurance.clone()];
    }
    if provider.format == OutputFormat::Csv {
        // The CSV format has one set of insurance columns.
        insurances.truncate(1);
    }
    if !style.records_branch {
        for insurance in &mut insurances {
            insurance.branch = None;
        }
    }
    identified.insurances = insurances;

    let mut record = PatientRecord::new(identified);
    add_events(&mut record, person, visit_idx, style.drug_codes, today, rng);
    record
}

fn split_name(family: &str, given: &str, split: NameSplit) -> PersonName {
    match split {
        NameSplit::Split => PersonName::new(family, given),
        NameSplit::Whole(separator) => PersonName::new(&format!("{family}{separator}{given}"), ""),
    }
}

fn full_width_digits(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(u32::from(c) - u32::from('0') + 0xFF10).unwrap_or(c),
            '-' => '－',
            other => other,
        })
        .collect()
}

fn format_address(address: &Address, style: AddressStyle) -> String {
    let prefecture = PREFECTURES[usize::from(address.municipality.prefecture) - 1].name;
    let head = format!("{prefecture}{}{}", address.municipality.name, address.town);
    match style {
        AddressStyle::Kanji => format!("{head}{}丁目{}番{}号", address.chome, address.ban, address.go),
        AddressStyle::Hyphen => format!("{head}{}-{}-{}", address.chome, address.ban, address.go),
        AddressStyle::FullWidth => {
            format!(
                "{head}{}",
                full_width_digits(&format!("{}-{}-{}", address.chome, address.ban, address.go))
            )
        }
    }
}

fn round_to(value: f64, decimals: u8) -> f64 {
    let factor = 10f64.powi(i32::from(decimals));
    (value * factor).round() / factor
}

/// A normal variate by the Box-Muller transform.
fn normal(rng: &mut ChaCha8Rng, mean: f64, sd: f64) -> f64 {
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.r#gen();
    mean + sd * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn add_events(
    record: &mut PatientRecord,
    person: &Person,
    visit_idx: usize,
    drug_codes: DrugCodeSystem,
    today: NaiveDate,
    rng: &mut ChaCha8Rng,
) {
    // The primary provider follows every condition; others see some of them.
    let conditions: Vec<&Condition> =
        person.conditions.iter().filter(|_| visit_idx == 0 || rng.gen_bool(0.4)).collect();
    let chronic: Vec<&Condition> =
        conditions.iter().copied().filter(|c| c.disease.course == Course::Chronic).collect();
    let days_available = (today - person.birth).num_days().max(2);
    let window_days = rng.gen_range(60..=(8 * 365)).min(days_available - 1);
    let first_visit = today - Duration::days(window_days);
    let n_visits = if chronic.is_empty() { rng.gen_range(1..=2) } else { rng.gen_range(2..=8) };
    let mut dates: Vec<NaiveDate> =
        (0..n_visits).map(|_| first_visit + Duration::days(rng.gen_range(0..window_days.max(1)))).collect();
    dates.sort();
    dates.dedup();

    let department = |conditions: &[&Condition]| -> &'static str {
        if person.age < 15 {
            return "小児科";
        }
        let rarest = conditions.iter().min_by(|a, b| {
            let prevalence = |c: &Condition| {
                c.disease.prevalence[usize::from(person.sex == Sex::Female)][age_band(person.age)]
            };
            prevalence(a).total_cmp(&prevalence(b))
        });
        rarest.map_or("内科", |c| c.disease.department)
    };
    let main_department = department(&conditions);

    // Suspected diagnoses are recorded to justify a test and never confirmed.
    let suspected = rng.gen_bool(0.06).then(|| SUSPECTED[rng.gen_range(0..SUSPECTED.len())]);
    let main_idx = conditions.iter().enumerate().min_by(|(_, a), (_, b)| {
        let prevalence = |c: &Condition| {
            c.disease.prevalence[usize::from(person.sex == Sex::Female)][age_band(person.age)]
        };
        prevalence(a).total_cmp(&prevalence(b))
    });
    let main_idx = main_idx.map(|(idx, _)| idx);
    for (idx, condition) in conditions.iter().enumerate() {
        let onset =
            if condition.disease.course == Course::Acute { dates[0] } else { condition.onset.min(dates[0]) };
        record.diagnoses.push(Diagnosis {
            icd10: Some(condition.disease.icd10.to_owned()),
            medis_code: Some(condition.disease.medis.to_owned()),
            name: Some(condition.disease.name.to_owned()),
            onset: Some(onset),
            suspected: false,
            main: Some(idx) == main_idx,
        });
    }
    if let Some((icd10, medis, name, procedure)) = suspected {
        let date = dates[rng.gen_range(0..dates.len())];
        record.diagnoses.push(Diagnosis {
            icd10: Some(icd10.to_owned()),
            medis_code: Some(medis.to_owned()),
            name: Some(name.to_owned()),
            onset: Some(date),
            suspected: true,
            main: main_idx.is_none(),
        });
        if let Some(def) = clinical::procedure_def(procedure) {
            record.procedures.push(procedure_at(def, date));
        }
    }

    let stay_visit = rng
        .gen_bool(if person.age >= 70 || !chronic.is_empty() { 0.12 } else { 0.04 })
        .then(|| rng.gen_range(0..dates.len()));
    let days_supply = [14, 28, 30, 56, 84, 90][rng.gen_range(0..6)];
    for (visit, &date) in dates.iter().enumerate() {
        let is_stay = stay_visit == Some(visit);
        let class = if is_stay {
            EncounterClass::Inpatient
        } else if rng.gen_bool(0.04) {
            EncounterClass::Emergency
        } else {
            EncounterClass::Outpatient
        };
        let end = if is_stay {
            let discharge = date + Duration::days(rng.gen_range(3..=21));
            (discharge < today).then_some(discharge)
        } else {
            None
        };
        record.encounters.push(Encounter {
            class,
            start: date,
            end,
            department: Some(main_department.to_owned()),
        });

        // Prescriptions: chronic drugs at most visits, symptomatic drugs for acute illness at the first one.
        if class != EncounterClass::Inpatient {
            for condition in &conditions {
                let acute = condition.disease.course == Course::Acute;
                if condition.disease.drugs.is_empty()
                    || (acute && visit > 0)
                    || (!acute && !rng.gen_bool(0.85))
                {
                    continue;
                }
                let keys: Vec<&str> = if acute {
                    condition.disease.drugs.to_vec()
                } else {
                    vec![condition.disease.drugs[condition.drug_choice]]
                };
                for key in keys {
                    let Some(drug) = clinical::drug_def(key) else { continue };
                    let (code, system) = match drug_codes {
                        DrugCodeSystem::Yj => (drug.yj, DrugCodeSystem::Yj),
                        _ => (drug.hot9, DrugCodeSystem::Hot),
                    };
                    record.prescriptions.push(Prescription {
                        drug_code: code.to_owned(),
                        code_system: system,
                        drug_name: Some(drug.name.to_owned()),
                        dose: Some(drug.daily_dose),
                        unit: Some(drug.unit.to_owned()),
                        days: Some(if acute { 5 } else { days_supply }),
                        date,
                    });
                }
            }
        }

        // Labs: the disease panels at half of the visits, the general panel at some.
        let mut keys: Vec<&str> = Vec::new();
        for condition in &conditions {
            if !condition.disease.labs.is_empty() && rng.gen_bool(0.5) {
                keys.extend(condition.disease.labs.iter().copied());
            }
        }
        if rng.gen_bool(if is_stay { 1.0 } else { 0.25 }) {
            keys.extend(GENERAL_PANEL.iter().copied());
        }
        let mut seen = HashSet::new();
        keys.retain(|key| seen.insert(*key));
        add_labs(record, person, &conditions, &keys, date, rng);

        for condition in &conditions {
            if condition.dialysis
                && class == EncounterClass::Outpatient
                && let Some(def) = clinical::procedure_def("dialysis")
            {
                record.procedures.push(procedure_at(def, date));
            }
        }
    }
    for condition in &conditions {
        for key in condition.disease.procedures.iter().filter(|key| **key != "dialysis") {
            if rng.gen_bool(0.3)
                && let Some(def) = clinical::procedure_def(key)
            {
                record.procedures.push(procedure_at(def, dates[rng.gen_range(0..dates.len())]));
            }
        }
    }
}

fn procedure_at(def: &clinical::ProcedureDef, date: NaiveDate) -> Procedure {
    Procedure {
        code: def.code.to_owned(),
        code_system: Some(clinical::PROCEDURE_CODE_SYSTEM.to_owned()),
        name: Some(def.name.to_owned()),
        date,
    }
}

fn add_labs(
    record: &mut PatientRecord,
    person: &Person,
    conditions: &[&Condition],
    keys: &[&str],
    date: NaiveDate,
    rng: &mut ChaCha8Rng,
) {
    let sex_idx = usize::from(person.sex == Sex::Female);
    let mut creatinine = None;
    for key in keys {
        let Some(def) = clinical::lab_def(key) else { continue };
        let value = if *key == "EGFR" {
            // eGFR follows creatinine, age and sex (Japanese Society of Nephrology equation).
            if person.age < 18 {
                continue;
            }
            let cre = match creatinine {
                Some(cre) => cre,
                None => {
                    let (mean, sd) = lab_distribution("CRE", conditions, sex_idx);
                    normal(rng, mean, sd).max(0.3)
                }
            };
            let egfr = 194.0
                * f64::powf(cre, -1.094)
                * f64::from(person.age).powf(-0.287)
                * if sex_idx == 1 { 0.739 } else { 1.0 };
            round_to(egfr.clamp(3.0, 150.0), def.decimals)
        } else {
            let (mean, sd) = lab_distribution(key, conditions, sex_idx);
            let floor = if def.decimals == 0 { 1.0 } else { 10f64.powi(-i32::from(def.decimals)) };
            round_to(normal(rng, mean, sd).max(floor), def.decimals)
        };
        if *key == "CRE" {
            creatinine = Some(value);
        }
        let decimals = usize::from(def.decimals);
        record.labs.push(LabResult {
            code: def.code.to_owned(),
            name: Some(def.name.to_owned()),
            value: LabValue::Numeric(value),
            unit: Some(def.unit.to_owned()),
            reference_range: Some(format!(
                "{:.decimals$}-{:.decimals$}",
                def.low[sex_idx], def.high[sex_idx]
            )),
            date,
        });
    }
}

/// Mean and standard deviation of a lab: the disease's when the person has one that shifts it.
fn lab_distribution(key: &str, conditions: &[&Condition], sex_idx: usize) -> (f64, f64) {
    let effect = conditions.iter().flat_map(|c| c.disease.effects.iter()).find(|(lab, _, _)| *lab == key);
    match (effect, clinical::lab_def(key)) {
        (Some((_, mean, sd)), _) => (*mean, *sd),
        (None, Some(def)) => (def.mean[sex_idx], def.sd[sex_idx]),
        (None, None) => (1.0, 0.1),
    }
}

#[cfg(test)]
pub(crate) fn postal_prefix_matches(prefecture_name: &str, postal_code: &str) -> bool {
    let digits: String = postal_code.chars().filter(char::is_ascii_digit).collect();
    MUNICIPALITIES.iter().any(|m| {
        PREFECTURES[usize::from(m.prefecture) - 1].name == prefecture_name
            && digits.starts_with(m.postal_prefix)
    })
}
