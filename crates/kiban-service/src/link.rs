//! `kiban link`: link every provider-local patient in the vault to a person (名寄せ).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use kiban_audit::Outcome;
use kiban_columnar::CompactRecords;
use kiban_linkage::{LinkageConfig, PairwiseQuality};
use kiban_model::{IdentifiedPerson, LocalPatientId, PatientRecord, ProviderCode};
use kiban_store::{BatchStatus, PersonLink};
use sha2::{Digest, Sha256};

use crate::app::Ctx;
use crate::audit_ref::{AuditAction, ObjectRef};

#[derive(Debug, Clone, Default)]
pub struct LinkRequest {
    /// A ground-truth file (provider_code,patient_id,person_id), as `kiban synth` writes, to measure
    /// linkage precision and recall.
    pub truth: Option<PathBuf>,
}

/// What a linkage run found.
#[derive(Debug)]
pub struct LinkOutcome {
    pub n_records: usize,
    pub n_persons: usize,
    pub n_review: usize,
    pub quality: Option<PairwiseQuality>,
}

/// Every completed, undeleted batch's records, one per provider-local patient (a patient sent in several
/// batches is merged), ordered by provider and local ID.
pub(crate) fn load_vault(ctx: &Ctx) -> Result<Vec<PatientRecord>> {
    let mut by_patient: BTreeMap<(ProviderCode, LocalPatientId), PatientRecord> = BTreeMap::new();
    for batch in ctx.store.batches()? {
        if batch.status != BatchStatus::Complete || ctx.store.is_deleted(&format!("batch:{}", batch.id))? {
            continue;
        }
        let records = ctx
            .store
            .read_batch_records(batch.id)
            .with_context(|| format!("reading batch {} from the vault", batch.id))?;
        for record in records {
            let key = (record.person.provider.clone(), record.person.local_id.clone());
            match by_patient.get_mut(&key) {
                Some(existing) => existing.merge(record),
                None => {
                    by_patient.insert(key, record);
                }
            }
        }
    }
    Ok(by_patient.into_values().collect())
}

/// Every completed, undeleted batch's records as [`load_vault`] gives them (merged per provider-local
/// patient, in provider and local-ID order), held compactly and read a chunk of rows at a time, for a
/// release of millions of persons.
pub(crate) fn load_vault_compact(ctx: &Ctx) -> Result<CompactRecords> {
    let mut records = CompactRecords::new();
    for batch in ctx.store.batches()? {
        if batch.status != BatchStatus::Complete || ctx.store.is_deleted(&format!("batch:{}", batch.id))? {
            continue;
        }
        ctx.store
            .read_batch_into(batch.id, &mut records)
            .with_context(|| format!("reading batch {} from the vault", batch.id))?;
    }
    records.merge_patients();
    Ok(records)
}

/// The producer's internal person ID for a cluster: derived from its first member so that it stays the
/// same when later batches add records. It is a linking code: it never leaves the core zone.
fn person_id(first: &IdentifiedPerson) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"kiban-person-id\0");
    hasher.update(first.provider.as_str().as_bytes());
    hasher.update([0]);
    hasher.update(first.local_id.as_str().as_bytes());
    format!("PSN-{}", &hex::encode(hasher.finalize())[..20])
}

/// Links all records in the vault and replaces the stored links.
///
/// # Errors
/// An empty vault, an unreadable truth file, or a store failure.
pub(crate) fn link(ctx: &Ctx, args: &LinkRequest) -> Result<LinkOutcome> {
    let records = load_vault(ctx)?;
    anyhow::ensure!(!records.is_empty(), "the vault holds no records: ingest a provider's extract first");
    let persons: Vec<&IdentifiedPerson> = records.iter().map(|record| &record.person).collect();
    let linkage = kiban_linkage::link(&persons, &LinkageConfig::default());

    let mut first_member: HashMap<u32, usize> = HashMap::new();
    for (idx, cluster) in linkage.cluster_of.iter().enumerate() {
        first_member.entry(*cluster).or_insert(idx);
    }
    let links: Vec<PersonLink> = persons
        .iter()
        .zip(&linkage.cluster_of)
        .map(|(person, cluster)| PersonLink {
            provider: person.provider.clone(),
            local_id: person.local_id.clone(),
            person_id: person_id(persons[first_member[cluster]]),
        })
        .collect();
    let detail = format!(
        "{} records linked to {} persons; {} pairs for review",
        records.len(),
        linkage.n_clusters,
        linkage.review.len()
    );
    ctx.store.replace_person_links(
        &links,
        ctx.event(AuditAction::LinkageReplace, &ObjectRef::PersonLinks, Outcome::Success, detail),
    )?;

    let quality = match &args.truth {
        Some(path) => Some(measure(&persons, &linkage.cluster_of, path)?),
        None => None,
    };
    Ok(LinkOutcome {
        n_records: records.len(),
        n_persons: linkage.n_clusters,
        n_review: linkage.review.len(),
        quality,
    })
}

/// Pairwise precision and recall against a ground-truth file, over the records the file covers.
fn measure(persons: &[&IdentifiedPerson], cluster_of: &[u32], path: &Path) -> Result<PairwiseQuality> {
    let truth = read_truth(path)?;
    let mut clusters = Vec::new();
    let mut true_persons = Vec::new();
    for (person, cluster) in persons.iter().zip(cluster_of) {
        if let Some(true_person) =
            truth.get(&(person.provider.as_str().to_owned(), person.local_id.as_str().to_owned()))
        {
            clusters.push(*cluster);
            true_persons.push(*true_person);
        }
    }
    anyhow::ensure!(
        !clusters.is_empty(),
        "the truth file {} covers none of the linked records",
        path.display()
    );
    Ok(kiban_linkage::evaluate(&clusters, &true_persons))
}

fn read_truth(path: &Path) -> Result<HashMap<(String, String), u64>> {
    let mut reader = csv::Reader::from_path(path).with_context(|| format!("opening {}", path.display()))?;
    let mut truth = HashMap::new();
    for (idx, row) in reader.records().enumerate() {
        let line = idx + 2;
        let row = row.with_context(|| format!("{}: line {line}", path.display()))?;
        let (Some(provider), Some(patient), Some(person)) = (row.get(0), row.get(1), row.get(2)) else {
            anyhow::bail!("{}: line {line}: expected provider_code,patient_id,person_id", path.display());
        };
        let person: u64 = person
            .parse()
            .with_context(|| format!("{}: line {line}: person_id is not a number", path.display()))?;
        truth.insert((provider.to_owned(), patient.to_owned()), person);
    }
    Ok(truth)
}
