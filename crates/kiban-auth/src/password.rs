//! The Guideline's password rule (Guideline III 4-3) and the password's expiry.
//!
//! The rule: at least 8 characters mixing letters, digits and symbols, changed every 2 months; or at least
//! 13 such characters with no forced change. On top of it we refuse what a guesser tries first: common
//! passwords and their "complex" variants, the user's own name, and a short unit repeated.
//!
//! Character classes, decided here:
//! - a *letter* is any Unicode alphabetic character (`char::is_alphabetic`), so kana and kanji count;
//! - a *digit* is any Unicode number (`char::is_numeric`), so full-width `０`–`９` typed through an IME count;
//! - a *symbol* is any other character that is neither whitespace nor a control character: ASCII
//!   punctuation such as `!@#-_`, and non-ASCII symbols such as `＠` or `★` too;
//! - spaces are allowed (pass phrases) but count as none of the three; control characters are refused.
//!
//! Length is counted in characters (`char`s), not bytes. The password is hashed exactly as typed: no
//! trimming, case folding or Unicode normalization.

use std::collections::HashSet;
use std::fmt;
use std::sync::LazyLock;

use chrono::{DateTime, Months, Utc};

/// The shortest password the Guideline allows (with a change every 2 months).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// The shortest password that needs no periodic change.
pub const LONG_PASSWORD_CHARS: usize = 13;
/// The longest password accepted. Argon2 takes any length, but an unbounded one is a denial-of-service lever.
pub const MAX_PASSWORD_CHARS: usize = 256;
/// How often a [`PasswordClass::Short`] password must be changed.
pub const SHORT_PASSWORD_LIFETIME_MONTHS: u32 = 2;

/// Which branch of the Guideline's rule a valid password falls under.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum PasswordClass {
    /// 8 to 12 characters: expires 2 calendar months after it was set.
    Short,
    /// 13 characters or more: no forced change.
    Long,
}

impl PasswordClass {
    /// The stable name used in storage.
    pub fn name(self) -> &'static str {
        match self {
            PasswordClass::Short => "short",
            PasswordClass::Long => "long",
        }
    }

    /// Reads a name written by [`PasswordClass::name`].
    pub fn parse(name: &str) -> Option<PasswordClass> {
        match name {
            "short" => Some(PasswordClass::Short),
            "long" => Some(PasswordClass::Long),
            _ => None,
        }
    }
}

/// A kind of character the rule asks for.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum CharKind {
    Letter,
    Digit,
    Symbol,
}

impl CharKind {
    fn name(self) -> &'static str {
        match self {
            CharKind::Letter => "letter",
            CharKind::Digit => "digit",
            CharKind::Symbol => "symbol",
        }
    }
}

/// The kinds a password lacks, listed in the order letter, digit, symbol.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MissingKinds(Vec<CharKind>);

impl MissingKinds {
    pub fn kinds(&self) -> &[CharKind] {
        &self.0
    }
}

impl fmt::Display for MissingKinds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|kind| kind.name()).collect();
        f.write_str(&names.join(", "))
    }
}

/// Why a password was refused. Messages give counts and kinds, never the password or a part of it.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum PasswordProblem {
    #[error(
        "password is too short: {chars} characters; use at least {MIN_PASSWORD_CHARS} (changed every \
         {SHORT_PASSWORD_LIFETIME_MONTHS} months) or at least {LONG_PASSWORD_CHARS} (no forced change)"
    )]
    TooShort { chars: usize },
    #[error("password is too long: {chars} characters; use at most {MAX_PASSWORD_CHARS}")]
    TooLong { chars: usize },
    #[error("password contains a control character (such as a tab or a line break); remove it")]
    ControlCharacter,
    #[error("password is one character or a short group of characters repeated; choose a varied password")]
    Repetitive,
    #[error("password has no {missing}; mix letters, digits and symbols")]
    MissingKinds { missing: MissingKinds },
    #[error("password contains the user name; choose one unrelated to it")]
    ContainsUserName,
    #[error("password is a common password or a variant of one; choose a less guessable password")]
    Common,
}

/// Checks a new password against the Guideline's rule and kiban's additional refusals.
///
/// The checks run in this order and the first failing one is reported: length, control characters,
/// repetition, the three kinds, the user name (when it has at least 3 characters; compared case-insensitively
/// and also with leetspeak undone), common passwords.
///
/// # Errors
/// The [`PasswordProblem`] found first.
pub fn check_password(password: &str, user_name: &str) -> Result<PasswordClass, PasswordProblem> {
    let chars: Vec<char> = password.chars().collect();
    let n_chars = chars.len();
    if n_chars < MIN_PASSWORD_CHARS {
        return Err(PasswordProblem::TooShort { chars: n_chars });
    }
    if n_chars > MAX_PASSWORD_CHARS {
        return Err(PasswordProblem::TooLong { chars: n_chars });
    }
    if chars.iter().any(|c| c.is_control()) {
        return Err(PasswordProblem::ControlCharacter);
    }
    if is_repetitive(&chars) {
        return Err(PasswordProblem::Repetitive);
    }
    let missing = missing_kinds(&chars);
    if !missing.is_empty() {
        return Err(PasswordProblem::MissingKinds { missing: MissingKinds(missing) });
    }
    if contains_user_name(password, user_name) {
        return Err(PasswordProblem::ContainsUserName);
    }
    if is_common(password) {
        return Err(PasswordProblem::Common);
    }
    Ok(if n_chars >= LONG_PASSWORD_CHARS { PasswordClass::Long } else { PasswordClass::Short })
}

