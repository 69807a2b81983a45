//! Tests for keys, derivation, pseudonyms and date-shift offsets.

use std::collections::HashSet;
use std::num::NonZeroU32;

use proptest::prelude::*;

use super::*;

fn key(byte: u8) -> SecretKey {
    SecretKey::from_bytes([byte; KEY_LEN])
}

fn days(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).expect("test uses non-zero ranges")
}

#[test]
fn sha256_hex_matches_the_fips_180_example() {
    assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

#[test]
fn base32_matches_rfc_4648_vectors() {
    for (input, expect) in
        [("", ""), ("f", "my"), ("fo", "mzxq"), ("foo", "mzxw6"), ("foob", "mzxw6yq"), ("fooba", "mzxw6ytb")]
    {
        assert_eq!(base32_lower(input.as_bytes()), expect, "input {input:?}");
    }
    assert_eq!(base32_lower(b"foobar"), "mzxw6ytboi");
}

#[test]
fn debug_output_never_contains_key_material() {
    let bytes = [0xab; KEY_LEN];
    let secret = SecretKey::from_bytes(bytes);
    let hex_key = hex::encode(bytes);
    let text = secret.to_hex_secret();
    let printed = [
        format!("{secret:?}"),
        format!("{text:?}"),
        format!("{:?}", PseudonymKey::new(SecretKey::from_bytes(bytes))),
        format!("{:?}", DateShiftKey::new(SecretKey::from_bytes(bytes))),
        format!("{:?}", CryptoError::InvalidKeyHex { found: 3 }),
    ];
    assert_eq!(printed[0], "SecretKey(***)");
    assert_eq!(printed[1], "SecretString(***)");
    for line in &printed {
        assert!(!line.contains("ab"), "{line}");
        assert!(!line.contains(&hex_key));
    }
}

#[test]
fn hex_round_trip_and_rejects_bad_input() {
    let original = SecretKey::from_bytes(core::array::from_fn(|i| i as u8));
    let text = original.to_hex_secret();
    assert_eq!(text.expose_secret(), "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    let with_newline = format!("{}\n", text.expose_secret().to_uppercase());
    let read = SecretKey::from_hex(&with_newline).expect("valid key file");
    assert_eq!(read.bytes, original.bytes);

    for bad in ["", "00", &"g".repeat(64), &"0".repeat(66)] {
        let err = SecretKey::from_hex(bad).expect_err("must be rejected");
        assert!(matches!(err, CryptoError::InvalidKeyHex { .. }), "{err}");
    }
    let message = SecretKey::from_hex(&"z".repeat(64)).expect_err("not hex").to_string();
    assert!(!message.contains('z'), "{message}");
}

#[test]
fn generate_gives_distinct_keys() {
    let a = SecretKey::generate().expect("OS randomness");
    let b = SecretKey::generate().expect("OS randomness");
    assert_ne!(a.bytes, b.bytes);
    assert_ne!(a.bytes, [0; KEY_LEN]);
}

#[test]
fn derive_is_deterministic_and_separates_purpose_and_context() {
    let master = key(1);
    let base = master.derive("kiban/pseudonym", b"r1").bytes;
    assert_eq!(master.derive("kiban/pseudonym", b"r1").bytes, base);
    let others = [
        master.derive("kiban/date-shift", b"r1").bytes,
        master.derive("kiban/pseudonym", b"r2").bytes,
        master.derive("kiban/pseudonym", b"").bytes,
        // The purpose is length-prefixed, so moving bytes between purpose and context changes the key.
        master.derive("kiban/pseudonymr", b"1").bytes,
        key(2).derive("kiban/pseudonym", b"r1").bytes,
    ];
    let mut all: HashSet<[u8; KEY_LEN]> = others.into_iter().collect();
    all.insert(base);
    assert_eq!(all.len(), 6);
    assert_ne!(base, master.bytes);
}

#[test]
fn pseudonyms_are_stable_fixed_length_and_key_separated() {
    let master = key(3);
    let k1 = PseudonymKey::derive_from(&master, b"release-1");
    let k1_again = PseudonymKey::derive_from(&master, b"release-1");
    let k2 = PseudonymKey::derive_from(&master, b"release-2");
    let p = k1.pseudonym(b"person-1");
    assert_eq!(p, k1_again.pseudonym(b"person-1"));
    assert_ne!(p, k2.pseudonym(b"person-1"));
    assert_ne!(p, k1.pseudonym(b"person-2"));
    assert_eq!(p.as_str().len(), PSEUDONYM_LEN);
    assert!(p.as_str().bytes().all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)));
    assert_eq!(p.to_string(), p.as_str());

    // Known answer: the pseudonym is the base32 of the first 16 bytes of HMAC-SHA-256 over the input.
    let raw = PseudonymKey::new(key(0));
    let mut mac = new_hmac(&[0; KEY_LEN]);
    mac.update(b"x");
    let digest = mac.finalize().into_bytes();
    assert_eq!(raw.pseudonym(b"x").as_str(), base32_lower(&digest[..16]));
}

