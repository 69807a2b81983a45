//! Integration tests of the intake readers against the shared real samples and small synthetic inputs.

// Test helpers outside `#[test]` functions may unwrap too: a failure is a broken test setup.
#![allow(clippy::unwrap_used)]

mod csv;
mod fhir;
mod ssmix2;

use std::path::{Path, PathBuf};

use kiban_model::ProviderCode;

/// A folder of the shared test data, or `None` (with the reason printed) when it is absent.
fn shared_data(relative: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data").join(relative);
    if path.exists() {
        Some(path)
    } else {
        eprintln!("skipping: shared test data {} is absent", path.display());
        None
    }
}

fn provider() -> ProviderCode {
    ProviderCode::new("1310000001").unwrap()
}
