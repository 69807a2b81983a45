//! HL7 v2 parsing: bytes (ISO-2022-JP, else UTF-8 or Shift_JIS) to a [`Message`] of segments, fields,
//! repetitions, components and subcomponents, unescaped.
//!
//! All positions are 1-based as in the HL7 standard: `field(3)` of `PID` is PID-3, and for `MSH`, MSH-1 is
//! the field separator itself and MSH-2 the encoding characters. Out-of-range positions read as empty, so
//! callers never index by hand: `msg.segment("PID").field(5).repetition(1).component(2).as_str()`.
//!
//! Errors and warnings name segment indices, ids and field positions, never a value.

use std::fmt;

use encoding_rs::{ISO_2022_JP, SHIFT_JIS};

/// The text encoding a message was decoded from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TextEncoding {
    /// ISO-2022-JP (JIS X 0208 via escape sequences), the SS-MIX2 encoding; plain ASCII counts as this.
    Iso2022Jp,
    Utf8,
    ShiftJis,
}

impl TextEncoding {
    pub fn name(self) -> &'static str {
        match self {
            TextEncoding::Iso2022Jp => "ISO-2022-JP",
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::ShiftJis => "Shift_JIS",
        }
    }
}

/// Why a message could not be parsed. Positions only, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("empty message: no segments")]
    Empty,
    #[error("cannot decode the bytes as ISO-2022-JP, UTF-8 or Shift_JIS")]
    Undecodable,
    #[error("segment 1 is not MSH: a message must start with its header")]
    MissingMsh,
    #[error(
        "segment 1 (MSH): too short to declare the field separator and encoding characters (MSH-1, MSH-2)"
    )]
    TruncatedMsh,
    #[error("segment 1 (MSH): MSH-1/MSH-2 declare an invalid or repeated separator")]
    InvalidSeparators,
    #[error("segment {index}: invalid segment id (expected 3 uppercase letters or digits)")]
    InvalidSegmentId { index: usize },
    #[error("segment {index} (MSH): a second message header; one message per input is expected")]
    SecondMsh { index: usize },
}

/// The five separators MSH-1 and MSH-2 declare.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Separators {
    pub field: char,
    pub component: char,
    pub repetition: char,
    pub escape: char,
    pub subcomponent: char,
}

impl Default for Separators {
    fn default() -> Separators {
        Separators { field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&' }
    }
}

/// One component: its subcomponents, unescaped. Invariant: at least one subcomponent.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Component {
    subcomponents: Vec<String>,
}

/// One repetition of a field: its components.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Repetition {
    components: Vec<Component>,
}

/// One field: its repetitions.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Field {
    repetitions: Vec<Repetition>,
}

/// One segment: its id and fields.
#[derive(Clone, PartialEq, Eq)]
pub struct Segment {
    id: String,
    // Invariant: fields[0] is HL7 field 1 (for MSH: the field separator).
    fields: Vec<Field>,
}

/// A parsed message and what the parser noticed on the way.
#[derive(Clone, PartialEq)]
pub struct Message {
    separators: Separators,
    // Invariant: segments[0] is MSH.
    segments: Vec<Segment>,
    encoding: TextEncoding,
    warnings: Vec<String>,
}

static EMPTY_COMPONENT: Component = Component { subcomponents: Vec::new() };
static EMPTY_REPETITION: Repetition = Repetition { components: Vec::new() };
static EMPTY_FIELD: Field = Field { repetitions: Vec::new() };
static EMPTY_SEGMENT: Segment = Segment { id: String::new(), fields: Vec::new() };

impl Component {
    /// The first subcomponent (the whole component when it has no subcomponents).
    pub fn as_str(&self) -> &str {
        self.subcomponent(1)
    }

    /// Subcomponent `n` (1-based); empty when absent.
    pub fn subcomponent(&self, n: usize) -> &str {
        n.checked_sub(1).and_then(|idx| self.subcomponents.get(idx)).map_or("", String::as_str)
    }

    pub fn subcomponents(&self) -> &[String] {
        &self.subcomponents
    }

    pub fn is_empty(&self) -> bool {
        self.subcomponents.iter().all(String::is_empty)
    }
}

impl Repetition {
    /// Component `n` (1-based); empty when absent.
    pub fn component(&self, n: usize) -> &Component {
        n.checked_sub(1).and_then(|idx| self.components.get(idx)).unwrap_or(&EMPTY_COMPONENT)
    }

    pub fn components(&self) -> &[Component] {
        &self.components
    }

