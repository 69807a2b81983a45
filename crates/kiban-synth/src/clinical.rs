//! Embedded clinical tables: departments, diseases with prevalence by age and sex, drugs, lab tests and
//! procedures.
//!
//! Codes: ICD-10 codes are real. MEDIS disease key numbers (病名管理番号, 8 digits) for 高血圧症 20061593,
//! 胃炎 20054174, 胃癌 20054178 and 狭心症 20058911 are taken from the SS-MIX2 and JP Core samples; the
//! others are illustrative 8-digit codes in the same range. JLAC10 codes for 総蛋白, アルブミン, A/G比,
//! カリウム and eGFR come from the samples; the others follow the JLAC10 structure (analyte 5, identification 4,
//! specimen 3, method 3, result 2) with commonly used values but are illustrative where unsure. HOT9 and YJ
//! codes for アムロジピンＯＤ錠１０ｍｇ, カロナール錠５００, カルボシステイン錠２５０ｍｇ and プレドニン錠５ｍｇ
//! come from the samples; the others are illustrative codes of the right shape (YJ: 7-character drug-price
//! code prefix of the right therapeutic class). Prevalence figures are rough and only meant to give a
//! realistic shape (hypertension common in the old, asthma in children, breast cancer in women).

/// A clinical department (診療科) with its SS-MIX2 code (JAMI clinical-department table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Department {
    pub(crate) code: &'static str,
    pub(crate) name: &'static str,
}

pub(crate) const DEPARTMENTS: &[Department] = &[
    Department { code: "01", name: "内科" },
    Department { code: "02", name: "精神科" },
    Department { code: "04", name: "神経内科" },
    Department { code: "05", name: "呼吸器科" },
    Department { code: "06", name: "消化器科" },
    Department { code: "08", name: "循環器科" },
    Department { code: "09", name: "小児科" },
    Department { code: "10", name: "外科" },
    Department { code: "11", name: "整形外科" },
    Department { code: "20", name: "ひ尿器科" },
    Department { code: "23", name: "産婦人科" },
    Department { code: "26", name: "眼科" },
    Department { code: "27", name: "耳鼻いんこう科" },
];

/// The SS-MIX2 code of a department name; `None` for names not in [`DEPARTMENTS`].
pub(crate) fn department_code(name: &str) -> Option<&'static str> {
    DEPARTMENTS.iter().find(|department| department.name == name).map(|department| department.code)
}

/// A lab test with its sex-specific distribution in healthy people and reference range.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LabDef {
    pub(crate) key: &'static str,
    /// JLAC10, 17 characters.
    pub(crate) code: &'static str,
    pub(crate) name: &'static str,
    pub(crate) unit: &'static str,
    pub(crate) decimals: u8,
    /// Mean and standard deviation for [male, female].
    pub(crate) mean: [f64; 2],
    pub(crate) sd: [f64; 2],
    /// Reference range (基準値) for [male, female].
    pub(crate) low: [f64; 2],
    pub(crate) high: [f64; 2],
}

#[allow(clippy::too_many_arguments)]
const fn lab(
    key: &'static str,
    code: &'static str,
    name: &'static str,
    unit: &'static str,
    decimals: u8,
    mean: [f64; 2],
    sd: [f64; 2],
    low: [f64; 2],
    high: [f64; 2],
) -> LabDef {
    LabDef { key, code, name, unit, decimals, mean, sd, low, high }
}

