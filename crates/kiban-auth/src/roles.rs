//! Roles, the actions of the CLI (and later the server), and the one table saying which role may do what.

use std::fmt;
use std::str::FromStr;

/// A user's role (役割). A user may hold several; each action is allowed to the roles the table names.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Role {
    /// 受領担当: registers providers, ingests their extracts, records opt-outs.
    IntakeOperator,
    /// 加工担当: links, processes and releases data.
    Processor,
    /// 確認担当: checks the legal records (ledger, receipts) without touching data.
    Reviewer,
    /// セキュリティ管理者: users, keys, deletion, the audit log. Never processes data.
    SecurityAdmin,
    /// 監査担当: reads the audit log and the legal records.
    Auditor,
    /// 研究者: a recipient's user; downloads the packages handed over to them from the release zone.
    Researcher,
}

impl Role {
    /// Every role, in a fixed order.
    pub const ALL: [Role; 6] = [
        Role::IntakeOperator,
        Role::Processor,
        Role::Reviewer,
        Role::SecurityAdmin,
        Role::Auditor,
        Role::Researcher,
    ];

    /// The stable name used in storage, on the command line and in audit events.
    pub fn name(self) -> &'static str {
        match self {
            Role::IntakeOperator => "intake-operator",
            Role::Processor => "processor",
            Role::Reviewer => "reviewer",
            Role::SecurityAdmin => "security-admin",
            Role::Auditor => "auditor",
            Role::Researcher => "researcher",
        }
    }

    /// Reads a name written by [`Role::name`] (exact, lowercase).
    ///
    /// # Errors
    /// [`UnknownName`] when `name` is not a role's name.
    pub fn parse(name: &str) -> Result<Role, UnknownName> {
        Role::ALL
            .into_iter()
            .find(|role| role.name() == name)
            .ok_or(UnknownName { kind: "role", expected: ROLE_NAMES })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Role {
    type Err = UnknownName;

    fn from_str(name: &str) -> Result<Role, UnknownName> {
        Role::parse(name)
    }
}

/// An operation a user can ask for: one per CLI command (and later per server endpoint).
///
/// Logging in and changing one's own password are not actions: every user may do them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Action {
    ProviderAdd,
    ProviderList,
    Ingest,
    Link,
    Release,
    ReleaseExport,
    OptoutAdd,
    OptoutList,
    LinkageMaterialExport,
    LinkageMaterialImport,
    Ledger,
    Receipts,
    AuditShow,
    AuditVerify,
    UserAdd,
    UserList,
    UserReset,
    UserLock,
    UserUnlock,
    UserRoles,
    KeysStatus,
    KeysRotate,
    DeleteBatch,
    DeleteRelease,
    Anonymize,
    /// Issue (or revoke) a provider's upload credential for the intake zone.
    ProviderCredential,
    /// Hand a release over to a recipient's account, for download from the release zone.
    ReleaseHandover,
    /// A recipient lists and downloads the packages handed over to them (the release zone).
    PackageDownload,
}

impl Action {
    /// Every action, in a fixed order.
    pub const ALL: [Action; 28] = [
        Action::ProviderAdd,
        Action::ProviderList,
        Action::Ingest,
        Action::Link,
        Action::Release,
        Action::ReleaseExport,
        Action::OptoutAdd,
        Action::OptoutList,
        Action::LinkageMaterialExport,
        Action::LinkageMaterialImport,
        Action::Ledger,
        Action::Receipts,
        Action::AuditShow,
        Action::AuditVerify,
        Action::UserAdd,
        Action::UserList,
        Action::UserReset,
        Action::UserLock,
        Action::UserUnlock,
        Action::UserRoles,
        Action::KeysStatus,
        Action::KeysRotate,
        Action::DeleteBatch,
        Action::DeleteRelease,
        Action::Anonymize,
        Action::ProviderCredential,
        Action::ReleaseHandover,
        Action::PackageDownload,
    ];

