//! Accounts, sessions, activity and deletion records: the stored half of the security core. The rules
//! (password policy, TOTP, lockout, roles, anomalies) are `kiban-auth`'s; this module only keeps state,
//! and writes every change together with its audit entry.

use chrono::{DateTime, Utc};
use kiban_audit::{AuditEntry, AuditEvent};
use kiban_model::NaiveDate;

use crate::convert::{date_text, retain_until, time_text, to_i64};
use crate::db::{Row, Tx, params};
use crate::error::StoreError;
use crate::{Store, audit};

const USERS: &str = "users";
const SESSIONS: &str = "sessions";
const DELETIONS: &str = "deletions";

const USER_COLUMNS: &str = "name, display_name, roles, password_hash, password_class, password_changed_at, \
     totp_sealed, totp_last_step, enrollment_hash, enrollment_expires_at, failed_logins, locked_at, \
     locked_reason, created_at, created_by";

/// An account as stored. Holds hashes and sealed secrets only; `Debug` is safe (no password, no code).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct UserRecord {
    pub name: String,
    pub display_name: String,
    /// Role names as `kiban-auth` writes them.
    pub roles: Vec<String>,
    /// argon2id PHC string; `None` until the user enrolls.
    pub password_hash: Option<String>,
    pub password_class: Option<String>,
    pub password_changed_at: Option<DateTime<Utc>>,
    /// The TOTP secret sealed under the store's KEK-derived key, hex; `None` until the user enrolls.
    pub totp_sealed: Option<String>,
    pub totp_last_step: Option<u64>,
    /// SHA-256 of the one-time enrollment token an administrator issued (new account or reset).
    pub enrollment_hash: Option<String>,
    pub enrollment_expires_at: Option<DateTime<Utc>>,
    pub failed_logins: u32,
    pub locked_at: Option<DateTime<Utc>>,
    pub locked_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

impl UserRecord {
    pub fn is_locked(&self) -> bool {
        self.locked_at.is_some()
    }
}

fn user_from_row(row: &Row) -> Result<UserRecord, StoreError> {
    let roles = row.text("roles")?;
    Ok(UserRecord {
        name: row.text("name")?,
        display_name: row.text("display_name")?,
        roles: roles.split(',').filter(|role| !role.is_empty()).map(str::to_owned).collect(),
        password_hash: row.opt_text("password_hash")?,
        password_class: row.opt_text("password_class")?,
        password_changed_at: row.opt_time(USERS, "password_changed_at")?,
        totp_sealed: row.opt_text("totp_sealed")?,
        totp_last_step: row
            .opt_i64("totp_last_step")?
            .map(|step| {
                u64::try_from(step)
                    .map_err(|_| StoreError::Corrupt { table: USERS, column: "totp_last_step" })
            })
            .transpose()?,
        enrollment_hash: row.opt_text("enrollment_hash")?,
        enrollment_expires_at: row.opt_time(USERS, "enrollment_expires_at")?,
        failed_logins: u32::try_from(row.i64("failed_logins")?)
            .map_err(|_| StoreError::Corrupt { table: USERS, column: "failed_logins" })?,
        locked_at: row.opt_time(USERS, "locked_at")?,
        locked_reason: row.opt_text("locked_reason")?,
        created_at: row.time(USERS, "created_at")?,
        created_by: row.text("created_by")?,
    })
}

fn load_user(tx: &Tx<'_>, name: &str) -> Result<UserRecord, StoreError> {
    tx.query_opt(
        "reading a user",
        &format!("SELECT {USER_COLUMNS} FROM users WHERE name = ?1"),
        params![name],
    )?
    .map(|row| user_from_row(&row))
    .transpose()?
    .ok_or_else(|| StoreError::UserNotFound { user: name.to_owned() })
}

/// A new account, as an administrator creates it: no password yet, only an enrollment token's hash.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub name: String,
    pub display_name: String,
    pub roles: Vec<String>,
    pub enrollment_hash: String,
    pub enrollment_expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

