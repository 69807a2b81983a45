//! Account lockout after repeated failures, and the four-eyes rules for unlocking and resetting an account.
//!
//! A failure is any failed sign-in step: a wrong password, a wrong or replayed TOTP code, a wrong recovery
//! code. The count resets only on a complete sign-in (both factors). A locked account stays locked (no
//! timed release: an attacker must not be able to wait it out) until a security administrator other than
//! its owner unlocks it with a recorded reason. While locked, sign-in attempts are refused without checking
//! the password, so a locked account cannot be guessed at.

use crate::roles::{Action, Role, is_allowed};

/// When to lock an account.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LockoutPolicy {
    /// Consecutive failures that lock the account (5 by default; 0 is treated as 1).
    pub max_failures: u32,
}

impl Default for LockoutPolicy {
    fn default() -> LockoutPolicy {
        LockoutPolicy { max_failures: 5 }
    }
}

impl LockoutPolicy {
    /// Whether an account with `consecutive_failures` failed sign-in steps since its last complete sign-in
    /// must be locked now.
    pub fn must_lock(&self, consecutive_failures: u32) -> bool {
        consecutive_failures >= self.max_failures.max(1)
    }

    /// The reason to record when [`LockoutPolicy::must_lock`] says yes.
    pub fn lock_reason(&self, consecutive_failures: u32) -> String {
        format!(
            "{consecutive_failures} consecutive failed sign-in attempts (the limit is {})",
            self.max_failures.max(1)
        )
    }
}

/// Why an administrator may not unlock or reset an account.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum AdminActionProblem {
    #[error("`{action}` is for security administrators only")]
    NotSecurityAdmin { action: Action },
    #[error("administrators may not `{action}` their own account; another security administrator must do it")]
    OwnAccount { action: Action },
    #[error("`{action}` needs a non-empty {what}")]
    MissingStatement { action: Action, what: &'static str },
}

/// Whether `admin`, holding `admin_roles`, may unlock `target`'s account giving `reason`: they must hold a
/// role allowed [`Action::UserUnlock`], must not be `target` (names compared ignoring case and surrounding
/// spaces), and must give a reason, which the caller records with the unlock.
///
/// # Errors
/// The first [`AdminActionProblem`] found.
pub fn check_unlock(
    admin: &str,
    admin_roles: &[Role],
    target: &str,
    reason: &str,
) -> Result<(), AdminActionProblem> {
    check_four_eyes(Action::UserUnlock, admin, admin_roles, target, reason, "reason")
}

/// Whether `admin` may reset `target`'s password (and second factor), having done `identity_check`: a
/// statement of how the user's identity was confirmed (e.g. "in person, staff ID card"), which the caller
/// records with the reset. Same rules as [`check_unlock`]; users change their own password themselves.
///
/// # Errors
/// The first [`AdminActionProblem`] found.
pub fn check_admin_reset(
    admin: &str,
    admin_roles: &[Role],
    target: &str,
    identity_check: &str,
) -> Result<(), AdminActionProblem> {
    check_four_eyes(
        Action::UserReset,
        admin,
        admin_roles,
        target,
        identity_check,
        "record of the identity check",
    )
}

fn check_four_eyes(
    action: Action,
    admin: &str,
    admin_roles: &[Role],
    target: &str,
    statement: &str,
    what: &'static str,
) -> Result<(), AdminActionProblem> {
    if !is_allowed(admin_roles, action) {
        return Err(AdminActionProblem::NotSecurityAdmin { action });
    }
    if admin.trim().to_lowercase() == target.trim().to_lowercase() {
        return Err(AdminActionProblem::OwnAccount { action });
    }
    if statement.trim().is_empty() {
        return Err(AdminActionProblem::MissingStatement { action, what });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fifth_consecutive_failure_locks() {
        let policy = LockoutPolicy::default();
        assert!(!policy.must_lock(0));
        assert!(!policy.must_lock(4));
        assert!(policy.must_lock(5));
        assert!(policy.must_lock(6));
        assert_eq!(policy.lock_reason(5), "5 consecutive failed sign-in attempts (the limit is 5)");
        assert!(LockoutPolicy { max_failures: 0 }.must_lock(1));
        assert!(!LockoutPolicy { max_failures: 0 }.must_lock(0));
    }

    #[test]
    fn another_security_admin_unlocks_with_a_reason() {
        let admin = [Role::SecurityAdmin];
        assert_eq!(check_unlock("sato", &admin, "tanaka", "user confirmed by phone"), Ok(()));
        assert_eq!(
            check_unlock("tanaka", &admin, "tanaka", "it was me"),
            Err(AdminActionProblem::OwnAccount { action: Action::UserUnlock })
        );
        assert_eq!(
            check_unlock(" Tanaka", &admin, "tanaka ", "it was me"),
            Err(AdminActionProblem::OwnAccount { action: Action::UserUnlock })
        );
        assert_eq!(
            check_unlock("sato", &admin, "tanaka", "  "),
            Err(AdminActionProblem::MissingStatement { action: Action::UserUnlock, what: "reason" })
        );
        for roles in [&[][..], &[Role::Auditor], &[Role::Processor, Role::Reviewer]] {
            assert_eq!(
                check_unlock("sato", roles, "tanaka", "ok"),
                Err(AdminActionProblem::NotSecurityAdmin { action: Action::UserUnlock })
            );
        }
    }

    #[test]
    fn resets_need_another_admin_and_a_record_of_the_identity_check() {
        let admin = [Role::SecurityAdmin];
        assert_eq!(check_admin_reset("sato", &admin, "tanaka", "in person, staff ID card"), Ok(()));
        assert_eq!(
            check_admin_reset("sato", &admin, "SATO", "in person"),
            Err(AdminActionProblem::OwnAccount { action: Action::UserReset })
        );
        let problem = check_admin_reset("sato", &admin, "tanaka", "").expect_err("no identity check");
        assert_eq!(problem.to_string(), "`user-reset` needs a non-empty record of the identity check");
        assert!(check_admin_reset("suzuki", &[Role::Auditor], "tanaka", "in person").is_err());
    }
}