    /// The first component's first subcomponent.
    pub fn as_str(&self) -> &str {
        self.component(1).as_str()
    }

    pub fn is_empty(&self) -> bool {
        self.components.iter().all(Component::is_empty)
    }
}

impl Field {
    /// Repetition `n` (1-based); empty when absent.
    pub fn repetition(&self, n: usize) -> &Repetition {
        n.checked_sub(1).and_then(|idx| self.repetitions.get(idx)).unwrap_or(&EMPTY_REPETITION)
    }

    pub fn repetitions(&self) -> &[Repetition] {
        &self.repetitions
    }

    /// Component `n` of the first repetition.
    pub fn component(&self, n: usize) -> &Component {
        self.repetition(1).component(n)
    }

    /// The first repetition's first component's first subcomponent.
    pub fn as_str(&self) -> &str {
        self.repetition(1).as_str()
    }

    pub fn is_empty(&self) -> bool {
        self.repetitions.iter().all(Repetition::is_empty)
    }
}

impl Segment {
    /// The three-character segment id, e.g. `PID`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Field `n` with HL7 numbering (PID-3 is `field(3)`; MSH-1 is the field separator); empty when absent.
    pub fn field(&self, n: usize) -> &Field {
        n.checked_sub(1).and_then(|idx| self.fields.get(idx)).unwrap_or(&EMPTY_FIELD)
    }

    /// The number of fields present (the highest field number).
    pub fn n_fields(&self) -> usize {
        self.fields.len()
    }
}

impl Message {
    pub fn separators(&self) -> Separators {
        self.separators
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The encoding the bytes were decoded from.
    pub fn encoding(&self) -> TextEncoding {
        self.encoding
    }

    /// What the parser noticed but tolerated (a fallback encoding, an unknown escape); positions only.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The first segment with this id; an empty segment when there is none.
    pub fn segment(&self, id: &str) -> &Segment {
        self.segments.iter().find(|segment| segment.id == id).unwrap_or(&EMPTY_SEGMENT)
    }

    /// Every segment with this id, in message order.
    pub fn segments_by_id<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Segment> + 'a {
        self.segments.iter().filter(move |segment| segment.id == id)
    }

    /// Shorthand for `segment(id).field(field).repetition(repetition).component(component).as_str()`.
    pub fn get(&self, id: &str, field: usize, repetition: usize, component: usize) -> &str {
        self.segment(id).field(field).repetition(repetition).component(component).as_str()
    }

    /// MSH-9 as `code^event`, e.g. `ADT^A08` (the structure, MSH-9.3, left out).
    pub fn message_type(&self) -> String {
        let msh9 = self.segment("MSH").field(9);
        let code = msh9.component(1).as_str();
        let event = msh9.component(2).as_str();
        if event.is_empty() { code.to_owned() } else { format!("{code}^{event}") }
    }
}

impl fmt::Debug for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Component(***)")
    }
}

impl fmt::Debug for Repetition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Repetition(n_components: {})", self.components.len())
    }
}

impl fmt::Debug for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Field(n_repetitions: {})", self.repetitions.len())
    }
}

impl fmt::Debug for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Segment({}, n_fields: {})", self.id, self.fields.len())
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("segments", &self.segments)
            .field("encoding", &self.encoding)
            .field("warnings", &self.warnings)
            .finish()
    }
}

/// Decodes and parses one HL7 v2 message.
///
/// # Errors
/// Returns a [`ParseError`] naming the segment index and position when the bytes decode in none of the
/// supported encodings, the message does not start with a usable MSH, a segment id is malformed, or a
/// second MSH follows (one message per input).
pub fn parse_message(bytes: &[u8]) -> Result<Message, ParseError> {
    let mut warnings = Vec::new();
    let (text, encoding) = decode(bytes)?;
    if encoding != TextEncoding::Iso2022Jp {
        warnings.push(format!("decoded as {}, not ISO-2022-JP", encoding.name()));
    }
    let mut message = parse_text(&text, &mut warnings)?;
    message.encoding = encoding;
    message.warnings = warnings;
    Ok(message)
}

/// Parses an already decoded message (the encoding is reported as ISO-2022-JP).
///
/// # Errors
/// As [`parse_message`], except decoding.
pub fn parse_str(text: &str) -> Result<Message, ParseError> {
    let mut warnings = Vec::new();
    let mut message = parse_text(text, &mut warnings)?;
    message.warnings = warnings;
    Ok(message)
}

