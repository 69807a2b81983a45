//! `kiban link`: link every provider-local patient in the vault to a person (名寄せ).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use kiban_audit::Outcome;
use kiban_columnar::CompactRecords;
use kiban_linkage::{LinkageConfig, PairwiseQuality};
use kiban_model::{IdentifiedPerson, LocalPatientId, PatientRecord, ProviderCode};
use kiban_store::{BatchStatus, PersonLink, RecordKey, ReviewDecision, ReviewItem};
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
    ctx.step("reading the vault", 1, 3);
    let records = load_vault(ctx)?;
    anyhow::ensure!(!records.is_empty(), "the vault holds no records: ingest a provider's extract first");
    let persons: Vec<&IdentifiedPerson> = records.iter().map(|record| &record.person).collect();
    ctx.step("linking records to persons", 2, 3);
    let linkage = kiban_linkage::link(&persons, &LinkageConfig::default());
    // The reviewers' decisions: a pair decided to be one person joins its two clusters; every decided
    // pair leaves the queue (a pair linkage left apart stays apart unless decided otherwise).
    let decisions = ctx.store.review_decisions()?;
    let cluster_of = apply_decisions(&persons, &linkage.cluster_of, &decisions);
    let n_persons = cluster_of.iter().collect::<std::collections::HashSet<_>>().len();
    let decided: std::collections::HashSet<&str> = decisions.iter().map(|d| d.pair_id.as_str()).collect();
    let mut queue: Vec<ReviewItem> = linkage
        .review
        .iter()
        .filter(|pair| cluster_of[pair.a] != cluster_of[pair.b])
        .map(|pair| review_item(persons[pair.a], persons[pair.b], pair))
        .filter(|item| !decided.contains(item.pair_id.as_str()))
        .collect();
    // A pair decided to be two persons that ended in one cluster anyway (linked through other records, or
    // by another decision) goes back to the queue, saying so, instead of being overruled silently.
    queue.extend(conflicting_decisions(&persons, &cluster_of, &decisions));

    let mut first_member: HashMap<u32, usize> = HashMap::new();
    for (idx, cluster) in cluster_of.iter().enumerate() {
        first_member.entry(*cluster).or_insert(idx);
    }
    let links: Vec<PersonLink> = persons
        .iter()
        .zip(&cluster_of)
        .map(|(person, cluster)| PersonLink {
            provider: person.provider.clone(),
            local_id: person.local_id.clone(),
            person_id: person_id(persons[first_member[cluster]]),
        })
        .collect();
    let detail = format!(
        "{} records linked to {n_persons} persons; {} pairs for review; {} review decisions applied",
        records.len(),
        queue.len(),
        decisions.len()
    );
    ctx.step("storing the links and the review queue", 3, 3);
    ctx.store.replace_person_links(
        &links,
        ctx.event(AuditAction::LinkageReplace, &ObjectRef::PersonLinks, Outcome::Success, detail),
    )?;
    ctx.store.replace_review_queue(&queue)?;

    let quality = match &args.truth {
        Some(path) => Some(measure(&persons, &cluster_of, path)?),
        None => None,
    };
    Ok(LinkOutcome { n_records: records.len(), n_persons, n_review: queue.len(), quality })
}

/// Each record's position, by provider and local patient ID.
fn record_index<'a>(persons: &[&'a IdentifiedPerson]) -> HashMap<(&'a str, &'a str), usize> {
    persons
        .iter()
        .enumerate()
        .map(|(idx, person)| ((person.provider.as_str(), person.local_id.as_str()), idx))
        .collect()
}

/// `cluster_of` with the clusters of every pair decided to be one person joined (union-find over clusters).
fn apply_decisions(
    persons: &[&IdentifiedPerson],
    cluster_of: &[u32],
    decisions: &[ReviewDecision],
) -> Vec<u32> {
    let index = record_index(persons);
    let n_clusters = cluster_of.iter().max().map_or(0, |max| *max as usize + 1);
    let mut parent: Vec<u32> = (0..n_clusters as u32).collect();
    fn root(parent: &mut [u32], mut cluster: u32) -> u32 {
        while parent[cluster as usize] != cluster {
            parent[cluster as usize] = parent[parent[cluster as usize] as usize];
            cluster = parent[cluster as usize];
        }
        cluster
    }
    for decision in decisions.iter().filter(|decision| decision.same_person) {
        let a = index.get(&(decision.a.provider.as_str(), decision.a.local_id.as_str()));
        let b = index.get(&(decision.b.provider.as_str(), decision.b.local_id.as_str()));
        // A pair whose records left the vault (a deleted batch) has nothing to join.
        if let (Some(a), Some(b)) = (a, b) {
            let (ra, rb) = (root(&mut parent, cluster_of[*a]), root(&mut parent, cluster_of[*b]));
            parent[ra.max(rb) as usize] = ra.min(rb);
        }
    }
    cluster_of.iter().map(|cluster| root(&mut parent, *cluster)).collect()
}

/// The pairs decided to be different persons whose records are nonetheless in one cluster.
fn conflicting_decisions(
    persons: &[&IdentifiedPerson],
    cluster_of: &[u32],
    decisions: &[ReviewDecision],
) -> Vec<ReviewItem> {
    let index = record_index(persons);
    decisions
        .iter()
        .filter(|decision| !decision.same_person)
        .filter(|decision| {
            let a = index.get(&(decision.a.provider.as_str(), decision.a.local_id.as_str()));
            let b = index.get(&(decision.b.provider.as_str(), decision.b.local_id.as_str()));
            matches!((a, b), (Some(a), Some(b)) if cluster_of[*a] == cluster_of[*b])
        })
        .map(|decision| ReviewItem {
            pair_id: decision.pair_id.clone(),
            a: decision.a.clone(),
            b: decision.b.clone(),
            score: 0.0,
            agreement: String::new(),
            reason: "DecidedDifferentButLinked".to_owned(),
        })
        .collect()
}