/// Reference ranges follow the JCCLS common reference intervals.
pub(crate) const LABS: &[LabDef] = &[
    lab("TP", "3A010000002327101", "総蛋白", "g/dL", 1, [7.2, 7.2], [0.4, 0.4], [6.6, 6.6], [8.1, 8.1]),
    lab("ALB", "3A015000002327101", "アルブミン", "g/dL", 1, [4.4, 4.3], [0.3, 0.3], [4.1, 4.1], [5.1, 5.1]),
    lab("AST", "3B035000002327201", "AST", "U/L", 0, [22.0, 20.0], [6.0, 5.0], [13.0, 13.0], [30.0, 30.0]),
    lab("ALT", "3B045000002327201", "ALT", "U/L", 0, [22.0, 15.0], [9.0, 5.0], [10.0, 7.0], [42.0, 23.0]),
    lab("GGT", "3B090000002327201", "γ-GT", "U/L", 0, [35.0, 18.0], [15.0, 7.0], [13.0, 9.0], [64.0, 32.0]),
    lab(
        "TC",
        "3F050000002327101",
        "総コレステロール",
        "mg/dL",
        0,
        [195.0, 200.0],
        [28.0, 28.0],
        [142.0, 142.0],
        [248.0, 248.0],
    ),
    lab(
        "TG",
        "3F015000002327101",
        "中性脂肪",
        "mg/dL",
        0,
        [120.0, 80.0],
        [45.0, 30.0],
        [40.0, 30.0],
        [234.0, 117.0],
    ),
    lab(
        "HDL",
        "3F070000002327101",
        "HDLコレステロール",
        "mg/dL",
        0,
        [55.0, 66.0],
        [12.0, 13.0],
        [38.0, 48.0],
        [90.0, 103.0],
    ),
    lab(
        "LDL",
        "3F077000002327101",
        "LDLコレステロール",
        "mg/dL",
        0,
        [115.0, 115.0],
        [25.0, 25.0],
        [65.0, 65.0],
        [163.0, 163.0],
    ),
    lab(
        "BUN",
        "3C025000002327101",
        "尿素窒素",
        "mg/dL",
        1,
        [14.0, 13.0],
        [3.0, 3.0],
        [8.0, 8.0],
        [20.0, 20.0],
    ),
    lab(
        "CRE",
        "3C015000002327101",
        "クレアチニン",
        "mg/dL",
        2,
        [0.85, 0.62],
        [0.1, 0.08],
        [0.65, 0.46],
        [1.07, 0.79],
    ),
    lab(
        "EGFR",
        "8A065000002391901",
        "eGFR",
        "mL/min/1.73m2",
        1,
        [75.0, 75.0],
        [12.0, 12.0],
        [60.0, 60.0],
        [120.0, 120.0],
    ),
    lab("UA", "3C020000002327101", "尿酸", "mg/dL", 1, [5.8, 4.3], [1.0, 0.8], [3.7, 2.6], [7.8, 5.5]),
    lab(
        "GLU",
        "3D010000002227101",
        "グルコース",
        "mg/dL",
        0,
        [95.0, 92.0],
        [9.0, 8.0],
        [73.0, 73.0],
        [109.0, 109.0],
    ),
    lab("HBA1C", "3D046000001906202", "HbA1c(NGSP)", "%", 1, [5.5, 5.5], [0.3, 0.3], [4.9, 4.9], [6.0, 6.0]),
    lab(
        "NA",
        "3H010000002327201",
        "ナトリウム",
        "mmol/L",
        0,
        [141.0, 141.0],
        [1.8, 1.8],
        [138.0, 138.0],
        [145.0, 145.0],
    ),
    lab("K", "3H015000002326101", "カリウム", "mmol/L", 1, [4.2, 4.2], [0.3, 0.3], [3.6, 3.6], [4.8, 4.8]),
    lab("CRP", "5C070000002329201", "CRP", "mg/dL", 2, [0.06, 0.05], [0.04, 0.04], [0.0, 0.0], [0.14, 0.14]),
    lab("WBC", "2A990000001930101", "白血球数", "10^3/uL", 1, [6.0, 5.6], [1.3, 1.2], [3.3, 3.3], [8.6, 8.6]),
    lab(
        "RBC",
        "2A020000001930101",
        "赤血球数",
        "10^6/uL",
        2,
        [4.9, 4.4],
        [0.3, 0.28],
        [4.35, 3.86],
        [5.55, 4.92],
    ),
    lab(
        "HB",
        "2A030000001930101",
        "ヘモグロビン",
        "g/dL",
        1,
        [15.2, 13.2],
        [0.9, 0.9],
        [13.7, 11.6],
        [16.8, 14.8],
    ),
    lab(
        "PLT",
        "2A050000001930101",
        "血小板数",
        "10^3/uL",
        0,
        [250.0, 260.0],
        [50.0, 55.0],
        [158.0, 158.0],
        [348.0, 348.0],
    ),
    lab("BNP", "4Q020000002252101", "BNP", "pg/mL", 1, [12.0, 15.0], [6.0, 7.0], [0.0, 0.0], [18.4, 18.4]),
    lab("TSH", "4A055000002305201", "TSH", "uIU/mL", 2, [1.8, 2.0], [0.7, 0.8], [0.5, 0.5], [5.0, 5.0]),
];