/// Decodes ISO-2022-JP; when the bytes are not valid ISO-2022-JP, UTF-8 and then Shift_JIS.
///
/// # Errors
/// [`ParseError::Undecodable`] when none of them decodes the bytes without replacement characters.
pub fn decode(bytes: &[u8]) -> Result<(String, TextEncoding), ParseError> {
    // ISO-2022-JP is 7-bit: any byte >= 0x80 rules it out, and the decoder would only report an error.
    if bytes.is_ascii()
        && let Some(text) = ISO_2022_JP.decode_without_bom_handling_and_without_replacement(bytes)
    {
        return Ok((text.into_owned(), TextEncoding::Iso2022Jp));
    }
    let without_bom = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(without_bom) {
        return Ok((text.to_owned(), TextEncoding::Utf8));
    }
    if let Some(text) = SHIFT_JIS.decode_without_bom_handling_and_without_replacement(bytes) {
        return Ok((text.into_owned(), TextEncoding::ShiftJis));
    }
    Err(ParseError::Undecodable)
}

fn parse_text(text: &str, warnings: &mut Vec<String>) -> Result<Message, ParseError> {
    // MLLP framing (VT before, FS after a message) often survives in stored files: drop it.
    let mut lines = text
        .split(['\r', '\n'])
        .map(|line| line.trim_matches(['\u{0b}', '\u{1c}']))
        .filter(|line| !line.trim().is_empty());
    let header = lines.next().ok_or(ParseError::Empty)?;
    let header = header.trim_start_matches('\u{feff}');
    if !header.starts_with("MSH") {
        return Err(ParseError::MissingMsh);
    }
    let separators = read_separators(header)?;
    let mut segments = vec![parse_msh(header, &separators, warnings)];
    for (offset, line) in lines.enumerate() {
        let index = offset + 2;
        let id: String = line.chars().take_while(|&c| c != separators.field).collect();
        let valid_id = id.len() == 3 && id.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if !valid_id {
            return Err(ParseError::InvalidSegmentId { index });
        }
        if id == "MSH" {
            return Err(ParseError::SecondMsh { index });
        }
        let rest = line.get(3..).unwrap_or("");
        let rest = rest.strip_prefix(separators.field).unwrap_or(rest);
        let fields = if line.len() <= 3 {
            Vec::new()
        } else {
            rest.split(separators.field)
                .enumerate()
                .map(|(field_idx, raw)| parse_field(raw, &separators, index, &id, field_idx + 1, warnings))
                .collect()
        };
        segments.push(Segment { id, fields });
    }
    Ok(Message { separators, segments, encoding: TextEncoding::Iso2022Jp, warnings: Vec::new() })
}

fn read_separators(header: &str) -> Result<Separators, ParseError> {
    let mut chars = header.chars().skip(3);
    let field = chars.next().ok_or(ParseError::TruncatedMsh)?;
    let encoding: Vec<char> = chars.take_while(|&c| c != field).take(4).collect();
    if encoding.is_empty() {
        return Err(ParseError::TruncatedMsh);
    }
    let defaults = Separators::default();
    let separators = Separators {
        field,
        component: encoding.first().copied().unwrap_or(defaults.component),
        repetition: encoding.get(1).copied().unwrap_or(defaults.repetition),
        escape: encoding.get(2).copied().unwrap_or(defaults.escape),
        subcomponent: encoding.get(3).copied().unwrap_or(defaults.subcomponent),
    };
    let all = [
        separators.field,
        separators.component,
        separators.repetition,
        separators.escape,
        separators.subcomponent,
    ];
    let distinct = all.iter().enumerate().all(|(i, c)| !all[..i].contains(c));
    let usable = all.iter().all(|c| !c.is_alphanumeric() && !c.is_whitespace());
    if distinct && usable { Ok(separators) } else { Err(ParseError::InvalidSeparators) }
}

fn parse_msh(header: &str, separators: &Separators, warnings: &mut Vec<String>) -> Segment {
    let literal = |text: String| Field {
        repetitions: vec![Repetition { components: vec![Component { subcomponents: vec![text] }] }],
    };
    let mut fields = vec![literal(separators.field.to_string())];
    // After "MSH" and the field separator: MSH-2 (taken literally), then MSH-3 onwards.
    let after = header.get(3..).unwrap_or("");
    let after = after.strip_prefix(separators.field).unwrap_or(after);
    let mut raw_fields = after.split(separators.field);
    fields.push(literal(raw_fields.next().unwrap_or("").to_owned()));
    for (offset, raw) in raw_fields.enumerate() {
        fields.push(parse_field(raw, separators, 1, "MSH", offset + 3, warnings));
    }
    Segment { id: "MSH".to_owned(), fields }
}

