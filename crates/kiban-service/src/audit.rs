//! `kiban ledger`, `kiban receipts` and `kiban audit`: the legal records, shown and exported.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, Result, anyhow};
use chrono::{DateTime, Utc};
use kiban_audit::AuditEntry;
use kiban_store::{BatchId, QuarantinedInput};

use crate::app::Ctx;

/// The audit log checked from its first entry to its signed head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditVerified {
    pub n_entries: u64,
    /// The head entry's hash (hex).
    pub head_hash: String,
    /// The last entry a signature covers.
    pub signed_through: u64,
    pub n_checkpoints: usize,
    /// The Ed25519 public key the checkpoints verify under (hex): an auditor's copy checks it.
    pub public_key: String,
}

pub(crate) fn verify(ctx: &Ctx) -> Result<AuditVerified> {
    let log = ctx.store.verify_audit().context("the audit log does not verify")?;
    Ok(AuditVerified {
        n_entries: log.chain.n_entries,
        head_hash: hex::encode(log.chain.head_hash),
        signed_through: log.signed_through.unwrap_or(0),
        n_checkpoints: log.n_checkpoints,
        public_key: hex::encode(ctx.store.audit_public_key()?),
    })
}

/// Which audit entries to show; every bound is optional.
#[derive(Clone, Default, Debug)]
pub struct AuditFilter {
    pub user: Option<String>,
    /// A prefix of the object, e.g. `release:` or `batch:3`.
    pub object: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

impl AuditFilter {
    /// A filter from text bounds (RFC 3339 times, or dates meaning midnight UTC).
    ///
    /// # Errors
    /// A bound that is neither.
    pub fn parse(
        user: Option<&str>,
        object: Option<&str>,
        since: Option<&str>,
        until: Option<&str>,
    ) -> Result<AuditFilter, crate::ServiceError> {
        let time = |text: &str| {
            parse_time(text).map_err(|error| {
                crate::ServiceError::new(crate::ErrorCode::InvalidRequest, error.to_string())
            })
        };
        Ok(AuditFilter {
            user: user.filter(|text| !text.is_empty()).map(str::to_owned),
            object: object.filter(|text| !text.is_empty()).map(str::to_owned),
            since: since.filter(|text| !text.is_empty()).map(time).transpose()?,
            until: until.filter(|text| !text.is_empty()).map(time).transpose()?,
        })
    }

    pub fn matches(&self, event: &kiban_audit::AuditEvent) -> bool {
        self.user.as_deref().is_none_or(|user| event.actor == user)
            && self.object.as_deref().is_none_or(|prefix| event.object.starts_with(prefix))
            && self.since.is_none_or(|since| event.at >= since)
            && self.until.is_none_or(|until| event.at < until)
    }
}

/// Parses an audit time bound: RFC 3339, or a date (midnight UTC).
fn parse_time(text: &str) -> Result<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| anyhow!("{text:?} is neither an RFC 3339 time nor a date (YYYY-MM-DD)"))?;
    Ok(date.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc())
}

pub(crate) fn show(ctx: &Ctx, filter: &AuditFilter) -> Result<Vec<AuditEntry>> {
    Ok(ctx.store.audit_entries()?.into_iter().filter(|entry| filter.matches(&entry.event)).collect())
}

pub(crate) fn quarantine(ctx: &Ctx, batch: Option<u64>) -> Result<Vec<QuarantinedInput>> {
    let batches = match batch {
        Some(batch) => vec![BatchId(batch)],
        None => ctx.store.batches()?.into_iter().map(|info| info.id).collect(),
    };
    let mut inputs = Vec::new();
    for batch in batches {
        inputs.extend(ctx.store.quarantine(batch)?);
    }
    Ok(inputs)
}

/// An account as listings show it: no hash, no secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserSummary {
    pub name: String,
    pub display_name: String,
    pub roles: Vec<String>,
    pub enrolled: bool,
    pub password_changed_at: Option<DateTime<Utc>>,
    pub failed_logins: u32,
    pub locked_reason: Option<String>,
}

pub(crate) fn users(ctx: &Ctx) -> Result<Vec<UserSummary>> {
    Ok(ctx
        .store
        .users()?
        .into_iter()
        .map(|user| UserSummary {
            enrolled: user.password_hash.is_some(),
            name: user.name,
            display_name: user.display_name,
            roles: user.roles,
            password_changed_at: user.password_changed_at,
            failed_logins: user.failed_logins,
            locked_reason: user.locked_reason,
        })
        .collect())
}

/// The key store as `kiban keys status` shows it: objects and KEK IDs, never key material.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyStatus {
    pub kek_id: String,
    pub kek_source: crate::KekSource,
    pub keystore_dir: PathBuf,
    /// The audit checkpoints' Ed25519 public key (hex).
    pub audit_public_key: String,
    /// (object, KEK ID) of every wrapped key.
    pub entries: Vec<(String, String)>,
}

pub(crate) fn key_status(ctx: &Ctx) -> Result<KeyStatus> {
    let keys = ctx.store.keys()?;
    Ok(KeyStatus {
        kek_id: keys.kek.id().to_string(),
        kek_source: crate::keys::kek_source(&ctx.data_dir),
        keystore_dir: keys.keystore.dir().to_owned(),
        audit_public_key: hex::encode(keys.signer.public_key()),
        entries: keys.keystore.list()?.into_iter().map(|entry| (entry.object, entry.kek_id)).collect(),
    })
}

pub(crate) fn export_ledger(ctx: &Ctx) -> Result<PathBuf> {
    let path = exports_dir(ctx)?.join("ledger.csv");
    let mut writer = csv::Writer::from_path(&path).with_context(|| format!("writing {}", path.display()))?;
    writer.write_record([
        "id",
        "kind",
        "release_id",
        "provided_on",
        "recipient_name",
        "recipient_address",
        "n_persons",
        "items",
        "retain_until",
        "recorded_at",
    ])?;
    for entry in ctx.store.ledger()? {
        writer.write_record([
            entry.id.to_string(),
            entry.kind,
            entry.release_id.unwrap_or_default(),
            entry.provided_on.to_string(),
            entry.recipient_name,
            entry.recipient_address,
            entry.n_persons.to_string(),
            entry.items.join(" "),
            entry.retain_until.to_string(),
            entry.recorded_at.to_rfc3339(),
        ])?;
    }
    writer.flush()?;
    Ok(path)
}

/// An audit entry as JSON, with the hashes that chain it: the form of the export file and of the HTTP API
/// (a boundary: auditors' tools read it).
pub fn audit_entry_json(entry: &kiban_audit::AuditEntry) -> serde_json::Value {
    serde_json::json!({
        "seq": entry.seq,
        "at": entry.event.at.to_rfc3339(),
        "actor": entry.event.actor,
        "action": entry.event.action,
        "object": entry.event.object,
        "outcome": entry.event.outcome.name(),
        "detail": entry.event.detail,
        "prev_hash": hex::encode(entry.prev_hash),
        "hash": entry.hash_hex(),
    })
}

/// Writes the audit log as JSON lines to `{data_dir}/exports/audit.jsonl` and returns the path.
pub(crate) fn export_audit(ctx: &Ctx) -> Result<PathBuf> {
    let path = exports_dir(ctx)?.join("audit.jsonl");
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(&path).with_context(|| format!("writing {}", path.display()))?,
    );
    for entry in ctx.store.audit_entries()? {
        writeln!(file, "{}", audit_entry_json(&entry))?;
    }
    file.flush()?;
    Ok(path)
}

fn exports_dir(ctx: &Ctx) -> Result<PathBuf> {
    let dir = ctx.data_dir.join("exports");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}
