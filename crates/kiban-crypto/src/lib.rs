//! Keys and keyed functions: the master [`SecretKey`], per-purpose key derivation, keyed pseudonyms
//! ([`PseudonymKey`]), per-person date-shift offsets ([`DateShiftKey`]) and the pluggable one-way function
//! of public-database linkage material ([`LinkageOneWay`], built in: [`LinkageHmac`]).
//!
//! Design decisions:
//! - All cryptography comes from RustCrypto (`hmac`, `sha2`, `chacha20poly1305`) and `ed25519-dalek`; this
//!   crate only composes it. Encryption at rest is in [`envelope`](crate::Kek) (data keys wrapped by the
//!   operator's KEK); signed audit checkpoints use [`CheckpointSigner`].
//! - Key material lives in types whose `Debug` prints `***`, that are not `Clone` or `Serialize`, and whose
//!   bytes are zeroized on drop. Writing a key out needs an explicit [`SecretKey::to_hex_secret`] followed by
//!   [`SecretString::expose_secret`], so it cannot happen through a stray `{:?}` or `{}`.
//! - One master key yields every working key through [`SecretKey::derive`] (HKDF with HMAC-SHA-256), so a
//!   release's pseudonym key and date-shift key are independent of each other and of every other release.
//! - [`SecretKey::generate`] and the nonces of sealing and wrapping are the only reads of OS randomness; everything else is a pure,
//!   deterministic function of its inputs.
//!
//! ```
//! use kiban_crypto::{DateShiftKey, PseudonymKey, SecretKey};
//! use std::num::NonZeroU32;
//!
//! let master = SecretKey::from_bytes([7; 32]);
//! let pseudonyms = PseudonymKey::derive_from(&master, b"release-2025-001");
//! let shifts = DateShiftKey::derive_from(&master, b"release-2025-001");
//! let p = pseudonyms.pseudonym(b"person-42");
//! assert_eq!(p.as_str().len(), 26);
//! let offset = shifts.offset_days(b"person-42", NonZeroU32::new(180).expect("non-zero"));
//! assert!(offset != 0 && offset.abs() <= 180);
//! ```

use std::fmt;
use std::num::NonZeroU32;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

mod checkpoint;
mod envelope;

pub use checkpoint::CheckpointSigner;
pub use envelope::{DataKey, Kek, OpenReader, SEGMENT_LEN, SealWriter, WrappedKey, is_sealed};

#[cfg(test)]
mod tests;

type HmacSha256 = Hmac<Sha256>;

/// Length in bytes of every key in this crate.
pub const KEY_LEN: usize = 32;

/// Errors from key handling. Messages never contain key material.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the operating system's random number generator failed: {0}")]
    Randomness(getrandom::Error),
    #[error("key is not valid hex: expected {expected} hex digits, found {found} characters", expected = KEY_LEN * 2)]
    InvalidKeyHex { found: usize },
    #[error("sealing failed")]
    Seal,
    #[error("the file is too large to seal (more than 2^32 segments)")]
    TooLarge,
    #[error("the data is not a sealed vault file (no KBV1 header)")]
    NotSealed,
    #[error(
        "sealed segment {segment} failed authentication: wrong key or object, or the file was altered, truncated or reordered"
    )]
    Open { segment: usize },
    #[error("the data key was wrapped under KEK {wrapped_under}, but the KEK given is {given}")]
    WrongKek { wrapped_under: String, given: String },
    #[error("the wrapped data key failed authentication: altered, or wrapped for another object")]
    Unwrap,
}

/// A 256-bit secret key (秘密鍵): the master key of a deployment, or a key derived from it.
///
/// Not `Clone`, not `Serialize`; `Debug` prints `SecretKey(***)`; the bytes are zeroized on drop.
pub struct SecretKey {
    bytes: [u8; KEY_LEN],
}

impl SecretKey {
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> SecretKey {
        SecretKey { bytes }
    }

    /// Draws a fresh key from the operating system's random number generator.
    ///
    /// # Errors
    /// Returns [`CryptoError::Randomness`] when the OS cannot provide randomness.
    pub fn generate() -> Result<SecretKey, CryptoError> {
        let mut key = SecretKey { bytes: [0; KEY_LEN] };
        getrandom::getrandom(&mut key.bytes).map_err(CryptoError::Randomness)?;
        Ok(key)
    }

