//! Encryption at rest by envelope: every vault object (a batch's record files, a release's files) is
//! sealed under its own random [`DataKey`]; the data key is stored only wrapped by the operator's
//! key-encryption key ([`Kek`]). Destroying the wrapped data key destroys the object (crypto-shredding);
//! rotating the KEK re-wraps the data keys and never touches the sealed files.
//!
//! Algorithms (RustCrypto `chacha20poly1305`):
//! - **Key wrap**: ChaCha20-Poly1305 under the KEK, a fresh random 96-bit nonce per wrap, and the object's
//!   label (e.g. `batch:3`) as associated data, so a wrapped key moved to another object does not unwrap.
//!   Wrapped form: `nonce (12) || ciphertext (32) || tag (16)`.
//! - **Sealed file** (format version 1), a STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015):
//!   header `"KBV1" || nonce prefix (7 random bytes) || segment size (u32 BE)`, then the plaintext in
//!   segments of `segment size` bytes (the last one shorter, possibly empty), each sealed with
//!   ChaCha20-Poly1305 under the data key with nonce `prefix || segment counter (u32 BE) || last flag (1
//!   byte: 1 on the final segment, else 0)` and associated data `header || label`. Reordering, dropping,
//!   truncating or appending segments, or moving a file to another object, fails authentication.
//!
//! The KEK is the operator's master key, given to kiban through a key file or the environment and never
//! stored in the database; its identifier ([`Kek::id`]) is a keyed fingerprint, safe to store and print.

use std::fmt;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use zeroize::Zeroize;

use crate::{CryptoError, KEY_LEN, SecretKey};

const MAGIC: &[u8; 4] = b"KBV1";
const NONCE_PREFIX_LEN: usize = 7;
const HEADER_LEN: usize = MAGIC.len() + NONCE_PREFIX_LEN + 4;
const TAG_LEN: usize = 16;
const NONCE_LEN: usize = 12;
/// Plaintext bytes per sealed segment.
pub const SEGMENT_LEN: usize = 64 * 1024;
const WRAPPED_LEN: usize = NONCE_LEN + KEY_LEN + TAG_LEN;

/// The operator's key-encryption key (鍵暗号化鍵). Wraps and unwraps [`DataKey`]s; never stored by kiban.
pub struct Kek {
    key: SecretKey,
    id: String,
}

impl Kek {
    /// The purpose under which the KEK's fingerprint is derived.
    const ID_PURPOSE: &'static str = "kiban/kek-id";
    const WRAP_PURPOSE: &'static str = "kiban/kek-wrap";

    /// Uses the operator's master key as the KEK. The wrapping key is derived from it, so the master key's
    /// other uses (pseudonym keys, date shifts) never share bytes with key wrapping.
    pub fn from_master(master: &SecretKey) -> Kek {
        let fingerprint = master.derive(Self::ID_PURPOSE, b"");
        let id = hex::encode(&fingerprint.bytes[..8]);
        Kek { key: master.derive(Self::WRAP_PURPOSE, b""), id }
    }

    /// A 16-hex-digit fingerprint naming this KEK, safe to store and print: it is a keyed hash, so it
    /// reveals nothing about the key.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(Key::from_slice(&self.key.bytes))
    }

    /// Wraps `data_key` for the object `label`, with a fresh random nonce.
    ///
    /// # Errors
    /// [`CryptoError::Randomness`].
    pub fn wrap(&self, data_key: &DataKey, label: &str) -> Result<WrappedKey, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::getrandom(&mut nonce).map_err(CryptoError::Randomness)?;
        let sealed = self
            .cipher()
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: &data_key.0.bytes, aad: label.as_bytes() })
            .map_err(|_| CryptoError::Seal)?;
        let mut bytes = Vec::with_capacity(WRAPPED_LEN);
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        Ok(WrappedKey { kek_id: self.id.clone(), bytes })
    }

    /// Unwraps a key wrapped by [`Kek::wrap`] for the same `label`.
    ///
    /// # Errors
    /// [`CryptoError::WrongKek`] when the key was wrapped under another KEK, [`CryptoError::Unwrap`] when it
    /// was altered or belongs to another object.
    pub fn unwrap_key(&self, wrapped: &WrappedKey, label: &str) -> Result<DataKey, CryptoError> {
        if wrapped.kek_id != self.id {
            return Err(CryptoError::WrongKek {
                wrapped_under: wrapped.kek_id.clone(),
                given: self.id.clone(),
            });
        }
        if wrapped.bytes.len() != WRAPPED_LEN {
            return Err(CryptoError::Unwrap);
        }
        let (nonce, sealed) = wrapped.bytes.split_at(NONCE_LEN);
        let mut plain = self
            .cipher()
            .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: label.as_bytes() })
            .map_err(|_| CryptoError::Unwrap)?;
        let mut bytes = [0u8; KEY_LEN];
        bytes.copy_from_slice(&plain);
        plain.zeroize();
        Ok(DataKey(SecretKey::from_bytes(bytes)))
    }
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kek({}, ***)", self.id)
    }
}

