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
use std::io::{self, Read, Write};

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
        self.seal_with_prefix(label, plaintext, random_prefix()?)
    }

    fn seal_with_prefix(
        &self,
        label: &str,
        plaintext: &[u8],
        prefix: [u8; NONCE_PREFIX_LEN],
    ) -> Result<Vec<u8>, CryptoError> {
        let (mut segments, header) = Segments::start(self, label, prefix);
        let n_segments = plaintext.len() / SEGMENT_LEN + 1;
        let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + n_segments * TAG_LEN);
        out.extend_from_slice(&header);
        for index in 0..n_segments {
            let start = index * SEGMENT_LEN;
            let end = (start + SEGMENT_LEN).min(plaintext.len());
            out.extend_from_slice(&segments.seal_next(&plaintext[start..end], index + 1 == n_segments)?);
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
        let header = sealed.get(..HEADER_LEN).ok_or(CryptoError::NotSealed)?;
        let mut segments = Segments::resume(self, label, header)?;
        let sealed_segment = segments.sealed_len;
        let body = &sealed[HEADER_LEN..];
        // Every segment but the last is full; the last may hold no plaintext but always has its tag.
        let n_segments = body.len().div_ceil(sealed_segment).max(1);
        let mut out = Vec::with_capacity(body.len());
        for index in 0..n_segments {
            let start = index * sealed_segment;
            let end = (start + sealed_segment).min(body.len());
            out.extend_from_slice(&segments.open_next(&body[start..end], index + 1 == n_segments)?);
        }
        Ok(out)
    }

    /// Seals everything written to the returned writer as one file of object `label`, a segment at a
    /// time, into `sink`: the same bytes [`DataKey::seal`] makes, without holding the file in memory.
    /// Call [`SealWriter::finish`] at the end; a writer dropped without it leaves a file that does not open
    /// (its last segment is missing).
    ///
    /// # Errors
    /// Writing the header to `sink`, or the operating system's random number generator.
    pub fn seal_writer<W: Write>(&self, label: &str, sink: W) -> io::Result<SealWriter<W>> {
        self.seal_writer_with_prefix(label, sink, random_prefix().map_err(io::Error::other)?)
    }

    fn seal_writer_with_prefix<W: Write>(
        &self,
        label: &str,
        mut sink: W,
        prefix: [u8; NONCE_PREFIX_LEN],
    ) -> io::Result<SealWriter<W>> {
        let (segments, header) = Segments::start(self, label, prefix);
        sink.write_all(&header)?;
        Ok(SealWriter { sink, segments, buffer: Vec::with_capacity(SEGMENT_LEN) })
    }

    /// Reads a file sealed by [`DataKey::seal`] or a [`SealWriter`] for `label` as plaintext, a segment at
    /// a time. Each segment is authenticated before any of its bytes are returned; a failure is an
    /// [`io::ErrorKind::InvalidData`] error carrying the [`CryptoError`].
    ///
    /// # Errors
    /// Reading the header, or [`CryptoError::NotSealed`] (as `InvalidData`).
    pub fn open_reader<R: Read>(&self, label: &str, mut source: R) -> io::Result<OpenReader<R>> {
        let mut header = [0u8; HEADER_LEN];
        let n = read_up_to(&mut source, &mut header)?;
        if n < HEADER_LEN {
            return Err(invalid_data(CryptoError::NotSealed));
        }
        let segments = Segments::resume(self, label, &header).map_err(invalid_data)?;
        let mut reader =
            OpenReader { source, segments, next: Vec::new(), plain: Vec::new(), position: 0, failed: false };
        reader.next = reader.read_sealed_segment()?;
        Ok(reader)
    }
}

fn random_prefix() -> Result<[u8; NONCE_PREFIX_LEN], CryptoError> {
    let mut prefix = [0u8; NONCE_PREFIX_LEN];
    getrandom::getrandom(&mut prefix).map_err(CryptoError::Randomness)?;
    Ok(prefix)
}

