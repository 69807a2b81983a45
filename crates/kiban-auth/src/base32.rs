//! Base32 (RFC 4648 §6, alphabet `A`–`Z`, `2`–`7`), the encoding authenticator apps expect for TOTP secrets.
//! Encoding writes no padding; decoding accepts either case, optional trailing `=` padding and spaces.

use zeroize::Zeroizing;

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Why a text is not base32. Names the position, never the text (it is a secret).
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum Base32Error {
    #[error("invalid base32 character at position {position}; use A-Z and 2-7")]
    InvalidCharacter { position: usize },
    #[error("invalid base32 length: {n_symbols} symbols cannot end a group (1, 3 or 6 symbols left over)")]
    InvalidLength { n_symbols: usize },
    #[error("base32 text has non-zero bits after its last byte; it is not canonical")]
    NonCanonical,
}

/// Encodes `bytes` as base32 without padding.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u16 = 0;
    let mut n_bits = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u16::from(byte);
        n_bits += 8;
        while n_bits >= 5 {
            n_bits -= 5;
            out.push(char::from(ALPHABET[usize::from((buffer >> n_bits) & 0x1f)]));
        }
    }
    if n_bits > 0 {
        out.push(char::from(ALPHABET[usize::from((buffer << (5 - n_bits)) & 0x1f)]));
    }
    out
}

/// Decodes base32, ignoring case, spaces and trailing `=` padding.
///
/// # Errors
/// [`Base32Error`] for a character outside the alphabet, an impossible length, or leftover bits that are
/// not zero.
pub(crate) fn decode(text: &str) -> Result<Zeroizing<Vec<u8>>, Base32Error> {
    let text = text.trim_end_matches(['=', ' ']);
    let mut out = Zeroizing::new(Vec::with_capacity(text.len() * 5 / 8));
    let mut buffer: u16 = 0;
    let mut n_bits = 0;
    let mut n_symbols = 0;
    for (position, c) in text.chars().enumerate() {
        if c == ' ' {
            continue;
        }
        let upper = c.to_ascii_uppercase();
        let value = ALPHABET
            .iter()
            .position(|&symbol| char::from(symbol) == upper)
            .ok_or(Base32Error::InvalidCharacter { position })?;
        n_symbols += 1;
        // `value` < 32, so it fits in u16; the buffer never holds more than 12 bits.
        buffer = ((buffer << 5) | value as u16) & 0x0fff;
        n_bits += 5;
        if n_bits >= 8 {
            n_bits -= 8;
            out.push(((buffer >> n_bits) & 0xff) as u8);
        }
    }
    if matches!(n_symbols % 8, 1 | 3 | 6) {
        return Err(Base32Error::InvalidLength { n_symbols });
    }
    if buffer & ((1 << n_bits) - 1) != 0 {
        return Err(Base32Error::NonCanonical);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4648 §10 test vectors, without their padding.
    const VECTORS: [(&str, &str); 7] = [
        ("", ""),
        ("f", "MY"),
        ("fo", "MZXQ"),
        ("foo", "MZXW6"),
        ("foob", "MZXW6YQ"),
        ("fooba", "MZXW6YTB"),
        ("foobar", "MZXW6YTBOI"),
    ];

    #[test]
    fn encodes_and_decodes_the_rfc_4648_vectors() {
        for (plain, encoded) in VECTORS {
            assert_eq!(encode(plain.as_bytes()), encoded);
            assert_eq!(decode(encoded).expect("decodes").as_slice(), plain.as_bytes());
        }
    }

    #[test]
    fn decoding_accepts_padding_lowercase_and_spaces() {
        assert_eq!(decode("MZXW6YTBOI======").expect("decodes").as_slice(), b"foobar");
        assert_eq!(decode("MY======").expect("decodes").as_slice(), b"f");
        assert_eq!(decode("mzxw 6ytb").expect("decodes").as_slice(), b"fooba");
    }

    #[test]
    fn decoding_refuses_bad_characters_lengths_and_leftover_bits() {
        assert_eq!(decode("MZX1").map(|_| ()), Err(Base32Error::InvalidCharacter { position: 3 }));
        assert_eq!(decode("MZXW6YT").map(|_| ()), Err(Base32Error::NonCanonical));
        assert_eq!(decode("M").map(|_| ()), Err(Base32Error::InvalidLength { n_symbols: 1 }));
        assert_eq!(decode("MZX").map(|_| ()), Err(Base32Error::InvalidLength { n_symbols: 3 }));
        assert_eq!(decode("MZ").map(|_| ()), Err(Base32Error::NonCanonical));
    }

    #[test]
    fn every_byte_value_round_trips() {
        let bytes: Vec<u8> = (0..=255).collect();
        for len in 0..bytes.len() {
            assert_eq!(decode(&encode(&bytes[..len])).expect("decodes").as_slice(), &bytes[..len]);
        }
    }
}
