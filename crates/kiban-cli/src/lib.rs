//! The kiban commands: argument parsing and the operations behind them.
//!
//! Each command module holds one operation as a plain function that takes a [`Ctx`] and typed
//! arguments and returns a typed outcome, so the demo, the tests and (later) the HTTP server call the same
//! code the command line does. Printing happens only in [`run`].

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use kiban_service::{App, Request, Session};
use kiban_store::{DatabaseConfig, DatabaseUrl};

mod anonymize;
mod args;
mod commands;
mod print;
mod serve;
mod session;

pub use anonymize::{AnonymizeArgs, AnonymizeOutcome, OutputFormat as AnonymizeFormat, Role, anonymize};
pub use args::{
    DemoArgs, FormatArg, IngestArgs, LinkArgs, LinkageExportArgs, LinkageImportArgs, OptoutArgs,
    ProviderArgs, ReleaseArgs, RequesterArg, SynthArgs, SynthFormat,
};
pub use serve::ServeArgs;
pub use session::{current_token, save_session, session_file};

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
    /// Where the session token from `kiban login` is kept (default `~/.config/kiban/session`).
    #[arg(long, global = true, env = "KIBAN_SESSION_FILE")]
    pub session_file: Option<PathBuf>,
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
    /// Serve the HTTP API and the staff web UI (Japanese and English) on this data directory.
    Serve(ServeArgs),
    /// Anonymize one CSV table with privacy models (k-anonymity, l-diversity, t-closeness) and write a report.
    Anonymize(Box<AnonymizeArgs>),
    /// Register or list providers (Rule 36: notice and publication).
    #[command(subcommand)]
    Provider(ProviderCommand),
    /// Ingest one provider's extract (SS-MIX2 storage, FHIR, or CSV) into the vault.
    Ingest(IngestArgs),
    /// Link persons across providers (名寄せ).
    Link(LinkArgs),
    /// The linkage review queue: list the pairs linkage left to a person, and decide them.
    #[command(subcommand)]
    Review(ReviewCommand),
    /// Produce a release for a recipient (kept sealed), or `release export` its handover copy.
    Release(ReleaseCli),
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
    /// List intake batches.
    Batches,
    /// List quarantined inputs with their reasons (of one batch, or all).
    Quarantine {
        #[arg(long)]
        batch: Option<u64>,
    },
    /// Show or verify the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Create the first security administrator of a new data directory (only when it has no accounts).
    Init(InitArgs),
    /// Log in with your password and a one-time code; starts a session (30 min idle, 8 h at most).
    Login(LoginArgs),
    /// End the current session.
    Logout,
    /// Accounts: add, enroll, change your password, reset, lock, unlock, roles, list.
    #[command(subcommand)]
    User(UserCommand),
    /// The key store: status, and rotation of the key-encryption key.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Delete a batch or a release (Act §20): destroys its key and files and writes the deletion record
    /// (Rule 19).
    #[command(subcommand)]
    Delete(DeleteCommand),
}

/// `kiban release [--policy FILE | ...]` makes a release; `kiban release export ID --to DIR` hands one over.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ReleaseCli {
    #[command(subcommand)]
    pub command: Option<ReleaseCommand>,
    #[command(flatten)]
    pub args: ReleaseArgs,
}

#[derive(Subcommand, Debug)]
pub enum ReleaseCommand {
    /// List releases with their lifecycle state (staged, published, exported, failed).
    List,
    /// Write the handover copy of a release (its files opened and checked against the manifest, with the
    /// manifest and report) into a new folder; audited, and counted as an export.
    Export {
        release_id: String,
        /// The folder to create for the copy.
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
    },
    /// Hand a release over to a researcher's account: the checked handover copy, which that account alone
    /// downloads from the release zone (`kiban serve --zone release`).
    Handover {
        release_id: String,
        /// The researcher's account.
        #[arg(long, value_name = "USER")]
        to: String,
    },
}

#[derive(clap::Args, Debug)]
pub struct InitArgs {
    /// The administrator's user name.
    #[arg(long)]
    pub admin: String,
    #[arg(long, default_value = "")]
    pub display_name: String,
}