fn invalid_data(error: CryptoError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error)
}

/// Reads until `buffer` is full or the source ends; returns the bytes read.
fn read_up_to(source: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match source.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

/// The STREAM state of one sealed file: its cipher, nonce prefix, associated data and the counter of the
/// next segment. The whole-buffer and streaming forms both go through it, so they make the same bytes.
struct Segments {
    cipher: ChaCha20Poly1305,
    prefix: [u8; NONCE_PREFIX_LEN],
    aad: Vec<u8>,
    /// Sealed bytes per full segment (plaintext segment size plus the tag).
    sealed_len: usize,
    next: usize,
}

impl Segments {
    /// A new file: its state and its header.
    fn start(key: &DataKey, label: &str, prefix: [u8; NONCE_PREFIX_LEN]) -> (Segments, Vec<u8>) {
        let mut header = Vec::with_capacity(HEADER_LEN);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&prefix);
        header.extend_from_slice(&(SEGMENT_LEN as u32).to_be_bytes());
        let aad = [header.as_slice(), label.as_bytes()].concat();
        let segments =
            Segments { cipher: key.cipher(), prefix, aad, sealed_len: SEGMENT_LEN + TAG_LEN, next: 0 };
        (segments, header)
    }

    /// An existing file, from its header.
    fn resume(key: &DataKey, label: &str, header: &[u8]) -> Result<Segments, CryptoError> {
        if header.len() != HEADER_LEN || &header[..MAGIC.len()] != MAGIC {
            return Err(CryptoError::NotSealed);
        }
        let mut prefix = [0u8; NONCE_PREFIX_LEN];
        prefix.copy_from_slice(&header[MAGIC.len()..MAGIC.len() + NONCE_PREFIX_LEN]);
        let segment_len =
            u32::from_be_bytes(header[HEADER_LEN - 4..].try_into().map_err(|_| CryptoError::NotSealed)?);
        // Only the one segment size kiban writes: a size read from an unauthenticated header must not decide
        // how much memory a reader allocates.
        if segment_len as usize != SEGMENT_LEN {
            return Err(CryptoError::NotSealed);
        }
        let aad = [header, label.as_bytes()].concat();
        Ok(Segments {
            cipher: key.cipher(),
            prefix,
            aad,
            sealed_len: segment_len as usize + TAG_LEN,
            next: 0,
        })
    }

    fn nonce(&mut self, last: bool) -> Result<[u8; NONCE_LEN], CryptoError> {
        let counter = u32::try_from(self.next).map_err(|_| CryptoError::TooLarge)?;
        self.next += 1;
        Ok(segment_nonce(&self.prefix, counter, last))
    }

    fn seal_next(&mut self, plain: &[u8], last: bool) -> Result<Vec<u8>, CryptoError> {
        let nonce = self.nonce(last)?;
        self.cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad: &self.aad })
            .map_err(|_| CryptoError::Seal)
    }

    fn open_next(&mut self, sealed: &[u8], last: bool) -> Result<Vec<u8>, CryptoError> {
        let segment = self.next;
        let nonce = self.nonce(last)?;
        self.cipher
            .decrypt(Nonce::from_slice(&nonce), Payload { msg: sealed, aad: &self.aad })
            .map_err(|_| CryptoError::Open { segment })
    }
}

/// Seals what is written to it into a sink, a segment at a time ([`DataKey::seal_writer`]).
pub struct SealWriter<W: Write> {
    sink: W,
    segments: Segments,
    buffer: Vec<u8>,
}

impl<W: Write> SealWriter<W> {
    /// Seals the last segment, flushes the sink and returns it.
    ///
    /// # Errors
    /// Writing to the sink.
    pub fn finish(mut self) -> io::Result<W> {
        let last = self.segments.seal_next(&self.buffer, true).map_err(io::Error::other)?;
        self.sink.write_all(&last)?;
        self.sink.flush()?;
        Ok(self.sink)
    }
}