/// What a user sets when enrolling (first time, or after a reset).
#[derive(Clone, Debug)]
pub struct Enrollment {
    pub password_hash: String,
    pub password_class: String,
    pub totp_sealed: String,
    /// SHA-256 hex of each recovery code.
    pub recovery_hashes: Vec<String>,
    pub at: DateTime<Utc>,
}

/// A session as stored (the token's hash only).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SessionRecord {
    pub user: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

/// One recorded operation of a user, for the anomaly rules.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Activity {
    pub user: String,
    pub at: DateTime<Utc>,
    pub action: String,
    /// `success`, `refused` or `failed`.
    pub outcome: String,
    pub n_rows: u64,
}

/// A deletion (Act §20) and its record (Rule 19: date and items), kept 3 years.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DeletionRecord {
    /// `batch:3`, `release:R-0001`.
    pub object: String,
    pub deleted_on: NaiveDate,
    pub items: Vec<String>,
    pub n_persons: u64,
    pub reason: String,
    pub actor: String,
    pub recorded_at: DateTime<Utc>,
    pub retain_until: NaiveDate,
}

impl Store {
    /// Whether any account exists (the first one is made by `kiban init`).
    ///
    /// # Errors
    /// [`StoreError::Db`].
    pub fn has_users(&self) -> Result<bool, StoreError> {
        self.read(|tx| {
            let row = tx.query_one("counting users", "SELECT COUNT(*) AS n FROM users", params![])?;
            Ok(row.i64("n")? > 0)
        })
    }

    /// Creates an account with its audit entry.
    ///
    /// # Errors
    /// [`StoreError::DuplicateUser`], [`StoreError::Db`].
    pub fn create_user(&self, user: &NewUser, audit: AuditEvent) -> Result<AuditEntry, StoreError> {
        const OPERATION: &str = "creating a user";
        self.write(OPERATION, |tx| {
            let exists = tx.query_opt(
                OPERATION,
                "SELECT name FROM users WHERE name = ?1",
                params![user.name.as_str()],
            )?;
            if exists.is_some() {
                return Err(StoreError::DuplicateUser { user: user.name.clone() });
            }
            tx.execute(
                OPERATION,
                "INSERT INTO users (name, display_name, roles, enrollment_hash, enrollment_expires_at, \
                 failed_logins, created_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?7)",
                params![
                    user.name.as_str(),
                    user.display_name.as_str(),
                    user.roles.join(","),
                    user.enrollment_hash.as_str(),
                    time_text(user.enrollment_expires_at),
                    time_text(user.created_at),
                    user.created_by.as_str()
                ],
            )?;
            audit::append_in(tx, audit)
        })
    }

    /// One account.
    ///
    /// # Errors
    /// [`StoreError::UserNotFound`], [`StoreError::Db`], [`StoreError::Corrupt`].
    pub fn user(&self, name: &str) -> Result<UserRecord, StoreError> {
        self.read(|tx| load_user(tx, name))
    }

