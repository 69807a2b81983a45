//! `kiban release`: process the linked vault into a release under a policy (anonymized, linkable or
//! pseudonymized), kept sealed under its own key — ledger line and audit entry first, files published
//! second; `kiban release export` makes the handover copy.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use kiban_audit::Outcome;
use kiban_columnar::CompactRecords;
use kiban_crypto::{DateShiftKey, PseudonymKey};
use kiban_engine::policy::Recipient;
use kiban_engine::{LinkedRecords, Mode, ProcessInputs, ReleaseKeys, ReleasePolicy};
use kiban_model::NaiveDate;
use kiban_release::{AtRest, ReportContext};
use kiban_store::{LedgerEntry, PersonLink, ReleaseRecord, ReleaseState};

use crate::app::Ctx;
use crate::audit_ref::{AuditAction, ObjectRef};
use crate::error::refuse;
use crate::link::load_vault_compact;
use crate::optout::OptoutMatcher;

/// A release to make: the parsed policy (recipient, mode, cohort, columns and their actions, privacy
/// models), and the date ages are computed at when the policy gives none.
#[derive(Debug, Clone)]
pub struct ReleaseRequest {
    pub policy: ReleasePolicy,
    pub reference_date: Option<NaiveDate>,
}

impl ReleaseRequest {
    /// An anonymized release of every table with the default treatments, for `recipient`, with
    /// k-anonymity `k` and a suppression limit when given.
    ///
    /// # Errors
    /// [`crate::ErrorCode::InvalidRequest`]: k below 2, a limit outside 0.0–1.0.
    pub fn default_anonymized(
        recipient: Recipient,
        k: Option<usize>,
        suppression_limit: Option<f64>,
    ) -> Result<ReleaseRequest, crate::ServiceError> {
        let invalid = |message: &str| crate::ServiceError::new(crate::ErrorCode::InvalidRequest, message);
        let mut policy = ReleasePolicy::default_anonymized(recipient);
        if let Some(k) = k {
            if k < 2 {
                return Err(invalid("k must be at least 2"));
            }
            policy.privacy.set_k(k);
        }
        if let Some(limit) = suppression_limit {
            if !(0.0..=1.0).contains(&limit) {
                return Err(invalid("the suppression limit must be between 0.0 and 1.0"));
            }
            policy.privacy.suppression_limit = limit;
        }
        Ok(ReleaseRequest { policy, reference_date: None })
    }

    fn policy(&self) -> ReleasePolicy {
        let mut policy = self.policy.clone();
        if let Some(date) = self.reference_date {
            policy.reference_date = Some(date);
        }
        policy
    }
}

/// The steps of a release, as a job page shows them.
const STEPS: usize = 5;

/// Where a release went.
#[derive(Debug)]
pub struct ReleaseOutcome {
    pub release_id: String,
    pub mode: Mode,
    pub dir: PathBuf,
    pub report: PathBuf,
    pub ledger: LedgerEntry,
    pub n_persons_in: usize,
    /// Linked persons left out before processing because they opted out (提供停止の求め).
    pub n_persons_excluded: usize,
    pub n_persons_released: usize,
    pub n_persons_suppressed: usize,
    pub smallest_class: Option<usize>,
    /// Every attacker model measured on the released files (the report's risk section).
    pub risk: kiban_release::measure::MeasuredRisk,
}

/// Builds, records and publishes one anonymized release.
///
/// # Errors
/// No linked persons, no transformation reaching k-anonymity, or a store or file failure. On error no
/// release folder is published and no ledger line is written.
pub(crate) fn release(ctx: &Ctx, args: &ReleaseRequest) -> Result<ReleaseOutcome> {
    let policy = args.policy();
    // The vault's records held compactly, so a million persons fit in a few GiB (see CompactRecords).
    ctx.step("reading the vault", 1, STEPS);
    let records = load_vault_compact(ctx)?;
    let person_links = ctx.store.person_links()?;
    let mut grouped = group_by_person(&records, &person_links)?;
    // Opt-out (提供停止の求め): a linked person with any matching record is left out before processing.
    let matcher = OptoutMatcher::load(ctx)?;
    let n_before = grouped.len();
    if !matcher.is_empty() {
        grouped.retain(|_, numbers| !numbers.iter().any(|record| matcher.matches(&records.person(*record))));
    }
    let n_persons_excluded = n_before - grouped.len();
    let persons: Vec<LinkedRecords> = grouped
        .into_iter()
        .map(|(person_id, records)| LinkedRecords { person_id: person_id.to_owned(), records })
        .collect();
    drop(person_links);

    // The ID is reserved before any work, so a concurrent release cannot take it or its staging folder.
    let (_, release_id) = ctx.store.reserve_release(&ctx.actor, ctx.now())?;
    let result = make_release(ctx, &policy, records, persons, n_persons_excluded, &release_id);
    if result.is_err() {
        if let Err(error) =
            ctx.store.set_release_state(&release_id, ReleaseState::Failed, &ctx.actor, ctx.now())
        {
            tracing::error!(%error, "could not record a failed release's state");
        }
        let staging = ctx.data_dir.join("releases").join(format!(".staging-{release_id}"));
        let _ = std::fs::remove_dir_all(staging);
    }
    result
}

