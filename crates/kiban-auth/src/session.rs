//! Sessions: the random token a signed-in user presents, stored only as its hash, and the expiry rules.
//!
//! A token is 32 random bytes shown once as `kiban_session_` + 64 hex digits. The database keeps only its
//! SHA-256 hash, so a copy of the database does not let anyone act as a signed-in user; a fast hash is
//! enough because the token has 256 random bits. A session ends after 30 minutes without use (idle) or
//! 8 hours after sign-in (absolute), whichever comes first.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

use crate::SecretText;

/// Length of a session token in bytes.
pub const SESSION_TOKEN_BYTES: usize = 32;
/// The prefix that makes a leaked token recognizable (for secret scanners and people).
pub const SESSION_TOKEN_PREFIX: &str = "kiban_session_";
/// Domain separation, so these hashes never equal a hash of anything else we store.
const HASH_DOMAIN: &[u8] = b"kiban-session-token-v1\0";

/// A session token. Not `Clone`; `Debug` prints `SessionToken(***)`; zeroized on drop.
pub struct SessionToken {
    bytes: [u8; SESSION_TOKEN_BYTES],
}

impl SessionToken {
    /// Wraps 32 bytes drawn from a CSPRNG.
    pub fn from_bytes(bytes: [u8; SESSION_TOKEN_BYTES]) -> SessionToken {
        SessionToken { bytes }
    }

    /// Reads a token as the user presents it (`kiban_session_` + 64 hex digits; surrounding spaces ignored).
    ///
    /// # Errors
    /// [`SessionProblem::MalformedToken`] for anything else.
    pub fn parse(text: &str) -> Result<SessionToken, SessionProblem> {
        let digits = text.trim().strip_prefix(SESSION_TOKEN_PREFIX).ok_or(SessionProblem::MalformedToken)?;
        let mut token = SessionToken { bytes: [0; SESSION_TOKEN_BYTES] };
        hex::decode_to_slice(digits, &mut token.bytes).map_err(|_| SessionProblem::MalformedToken)?;
        Ok(token)
    }

    /// The token as shown to the user, once.
    pub fn to_text(&self) -> SecretText {
        SecretText::new(format!("{SESSION_TOKEN_PREFIX}{}", hex::encode(self.bytes)))
    }

    /// The hash to store and to look the session up by.
    pub fn hash(&self) -> SessionTokenHash {
        let mut hasher = Sha256::new();
        hasher.update(HASH_DOMAIN);
        hasher.update(self.bytes);
        SessionTokenHash(hasher.finalize().into())
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(***)")
    }
}

impl Drop for SessionToken {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

/// The SHA-256 hash of a session token: the only form in which a token is stored.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct SessionTokenHash([u8; 32]);

impl SessionTokenHash {
    pub fn from_bytes(bytes: [u8; 32]) -> SessionTokenHash {
        SessionTokenHash(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Reads a hash written by [`SessionTokenHash::to_hex`].
    pub fn from_hex(text: &str) -> Option<SessionTokenHash> {
        let mut bytes = [0; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(SessionTokenHash(bytes))
    }
}

/// How long a session lasts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SessionPolicy {
    /// The session ends this long after its last use (30 minutes by default).
    pub idle: TimeDelta,
    /// The session ends this long after sign-in, however active (8 hours, a working day, by default).
    pub absolute: TimeDelta,
}

impl Default for SessionPolicy {
    fn default() -> SessionPolicy {
        SessionPolicy { idle: TimeDelta::minutes(30), absolute: TimeDelta::hours(8) }
    }
}

/// Why a session cannot be used.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum SessionProblem {
    #[error("the session token is not a kiban session token; sign in again")]
    MalformedToken,
    #[error("the session ended {absolute_minutes} minutes after sign-in; sign in again")]
    Expired { absolute_minutes: i64 },
    #[error("the session ended after {idle_minutes} minutes without use; sign in again")]
    Idle { idle_minutes: i64 },
    #[error("the session's record is inconsistent (last used before it began); sign in again")]
    Inconsistent,
}

/// Whether a session signed in at `created_at` and last used at `last_seen_at` may be used at `now`.
/// It ends at the instant `created_at + absolute` or `last_seen_at + idle` is reached. A `now` slightly
/// before `last_seen_at` (a concurrent request stored a later time) counts as no idle time.
///
/// # Errors
/// [`SessionProblem::Expired`], [`SessionProblem::Idle`], or [`SessionProblem::Inconsistent`] when
/// `last_seen_at` is before `created_at`.
pub fn session_valid(
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    now: DateTime<Utc>,
    policy: &SessionPolicy,
) -> Result<(), SessionProblem> {
    if last_seen_at < created_at {
        return Err(SessionProblem::Inconsistent);
    }
    if now - created_at >= policy.absolute {
        return Err(SessionProblem::Expired { absolute_minutes: policy.absolute.num_minutes() });
    }
    if now - last_seen_at >= policy.idle {
        return Err(SessionProblem::Idle { idle_minutes: policy.idle.num_minutes() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn nine_am() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 4, 1, 0, 0, 0).single().expect("valid")
    }

    #[test]
    fn the_token_is_shown_once_and_stored_only_as_its_hash() {
        let token = SessionToken::from_bytes([0xab; SESSION_TOKEN_BYTES]);
        let text = token.to_text();
        assert_eq!(text.expose_secret(), format!("kiban_session_{}", "ab".repeat(32)));
        assert_eq!(format!("{token:?}"), "SessionToken(***)");
        let read = SessionToken::parse(&format!(" {} \n", text.expose_secret())).expect("valid");
        assert_eq!(read.hash(), token.hash());
        assert_ne!(token.hash().as_bytes(), &[0xab; 32]);
        assert_ne!(SessionToken::from_bytes([0xac; SESSION_TOKEN_BYTES]).hash(), token.hash());
        assert_eq!(SessionTokenHash::from_hex(&token.hash().to_hex()), Some(token.hash()));
        assert!(!token.hash().to_hex().contains(&"ab".repeat(32)));
    }

    #[test]
    fn malformed_tokens_are_refused() {
        for text in ["", "ab".repeat(32).as_str(), "kiban_session_abcd", "kiban_session_", "kiban_session_zz"]
        {
            assert!(matches!(SessionToken::parse(text), Err(SessionProblem::MalformedToken)), "{text}");
        }
        let too_long = format!("kiban_session_{}", "ab".repeat(33));
        assert!(SessionToken::parse(&too_long).is_err());
    }

    #[test]
    fn sessions_end_after_30_idle_minutes_or_8_hours() {
        let policy = SessionPolicy::default();
        let start = nine_am();
        let minutes = TimeDelta::minutes;
        assert_eq!(session_valid(start, start, start, &policy), Ok(()));
        assert_eq!(session_valid(start, start, start + minutes(29), &policy), Ok(()));
        assert_eq!(
            session_valid(start, start, start + minutes(30), &policy),
            Err(SessionProblem::Idle { idle_minutes: 30 })
        );
        // Active all day: still valid just before 8 hours, ended at 8 hours.
        let active = start + minutes(8 * 60 - 1);
        assert_eq!(session_valid(start, active, active, &policy), Ok(()));
        let end = start + minutes(8 * 60);
        assert_eq!(
            session_valid(start, active, end, &policy),
            Err(SessionProblem::Expired { absolute_minutes: 480 })
        );
        // A concurrent request stored a later last use.
        assert_eq!(session_valid(start, start + minutes(10), start + minutes(9), &policy), Ok(()));
        assert_eq!(
            session_valid(start, start - minutes(1), start, &policy),
            Err(SessionProblem::Inconsistent)
        );
    }
}
