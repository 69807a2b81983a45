//! SS-MIX2 standardized storage: `{id[0:3]}/{id[3:6]}/{id}/{date|-}/{type}/{file}` with one HL7 v2.5
//! message per file, ISO-2022-JP, CR after every segment, shaped like the SS-MIX2 sample messages.
//!
//! Data types written: ADT-00 (patient demographics and insurance, ADT^A08), ADT-12 (outpatient or
//! emergency visit, ADT^A04), ADT-22 (admission, ADT^A01), ADT-52 (discharge, ADT^A03), PPR-01 (all
//! diagnoses of a patient in one PPR^ZD1 message), OMP-01 (one RDE^O11 prescription order per date) and
//! OML-11 (one OUL^R22 result message per date). File names are
//! `{id}_{date|-}_{type}_{order number}_{timestamp}_{department|-}_1`.
//!
//! Choices where the samples leave room:
//! - IN1-3 is the insurer number, IN1-10 the 記号 and IN1-11 the 番号 (as the ZI1 segment of the PPR sample
//!   orders them), IN1-49 the 枝番.
//! - A suspected diagnosis carries `P^疑い` in PRB-13 (problem confirmation status); the main diagnosis
//!   carries `1^主診断^JHSD0007` in PRB-18 as in the sample.
//! - RXE-3 is the dose per administration, RXE-19 the total daily dose, TQ1-6 the number of days.
//! - Procedures are not written: SS-MIX2 standardized storage has no good message type for them (they
//!   appear in FHIR and CSV output only).
//! - Messages end with CR; the MLLP end-of-block byte some sample files carry is not written.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::Datelike;
use kiban_hl7v2::write::{MessageBuilder, Segment};
use kiban_model::{EncounterClass, IdentifiedPerson, LabValue, NaiveDate, PatientRecord, PersonName};

use crate::clinical::{self, department_code};
use crate::csv_out::format_number;
use crate::write::{IO_THREADS, in_parallel, io_error};
use crate::{SynthError, SynthProvider};

fn ymd(date: NaiveDate) -> String {
    format!("{:04}{:02}{:02}", date.year(), date.month(), date.day())
}

fn name_components(name: &PersonName, kind: &'static str) -> [String; 8] {
    [
        name.family.clone(),
        name.given.clone(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        "L".to_owned(),
        kind.to_owned(),
    ]
}

fn msh(facility: &str, message_type: [&str; 3], timestamp: &str, control_id: &str) -> Segment {
    Segment::msh()
        .field(3, "HIS")
        .field(4, facility)
        .field(5, "GW")
        .field(6, "RCV")
        .field(7, timestamp)
        .components(9, &message_type)
        .field(10, control_id)
        .field(11, "P")
        .field(12, "2.5")
        .repetitions(18, &[&[""], &["ISO IR87"]])
        .field(20, "ISO 2022-1994")
        .components(21, &["SS-MIX2_1.20", "SS-MIX2", "1.2.392.200250.2.1.100.1.2.120", "ISO"])
}

fn pid(person: &IdentifiedPerson, full: bool) -> Segment {
    let mut names: Vec<[String; 8]> = Vec::new();
    if let Some(kanji) = &person.name_kanji {
        names.push(name_components(kanji, "I"));
    }
    if let Some(kana) = &person.name_kana {
        names.push(name_components(kana, "P"));
    }
    let name_refs: Vec<Vec<&str>> = names.iter().map(|n| n.iter().map(String::as_str).collect()).collect();
    let name_slices: Vec<&[&str]> = name_refs.iter().map(Vec::as_slice).collect();
    let mut segment = Segment::new("PID")
        .field(1, "0001")
        .components(3, &[person.local_id.as_str(), "", "", "", "PI"])
        .repetitions(5, &name_slices)
        .field(7, &person.birth_date.map(ymd).unwrap_or_default())
        .field(8, person.sex.hl7_code());
    if full {
        segment = segment.components(
            11,
            &[
                "",
                "",
                "",
                "",
                person.postal_code.as_deref().unwrap_or(""),
                "JPN",
                "H",
                person.address.as_deref().unwrap_or(""),
            ],
        );
        if let Some(phone) = &person.phone {
            let equipment =
                if phone.starts_with("090") || phone.starts_with("080") || phone.starts_with("070") {
                    "CP"
                } else {
                    "PH"
                };
            segment = segment.components(13, &["", "PRN", equipment, "", "", "", "", "", "", "", "", phone]);
        }
    }
    segment
}

fn pv1(class: EncounterClass, main_code: &str) -> Segment {
    Segment::new("PV1")
        .field(1, "0001")
        .field(2, class.hl7_code())
        .components(3, &[main_code, "", "", "", "", "C"])
}

struct Store<'a> {
    root: &'a Path,
    id: &'a str,
    n_files: usize,
    created: std::collections::HashSet<PathBuf>,
}

