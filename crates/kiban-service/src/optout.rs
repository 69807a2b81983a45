//! `kiban optout`: opt-out requests (提供停止の求め, Act §30-31, Rules 27, 31, 32).
//!
//! `optout add` records a request with the items of Rule 31, issues the written notice (書面) as a
//! print-ready Japanese HTML page under `{data_dir}/optout/notices/`, and keeps it 3 years (Rule 32).
//! [`OptoutMatcher`] is how the request takes effect: intake leaves matching persons out of every later
//! batch, and release leaves every linked person with a matching record out of every later dataset.
//!
//! Matching uses the linkage normalization (`kiban_linkage::normalize`). A provider-local record matches
//! a request when
//! - the request names the provider and local patient ID, and they are the record's; or
//! - the birth dates are equal, the sexes do not contradict (equal, or one unknown), and either the
//!   normalized kana names are equal or — for a record without a kana name — the normalized insurer number
//!   is one of the record's.
//!
//! A false match only leaves someone's records out; a missed one would provide data the person asked us
//! not to, so release also excludes every record linked (名寄せ) to a matching one. The request takes effect
//! when it is recorded, even when the stop date it names is later: stopping early is always allowed.

use std::fmt;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use kiban_audit::Outcome;
use kiban_linkage::normalize::{normalize_insurer_number, normalize_kana};
use kiban_model::{IdentifiedPerson, LocalPatientId, NaiveDate, PersonName, ProviderCode, Sex};
use kiban_store::{OptoutRequest, OptoutSubject, RequesterKind};

use crate::app::Ctx;
use crate::audit_ref::{AuditAction, ObjectRef};
use crate::link::load_vault;

/// Who made the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requester {
    /// The person the records are about (本人).
    Person,
    /// A bereaved family member (遺族).
    BereavedFamily,
}

#[derive(Clone)]
pub struct OptoutForm {
    /// Who made the request: the person (本人) or a bereaved family member (遺族).
    pub requester: Requester,
    /// 求めを行った者の氏名: the requester's name, as written on the notice.
    pub requester_name: String,
    /// For a bereaved family member: the relationship to the person (e.g. 長男).
    pub relationship: Option<String>,
    /// 求めを受けた年月日: the day the request was received.
    pub received_on: NaiveDate,
    /// 医療情報の提供の停止の年月日; the day received when not given.
    pub stop_on: Option<NaiveDate>,
    /// 書面の交付年月日: the day the written notice is given; today when not given.
    pub notice_on: Option<NaiveDate>,
    /// The person's kana name (カナ氏名), family and given name.
    pub kana: String,
    /// The person's birth date: YYYY-MM-DD, YYYYMMDD, or a Japanese era date such as S23.04.05.
    pub birth_date: String,
    /// The person's sex: M/F (or 男/女, 1/2); anything else is unknown and matches either.
    pub sex: String,
    /// The provider holding the person's records, with --patient-id.
    pub provider: Option<String>,
    /// The person's patient ID at --provider.
    pub patient_id: Option<String>,
    /// The person's insurer number (保険者番号), when known.
    pub insurer_number: Option<String>,
    /// The producer's name, printed as the issuer of the notice.
    pub issuer: String,
}

impl fmt::Debug for OptoutForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names, birth date and IDs are identifying: show the dates of the request only.
        f.debug_struct("OptoutForm")
            .field("requester", &self.requester)
            .field("received_on", &self.received_on)
            .field("stop_on", &self.stop_on)
            .field("notice_on", &self.notice_on)
            .finish_non_exhaustive()
    }
}

/// What `optout add` recorded.
#[derive(Debug)]
pub struct OptoutOutcome {
    pub request_id: String,
    /// The kept copy of the written notice.
    pub notice: PathBuf,
    /// The last day the notice's copy must be kept (Rule 32).
    pub retain_until: NaiveDate,
    /// Provider records already in the vault that match: they are left out of every later release.
    pub n_vault_records_matched: usize,
}

const NOTICE_DIR: &str = "optout/notices";