impl<W: Write> Write for SealWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        // A full segment is sealed as not-last as soon as it is full: the last segment is always the
        // (possibly empty) remainder sealed by `finish`, exactly as `DataKey::seal` splits a buffer.
        let n = bytes.len().min(SEGMENT_LEN - self.buffer.len());
        self.buffer.extend_from_slice(&bytes[..n]);
        if self.buffer.len() == SEGMENT_LEN {
            let sealed = self.segments.seal_next(&self.buffer, false).map_err(io::Error::other)?;
            self.sink.write_all(&sealed)?;
            self.buffer.clear();
        }
        Ok(n)
    }

    /// Flushes the sink; a partly filled segment stays buffered until it is full or the file ends.
    fn flush(&mut self) -> io::Result<()> {
        self.sink.flush()
    }
}

impl<W: Write> fmt::Debug for SealWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealWriter(segment {})", self.segments.next)
    }
}

/// Reads a sealed file as plaintext, a segment at a time ([`DataKey::open_reader`]).
pub struct OpenReader<R: Read> {
    source: R,
    segments: Segments,
    /// The next sealed segment, read ahead so that the last one is known to be last.
    next: Vec<u8>,
    plain: Vec<u8>,
    position: usize,
    /// Set by the first error: a reader never goes on past a segment it could not read or authenticate.
    failed: bool,
}

impl<R: Read> OpenReader<R> {
    fn read_sealed_segment(&mut self) -> io::Result<Vec<u8>> {
        let mut segment = vec![0u8; self.segments.sealed_len];
        let n = read_up_to(&mut self.source, &mut segment)?;
        segment.truncate(n);
        Ok(segment)
    }
}

impl<R: Read> Read for OpenReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        // The file's segments are 1 or more; `next` is empty only once the last one has been opened (or
        // the body was empty, which opens as a last segment without its tag and fails).
        while self.position == self.plain.len() {
            if self.failed {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "an earlier segment failed"));
            }
            if self.next.is_empty() && self.segments.next > 0 {
                return Ok(0);
            }
            self.failed = true;
            let current = std::mem::take(&mut self.next);
            self.next = self.read_sealed_segment()?;
            let last = self.next.is_empty();
            self.plain = self.segments.open_next(&current, last).map_err(invalid_data)?;
            self.position = 0;
            self.failed = false;
        }
        let n = out.len().min(self.plain.len() - self.position);
        out[..n].copy_from_slice(&self.plain[self.position..self.position + n]);
        self.position += n;
        Ok(n)
    }
}

