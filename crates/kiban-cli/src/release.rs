//! `kiban release`: process the linked vault into an anonymized release and hand it over — ledger line and
//! audit entry first, files second.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Args;
use kiban_audit::Outcome;
use kiban_crypto::{DateShiftKey, PseudonymKey};
use kiban_engine::{AnonymizationPlan, LinkedPerson, ReleaseKeys};
use kiban_model::{LocalPatientId, NaiveDate, ProviderCode};
use kiban_release::ReportContext;
use kiban_store::{LedgerEntry, ReleaseRecord};

use crate::link::load_vault;
use crate::optout::OptoutMatcher;
use crate::{Ctx, keys};

#[derive(Args, Debug, Clone)]
pub struct ReleaseArgs {
    /// 提供先の氏名又は名称: the recipient's name.
    #[arg(long)]
    pub recipient_name: String,
    /// 提供先の住所: the recipient's address.
    #[arg(long)]
    pub recipient_address: String,
    /// Every combination of age band, sex and prefecture is shared by at least k persons.
    #[arg(long, default_value_t = 5)]
    pub k: usize,
    /// Largest share of persons that may be suppressed to reach k (0.0 to 1.0).
    #[arg(long, default_value_t = 0.05)]
    pub suppression_limit: f64,
    /// The date ages are computed at; today when not given.
    #[arg(long)]
    pub reference_date: Option<NaiveDate>,
    /// Dates are shifted by a secret per-person offset of up to this many days.
    #[arg(long, default_value_t = NonZeroU32::new(180).expect("180 is not zero"))]
    pub max_shift_days: NonZeroU32,
}

/// Where a release went.
#[derive(Debug)]
pub struct ReleaseOutcome {
    pub release_id: String,
    pub dir: PathBuf,
    pub report: PathBuf,
    pub ledger: LedgerEntry,
    pub n_persons_in: usize,
    /// Linked persons left out before processing because they opted out (提供停止の求め).
    pub n_persons_excluded: usize,
    pub n_persons_released: usize,
    pub n_persons_suppressed: usize,
    pub smallest_class: Option<usize>,
}

