//! Time-based one-time passwords (TOTP, RFC 6238) for the second factor, with replay protection.
//!
//! HMAC-SHA1, 30-second steps, 6 digits: what every authenticator app does by default. A code is accepted
//! for the current step and one step either side (±30 s of clock drift between the phone and the server),
//! and only if its step is later than the last step accepted for that user, so a code seen over a shoulder
//! or intercepted cannot be used a second time (RFC 6238 §5.2).

use std::fmt;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use crate::SecretText;
use crate::base32::{self, Base32Error};

/// Length of a TOTP secret in bytes (160 bits, the HMAC-SHA1 block RFC 4226 recommends).
pub const TOTP_SECRET_BYTES: usize = 20;
/// Length of a time step in seconds.
pub const TOTP_STEP_SECS: u64 = 30;
/// Number of digits in a code.
pub const TOTP_DIGITS: u32 = 6;
/// Steps accepted on either side of the current one.
pub const TOTP_WINDOW_STEPS: u64 = 1;
/// The issuer shown in the authenticator app.
pub const TOTP_ISSUER: &str = "kiban";

type HmacSha1 = Hmac<Sha1>;

/// A user's TOTP secret (20 random bytes), shared once with their authenticator app.
///
/// Not `Clone`; `Debug` prints `TotpSecret(***)`; zeroized on drop. Store it encrypted.
pub struct TotpSecret {
    bytes: [u8; TOTP_SECRET_BYTES],
}

impl TotpSecret {
    /// Wraps 20 bytes drawn from a CSPRNG (or read back from storage).
    pub fn from_bytes(bytes: [u8; TOTP_SECRET_BYTES]) -> TotpSecret {
        TotpSecret { bytes }
    }

    /// Reads a secret written by [`TotpSecret::to_base32`].
    ///
    /// # Errors
    /// [`TotpSecretError`] when the text is not base32 or does not hold exactly 20 bytes.
    pub fn from_base32(text: &str) -> Result<TotpSecret, TotpSecretError> {
        let decoded = base32::decode(text)?;
        let bytes = <[u8; TOTP_SECRET_BYTES]>::try_from(decoded.as_slice())
            .map_err(|_| TotpSecretError::WrongLength { n_bytes: decoded.len() })?;
        Ok(TotpSecret { bytes })
    }

    /// The raw bytes, for encrypted storage.
    pub fn expose_bytes(&self) -> &[u8; TOTP_SECRET_BYTES] {
        &self.bytes
    }

    /// The secret in base32 (RFC 4648, no padding), for typing into an authenticator app.
    pub fn to_base32(&self) -> SecretText {
        SecretText::new(base32::encode(&self.bytes))
    }

    /// The `otpauth://` URI an authenticator app reads from a QR code:
    /// `otpauth://totp/kiban:{user}?secret=…&issuer=kiban&algorithm=SHA1&digits=6&period=30`,
    /// with the user name percent-encoded.
    pub fn provisioning_uri(&self, user: &str) -> SecretText {
        let secret = self.to_base32();
        SecretText::new(format!(
            "otpauth://totp/{TOTP_ISSUER}:{user}?secret={secret}&issuer={TOTP_ISSUER}&algorithm=SHA1\
             &digits={TOTP_DIGITS}&period={TOTP_STEP_SECS}",
            user = percent_encode(user),
            secret = secret.expose_secret(),
        ))
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(***)")
    }
}

impl Drop for TotpSecret {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

/// Why a stored or typed TOTP secret could not be read.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum TotpSecretError {
    #[error("TOTP secret is not base32: {0}")]
    Base32(#[from] Base32Error),
    #[error("TOTP secret has {n_bytes} bytes; expected {TOTP_SECRET_BYTES}")]
    WrongLength { n_bytes: usize },
}

/// Why a TOTP code was refused. Never contains the code.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum TotpProblem {
    #[error("the one-time code must be {TOTP_DIGITS} digits")]
    Malformed,
    #[error("the one-time code is wrong or expired; check the authenticator app and the device's clock")]
    Wrong,
    #[error("the one-time code was already used; wait for the next code")]
    Replayed,
    #[error("the clock reads a time before 1970; the server's clock is wrong")]
    ClockBeforeEpoch,
}

