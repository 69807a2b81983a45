//! The command-line forms of the service's requests: clap arguments, turned into typed requests.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};
use kiban_engine::policy::Recipient;
use kiban_model::NaiveDate;
use kiban_service::{
    DemoRequest, IngestFormat, IngestRequest, LinkRequest, LinkageExportRequest, LinkageImportRequest,
    OptoutForm, ProviderRequest, ReleaseRequest, Requester, SynthRequest,
};

#[derive(Args, Debug, Clone)]
pub struct ProviderArgs {
    /// 医療機関コード (10 digits) or another stable code.
    #[arg(long)]
    pub code: String,
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub address: String,
    /// The day the provider's notice (通知) was received.
    #[arg(long)]
    pub notified_on: NaiveDate,
    /// The day the notice was published (公表); no data is accepted before.
    #[arg(long)]
    pub published_on: Option<NaiveDate>,
}

impl ProviderArgs {
    pub fn request(&self) -> ProviderRequest {
        ProviderRequest {
            code: self.code.clone(),
            name: self.name.clone(),
            address: self.address.clone(),
            notified_on: self.notified_on,
            published_on: self.published_on,
        }
    }
}

/// Input formats `kiban ingest` reads.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum FormatArg {
    /// SS-MIX2 standardized storage (HL7 v2.5).
    Ssmix2,
    /// FHIR R4 / JP Core: Bundles or NDJSON.
    Fhir,
    /// CSV per docs/formats/csv-intake.md.
    Csv,
}

#[derive(Args, Debug, Clone)]
pub struct IngestArgs {
    /// The sending provider's code (must be registered and published).
    #[arg(long)]
    pub provider: String,
    #[arg(long, value_enum)]
    pub format: FormatArg,
    /// The extract: an SS-MIX2 storage root, a FHIR file or folder, or a CSV folder.
    pub path: PathBuf,
    /// With --format csv: a TOML file mapping the provider's file and column names, codes and date format
    /// onto the canonical layout (docs/formats/csv-intake.md).
    #[arg(long)]
    pub mapping: Option<PathBuf>,
}

impl IngestArgs {
    pub fn request(&self) -> IngestRequest {
        IngestRequest {
            provider: self.provider.clone(),
            format: match self.format {
                FormatArg::Ssmix2 => IngestFormat::Ssmix2,
                FormatArg::Fhir => IngestFormat::Fhir,
                FormatArg::Csv => IngestFormat::Csv,
            },
            path: self.path.clone(),
            mapping: self.mapping.clone(),
        }
    }
}

#[derive(Args, Debug, Clone, Default)]
pub struct ReleaseArgs {
    /// The release policy (TOML; see docs/release-policy.md): recipient, mode, cohort, columns and their
    /// actions. Without it, an anonymized release of every table with the default treatments is made for
    /// the recipient given by --recipient-name and --recipient-address.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// 提供先の氏名又は名称: the recipient's name (without --policy).
    #[arg(long, required_unless_present = "policy", conflicts_with = "policy")]
    pub recipient_name: Option<String>,
    /// 提供先の住所: the recipient's address (without --policy).
    #[arg(long, required_unless_present = "policy", conflicts_with = "policy")]
    pub recipient_address: Option<String>,
    /// Every combination of person-level quasi-identifiers is shared by at least k persons (without
    /// --policy; a policy sets `privacy.k`).
    #[arg(long, conflicts_with = "policy")]
    pub k: Option<usize>,
    /// Largest share of persons that may be suppressed to reach k, 0.0 to 1.0 (without --policy).
    #[arg(long, conflicts_with = "policy")]
    pub suppression_limit: Option<f64>,
    /// The date ages are computed at; the policy's, or today.
    #[arg(long)]
    pub reference_date: Option<NaiveDate>,
}

impl ReleaseArgs {
    /// The request: the policy file read and parsed (with its hierarchy files), or the default policy
    /// built from the flags.
    ///
    /// # Errors
    /// An unreadable policy file, every problem in it, or out-of-range flags.
    pub fn request(&self) -> Result<ReleaseRequest> {
        let mut request = match &self.policy {
            Some(path) => {
                ReleaseRequest { policy: kiban_service::load_policy_file(path)?, reference_date: None }
            }
            None => ReleaseRequest::default_anonymized(
                Recipient {
                    name: self.recipient_name.clone().unwrap_or_default(),
                    address: self.recipient_address.clone().unwrap_or_default(),
                },
                self.k,
                self.suppression_limit,
            )?,
        };
        request.reference_date = self.reference_date;
        Ok(request)
    }
}

/// Who made an opt-out request.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum RequesterArg {
    /// The person the records are about (本人).
    Person,
    /// A bereaved family member (遺族).
    BereavedFamily,
}