/// A queued pair: an opaque ID (SHA-256 of the two record keys, in order), the fields' agreement and why
/// linkage left it to a person. No patient value.
fn review_item(a: &IdentifiedPerson, b: &IdentifiedPerson, pair: &kiban_linkage::ReviewPair) -> ReviewItem {
    let key = |person: &IdentifiedPerson| RecordKey {
        provider: person.provider.clone(),
        local_id: person.local_id.clone(),
    };
    let (a, b) = if (a.provider.as_str(), a.local_id.as_str()) <= (b.provider.as_str(), b.local_id.as_str()) {
        (key(a), key(b))
    } else {
        (key(b), key(a))
    };
    let mut hasher = Sha256::new();
    for part in [a.provider.as_str(), a.local_id.as_str(), b.provider.as_str(), b.local_id.as_str()] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let agreement = &pair.agreement;
    let fields = [
        ("kana_family", agreement.kana_family),
        ("kana_given", agreement.kana_given),
        ("kanji_name", agreement.kanji_name),
        ("birth_date", agreement.birth_date),
        ("sex", agreement.sex),
        ("postal_code", agreement.postal_code),
        ("phone", agreement.phone),
        ("insurance", agreement.insurance),
    ];
    ReviewItem {
        pair_id: format!("RV-{}", &hex::encode(hasher.finalize())[..16]),
        a,
        b,
        score: pair.score,
        agreement: fields
            .iter()
            .map(|(name, level)| format!("{name}={}", format!("{level:?}").to_lowercase()))
            .collect::<Vec<_>>()
            .join(" "),
        reason: format!("{:?}", pair.reason),
    }
}

const MAX_REASON_CHARS: usize = 200;

/// Records a reviewer's decision on a queued pair (applied by the next linkage run), audited by the pair's
/// opaque ID.
pub(crate) fn decide(ctx: &Ctx, pair_id: &str, same_person: bool, reason: &str) -> Result<ReviewDecision> {
    if reason.trim().is_empty() {
        crate::error::refuse!(InvalidRequest, "give the reason for the decision");
    }
    // The reason is for the record, not for patient details: kept short.
    if reason.trim().chars().count() > MAX_REASON_CHARS {
        crate::error::refuse!(
            InvalidRequest,
            "keep the reason within {MAX_REASON_CHARS} characters (no patient details)"
        );
    }
    let verdict = if same_person { "same person" } else { "different persons" };
    let event = ctx.event(
        AuditAction::LinkageReview,
        &ObjectRef::ReviewPair(pair_id.to_owned()),
        Outcome::Success,
        format!("{verdict}: {}", reason.trim()),
    );
    ctx.store.decide_review_pair(pair_id, same_person, reason.trim(), event).map_err(|error| match error {
        kiban_store::StoreError::ReviewPairNotFound { .. } => {
            anyhow::Error::new(crate::ServiceError::new(crate::ErrorCode::NotFound, error.to_string()))
        }
        other => anyhow::Error::new(other),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn person(provider: &str, local: &str) -> IdentifiedPerson {
        IdentifiedPerson::new(ProviderCode::new(provider).unwrap(), LocalPatientId::new(local).unwrap())
    }

    fn decision(a: &IdentifiedPerson, b: &IdentifiedPerson, same_person: bool) -> ReviewDecision {
        let key =
            |p: &IdentifiedPerson| RecordKey { provider: p.provider.clone(), local_id: p.local_id.clone() };
        ReviewDecision {
            pair_id: format!("RV-{}-{}", a.local_id.as_str(), b.local_id.as_str()),
            a: key(a),
            b: key(b),
            same_person,
            reason: "test".to_owned(),
            decided_by: "tester".to_owned(),
            decided_at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn same_decisions_join_clusters_transitively_and_overruled_different_ones_come_back() {
        let records = [
            person("1310000001", "A"),
            person("1310000002", "B"),
            person("1310000003", "C"),
            person("1310000004", "D"),
        ];
        let persons: Vec<&IdentifiedPerson> = records.iter().collect();
        // Linkage left four persons; A~B and B~C are decided to be one person, A~C to be two.
        let decisions = [
            decision(&records[0], &records[1], true),
            decision(&records[1], &records[2], true),
            decision(&records[0], &records[2], false),
        ];
        let joined = apply_decisions(&persons, &[0, 1, 2, 3], &decisions);
        assert_eq!(joined[0], joined[1]);
        assert_eq!(joined[1], joined[2]);
        assert_ne!(joined[0], joined[3], "D stays alone");
        // A~C ended in one cluster through B: the "two persons" decision is not silently overruled.
        let conflicts = conflicting_decisions(&persons, &joined, &decisions);
        assert_eq!(conflicts.len(), 1);
        assert_eq!(conflicts[0].pair_id, "RV-A-C");
        assert_eq!(conflicts[0].reason, "DecidedDifferentButLinked");
        // A decision about records no longer in the vault changes nothing.
        let gone = [decision(&person("1310000009", "Z"), &records[3], true)];
        assert_eq!(apply_decisions(&persons, &[0, 1, 2, 3], &gone), [0, 1, 2, 3]);
    }
}