/// The time step (`unix seconds / 30`) that `now` falls in.
///
/// # Errors
/// [`TotpProblem::ClockBeforeEpoch`] for times before 1970.
pub fn totp_step(now: DateTime<Utc>) -> Result<u64, TotpProblem> {
    let secs = u64::try_from(now.timestamp()).map_err(|_| TotpProblem::ClockBeforeEpoch)?;
    Ok(secs / TOTP_STEP_SECS)
}

/// The code an authenticator app shows at `now`: to confirm enrolment in tests and tools.
///
/// # Errors
/// [`TotpProblem::ClockBeforeEpoch`] for times before 1970.
pub fn totp_code(secret: &TotpSecret, now: DateTime<Utc>) -> Result<SecretText, TotpProblem> {
    let code = hotp(&secret.bytes, totp_step(now)?, TOTP_DIGITS);
    Ok(SecretText::new(format!("{code:0width$}", width = TOTP_DIGITS as usize)))
}

/// Checks a typed code at `now`. Accepts the steps `current - 1 ..= current + 1`, and only a step later
/// than `last_used_step` (the step returned by this user's previous successful check). Spaces in the code
/// are ignored (`123 456`).
///
/// Returns the accepted step, which the caller must store as the user's new `last_used_step` in the same
/// transaction that lets the user in. When the code matches more than one step of the window, the latest
/// one is taken.
///
/// # Errors
/// [`TotpProblem::Malformed`] when the code is not 6 digits, [`TotpProblem::Wrong`] when it matches no step
/// of the window, [`TotpProblem::Replayed`] when it matches only steps at or before `last_used_step`,
/// [`TotpProblem::ClockBeforeEpoch`] for times before 1970.
pub fn verify_totp(
    secret: &TotpSecret,
    code: &str,
    now: DateTime<Utc>,
    last_used_step: Option<u64>,
) -> Result<u64, TotpProblem> {
    let typed = parse_code(code, TOTP_DIGITS).ok_or(TotpProblem::Malformed)?;
    let current = totp_step(now)?;
    let first = current.saturating_sub(TOTP_WINDOW_STEPS);
    let last = current.saturating_add(TOTP_WINDOW_STEPS);
    let mut accepted = None;
    let mut replayed = false;
    // Every step of the window is computed and compared, matching or not, so the time taken says nothing
    // about which step matched.
    for step in first..=last {
        let matches: bool = hotp(&secret.bytes, step, TOTP_DIGITS).ct_eq(&typed).into();
        if matches {
            if last_used_step.is_some_and(|used| step <= used) {
                replayed = true;
            } else {
                accepted = Some(step);
            }
        }
    }
    match accepted {
        Some(step) => Ok(step),
        None if replayed => Err(TotpProblem::Replayed),
        None => Err(TotpProblem::Wrong),
    }
}

/// The code as a number, when it is exactly `digits` ASCII digits once spaces are removed.
fn parse_code(code: &str, digits: u32) -> Option<u32> {
    let mut value: u32 = 0;
    let mut n_digits = 0;
    for c in code.chars().filter(|&c| c != ' ') {
        let digit = c.to_digit(10).filter(|_| c.is_ascii_digit())?;
        n_digits += 1;
        if n_digits > digits {
            return None;
        }
        value = value * 10 + digit;
    }
    (n_digits == digits).then_some(value)
}

/// HOTP (RFC 4226 §5.3): HMAC-SHA1 of the counter, dynamic truncation, the last `digits` decimal digits.
fn hotp(key: &[u8], counter: u64, digits: u32) -> u32 {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = HmacSha1::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = usize::from(hash[hash.len() - 1] & 0x0f);
    let binary =
        u32::from_be_bytes([hash[offset] & 0x7f, hash[offset + 1], hash[offset + 2], hash[offset + 3]]);
    binary % 10u32.pow(digits)
}

/// Percent-encodes everything but RFC 3986's unreserved characters, as the key-URI format asks of a label.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &byte in text.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests;