impl Store<'_> {
    fn put(
        &mut self,
        date: Option<NaiveDate>,
        data_type: &str,
        order_no: &str,
        timestamp: &str,
        department: &str,
        message: &MessageBuilder,
    ) -> Result<(), SynthError> {
        let date_dir = date.map_or_else(|| "-".to_owned(), ymd);
        let dir =
            self.root.join(&self.id[0..3]).join(&self.id[3..6]).join(self.id).join(&date_dir).join(data_type);
        if !self.created.contains(&dir) {
            fs::create_dir_all(&dir).map_err(io_error(&dir))?;
            self.created.insert(dir.clone());
        }
        let path =
            dir.join(format!("{}_{date_dir}_{data_type}_{order_no}_{timestamp}_{department}_1", self.id));
        let bytes =
            message.to_iso2022jp().map_err(|source| SynthError::Hl7 { path: path.clone(), source })?;
        let mut file = fs::File::create(&path).map_err(io_error(&path))?;
        file.write_all(&bytes).map_err(io_error(&path))?;
        self.n_files += 1;
        Ok(())
    }
}

/// A 17-digit storage timestamp (YYYYMMDDHHMMSSfff) on `date`; `seq` keeps files of one day apart.
fn timestamp(date: NaiveDate, seq: usize) -> String {
    format!("{}{:02}{:02}{:02}{:03}", ymd(date), 9 + (seq / 60) % 10, seq % 60, (seq * 7) % 60, 0)
}

/// Writes every record's messages; records are spread over threads, since the storage layout makes
/// this one small file per message and the file system, not the CPU, sets the pace.
pub(crate) fn write_provider(
    provider: &SynthProvider,
    records: &[PatientRecord],
    dir: &Path,
    tick: &mut dyn FnMut(usize),
) -> Result<usize, SynthError> {
    let per_chunk = in_parallel(records, IO_THREADS, tick, |first, chunk| {
        let mut n_files = 0;
        for (offset, record) in chunk.iter().enumerate() {
            n_files += write_record(provider.code.as_str(), record, first + offset, dir)?;
        }
        Ok(n_files)
    })?;
    Ok(per_chunk.into_iter().sum())
}