/// When a password of `class` set at `changed_at` must be changed: 2 calendar months later for
/// [`PasswordClass::Short`] (counted on the UTC calendar; the 31st becomes the last day of a shorter month),
/// never for [`PasswordClass::Long`].
pub fn password_expires_at(class: PasswordClass, changed_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match class {
        // Adding months fails only past year 262,143; failing closed (expired at once) is the safe answer.
        PasswordClass::Short => Some(
            changed_at.checked_add_months(Months::new(SHORT_PASSWORD_LIFETIME_MONTHS)).unwrap_or(changed_at),
        ),
        PasswordClass::Long => None,
    }
}

/// Whether a password of `class` set at `changed_at` must be changed before the user may go on at `now`.
/// It expires at the instant [`password_expires_at`] names.
pub fn password_expired(class: PasswordClass, changed_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    password_expires_at(class, changed_at).is_some_and(|expires_at| now >= expires_at)
}

fn kind_of(c: char) -> Option<CharKind> {
    if c.is_alphabetic() {
        Some(CharKind::Letter)
    } else if c.is_numeric() {
        Some(CharKind::Digit)
    } else if c.is_whitespace() || c.is_control() {
        None
    } else {
        Some(CharKind::Symbol)
    }
}

fn missing_kinds(chars: &[char]) -> Vec<CharKind> {
    let present: Vec<CharKind> = chars.iter().filter_map(|&c| kind_of(c)).collect();
    [CharKind::Letter, CharKind::Digit, CharKind::Symbol]
        .into_iter()
        .filter(|kind| !present.contains(kind))
        .collect()
}

/// Whether the whole password is one unit of 1 to 4 characters repeated (`aaaaaaaa`, `Ab1!Ab1!`).
fn is_repetitive(chars: &[char]) -> bool {
    (1..=4).any(|unit| {
        chars.len() >= 2 * unit
            && chars.len().is_multiple_of(unit)
            && chars.chunks(unit).all(|chunk| chunk == &chars[..unit])
    })
}

/// The user name's minimum length for the containment check; shorter names would refuse too much.
const MIN_USER_NAME_CHARS: usize = 3;

fn contains_user_name(password: &str, user_name: &str) -> bool {
    let user_name = user_name.trim();
    if user_name.chars().count() < MIN_USER_NAME_CHARS {
        return false;
    }
    password.to_lowercase().contains(&user_name.to_lowercase())
        || undo_leet(password).contains(&undo_leet(user_name))
}

/// The embedded list of common passwords (`password/common.txt`).
const COMMON_LIST: &str = include_str!("password/common.txt");

/// Base words shorter than this are not used for the variant check: they would refuse too much.
const MIN_BASE_CHARS: usize = 3;

struct CommonPasswords {
    /// The list's entries, lowercase.
    exact: HashSet<String>,
    /// The entries' base words (see [`base_word`]), at least [`MIN_BASE_CHARS`] long.
    bases: HashSet<String>,
}

static COMMON: LazyLock<CommonPasswords> = LazyLock::new(|| {
    let entries = common_entries();
    CommonPasswords {
        exact: entries.iter().map(|entry| entry.to_lowercase()).collect(),
        bases: entries
            .iter()
            .map(|entry| base_word(entry))
            .filter(|base| base.chars().count() >= MIN_BASE_CHARS)
            .collect(),
    }
});

fn common_entries() -> Vec<&'static str> {
    COMMON_LIST.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#')).collect()
}

/// Whether `password` is a listed common password (case-insensitive) or a variant of one: the same base
/// word once digits and symbols around it are stripped and leetspeak is undone.
fn is_common(password: &str) -> bool {
    let common = &*COMMON;
    common.exact.contains(&password.to_lowercase()) || common.bases.contains(&base_word(password))
}

/// The word a guesser starts from: lowercase, digits, symbols and spaces stripped from both ends, then
/// leetspeak undone. `P@ssw0rd2024!` → `password`, `Tokyo2020!` → `tokyo`, `!Welcome1` → `weicome`
/// (`l` and `i` share one letter, as `1` stands for either).
fn base_word(text: &str) -> String {
    let lower = text.to_lowercase();
    let core = lower.trim_matches(|c: char| !c.is_alphabetic());
    undo_leet(core)
}

/// Lowercases and maps the usual leetspeak substitutions to letters: `@`/`4` → `a`, `0` → `o`, `3` → `e`,
/// `$`/`5` → `s`, `7`/`+` → `t`, and `1`, `!`, `|`, `l` all → `i` (so `1` matches both `i` and `l`).
fn undo_leet(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .map(|c| match c {
            '@' | '4' => 'a',
            '0' => 'o',
            '3' => 'e',
            '$' | '5' => 's',
            '7' | '+' => 't',
            '1' | '!' | '|' | 'l' => 'i',
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests;
