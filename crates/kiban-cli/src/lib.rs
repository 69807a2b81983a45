//! The kiban commands: argument parsing and the operations behind them.
//!
//! Each command module holds one operation as a plain function that takes a [`Ctx`] and typed
//! arguments and returns a typed outcome, so the demo, the tests and (later) the HTTP server call the same
//! code the command line does. Printing happens only in [`run`].

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use kiban_store::{DatabaseConfig, DatabaseUrl};

mod anonymize;
mod audit;
mod ctx;
mod demo;
mod ingest;
mod keys;
mod link;
mod linkage_material;
mod optout;
mod progress;
mod release;
mod synth;

pub use anonymize::{AnonymizeArgs, AnonymizeOutcome, OutputFormat as AnonymizeFormat, Role, anonymize};
pub use ctx::Ctx;
pub use demo::{DemoArgs, DemoOutcome, demo};
pub use ingest::{IngestArgs, IngestFormat, IngestOutcome, ProviderArgs, ingest, register_provider};
pub use link::{LinkArgs, LinkOutcome, link};
pub use linkage_material::{
    LinkageExportArgs, LinkageExportOutcome, LinkageImportArgs, export_linkage_material,
    import_linkage_material,
};
pub use optout::{OptoutArgs, OptoutOutcome, Requester, add_optout};
pub use release::{ReleaseArgs, ReleaseOutcome, release};
pub use synth::{SynthArgs, synth};

