//! Generalization hierarchies.
