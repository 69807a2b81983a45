//! `kiban ledger`, `kiban receipts` and `kiban audit`: the legal records, shown and exported.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, Result};

use crate::Ctx;

pub(crate) fn print_ledger(ctx: &Ctx) -> Result<()> {
    println!("id\tkind\trelease\tprovided_on\trecipient\taddress\tpersons\tretain_until\titems");
    for entry in ctx.store.ledger()? {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            entry.id,
            entry.kind,
            entry.release_id.as_deref().unwrap_or("-"),
            entry.provided_on,
            entry.recipient_name,
            entry.recipient_address,
            entry.n_persons,
            entry.retain_until,
            entry.items.join(",")
        );
    }
    Ok(())
}

pub(crate) fn print_receipts(ctx: &Ctx) -> Result<()> {
    println!(
        "batch\treceived_on\tprovider\tname\tpublished_on\tpersons\texcluded_by_optout\tretain_until\titems"
    );
    for receipt in ctx.store.receipts()? {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            receipt.batch,
            receipt.received_on,
            receipt.provider,
            receipt.provider_name,
            receipt.published_on,
            receipt.n_persons,
            receipt.n_persons_excluded,
            receipt.retain_until,
            receipt.items.join(",")
        );
    }
    Ok(())
}

pub(crate) fn verify(ctx: &Ctx) -> Result<()> {
    let log = ctx.store.verify_audit().context("the audit log does not verify")?;
    println!(
        "audit log verified: {} entries, head {}, signed through seq {} ({} checkpoints, public key {})",
        log.chain.n_entries,
        hex::encode(log.chain.head_hash),
        log.signed_through.unwrap_or(0),
        log.n_checkpoints,
        hex::encode(ctx.store.audit_public_key()?)
    );
    Ok(())
}

/// Which audit entries `kiban audit show` prints.
#[derive(Default, Debug)]
pub(crate) struct Filter {
    pub(crate) user: Option<String>,
    /// A prefix of the object, e.g. `release:` or `batch:3`.
    pub(crate) object: Option<String>,
    pub(crate) since: Option<chrono::DateTime<chrono::Utc>>,
    pub(crate) until: Option<chrono::DateTime<chrono::Utc>>,
}

impl Filter {
    pub(crate) fn parse(
        user: Option<&str>,
        object: Option<&str>,
        since: Option<&str>,
        until: Option<&str>,
    ) -> Result<Filter> {
        Ok(Filter {
            user: user.map(str::to_owned),
            object: object.map(str::to_owned),
            since: since.map(crate::commands::parse_time).transpose()?,
            until: until.map(crate::commands::parse_time).transpose()?,
        })
    }

    pub(crate) fn matches(&self, event: &kiban_audit::AuditEvent) -> bool {
        self.user.as_deref().is_none_or(|user| event.actor == user)
            && self.object.as_deref().is_none_or(|prefix| event.object.starts_with(prefix))
            && self.since.is_none_or(|since| event.at >= since)
            && self.until.is_none_or(|until| event.at < until)
    }
}

pub(crate) fn show(ctx: &Ctx, filter: &Filter) -> Result<()> {
    println!("seq\tat\tactor\taction\tobject\toutcome\tdetail");
    for entry in ctx.store.audit_entries()? {
        let event = &entry.event;
        if !filter.matches(event) {
            continue;
        }
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            entry.seq,
            event.at.to_rfc3339(),
            event.actor,
            event.action,
            event.object,
            event.outcome.name(),
            event.detail
        );
    }
    Ok(())
}

/// Writes the provision ledger as CSV to `{data_dir}/exports/ledger.csv` (a view: the database is the
/// record) and returns the path.
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

/// Writes the audit log as JSON lines to `{data_dir}/exports/audit.jsonl` and returns the path.
pub(crate) fn export_audit(ctx: &Ctx) -> Result<PathBuf> {
    let path = exports_dir(ctx)?.join("audit.jsonl");
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(&path).with_context(|| format!("writing {}", path.display()))?,
    );
    for entry in ctx.store.audit_entries()? {
        let line = serde_json::json!({
            "seq": entry.seq,
            "at": entry.event.at.to_rfc3339(),
            "actor": entry.event.actor,
            "action": entry.event.action,
            "object": entry.event.object,
            "outcome": entry.event.outcome.name(),
            "detail": entry.event.detail,
            "prev_hash": hex::encode(entry.prev_hash),
            "hash": entry.hash_hex(),
        });
        writeln!(file, "{line}")?;
    }
    file.flush()?;
    Ok(path)
}

fn exports_dir(ctx: &Ctx) -> Result<PathBuf> {
    let dir = ctx.data_dir.join("exports");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}
