//! Fuzzes the SS-MIX2 message → record mapping (`kiban_ingest::read_ssmix2_message`). The first input byte
//! picks the datatype folder (low 7 bits, so every mapping is reached) and the date folder (high bit: `-`),
//! the rest is the message file's bytes.

#![no_main]

use kiban_ingest::read_ssmix2_message;
use kiban_model::ProviderCode;
use libfuzzer_sys::fuzz_target;

/// Keep in step with `seed_corpus.sh`, which prefixes each seed with its datatype's index here.
const DATATYPES: [&str; 12] = [
    "ADT-00", "ADT-12", "ADT-22", "ADT-52", "PPR-01", "OMP-01", "OMP-11", "OML-11", "ADT-42", "OMP-02",
    "OMG-01", "OML-01",
];

fuzz_target!(|input: &[u8]| {
    let Some((&selector, bytes)) = input.split_first() else { return };
    let datatype = DATATYPES[usize::from(selector & 0x7f) % DATATYPES.len()];
    // The `-` date folder reaches the "no date folder" fallbacks, a dated one the folder-date paths.
    let date = if selector >= 128 { "-" } else { "20200401" };
    let relative =
        format!("000/000/0000001/{date}/{datatype}/0000001_{date}_{datatype}_1_20200401120000_01_1");
    let provider = ProviderCode::new("1310000001").expect("a valid constant provider code");
    let output = read_ssmix2_message(&relative, bytes, &provider);
    assert!(output.records.len() <= 1, "one message gives at most one record");
    let _ = format!("{output:?}");
});