    /// The stable name used in storage, in audit events and in the anomaly rules: the CLI command with its
    /// words joined by `-` (`kiban provider add` is `provider-add`).
    pub fn name(self) -> &'static str {
        match self {
            Action::ProviderAdd => "provider-add",
            Action::ProviderList => "provider-list",
            Action::Ingest => "ingest",
            Action::Link => "link",
            Action::Release => "release",
            Action::ReleaseExport => "release-export",
            Action::OptoutAdd => "optout-add",
            Action::OptoutList => "optout-list",
            Action::LinkageMaterialExport => "linkage-material-export",
            Action::LinkageMaterialImport => "linkage-material-import",
            Action::Ledger => "ledger",
            Action::Receipts => "receipts",
            Action::AuditShow => "audit-show",
            Action::AuditVerify => "audit-verify",
            Action::UserAdd => "user-add",
            Action::UserList => "user-list",
            Action::UserReset => "user-reset",
            Action::UserLock => "user-lock",
            Action::UserUnlock => "user-unlock",
            Action::UserRoles => "user-roles",
            Action::KeysStatus => "keys-status",
            Action::KeysRotate => "keys-rotate",
            Action::DeleteBatch => "delete-batch",
            Action::DeleteRelease => "delete-release",
            Action::Anonymize => "anonymize",
            Action::ProviderCredential => "provider-credential",
            Action::ReleaseHandover => "release-handover",
            Action::PackageDownload => "package-download",
        }
    }

    /// Reads a name written by [`Action::name`] (exact, lowercase).
    ///
    /// # Errors
    /// [`UnknownName`] when `name` is not an action's name.
    pub fn parse(name: &str) -> Result<Action, UnknownName> {
        Action::ALL.into_iter().find(|action| action.name() == name).ok_or(UnknownName {
            kind: "action",
            expected: "the CLI commands with their words joined by `-`, e.g. provider-add, audit-verify",
        })
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Action {
    type Err = UnknownName;

    fn from_str(name: &str) -> Result<Action, UnknownName> {
        Action::parse(name)
    }
}

/// A role or action name that is not in the table. The unknown text is not repeated: it is user input.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[error("unknown {kind} name; expected one of: {expected}")]
pub struct UnknownName {
    kind: &'static str,
    expected: &'static str,
}

const ROLE_NAMES: &str = "intake-operator, processor, reviewer, security-admin, auditor, researcher";

/// The roles allowed to perform `action`: the one authorization table of kiban (separation of duties).
///
/// Deny by default: the match is exhaustive, so a new action does not compile until it is given its roles
/// here, and an action no role may perform has an empty list.
pub fn allowed_roles(action: Action) -> &'static [Role] {
    use Role::{Auditor, IntakeOperator, Processor, Researcher, Reviewer, SecurityAdmin};
    match action {
        Action::ProviderAdd => &[IntakeOperator],
        Action::ProviderList => &[IntakeOperator, Processor, Reviewer, Auditor],
        Action::Ingest => &[IntakeOperator],
        Action::Link => &[Processor],
        Action::Release => &[Processor],
        Action::ReleaseExport => &[Processor],
        Action::OptoutAdd => &[IntakeOperator],
        Action::OptoutList => &[IntakeOperator, Reviewer, Auditor],
        Action::LinkageMaterialExport => &[Processor],
        Action::LinkageMaterialImport => &[Processor],
        Action::Ledger => &[Processor, Reviewer, Auditor],
        Action::Receipts => &[IntakeOperator, Reviewer, Auditor],
        Action::AuditShow => &[SecurityAdmin, Auditor],
        Action::AuditVerify => &[SecurityAdmin, Auditor],
        Action::UserAdd => &[SecurityAdmin],
        Action::UserList => &[SecurityAdmin, Auditor],
        Action::UserReset => &[SecurityAdmin],
        Action::UserLock => &[SecurityAdmin],
        Action::UserUnlock => &[SecurityAdmin],
        Action::UserRoles => &[SecurityAdmin],
        Action::KeysStatus => &[SecurityAdmin],
        Action::KeysRotate => &[SecurityAdmin],
        Action::DeleteBatch => &[SecurityAdmin],
        Action::DeleteRelease => &[SecurityAdmin],
        Action::Anonymize => &[Processor],
        // Credentials are secrets that let a provider write into the vault: the security administrator's.
        Action::ProviderCredential => &[SecurityAdmin],
        Action::ReleaseHandover => &[Processor],
        Action::PackageDownload => &[Researcher],
    }
}

