//! HL7 v2 writing: build segments field by field, escape separators in values, join segments with CR and
//! encode the message as ISO-2022-JP, the character set SS-MIX2 storage requires.
//!
//! The writer always uses the default separators `|^~\&`. Values are escaped (`|` → `\F\`, `^` → `\S\`,
//! `&` → `\T\`, `~` → `\R\`, `\` → `\E\`, CR/LF → `\X0D\`/`\X0A\`), so a value can never change the
//! message structure.
//!
//! ```
//! use kiban_hl7v2::write::{MessageBuilder, Segment};
//!
//! let message = MessageBuilder::new()
//!     .segment(Segment::msh().field(3, "HIS").components(9, &["ADT", "A08", "ADT_A01"]).field(12, "2.5"))
//!     .segment(Segment::new("PID").field(1, "0001").field(3, "0000123"));
//! assert_eq!(message.to_text(), "MSH|^~\\&|HIS||||||ADT^A08^ADT_A01|||2.5\rPID|0001||0000123\r");
//! let bytes = message.to_iso2022jp().expect("ASCII always encodes");
//! assert!(bytes.starts_with(b"MSH|"));
//! ```

use std::fmt::Write as _;

use encoding_rs::ISO_2022_JP;

/// Errors from encoding a message. They name the position, never the value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WriteError {
    #[error(
        "segment {segment_idx} ({segment}) field {field} contains a character that ISO-2022-JP cannot encode; \
         replace it with a JIS X 0208 character"
    )]
    Unencodable { segment_idx: usize, segment: String, field: usize },
}

/// One segment under construction. Field numbers are HL7's, 1-based (`PID-5` is `field(5, ..)`).
#[derive(Clone, PartialEq, Eq)]
pub struct Segment {
    id: String,
    // Invariant: `fields[n - 1]` holds field n, already escaped and joined with the default separators.
    fields: Vec<String>,
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Field values may be patient data: show only the structure.
        f.debug_struct("Segment").field("id", &self.id).field("n_fields", &self.fields.len()).finish()
    }
}

impl Segment {
    /// A segment with the given 3-character ID, e.g. `PID`.
    pub fn new(id: &str) -> Segment {
        Segment { id: id.to_owned(), fields: Vec::new() }
    }

    /// An MSH segment with MSH-1 (`|`) and MSH-2 (`^~\&`) set; set the others from MSH-3 on.
    pub fn msh() -> Segment {
        Segment { id: "MSH".to_owned(), fields: vec!["|".to_owned(), "^~\\&".to_owned()] }
    }

    /// The segment ID.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Sets field `n` to one escaped value.
    pub fn field(self, n: usize, value: &str) -> Segment {
        self.set(n, escape(value))
    }

    /// Sets field `n` to components joined with `^`, each escaped.
    pub fn components(self, n: usize, components: &[&str]) -> Segment {
        self.set(n, join_components(components))
    }

    /// Sets field `n` to components whose parts are subcomponents joined with `&`.
    pub fn subcomponents(self, n: usize, components: &[&[&str]]) -> Segment {
        let text = components
            .iter()
            .map(|parts| parts.iter().map(|part| escape(part)).collect::<Vec<_>>().join("&"))
            .collect::<Vec<_>>()
            .join("^");
        self.set(n, text)
    }

    /// Sets field `n` to repetitions joined with `~`, each a list of components joined with `^`.
    pub fn repetitions(self, n: usize, repetitions: &[&[&str]]) -> Segment {
        let text =
            repetitions.iter().map(|components| join_components(components)).collect::<Vec<_>>().join("~");
        self.set(n, text)
    }

    fn set(mut self, n: usize, text: String) -> Segment {
        // Field 0 does not exist; MSH-1 and MSH-2 are fixed by `msh()`.
        let fixed = if self.id == "MSH" { 2 } else { 0 };
        if n == 0 || n <= fixed {
            return self;
        }
        if self.fields.len() < n {
            self.fields.resize(n, String::new());
        }
        self.fields[n - 1] = text;
        self
    }

    fn write_to(&self, out: &mut String) {
        out.push_str(&self.id);
        // MSH-1 is the field separator itself, so MSH's fields start right after the ID.
        let skip = usize::from(self.id == "MSH");
        for field in &self.fields[skip.min(self.fields.len())..] {
            out.push('|');
            out.push_str(field);
        }
    }
}

/// A message: segments in order, each terminated by CR as SS-MIX2 stores them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageBuilder {
    segments: Vec<Segment>,
}

impl MessageBuilder {
    pub fn new() -> MessageBuilder {
        MessageBuilder::default()
    }

    /// Appends a segment.
    pub fn segment(mut self, segment: Segment) -> MessageBuilder {
        self.segments.push(segment);
        self
    }

    /// Appends a segment in place.
    pub fn push(&mut self, segment: Segment) {
        self.segments.push(segment);
    }

