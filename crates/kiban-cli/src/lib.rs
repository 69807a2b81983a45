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
mod commands;
mod ctx;
mod demo;
mod ingest;
mod keys;
mod link;
mod linkage_material;
mod optout;
mod progress;
mod release;
mod security;
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
pub use release::{
    ExportOutcome, ReleaseArgs, ReleaseOutcome, export as export_release, group_by_person, release,
};
pub use security::{
    DeletionOutcome, EnrollmentOutcome, EnrollmentToken, LoginOutcome, Principal, SecondFactor, add_user,
    after_command, anomaly_policy, authenticate, authenticate_with, authorize, break_glass_unlock,
    change_password, delete_batch, delete_release, enroll, init_admin, lock_user, login, logout, reset_user,
    rotate_keys, save_session, session_file, set_roles, unlock_user,
};
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
    /// Anonymize one CSV table with privacy models (k-anonymity, l-diversity, t-closeness) and write a report.
    Anonymize(Box<AnonymizeArgs>),
    /// Register or list providers (Rule 36: notice and publication).
    #[command(subcommand)]
    Provider(ProviderCommand),
    /// Ingest one provider's extract (SS-MIX2 storage, FHIR, or CSV) into the vault.
    Ingest(IngestArgs),
    /// Link persons across providers (名寄せ).
    Link(LinkArgs),
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
    /// Write the handover copy of a release (its files opened and checked against the manifest, with the
    /// manifest and report) into a new folder; audited, and counted as an export.
    Export {
        release_id: String,
        /// The folder to create for the copy.
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
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
            let mut ctx = Ctx::open_with(&cli.data_dir, &database, "anonymous", progress)?;
            ctx.session_file = cli.session_file;
            match command {
                Command::Demo(args) => {
                    if ctx.store.has_users()? {
                        anyhow::bail!(
                            "the demo runs only in a data directory without accounts; give it a fresh --data-dir"
                        );
                    }
                    ctx.actor = "kiban-demo".to_owned();
                    let outcome = demo(&ctx, &args)?;
                    demo::print_outcome(&ctx, &outcome);
                    Ok(())
                }
                Command::Init(args) => commands::init(&ctx, &args),
                Command::Login(args) => commands::login(&ctx, &args),
                Command::Logout => {
                    let user = security::logout(&ctx)?;
                    println!("logged out {user}");
                    Ok(())
                }
                Command::User(UserCommand::Enroll { user }) => commands::enroll(&ctx, &user),
                Command::User(UserCommand::Recover { name, key_file, reason }) => {
                    let key = match keys::read_key_file(&key_file) {
                        Ok(key) => key,
                        Err(error) => {
                            let object = format!("user:{name}");
                            ctx.audit_failure_by(
                                "break-glass",
                                "user.break-glass",
                                &object,
                                kiban_audit::Outcome::Denied,
                                &error,
                            );
                            return Err(error);
                        }
                    };
                    security::break_glass_unlock(&ctx, &name, &key, &reason)?;
                    println!("unlocked {name} (break-glass; recorded in the audit log and alerts.log)");
                    Ok(())
                }
                Command::User(UserCommand::Passwd) => {
                    let principal = security::authenticate(&ctx)?;
                    ctx.actor = principal.user.clone();
                    commands::passwd(&ctx, &principal)
                }
                command => {
                    let Some(action) = action_of(&command) else {
                        anyhow::bail!("this command does not run inside a session")
                    };
                    let principal = security::authenticate(&ctx)?;
                    ctx.actor = principal.user.clone();
                    security::authorize(&ctx, &principal, action)?;
                    let result = run_with_ctx(&ctx, &principal, command);
                    let (outcome, rows) = match &result {
                        Ok(rows) => (kiban_auth::EventOutcome::Success, *rows),
                        Err(_) => (kiban_auth::EventOutcome::Failed, 0),
                    };
                    security::after_command(&ctx, &principal, action.name(), outcome, rows)?;
                    result.map(|_| ())
                }
            }
        }
    }
}

