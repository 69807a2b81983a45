//! HL7 v2 writing.