#[derive(Args, Clone)]
pub struct OptoutArgs {
    /// Who made the request: the person (本人) or a bereaved family member (遺族).
    #[arg(long, value_enum)]
    pub requester: RequesterArg,
    /// 求めを行った者の氏名: the requester's name, as written on the notice.
    #[arg(long)]
    pub requester_name: String,
    /// For a bereaved family member: the relationship to the person (e.g. 長男).
    #[arg(long)]
    pub relationship: Option<String>,
    /// 求めを受けた年月日: the day the request was received.
    #[arg(long)]
    pub received_on: NaiveDate,
    /// 医療情報の提供の停止の年月日; the day received when not given.
    #[arg(long)]
    pub stop_on: Option<NaiveDate>,
    /// 書面の交付年月日: the day the written notice is given; today when not given.
    #[arg(long)]
    pub notice_on: Option<NaiveDate>,
    /// The person's kana name (カナ氏名), family and given name.
    #[arg(long)]
    pub kana: String,
    /// The person's birth date: YYYY-MM-DD, YYYYMMDD, or a Japanese era date such as S23.04.05.
    #[arg(long)]
    pub birth_date: String,
    /// The person's sex: M/F (or 男/女, 1/2); anything else is unknown and matches either.
    #[arg(long)]
    pub sex: String,
    /// The provider holding the person's records, with --patient-id.
    #[arg(long, requires = "patient_id")]
    pub provider: Option<String>,
    /// The person's patient ID at --provider.
    #[arg(long, requires = "provider")]
    pub patient_id: Option<String>,
    /// The person's insurer number (保険者番号), when known.
    #[arg(long)]
    pub insurer_number: Option<String>,
    /// The producer's name, printed as the issuer of the notice.
    #[arg(long, default_value = "認定匿名加工医療情報作成事業者")]
    pub issuer: String,
}

impl std::fmt::Debug for OptoutArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names, birth date and IDs are identifying: show the dates of the request only.
        f.debug_struct("OptoutArgs")
            .field("requester", &self.requester)
            .field("received_on", &self.received_on)
            .field("stop_on", &self.stop_on)
            .field("notice_on", &self.notice_on)
            .finish_non_exhaustive()
    }
}

impl OptoutArgs {
    pub fn request(&self) -> OptoutForm {
        OptoutForm {
            requester: match self.requester {
                RequesterArg::Person => Requester::Person,
                RequesterArg::BereavedFamily => Requester::BereavedFamily,
            },
            requester_name: self.requester_name.clone(),
            relationship: self.relationship.clone(),
            received_on: self.received_on,
            stop_on: self.stop_on,
            notice_on: self.notice_on,
            kana: self.kana.clone(),
            birth_date: self.birth_date.clone(),
            sex: self.sex.clone(),
            provider: self.provider.clone(),
            patient_id: self.patient_id.clone(),
            insurer_number: self.insurer_number.clone(),
            issuer: self.issuer.clone(),
        }
    }
}

#[derive(Args, Debug, Clone, Default)]
pub struct LinkArgs {
    /// A `truth.csv` from `kiban synth`: measure pairwise precision and recall against it.
    #[arg(long)]
    pub truth: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct LinkageExportArgs {
    /// The file to write (CSV: row_id, hash).
    #[arg(long)]
    pub out: PathBuf,
    /// The keyed one-way function (Rule 28); the built-in one is HMAC-SHA-256.
    #[arg(long, default_value = kiban_crypto::LinkageHmac::NAME)]
    pub algorithm: String,
}

#[derive(Args, Debug, Clone)]
pub struct LinkageImportArgs {
    /// A CSV of (row_id, provision_id) as the public database's operator returned it.
    pub file: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct DemoArgs {
    /// Number of synthetic persons.
    #[arg(long, default_value_t = 10_000)]
    pub patients: usize,
    /// Number of providers; they alternate SS-MIX2, FHIR and CSV.
    #[arg(long, default_value_t = 3)]
    pub providers: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// k of the release's k-anonymity.
    #[arg(long, default_value_t = 5)]
    pub k: usize,
}

impl DemoArgs {
    pub fn request(&self) -> DemoRequest {
        DemoRequest { patients: self.patients, providers: self.providers, seed: self.seed, k: self.k }
    }
}

/// Output formats of `kiban synth`.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum SynthFormat {
    Ssmix2,
    Fhir,
    Csv,
    /// Provider 1 SS-MIX2, provider 2 FHIR, provider 3 CSV, and so on.
    Mixed,
}

#[derive(Args, Debug, Clone)]
pub struct SynthArgs {
    /// Number of persons.
    #[arg(long, default_value_t = 10_000)]
    pub patients: usize,
    /// Number of providers (hospitals and clinics).
    #[arg(long, default_value_t = 3)]
    pub providers: usize,
    /// Random seed: the same seed gives byte-identical output.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[arg(long, value_enum, default_value_t = SynthFormat::Ssmix2)]
    pub format: SynthFormat,
    /// The "today" of the synthetic data (YYYY-MM-DD).
    #[arg(long, default_value = "2026-04-01")]
    pub reference_date: NaiveDate,
    /// Output folder (replaced if it holds an earlier synthetic cohort).
    #[arg(long)]
    pub out: PathBuf,
}

impl SynthArgs {
    pub fn request(&self) -> SynthRequest {
        use kiban_synth::OutputFormat;
        SynthRequest {
            patients: self.patients,
            providers: self.providers,
            seed: self.seed,
            format: match self.format {
                SynthFormat::Ssmix2 => OutputFormat::Ssmix2,
                SynthFormat::Fhir => OutputFormat::Fhir,
                SynthFormat::Csv => OutputFormat::Csv,
                SynthFormat::Mixed => OutputFormat::Mixed,
            },
            reference_date: self.reference_date,
            out: self.out.clone(),
        }
    }
}

impl LinkArgs {
    pub fn request(&self) -> LinkRequest {
        LinkRequest { truth: self.truth.clone() }
    }
}

impl LinkageExportArgs {
    pub fn request(&self) -> LinkageExportRequest {
        LinkageExportRequest { out: self.out.clone(), algorithm: self.algorithm.clone() }
    }
}

impl LinkageImportArgs {
    pub fn request(&self) -> LinkageImportRequest {
        LinkageImportRequest { file: self.file.clone() }
    }
}
