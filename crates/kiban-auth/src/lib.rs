//! Authentication and authorization rules of kiban (issue 6): who may do what, and how a user proves who
//! they are. Pure: no I/O, no database, no clock, no random number generator. Times come in as
//! `DateTime<Utc>` from the caller's trusted clock, and randomness as byte arrays the caller draws from a
//! CSPRNG (OS randomness, e.g. `getrandom`), so every rule here is a deterministic function that tests can
//! pin down. Storage, the CLI and the server build on this API.
//!
//! Module map:
//! - `roles` — [`Role`], [`Action`] and [`allowed_roles`], the one authorization table (separation of
//!   duties, deny by default), with [`is_allowed`].
//! - `password` — [`check_password`], the Guideline's password rule (Guideline III 4-3) plus refusals of
//!   common passwords, the user name and repetition; [`password_expires_at`] / [`password_expired`].
//! - `hashing` — [`hash_password`] / [`verify_password`] with argon2id; [`needs_rehash`].
//! - `totp` — [`TotpSecret`] and [`verify_totp`] (RFC 6238) with replay protection; `base32` is its encoding.
//! - `recovery` — [`generate_recovery_codes`] and [`use_recovery_code`], single-use, stored as hashes.
//! - `lockout` — [`LockoutPolicy`], and [`check_unlock`] / [`check_admin_reset`] (a second administrator).
//! - `session` — [`SessionToken`] (stored as its hash) and [`session_valid`] under a [`SessionPolicy`].
//! - `anomaly` — [`detect`], the anomaly rules of Rule 6-4-ロ over a user's recent [`ActivityEvent`]s.
//! - `secret` — [`SecretText`], the one-time display of a secret.
//!
//! Design decisions:
//! - **Deny by default.** [`allowed_roles`] is one exhaustive `match`: a new [`Action`] does not compile
//!   until someone decides its roles. Security administrators manage users, keys, deletion and the audit
//!   log but never touch data; processors never manage users; researchers get no CLI action.
//! - **Passwords** are hashed with argon2id, m = 19,456 KiB, t = 2, p = 1, 16-byte salt, 32-byte output
//!   (OWASP's minimum for argon2id); the PHC string carries the parameters, so they can be raised later and
//!   [`needs_rehash`] tells which hashes to renew at the next sign-in. Only the PHC string is stored: nobody,
//!   administrators included, can read a password. 8–12 characters expire after 2 calendar months, 13 or
//!   more never (the Guideline's two branches).
//! - **TOTP**: HMAC-SHA1, 30 s, 6 digits (every authenticator app's default); the current step ±1 is
//!   accepted for clock drift, and only a step later than the last one accepted, so no code works twice.
//! - **Recovery codes** and **session tokens** have 60 and 256 random bits, so a fast SHA-256 (with a
//!   domain tag) is enough to store them; there is no dictionary to guess from.
//! - **Lockout**: 5 consecutive failed sign-in steps lock the account with no timed release; only a security
//!   administrator who is not the account's owner unlocks it, giving a reason. Admin password resets follow
//!   the same rule and record the identity check done.
//! - **Sessions** end after 30 idle minutes or 8 hours after sign-in.
//! - **Anomalies** (defaults in [`AnomalyPolicy::default`]): more than 5 exports an hour or 1,000,000
//!   records a day, activity outside 07:00–22:00 Japan time, more than 5 failures an hour, and any action
//!   outside the user's roles. The caller locks the account and alerts.
//! - **Secrets never leak**: [`TotpSecret`], [`SessionToken`] and [`SecretText`] print `***` in `Debug`,
//!   have no `Display`, and are zeroized on drop; error messages name kinds and counts, never the password,
//!   code or token.
//!
//! ```
//! use kiban_auth::{Action, PasswordClass, Role, check_password, hash_password, is_allowed, verify_password};
//!
//! assert!(is_allowed(&[Role::Processor], Action::Release));
//! assert!(!is_allowed(&[Role::SecurityAdmin], Action::Release));
//!
//! assert_eq!(check_password("Kumo-7tabi", "tanaka"), Ok(PasswordClass::Short));
//! assert!(check_password("P@ssw0rd2024!", "tanaka").is_err());
//! let salt = [42; 16]; // draw it from a CSPRNG
//! let phc = hash_password("Kumo-7tabi", salt).expect("hashes");
//! assert!(verify_password("Kumo-7tabi", &phc));
//! ```

mod anomaly;
mod base32;
mod hashing;
mod lockout;
mod password;
mod recovery;
mod roles;
mod secret;
mod session;
mod totp;

pub use anomaly::{ActivityEvent, AllowedHours, Anomaly, AnomalyKind, AnomalyPolicy, EventOutcome, detect};
pub use base32::Base32Error;
pub use hashing::{
    ARGON2_LANES, ARGON2_MEMORY_KIB, ARGON2_OUTPUT_BYTES, ARGON2_PASSES, HashingError, SALT_BYTES,
    hash_password, needs_rehash, verify_password,
};
pub use lockout::{AdminActionProblem, LockoutPolicy, check_admin_reset, check_unlock};
pub use password::{
    CharKind, LONG_PASSWORD_CHARS, MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, MissingKinds, PasswordClass,
    PasswordProblem, SHORT_PASSWORD_LIFETIME_MONTHS, check_password, password_expired, password_expires_at,
};
pub use recovery::{
    MatchedRecoveryCode, N_RECOVERY_CODES, NewRecoveryCodes, RECOVERY_RANDOM_BYTES, RecoveryCodeHash,
    StoredRecoveryCode, generate_recovery_codes, use_recovery_code,
};
pub use roles::{Action, Role, UnknownName, allowed_roles, is_allowed};
pub use secret::SecretText;
pub use session::{
    SESSION_TOKEN_BYTES, SESSION_TOKEN_PREFIX, SessionPolicy, SessionProblem, SessionToken, SessionTokenHash,
    session_valid,
};
pub use totp::{
    TOTP_DIGITS, TOTP_ISSUER, TOTP_SECRET_BYTES, TOTP_STEP_SECS, TOTP_WINDOW_STEPS, TotpProblem, TotpSecret,
    TotpSecretError, totp_code, totp_step, verify_totp,
};
