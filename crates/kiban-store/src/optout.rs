//! Opt-out requests (提供停止の求め, Act §30-31, Rules 27, 31, 32): the request with the items of Rule 31,
//! who it is about, and the written notice kept for 3 years.

use std::fmt;

use chrono::{DateTime, Utc};
use kiban_audit::AuditEvent;
use kiban_model::{LocalPatientId, NaiveDate, ProviderCode, Sex};

use crate::convert::{date_text, retain_until, time_text, to_i64};
use crate::db::{Row, Tx, params};
use crate::error::StoreError;
use crate::{Store, audit};

/// Who made an opt-out request (Rule 31 item 2): the person (本人) or a bereaved family member (遺族).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RequesterKind {
    Person,
    BereavedFamily,
}

impl RequesterKind {
    /// The stored name: `person` or `bereaved_family`.
    pub fn name(self) -> &'static str {
        match self {
            RequesterKind::Person => "person",
            RequesterKind::BereavedFamily => "bereaved_family",
        }
    }

    pub fn parse(name: &str) -> Option<RequesterKind> {
        match name {
            "person" => Some(RequesterKind::Person),
            "bereaved_family" => Some(RequesterKind::BereavedFamily),
            _ => None,
        }
    }

    /// The Japanese term, as written on the notice: 本人 or 遺族.
    pub fn label_ja(self) -> &'static str {
        match self {
            RequesterKind::Person => "本人",
            RequesterKind::BereavedFamily => "遺族",
        }
    }
}

/// Who an opt-out request is about, as the requester identified them. Identified data: it lives in the
/// store like the vault and is never printed (`Debug` shows which optional keys are present, no values).
#[derive(Clone, PartialEq, Eq)]
pub struct OptoutSubject {
    /// カナ氏名, as given (matching normalizes it).
    pub name_kana: String,
    pub birth_date: NaiveDate,
    pub sex: Sex,
    /// The provider and its local patient ID, when the requester knows them.
    pub provider: Option<ProviderCode>,
    pub local_id: Option<LocalPatientId>,
    /// 保険者番号, when known.
    pub insurer_number: Option<String>,
}

impl fmt::Debug for OptoutSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OptoutSubject")
            .field("has_patient_id", &self.local_id.is_some())
            .field("has_insurer_number", &self.insurer_number.is_some())
            .finish_non_exhaustive()
    }
}

/// One opt-out request with the items of Rule 31: that a request was made (the record itself), who made
/// it, the day it was received, the day provision stops, and the day the written notice (書面) was given.
#[derive(Clone, PartialEq, Eq)]
pub struct OptoutRequest {
    /// The reference printed on the notice, e.g. `OPT-0001`.
    pub request_id: String,
    pub requester_kind: RequesterKind,
    /// 求めを行った者の氏名 (identified data).
    pub requester_name: String,
    /// The bereaved requester's relationship to the person (e.g. 長男), when given.
    pub requester_relationship: Option<String>,
    /// 求めを受けた年月日.
    pub received_on: NaiveDate,
    /// 医療情報の提供の停止の年月日.
    pub stop_on: NaiveDate,
    /// 書面の交付年月日: the retention of the notice's copy runs 3 years from this day (Rule 32).
    pub notice_given_on: NaiveDate,
    /// The kept copy of the notice, relative to the data directory.
    pub notice_path: String,
    /// SHA-256 (hex) of the notice file.
    pub notice_sha256: String,
    pub subject: OptoutSubject,
    pub recorded_at: DateTime<Utc>,
}

impl fmt::Debug for OptoutRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OptoutRequest")
            .field("request_id", &self.request_id)
            .field("requester_kind", &self.requester_kind)
            .field("received_on", &self.received_on)
            .field("stop_on", &self.stop_on)
            .field("notice_given_on", &self.notice_given_on)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// A stored opt-out request with the number the store gave it and the end of its retention.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OptoutInfo {
    pub request_number: u64,
    /// The last day the notice's copy must be kept (3 years after it was given, Rule 32).
    pub retain_until: NaiveDate,
    pub request: OptoutRequest,
}

fn next_optout_number_in(db: &Tx<'_>) -> Result<u64, StoreError> {
    db.query_one(
        "reading opt-out requests",
        "SELECT COALESCE(MAX(request_number), 0) + 1 AS next FROM optout_requests",
        params![],
    )?
    .u64("optout_requests", "next")
}