/// Whether a user holding `roles` may perform `action`: true when any of the roles is allowed.
/// A user with no roles may do nothing.
pub fn is_allowed(roles: &[Role], action: Action) -> bool {
    roles.iter().any(|role| allowed_roles(action).contains(role))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The separation of duties of issue 6, written out independently of [`allowed_roles`]: one row per
    /// action, one column per role, `x` = allowed. A change to any cell of the table must change this grid.
    const EXPECTED: &str = "
        action                   intake processor reviewer secadmin auditor researcher
        provider-add             x      .         .        .        .       .
        provider-list            x      x         x        .        x       .
        ingest                   x      .         .        .        .       .
        link                     .      x         .        .        .       .
        release                  .      x         .        .        .       .
        release-export           .      x         .        .        .       .
        optout-add               x      .         .        .        .       .
        optout-list              x      .         x        .        x       .
        linkage-material-export  .      x         .        .        .       .
        linkage-material-import  .      x         .        .        .       .
        ledger                   .      x         x        .        x       .
        receipts                 x      .         x        .        x       .
        audit-show               .      .         .        x        x       .
        audit-verify             .      .         .        x        x       .
        user-add                 .      .         .        x        .       .
        user-list                .      .         .        x        x       .
        user-reset               .      .         .        x        .       .
        user-lock                .      .         .        x        .       .
        user-unlock              .      .         .        x        .       .
        user-roles               .      .         .        x        .       .
        keys-status              .      .         .        x        .       .
        keys-rotate              .      .         .        x        .       .
        delete-batch             .      .         .        x        .       .
        delete-release           .      .         .        x        .       .
        anonymize                .      x         .        .        .       .
        provider-credential      .      .         .        x        .       .
        release-handover         .      x         .        .        .       .
        package-download         .      .         .        .        .       x
    ";

    #[test]
    fn every_role_and_action_pair_matches_the_expected_grid() {
        let mut lines = EXPECTED.lines().map(str::trim).filter(|line| !line.is_empty());
        let header = lines.next().expect("the grid has a header");
        assert_eq!(header.split_whitespace().count(), 1 + Role::ALL.len());
        let mut seen = Vec::new();
        for line in lines {
            let cells: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(cells.len(), 1 + Role::ALL.len(), "row {line}");
            let action = Action::parse(cells[0]).expect("the grid names real actions");
            for (role, cell) in Role::ALL.into_iter().zip(&cells[1..]) {
                let expected = match *cell {
                    "x" => true,
                    "." => false,
                    other => panic!("bad cell {other} in row {line}"),
                };
                assert_eq!(is_allowed(&[role], action), expected, "{role} × {action}");
            }
            seen.push(action);
        }
        assert_eq!(seen, Action::ALL, "the grid lists every action once, in order");
    }

    #[test]
    fn researchers_may_only_download_what_was_handed_to_them_and_users_without_roles_nothing() {
        for action in Action::ALL {
            assert!(!is_allowed(&[], action), "{action}");
            assert_eq!(
                is_allowed(&[Role::Researcher], action),
                action == Action::PackageDownload,
                "{action}"
            );
        }
    }

    #[test]
    fn several_roles_allow_the_union_of_their_actions() {
        let roles = [Role::Reviewer, Role::IntakeOperator];
        assert!(is_allowed(&roles, Action::Ingest));
        assert!(is_allowed(&roles, Action::Ledger));
        assert!(!is_allowed(&roles, Action::Release));
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.name()), Ok(role));
            assert_eq!(role.to_string().parse::<Role>(), Ok(role));
        }
        for action in Action::ALL {
            assert_eq!(Action::parse(action.name()), Ok(action));
        }
        assert_eq!(
            Role::parse("admin").map_err(|error| error.to_string()),
            Err(format!("unknown role name; expected one of: {ROLE_NAMES}"))
        );
        assert!(Role::parse("Processor").is_err());
        assert!(Action::parse("drop-everything").is_err());
        let names: std::collections::HashSet<_> = Action::ALL.iter().map(|action| action.name()).collect();
        assert_eq!(names.len(), Action::ALL.len());
        assert_eq!(ROLE_NAMES.split(", ").collect::<Vec<_>>(), Role::ALL.map(Role::name));
    }
}