fn parse_field(
    raw: &str,
    separators: &Separators,
    segment_index: usize,
    segment_id: &str,
    field_number: usize,
    warnings: &mut Vec<String>,
) -> Field {
    if raw.is_empty() {
        return Field::default();
    }
    let mut unknown_escape = false;
    let repetitions = raw
        .split(separators.repetition)
        .map(|rep| Repetition {
            components: rep
                .split(separators.component)
                .map(|comp| Component {
                    subcomponents: comp
                        .split(separators.subcomponent)
                        .map(|sub| unescape(sub, separators, &mut unknown_escape))
                        .collect(),
                })
                .collect(),
        })
        .collect();
    if unknown_escape {
        warnings.push(format!(
            "segment {segment_index} ({segment_id}) field {field_number}: unknown or unterminated escape sequence kept as text"
        ));
    }
    Field { repetitions }
}

/// Replaces HL7 escape sequences: `\F\ \S\ \T\ \R\ \E\` by the separators, `\Xhh..\` by the bytes it
/// spells (as UTF-8 when valid), `\.br\` by a line break; formatting escapes (`\H\ \N\`, `\.sp\`…) are
/// dropped. An unknown or unterminated sequence is kept as it stands and reported through `unknown`.
fn unescape(text: &str, separators: &Separators, unknown: &mut bool) -> String {
    let escape = separators.escape;
    if !text.contains(escape) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(escape) {
        out.push_str(&rest[..start]);
        let after = &rest[start + escape.len_utf8()..];
        let Some(end) = after.find(escape) else {
            *unknown = true;
            out.push_str(&rest[start..]);
            return out;
        };
        let body = &after[..end];
        match body {
            "F" => out.push(separators.field),
            "S" => out.push(separators.component),
            "T" => out.push(separators.subcomponent),
            "R" => out.push(separators.repetition),
            "E" => out.push(escape),
            ".br" => out.push('\n'),
            "H" | "N" => {}
            _ if body.starts_with('.') => {}
            _ if body.starts_with('X') && body.len() > 1 => match hex_bytes(&body[1..]) {
                Some(bytes) => out.push_str(&String::from_utf8_lossy(&bytes)),
                None => {
                    *unknown = true;
                    out.push(escape);
                    out.push_str(body);
                    out.push(escape);
                }
            },
            _ => {
                *unknown = true;
                out.push(escape);
                out.push_str(body);
                out.push(escape);
            }
        }
        rest = &after[end + escape.len_utf8()..];
    }
    out.push_str(rest);
    out
}