/// Records an opt-out request, writes its notice and appends the audit entry with the record.
///
/// # Errors
/// An invalid birth date, provider code or patient ID, dates out of order, or a store or file failure.
/// A failed record is audited and leaves no notice behind.
pub(crate) fn add_optout(ctx: &Ctx, args: &OptoutForm) -> Result<OptoutOutcome> {
    let subject = subject(args)?;
    anyhow::ensure!(
        !normalize_kana(&subject.name_kana).is_empty(),
        "--kana is empty: give the person's kana name (カナ氏名)"
    );
    anyhow::ensure!(
        !args.requester_name.trim().is_empty(),
        "--requester-name is empty: Rule 31 item 2 needs the requester's name"
    );
    let now = ctx.now();
    let stop_on = args.stop_on.unwrap_or(args.received_on);
    let notice_given_on = args.notice_on.unwrap_or(now.date_naive());
    anyhow::ensure!(stop_on >= args.received_on, "--stop-on is before --received-on");
    anyhow::ensure!(notice_given_on >= args.received_on, "--notice-on is before --received-on");

    let request_id = format!("OPT-{:04}", ctx.store.next_optout_number()?);
    let object = ObjectRef::Optout(request_id.clone());
    let relative = format!("{NOTICE_DIR}/{request_id}.html");
    let mut request = OptoutRequest {
        request_id: request_id.clone(),
        requester_kind: match args.requester {
            Requester::Person => RequesterKind::Person,
            Requester::BereavedFamily => RequesterKind::BereavedFamily,
        },
        requester_name: args.requester_name.trim().to_owned(),
        requester_relationship: args.relationship.as_ref().map(|text| text.trim().to_owned()),
        received_on: args.received_on,
        stop_on,
        notice_given_on,
        notice_path: relative.clone(),
        notice_sha256: String::new(),
        subject,
        recorded_at: now,
    };

    // The notice goes to a staging name first and takes its final name only once it is on record.
    let dir = ctx.data_dir.join(NOTICE_DIR);
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let staging = dir.join(format!(".staging-{request_id}.html"));
    let html = notice_html(&request, &args.issuer);
    write_synced(&staging, html.as_bytes()).with_context(|| format!("writing {}", staging.display()))?;
    request.notice_sha256 = kiban_crypto::sha256_hex(html.as_bytes());

    let matcher = OptoutMatcher::new(std::slice::from_ref(&request.subject));
    let n_vault_records_matched =
        load_vault(ctx)?.iter().filter(|record| matcher.matches(&record.person)).count();
    let detail = format!(
        "requester {}; received {}, provision stops {}, notice given {}; {} provider records in the vault match",
        request.requester_kind.name(),
        request.received_on,
        request.stop_on,
        request.notice_given_on,
        n_vault_records_matched
    );
    let recorded = ctx
        .store
        .record_optout(&request, ctx.event(AuditAction::OptoutRecord, &object, Outcome::Success, detail));
    let info = match recorded {
        Ok(info) => info,
        Err(error) => {
            let _ = fs::remove_file(&staging);
            let error = anyhow::Error::new(error).context(format!("recording opt-out request {request_id}"));
            ctx.audit_failure(AuditAction::OptoutRecord, &object, Outcome::Failure, &error);
            return Err(error);
        }
    };
    let notice = ctx.data_dir.join(&relative);
    fs::rename(&staging, &notice).with_context(|| format!("publishing the notice {}", notice.display()))?;
    Ok(OptoutOutcome { request_id, notice, retain_until: info.retain_until, n_vault_records_matched })
}

fn subject(args: &OptoutForm) -> Result<OptoutSubject> {
    let birth_date = kiban_ingest::dates::parse_date(&args.birth_date).context(
        "--birth-date is not a date: use YYYY-MM-DD, YYYYMMDD or a Japanese era date such as S23.04.05",
    )?;
    let provider = args
        .provider
        .as_deref()
        .map(|code| ProviderCode::new(code).context("--provider is not a valid provider code"))
        .transpose()?;
    let local_id = args
        .patient_id
        .as_deref()
        .map(|id| LocalPatientId::new(id).context("--patient-id is not a valid patient ID"))
        .transpose()?;
    if let Some(number) = &args.insurer_number {
        anyhow::ensure!(
            normalize_insurer_number(number).is_some(),
            "--insurer-number is not an insurer number: expected 6 or 8 digits"
        );
    }
    Ok(OptoutSubject {
        name_kana: args.kana.trim().to_owned(),
        birth_date,
        sex: Sex::parse_lenient(&args.sex),
        provider,
        local_id,
        insurer_number: args.insurer_number.as_ref().map(|number| number.trim().to_owned()),
    })
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// An opt-out request as listings show it: reference and dates only, never who.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptoutListing {
    pub request_id: String,
    pub requester: &'static str,
    pub received_on: NaiveDate,
    pub stop_on: NaiveDate,
    pub notice_given_on: NaiveDate,
    pub retain_until: NaiveDate,
    pub notice_path: String,
}

