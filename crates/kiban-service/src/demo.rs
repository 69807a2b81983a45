//! `kiban demo`: the whole pipeline once, on a synthetic cohort, on the embedded default store.
//!
//! generate (SS-MIX2, FHIR and CSV providers) → register providers → ingest each extract → link persons →
//! anonymized release (Parquet + CSV + manifest, kept sealed under its own key) with its ledger line and
//! audit entries → HTML report → the handover copy (`kiban release export`) in `handover/<release>`.
//! Running it again is safe: the cohort is the same bytes, so intake recognizes the extracts and stores
//! nothing twice; linkage is replaced; a new release (with its own ledger line) is made.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context as _, Result};
use kiban_model::NaiveDate;
use kiban_synth::{OutputFormat, SynthConfig};

use crate::app::Ctx;
use crate::ingest::{IngestFormat, IngestOutcome};
use crate::ingest::{ingest, register_provider};
use crate::link::link;
use crate::release::release;
use crate::synth::clear_previous_cohort;
use crate::{
    App, IngestRequest, LinkOutcome, LinkRequest, ProviderRequest, ReleaseOutcome, ReleaseRequest,
    ServiceError, audit, progress,
};

#[derive(Debug, Clone)]
pub struct DemoRequest {
    /// Number of synthetic persons.
    pub patients: usize,
    /// Number of providers; they alternate SS-MIX2, FHIR and CSV.
    pub providers: usize,
    pub seed: u64,
    /// k of the release's k-anonymity.
    pub k: usize,
}

/// Everything the demo made, and where.
#[derive(Debug)]
pub struct DemoOutcome {
    pub cohort_dir: PathBuf,
    pub ingests: Vec<IngestOutcome>,
    pub linkage: LinkOutcome,
    pub release: ReleaseOutcome,
    /// The handover copy of the release (`kiban release export`): what the recipient receives.
    pub handover: crate::ExportOutcome,
    pub ledger_export: PathBuf,
    pub audit_export: PathBuf,
    pub n_audit_entries: u64,
    pub steps: Vec<(String, f64)>,
}

const REFERENCE_DATE: (i32, u32, u32) = (2026, 4, 1);

/// Runs the pipeline.
///
/// # Errors
/// Any step's error, with the step named.
impl App {
    /// `kiban demo`: the whole pipeline on a synthetic cohort, as the user `kiban-demo`. Runs only in a
    /// data directory without accounts (it acts without a session).
    ///
    /// # Errors
    /// [`crate::ErrorCode::Conflict`] where accounts exist; any step's error, with the step named.
    pub fn demo(&self, args: &DemoRequest) -> Result<DemoOutcome, ServiceError> {
        if self.store.has_users()? {
            return Err(ServiceError::new(
                crate::ErrorCode::Conflict,
                "the demo runs only in a data directory without accounts; give it a fresh --data-dir",
            ));
        }
        Ok(demo(&self.as_actor("kiban-demo"), args)?)
    }
}

fn demo(ctx: &Ctx, args: &DemoRequest) -> Result<DemoOutcome> {
    let mut steps = Vec::new();
    let mut timer = Instant::now();
    let mut lap = |name: &str, steps: &mut Vec<(String, f64)>| {
        steps.push((name.to_owned(), timer.elapsed().as_secs_f64()));
        timer = Instant::now();
    };
    let reference_date = NaiveDate::from_ymd_opt(REFERENCE_DATE.0, REFERENCE_DATE.1, REFERENCE_DATE.2)
        .context("the demo's reference date")?;

    // 1. A synthetic cohort, one format per provider.
    let cohort_dir = ctx.data_dir.join("synthetic-cohort");
    clear_previous_cohort(&cohort_dir)?;
    let cfg = SynthConfig {
        n_patients: args.patients,
        n_providers: args.providers,
        seed: args.seed,
        format: OutputFormat::Mixed,
        reference_date,
    };
    let cohort = kiban_synth::generate(&cfg);
    let bar = progress::bar(ctx.progress, "synth");
    let summary =
        kiban_synth::write(&cohort, &cohort_dir, &mut |done, total| progress::update(&bar, done, total))
            .context("writing the synthetic cohort")?;
    bar.finish_and_clear();
    lap("generate synthetic cohort", &mut steps);

    // 2. Providers give notice and are published (Rule 36), then send their extracts.
    let notified_on = NaiveDate::from_ymd_opt(2026, 1, 15).context("demo notice date")?;
    let published_on = NaiveDate::from_ymd_opt(2026, 2, 2).context("demo publication date")?;
    let mut ingests = Vec::new();
    for provider in &cohort.providers {
        register_provider(
            ctx,
            &ProviderRequest {
                code: provider.code.as_str().to_owned(),
                name: provider.name.clone(),
                address: provider.address.clone(),
                notified_on,
                published_on: Some(published_on),
            },
        )
        .with_context(|| format!("registering provider {}", provider.code))?;
        let format = match provider.format {
            OutputFormat::Ssmix2 => IngestFormat::Ssmix2,
            OutputFormat::Fhir => IngestFormat::Fhir,
            OutputFormat::Csv | OutputFormat::Mixed => IngestFormat::Csv,
        };
        let outcome = ingest(
            ctx,
            &IngestRequest {
                provider: provider.code.as_str().to_owned(),
                format,
                path: cohort_dir.join(&provider.dir),
                mapping: None,
            },
        )
        .with_context(|| format!("ingesting provider {}", provider.code))?;
        ingests.push(outcome);
    }
    lap("ingest", &mut steps);

    // 3. 名寄せ, measured against the generator's ground truth.
    let linkage =
        link(ctx, &LinkRequest { truth: Some(summary.truth_path.clone()) }).context("linking persons")?;
    lap("link", &mut steps);

    // 4. An anonymized release for a (fictional) research institution.
    let mut request = ReleaseRequest::default_anonymized(
        kiban_engine::policy::Recipient {
            name: "デモ大学 医学研究科 (demo recipient)".to_owned(),
            address: "東京都文京区本郷7-3-1 (demo address)".to_owned(),
        },
        Some(args.k),
        Some(0.05),
    )?;
    request.reference_date = Some(reference_date);
    let release = release(ctx, &request).context("making the release")?;
    lap("anonymize and release", &mut steps);

    // 5. The handover copy: the sealed release opened and checked against its manifest.
    let handover_dir = ctx.data_dir.join("handover").join(&release.release_id);
    let handover = crate::release::export(ctx, &release.release_id, &handover_dir)
        .context("exporting the release for handover")?;
    lap("export for handover", &mut steps);

    let chain = ctx.store.verify_audit().context("verifying the audit log")?;
    let ledger_export = audit::export_ledger(ctx)?;
    let audit_export = audit::export_audit(ctx)?;
    Ok(DemoOutcome {
        cohort_dir,
        ingests,
        linkage,
        release,
        handover,
        ledger_export,
        audit_export,
        n_audit_entries: chain.chain.n_entries,
        steps,
    })
}