    /// Reads a key written by [`SecretKey::to_hex_secret`]: exactly 64 hex digits (either case), surrounding
    /// whitespace (such as a key file's trailing newline) ignored.
    ///
    /// # Errors
    /// Returns [`CryptoError::InvalidKeyHex`] with the length found (never the text) when the input is not
    /// 64 hex digits.
    pub fn from_hex(text: &str) -> Result<SecretKey, CryptoError> {
        let text = text.trim();
        let mut key = SecretKey { bytes: [0; KEY_LEN] };
        // Decoding straight into the key avoids an intermediate buffer that would need zeroizing.
        hex::decode_to_slice(text, &mut key.bytes)
            .map_err(|_| CryptoError::InvalidKeyHex { found: text.chars().count() })?;
        Ok(key)
    }

    /// The key as 64 lowercase hex digits, wrapped so that it is not printed by accident.
    pub fn to_hex_secret(&self) -> SecretString {
        SecretString(hex::encode(self.bytes))
    }

    /// Derives an independent key for one `purpose` (e.g. `"kiban/pseudonym"`) and `context` (e.g. a
    /// release ID) with HKDF-SHA-256 (RFC 5869):
    ///
    /// - extract: `PRK = HMAC-SHA-256(salt = "kiban-kdf-v1", IKM = self)`;
    /// - expand, one block: `OKM = HMAC-SHA-256(PRK, info || 0x01)` where
    ///   `info = len(purpose) as u32 big-endian || purpose || context`.
    ///
    /// The length prefix makes the split between purpose and context unambiguous, so `("ab", "c")` and
    /// `("a", "bc")` give unrelated keys.
    pub fn derive(&self, purpose: &str, context: &[u8]) -> SecretKey {
        let mut extract = new_hmac(KDF_SALT);
        extract.update(&self.bytes);
        let mut prk: [u8; KEY_LEN] = extract.finalize().into_bytes().into();

        let mut expand = new_hmac(&prk);
        prk.zeroize();
        let purpose_len = u32::try_from(purpose.len()).unwrap_or(u32::MAX);
        expand.update(&purpose_len.to_be_bytes());
        expand.update(purpose.as_bytes());
        expand.update(context);
        expand.update(&[1]);
        SecretKey { bytes: expand.finalize().into_bytes().into() }
    }

    fn hmac(&self) -> HmacSha256 {
        new_hmac(&self.bytes)
    }
}

const KDF_SALT: &[u8] = b"kiban-kdf-v1";

fn new_hmac(key: &[u8]) -> HmacSha256 {
    <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length")
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

/// A secret rendered as text (e.g. a key in hex, for a key file). No `Display`; `Debug` prints
/// `SecretString(***)`; zeroized on drop. Reading it takes an explicit [`SecretString::expose_secret`].
pub struct SecretString(String);

impl SecretString {
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl Drop for SecretString {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(***)")
    }
}

/// The key that turns a person's identifier into a stable pseudonym (仮名化鍵).
pub struct PseudonymKey(SecretKey);

impl PseudonymKey {
    /// The purpose string under which [`PseudonymKey::derive_from`] derives its key.
    pub const PURPOSE: &'static str = "kiban/pseudonym";

    /// Uses `key` directly as the pseudonym key.
    pub fn new(key: SecretKey) -> PseudonymKey {
        PseudonymKey(key)
    }

    /// Derives the pseudonym key for one `context` (e.g. a release ID) from the master key.
    pub fn derive_from(master: &SecretKey, context: &[u8]) -> PseudonymKey {
        PseudonymKey(master.derive(Self::PURPOSE, context))
    }

    /// The pseudonym of `input`: HMAC-SHA-256(key, input), first 128 bits, encoded as 26 characters of
    /// lowercase RFC 4648 base32 without padding (alphabet `a-z2-7`).
    ///
    /// Every pseudonym has exactly 26 characters, so no pseudonym is a prefix of another. The same key and
    /// input always give the same pseudonym; a different key gives an unrelated one.
    pub fn pseudonym(&self, input: &[u8]) -> Pseudonym {
        let mut mac = self.0.hmac();
        mac.update(input);
        let digest = mac.finalize().into_bytes();
        Pseudonym(base32_lower(&digest[..PSEUDONYM_BYTES]))
    }
}

impl fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PseudonymKey(***)")
    }
}

const PSEUDONYM_BYTES: usize = 16;

/// Length in characters of every [`Pseudonym`].
pub const PSEUDONYM_LEN: usize = 26;

/// A keyed pseudonym (仮名) produced by [`PseudonymKey::pseudonym`]: 26 characters from `a-z2-7`.
///
/// A pseudonym is meant to be released, so it may be printed.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Pseudonym(String);

