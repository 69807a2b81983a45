//! kiban's application layer: every operation as a typed request, run through one entry point.
//!
//! The CLI and the HTTP server are frontends over this crate; business rules live here and nowhere else.
//! The shape follows kanidm's server library and rust-analyzer's `ide` boundary:
//!
//! - [`App`] holds the store (database, vault, key store under the operator's KEK), the data directory and
//!   the clock. It is shared by every request.
//! - A [`Session`] comes only from authentication ([`App::login`], [`App::authenticate`]); its fields are
//!   private, so nothing can claim to be a user it did not log in as.
//! - Every operation that runs inside a session is a [`Request`] (typed: a parsed policy, not a path to
//!   one) run by [`App::execute`], which checks the session's roles against `kiban_auth`'s table (deny by
//!   default; a refusal is audited and locks the account), runs it, and afterwards runs the anomaly rules
//!   (Rule 6-4-ロ) over the user's activity. There is no other way to run one.
//! - Errors are [`ServiceError`]s with a stable [`ErrorCode`]; audit entries name their action and object
//!   through [`AuditAction`] and [`ObjectRef`].
//! - Release IDs are reserved atomically in the store, and a release moves through a lifecycle
//!   (`staged` → `published` → `exported`) that the review workflow can extend.

mod app;
mod audit;
mod audit_ref;
mod demo;
mod error;
mod ingest;
mod keys;
mod link;
mod linkage_material;
mod optout;
mod policy;
pub mod progress;
mod release;
mod request;
mod security;
mod synth;
mod zones;

pub use app::{App, StepObserver};
pub use audit::{AuditFilter, AuditVerified, KeyStatus, UserSummary, audit_entry_json};
pub use audit_ref::{AuditAction, ObjectRef};
pub use demo::{DemoLogin, DemoOutcome, DemoRequest};
pub use error::{ErrorCode, ServiceError};
pub use ingest::{IngestFormat, IngestOutcome, IngestRequest, ProviderRequest};
pub use keys::{KekSource, read_key_file};
pub use link::{LinkOutcome, LinkRequest};
pub use linkage_material::{LinkageExportOutcome, LinkageExportRequest, LinkageImportRequest};
pub use optout::{OptoutForm, OptoutListing, OptoutOutcome, Requester};
pub use policy::{load_policy_file, parse_policy_text, read_arx_rows};
pub use release::{ExportOutcome, ReleaseOutcome, ReleaseRequest, group_by_person};
pub use request::{Request, Response};
pub use security::{
    DeletionOutcome, EnrollmentOutcome, EnrollmentToken, LoginOutcome, SecondFactor, Session, anomaly_policy,
};
pub use synth::{SynthRequest, synth};
pub use zones::ProviderPrincipal;