/// One staff account the demo made, with the secrets a person needs to sign in (a demo's only: a real
/// deployment hands out enrollment tokens, and each user sets their own password).
#[derive(Debug)]
pub struct DemoLogin {
    pub user: String,
    pub role: kiban_auth::Role,
    pub password: kiban_auth::SecretText,
    /// The TOTP secret (base32) for an authenticator app.
    pub totp_base32: kiban_auth::SecretText,
    /// One recovery code, for a first sign-in without an authenticator app.
    pub recovery_code: kiban_auth::SecretText,
}

/// The demo's staff: one account per staff role, named after the role.
const DEMO_STAFF: [(&str, kiban_auth::Role); 5] = [
    ("admin", kiban_auth::Role::SecurityAdmin),
    ("intake", kiban_auth::Role::IntakeOperator),
    ("processor", kiban_auth::Role::Processor),
    ("reviewer", kiban_auth::Role::Reviewer),
    ("auditor", kiban_auth::Role::Auditor),
];

/// A generated password: 20 characters of every class, from the OS's random numbers.
fn demo_password() -> Result<String> {
    let bytes: [u8; 8] = crate::security::random()?;
    Ok(format!("Kb!{}x", hex::encode(bytes)))
}

impl App {
    /// Makes the demo's staff accounts (a security administrator, an intake operator, a processor, a
    /// reviewer and an auditor), each enrolled with a generated password, in a data directory without
    /// accounts. The administrator creates the others in a session, as in production; every step is
    /// audited.
    ///
    /// # Errors
    /// [`crate::ErrorCode::Conflict`] where accounts exist; a store failure.
    pub fn seed_demo_staff(&self) -> Result<Vec<DemoLogin>, ServiceError> {
        Ok(self.seed_demo_staff_inner()?)
    }

    fn seed_demo_staff_inner(&self) -> Result<Vec<DemoLogin>> {
        // A demo is tried at any hour: its directory allows every hour, where the default policy would
        // stop an account working outside 07:00-22:00 Japan time. A real deployment keeps its own file.
        let policy = self.data_dir.join("security.toml");
        if !policy.exists() {
            std::fs::write(
                &policy,
                "# A demo data directory: every hour is allowed (the default is 07:00-22:00 Japan time).\n[anomaly]\nallowed_hours = \"00:00-00:00\"\n",
            )
            .with_context(|| format!("writing {}", policy.display()))?;
        }
        let mut logins = Vec::new();
        let (admin_name, admin_role) = DEMO_STAFF[0];
        let password = demo_password()?;
        let enrolled = self.init_admin(admin_name, "Demo security administrator", &password)?;
        let code = kiban_auth::totp_code(&enrolled.totp, self.now())
            .map_err(|problem| anyhow::anyhow!("{problem}"))?;
        let outcome = self.login(admin_name, &password, crate::SecondFactor::Totp(code.expose_secret()))?;
        let session = self.authenticate(outcome.token.expose_secret())?;
        logins.push(login_of(admin_name, admin_role, password, &enrolled));
        for (name, role) in &DEMO_STAFF[1..] {
            let request = crate::Request::UserAdd {
                name: (*name).to_owned(),
                display_name: format!("Demo {}", role.name()),
                roles: vec![role.name().to_owned()],
            };
            let crate::Response::EnrollmentToken(token) = self.execute(&session, request)? else {
                anyhow::bail!("adding {name} gave no enrollment token");
            };
            let password = demo_password()?;
            let enrolled = self.enroll(name, token.token.expose_secret(), &password)?;
            logins.push(login_of(name, *role, password, &enrolled));
        }
        self.logout(outcome.token.expose_secret())?;
        Ok(logins)
    }
}

fn login_of(
    name: &str,
    role: kiban_auth::Role,
    password: String,
    enrolled: &crate::EnrollmentOutcome,
) -> DemoLogin {
    DemoLogin {
        user: name.to_owned(),
        role,
        password: kiban_auth::SecretText::new(password),
        totp_base32: enrolled.totp.to_base32(),
        recovery_code: enrolled.recovery_codes.first().map_or_else(
            || kiban_auth::SecretText::new(String::new()),
            |code| kiban_auth::SecretText::new(code.expose_secret().to_owned()),
        ),
    }
}