#[derive(clap::Args, Debug)]
pub struct LoginArgs {
    #[arg(long)]
    pub user: String,
    /// Give a recovery code instead of the authenticator's code (each works once).
    #[arg(long)]
    pub recovery_code: bool,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create an account; prints a one-time enrollment token to hand to its owner.
    Add {
        name: String,
        /// One or more of: intake-operator, processor, reviewer, security-admin, auditor, researcher.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        #[arg(long, default_value = "")]
        display_name: String,
    },
    /// Set your password with your enrollment token; prints your authenticator secret and recovery codes.
    Enroll {
        #[arg(long)]
        user: String,
    },
    /// Change your own password.
    Passwd,
    /// Void a user's password and second factor after checking who they are; prints a new enrollment token.
    Reset {
        name: String,
        /// How the user's identity was checked (e.g. "in person, staff ID card"); recorded.
        #[arg(long)]
        identity_check: String,
    },
    /// Lock an account.
    Lock {
        name: String,
        #[arg(long)]
        reason: String,
    },
    /// Unlock an account (not your own), with a recorded reason.
    Unlock {
        name: String,
        #[arg(long)]
        reason: String,
    },
    /// Break-glass: unlock the last security administrator when no other can, proving authority with the
    /// key-encryption key itself (runs without a session; audited and alerted).
    Recover {
        name: String,
        /// The key-encryption key's file (64 hex characters), named explicitly.
        #[arg(long, value_name = "FILE")]
        key_file: PathBuf,
        #[arg(long)]
        reason: String,
    },
    /// Replace a user's roles (not your own).
    Roles {
        name: String,
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
    },
    /// List accounts: name, roles, state. No secrets.
    List,
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// The KEK in use and every key in the key store (objects only, no key material).
    Status,
    /// Re-wrap every key under a new KEK read from a key file (64 hex characters); the vault is untouched.
    Rotate {
        #[arg(long)]
        new_key_file: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum DeleteCommand {
    /// Delete a batch's records from the vault.
    Batch {
        batch: u64,
        #[arg(long)]
        reason: String,
    },
    /// Delete a release's files.
    Release {
        release_id: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ReviewCommand {
    /// The pairs the last `kiban link` left undecided: an opaque pair ID, the score, why, and which fields agree.
    List,
    /// Decide a pair: one person (`--same`) or two (`--different`); the next `kiban link` applies it.
    Decide {
        pair_id: String,
        #[arg(long, conflicts_with = "different", required_unless_present = "different")]
        same: bool,
        #[arg(long)]
        different: bool,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ProviderCommand {
    /// Register a provider's notice, and its publication date once published.
    Add(ProviderArgs),
    /// List registered providers.
    List,
    /// Issue the provider's upload credential for the intake zone (shown once; replaces any earlier one).
    Credential { code: String },
    /// Revoke the provider's upload credential.
    Revoke { code: String },
}

#[derive(Subcommand, Debug)]
pub enum OptoutCommand {
    /// Record a request, write its notice (書面) and keep the person out of later intakes and releases.
    Add(Box<OptoutArgs>),
    /// List requests: reference and dates, never who.
    List,
    /// Print a request's kept notice (HTML) again.
    Notice { request_id: String },
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
        /// Only entries by this user.
        #[arg(long, alias = "actor")]
        user: Option<String>,
        /// Only entries at or after this time (RFC 3339, or a date: 2026-11-01).
        #[arg(long)]
        since: Option<String>,
        /// Only entries before this time (RFC 3339, or a date).
        #[arg(long)]
        until: Option<String>,
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

/// Runs one parsed command: commands outside a session directly, every other one as a typed request
/// through [`App::execute`], which authorizes, runs, audits and checks for anomalies.
///
/// # Errors
/// Whatever the command reports, with context.
pub fn run(cli: Cli) -> Result<()> {
    let progress = !cli.no_progress;
    match cli.command {
        Command::Synth(args) => {
            let summary = kiban_service::synth(&args.request(), progress)?;
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
        Command::Serve(args) => {
            let database = DatabaseConfig::from_url(cli.database_url);
            let app = App::open(&cli.data_dir, &database, false)?;
            serve::serve(app, &args)
        }
        command => {
            let database = DatabaseConfig::from_url(cli.database_url);
            let app = App::open(&cli.data_dir, &database, progress)?;
            let session_file = session::session_file(cli.session_file.as_deref(), &cli.data_dir);
            run_in(&app, &session_file, command)
        }
    }
}

/// Runs a command that needs the store.
fn run_in(app: &App, session_file: &std::path::Path, command: Command) -> Result<()> {
    match command {
        Command::Demo(args) => {
            let outcome = app.demo(&args.request())?;
            print::demo(&outcome, app.data_dir());
            Ok(())
        }
        Command::Init(args) => commands::init(app, &args),
        Command::Login(args) => commands::login(app, session_file, &args),
        Command::Logout => {
            let token = session::current_token(session_file)?;
            let user = app.logout(token.expose_secret())?;
            let _ = std::fs::remove_file(session_file);
            println!("logged out {user}");
            Ok(())
        }
        Command::User(UserCommand::Enroll { user }) => commands::enroll(app, &user),
        Command::User(UserCommand::Recover { name, key_file, reason }) => {
            let key = match kiban_service::read_key_file(&key_file) {
                Ok(key) => key,
                Err(error) => {
                    app.audit_break_glass_refusal(&name, &error);
                    return Err(error.into());
                }
            };
            app.break_glass_unlock(&name, &key, &reason)?;
            println!("unlocked {name} (break-glass; recorded in the audit log and alerts.log)");
            Ok(())
        }
        Command::User(UserCommand::Passwd) => {
            let session = authenticate(app, session_file)?;
            commands::passwd(app, &session)
        }
        command => {
            let Some(request) = request_of(command)? else {
                anyhow::bail!("this command does not run inside a session")
            };
            let session = authenticate(app, session_file)?;
            let response = app.execute(&session, request)?;
            print::response(&response);
            Ok(())
        }
    }
}

/// The session of the current token (`KIBAN_SESSION`, or the session file).
fn authenticate(app: &App, session_file: &std::path::Path) -> Result<Session> {
    let token = session::current_token(session_file)?;
    Ok(app.authenticate(token.expose_secret())?)
}

/// The typed request a store command makes; `None` for the commands that run without a session.
///
/// # Errors
/// Arguments that do not make a request (an unreadable policy, a bad time bound, a key file).
pub fn request_of(command: Command) -> Result<Option<Request>> {
    let request = match command {
        Command::Provider(ProviderCommand::Add(args)) => Request::ProviderAdd(args.request()),
        Command::Provider(ProviderCommand::List) => Request::ProviderList,
        Command::Provider(ProviderCommand::Credential { code }) => {
            Request::ProviderCredentialIssue { provider: code }
        }
        Command::Provider(ProviderCommand::Revoke { code }) => {
            Request::ProviderCredentialRevoke { provider: code }
        }
        Command::Release(ReleaseCli {
            command: Some(ReleaseCommand::Handover { release_id, to }), ..
        }) => Request::ReleaseHandover { release_id, recipient: to },
        Command::Ingest(args) => Request::Ingest(args.request()),
        Command::Batches => Request::BatchList,
        Command::Quarantine { batch } => Request::Quarantine { batch },
        Command::Link(args) => Request::Link(args.request()),
        Command::Review(ReviewCommand::List) => Request::LinkReviewList,
        Command::Review(ReviewCommand::Decide { pair_id, same, reason, .. }) => {
            Request::LinkReviewDecide { pair_id, same_person: same, reason }
        }
        Command::Release(ReleaseCli { command: None, args }) => Request::Release(Box::new(args.request()?)),
        Command::Release(ReleaseCli { command: Some(ReleaseCommand::Export { release_id, to }), .. }) => {
            Request::ReleaseExport { release_id, to }
        }
        Command::Release(ReleaseCli { command: Some(ReleaseCommand::List), .. }) => Request::ReleaseList,
        Command::Optout(OptoutCommand::Add(args)) => Request::OptoutAdd(Box::new(args.request())),
        Command::Optout(OptoutCommand::List) => Request::OptoutList,
        Command::Optout(OptoutCommand::Notice { request_id }) => Request::OptoutNotice { request_id },
        Command::LinkageMaterial(LinkageMaterialCommand::Export(args)) => {
            Request::LinkageMaterialExport(args.request())
        }
        Command::LinkageMaterial(LinkageMaterialCommand::Import(args)) => {
            Request::LinkageMaterialImport(args.request())
        }
        Command::Ledger => Request::Ledger,
        Command::Receipts => Request::Receipts,
        Command::Audit(AuditCommand::Verify) => Request::AuditVerify,
        Command::Audit(AuditCommand::Show { user, object, since, until }) => {
            Request::AuditShow(kiban_service::AuditFilter::parse(
                user.as_deref(),
                object.as_deref(),
                since.as_deref(),
                until.as_deref(),
            )?)
        }
        Command::User(UserCommand::Add { name, roles, display_name }) => {
            Request::UserAdd { name, display_name, roles }
        }
        Command::User(UserCommand::List) => Request::UserList,
        Command::User(UserCommand::Reset { name, identity_check }) => {
            Request::UserReset { name, identity_check }
        }
        Command::User(UserCommand::Lock { name, reason }) => Request::UserLock { name, reason },
        Command::User(UserCommand::Unlock { name, reason }) => Request::UserUnlock { name, reason },
        Command::User(UserCommand::Roles { name, roles }) => Request::UserRoles { name, roles },
        Command::Keys(KeysCommand::Status) => Request::KeysStatus,
        Command::Keys(KeysCommand::Rotate { new_key_file }) => {
            Request::KeysRotate { new_kek: kiban_service::read_key_file(&new_key_file)? }
        }
        Command::Delete(DeleteCommand::Batch { batch, reason }) => Request::DeleteBatch { batch, reason },
        Command::Delete(DeleteCommand::Release { release_id, reason }) => {
            Request::DeleteRelease { release_id, reason }
        }
        Command::Demo(_)
        | Command::Serve(_)
        | Command::Synth(_)
        | Command::Anonymize(_)
        | Command::Init(_)
        | Command::Login(_)
        | Command::Logout
        | Command::User(UserCommand::Enroll { .. } | UserCommand::Passwd | UserCommand::Recover { .. }) => {
            return Ok(None);
        }
    };
    Ok(Some(request))
}
