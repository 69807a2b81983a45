//! Recovery codes: ten single-use codes that stand in for a lost authenticator.
//!
//! Each code is 12 symbols of Crockford's base32 alphabet (`0-9`, `a-z` without `i l o u`), shown as
//! `xxxx-xxxx-xxxx`: 60 random bits. Typing is forgiving: case, dashes and spaces are ignored, and `i`/`l`
//! read as `1`, `o` as `0`, as Crockford's alphabet intends.
//!
//! Only SHA-256 hashes are stored. A fast hash is enough here, unlike for passwords: each code is 60 bits
//! drawn at random, so there is no dictionary to try, and searching 2^60 codes per hash is out of reach.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::SecretText;

/// Number of codes generated at once.
pub const N_RECOVERY_CODES: usize = 10;
/// Random bytes consumed per code (8 bytes, read big-endian; the low 60 bits are used).
const RECOVERY_CODE_RANDOM_BYTES: usize = 8;
/// Random bytes [`generate_recovery_codes`] takes.
pub const RECOVERY_RANDOM_BYTES: usize = N_RECOVERY_CODES * RECOVERY_CODE_RANDOM_BYTES;

/// Symbols per code.
const CODE_SYMBOLS: usize = 12;
/// Crockford's base32 alphabet, lowercase.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// Domain separation, so these hashes never equal a hash of anything else we store.
const HASH_DOMAIN: &[u8] = b"kiban-recovery-code-v1\0";

/// The SHA-256 hash of one recovery code: the only form in which a code is stored.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct RecoveryCodeHash([u8; 32]);