    /// Every account, by name.
    ///
    /// # Errors
    /// [`StoreError::Db`], [`StoreError::Corrupt`].
    pub fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        self.read(|tx| {
            tx.query("listing users", &format!("SELECT {USER_COLUMNS} FROM users ORDER BY name"), params![])?
                .iter()
                .map(user_from_row)
                .collect()
        })
    }

    /// Sets a user's password, TOTP secret and recovery codes, consuming the enrollment token.
    ///
    /// # Errors
    /// [`StoreError::UserNotFound`], [`StoreError::Db`].
    pub fn enroll_user(
        &self,
        name: &str,
        enrollment: &Enrollment,
        audit: AuditEvent,
    ) -> Result<AuditEntry, StoreError> {
        const OPERATION: &str = "enrolling a user";
        self.write(OPERATION, |tx| {
            load_user(tx, name)?;
            tx.execute(
                OPERATION,
                "UPDATE users SET password_hash = ?2, password_class = ?3, password_changed_at = ?4, \
                 totp_sealed = ?5, totp_last_step = NULL, enrollment_hash = NULL, enrollment_expires_at = NULL, \
                 failed_logins = 0 WHERE name = ?1",
                params![
                    name,
                    enrollment.password_hash.as_str(),
                    enrollment.password_class.as_str(),
                    time_text(enrollment.at),
                    enrollment.totp_sealed.as_str()
                ],
            )?;
            tx.execute(OPERATION, "DELETE FROM recovery_codes WHERE user_name = ?1", params![name])?;
            for (idx, hash) in enrollment.recovery_hashes.iter().enumerate() {
                tx.execute(
                    OPERATION,
                    "INSERT INTO recovery_codes (user_name, idx, code_hash) VALUES (?1, ?2, ?3)",
                    params![name, to_i64(idx as u64, "recovery code index")?, hash.as_str()],
                )?;
            }
            audit::append_in(tx, audit)
        })
    }

    /// Changes a user's own password.
    ///
    /// # Errors
    /// [`StoreError::UserNotFound`], [`StoreError::Db`].
    pub fn set_password(
        &self,
        name: &str,
        password_hash: &str,
        password_class: &str,
        at: DateTime<Utc>,
        audit: AuditEvent,
    ) -> Result<AuditEntry, StoreError> {
        const OPERATION: &str = "changing a password";
        self.write(OPERATION, |tx| {
            load_user(tx, name)?;
            tx.execute(
                OPERATION,
                "UPDATE users SET password_hash = ?2, password_class = ?3, password_changed_at = ?4 WHERE name = ?1",
                params![name, password_hash, password_class, time_text(at)],
            )?;
            audit::append_in(tx, audit)
        })
    }

    /// An administrator's reset: the password, TOTP secret and recovery codes are void, sessions end, and a
    /// new enrollment token (its hash) is set. The audit entry carries the identity check done.
    ///
    /// # Errors
    /// [`StoreError::UserNotFound`], [`StoreError::Db`].
    pub fn reset_user(
        &self,
        name: &str,
        enrollment_hash: &str,
        expires_at: DateTime<Utc>,
        audit: AuditEvent,
    ) -> Result<AuditEntry, StoreError> {
        const OPERATION: &str = "resetting a user";
        self.write(OPERATION, |tx| {
            load_user(tx, name)?;
            let at = time_text(audit.at);
            tx.execute(
                OPERATION,
                "UPDATE users SET password_hash = NULL, password_class = NULL, password_changed_at = NULL, \
                 totp_sealed = NULL, totp_last_step = NULL, enrollment_hash = ?2, enrollment_expires_at = ?3, \
                 failed_logins = 0 WHERE name = ?1",
                params![name, enrollment_hash, time_text(expires_at)],
            )?;
            tx.execute(OPERATION, "DELETE FROM recovery_codes WHERE user_name = ?1", params![name])?;
            tx.execute(
                OPERATION,
                "UPDATE sessions SET ended_at = ?2 WHERE user_name = ?1 AND ended_at IS NULL",
                params![name, at],
            )?;
            audit::append_in(tx, audit)
        })
    }

    /// Replaces a user's roles.
    ///
    /// # Errors
    /// [`StoreError::UserNotFound`], [`StoreError::Db`].
    pub fn set_roles(
        &self,
        name: &str,
        roles: &[String],
        audit: AuditEvent,
    ) -> Result<AuditEntry, StoreError> {
        const OPERATION: &str = "changing roles";
        self.write(OPERATION, |tx| {
            load_user(tx, name)?;
            tx.execute(
                OPERATION,
                "UPDATE users SET roles = ?2 WHERE name = ?1",
                params![name, roles.join(",")],
            )?;
            audit::append_in(tx, audit)
        })
    }

    /// Counts a failed login; when `lock_reason` is given the account is locked in the same transaction
    /// and its sessions end. Returns the consecutive failures so far.
    ///
    /// # Errors
    /// [`StoreError::UserNotFound`], [`StoreError::Db`].
    pub fn record_login_failure(
        &self,
        name: &str,
        lock_reason: impl FnOnce(u32) -> Option<String>,
        audit: AuditEvent,
    ) -> Result<u32, StoreError> {
        const OPERATION: &str = "recording a failed login";
        self.write(OPERATION, |tx| {
            let user = load_user(tx, name)?;
            let failures = user.failed_logins.saturating_add(1);
            tx.execute(
                OPERATION,
                "UPDATE users SET failed_logins = ?2 WHERE name = ?1",
                params![name, i64::from(failures)],
            )?;
            let at = audit.at;
            audit::append_in(tx, audit)?;
            if let Some(reason) = lock_reason(failures).filter(|_| !user.is_locked()) {
                lock_in(tx, name, &reason, at)?;
            }
            Ok(failures)
        })
    }

    /// A successful login: failures reset, the TOTP step (or recovery code) consumed, the session opened.
    ///
    /// # Errors
    /// [`StoreError::UserNotFound`], [`StoreError::Db`].
    pub fn record_login(
        &self,
        name: &str,
        second_factor: SecondFactorUse,
        token_hash: &str,
        audit: AuditEvent,
    ) -> Result<AuditEntry, StoreError> {
        const OPERATION: &str = "recording a login";
        self.write(OPERATION, |tx| {
            load_user(tx, name)?;
            let at = time_text(audit.at);
            tx.execute(OPERATION, "UPDATE users SET failed_logins = 0 WHERE name = ?1", params![name])?;
            match second_factor {
                SecondFactorUse::Totp { step } => {
                    tx.execute(
                        OPERATION,
                        "UPDATE users SET totp_last_step = ?2 WHERE name = ?1",
                        params![name, to_i64(step, "TOTP step")?],
                    )?;
                }
                SecondFactorUse::RecoveryCode { index } => {
                    tx.execute(
                        OPERATION,
                        "UPDATE recovery_codes SET used_at = ?3 WHERE user_name = ?1 AND idx = ?2",
                        params![name, to_i64(index as u64, "recovery code index")?, at.as_str()],
                    )?;
                }
            }
            tx.execute(
                OPERATION,
                "INSERT INTO sessions (token_hash, user_name, created_at, last_seen_at) VALUES (?1, ?2, ?3, ?3)",
                params![token_hash, name, at.as_str()],
            )?;
            audit::append_in(tx, audit)
        })
    }

    /// A user's recovery codes: (hash, used) by index.
    ///
    /// # Errors
    /// [`StoreError::Db`].
    pub fn recovery_codes(&self, name: &str) -> Result<Vec<(String, bool)>, StoreError> {
        self.read(|tx| {
            tx.query(
                "reading recovery codes",
                "SELECT code_hash, used_at FROM recovery_codes WHERE user_name = ?1 ORDER BY idx",
                params![name],
            )?
            .iter()
            .map(|row| Ok((row.text("code_hash")?, row.opt_text("used_at")?.is_some())))
            .collect()
        })
    }

    /// Locks an account (an administrator's decision or an anomaly) and ends its sessions.
    ///
    /// # Errors
    /// [`StoreError::UserNotFound`], [`StoreError::Db`].
    pub fn lock_user(&self, name: &str, reason: &str, audit: AuditEvent) -> Result<AuditEntry, StoreError> {
        const OPERATION: &str = "locking a user";
        self.write(OPERATION, |tx| {
            load_user(tx, name)?;
            let at = audit.at;
            let entry = audit::append_in(tx, audit)?;
            lock_in(tx, name, reason, at)?;
            Ok(entry)
        })
    }

    /// Unlocks an account and clears its failure count.
    ///
    /// # Errors
    /// [`StoreError::UserNotFound`], [`StoreError::Db`].
    pub fn unlock_user(&self, name: &str, audit: AuditEvent) -> Result<AuditEntry, StoreError> {
        const OPERATION: &str = "unlocking a user";
        self.write(OPERATION, |tx| {
            load_user(tx, name)?;
            tx.execute(
                OPERATION,
                "UPDATE users SET locked_at = NULL, locked_reason = NULL, failed_logins = 0 WHERE name = ?1",
                params![name],
            )?;
            audit::append_in(tx, audit)
        })
    }

    /// The session whose token hashes to `token_hash`.
    ///
    /// # Errors
    /// [`StoreError::Db`], [`StoreError::Corrupt`].
    pub fn session(&self, token_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        self.read(|tx| {
            tx.query_opt(
                "reading a session",
                "SELECT user_name, created_at, last_seen_at, ended_at FROM sessions WHERE token_hash = ?1",
                params![token_hash],
            )?
            .map(|row| {
                Ok(SessionRecord {
                    user: row.text("user_name")?,
                    created_at: row.time(SESSIONS, "created_at")?,
                    last_seen_at: row.time(SESSIONS, "last_seen_at")?,
                    ended_at: row.opt_time(SESSIONS, "ended_at")?,
                })
            })
            .transpose()
        })
    }

    /// Marks a session used now (idle expiry counts from here).
    ///
    /// # Errors
    /// [`StoreError::Db`].
    pub fn touch_session(&self, token_hash: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        const OPERATION: &str = "touching a session";
        self.write(OPERATION, |tx| {
            tx.execute(
                OPERATION,
                "UPDATE sessions SET last_seen_at = ?2 WHERE token_hash = ?1",
                params![token_hash, time_text(at)],
            )?;
            Ok(())
        })
    }

    /// Ends a session (logout).
    ///
    /// # Errors
    /// [`StoreError::Db`].
    pub fn end_session(&self, token_hash: &str, audit: AuditEvent) -> Result<AuditEntry, StoreError> {
        const OPERATION: &str = "ending a session";
        self.write(OPERATION, |tx| {
            tx.execute(
                OPERATION,
                "UPDATE sessions SET ended_at = ?2 WHERE token_hash = ?1 AND ended_at IS NULL",
                params![token_hash, time_text(audit.at)],
            )?;
            audit::append_in(tx, audit)
        })
    }

    /// Records one operation of a user for the anomaly rules.
    ///
    /// # Errors
    /// [`StoreError::Db`].
    pub fn record_activity(&self, activity: &Activity) -> Result<(), StoreError> {
        const OPERATION: &str = "recording activity";
        self.write(OPERATION, |tx| {
            let next = tx.query_one(OPERATION, "SELECT COALESCE(MAX(id), 0) + 1 AS next FROM activity", params![])?;
            tx.execute(
                OPERATION,
                "INSERT INTO activity (id, user_name, at, action, outcome, n_rows) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    next.i64("next")?,
                    activity.user.as_str(),
                    time_text(activity.at),
                    activity.action.as_str(),
                    activity.outcome.as_str(),
                    to_i64(activity.n_rows, "activity rows")?
                ],
            )?;
            Ok(())
        })
    }

    /// A user's activity since `since`, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Db`], [`StoreError::Corrupt`].
    pub fn activity_since(&self, user: &str, since: DateTime<Utc>) -> Result<Vec<Activity>, StoreError> {
        self.read(|tx| {
            tx.query(
                "reading activity",
                "SELECT user_name, at, action, outcome, n_rows FROM activity WHERE user_name = ?1 AND at >= ?2 \
                 ORDER BY at, id",
                params![user, time_text(since)],
            )?
            .iter()
            .map(|row| {
                Ok(Activity {
                    user: row.text("user_name")?,
                    at: row.time("activity", "at")?,
                    action: row.text("action")?,
                    outcome: row.text("outcome")?,
                    n_rows: row.u64("activity", "n_rows")?,
                })
            })
            .collect()
        })
    }

    /// Writes a deletion record (Rule 19) and its audit entry together; the caller destroys the key and
    /// files after this commits (and a re-run finishes a deletion that was interrupted).
    ///
    /// # Errors
    /// [`StoreError::Db`].
    pub fn record_deletion(
        &self,
        deletion: &DeletionRecord,
        audit: AuditEvent,
    ) -> Result<AuditEntry, StoreError> {
        const OPERATION: &str = "recording a deletion";
        self.write(OPERATION, |tx| {
            let existing =
                tx.query_opt(OPERATION, "SELECT id FROM deletions WHERE object = ?1", params![deletion.object.as_str()])?;
            if existing.is_none() {
                let next =
                    tx.query_one(OPERATION, "SELECT COALESCE(MAX(id), 0) + 1 AS next FROM deletions", params![])?;
                tx.execute(
                    OPERATION,
                    "INSERT INTO deletions (id, object, deleted_on, items, n_persons, reason, actor, recorded_at, \
                     retain_until) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![
                        next.i64("next")?,
                        deletion.object.as_str(),
                        date_text(deletion.deleted_on),
                        deletion.items.join(","),
                        to_i64(deletion.n_persons, "deleted persons")?,
                        deletion.reason.as_str(),
                        deletion.actor.as_str(),
                        time_text(deletion.recorded_at),
                        date_text(retain_until(deletion.deleted_on)?)
                    ],
                )?;
            }
            audit::append_in(tx, audit)
        })
    }

    /// Every deletion record, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Db`], [`StoreError::Corrupt`].
    pub fn deletions(&self) -> Result<Vec<DeletionRecord>, StoreError> {
        self.read(|tx| {
            tx.query(
                "reading deletions",
                "SELECT object, deleted_on, items, n_persons, reason, actor, recorded_at, retain_until \
                 FROM deletions ORDER BY id",
                params![],
            )?
            .iter()
            .map(|row| {
                Ok(DeletionRecord {
                    object: row.text("object")?,
                    deleted_on: row.date(DELETIONS, "deleted_on")?,
                    items: row
                        .text("items")?
                        .split(',')
                        .filter(|item| !item.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    n_persons: row.u64(DELETIONS, "n_persons")?,
                    reason: row.text("reason")?,
                    actor: row.text("actor")?,
                    recorded_at: row.time(DELETIONS, "recorded_at")?,
                    retain_until: row.date(DELETIONS, "retain_until")?,
                })
            })
            .collect()
        })
    }

    /// Whether `object` (e.g. `batch:3`) has a deletion record.
    ///
    /// # Errors
    /// [`StoreError::Db`].
    pub fn is_deleted(&self, object: &str) -> Result<bool, StoreError> {
        self.read(|tx| {
            Ok(tx
                .query_opt(
                    "reading deletions",
                    "SELECT id FROM deletions WHERE object = ?1",
                    params![object],
                )?
                .is_some())
        })
    }
}

/// Which second factor a login used.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SecondFactorUse {
    /// A TOTP code of this time step (later codes of the same or earlier steps are refused as replays).
    Totp { step: u64 },
    /// The recovery code at this index, now used up.
    RecoveryCode { index: usize },
}

fn lock_in(tx: &Tx<'_>, name: &str, reason: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
    const OPERATION: &str = "locking a user";
    tx.execute(
        OPERATION,
        "UPDATE users SET locked_at = ?2, locked_reason = ?3 WHERE name = ?1",
        params![name, time_text(at), reason],
    )?;
    tx.execute(
        OPERATION,
        "UPDATE sessions SET ended_at = ?2 WHERE user_name = ?1 AND ended_at IS NULL",
        params![name, time_text(at)],
    )?;
    Ok(())
}
