//! Every operation that runs inside a session, as one typed request, and the one entry point that runs it.

use std::path::PathBuf;

use kiban_audit::AuditEntry;
use kiban_auth::{Action, EventOutcome, Role};
use kiban_crypto::SecretKey;
use kiban_store::{
    BatchInfo, LedgerEntry, ProviderRegistration, QuarantinedInput, Receipt, ReleaseInfo, ReleaseStatus,
};

use crate::audit::{AuditFilter, AuditVerified, KeyStatus, UserSummary};
use crate::{
    App, DeletionOutcome, EnrollmentToken, ExportOutcome, IngestOutcome, IngestRequest, LinkOutcome,
    LinkRequest, LinkageExportOutcome, LinkageExportRequest, LinkageImportRequest, OptoutForm, OptoutOutcome,
    ProviderRequest, ReleaseOutcome, ReleaseRequest, ServiceError, Session,
};

/// An operation a logged-in user asks for. Each names the [`Action`] it needs ([`Request::action`]), so a
/// new operation cannot be added without deciding who may run it.
#[derive(Debug)]
pub enum Request {
    ProviderAdd(ProviderRequest),
    ProviderList,
    /// A new upload credential for the provider (replacing any earlier one), shown once.
    ProviderCredentialIssue {
        provider: String,
    },
    ProviderCredentialRevoke {
        provider: String,
    },
    Ingest(IngestRequest),
    BatchList,
    /// Quarantined inputs with their reasons, of one batch or of all.
    Quarantine {
        batch: Option<u64>,
    },
    Link(LinkRequest),
    /// The linkage review queue: pairs the last linkage run left to a person.
    LinkReviewList,
    /// A decision on a queued pair (one person or two), applied by the next linkage run.
    LinkReviewDecide {
        pair_id: String,
        same_person: bool,
        reason: String,
    },
    Release(Box<ReleaseRequest>),
    ReleaseList,
    /// The HTML report of a recorded release (counts, treatments and measured risk: no patient value).
    ReleaseReport {
        release_id: String,
    },
    ReleaseExport {
        release_id: String,
        to: PathBuf,
    },
    /// Hand a release over to a researcher's account, for download from the release zone.
    ReleaseHandover {
        release_id: String,
        recipient: String,
    },
    /// The releases handed over to the session's own account.
    PackageList,
    /// One file of a release handed over to the session's own account.
    PackageFile {
        release_id: String,
        path: String,
    },
    OptoutAdd(Box<OptoutForm>),
    OptoutList,
    /// The kept copy of a request's written notice (HTML), to print it again.
    OptoutNotice {
        request_id: String,
    },
    LinkageMaterialExport(LinkageExportRequest),
    LinkageMaterialImport(LinkageImportRequest),
    Ledger,
    Receipts,
    AuditVerify,
    AuditShow(AuditFilter),
    UserAdd {
        name: String,
        display_name: String,
        roles: Vec<String>,
    },
    UserList,
    UserReset {
        name: String,
        identity_check: String,
    },
    UserLock {
        name: String,
        reason: String,
    },
    UserUnlock {
        name: String,
        reason: String,
    },
    UserRoles {
        name: String,
        roles: Vec<String>,
    },
    KeysStatus,
    KeysRotate {
        new_kek: SecretKey,
    },
    DeleteBatch {
        batch: u64,
        reason: String,
    },
    DeleteRelease {
        release_id: String,
        reason: String,
    },
}

/// What a request produced.
#[derive(Debug)]
pub enum Response {
    ProviderRegistered {
        code: String,
    },
    Providers(Vec<ProviderRegistration>),
    ProviderCredential {
        provider: String,
        token: kiban_auth::SecretText,
    },
    ProviderCredentialRevoked {
        provider: String,
    },
    HandedOver(kiban_store::Handover),
    Packages(Vec<kiban_store::Handover>),
    /// Where the requested file is (the frontend streams it).
    PackageFile(PathBuf),
    Ingested(IngestOutcome),
    Batches(Vec<BatchInfo>),
    Quarantine(Vec<QuarantinedInput>),
    Linked(LinkOutcome),
    LinkReview(Vec<kiban_store::ReviewItem>),
    LinkReviewDecided(kiban_store::ReviewDecision),
    Released(Box<ReleaseOutcome>),
    Releases {
        recorded: Vec<ReleaseInfo>,
        statuses: Vec<ReleaseStatus>,
    },
    /// A release's HTML report.
    Report(String),
    Exported(ExportOutcome),
    OptoutRecorded(OptoutOutcome),
    /// Opt-out requests by reference and dates only, never who.
    Optouts(Vec<crate::optout::OptoutListing>),
    Notice(String),
    LinkageExported(LinkageExportOutcome),
    ProvisionIdsImported(usize),
    Ledger(Vec<LedgerEntry>),
    Receipts(Vec<Receipt>),
    AuditVerified(AuditVerified),
    AuditEntries(Vec<AuditEntry>),
    EnrollmentToken(EnrollmentToken),
    Users(Vec<UserSummary>),
    Locked {
        name: String,
    },
    Unlocked {
        name: String,
    },
    Roles {
        name: String,
        roles: Vec<Role>,
    },
    KeyStatus(KeyStatus),
    KeysRotated {
        rewrapped: usize,
        already_current: usize,
        note: String,
    },
    Deleted(DeletionOutcome),
}

