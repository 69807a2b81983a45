//! Fuzzes the FHIR reader on one document (`kiban_ingest::read_fhir_document`): the first input byte picks
//! JSON (one resource or Bundle) or NDJSON, the rest is the document's bytes.

#![no_main]

use kiban_ingest::read_fhir_document;
use kiban_model::ProviderCode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&selector, bytes)) = input.split_first() else { return };
    let name = if selector % 2 == 0 { "input.json" } else { "input.ndjson" };
    let provider = ProviderCode::new("1310000001").expect("a valid constant provider code");
    let output = read_fhir_document(name, bytes, &provider);
    let _ = format!("{output:?}");
});
