//! Fuzzes the HL7 v2 parser (`kiban_hl7v2::parse::parse_message`): any bytes must give a message or an
//! error, never a panic, and every accessor of a parsed message must be total.

#![no_main]

use kiban_hl7v2::parse::parse_message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(message) = parse_message(bytes) else { return };
    let _ = message.message_type();
    for segment in message.segments() {
        for n in 0..=segment.n_fields() + 1 {
            let field = segment.field(n);
            for repetition in field.repetitions() {
                for component in repetition.components() {
                    let _ = component.subcomponent(2);
                    let _ = component.is_empty();
                }
            }
        }
    }
    // The redacting Debug must not fail either.
    let _ = format!("{message:?}");
});
