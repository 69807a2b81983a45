//! k-anonymity.