pub(crate) fn list(ctx: &Ctx) -> Result<Vec<OptoutListing>> {
    Ok(ctx
        .store
        .optout_requests()?
        .into_iter()
        .map(|info| OptoutListing {
            requester: info.request.requester_kind.name(),
            received_on: info.request.received_on,
            stop_on: info.request.stop_on,
            notice_given_on: info.request.notice_given_on,
            retain_until: info.retain_until,
            notice_path: info.request.notice_path,
            request_id: info.request.request_id,
        })
        .collect())
}

/// The kept copy of a request's written notice (HTML), to print it again at the desk.
pub(crate) fn notice(ctx: &Ctx, request_id: &str) -> Result<String> {
    let Some(info) =
        ctx.store.optout_requests()?.into_iter().find(|info| info.request.request_id == request_id)
    else {
        crate::error::refuse!(NotFound, "opt-out request {request_id} does not exist");
    };
    let path = ctx.data_dir.join(&info.request.notice_path);
    std::fs::read_to_string(&path).with_context(|| format!("reading the notice {}", path.display()))
}

/// One request's identity, normalized once for matching.
struct SubjectKey {
    kana: String,
    birth_date: NaiveDate,
    sex: Sex,
    local: Option<(ProviderCode, LocalPatientId)>,
    insurer_number: Option<String>,
}

/// Decides whether a provider-local record belongs to a person who opted out (rules in the module docs).
pub(crate) struct OptoutMatcher {
    subjects: Vec<SubjectKey>,
}

impl OptoutMatcher {
    pub(crate) fn new(subjects: &[OptoutSubject]) -> OptoutMatcher {
        let subjects = subjects
            .iter()
            .map(|subject| SubjectKey {
                kana: normalize_kana(&subject.name_kana),
                birth_date: subject.birth_date,
                sex: subject.sex,
                local: subject.provider.clone().zip(subject.local_id.clone()),
                insurer_number: subject.insurer_number.as_deref().and_then(normalize_insurer_number),
            })
            .collect();
        OptoutMatcher { subjects }
    }

    /// Every recorded request.
    pub(crate) fn load(ctx: &Ctx) -> Result<OptoutMatcher> {
        let requests = ctx.store.optout_requests().context("reading the opt-out requests")?;
        let subjects: Vec<OptoutSubject> = requests.into_iter().map(|info| info.request.subject).collect();
        Ok(OptoutMatcher::new(&subjects))
    }

    /// Whether no request was recorded: nothing can match.
    pub(crate) fn is_empty(&self) -> bool {
        self.subjects.is_empty()
    }

    pub(crate) fn matches(&self, person: &IdentifiedPerson) -> bool {
        if self.subjects.is_empty() {
            return false;
        }
        let kana = person.name_kana.as_ref().map(kana_key).filter(|kana| !kana.is_empty());
        let insurers: Vec<String> = person
            .insurances
            .iter()
            .filter_map(|insurance| normalize_insurer_number(&insurance.insurer_number))
            .collect();
        self.subjects.iter().any(|subject| {
            if subject.local.as_ref().is_some_and(|(provider, local_id)| {
                *provider == person.provider && *local_id == person.local_id
            }) {
                return true;
            }
            let sexes_agree =
                subject.sex == person.sex || subject.sex == Sex::Unknown || person.sex == Sex::Unknown;
            if person.birth_date != Some(subject.birth_date) || !sexes_agree {
                return false;
            }
            match &kana {
                Some(kana) => *kana == subject.kana,
                None => subject.insurer_number.as_ref().is_some_and(|number| insurers.contains(number)),
            }
        })
    }
}