/// The general panel drawn at some visits of any patient.
pub(crate) const GENERAL_PANEL: &[&str] =
    &["TP", "ALB", "AST", "ALT", "CRE", "WBC", "RBC", "HB", "PLT", "CRP"];

pub(crate) fn lab_def(key: &str) -> Option<&'static LabDef> {
    LABS.iter().find(|lab| lab.key == key)
}

/// A drug with its codes and usual daily dose.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DrugDef {
    pub(crate) key: &'static str,
    pub(crate) name: &'static str,
    pub(crate) hot9: &'static str,
    pub(crate) yj: &'static str,
    /// MERIT-9 unit code and its Japanese name.
    pub(crate) unit_code: &'static str,
    pub(crate) unit: &'static str,
    pub(crate) daily_dose: f64,
    pub(crate) times_per_day: u32,
    /// JAMI standard usage code (illustrative) and text.
    pub(crate) usage_code: &'static str,
    pub(crate) usage: &'static str,
}

#[allow(clippy::too_many_arguments)]
const fn drug(
    key: &'static str,
    name: &'static str,
    hot9: &'static str,
    yj: &'static str,
    unit_code: &'static str,
    unit: &'static str,
    daily_dose: f64,
    times_per_day: u32,
) -> DrugDef {
    let (usage_code, usage) = match times_per_day {
        1 => ("1011000400000000", "内服・経口・１日１回朝食後"),
        2 => ("1012040400000000", "内服・経口・１日２回朝夕食後"),
        _ => ("1013044400000000", "内服・経口・１日３回朝昼夕食後"),
    };
    DrugDef { key, name, hot9, yj, unit_code, unit, daily_dose, times_per_day, usage_code, usage }
}