fn hex_bytes(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) || !hex.is_ascii() {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ADT: &str = "MSH|^~\\&|HIS|SEND|GW|RCV|20111220224447||ADT^A08^ADT_A01|1|P|2.5\r\
        PID|0001||9999013^^^^PI||患者^太郎^^^^^L^I~カンジャ^タロウ^^^^^L^P||19480405|M\r\
        NTE|1||a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f\\X41\\\r";

    fn iso2022jp(text: &str) -> Vec<u8> {
        let (bytes, _, had_errors) = ISO_2022_JP.encode(text);
        assert!(!had_errors);
        bytes.into_owned()
    }

    #[test]
    fn reads_fields_repetitions_and_components() {
        let msg = parse_message(&iso2022jp(ADT)).unwrap();
        assert_eq!(msg.encoding(), TextEncoding::Iso2022Jp);
        assert!(msg.warnings().is_empty());
        assert_eq!(msg.message_type(), "ADT^A08");
        assert_eq!(msg.segment("MSH").field(1).as_str(), "|");
        assert_eq!(msg.segment("MSH").field(2).as_str(), "^~\\&");
        assert_eq!(msg.segment("MSH").field(3).as_str(), "HIS");
        assert_eq!(msg.segment("MSH").field(9).component(3).as_str(), "ADT_A01");
        let pid = msg.segment("PID");
        assert_eq!(pid.field(3).as_str(), "9999013");
        assert_eq!(pid.field(3).component(5).as_str(), "PI");
        assert_eq!(pid.field(5).repetition(2).component(1).as_str(), "カンジャ");
        assert_eq!(pid.field(5).repetition(2).component(8).as_str(), "P");
        assert_eq!(msg.get("PID", 5, 1, 2), "太郎");
        assert_eq!(msg.get("PID", 7, 1, 1), "19480405");
        assert_eq!(msg.get("PID", 99, 3, 7), "", "absent positions read as empty");
        assert_eq!(msg.get("ZZZ", 1, 1, 1), "");
        assert_eq!(msg.segments_by_id("PID").count(), 1);
    }

    #[test]
    fn unescapes_separators_and_hex() {
        let msg = parse_str(ADT).unwrap();
        assert_eq!(msg.get("NTE", 3, 1, 1), "a|b^c&d~e\\fA");
    }

    #[test]
    fn subcomponents_are_split() {
        let msg = parse_str("MSH|^~\\&|A\nRXE|||||||||||||||||||3^TAB&錠&MR9P").unwrap();
        let unit = msg.segment("RXE").field(19).component(2);
        assert_eq!(unit.as_str(), "TAB");
        assert_eq!(unit.subcomponent(2), "錠");
        assert_eq!(unit.subcomponent(4), "");
    }

    #[test]
    fn custom_separators_are_honoured() {
        let msg = parse_str("MSH#:*!@#X\r\nPID#1##a:b*c:d@e").unwrap();
        assert_eq!(msg.segment("MSH").field(1).as_str(), "#");
        assert_eq!(msg.segment("MSH").field(3).as_str(), "X");
        let pid3 = msg.segment("PID").field(3);
        assert_eq!(pid3.repetition(1).component(2).as_str(), "b");
        assert_eq!(pid3.repetition(2).component(2).subcomponent(2), "e");
    }

    #[test]
    fn falls_back_to_utf8_then_shift_jis_with_a_warning() {
        let utf8 = parse_message(ADT.as_bytes()).unwrap();
        assert_eq!(utf8.encoding(), TextEncoding::Utf8);
        assert_eq!(utf8.warnings(), ["decoded as UTF-8, not ISO-2022-JP"]);
        let (sjis, _, _) = SHIFT_JIS.encode(ADT);
        let sjis = parse_message(&sjis).unwrap();
        assert_eq!(sjis.encoding(), TextEncoding::ShiftJis);
        assert_eq!(sjis.get("PID", 5, 1, 1), "患者");
    }

    #[test]
    fn rejects_garbage_with_positions_only() {
        let check = |bytes: &[u8], expected: ParseError| assert_eq!(parse_message(bytes), Err(expected));
        check(b"", ParseError::Empty);
        check(b"\r\n\r\n", ParseError::Empty);
        check(b"PID|1", ParseError::MissingMsh);
        check(b"MSH", ParseError::TruncatedMsh);
        check(b"MSH|", ParseError::TruncatedMsh);
        check(b"MSH|^^~&|", ParseError::InvalidSeparators);
        check(b"MSH|^~\\&|A\rpid|1", ParseError::InvalidSegmentId { index: 2 });
        check(b"MSH|^~\\&|A\rPID|1\rMSH", ParseError::SecondMsh { index: 3 });
        check(&[0xFB, 0xFC, 0xFF], ParseError::Undecodable);
        let error = parse_message(b"MSH|^~\\&|A\rP\xE6\x82\xA3|1").unwrap_err().to_string();
        assert!(!error.contains('患'), "an error never shows input text: {error}");
    }

    #[test]
    fn truncated_messages_do_not_panic() {
        let bytes = iso2022jp(ADT);
        for end in 0..bytes.len() {
            let _ = parse_message(&bytes[..end]);
        }
    }

    #[test]
    fn mllp_framing_is_ignored() {
        let msg = parse_message(b"\x0bMSH|^~\\&|A\rPID|1||42\r\x1c\r").unwrap();
        assert_eq!(msg.segments().len(), 2);
        assert_eq!(msg.get("PID", 3, 1, 1), "42");
    }

    #[test]
    fn unknown_escapes_are_kept_and_reported() {
        let msg = parse_str("MSH|^~\\&|A\rNTE|1||x\\Q\\y\\Z").unwrap();
        assert_eq!(msg.get("NTE", 3, 1, 1), "x\\Q\\y\\Z");
        assert_eq!(msg.warnings().len(), 1);
        assert!(msg.warnings()[0].starts_with("segment 2 (NTE) field 3"));
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_message(&bytes);
        }

        #[test]
        fn never_panics_on_hl7_like_text(tail in "[A-Z0-9|^~\\\\&\r\n患]{0,200}") {
            let text = format!("MSH|^~\\&|{tail}");
            if let Ok(msg) = parse_message(text.as_bytes()) {
                let _ = msg.message_type();
                for segment in msg.segments() {
                    let _ = segment.field(3).repetition(2).component(4).subcomponent(2);
                }
            }
        }
    }
}