impl<R: Read> fmt::Debug for OpenReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OpenReader(segment {})", self.segments.next)
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

    /// Reads everything from a reader over `sealed`, in small reads.
    fn read_streaming(key: &DataKey, label: &str, sealed: &[u8]) -> io::Result<Vec<u8>> {
        let mut reader = key.open_reader(label, sealed)?;
        let mut out = Vec::new();
        let mut buffer = [0u8; 1000];
        loop {
            let n = reader.read(&mut buffer)?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&buffer[..n]);
        }
    }

    #[test]
    fn streaming_and_whole_buffer_forms_read_each_other() {
        let key = DataKey::from_bytes([1; KEY_LEN]);
        for len in
            [0, 1, SEGMENT_LEN - 1, SEGMENT_LEN, SEGMENT_LEN + 1, 2 * SEGMENT_LEN, 3 * SEGMENT_LEN + 17]
        {
            let plain: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            // Written in uneven pieces that straddle segment boundaries.
            let mut writer = key.seal_writer("release:R1/csv/a.csv", Vec::new()).expect("writer");
            for piece in plain.chunks(7_777) {
                writer.write_all(piece).expect("write");
            }
            let streamed = writer.finish().expect("finish");
            assert_eq!(streamed.len(), key.seal("x", &plain).expect("seal").len(), "same size ({len})");
            assert_eq!(key.open("release:R1/csv/a.csv", &streamed).expect("open"), plain, "length {len}");
            let whole = key.seal("release:R1/csv/a.csv", &plain).expect("seal");
            assert_eq!(read_streaming(&key, "release:R1/csv/a.csv", &whole).expect("read"), plain);
            assert_eq!(read_streaming(&key, "release:R1/csv/a.csv", &streamed).expect("read"), plain);
            assert!(read_streaming(&key, "release:R1/csv/b.csv", &streamed).is_err(), "label ({len})");
        }
    }

    #[test]
    fn the_writer_makes_the_same_bytes_as_seal() {
        let key = DataKey::from_bytes([9; KEY_LEN]);
        for len in [0, 5, SEGMENT_LEN, 2 * SEGMENT_LEN + 3] {
            let plain: Vec<u8> = (0..len).map(|i| (i % 7) as u8).collect();
            let mut writer =
                key.seal_writer_with_prefix("batch:7", Vec::new(), [5; NONCE_PREFIX_LEN]).unwrap();
            for piece in plain.chunks(1_000) {
                writer.write_all(piece).unwrap();
            }
            let streamed = writer.finish().unwrap();
            assert_eq!(
                streamed,
                key.seal_with_prefix("batch:7", &plain, [5; NONCE_PREFIX_LEN]).unwrap(),
                "{len}"
            );
        }
        // And the known answer of `the_format_is_stable`.
        let mut writer = key.seal_writer_with_prefix("batch:7", Vec::new(), [5; NONCE_PREFIX_LEN]).unwrap();
        writer.write_all(b"kiban").unwrap();
        assert_eq!(
            hex::encode(writer.finish().unwrap()),
            "4b425631050505050505050001000071b2b6a49e87e0796b76c919cb9f14a644563113c3"
        );
    }

    #[test]
    fn a_streamed_file_that_is_cut_altered_or_unfinished_does_not_read() {
        let key = DataKey::from_bytes([3; KEY_LEN]);
        let plain: Vec<u8> = (0..(2 * SEGMENT_LEN + 100)).map(|i| i as u8).collect();
        let mut writer = key.seal_writer("release:R2/a", Vec::new()).expect("writer");
        writer.write_all(&plain).expect("write");
        let sealed = writer.finish().expect("finish");
        let segment = SEGMENT_LEN + TAG_LEN;
        let cut = read_streaming(&key, "release:R2/a", &sealed[..HEADER_LEN + 2 * segment]).unwrap_err();
        assert_eq!(cut.kind(), io::ErrorKind::InvalidData);
        assert!(cut.to_string().contains("segment 1"), "{cut}");
        let mut flipped = sealed.clone();
        flipped[HEADER_LEN + segment + 3] ^= 1;
        // The first segment still authenticates and is returned; the altered one is refused.
        let mut reader = key.open_reader("release:R2/a", flipped.as_slice()).expect("header");
        let mut first = vec![0u8; SEGMENT_LEN];
        reader.read_exact(&mut first).expect("first segment");
        assert_eq!(first, plain[..SEGMENT_LEN]);
        assert!(reader.read(&mut [0u8; 10]).is_err());
        assert!(reader.read(&mut [0u8; 10]).is_err(), "the reader does not skip the altered segment");
        // A header naming another segment size is not read at all.
        let mut resized = sealed.clone();
        resized[HEADER_LEN - 4..HEADER_LEN].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(key.open_reader("release:R2/a", resized.as_slice()).is_err());
        // A writer dropped before `finish` leaves a file without its last segment.
        let mut unfinished = Vec::new();
        {
            let mut writer = key.seal_writer("release:R2/a", &mut unfinished).expect("writer");
            writer.write_all(&plain).expect("write");
        }
        assert!(read_streaming(&key, "release:R2/a", &unfinished).is_err());
        assert!(key.open_reader("release:R2/a", &b"PAR1"[..]).is_err());
        assert!(read_streaming(&key, "release:R2/a", &sealed[..HEADER_LEN]).is_err(), "no body");
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