pub(crate) const DRUGS: &[DrugDef] = &[
    drug("amlodipine", "アムロジピンＯＤ錠１０ｍｇ", "121431401", "2171022F6276", "TAB", "錠", 1.0, 1),
    drug("candesartan", "カンデサルタン錠８ｍｇ", "116284802", "2149040F3020", "TAB", "錠", 1.0, 1),
    drug("metformin", "メトホルミン塩酸塩錠２５０ｍｇＭＴ", "119587402", "3962002F1090", "TAB", "錠", 3.0, 3),
    drug("sitagliptin", "シタグリプチン錠５０ｍｇ", "117981601", "3969010F1026", "TAB", "錠", 1.0, 1),
    drug("atorvastatin", "アトルバスタチン錠１０ｍｇ", "114873802", "2189015F1025", "TAB", "錠", 1.0, 1),
    drug("rosuvastatin", "ロスバスタチン錠２．５ｍｇ", "116131702", "2189017F1020", "TAB", "錠", 1.0, 1),
    drug("rebamipide", "レバミピド錠１００ｍｇ", "110937901", "2329021F1021", "TAB", "錠", 3.0, 3),
    drug("famotidine", "ファモチジン錠２０ｍｇ", "108932602", "2325003F2026", "TAB", "錠", 2.0, 2),
    drug("lansoprazole", "ランソプラゾールＯＤ錠１５ｍｇ", "113502101", "2329023F2028", "TAB", "錠", 1.0, 1),
    drug("montelukast", "モンテルカスト錠１０ｍｇ", "114427301", "4490026F1020", "TAB", "錠", 1.0, 1),
    drug(
        "budesonide",
        "シムビコートタービュヘイラー６０吸入",
        "116383701",
        "2290801G1028",
        "KYU",
        "吸入",
        2.0,
        2,
    ),
    drug(
        "tiotropium",
        "スピリーバ２．５μｇレスピマット６０吸入",
        "120542501",
        "2259707G1020",
        "KYU",
        "吸入",
        2.0,
        1,
    ),
    drug("furosemide", "フロセミド錠２０ｍｇ", "100925601", "2139005F1029", "TAB", "錠", 1.0, 1),
    drug("carvedilol", "カルベジロール錠２．５ｍｇ", "113290402", "2149032F1021", "TAB", "錠", 2.0, 2),
    drug("apixaban", "エリキュース錠５ｍｇ", "122006801", "3339004F2021", "TAB", "錠", 2.0, 2),
    drug("warfarin", "ワーファリン錠１ｍｇ", "103606301", "3332001F1026", "TAB", "錠", 3.0, 1),
    drug("charcoal", "クレメジン細粒分包２ｇ", "105811302", "3929003C1038", "G", "g", 6.0, 3),
    drug("alendronate", "アレンドロン酸錠３５ｍｇ", "117034401", "3999018F2029", "TAB", "錠", 1.0, 1),
    drug(
        "eldecalcitol",
        "エディロールカプセル０．７５μｇ",
        "120773901",
        "3112004M1029",
        "CAP",
        "カプセル",
        1.0,
        1,
    ),
    drug("escitalopram", "レクサプロ錠１０ｍｇ", "120129301", "1179054F1026", "TAB", "錠", 1.0, 1),
    drug("donepezil", "ドネペジル塩酸塩ＯＤ錠５ｍｇ", "118913402", "1190012F2021", "TAB", "錠", 1.0, 1),
    drug("febuxostat", "フェブリク錠２０ｍｇ", "121066501", "3949003F2020", "TAB", "錠", 1.0, 1),
    drug("levothyroxine", "チラーヂンＳ錠５０μｇ", "105893103", "2431004F2020", "TAB", "錠", 1.0, 1),
    drug("celecoxib", "セレコックス錠１００ｍｇ", "118453401", "1149037F1020", "TAB", "錠", 2.0, 2),
    drug("acetaminophen", "カロナール錠５００", "123812902", "1141007F3023", "TAB", "錠", 3.0, 3),
    drug(
        "carbocisteine",
        "カルボシステイン錠２５０ｍｇ「サワイ」",
        "103831601",
        "2233002F1280",
        "TAB",
        "錠",
        6.0,
        3,
    ),
    drug("levodopa", "ネオドパストン配合錠Ｌ１００", "105503702", "1169101F1021", "TAB", "錠", 3.0, 3),
    drug("prednisolone", "プレドニン錠５ｍｇ", "105271807", "2456001F1310", "TAB", "錠", 2.0, 2),
    drug("riluzole", "リルテック錠５０", "110868901", "1190015F1020", "TAB", "錠", 2.0, 2),
    drug("mesalazine", "アサコール錠４００ｍｇ", "121087301", "2399009F2029", "TAB", "錠", 9.0, 3),
    drug("pyridostigmine", "メスチノン錠６０ｍｇ", "104542501", "1233001F1022", "TAB", "錠", 3.0, 3),
    drug("clopidogrel", "クロピドグレル錠７５ｍｇ", "116839402", "3399008F1027", "TAB", "錠", 1.0, 1),
    drug("aspirin", "バイアスピリン錠１００ｍｇ", "111215601", "3399007H1021", "TAB", "錠", 1.0, 1),
    drug("s1", "ティーエスワン配合ＯＤ錠Ｔ２０", "121883101", "4229101F3025", "TAB", "錠", 4.0, 2),
    drug("anastrozole", "アナストロゾール錠１ｍｇ", "118531702", "4291009F1020", "TAB", "錠", 1.0, 1),
    drug("osimertinib", "タグリッソ錠８０ｍｇ", "124538901", "4291045F1022", "TAB", "錠", 1.0, 1),
    drug(
        "migalastat",
        "ガラフォルドカプセル１２３ｍｇ",
        "126057801",
        "3999044M1020",
        "CAP",
        "カプセル",
        0.5,
        1,
    ),
    drug("eltrombopag", "レボレード錠１２．５ｍｇ", "120265901", "3999030F1027", "TAB", "錠", 1.0, 1),
    drug("macitentan", "オプスミット錠１０ｍｇ", "122934201", "2190034F1026", "TAB", "錠", 1.0, 1),
    drug("fingolimod", "ジレニアカプセル０．５ｍｇ", "120810101", "3999024M1023", "CAP", "カプセル", 1.0, 1),
];