/// A data key wrapped under a KEK: safe to store, useless without that KEK.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// [`Kek::id`] of the KEK that wrapped it.
    pub kek_id: String,
    /// `nonce || ciphertext || tag`.
    pub bytes: Vec<u8>,
}

impl fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WrappedKey(kek {}, {} bytes)", self.kek_id, self.bytes.len())
    }
}

/// One vault object's data key (データ鍵). Not `Clone`; `Debug` prints `***`; zeroized on drop.
pub struct DataKey(SecretKey);

impl DataKey {
    /// Draws a fresh data key from the operating system.
    ///
    /// # Errors
    /// [`CryptoError::Randomness`].
    pub fn generate() -> Result<DataKey, CryptoError> {
        SecretKey::generate().map(DataKey)
    }

    /// A data key derived from `master` for one `purpose` (e.g. sealing the TOTP secrets in the database),
    /// so it needs no key-store entry of its own.
    pub fn derive_from(master: &SecretKey, purpose: &str) -> DataKey {
        DataKey(master.derive(purpose, b""))
    }

    /// An independent secret derived from this data key for `purpose` (e.g. the deployment's root key,
    /// which lives in the key store as a data key).
    pub fn derive(&self, purpose: &str) -> SecretKey {
        self.0.derive(purpose, b"")
    }

    /// Uses fixed bytes as a data key (tests, known-answer checks).
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> DataKey {
        DataKey(SecretKey::from_bytes(bytes))
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(Key::from_slice(&self.0.bytes))
    }

    /// Seals `plaintext` as one file of object `label` (format in the module documentation).
    ///
    /// # Errors
    /// [`CryptoError::Randomness`], or [`CryptoError::TooLarge`] past 2^32 segments.
    pub fn seal(&self, label: &str, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut prefix = [0u8; NONCE_PREFIX_LEN];
        getrandom::getrandom(&mut prefix).map_err(CryptoError::Randomness)?;
        self.seal_with_prefix(label, plaintext, prefix)
    }