fn make_release(
    ctx: &Ctx,
    policy: &ReleasePolicy,
    records: CompactRecords,
    persons: Vec<LinkedRecords>,
    n_persons_excluded: usize,
    release_id: &str,
) -> Result<ReleaseOutcome> {
    let release_id = release_id.to_owned();
    let (n_records, n_persons) = (records.n_records(), persons.len());
    let object_ref = ObjectRef::Release(release_id.clone());
    let object = object_ref.to_string();
    let master = &ctx.store.keys()?.root;
    let keys = ReleaseKeys {
        pseudonym: PseudonymKey::derive_from(master, release_id.as_bytes()),
        date_shift: DateShiftKey::derive_from(master, release_id.as_bytes()),
    };
    let now = ctx.now();
    let provided_on = now.date_naive();
    let provision_ids: BTreeMap<String, String> =
        ctx.store.provision_ids()?.into_iter().map(|id| (id.person_id, id.provision_id)).collect();
    if policy.mode == Mode::AnonymizedLinkable {
        anyhow::ensure!(
            !provision_ids.is_empty(),
            "mode anonymized-linkable needs provision IDs: import them with `kiban linkage-material import` first"
        );
    }
    let inputs = ProcessInputs { release_date: provided_on, provision_ids: &provision_ids };
    ctx.step("processing under the policy", 2, STEPS);
    let dataset = match kiban_engine::process_records(records, persons, policy, &keys, &inputs) {
        Ok(dataset) => dataset,
        Err(error) => {
            let error = anyhow::Error::new(error).context(format!("processing release {release_id}"));
            ctx.audit_failure(AuditAction::ReleaseProcess, &object_ref, Outcome::Failure, &error);
            return Err(error);
        }
    };

    let releases = ctx.data_dir.join("releases");
    let staging = releases.join(format!(".staging-{release_id}"));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).with_context(|| format!("clearing {}", staging.display()))?;
    }
    // The data files are sealed under the release's own data key as they are written: no plaintext
    // data file touches the producer's disk, and deleting the release shreds the key.
    let store_keys = ctx.store.keys()?;
    let data_key = store_keys.keystore.get_or_create(&object, &store_keys.kek)?;
    let at_rest = AtRest::Sealed { key: &data_key, object: &object };
    ctx.step("writing the sealed files", 3, STEPS);
    let manifest = kiban_release::write_release_at(&dataset, &release_id, &staging, at_rest)
        .with_context(|| format!("writing release {release_id}"))?;
    let summary = dataset.summary();
    let context = ReportContext {
        release_id: release_id.clone(),
        recipient_name: policy.recipient.name.clone(),
        provided_on: provided_on.to_string(),
        facts: vec![
            ("provider records".to_owned(), n_records.to_string()),
            ("linked persons".to_owned(), (n_persons + n_persons_excluded).to_string()),
            ("persons excluded by opt-out".to_owned(), n_persons_excluded.to_string()),
        ],
    };
    ctx.step("measuring the risk on the files", 4, STEPS);
    let report = kiban_release::write_report(&dataset, &manifest, &context, &staging, at_rest)
        .with_context(|| format!("writing the report of release {release_id}"))?;

    // The ledger line and the audit entry are committed before the files are handed over.
    let n_persons_suppressed = summary.kanon.as_ref().map_or(0, |kanon| kanon.n_persons_suppressed);
    let detail = format!(
        "{} {} persons, {}, {n_persons_suppressed} suppressed, {n_persons_excluded} excluded by opt-out, manifest {}",
        summary.n_persons_released,
        summary.mode.name(),
        summary.kanon.as_ref().map_or_else(|| "no k-anonymity".to_owned(), |kanon| format!("k={}", kanon.k)),
        manifest.sha256()?
    );
    ctx.step("recording the ledger line and publishing", 5, STEPS);
    let ledger = ctx.store.record_release(
        &ReleaseRecord {
            release_id: release_id.clone(),
            recipient_name: policy.recipient.name.clone(),
            recipient_address: policy.recipient.address.clone(),
            provided_on,
            mode: summary.mode.name().to_owned(),
            items: dataset.items(),
            n_persons: summary.n_persons_released as u64,
            manifest_sha256: manifest.sha256()?,
            created_at: now,
        },
        ctx.event(AuditAction::ReleaseWrite, &object_ref, Outcome::Success, detail),
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
        n_persons_suppressed,
        smallest_class: summary.kanon.as_ref().and_then(|kanon| kanon.class_sizes.first().copied()),
        mode: summary.mode,
        risk: report.risk,
    })
}