/// Builds, records and publishes one anonymized release.
///
/// # Errors
/// No linked persons, no transformation reaching k-anonymity, or a store or file failure. On error no
/// release folder is published and no ledger line is written.
pub fn release(ctx: &Ctx, args: &ReleaseArgs) -> Result<ReleaseOutcome> {
    anyhow::ensure!(args.k >= 2, "--k must be at least 2");
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.suppression_limit),
        "--suppression-limit must be between 0.0 and 1.0"
    );
    let records = load_vault(ctx)?;
    let links: HashMap<(ProviderCode, LocalPatientId), String> = ctx
        .store
        .person_links()?
        .into_iter()
        .map(|link| ((link.provider, link.local_id), link.person_id))
        .collect();
    anyhow::ensure!(!links.is_empty(), "no persons are linked yet: run `kiban link` first");
    let mut grouped: BTreeMap<&str, Vec<&kiban_model::PatientRecord>> = BTreeMap::new();
    let mut n_unlinked = 0usize;
    for record in &records {
        match links.get(&(record.person.provider.clone(), record.person.local_id.clone())) {
            Some(person_id) => grouped.entry(person_id.as_str()).or_default().push(record),
            None => n_unlinked += 1,
        }
    }
    anyhow::ensure!(
        n_unlinked == 0,
        "{n_unlinked} records in the vault are not linked (ingested after the last linkage): run `kiban link` again"
    );
    // Opt-out (提供停止の求め): a linked person with any matching record is left out before processing.
    let matcher = OptoutMatcher::load(ctx)?;
    let n_before = grouped.len();
    grouped.retain(|_, records| !records.iter().any(|record| matcher.matches(&record.person)));
    let n_persons_excluded = n_before - grouped.len();
    let persons: Vec<LinkedPerson<'_>> = grouped
        .into_iter()
        .map(|(person_id, records)| LinkedPerson { person_id: person_id.to_owned(), records })
        .collect();

    let release_number = ctx.store.next_release_number()?;
    let release_id = format!("R{release_number:04}");
    let object = format!("release:{release_id}");
    let master = keys::master_key(&ctx.data_dir)?;
    let keys = ReleaseKeys {
        pseudonym: PseudonymKey::derive_from(&master, release_id.as_bytes()),
        date_shift: DateShiftKey::derive_from(&master, release_id.as_bytes()),
    };
    let now = ctx.now();
    let provided_on = now.date_naive();
    let plan = AnonymizationPlan {
        k: args.k,
        suppression_limit: args.suppression_limit,
        reference_date: args.reference_date.unwrap_or(provided_on),
        max_shift_days: args.max_shift_days,
    };
    let dataset = match kiban_engine::anonymize(&persons, &plan, &keys) {
        Ok(dataset) => dataset,
        Err(error) => {
            let error = anyhow::Error::new(error).context(format!("processing release {release_id}"));
            ctx.audit_failure("release.process", &object, Outcome::Failure, &error);
            return Err(error);
        }
    };

    let releases = ctx.data_dir.join("releases");
    let staging = releases.join(format!(".staging-{release_id}"));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).with_context(|| format!("clearing {}", staging.display()))?;
    }
    let manifest = kiban_release::write_release(&dataset, &release_id, &staging)
        .with_context(|| format!("writing release {release_id}"))?;
    let summary = dataset.summary();
    let context = ReportContext {
        release_id: release_id.clone(),
        recipient_name: args.recipient_name.clone(),
        provided_on: provided_on.to_string(),
        facts: vec![
            ("provider records".to_owned(), records.len().to_string()),
            ("linked persons".to_owned(), (persons.len() + n_persons_excluded).to_string()),
            ("persons excluded by opt-out".to_owned(), n_persons_excluded.to_string()),
        ],
    };
    kiban_release::write_report(&dataset, &manifest, &context, &staging)
        .with_context(|| format!("writing the report of release {release_id}"))?;

    // The ledger line and the audit entry are committed before the files are handed over.
    let detail = format!(
        "{} persons, k={}, {} suppressed, {} excluded by opt-out, manifest {}",
        summary.n_persons_released,
        summary.k,
        summary.n_persons_suppressed,
        n_persons_excluded,
        manifest.sha256()?
    );
    let ledger = ctx.store.record_release(
        &ReleaseRecord {
            release_id: release_id.clone(),
            recipient_name: args.recipient_name.clone(),
            recipient_address: args.recipient_address.clone(),
            provided_on,
            mode: summary.mode.name().to_owned(),
            items: dataset.items(),
            n_persons: summary.n_persons_released as u64,
            manifest_sha256: manifest.sha256()?,
            created_at: now,
        },
        ctx.event("release.write", &object, Outcome::Success, detail),
    )?;
    let dir = releases.join(&release_id);
    kiban_release::publish(&staging, &dir)?;
    Ok(ReleaseOutcome {
        release_id,
        report: dir.join("report.html"),
        dir,
        ledger,
        n_persons_in: summary.n_persons_in,
        n_persons_excluded,
        n_persons_released: summary.n_persons_released,
        n_persons_suppressed: summary.n_persons_suppressed,
        smallest_class: summary.class_sizes.first().copied(),
    })
}

pub(crate) fn print_outcome(outcome: &ReleaseOutcome) {
    println!(
        "release {}: {} of {} persons released, {} suppressed, smallest class {}",
        outcome.release_id,
        outcome.n_persons_released,
        outcome.n_persons_in,
        outcome.n_persons_suppressed,
        outcome.smallest_class.map_or_else(|| "-".to_owned(), |size| size.to_string())
    );
    if outcome.n_persons_excluded > 0 {
        println!("  {} persons excluded by opt-out before processing", outcome.n_persons_excluded);
    }
    println!("  files:  {}", outcome.dir.display());
    println!("  report: {}", outcome.report.display());
    println!("  ledger line {} recorded for {}", outcome.ledger.id, outcome.ledger.recipient_name);
}