    fn seal_with_prefix(
        &self,
        label: &str,
        plaintext: &[u8],
        prefix: [u8; NONCE_PREFIX_LEN],
    ) -> Result<Vec<u8>, CryptoError> {
        let mut header = Vec::with_capacity(HEADER_LEN);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&prefix);
        header.extend_from_slice(&(SEGMENT_LEN as u32).to_be_bytes());
        let aad = [header.as_slice(), label.as_bytes()].concat();
        let n_segments = plaintext.len() / SEGMENT_LEN + 1;
        let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + n_segments * TAG_LEN);
        out.extend_from_slice(&header);
        let cipher = self.cipher();
        for index in 0..n_segments {
            let start = index * SEGMENT_LEN;
            let end = (start + SEGMENT_LEN).min(plaintext.len());
            let counter = u32::try_from(index).map_err(|_| CryptoError::TooLarge)?;
            let nonce = segment_nonce(&prefix, counter, index + 1 == n_segments);
            let sealed = cipher
                .encrypt(Nonce::from_slice(&nonce), Payload { msg: &plaintext[start..end], aad: &aad })
                .map_err(|_| CryptoError::Seal)?;
            out.extend_from_slice(&sealed);
        }
        Ok(out)
    }

    /// Opens a file sealed by [`DataKey::seal`] for the same `label`.
    ///
    /// # Errors
    /// [`CryptoError::NotSealed`] when the bytes do not start with a sealed-file header,
    /// [`CryptoError::Open`] naming the first segment that fails authentication (wrong key, wrong object,
    /// altered, reordered, truncated or extended).
    pub fn open(&self, label: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < HEADER_LEN || &sealed[..MAGIC.len()] != MAGIC {
            return Err(CryptoError::NotSealed);
        }
        let header = &sealed[..HEADER_LEN];
        let mut prefix = [0u8; NONCE_PREFIX_LEN];
        prefix.copy_from_slice(&header[MAGIC.len()..MAGIC.len() + NONCE_PREFIX_LEN]);
        let segment_len =
            u32::from_be_bytes(header[HEADER_LEN - 4..].try_into().map_err(|_| CryptoError::NotSealed)?);
        if segment_len == 0 {
            return Err(CryptoError::NotSealed);
        }
        let sealed_segment = segment_len as usize + TAG_LEN;
        let aad = [header, label.as_bytes()].concat();
        let body = &sealed[HEADER_LEN..];
        // Every segment but the last is full; the last may hold no plaintext but always has its tag.
        let n_segments = body.len().div_ceil(sealed_segment).max(1);
        let cipher = self.cipher();
        let mut out = Vec::with_capacity(body.len());
        for index in 0..n_segments {
            let start = index * sealed_segment;
            let end = (start + sealed_segment).min(body.len());
            let counter = u32::try_from(index).map_err(|_| CryptoError::TooLarge)?;
            let nonce = segment_nonce(&prefix, counter, index + 1 == n_segments);
            let plain = cipher
                .decrypt(Nonce::from_slice(&nonce), Payload { msg: &body[start..end], aad: &aad })
                .map_err(|_| CryptoError::Open { segment: index })?;
            out.extend_from_slice(&plain);
        }
        Ok(out)
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(***)")
    }
}

fn segment_nonce(prefix: &[u8; NONCE_PREFIX_LEN], counter: u32, last: bool) -> [u8; NONCE_LEN] {
    let mut nonce = [0u8; NONCE_LEN];
    nonce[..NONCE_PREFIX_LEN].copy_from_slice(prefix);
    nonce[NONCE_PREFIX_LEN..NONCE_PREFIX_LEN + 4].copy_from_slice(&counter.to_be_bytes());
    nonce[NONCE_LEN - 1] = u8::from(last);
    nonce
}