/// One row of the listing query: a request joined with its subject.
fn optout_from_row(row: &Row) -> Result<OptoutInfo, StoreError> {
    const REQUESTS: &str = "optout_requests";
    const SUBJECTS: &str = "optout_subjects";
    let corrupt = |table, column| StoreError::Corrupt { table, column };
    let subject = OptoutSubject {
        name_kana: row.text("name_kana")?,
        birth_date: row.date(SUBJECTS, "birth_date")?,
        sex: Sex::parse_lenient(&row.text("sex")?),
        provider: row
            .opt_text("provider")?
            .map(|code| ProviderCode::new(&code).map_err(|_| corrupt(SUBJECTS, "provider")))
            .transpose()?,
        local_id: row
            .opt_text("local_id")?
            .map(|id| LocalPatientId::new(&id).map_err(|_| corrupt(SUBJECTS, "local_id")))
            .transpose()?,
        insurer_number: row.opt_text("insurer_number")?,
    };
    Ok(OptoutInfo {
        request_number: row.u64(REQUESTS, "request_number")?,
        retain_until: row.date(REQUESTS, "retain_until")?,
        request: OptoutRequest {
            request_id: row.text("request_id")?,
            requester_kind: RequesterKind::parse(&row.text("requester_kind")?)
                .ok_or(corrupt(REQUESTS, "requester_kind"))?,
            requester_name: row.text("requester_name")?,
            requester_relationship: row.opt_text("requester_relationship")?,
            received_on: row.date(REQUESTS, "received_on")?,
            stop_on: row.date(REQUESTS, "stop_on")?,
            notice_given_on: row.date(REQUESTS, "notice_given_on")?,
            notice_path: row.text("notice_path")?,
            notice_sha256: row.text("notice_sha256")?,
            subject,
            recorded_at: row.time(REQUESTS, "recorded_at")?,
        },
    })
}

impl Store {
    /// The number the next recorded opt-out request will get (1 for the first). Advisory, like
    /// [`Store::next_release_number`]: [`Store::record_optout`] refuses a request ID already used.
    ///
    /// # Errors
    /// [`StoreError::Db`].
    pub fn next_optout_number(&self) -> Result<u64, StoreError> {
        self.read(next_optout_number_in)
    }

    /// Records an opt-out request, who it is about, and `audit`, in one transaction. The notice file must
    /// already be written (its path and checksum are part of the record).
    ///
    /// # Errors
    /// [`StoreError::DuplicateOptout`] when `request_id` is already recorded, [`StoreError::OutOfRange`]
    /// for an impossible retention date, [`StoreError::Db`].
    pub fn record_optout(
        &self,
        request: &OptoutRequest,
        audit: AuditEvent,
    ) -> Result<OptoutInfo, StoreError> {
        const OPERATION: &str = "recording an opt-out request";
        self.write(OPERATION, |tx| {
            let exists = tx.query_opt(
                OPERATION,
                "SELECT 1 AS found FROM optout_requests WHERE request_id = ?1",
                params![request.request_id],
            )?;
            if exists.is_some() {
                return Err(StoreError::DuplicateOptout { request_id: request.request_id.clone() });
            }
            let request_number = next_optout_number_in(tx)?;
            let retain = retain_until(request.notice_given_on)?;
            tx.execute(
                OPERATION,
                "INSERT INTO optout_requests (request_id, request_number, requester_kind, requester_name, \
                 requester_relationship, received_on, stop_on, notice_given_on, notice_path, notice_sha256, \
                 retain_until, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    request.request_id,
                    to_i64(request_number, "opt-out request number")?,
                    request.requester_kind.name(),
                    request.requester_name,
                    request.requester_relationship.as_deref(),
                    date_text(request.received_on),
                    date_text(request.stop_on),
                    date_text(request.notice_given_on),
                    request.notice_path,
                    request.notice_sha256,
                    date_text(retain),
                    time_text(request.recorded_at),
                ],
            )?;
            let subject = &request.subject;
            tx.execute(
                OPERATION,
                "INSERT INTO optout_subjects (request_id, name_kana, birth_date, sex, provider, local_id, \
                 insurer_number) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    request.request_id,
                    subject.name_kana,
                    date_text(subject.birth_date),
                    subject.sex.hl7_code(),
                    subject.provider.as_ref().map(ProviderCode::as_str),
                    subject.local_id.as_ref().map(LocalPatientId::as_str),
                    subject.insurer_number.as_deref(),
                ],
            )?;
            audit::append_in(tx, audit)?;
            Ok(OptoutInfo { request_number, retain_until: retain, request: request.clone() })
        })
    }

    /// Every opt-out request with its subject, by number.
    ///
    /// # Errors
    /// [`StoreError::Db`] or [`StoreError::Corrupt`].
    pub fn optout_requests(&self) -> Result<Vec<OptoutInfo>, StoreError> {
        self.read(|db| {
            db.query(
                "reading opt-out requests",
                "SELECT r.request_id, r.request_number, r.requester_kind, r.requester_name, \
                     r.requester_relationship, r.received_on, r.stop_on, r.notice_given_on, r.notice_path, \
                     r.notice_sha256, r.retain_until, r.recorded_at, s.name_kana, s.birth_date, s.sex, \
                     s.provider, s.local_id, s.insurer_number \
                     FROM optout_requests r JOIN optout_subjects s ON s.request_id = r.request_id \
                     ORDER BY r.request_number",
                params![],
            )?
            .iter()
            .map(optout_from_row)
            .collect()
        })
    }
}