pub(crate) fn drug_def(key: &str) -> Option<&'static DrugDef> {
    DRUGS.iter().find(|drug| drug.key == key)
}

/// A procedure, coded by its section number in the national fee schedule (診療報酬点数表の区分番号).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ProcedureDef {
    pub(crate) key: &'static str,
    pub(crate) code: &'static str,
    pub(crate) name: &'static str,
}

/// The code-system name written for procedures.
pub(crate) const PROCEDURE_CODE_SYSTEM: &str = "JP-MHLW-FEE-SCHEDULE";

pub(crate) const PROCEDURES: &[ProcedureDef] = &[
    ProcedureDef { key: "egd", code: "D308", name: "上部消化管内視鏡検査" },
    ProcedureDef { key: "colonoscopy", code: "D313", name: "大腸内視鏡検査" },
    ProcedureDef { key: "ct", code: "E200", name: "CT撮影" },
    ProcedureDef { key: "dialysis", code: "J038", name: "人工腎臓（血液透析）" },
    ProcedureDef { key: "cataract", code: "K282", name: "水晶体再建術" },
    ProcedureDef { key: "echo", code: "D215", name: "超音波検査（心臓）" },
];

pub(crate) fn procedure_def(key: &str) -> Option<&'static ProcedureDef> {
    PROCEDURES.iter().find(|procedure| procedure.key == key)
}

/// How a disease shows up over time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Course {
    /// Followed at regular visits with prescriptions and labs.
    Chronic,
    /// One or two visits around one date.
    Acute,
}

/// A disease with its codes, department, prevalence by age band and its clinical footprint.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DiseaseDef {
    pub(crate) icd10: &'static str,
    pub(crate) medis: &'static str,
    pub(crate) name: &'static str,
    pub(crate) department: &'static str,
    pub(crate) course: Course,
    /// Prevalence by age band 0-19, 20-39, 40-59, 60-74, 75+ for [male, female].
    pub(crate) prevalence: [[f64; 5]; 2],
    pub(crate) drugs: &'static [&'static str],
    pub(crate) labs: &'static [&'static str],
    /// (lab key, mean, sd) replacing the healthy distribution in patients with the disease.
    pub(crate) effects: &'static [(&'static str, f64, f64)],
    pub(crate) procedures: &'static [&'static str],
}

#[allow(clippy::too_many_arguments)]
const fn disease(
    icd10: &'static str,
    medis: &'static str,
    name: &'static str,
    department: &'static str,
    course: Course,
    prevalence: [[f64; 5]; 2],
    drugs: &'static [&'static str],
    labs: &'static [&'static str],
    effects: &'static [(&'static str, f64, f64)],
    procedures: &'static [&'static str],
) -> DiseaseDef {
    DiseaseDef { icd10, medis, name, department, course, prevalence, drugs, labs, effects, procedures }
}

const fn same(rates: [f64; 5]) -> [[f64; 5]; 2] {
    [rates, rates]
}

const R: f64 = 1.0e-4;
use Course::{Acute, Chronic};