/// Writes one patient's folder; `record_no` (its position in the provider's list) makes its order
/// numbers unique and independent of which thread writes it.
fn write_record(
    facility: &str,
    record: &PatientRecord,
    record_no: usize,
    dir: &Path,
) -> Result<usize, SynthError> {
    {
        let person = &record.person;
        let id = person.local_id.as_str();
        let mut store = Store { root: dir, id, n_files: 0, created: std::collections::HashSet::new() };
        let mut order_seq = 0;
        let mut next_order = || {
            order_seq += 1;
            format!("{:09}{order_seq:06}", record_no + 1)
        };
        let department = record.encounters.first().and_then(|e| e.department.as_deref()).unwrap_or("内科");
        let main_code = department_code(department).unwrap_or("01");
        let last_date = record.encounters.iter().map(|e| e.end.unwrap_or(e.start)).max();
        let stamp_date =
            last_date.unwrap_or_else(|| NaiveDate::from_ymd_opt(2000, 1, 1).expect("valid date"));

        // ADT-00: demographics and insurance.
        let stamp = timestamp(stamp_date, 0);
        let mut message = MessageBuilder::new()
            .segment(msh(facility, ["ADT", "A08", "ADT_A01"], &stamp, &stamp))
            .segment(Segment::new("EVN").field(2, &stamp[0..12]))
            .segment(pid(person, true))
            .segment(pv1(EncounterClass::Outpatient, main_code));
        for (idx, insurance) in person.insurances.iter().enumerate() {
            let mut in1 = Segment::new("IN1")
                .field(1, &(idx + 1).to_string())
                .field(3, &insurance.insurer_number)
                .field(10, insurance.symbol.as_deref().unwrap_or(""))
                .field(11, insurance.number.as_deref().unwrap_or(""))
                .field(12, &insurance.valid_from.map(ymd).unwrap_or_default())
                .components(17, &["SEL", "本人", "HL70063"]);
            if let Some(branch) = &insurance.branch {
                in1 = in1.field(49, branch);
            }
            message.push(in1);
        }
        store.put(None, "ADT-00", "999999999999999", &stamp, "-", &message)?;

        // Visits, admissions and discharges.
        let mut seq = 1;
        for encounter in &record.encounters {
            let code = encounter.department.as_deref().and_then(department_code).unwrap_or("01");
            let start = ymd(encounter.start);
            let (data_type, message_type) = match encounter.class {
                EncounterClass::Inpatient => ("ADT-22", ["ADT", "A01", "ADT_A01"]),
                _ => ("ADT-12", ["ADT", "A04", "ADT_A01"]),
            };
            let stamp = timestamp(encounter.start, seq);
            seq += 1;
            let visit = pv1(encounter.class, code).field(10, code).field(44, &format!("{start}0900"));
            let message = MessageBuilder::new()
                .segment(msh(facility, message_type, &stamp, &stamp))
                .segment(Segment::new("EVN").field(2, &stamp[0..12]))
                .segment(pid(person, false))
                .segment(visit);
            store.put(Some(encounter.start), data_type, "999999999999999", &stamp, code, &message)?;
            if let (EncounterClass::Inpatient, Some(end)) = (encounter.class, encounter.end) {
                let stamp = timestamp(end, seq);
                seq += 1;
                let discharge = pv1(encounter.class, code)
                    .field(10, code)
                    .field(44, &format!("{start}0900"))
                    .field(45, &format!("{}1000", ymd(end)));
                let message = MessageBuilder::new()
                    .segment(msh(facility, ["ADT", "A03", "ADT_A03"], &stamp, &stamp))
                    .segment(Segment::new("EVN").field(2, &stamp[0..12]))
                    .segment(pid(person, false))
                    .segment(discharge);
                store.put(Some(end), "ADT-52", "999999999999999", &stamp, code, &message)?;
            }
        }

        // PPR-01: every diagnosis in one message.
        if !record.diagnoses.is_empty() {
            let stamp = timestamp(stamp_date, seq);
            seq += 1;
            let mut message = MessageBuilder::new()
                .segment(msh(facility, ["PPR", "ZD1", "PPR_ZD1"], &stamp, &stamp))
                .segment(pid(person, false));
            for diagnosis in &record.diagnoses {
                let order_no = next_order();
                let onset = diagnosis.onset.map(ymd).unwrap_or_default();
                let mut prb = Segment::new("PRB")
                    .field(1, "AD")
                    .field(2, &onset)
                    .components(
                        3,
                        &[
                            diagnosis.medis_code.as_deref().unwrap_or(""),
                            diagnosis.name.as_deref().unwrap_or(""),
                            "MDCDX2",
                        ],
                    )
                    .field(4, &order_no)
                    .field(7, &onset)
                    .components(10, &[diagnosis.icd10.as_deref().unwrap_or(""), "", "I10"])
                    .field(16, &onset)
                    .field(17, diagnosis.name.as_deref().unwrap_or(""));
                if diagnosis.suspected {
                    prb = prb.components(13, &["P", "疑い"]);
                }
                if diagnosis.main {
                    prb = prb.components(18, &["1", "主診断", "JHSD0007"]);
                }
                message.push(prb);
                message.push(
                    Segment::new("ORC")
                        .field(1, "NW")
                        .field(2, &order_no)
                        .components(17, &[main_code, department, "99Z01"]),
                );
            }
            store.put(None, "PPR-01", "999999999999999", &stamp, main_code, &message)?;
        }

        // OMP-01: one prescription order per date.
        let mut by_date: BTreeMap<NaiveDate, Vec<&kiban_model::Prescription>> = BTreeMap::new();
        for prescription in &record.prescriptions {
            by_date.entry(prescription.date).or_default().push(prescription);
        }
        for (date, prescriptions) in by_date {
            let order_no = next_order();
            let stamp = timestamp(date, seq);
            seq += 1;
            let mut message = MessageBuilder::new()
                .segment(msh(facility, ["RDE", "O11", "RDE_O11"], &stamp, &stamp))
                .segment(pid(person, false))
                .segment(pv1(EncounterClass::Outpatient, main_code));
            for (idx, prescription) in prescriptions.iter().enumerate() {
                let drug = clinical::DRUGS
                    .iter()
                    .find(|d| d.hot9 == prescription.drug_code || d.yj == prescription.drug_code);
                let unit = prescription.unit.as_deref().unwrap_or("");
                let unit_code = drug.map_or("", |d| d.unit_code);
                let times = drug.map_or(1, |d| d.times_per_day);
                let daily = prescription.dose.unwrap_or(0.0);
                let days = prescription.days.unwrap_or(0);
                let system = match prescription.code_system {
                    kiban_model::DrugCodeSystem::Yj => "YJ",
                    _ => "HOT9",
                };
                let daily_text = format_number(daily);
                message.push(
                    Segment::new("ORC")
                        .field(1, "NW")
                        .field(2, &order_no)
                        .field(4, &(idx + 1).to_string())
                        .field(9, &format!("{}0900", ymd(date)))
                        .components(21, &[main_code, department, "99Z01"])
                        .components(29, &["O", "外来患者オーダ", "HL70482"]),
                );
                message.push(
                    Segment::new("RXE")
                        .components(
                            2,
                            &[
                                &prescription.drug_code,
                                prescription.drug_name.as_deref().unwrap_or(""),
                                system,
                            ],
                        )
                        .field(3, &format_number(daily / f64::from(times)))
                        .components(5, &[unit_code, unit, "MR9P"])
                        .field(10, &format_number(daily * f64::from(days)))
                        .components(11, &[unit_code, unit, "MR9P"])
                        .subcomponents(19, &[&[daily_text.as_str()], &[unit_code, unit, "MR9P"]])
                        .repetitions(21, &[&["OHP", "外来処方", "MR9P"], &["OHI", "院内処方", "MR9P"]]),
                );
                message.push(
                    Segment::new("TQ1")
                        .field(1, "1")
                        .subcomponents(
                            3,
                            &[&[
                                drug.map_or("", |d| d.usage_code),
                                drug.map_or("", |d| d.usage),
                                "JAMISDP01",
                            ]],
                        )
                        .components(6, &[&days.to_string(), "d"])
                        .field(7, &format!("{}00", ymd(date))),
                );
                message.push(Segment::new("RXR").components(1, &["PO", "口", "HL70162"]));
            }
            store.put(Some(date), "OMP-01", &order_no, &stamp, main_code, &message)?;
        }

        // OML-11: one result message per specimen date.
        let mut labs_by_date: BTreeMap<NaiveDate, Vec<&kiban_model::LabResult>> = BTreeMap::new();
        for lab in &record.labs {
            labs_by_date.entry(lab.date).or_default().push(lab);
        }
        for (date, labs) in labs_by_date {
            let order_no = next_order();
            let specimen_no = order_no[3..].to_owned();
            let stamp = timestamp(date, seq);
            seq += 1;
            let collected = format!("{}0900", ymd(date));
            let mut message = MessageBuilder::new()
                .segment(msh(facility, ["OUL", "R22", "OUL_R22"], &stamp, &stamp))
                .segment(pid(person, false))
                .segment(pv1(EncounterClass::Outpatient, main_code))
                .segment(
                    Segment::new("SPM")
                        .field(1, "1")
                        .field(2, &specimen_no)
                        .components(4, &["023", "血清", "JC10"])
                        .field(17, &collected),
                )
                .segment(
                    Segment::new("OBR")
                        .field(1, "1")
                        .field(2, &order_no)
                        .field(3, &specimen_no)
                        .components(4, &["E001", "検体検査", "99O03"])
                        .field(7, &ymd(date))
                        .field(22, &format!("{}1500", ymd(date))),
                )
                .segment(
                    Segment::new("ORC")
                        .field(1, "SC")
                        .field(2, &order_no)
                        .field(3, &specimen_no)
                        .field(5, "CM")
                        .components(21, &[main_code, department, "99Z01"]),
                );
            for (idx, lab) in labs.iter().enumerate() {
                let (value_type, value) = match &lab.value {
                    LabValue::Numeric(value) => ("NM", format_number(*value)),
                    LabValue::Text(text) => ("ST", text.clone()),
                };
                let unit = lab.unit.as_deref().unwrap_or("");
                message.push(
                    Segment::new("OBX")
                        .field(1, &(idx + 1).to_string())
                        .field(2, value_type)
                        .components(3, &[&lab.code, lab.name.as_deref().unwrap_or(""), "JC10"])
                        .field(5, &value)
                        .components(6, &[unit, unit, "99XYZ"])
                        .field(7, lab.reference_range.as_deref().unwrap_or(""))
                        .field(11, "F")
                        .field(14, &collected),
                );
            }
            store.put(Some(date), "OML-11", &order_no, &stamp, main_code, &message)?;
        }
        Ok(store.n_files)
    }
}