impl Pseudonym {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn base32_lower(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut n_bits = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        n_bits += 8;
        while n_bits >= 5 {
            n_bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> n_bits) & 31) as usize]));
        }
    }
    if n_bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - n_bits)) & 31) as usize]));
    }
    out
}

/// The key that gives each person a fixed date shift (日付シフト鍵).
pub struct DateShiftKey(SecretKey);

impl DateShiftKey {
    /// The purpose string under which [`DateShiftKey::derive_from`] derives its key.
    pub const PURPOSE: &'static str = "kiban/date-shift";

    /// Uses `key` directly as the date-shift key.
    pub fn new(key: SecretKey) -> DateShiftKey {
        DateShiftKey(key)
    }

    /// Derives the date-shift key for one `context` (e.g. a release ID) from the master key.
    pub fn derive_from(master: &SecretKey, context: &[u8]) -> DateShiftKey {
        DateShiftKey(master.derive(Self::PURPOSE, context))
    }

    /// The shift in days for `person`, uniform over `[-max_days, -1] ∪ [1, max_days]` (never 0, so every
    /// date moves). `max_days` above `i32::MAX` is treated as `i32::MAX`.
    ///
    /// Derivation: for counter `c = 0, 1, ...`, `x = first 8 bytes (big-endian) of HMAC-SHA-256(key,
    /// c as u32 big-endian || person)`; the first `x` below the largest multiple of `2 * max_days` that fits
    /// in a `u64` is taken (rejection sampling, so there is no modulo bias; a retry happens with
    /// probability below 2^-32), and `r = x mod 2 * max_days` maps `0..max_days` to `-max_days..=-1` and
    /// `max_days..2 * max_days` to `1..=max_days`.
    pub fn offset_days(&self, person: &[u8], max_days: NonZeroU32) -> i32 {
        let max = u64::from(max_days.get().min(i32::MAX.unsigned_abs()));
        let n_outcomes = 2 * max;
        let zone = u64::MAX - (u64::MAX % n_outcomes);
        let mut counter: u32 = 0;
        let x = loop {
            let mut mac = self.0.hmac();
            mac.update(&counter.to_be_bytes());
            mac.update(person);
            let digest = mac.finalize().into_bytes();
            let mut head = [0u8; 8];
            head.copy_from_slice(&digest[..8]);
            let x = u64::from_be_bytes(head);
            if x < zone {
                break x;
            }
            counter = counter.wrapping_add(1);
        };
        let r = x % n_outcomes;
        let offset = if r < max { r as i64 - max as i64 } else { r as i64 - max as i64 + 1 };
        i32::try_from(offset).expect("offset lies within ±i32::MAX by construction")
    }
}

impl fmt::Debug for DateShiftKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DateShiftKey(***)")
    }
}

/// A keyed one-way function for public-database linkage material (Rule 28 of the Guideline): it turns a
/// person's canonical identity (kana name, birth date, sex, first insurance) into a value that cannot be
/// turned back. The ministry's algorithm is not public, so the operator picks an implementation by
/// [`LinkageOneWay::name`]; [`LinkageHmac`] is the built-in one.
pub trait LinkageOneWay {
    /// The name an operator selects it by, recorded with every export (e.g. `hmac-sha256`).
    fn name(&self) -> &'static str;

    /// The one-way value of `canonical_input`, as text safe to write in a CSV cell.
    fn apply(&self, canonical_input: &[u8]) -> String;
}

/// The built-in [`LinkageOneWay`]: HMAC-SHA-256 under a key derived from the master key for this purpose
/// alone, as 64 lowercase hex digits.
pub struct LinkageHmac(SecretKey);

impl LinkageHmac {
    /// The name it is selected by.
    pub const NAME: &'static str = "hmac-sha256";
    /// The purpose string under which [`LinkageHmac::derive_from`] derives its key; no other key shares it.
    pub const PURPOSE: &'static str = "kiban/public-db-linkage";

    /// Uses `key` directly.
    pub fn new(key: SecretKey) -> LinkageHmac {
        LinkageHmac(key)
    }

    /// Derives the linkage key from the master key. The context is fixed, so the same person gives the
    /// same value in every export (the public database matches on it).
    pub fn derive_from(master: &SecretKey) -> LinkageHmac {
        LinkageHmac(master.derive(Self::PURPOSE, b"v1"))
    }
}

impl LinkageOneWay for LinkageHmac {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn apply(&self, canonical_input: &[u8]) -> String {
        let mut mac = self.0.hmac();
        mac.update(canonical_input);
        hex::encode(mac.finalize().into_bytes())
    }
}

impl fmt::Debug for LinkageHmac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkageHmac(***)")
    }
}

/// SHA-256 of `bytes` as 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