pub(crate) const DISEASES: &[DiseaseDef] = &[
    disease(
        "I10",
        "20061593",
        "高血圧症",
        "内科",
        Chronic,
        [[0.001, 0.03, 0.25, 0.5, 0.65], [0.001, 0.01, 0.15, 0.4, 0.6]],
        &["amlodipine", "candesartan"],
        &["NA", "K", "CRE"],
        &[],
        &[],
    ),
    disease(
        "E119",
        "20068613",
        "２型糖尿病",
        "内科",
        Chronic,
        [[0.001, 0.01, 0.1, 0.2, 0.2], [0.001, 0.005, 0.04, 0.1, 0.12]],
        &["metformin", "sitagliptin"],
        &["HBA1C", "GLU"],
        &[("HBA1C", 7.4, 1.0), ("GLU", 152.0, 35.0)],
        &[],
    ),
    disease(
        "E785",
        "20061876",
        "脂質異常症",
        "内科",
        Chronic,
        [[0.005, 0.05, 0.25, 0.35, 0.3], [0.005, 0.03, 0.2, 0.4, 0.35]],
        &["atorvastatin", "rosuvastatin"],
        &["TC", "TG", "HDL", "LDL"],
        &[("LDL", 158.0, 30.0), ("TG", 190.0, 70.0), ("TC", 240.0, 30.0)],
        &[],
    ),
    disease(
        "K297",
        "20054174",
        "胃炎",
        "消化器科",
        Chronic,
        same([0.01, 0.04, 0.08, 0.1, 0.1]),
        &["rebamipide", "famotidine"],
        &[],
        &[],
        &["egd"],
    ),
    disease(
        "K219",
        "20064412",
        "逆流性食道炎",
        "消化器科",
        Chronic,
        same([0.005, 0.03, 0.06, 0.08, 0.08]),
        &["lansoprazole"],
        &[],
        &[],
        &["egd"],
    ),
    disease(
        "J459",
        "20058123",
        "気管支喘息",
        "呼吸器科",
        Chronic,
        same([0.06, 0.04, 0.03, 0.04, 0.05]),
        &["montelukast", "budesonide"],
        &["WBC"],
        &[],
        &[],
    ),
    disease(
        "J449",
        "20081522",
        "慢性閉塞性肺疾患",
        "呼吸器科",
        Chronic,
        [[0.0, 0.001, 0.01, 0.05, 0.09], [0.0, 0.0, 0.003, 0.01, 0.02]],
        &["tiotropium"],
        &["WBC", "CRP"],
        &[],
        &["ct"],
    ),
    disease(
        "I509",
        "20061282",
        "心不全",
        "循環器科",
        Chronic,
        same([0.0, 0.001, 0.005, 0.03, 0.1]),
        &["furosemide", "carvedilol"],
        &["BNP", "NA", "K", "CRE"],
        &[("BNP", 320.0, 220.0)],
        &["echo"],
    ),
    disease(
        "I489",
        "20061110",
        "心房細動",
        "循環器科",
        Chronic,
        [[0.0, 0.001, 0.01, 0.04, 0.08], [0.0, 0.0, 0.003, 0.02, 0.05]],
        &["apixaban", "warfarin"],
        &["HB", "PLT", "CRE"],
        &[],
        &["echo"],
    ),
    disease(
        "I209",
        "20058911",
        "狭心症",
        "循環器科",
        Chronic,
        same([0.0, 0.0, 0.01, 0.04, 0.06]),
        &["aspirin", "clopidogrel"],
        &["TC", "LDL"],
        &[],
        &["ct"],
    ),
    disease(
        "I639",
        "20060347",
        "脳梗塞",
        "神経内科",
        Chronic,
        same([0.0, 0.0, 0.005, 0.02, 0.05]),
        &["clopidogrel"],
        &["TC", "LDL"],
        &[],
        &["ct"],
    ),
    disease(
        "N189",
        "20081904",
        "慢性腎臓病",
        "内科",
        Chronic,
        same([0.0, 0.005, 0.03, 0.12, 0.25]),
        &["charcoal"],
        &["CRE", "EGFR", "BUN", "K"],
        &[("CRE", 1.9, 0.8), ("BUN", 32.0, 10.0), ("K", 4.9, 0.4)],
        &["dialysis"],
    ),
    disease(
        "E790",
        "20062120",
        "高尿酸血症",
        "内科",
        Chronic,
        [[0.0, 0.02, 0.06, 0.08, 0.06], [0.0, 0.003, 0.01, 0.015, 0.01]],
        &["febuxostat"],
        &["UA", "CRE"],
        &[("UA", 8.3, 0.9)],
        &[],
    ),
    disease(
        "E039",
        "20059071",
        "甲状腺機能低下症",
        "内科",
        Chronic,
        [[0.0, 0.001, 0.005, 0.008, 0.008], [0.0, 0.005, 0.02, 0.03, 0.03]],
        &["levothyroxine"],
        &["TSH"],
        &[("TSH", 9.5, 4.0)],
        &[],
    ),
    disease(
        "M8199",
        "20081330",
        "骨粗鬆症",
        "整形外科",
        Chronic,
        [[0.0, 0.0, 0.005, 0.03, 0.08], [0.0, 0.0, 0.03, 0.2, 0.4]],
        &["alendronate", "eldecalcitol"],
        &[],
        &[],
        &[],
    ),
    disease(
        "M170",
        "20063118",
        "変形性膝関節症",
        "整形外科",
        Chronic,
        [[0.0, 0.0, 0.02, 0.08, 0.15], [0.0, 0.0, 0.04, 0.14, 0.28]],
        &["celecoxib"],
        &[],
        &[],
        &[],
    ),
    disease(
        "H251",
        "20065427",
        "老人性白内障",
        "眼科",
        Chronic,
        same([0.0, 0.0, 0.02, 0.15, 0.35]),
        &[],
        &[],
        &[],
        &["cataract"],
    ),
    disease(
        "F329",
        "20057344",
        "うつ病",
        "精神科",
        Chronic,
        [[0.003, 0.02, 0.02, 0.015, 0.015], [0.005, 0.035, 0.03, 0.025, 0.02]],
        &["escitalopram"],
        &[],
        &[],
        &[],
    ),
    disease(
        "F03",
        "20063585",
        "認知症",
        "神経内科",
        Chronic,
        [[0.0, 0.0, 0.001, 0.025, 0.12], [0.0, 0.0, 0.001, 0.03, 0.17]],
        &["donepezil"],
        &[],
        &[],
        &["ct"],
    ),
    disease(
        "G20",
        "20066210",
        "パーキンソン病",
        "神経内科",
        Chronic,
        same([0.0, 0.0, 0.001, 0.005, 0.01]),
        &["levodopa"],
        &[],
        &[],
        &[],
    ),
    disease(
        "C169",
        "20054178",
        "胃癌",
        "消化器科",
        Chronic,
        [[0.0, 0.0, 0.003, 0.015, 0.025], [0.0, 0.0, 0.0015, 0.007, 0.012]],
        &["s1"],
        &["HB", "ALB", "WBC"],
        &[("HB", 11.0, 1.4), ("ALB", 3.5, 0.4)],
        &["egd", "ct"],
    ),
    disease(
        "C189",
        "20071330",
        "結腸癌",
        "消化器科",
        Chronic,
        same([0.0, 0.0, 0.003, 0.012, 0.02]),
        &["s1"],
        &["HB", "ALB"],
        &[("HB", 11.2, 1.4), ("ALB", 3.6, 0.4)],
        &["colonoscopy", "ct"],
    ),
    disease(
        "C349",
        "20083118",
        "肺癌",
        "呼吸器科",
        Chronic,
        [[0.0, 0.0, 0.002, 0.01, 0.02], [0.0, 0.0, 0.001, 0.005, 0.01]],
        &["osimertinib"],
        &["HB", "ALB", "CRP"],
        &[("CRP", 1.2, 0.8), ("ALB", 3.6, 0.4)],
        &["ct"],
    ),
    disease(
        "C509",
        "20067741",
        "乳癌",
        "外科",
        Chronic,
        [[0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.002, 0.012, 0.012, 0.01]],
        &["anastrozole"],
        &["HB", "ALB"],
        &[],
        &["ct"],
    ),
    disease(
        "J069",
        "20075045",
        "急性上気道炎",
        "内科",
        Acute,
        same([0.25, 0.1, 0.08, 0.06, 0.05]),
        &["acetaminophen", "carbocisteine"],
        &["WBC", "CRP"],
        &[("WBC", 9.5, 2.0), ("CRP", 1.5, 1.2)],
        &[],
    ),
    // The long tail: rare and designated intractable diseases (指定難病) at very low prevalence.
    disease(
        "G122",
        "20088105",
        "筋萎縮性側索硬化症",
        "神経内科",
        Chronic,
        same([0.0, 0.2 * R, R, 1.5 * R, 1.5 * R]),
        &["riluzole"],
        &[],
        &[],
        &[],
    ),
    disease(
        "E752",
        "20086420",
        "ファブリー病",
        "内科",
        Chronic,
        same([0.3 * R, 0.3 * R, 0.3 * R, 0.3 * R, 0.2 * R]),
        &["migalastat"],
        &["CRE", "EGFR"],
        &[("CRE", 1.4, 0.5)],
        &[],
    ),
    disease(
        "M329",
        "20066045",
        "全身性エリテマトーデス",
        "内科",
        Chronic,
        [[0.1 * R, R, R, R, 0.5 * R], [R, 9.0 * R, 8.0 * R, 5.0 * R, 3.0 * R]],
        &["prednisolone"],
        &["WBC", "CRP", "CRE"],
        &[("WBC", 3.2, 0.8)],
        &[],
    ),
    disease(
        "G35",
        "20085001",
        "多発性硬化症",
        "神経内科",
        Chronic,
        [[0.1 * R, R, R, 0.5 * R, 0.2 * R], [0.2 * R, 2.5 * R, 2.0 * R, R, 0.5 * R]],
        &["fingolimod"],
        &[],
        &[],
        &[],
    ),
    disease(
        "G700",
        "20064660",
        "重症筋無力症",
        "神経内科",
        Chronic,
        same([0.3 * R, R, 2.0 * R, 3.0 * R, 3.0 * R]),
        &["pyridostigmine", "prednisolone"],
        &[],
        &[],
        &[],
    ),
    disease(
        "K500",
        "20076590",
        "クローン病",
        "消化器科",
        Chronic,
        [[R, 6.0 * R, 3.0 * R, R, 0.3 * R], [0.5 * R, 3.0 * R, 1.5 * R, 0.5 * R, 0.2 * R]],
        &["mesalazine"],
        &["CRP", "ALB"],
        &[("CRP", 1.5, 1.0)],
        &["colonoscopy"],
    ),
    disease(
        "K519",
        "20062581",
        "潰瘍性大腸炎",
        "消化器科",
        Chronic,
        same([2.0 * R, 12.0 * R, 12.0 * R, 8.0 * R, 4.0 * R]),
        &["mesalazine"],
        &["CRP", "HB"],
        &[],
        &["colonoscopy"],
    ),
    disease(
        "D693",
        "20072940",
        "特発性血小板減少性紫斑病",
        "内科",
        Chronic,
        same([R, R, R, 2.0 * R, 2.0 * R]),
        &["eltrombopag", "prednisolone"],
        &["PLT"],
        &[("PLT", 45.0, 20.0)],
        &[],
    ),
    disease(
        "I270",
        "20086890",
        "原発性肺高血圧症",
        "循環器科",
        Chronic,
        same([0.1 * R, 0.3 * R, 0.3 * R, 0.2 * R, 0.1 * R]),
        &["macitentan"],
        &["BNP"],
        &[("BNP", 150.0, 80.0)],
        &["echo"],
    ),
];

/// Suspected diagnoses (疑い病名) recorded to justify a test and never confirmed: (ICD-10, MEDIS, name, key of the
/// procedure done to rule it out or "").
pub(crate) const SUSPECTED: &[(&str, &str, &str, &str)] = &[
    ("C169", "20054178", "胃癌", "egd"),
    ("I209", "20058911", "狭心症", "echo"),
    ("C349", "20083118", "肺癌", "ct"),
    ("E119", "20068613", "２型糖尿病", ""),
    ("C189", "20071330", "結腸癌", "colonoscopy"),
];