/// Whether `bytes` start like a file sealed by [`DataKey::seal`].
pub fn is_sealed(bytes: &[u8]) -> bool {
    bytes.len() >= HEADER_LEN && &bytes[..MAGIC.len()] == MAGIC
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master(byte: u8) -> SecretKey {
        SecretKey::from_bytes([byte; KEY_LEN])
    }

    #[test]
    fn sealed_files_open_only_with_their_key_and_label() {
        let key = DataKey::from_bytes([1; KEY_LEN]);
        for len in [0, 1, SEGMENT_LEN - 1, SEGMENT_LEN, SEGMENT_LEN + 1, 3 * SEGMENT_LEN + 17] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let sealed = key.seal("batch:1", &plain).expect("seal");
            assert!(is_sealed(&sealed));
            assert_eq!(key.open("batch:1", &sealed).expect("open"), plain, "length {len}");
            assert!(key.open("batch:2", &sealed).is_err(), "another object's label opens it ({len})");
            assert!(
                DataKey::from_bytes([2; KEY_LEN]).open("batch:1", &sealed).is_err(),
                "another key ({len})"
            );
        }
    }

    #[test]
    fn sealing_hides_the_plaintext_and_differs_every_time() {
        let key = DataKey::from_bytes([1; KEY_LEN]);
        let plain = b"PAR1 identified records PAR1".repeat(100);
        let a = key.seal("batch:1", &plain).expect("seal");
        let b = key.seal("batch:1", &plain).expect("seal");
        assert_ne!(a, b, "a fresh nonce prefix per file");
        assert!(!a.windows(b"identified".len()).any(|w| w == b"identified"));
    }

    #[test]
    fn every_kind_of_tampering_with_a_sealed_file_is_refused() {
        let key = DataKey::from_bytes([3; KEY_LEN]);
        let plain: Vec<u8> = (0..(2 * SEGMENT_LEN + 100)).map(|i| i as u8).collect();
        let sealed = key.seal("release:R-1", &plain).expect("seal");
        let segment = SEGMENT_LEN + TAG_LEN;
        // A flipped bit in each segment, and in the header.
        for position in [3, HEADER_LEN + 5, HEADER_LEN + segment + 9, sealed.len() - 1] {
            let mut bad = sealed.clone();
            bad[position] ^= 1;
            assert!(key.open("release:R-1", &bad).is_err(), "bit flip at {position}");
        }
        // Truncated to whole segments: the new last segment was sealed as not-last.
        assert!(matches!(
            key.open("release:R-1", &sealed[..HEADER_LEN + 2 * segment]),
            Err(CryptoError::Open { segment: 1 })
        ));
        // Swapped segments.
        let mut swapped = sealed[..HEADER_LEN].to_vec();
        swapped.extend_from_slice(&sealed[HEADER_LEN + segment..HEADER_LEN + 2 * segment]);
        swapped.extend_from_slice(&sealed[HEADER_LEN..HEADER_LEN + segment]);
        swapped.extend_from_slice(&sealed[HEADER_LEN + 2 * segment..]);
        assert!(matches!(key.open("release:R-1", &swapped), Err(CryptoError::Open { segment: 0 })));
        // Extended with a copy of the last segment.
        let mut extended = sealed.clone();
        extended.extend_from_slice(&sealed[HEADER_LEN + 2 * segment..]);
        assert!(key.open("release:R-1", &extended).is_err());
        assert!(matches!(key.open("release:R-1", b"PAR1...."), Err(CryptoError::NotSealed)));
    }

    #[test]
    fn the_format_is_stable() {
        // A known answer, computed independently with Python's `cryptography` (ChaCha20Poly1305 over the
        // same header, nonce layout and associated data): the format must not drift, or files already in
        // the vault stop opening.
        let key = DataKey::from_bytes([9; KEY_LEN]);
        let sealed = key.seal_with_prefix("batch:7", b"kiban", [5; NONCE_PREFIX_LEN]).expect("seal");
        assert_eq!(
            hex::encode(&sealed),
            "4b425631050505050505050001000071b2b6a49e87e0796b76c919cb9f14a644563113c3"
        );
    }

    #[test]
    fn wrapped_keys_unwrap_under_their_kek_and_label_only() {
        let kek = Kek::from_master(&master(1));
        let other = Kek::from_master(&master(2));
        assert_ne!(kek.id(), other.id());
        assert_eq!(kek.id().len(), 16);
        let data_key = DataKey::from_bytes([4; KEY_LEN]);
        let wrapped = kek.wrap(&data_key, "batch:1").expect("wrap");
        assert_eq!(wrapped.kek_id, kek.id());
        let unwrapped = kek.unwrap_key(&wrapped, "batch:1").expect("unwrap");
        let sealed = data_key.seal("batch:1", b"x").expect("seal");
        assert_eq!(unwrapped.open("batch:1", &sealed).expect("open"), b"x");
        assert!(matches!(kek.unwrap_key(&wrapped, "batch:2"), Err(CryptoError::Unwrap)));
        assert!(matches!(other.unwrap_key(&wrapped, "batch:1"), Err(CryptoError::WrongKek { .. })));
        let mut forged = wrapped.clone();
        forged.kek_id = other.id().to_owned();
        assert!(matches!(other.unwrap_key(&forged, "batch:1"), Err(CryptoError::Unwrap)));
        let mut flipped = wrapped.clone();
        flipped.bytes[20] ^= 1;
        assert!(matches!(kek.unwrap_key(&flipped, "batch:1"), Err(CryptoError::Unwrap)));
    }

    #[test]
    fn secrets_do_not_print() {
        let kek = Kek::from_master(&master(1));
        assert!(format!("{kek:?}").contains("***"));
        assert_eq!(format!("{:?}", DataKey::from_bytes([4; KEY_LEN])), "DataKey(***)");
        let wrapped = kek.wrap(&DataKey::from_bytes([4; KEY_LEN]), "batch:1").expect("wrap");
        assert!(!format!("{wrapped:?}").contains(&hex::encode(&wrapped.bytes[..4])));
    }
}