impl Request {
    /// The action this request needs: one line per request.
    pub fn action(&self) -> Action {
        match self {
            Request::ProviderAdd(_) => Action::ProviderAdd,
            Request::ProviderList => Action::ProviderList,
            Request::ProviderCredentialIssue { .. } | Request::ProviderCredentialRevoke { .. } => {
                Action::ProviderCredential
            }
            Request::Ingest(_) => Action::Ingest,
            Request::BatchList | Request::Quarantine { .. } => Action::Receipts,
            Request::Link(_) | Request::LinkReviewList | Request::LinkReviewDecide { .. } => Action::Link,
            Request::Release(_) => Action::Release,
            Request::ReleaseList | Request::ReleaseReport { .. } => Action::Ledger,
            Request::ReleaseExport { .. } => Action::ReleaseExport,
            Request::ReleaseHandover { .. } => Action::ReleaseHandover,
            Request::PackageList | Request::PackageFile { .. } => Action::PackageDownload,
            Request::OptoutAdd(_) => Action::OptoutAdd,
            Request::OptoutList => Action::OptoutList,
            Request::OptoutNotice { .. } => Action::OptoutAdd,
            Request::LinkageMaterialExport(_) => Action::LinkageMaterialExport,
            Request::LinkageMaterialImport(_) => Action::LinkageMaterialImport,
            Request::Ledger => Action::Ledger,
            Request::Receipts => Action::Receipts,
            Request::AuditVerify => Action::AuditVerify,
            Request::AuditShow(_) => Action::AuditShow,
            Request::UserAdd { .. } => Action::UserAdd,
            Request::UserList => Action::UserList,
            Request::UserReset { .. } => Action::UserReset,
            Request::UserLock { .. } => Action::UserLock,
            Request::UserUnlock { .. } => Action::UserUnlock,
            Request::UserRoles { .. } => Action::UserRoles,
            Request::KeysStatus => Action::KeysStatus,
            Request::KeysRotate { .. } => Action::KeysRotate,
            Request::DeleteBatch { .. } => Action::DeleteBatch,
            Request::DeleteRelease { .. } => Action::DeleteRelease,
        }
    }
}

impl Response {
    /// Patient records the operation read from the vault or sent out (what the anomaly rules count).
    fn rows(&self) -> u64 {
        match self {
            Response::Linked(outcome) => outcome.n_records as u64,
            Response::Released(outcome) => outcome.n_persons_released as u64,
            Response::Exported(outcome) => outcome.n_persons,
            Response::LinkageExported(outcome) => outcome.n_rows as u64,
            _ => 0,
        }
    }
}

impl App {
    /// Runs `request` for `session`: the one entry point. Checks the password's age and the session's
    /// roles (a refusal is audited, counted, and locks the account), runs the operation (which audits
    /// itself), then records the activity and runs the anomaly rules; an anomaly locks the account.
    ///
    /// # Errors
    /// [`ErrorCode::Forbidden`](crate::ErrorCode::Forbidden), [`ErrorCode::PasswordExpired`](crate::ErrorCode::PasswordExpired),
    /// or the operation's own error.
    pub fn execute(&self, session: &Session, request: Request) -> Result<Response, ServiceError> {
        self.run_request(session, request, None)
    }

    /// [`App::execute`], telling `steps` each step of a long operation (linkage, a release) as it starts.
    ///
    /// # Errors
    /// As [`App::execute`].
    pub fn execute_observed(
        &self,
        session: &Session,
        request: Request,
        steps: &crate::app::StepObserver,
    ) -> Result<Response, ServiceError> {
        self.run_request(session, request, Some(steps))
    }

    fn run_request(
        &self,
        session: &Session,
        request: Request,
        steps: Option<&crate::app::StepObserver>,
    ) -> Result<Response, ServiceError> {
        let mut ctx = self.as_actor(session.user());
        ctx.steps = steps;
        let action = request.action();
        crate::security::authorize(&ctx, session, action)?;
        let result = run(&ctx, session, request);
        let (outcome, rows) = match &result {
            Ok(response) => (EventOutcome::Success, response.rows()),
            Err(_) => (EventOutcome::Failed, 0),
        };
        crate::security::after_command(&ctx, session, action.name(), outcome, rows)?;
        result.map_err(ServiceError::from)
    }
}

