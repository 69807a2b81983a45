//! HL7 v2.5 messages as SS-MIX2 stores them: a parser (bytes -> message + diagnostics) and a writer.
//!
//! The parser is pure and never panics: it reads the separators MSH declares, splits segments on CR, LF or
//! CRLF, decodes ISO-2022-JP (and Shift_JIS or UTF-8, with a warning), and unescapes `\F\ \S\ \T\ \R\ \E\`.
//! Errors name the segment and field position, never the value.

pub mod parse;
pub mod write;
