//! Integration tests of kiban-linkage: quality on a synthetic population, and order independence.

#![allow(clippy::unwrap_used)] // test helpers panic on setup failure by design

mod generate;
mod properties;
mod quality;