fn run(ctx: &crate::app::Ctx<'_>, session: &Session, request: Request) -> anyhow::Result<Response> {
    use crate::{audit, ingest, link, linkage_material, optout, release, security, zones};
    Ok(match request {
        Request::ProviderAdd(form) => {
            ingest::register_provider(ctx, &form)?;
            Response::ProviderRegistered { code: form.code }
        }
        Request::ProviderList => Response::Providers(ctx.store.providers()?),
        Request::ProviderCredentialIssue { provider } => {
            let token = zones::issue_credential(ctx, &provider)?;
            Response::ProviderCredential { provider, token }
        }
        Request::ProviderCredentialRevoke { provider } => {
            zones::revoke_credential(ctx, &provider)?;
            Response::ProviderCredentialRevoked { provider }
        }
        Request::ReleaseHandover { release_id, recipient } => {
            Response::HandedOver(zones::hand_over(ctx, &release_id, &recipient)?)
        }
        Request::PackageList => Response::Packages(zones::packages(ctx, session)?),
        Request::PackageFile { release_id, path } => {
            Response::PackageFile(zones::package_file(ctx, session, &release_id, &path)?)
        }
        Request::Ingest(form) => Response::Ingested(ingest::ingest(ctx, &form)?),
        Request::BatchList => Response::Batches(ctx.store.batches()?),
        Request::Quarantine { batch } => Response::Quarantine(audit::quarantine(ctx, batch)?),
        Request::Link(form) => Response::Linked(link::link(ctx, &form)?),
        Request::LinkReviewList => Response::LinkReview(ctx.store.review_queue()?),
        Request::LinkReviewDecide { pair_id, same_person, reason } => {
            Response::LinkReviewDecided(link::decide(ctx, &pair_id, same_person, &reason)?)
        }
        Request::Release(form) => Response::Released(Box::new(release::release(ctx, &form)?)),
        Request::ReleaseList => {
            Response::Releases { recorded: ctx.store.releases()?, statuses: ctx.store.release_statuses()? }
        }
        Request::ReleaseReport { release_id } => Response::Report(release::report(ctx, &release_id)?),
        Request::ReleaseExport { release_id, to } => {
            Response::Exported(release::export(ctx, &release_id, &to)?)
        }
        Request::OptoutAdd(form) => Response::OptoutRecorded(optout::add_optout(ctx, &form)?),
        Request::OptoutList => Response::Optouts(optout::list(ctx)?),
        Request::OptoutNotice { request_id } => Response::Notice(optout::notice(ctx, &request_id)?),
        Request::LinkageMaterialExport(form) => {
            Response::LinkageExported(linkage_material::export_linkage_material(ctx, &form)?)
        }
        Request::LinkageMaterialImport(form) => {
            Response::ProvisionIdsImported(linkage_material::import_linkage_material(ctx, &form)?)
        }
        Request::Ledger => Response::Ledger(ctx.store.ledger()?),
        Request::Receipts => Response::Receipts(ctx.store.receipts()?),
        Request::AuditVerify => Response::AuditVerified(audit::verify(ctx)?),
        Request::AuditShow(filter) => Response::AuditEntries(audit::show(ctx, &filter)?),
        Request::UserAdd { name, display_name, roles } => {
            let display_name = if display_name.is_empty() { name.clone() } else { display_name };
            Response::EnrollmentToken(security::add_user(ctx, session, &name, &display_name, &roles)?)
        }
        Request::UserList => Response::Users(audit::users(ctx)?),
        Request::UserReset { name, identity_check } => {
            Response::EnrollmentToken(security::reset_user(ctx, session, &name, &identity_check)?)
        }
        Request::UserLock { name, reason } => {
            security::lock_user(ctx, session, &name, &reason)?;
            Response::Locked { name }
        }
        Request::UserUnlock { name, reason } => {
            security::unlock_user(ctx, session, &name, &reason)?;
            Response::Unlocked { name }
        }
        Request::UserRoles { name, roles } => {
            let roles = security::set_roles(ctx, session, &name, &roles)?;
            Response::Roles { name, roles }
        }
        Request::KeysStatus => Response::KeyStatus(audit::key_status(ctx)?),
        Request::KeysRotate { new_kek } => {
            let (rotation, note) = security::rotate_keys(ctx, session, &new_kek)?;
            Response::KeysRotated {
                rewrapped: rotation.rewrapped,
                already_current: rotation.already_current,
                note,
            }
        }
        Request::DeleteBatch { batch, reason } => {
            Response::Deleted(security::delete_batch(ctx, session, kiban_store::BatchId(batch), &reason)?)
        }
        Request::DeleteRelease { release_id, reason } => {
            Response::Deleted(security::delete_release(ctx, session, &release_id, &reason)?)
        }
    })
}