impl RecoveryCodeHash {
    pub fn from_bytes(bytes: [u8; 32]) -> RecoveryCodeHash {
        RecoveryCodeHash(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Reads a hash written by [`RecoveryCodeHash::to_hex`].
    pub fn from_hex(text: &str) -> Option<RecoveryCodeHash> {
        let mut bytes = [0; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(RecoveryCodeHash(bytes))
    }
}

/// Freshly generated codes: show `codes` to the user once, store `hashes`, and drop the codes.
#[derive(Debug)]
pub struct NewRecoveryCodes {
    /// The codes as `xxxx-xxxx-xxxx`, in the order of `hashes`.
    pub codes: Vec<SecretText>,
    pub hashes: Vec<RecoveryCodeHash>,
}

/// One stored recovery code and whether it was used. A used code never matches again.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct StoredRecoveryCode {
    pub hash: RecoveryCodeHash,
    pub used: bool,
}

/// A recovery code that matched: the caller must mark `stored[index]` used, in the same transaction that
/// lets the user in, so it can never be used again.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[must_use = "mark the recovery code used in storage before letting the user in"]
pub struct MatchedRecoveryCode {
    pub index: usize,
}

/// Makes [`N_RECOVERY_CODES`] codes from 80 random bytes drawn from a CSPRNG (8 per code).
pub fn generate_recovery_codes(random: &[u8; RECOVERY_RANDOM_BYTES]) -> NewRecoveryCodes {
    let mut codes = Vec::with_capacity(N_RECOVERY_CODES);
    let mut hashes = Vec::with_capacity(N_RECOVERY_CODES);
    for chunk in random.chunks_exact(RECOVERY_CODE_RANDOM_BYTES) {
        let mut bytes = [0; RECOVERY_CODE_RANDOM_BYTES];
        bytes.copy_from_slice(chunk);
        let mut bits = u64::from_be_bytes(bytes);
        let mut symbols = [0u8; CODE_SYMBOLS];
        for symbol in symbols.iter_mut().rev() {
            *symbol = ALPHABET[(bits & 0x1f) as usize];
            bits >>= 5;
        }
        hashes.push(hash_symbols(&symbols));
        let groups: Vec<&str> = symbols
            .chunks(4)
            .map(|group| std::str::from_utf8(group).expect("the alphabet is ASCII"))
            .collect();
        codes.push(SecretText::new(groups.join("-")));
    }
    NewRecoveryCodes { codes, hashes }
}

/// Finds the unused stored code that `code` matches, ignoring case, dashes and spaces. Every unused hash
/// is compared, in constant time, whatever matched.
pub fn use_recovery_code(stored: &[StoredRecoveryCode], code: &str) -> Option<MatchedRecoveryCode> {
    let symbols = normalize(code)?;
    let typed = hash_symbols(&symbols);
    let mut matched = None;
    for (index, entry) in stored.iter().enumerate() {
        let equal: bool = entry.hash.0.ct_eq(&typed.0).into();
        if equal && !entry.used {
            matched = Some(MatchedRecoveryCode { index });
        }
    }
    matched
}

/// The code's 12 canonical symbols, or `None` when it cannot be a code.
fn normalize(code: &str) -> Option<[u8; CODE_SYMBOLS]> {
    let mut symbols = [0u8; CODE_SYMBOLS];
    let mut n_symbols = 0;
    for c in code.chars().filter(|&c| c != '-' && !c.is_whitespace()) {
        let canonical = match c.to_ascii_lowercase() {
            'i' | 'l' => '1',
            'o' => '0',
            other => other,
        };
        if !canonical.is_ascii() || !ALPHABET.contains(&(canonical as u8)) {
            return None;
        }
        *symbols.get_mut(n_symbols)? = canonical as u8;
        n_symbols += 1;
    }
    (n_symbols == CODE_SYMBOLS).then_some(symbols)
}

fn hash_symbols(symbols: &[u8; CODE_SYMBOLS]) -> RecoveryCodeHash {
    let mut hasher = Sha256::new();
    hasher.update(HASH_DOMAIN);
    hasher.update(symbols);
    RecoveryCodeHash(hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random(seed: u8) -> [u8; RECOVERY_RANDOM_BYTES] {
        std::array::from_fn(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
    }

    fn stored(codes: &NewRecoveryCodes) -> Vec<StoredRecoveryCode> {
        codes.hashes.iter().map(|&hash| StoredRecoveryCode { hash, used: false }).collect()
    }

    #[test]
    fn ten_distinct_codes_in_groups_of_four_from_the_alphabet() {
        let codes = generate_recovery_codes(&random(1));
        assert_eq!(codes.codes.len(), N_RECOVERY_CODES);
        assert_eq!(codes.hashes.len(), N_RECOVERY_CODES);
        let texts: std::collections::HashSet<&str> =
            codes.codes.iter().map(SecretText::expose_secret).collect();
        assert_eq!(texts.len(), N_RECOVERY_CODES);
        for text in texts {
            let groups: Vec<&str> = text.split('-').collect();
            assert_eq!(groups.len(), 3, "{text}");
            assert!(groups.iter().all(|group| group.len() == 4), "{text}");
            assert!(text.bytes().all(|b| b == b'-' || ALPHABET.contains(&b)), "{text}");
        }
        assert_ne!(generate_recovery_codes(&random(2)).hashes, codes.hashes);
        assert_eq!(generate_recovery_codes(&random(1)).hashes, codes.hashes);
        assert!(format!("{codes:?}").contains("SecretText(***)"));
    }

    #[test]
    fn the_code_is_the_low_60_bits_of_its_8_bytes() {
        let mut bytes = [0u8; RECOVERY_RANDOM_BYTES];
        bytes[..8].copy_from_slice(&u64::MAX.to_be_bytes());
        bytes[15] = 1;
        let codes = generate_recovery_codes(&bytes);
        assert_eq!(codes.codes[0].expose_secret(), "zzzz-zzzz-zzzz");
        assert_eq!(codes.codes[1].expose_secret(), "0000-0000-0001");
        assert_eq!(codes.codes[2].expose_secret(), "0000-0000-0000");
    }

    #[test]
    fn each_code_matches_its_own_slot_however_it_is_typed() {
        let codes = generate_recovery_codes(&random(1));
        let stored = stored(&codes);
        for (index, code) in codes.codes.iter().enumerate() {
            let text = code.expose_secret();
            assert_eq!(use_recovery_code(&stored, text), Some(MatchedRecoveryCode { index }));
            let sloppy =
                format!(" {} ", text.to_uppercase().replace('-', " ").replace('1', "l").replace('0', "O"));
            assert_eq!(use_recovery_code(&stored, &sloppy), Some(MatchedRecoveryCode { index }), "{sloppy}");
        }
    }

    #[test]
    fn a_used_code_and_anything_else_never_match() {
        let codes = generate_recovery_codes(&random(1));
        let mut stored = stored(&codes);
        let text = codes.codes[3].expose_secret();
        let matched = use_recovery_code(&stored, text).expect("unused code matches");
        stored[matched.index].used = true;
        assert_eq!(use_recovery_code(&stored, text), None);
        assert_eq!(
            use_recovery_code(&stored, codes.codes[4].expose_secret()),
            Some(MatchedRecoveryCode { index: 4 })
        );
        let other = generate_recovery_codes(&random(9));
        assert_eq!(use_recovery_code(&stored, other.codes[0].expose_secret()), None);
        for bad in ["", "abcd-efgh", "abcd-efgh-jkmn-p", "abcd-efgh-jkmu", "ａｂｃｄ-efgh-jkmn"] {
            assert_eq!(use_recovery_code(&stored, bad), None, "{bad}");
        }
    }

    #[test]
    fn hashes_round_trip_through_hex() {
        let hash = generate_recovery_codes(&random(1)).hashes[0];
        assert_eq!(RecoveryCodeHash::from_hex(&hash.to_hex()), Some(hash));
        assert_eq!(RecoveryCodeHash::from_hex("zz"), None);
    }
}