fn kana_key(name: &PersonName) -> String {
    normalize_kana(&name.joined())
}

/// Escapes text for HTML element content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn japanese_date(date: NaiveDate) -> String {
    date.format("%Y年%-m月%-d日").to_string()
}

/// The written notice (書面, Act §31(1)) with the items of Rule 31, as a print-ready A4 page.
fn notice_html(request: &OptoutRequest, issuer: &str) -> String {
    let requester = match (&request.requester_kind, &request.requester_relationship) {
        (RequesterKind::BereavedFamily, Some(relationship)) => {
            format!("{}（遺族・続柄：{}）", escape(&request.requester_name), escape(relationship))
        }
        (kind, _) => format!("{}（{}）", escape(&request.requester_name), kind.label_ja()),
    };
    let subject = &request.subject;
    format!(
        r#"<!DOCTYPE html>
<html lang="ja">
<head>
<meta charset="utf-8">
<title>医療情報の提供の停止の求めについて（{id}）</title>
<style>
@page {{ size: A4; margin: 25mm 20mm; }}
body {{ font-family: "Hiragino Mincho ProN", "Yu Mincho", "Noto Serif CJK JP", serif; font-size: 11pt; line-height: 1.8; color: #000; }}
h1 {{ font-size: 15pt; text-align: center; margin: 1.5em 0; }}
.meta {{ text-align: right; }}
table {{ border-collapse: collapse; width: 100%; margin: 1em 0; }}
th, td {{ border: 1px solid #000; padding: 0.4em 0.6em; vertical-align: top; text-align: left; }}
th {{ width: 32%; font-weight: normal; background: #f2f2f2; }}
.note {{ font-size: 9.5pt; }}
</style>
</head>
<body>
<p class="meta">受付番号：{id}<br>交付年月日：{notice_on}</p>
<p>{requester} 様</p>
<p class="meta">{issuer}</p>
<h1>医療情報の提供の停止の求めについて（書面）</h1>
<p>次世代医療基盤法第三十条第一項の規定による医療情報の提供の停止の求めを受け付けましたので、同法第三十一条第一項の規定により、次のとおり書面を交付します。</p>
<table>
<tr><th>一　求めがあった旨</th><td>医療情報の認定匿名加工医療情報作成事業者への提供の停止の求めがありました。</td></tr>
<tr><th>二　求めを行った者</th><td>{requester}</td></tr>
<tr><th>三　求めを受けた年月日</th><td>{received_on}</td></tr>
<tr><th>四　書面を交付する旨</th><td>この書面は、上記の求めに係る書面として交付するものです。</td></tr>
<tr><th>五　医療情報の提供の停止の年月日</th><td>{stop_on}</td></tr>
<tr><th>六　書面の交付年月日</th><td>{notice_on}</td></tr>
</table>
<p>停止の対象となる方</p>
<table>
<tr><th>氏名（カナ）</th><td>{kana}</td></tr>
<tr><th>生年月日</th><td>{birth}</td></tr>
</table>
<p class="note">上記の方の医療情報は、停止の年月日以降、当事業者が受領する医療情報から除外し、当事業者が作成・提供する匿名加工医療情報に含めません。この書面の写しは、交付の日から三年間保存します（次世代医療基盤法施行規則第三十二条）。</p>
</body>
</html>
"#,
        id = escape(&request.request_id),
        notice_on = japanese_date(request.notice_given_on),
        received_on = japanese_date(request.received_on),
        stop_on = japanese_date(request.stop_on),
        requester = requester,
        issuer = escape(issuer),
        kana = escape(&subject.name_kana),
        birth = japanese_date(subject.birth_date),
    )
}

#[cfg(test)]
mod tests {
    use kiban_model::Insurance;

    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn subject() -> OptoutSubject {
        OptoutSubject {
            name_kana: "ﾔﾏﾀﾞ ﾕｰｺ".to_owned(),
            birth_date: date(1950, 5, 6),
            sex: Sex::Female,
            provider: None,
            local_id: None,
            insurer_number: Some("138057".to_owned()),
        }
    }

    fn person(local_id: &str, kana: Option<(&str, &str)>, birth: NaiveDate, sex: Sex) -> IdentifiedPerson {
        let mut person = IdentifiedPerson::new(
            ProviderCode::new("1310000001").unwrap(),
            LocalPatientId::new(local_id).unwrap(),
        );
        person.name_kana = kana.map(|(family, given)| PersonName::new(family, given));
        person.birth_date = Some(birth);
        person.sex = sex;
        person
    }

    #[test]
    fn matching_uses_the_linkage_normalization() {
        let matcher = OptoutMatcher::new(&[subject()]);
        let check = |person: &IdentifiedPerson, expected: bool| assert_eq!(matcher.matches(person), expected);
        let birth = date(1950, 5, 6);
        // Width, script, spaces and long-vowel spellings of one name.
        check(&person("1", Some(("やまだ", "ゆうこ")), birth, Sex::Female), true);
        check(&person("2", Some(("ヤマダユウコ", "")), birth, Sex::Unknown), true);
        check(&person("3", Some(("ヤマダ", "ユウコ")), date(1950, 5, 7), Sex::Female), false);
        check(&person("4", Some(("ヤマダ", "ユウコ")), birth, Sex::Male), false);
        check(&person("5", Some(("ヤマダ", "ハナコ")), birth, Sex::Female), false);
        // No kana name: the insurer number stands in, padded or not.
        let mut insured = person("6", None, birth, Sex::Female);
        insured.insurances.push(Insurance { insurer_number: "00138057".to_owned(), ..Insurance::default() });
        check(&insured, true);
        check(&person("7", None, birth, Sex::Female), false);
        // The provider-local ID matches whatever the demographics say.
        let mut by_id = subject();
        by_id.provider = Some(ProviderCode::new("1310000001").unwrap());
        by_id.local_id = Some(LocalPatientId::new("8").unwrap());
        let matcher = OptoutMatcher::new(&[by_id]);
        assert!(matcher.matches(&person("8", Some(("サトウ", "")), date(2000, 1, 1), Sex::Male)));
        assert!(!OptoutMatcher::new(&[]).matches(&person(
            "1",
            Some(("やまだ", "ゆうこ")),
            birth,
            Sex::Female
        )));
    }

    #[test]
    fn the_notice_holds_the_items_of_rule_31_and_escapes_values() {
        let request = OptoutRequest {
            request_id: "OPT-0007".to_owned(),
            requester_kind: RequesterKind::BereavedFamily,
            requester_name: "山田<太郎>".to_owned(),
            requester_relationship: Some("長男".to_owned()),
            received_on: date(2026, 4, 1),
            stop_on: date(2026, 4, 2),
            notice_given_on: date(2026, 4, 3),
            notice_path: String::new(),
            notice_sha256: String::new(),
            subject: subject(),
            recorded_at: chrono::DateTime::UNIX_EPOCH,
        };
        let html = notice_html(&request, "テスト事業者");
        for expected in [
            "受付番号：OPT-0007",
            "求めがあった旨",
            "山田&lt;太郎&gt;（遺族・続柄：長男）",
            "三　求めを受けた年月日</th><td>2026年4月1日",
            "書面を交付する旨",
            "五　医療情報の提供の停止の年月日</th><td>2026年4月2日",
            "六　書面の交付年月日</th><td>2026年4月3日",
            "テスト事業者",
            "三年間保存",
        ] {
            assert!(html.contains(expected), "the notice lacks {expected}");
        }
        assert!(!html.contains("<太郎>"));
    }

    #[test]
    fn debug_of_the_arguments_shows_no_identifying_value() {
        let args = OptoutForm {
            requester: Requester::Person,
            requester_name: "山田花子".to_owned(),
            relationship: None,
            received_on: date(2026, 4, 1),
            stop_on: None,
            notice_on: None,
            kana: "ヤマダ ハナコ".to_owned(),
            birth_date: "1950-05-06".to_owned(),
            sex: "F".to_owned(),
            provider: Some("1310000001".to_owned()),
            patient_id: Some("000123".to_owned()),
            insurer_number: Some("138057".to_owned()),
            issuer: "x".to_owned(),
        };
        let debug = format!("{args:?}");
        for value in ["山田", "ヤマダ", "1950", "000123", "138057"] {
            assert!(!debug.contains(value), "Debug shows {value}");
        }
    }
}