    /// The message text: every segment followed by CR.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for segment in &self.segments {
            segment.write_to(&mut out);
            out.push('\r');
        }
        out
    }

    /// The message encoded as ISO-2022-JP (JIS X 0208 for Japanese text; half-width katakana are written
    /// as their full-width forms with a separate voiced mark, as the encoding has no half-width kana; callers
    /// that need exact round trips write full-width kana).
    ///
    /// # Errors
    /// [`WriteError::Unencodable`] names the first segment and field holding a character outside
    /// ISO-2022-JP (for example an emoji).
    pub fn to_iso2022jp(&self) -> Result<Vec<u8>, WriteError> {
        let text = self.to_text();
        let (bytes, _, had_errors) = ISO_2022_JP.encode(&text);
        if !had_errors {
            return Ok(bytes.into_owned());
        }
        Err(self.locate_unencodable())
    }

    fn locate_unencodable(&self) -> WriteError {
        for (segment_idx, segment) in self.segments.iter().enumerate() {
            let skip = usize::from(segment.id == "MSH");
            for (idx, field) in segment.fields.iter().enumerate().skip(skip) {
                if ISO_2022_JP.encode(field).2 {
                    return WriteError::Unencodable {
                        segment_idx: segment_idx + 1,
                        segment: segment.id.clone(),
                        field: idx + 1,
                    };
                }
            }
        }
        // Only the segment ID is left, which callers choose.
        let segment_idx =
            self.segments.iter().position(|segment| ISO_2022_JP.encode(&segment.id).2).unwrap_or(0);
        WriteError::Unencodable {
            segment_idx: segment_idx + 1,
            segment: self.segments.get(segment_idx).map(|segment| segment.id.clone()).unwrap_or_default(),
            field: 0,
        }
    }
}

fn join_components(components: &[&str]) -> String {
    components.iter().map(|component| escape(component)).collect::<Vec<_>>().join("^")
}

/// Escapes the HL7 separators and the escape character itself, and line breaks, in one value.
pub fn escape(value: &str) -> String {
    if !value.contains(['|', '^', '&', '~', '\\', '\r', '\n']) {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '|' => out.push_str("\\F\\"),
            '^' => out.push_str("\\S\\"),
            '&' => out.push_str("\\T\\"),
            '~' => out.push_str("\\R\\"),
            '\\' => out.push_str("\\E\\"),
            '\r' | '\n' => {
                let _ = write!(out, "\\X{:02X}\\", u32::from(c));
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(segment: Segment, expect: &str) {
        let text = MessageBuilder::new().segment(segment).to_text();
        assert_eq!(text, format!("{expect}\r"));
    }

    #[test]
    fn fields_components_repetitions() {
        check(Segment::new("PID").field(1, "0001").field(3, "9999013"), "PID|0001||9999013");
        check(
            Segment::new("PID")
                .repetitions(5, &[&["患者", "太郎", "", "", "", "", "L", "I"], &["カンジャ", "タロウ"]]),
            "PID|||||患者^太郎^^^^^L^I~カンジャ^タロウ",
        );
        check(
            Segment::new("RXE").subcomponents(25, &[&["3"], &["TAB", "錠", "MR9P"]]),
            "RXE|||||||||||||||||||||||||3^TAB&錠&MR9P",
        );
        check(Segment::new("EVN").field(2, "x").field(2, "y"), "EVN||y");
        check(Segment::new("NTE"), "NTE");
        check(Segment::new("PID").field(0, "ignored"), "PID");
    }

    #[test]
    fn msh_keeps_encoding_characters() {
        let msh = Segment::msh()
            .field(1, "ignored")
            .field(3, "HIS123")
            .components(9, &["ADT", "A08", "ADT_A01"])
            .field(12, "2.5")
            .repetitions(18, &[&[""], &["ISO IR87"]])
            .field(20, "ISO 2022-1994");
        check(msh, "MSH|^~\\&|HIS123||||||ADT^A08^ADT_A01|||2.5||||||~ISO IR87||ISO 2022-1994");
    }

    #[test]
    fn escapes_separators_in_values() {
        assert_eq!(escape("a|b^c&d~e\\f"), "a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f");
        assert_eq!(escape("line1\rline2\n"), "line1\\X0D\\line2\\X0A\\");
        assert_eq!(escape("山田"), "山田");
        check(Segment::new("NTE").components(3, &["A^B", "C"]), "NTE|||A\\S\\B^C");
    }

    #[test]
    fn encodes_iso2022jp_and_round_trips() {
        let message = MessageBuilder::new()
            .segment(Segment::msh().field(3, "HIS"))
            .segment(Segment::new("PID").components(5, &["山田", "花子"]).components(6, &["ﾔﾏﾀﾞ", "ﾊﾅｺ"]));
        // The WHATWG encoder maps each half-width kana to its full-width form, the voiced mark separately.
        let bytes = message.to_iso2022jp().unwrap();
        assert!(bytes.contains(&0x1b), "Japanese text switches to JIS X 0208 with an escape sequence");
        let (decoded, had_errors) = ISO_2022_JP.decode_without_bom_handling(&bytes);
        assert!(!had_errors);
        assert_eq!(decoded, "MSH|^~\\&|HIS\rPID|||||山田^花子|ヤマタ゛^ハナコ\r");
    }

    #[test]
    fn unencodable_character_names_position_not_value() {
        let message = MessageBuilder::new()
            .segment(Segment::msh().field(3, "HIS"))
            .segment(Segment::new("PID").field(3, "1").components(5, &["山田", "一郎\u{1F600}"]));
        let error = message.to_iso2022jp().unwrap_err();
        assert_eq!(error, WriteError::Unencodable { segment_idx: 2, segment: "PID".to_owned(), field: 5 });
        let shown = error.to_string();
        assert!(shown.contains("field 5") && !shown.contains('山') && !shown.contains("一郎"), "{shown}");
    }

    #[test]
    fn debug_hides_values() {
        let shown = format!("{:?}", Segment::new("PID").field(5, "山田"));
        assert!(!shown.contains("山田"));
    }
}