#[test]
fn offsets_cover_the_whole_range_except_zero() {
    let shifts = DateShiftKey::derive_from(&key(4), b"release-1");
    let mut seen = HashSet::new();
    for person in 0u32..400 {
        let offset = shifts.offset_days(&person.to_be_bytes(), days(3));
        assert!((-3..=3).contains(&offset) && offset != 0, "{offset}");
        seen.insert(offset);
    }
    assert_eq!(seen, HashSet::from([-3, -2, -1, 1, 2, 3]));
    assert!(matches!(shifts.offset_days(b"p", days(1)), -1 | 1));
    let huge = shifts.offset_days(b"p", days(u32::MAX));
    assert_ne!(huge, 0);
}

#[test]
fn offsets_depend_on_the_key() {
    let a = DateShiftKey::derive_from(&key(5), b"r");
    let b = DateShiftKey::derive_from(&key(6), b"r");
    let differing = (0u32..50)
        .filter(|p| a.offset_days(&p.to_be_bytes(), days(365)) != b.offset_days(&p.to_be_bytes(), days(365)));
    assert!(differing.count() > 40);
}

#[test]
fn linkage_hmac_is_hmac_sha256_under_its_own_derived_key() {
    let master = key(9);
    let linkage = LinkageHmac::derive_from(&master);
    assert_eq!(linkage.name(), "hmac-sha256");
    let value = linkage.apply(b"input");
    assert_eq!(value.len(), 64);
    assert!(value.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert_eq!(value, LinkageHmac::derive_from(&master).apply(b"input"), "stable across exports");
    // Exactly HMAC-SHA-256 under master.derive("kiban/public-db-linkage", "v1").
    let mut mac = new_hmac(&master.derive(LinkageHmac::PURPOSE, b"v1").bytes);
    mac.update(b"input");
    assert_eq!(value, hex::encode(mac.finalize().into_bytes()));
    // Its key is no other purpose's key, and another master gives unrelated values.
    assert_ne!(value, LinkageHmac::new(master.derive(PseudonymKey::PURPOSE, b"v1")).apply(b"input"));
    assert_ne!(value, LinkageHmac::derive_from(&key(10)).apply(b"input"));
    assert_eq!(format!("{linkage:?}"), "LinkageHmac(***)");
    // Usable as the pluggable trait object.
    let chosen: Box<dyn LinkageOneWay> = Box::new(linkage);
    assert_eq!(chosen.apply(b"input"), value);
}

proptest! {
    #[test]
    fn same_key_same_pseudonym(key_bytes in any::<[u8; 32]>(), input in proptest::collection::vec(any::<u8>(), 0..64)) {
        let a = PseudonymKey::new(SecretKey::from_bytes(key_bytes));
        let b = PseudonymKey::new(SecretKey::from_bytes(key_bytes));
        prop_assert_eq!(a.pseudonym(&input), b.pseudonym(&input));
        prop_assert_eq!(a.pseudonym(&input).as_str().len(), PSEUDONYM_LEN);
    }

    #[test]
    fn different_keys_give_different_pseudonyms(key_bytes in any::<[u8; 32]>(), flip in 0usize..32, input in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut other = key_bytes;
        other[flip] ^= 1;
        let a = PseudonymKey::new(SecretKey::from_bytes(key_bytes));
        let b = PseudonymKey::new(SecretKey::from_bytes(other));
        prop_assert_ne!(a.pseudonym(&input), b.pseudonym(&input));
    }

    #[test]
    fn offsets_stay_in_range(key_bytes in any::<[u8; 32]>(), person in proptest::collection::vec(any::<u8>(), 0..32), max in 1u32..2000) {
        let shifts = DateShiftKey::new(SecretKey::from_bytes(key_bytes));
        let offset = shifts.offset_days(&person, days(max));
        prop_assert!(offset != 0);
        prop_assert!(offset.unsigned_abs() <= max);
        prop_assert_eq!(offset, shifts.offset_days(&person, days(max)));
    }
}