/// The record numbers of `records` per linked person (person ID → records), by the stored links.
///
/// # Errors
/// No links at all, or records the links do not cover (ingested after the last linkage).
pub fn group_by_person<'a>(
    records: &CompactRecords,
    person_links: &'a [PersonLink],
) -> Result<BTreeMap<&'a str, Vec<usize>>> {
    anyhow::ensure!(!person_links.is_empty(), "no persons are linked yet: run `kiban link` first");
    let links: HashMap<(&str, &str), &str> = person_links
        .iter()
        .map(|link| ((link.provider.as_str(), link.local_id.as_str()), link.person_id.as_str()))
        .collect();
    let mut grouped: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut n_unlinked = 0usize;
    for record in 0..records.n_records() {
        match links.get(&(records.provider(record), records.local_id(record))) {
            Some(person_id) => grouped.entry(person_id).or_default().push(record),
            None => n_unlinked += 1,
        }
    }
    anyhow::ensure!(
        n_unlinked == 0,
        "{n_unlinked} records in the vault are not linked (ingested after the last linkage): run `kiban link` again"
    );
    Ok(grouped)
}

/// The HTML report of a recorded, undeleted release, as kept beside its sealed files.
///
/// # Errors
/// [`crate::ErrorCode::NotFound`] for a release the ledger does not hold or that was deleted; a read failure.
pub(crate) fn report(ctx: &Ctx, release_id: &str) -> Result<String> {
    // Only an ID the ledger holds names a folder, so no request can reach another path.
    let known = ctx.store.releases()?.into_iter().any(|release| release.record.release_id == release_id);
    if !known || ctx.store.is_deleted(&ObjectRef::Release(release_id.to_owned()).to_string())? {
        refuse!(NotFound, "release {release_id} is not in the ledger, or was deleted");
    }
    let path = ctx.data_dir.join("releases").join(release_id).join("report.html");
    std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
}

/// What `kiban release export` wrote.
#[derive(Debug)]
pub struct ExportOutcome {
    pub release_id: String,
    pub to: PathBuf,
    pub n_files: usize,
    pub bytes: u64,
    /// Persons in the release: what the anomaly rules count as sent out.
    pub n_persons: u64,
}

/// Makes the handover copy of a release (its plaintext files, manifest and report) in the new folder
/// `to`, checking every file against the manifest, and records it in the audit log. The kept release
/// stays sealed; this is the one way its data leaves the producer.
///
/// # Errors
/// An unknown or deleted release, a folder that exists, a file that does not open or does not match the
/// manifest (the partial copy is removed), or a store failure.
pub(crate) fn export(ctx: &Ctx, release_id: &str, to: &Path) -> Result<ExportOutcome> {
    let release = ctx
        .store
        .releases()?
        .into_iter()
        .find(|release| release.record.release_id == release_id)
        .ok_or_else(|| {
            anyhow::Error::new(crate::ServiceError::new(
                crate::ErrorCode::NotFound,
                format!("release {release_id} does not exist (see `kiban ledger`)"),
            ))
        })?
        .record;
    let object_ref = ObjectRef::Release(release_id.to_owned());
    let object = object_ref.to_string();
    if ctx.store.is_deleted(&object)? {
        refuse!(NotFound, "release {release_id} was deleted");
    }
    let releases = ctx.data_dir.join("releases");
    let dir = releases.join(release_id);
    // The copy goes outside the kept releases, where a later release or deletion could collide with it.
    let absolute = |path: &Path| std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    anyhow::ensure!(
        !absolute(to).starts_with(absolute(&releases)),
        "export the release outside {}: that folder holds the sealed releases",
        releases.display()
    );
    let store_keys = ctx.store.keys()?;
    let exported = store_keys
        .keystore
        .load(&object, &store_keys.kek)
        .map_err(anyhow::Error::new)
        .and_then(|key| {
            let at_rest = AtRest::Sealed { key: &key, object: &object };
            kiban_release::export_release(&dir, at_rest, Some(&release.manifest_sha256), to)
                .map_err(anyhow::Error::new)
        })
        .with_context(|| format!("exporting release {release_id} to {}", to.display()));
    let export = match exported {
        Ok(export) => export,
        Err(error) => {
            ctx.audit_failure(AuditAction::ReleaseExport, &object_ref, Outcome::Failure, &error);
            return Err(error);
        }
    };
    let detail = format!(
        "{} persons, {} files, {} bytes, to {}",
        release.n_persons,
        export.n_files,
        export.bytes,
        to.display()
    );
    ctx.store.append_audit(ctx.event(AuditAction::ReleaseExport, &object_ref, Outcome::Success, detail))?;
    // Releases recorded before IDs were reserved have no lifecycle to extend.
    if ctx.store.release_statuses()?.iter().any(|status| status.release_id == release_id) {
        ctx.store.set_release_state(release_id, ReleaseState::Exported, &ctx.actor, ctx.now())?;
    }
    Ok(ExportOutcome {
        release_id: release_id.to_owned(),
        to: to.to_owned(),
        n_files: export.n_files,
        bytes: export.bytes,
        n_persons: release.n_persons,
    })
}