/// The action a store command needs: one line per command, so a new command cannot be added without
/// deciding who may run it. `None` for the commands that run without a session (see `run`).
pub fn action_of(command: &Command) -> Option<kiban_auth::Action> {
    use kiban_auth::Action;
    let action = match command {
        Command::Provider(ProviderCommand::Add(_)) => Action::ProviderAdd,
        Command::Provider(ProviderCommand::List) => Action::ProviderList,
        Command::Ingest(_) => Action::Ingest,
        Command::Link(_) => Action::Link,
        Command::Release(ReleaseCli { command: None, .. }) => Action::Release,
        Command::Release(ReleaseCli { command: Some(ReleaseCommand::Export { .. }), .. }) => {
            Action::ReleaseExport
        }
        Command::Optout(OptoutCommand::Add(_)) => Action::OptoutAdd,
        Command::Optout(OptoutCommand::List) => Action::OptoutList,
        Command::LinkageMaterial(LinkageMaterialCommand::Export(_)) => Action::LinkageMaterialExport,
        Command::LinkageMaterial(LinkageMaterialCommand::Import(_)) => Action::LinkageMaterialImport,
        Command::Ledger => Action::Ledger,
        Command::Receipts => Action::Receipts,
        Command::Audit(AuditCommand::Verify) => Action::AuditVerify,
        Command::Audit(AuditCommand::Show { .. }) => Action::AuditShow,
        Command::User(UserCommand::Add { .. }) => Action::UserAdd,
        Command::User(UserCommand::List) => Action::UserList,
        Command::User(UserCommand::Reset { .. }) => Action::UserReset,
        Command::User(UserCommand::Lock { .. }) => Action::UserLock,
        Command::User(UserCommand::Unlock { .. }) => Action::UserUnlock,
        Command::User(UserCommand::Roles { .. }) => Action::UserRoles,
        Command::Keys(KeysCommand::Status) => Action::KeysStatus,
        Command::Keys(KeysCommand::Rotate { .. }) => Action::KeysRotate,
        Command::Delete(DeleteCommand::Batch { .. }) => Action::DeleteBatch,
        Command::Delete(DeleteCommand::Release { .. }) => Action::DeleteRelease,
        Command::Anonymize(_) => Action::Anonymize,
        Command::Demo(_)
        | Command::Synth(_)
        | Command::Init(_)
        | Command::Login(_)
        | Command::Logout
        | Command::User(UserCommand::Enroll { .. } | UserCommand::Passwd | UserCommand::Recover { .. }) => {
            return None;
        }
    };
    Some(action)
}

/// Runs an authorized store command; returns the patient records it read from the vault or sent out (for
/// the anomaly rules).
fn run_with_ctx(ctx: &Ctx, principal: &security::Principal, command: Command) -> Result<u64> {
    let none = |result: Result<()>| result.map(|()| 0);
    match command {
        Command::Synth(_)
        | Command::Anonymize(_)
        | Command::Demo(_)
        | Command::Init(_)
        | Command::Login(_) => {
            anyhow::bail!("this command does not run inside a session")
        }
        Command::Logout
        | Command::User(UserCommand::Enroll { .. } | UserCommand::Passwd | UserCommand::Recover { .. }) => {
            anyhow::bail!("this command does not run inside a session")
        }
        Command::Provider(ProviderCommand::Add(args)) => {
            register_provider(ctx, &args)?;
            println!("registered provider {}", args.code);
            Ok(0)
        }
        Command::Provider(ProviderCommand::List) => none(ingest::print_providers(ctx)),
        Command::Ingest(args) => {
            let outcome = ingest(ctx, &args)?;
            ingest::print_outcome(&outcome);
            Ok(0)
        }
        Command::Link(args) => {
            let outcome = link(ctx, &args)?;
            link::print_outcome(&outcome);
            Ok(outcome.n_records as u64)
        }
        Command::Release(ReleaseCli { command: None, args }) => {
            let outcome = release(ctx, &args)?;
            release::print_outcome(&outcome);
            Ok(outcome.n_persons_released as u64)
        }
        Command::Release(ReleaseCli { command: Some(ReleaseCommand::Export { release_id, to }), .. }) => {
            let outcome = release::export(ctx, &release_id, &to)?;
            release::print_export(&outcome);
            Ok(outcome.n_persons)
        }
        Command::Optout(OptoutCommand::Add(args)) => {
            let outcome = add_optout(ctx, &args)?;
            optout::print_outcome(&outcome);
            Ok(0)
        }
        Command::Optout(OptoutCommand::List) => none(optout::print_list(ctx)),
        Command::LinkageMaterial(LinkageMaterialCommand::Export(args)) => {
            let outcome = export_linkage_material(ctx, &args)?;
            linkage_material::print_export(&outcome);
            Ok(outcome.n_rows as u64)
        }
        Command::LinkageMaterial(LinkageMaterialCommand::Import(args)) => {
            let n = import_linkage_material(ctx, &args)?;
            println!("stored {n} provision IDs (提供用ID)");
            Ok(0)
        }
        Command::Ledger => none(audit::print_ledger(ctx)),
        Command::Receipts => none(audit::print_receipts(ctx)),
        Command::Audit(AuditCommand::Verify) => none(audit::verify(ctx)),
        Command::Audit(AuditCommand::Show { user, object, since, until }) => none(audit::show(
            ctx,
            &audit::Filter::parse(user.as_deref(), object.as_deref(), since.as_deref(), until.as_deref())?,
        )),
        Command::User(command) => none(commands::user(ctx, principal, command)),
        Command::Keys(command) => none(commands::keys(ctx, principal, command)),
        Command::Delete(command) => none(commands::delete(ctx, principal, command)),
    }
}
