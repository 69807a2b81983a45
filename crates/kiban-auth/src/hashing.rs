//! Password hashing with argon2id. Only the PHC string is ever stored: nobody, administrators included, can
//! read a password back.
//!
//! Parameters: argon2id, version 0x13, m = 19,456 KiB (19 MiB), t = 2 passes, p = 1 lane, a 16-byte salt
//! and a 32-byte output; this is OWASP's recommended minimum for argon2id and RFC 9106's shape
//! (argon2id, memory-hard). It costs a few tens of milliseconds per hash on one core of the 2-core machine,
//! which keeps logins quick while an offline guesser pays 19 MiB and two passes per guess. The parameters
//! are written into every PHC string, so raising them later needs no migration: old hashes still verify,
//! and [`needs_rehash`] says which to replace at the user's next login.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Memory cost in KiB.
pub const ARGON2_MEMORY_KIB: u32 = 19_456;
/// Number of passes over the memory.
pub const ARGON2_PASSES: u32 = 2;
/// Degree of parallelism (lanes).
pub const ARGON2_LANES: u32 = 1;
/// Length of the stored hash output in bytes.
pub const ARGON2_OUTPUT_BYTES: usize = 32;
/// Length of the salt in bytes; draw it fresh from a CSPRNG for every hash.
pub const SALT_BYTES: usize = 16;

/// Why a password could not be hashed. Never contains the password.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("hashing the password failed: {reason}")]
pub struct HashingError {
    reason: String,
}

fn hasher() -> Result<Argon2<'static>, HashingError> {
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_PASSES, ARGON2_LANES, Some(ARGON2_OUTPUT_BYTES))
        .map_err(|error| HashingError { reason: error.to_string() })?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes `password` with argon2id and the given salt, returning the PHC string
/// (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) to store.
///
/// # Errors
/// [`HashingError`] only if argon2 refuses its input, which happens for passwords longer than 4 GiB; the
/// password rule allows 256 characters.
pub fn hash_password(password: &str, salt: [u8; SALT_BYTES]) -> Result<String, HashingError> {
    let salt = SaltString::encode_b64(&salt).map_err(|error| HashingError { reason: error.to_string() })?;
    let hash = hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|error| HashingError { reason: error.to_string() })?;
    Ok(hash.to_string())
}

/// Whether `password` matches the stored PHC string. Recomputes the hash with the parameters the string
/// names and compares in constant time (argon2's `verify_password`). A string that is not an argon2id PHC
/// string never matches.
pub fn verify_password(password: &str, phc: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    if hash.algorithm != argon2::ARGON2ID_IDENT {
        return false;
    }
    let Ok(hasher) = hasher() else {
        return false;
    };
    hasher.verify_password(password.as_bytes(), &hash).is_ok()
}

/// Whether a stored PHC string was made with parameters other than today's, so the caller should hash the
/// password again (with a fresh salt) right after a successful login. Unreadable strings need it too.
pub fn needs_rehash(phc: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return true;
    };
    let Ok(params) = Params::try_from(&hash) else {
        return true;
    };
    hash.algorithm != argon2::ARGON2ID_IDENT
        || hash.version != Some(Version::V0x13.into())
        || params.m_cost() != ARGON2_MEMORY_KIB
        || params.t_cost() != ARGON2_PASSES
        || params.p_cost() != ARGON2_LANES
        || hash.hash.is_none_or(|output| output.len() != ARGON2_OUTPUT_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SALT: [u8; SALT_BYTES] = [7; SALT_BYTES];

    #[test]
    fn the_right_password_verifies_and_a_wrong_one_does_not() {
        let phc = hash_password("Kumo-7tabi", SALT).expect("hashes");
        assert!(verify_password("Kumo-7tabi", &phc));
        assert!(!verify_password("Kumo-7tabj", &phc));
        assert!(!verify_password("kumo-7tabi", &phc));
        assert!(!verify_password("", &phc));
        assert!(!needs_rehash(&phc));
    }

    #[test]
    fn the_phc_string_names_argon2id_and_the_parameters_and_hides_the_password() {
        let phc = hash_password("Kumo-7tabi", SALT).expect("hashes");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(!phc.contains("Kumo"));
        // The same password and salt give the same hash; another salt gives another one.
        assert_eq!(hash_password("Kumo-7tabi", SALT).expect("hashes"), phc);
        let other = hash_password("Kumo-7tabi", [8; SALT_BYTES]).expect("hashes");
        assert_ne!(other, phc);
        assert!(verify_password("Kumo-7tabi", &other));
    }

    #[test]
    fn garbage_and_other_algorithms_never_verify() {
        assert!(!verify_password("Kumo-7tabi", ""));
        assert!(!verify_password("Kumo-7tabi", "Kumo-7tabi"));
        assert!(needs_rehash("not a hash"));
        // A valid argon2i hash (RFC 9106 shape) of the same password is refused: only argon2id is accepted.
        let argon2i =
            Argon2::new(Algorithm::Argon2i, Version::V0x13, Params::new(64, 1, 1, None).expect("ok"));
        let salt = SaltString::encode_b64(&SALT).expect("salt");
        let phc = argon2i.hash_password(b"Kumo-7tabi", &salt).expect("hashes").to_string();
        assert!(phc.starts_with("$argon2i$"));
        assert!(!verify_password("Kumo-7tabi", &phc));
        assert!(needs_rehash(&phc));
    }

    #[test]
    fn weaker_old_parameters_still_verify_but_ask_for_a_rehash() {
        let weak = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(64, 1, 1, None).expect("ok"));
        let salt = SaltString::encode_b64(&SALT).expect("salt");
        let phc = weak.hash_password(b"Kumo-7tabi", &salt).expect("hashes").to_string();
        assert!(verify_password("Kumo-7tabi", &phc));
        assert!(needs_rehash(&phc));
    }
}