/// kiban (基盤): intake, linkage, anonymization and release of medical records under Japan's Next Generation
/// Medical Infrastructure Act.
#[derive(Parser, Debug)]
#[command(name = "kiban", version, about)]
pub struct Cli {
    /// The project directory holding the operational database and the record vault.
    #[arg(long, global = true, default_value = "kiban-data", env = "KIBAN_DATA_DIR")]
    pub data_dir: PathBuf,
    /// A PostgreSQL connection string for the operational database (default: SQLite in the data
    /// directory); the vault stays in the data directory. Never printed with its password.
    #[arg(long, global = true, env = "KIBAN_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<DatabaseUrl>,
    /// Who is acting, as written to the audit log (user accounts come with the security issue).
    #[arg(long, global = true, env = "KIBAN_ACTOR", default_value = "operator")]
    pub actor: String,
    /// Don't draw progress bars.
    #[arg(long, global = true)]
    pub no_progress: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the whole pipeline on a synthetic cohort: generate, ingest, link, anonymize, release.
    Demo(DemoArgs),
    /// Generate a synthetic Japanese EHR cohort as SS-MIX2, FHIR or CSV.
    Synth(SynthArgs),
    /// Anonymize one CSV table with privacy models (k-anonymity, l-diversity, t-closeness) and write a report.
    Anonymize(Box<AnonymizeArgs>),
    /// Register or list providers (Rule 36: notice and publication).
    #[command(subcommand)]
    Provider(ProviderCommand),
    /// Ingest one provider's extract (SS-MIX2 storage, FHIR, or CSV) into the vault.
    Ingest(IngestArgs),
    /// Link persons across providers (名寄せ).
    Link(LinkArgs),
    /// Produce an anonymized release for a recipient.
    Release(ReleaseArgs),
    /// Record or list opt-out requests (提供停止の求め, Rules 27, 31, 32).
    #[command(subcommand)]
    Optout(OptoutCommand),
    /// Public-database linkage material (Rule 28): export one-way hashes, import provision IDs (提供用ID).
    #[command(subcommand)]
    LinkageMaterial(LinkageMaterialCommand),
    /// Show the provision ledger (Rule 12).
    Ledger,
    /// Show the records of receipt (Rule 37).
    Receipts,
    /// Show or verify the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Subcommand, Debug)]
pub enum ProviderCommand {
    /// Register a provider's notice, and its publication date once published.
    Add(ProviderArgs),
    /// List registered providers.
    List,
}

#[derive(Subcommand, Debug)]
pub enum OptoutCommand {
    /// Record a request, write its notice (書面) and keep the person out of later intakes and releases.
    Add(Box<OptoutArgs>),
    /// List requests: reference and dates, never who.
    List,
}

#[derive(Subcommand, Debug)]
pub enum LinkageMaterialCommand {
    /// Write each linked person's canonical identity, one-way hashed, under an opaque row ID.
    Export(LinkageExportArgs),
    /// Read back (row_id, provision_id) pairs and store the provision IDs against the persons.
    Import(LinkageImportArgs),
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the hash chain from the first entry to the last.
    Verify,
    /// Print audit entries.
    Show {
        /// Only entries by this actor.
        #[arg(long)]
        actor: Option<String>,
        /// Only entries whose object starts with this, e.g. `release:` or `batch:3`.
        #[arg(long)]
        object: Option<String>,
    },
}

/// Parses the command line, runs the command and reports an error once.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one parsed command.
///
/// # Errors
/// Whatever the command reports, with context.
pub fn run(cli: Cli) -> Result<()> {
    let progress = !cli.no_progress;
    match cli.command {
        Command::Synth(args) => {
            let summary = synth(&args, progress)?;
            println!(
                "wrote {} persons as {} patient records in {} files to {}",
                summary.n_persons,
                summary.n_patient_records,
                summary.n_files,
                args.out.display()
            );
            println!("ground truth: {}", summary.truth_path.display());
            println!("providers:    {}", summary.providers_path.display());
            Ok(())
        }
        Command::Anonymize(args) => {
            let outcome = anonymize(&args, progress)?;
            anonymize::print_outcome(&outcome);
            Ok(())
        }
        command => {
            let database = DatabaseConfig::from_url(cli.database_url);
            let ctx = Ctx::open_with(&cli.data_dir, &database, &cli.actor, progress)?;
            run_with_ctx(&ctx, command)
        }
    }
}

fn run_with_ctx(ctx: &Ctx, command: Command) -> Result<()> {
    match command {
        Command::Synth(_) | Command::Anonymize(_) => unreachable!("synth and anonymize run without a store"),
        Command::Demo(args) => {
            let outcome = demo(ctx, &args)?;
            demo::print_outcome(ctx, &outcome);
            Ok(())
        }
        Command::Provider(ProviderCommand::Add(args)) => {
            register_provider(ctx, &args)?;
            println!("registered provider {}", args.code);
            Ok(())
        }
        Command::Provider(ProviderCommand::List) => ingest::print_providers(ctx),
        Command::Ingest(args) => {
            let outcome = ingest(ctx, &args)?;
            ingest::print_outcome(&outcome);
            Ok(())
        }
        Command::Link(args) => {
            let outcome = link(ctx, &args)?;
            link::print_outcome(&outcome);
            Ok(())
        }
        Command::Release(args) => {
            let outcome = release(ctx, &args)?;
            release::print_outcome(&outcome);
            Ok(())
        }
        Command::Optout(OptoutCommand::Add(args)) => {
            let outcome = add_optout(ctx, &args)?;
            optout::print_outcome(&outcome);
            Ok(())
        }
        Command::Optout(OptoutCommand::List) => optout::print_list(ctx),
        Command::LinkageMaterial(LinkageMaterialCommand::Export(args)) => {
            let outcome = export_linkage_material(ctx, &args)?;
            linkage_material::print_export(&outcome);
            Ok(())
        }
        Command::LinkageMaterial(LinkageMaterialCommand::Import(args)) => {
            let n = import_linkage_material(ctx, &args)?;
            println!("stored {n} provision IDs (提供用ID)");
            Ok(())
        }
        Command::Ledger => audit::print_ledger(ctx),
        Command::Receipts => audit::print_receipts(ctx),
        Command::Audit(AuditCommand::Verify) => audit::verify(ctx),
        Command::Audit(AuditCommand::Show { actor, object }) => {
            audit::show(ctx, actor.as_deref(), object.as_deref())
        }
    }
}
