//! What an audit entry names: its action and its object, as enums, so a misspelt action or an object
//! written two ways cannot reach the log. Their text forms are the log's (and a boundary: auditors filter
//! on them).

use std::fmt;

use kiban_auth::Action;

/// The action an audit entry records.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AuditAction {
    ProviderRegister,
    IngestBatch,
    LinkageReplace,
    LinkageReview,
    LinkageMaterialExport,
    LinkageMaterialImport,
    OptoutRecord,
    ReleaseProcess,
    ReleaseWrite,
    ReleaseExport,
    UserInit,
    UserAdd,
    UserEnroll,
    UserPasswd,
    UserReset,
    UserLock,
    UserUnlock,
    UserRoles,
    UserBreakGlass,
    Login,
    Logout,
    SecurityLock,
    KeysRotate,
    DeleteBatch,
    DeleteRelease,
    ProviderCredential,
    IntakeUpload,
    ReleaseHandover,
    ReleaseDownload,
    /// An operation refused by authorization: the refused action's own name.
    Refused(Action),
}

impl AuditAction {
    /// The action as the audit log spells it.
    pub fn name(self) -> &'static str {
        match self {
            AuditAction::ProviderRegister => "provider.register",
            AuditAction::IngestBatch => "ingest.batch",
            AuditAction::LinkageReplace => "linkage.replace",
            AuditAction::LinkageReview => "linkage.review",
            AuditAction::LinkageMaterialExport => "linkage_material.export",
            AuditAction::LinkageMaterialImport => "linkage_material.import",
            AuditAction::OptoutRecord => "optout.record",
            AuditAction::ReleaseProcess => "release.process",
            AuditAction::ReleaseWrite => "release.write",
            AuditAction::ReleaseExport => "release.export",
            AuditAction::UserInit => "user.init",
            AuditAction::UserAdd => "user.add",
            AuditAction::UserEnroll => "user.enroll",
            AuditAction::UserPasswd => "user.passwd",
            AuditAction::UserReset => "user.reset",
            AuditAction::UserLock => "user.lock",
            AuditAction::UserUnlock => "user.unlock",
            AuditAction::UserRoles => "user.roles",
            AuditAction::UserBreakGlass => "user.break-glass",
            AuditAction::Login => "login",
            AuditAction::Logout => "logout",
            AuditAction::SecurityLock => "security.lock",
            AuditAction::KeysRotate => "keys.rotate",
            AuditAction::DeleteBatch => "delete.batch",
            AuditAction::DeleteRelease => "delete.release",
            AuditAction::ProviderCredential => "provider.credential",
            AuditAction::IntakeUpload => "intake.upload",
            AuditAction::ReleaseHandover => "release.handover",
            AuditAction::ReleaseDownload => "release.download",
            AuditAction::Refused(action) => action.name(),
        }
    }
}

/// The object an audit entry is about.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ObjectRef {
    Provider(String),
    Batch(u64),
    Release(String),
    /// One file of a release's handover copy: the release and the file's path in it.
    ReleaseFile(String, String),
    User(String),
    Optout(String),
    LinkageExport(String),
    ProvisionIds,
    PersonLinks,
    /// A pair of the linkage review queue, by its two record keys.
    ReviewPair(String),
    Releases,
    Keystore,
    Authorization,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObjectRef::Provider(code) => write!(f, "provider:{code}"),
            ObjectRef::Batch(batch) => write!(f, "batch:{batch}"),
            ObjectRef::Release(id) => write!(f, "release:{id}"),
            ObjectRef::ReleaseFile(id, path) => write!(f, "release:{id}/{path}"),
            ObjectRef::User(name) => write!(f, "user:{name}"),
            ObjectRef::Optout(id) => write!(f, "optout:{id}"),
            ObjectRef::LinkageExport(id) => write!(f, "linkage-export:{id}"),
            ObjectRef::ProvisionIds => f.write_str("provision-ids"),
            ObjectRef::PersonLinks => f.write_str("person_links"),
            ObjectRef::ReviewPair(pair) => write!(f, "review:{pair}"),
            ObjectRef::Releases => f.write_str("releases"),
            ObjectRef::Keystore => f.write_str("keystore"),
            ObjectRef::Authorization => f.write_str("authorization"),
        }
    }
}
