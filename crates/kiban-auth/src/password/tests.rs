//! Tests for the password rule: each refusal, each class, the common list and the expiry.

use chrono::TimeZone;

use super::*;

fn check(password: &str, expect: Result<PasswordClass, PasswordProblem>) {
    assert_eq!(check_password(password, "tanaka"), expect, "password {password:?}");
}

fn missing(kinds: &[CharKind]) -> Result<PasswordClass, PasswordProblem> {
    Err(PasswordProblem::MissingKinds { missing: MissingKinds(kinds.to_vec()) })
}

#[test]
fn length_decides_the_class() {
    check("Kumo-7tabi", Ok(PasswordClass::Short));
    check("Kumo-7tab", Ok(PasswordClass::Short));
    check("Kumo-7ta", Ok(PasswordClass::Short));
    check("Kumo-7tabiXyz", Ok(PasswordClass::Long));
    check("river otter 9 lantern!", Ok(PasswordClass::Long));
    check("Kumo-7t", Err(PasswordProblem::TooShort { chars: 7 }));
    check("", Err(PasswordProblem::TooShort { chars: 0 }));
    // Counted in characters, not bytes: 8 kana and kanji characters are 24 bytes.
    check("雲7-たびの道", Err(PasswordProblem::TooShort { chars: 7 }));
    check("雲7-たびの道を", Ok(PasswordClass::Short));
    let long = format!("Kumo-7{}", "x".repeat(MAX_PASSWORD_CHARS));
    check(&long, Err(PasswordProblem::TooLong { chars: MAX_PASSWORD_CHARS + 6 }));
}

#[test]
fn every_kind_is_required_and_the_missing_ones_are_named() {
    check("kumotabiyoru", missing(&[CharKind::Digit, CharKind::Symbol]));
    check("kumotabi77", missing(&[CharKind::Symbol]));
    check("kumo-tabi", missing(&[CharKind::Digit]));
    check("8472-9135", missing(&[CharKind::Letter]));
    check("8472 9135 6021", missing(&[CharKind::Letter, CharKind::Symbol]));
    assert_eq!(
        check_password("kumotabiyoru", "x").map_err(|problem| problem.to_string()),
        Err("password has no digit, symbol; mix letters, digits and symbols".to_owned())
    );
}

#[test]
fn spaces_count_as_no_kind_but_non_ascii_symbols_and_full_width_digits_do() {
    check("kumo tabi 7 yoru", missing(&[CharKind::Symbol]));
    check("kumo★tabi7", Ok(PasswordClass::Short));
    check("kumo＠tabi7", Ok(PasswordClass::Short));
    check("kumo-tabi７", Ok(PasswordClass::Short));
}

#[test]
fn control_characters_and_repetition_are_refused() {
    check("Kumo\t7tabi", Err(PasswordProblem::ControlCharacter));
    check("Kumo-7tabi\n", Err(PasswordProblem::ControlCharacter));
    check("aaaaaaaa", Err(PasswordProblem::Repetitive));
    check("!!!!!!!!!!!!!!", Err(PasswordProblem::Repetitive));
    check("Ab1!Ab1!", Err(PasswordProblem::Repetitive));
    check("x1-x1-x1-x1-x1-", Err(PasswordProblem::Repetitive));
    // A repeated unit of 5 or a partial repeat is not refused by this check.
    check("Ab1!zAb1!z", Ok(PasswordClass::Short));
}

#[test]
fn the_user_name_is_refused_in_any_case_and_leetspeak() {
    check("Tanaka-2024x", Err(PasswordProblem::ContainsUserName));
    check("xx-TANAKA-99", Err(PasswordProblem::ContainsUserName));
    check("T@n4ka#2024", Err(PasswordProblem::ContainsUserName));
    assert_eq!(check_password("Ito-kumo-77", "ito"), Err(PasswordProblem::ContainsUserName));
    // Names shorter than 3 characters are not checked; they would refuse too much.
    assert_eq!(check_password("Kumo-7tabi", "mo"), Ok(PasswordClass::Short));
    assert_eq!(check_password("Kumo-7tabi", ""), Ok(PasswordClass::Short));
}

#[test]
fn common_passwords_and_their_variants_are_refused() {
    for password in [
        "P@ssw0rd",
        "Passw0rd!",
        "Password1!",
        "Qwerty123!",
        "Welcome1!",
        "Admin@123",
        "Abc@1234",
        "Iloveyou1!",
        "Tokyo2020!",
        "1qaz@WSX",
        "!QAZ2wsx",
        "P@ssw0rd2024!",
        "PASSWORD#2025",
        "!Welcome2024",
        "Sakura#1985",
        "Dr@g0n-1999",
        "Summer2026!",
        "Hospital@01",
        "Kiban#2025",
        "1q2w3e4r!",
    ] {
        check(password, Err(PasswordProblem::Common));
    }
}

#[test]
fn every_listed_password_is_refused_for_some_reason() {
    let entries = common_entries();
    assert!(entries.len() >= 300, "the list has {} entries", entries.len());
    let unique: HashSet<&str> = entries.iter().copied().collect();
    assert_eq!(unique.len(), entries.len(), "the list has duplicates");
    for entry in entries {
        assert_eq!(entry, entry.to_lowercase(), "entries are lowercase");
        assert!(check_password(entry, "someone").is_err(), "{entry:?} is accepted");
    }
}

#[test]
fn base_words_strip_digits_and_symbols_and_undo_leetspeak() {
    assert_eq!(base_word("P@ssw0rd2024!"), "password");
    assert_eq!(base_word("2024Tokyo!!"), "tokyo");
    assert_eq!(base_word("$ecur1ty"), "ecurity");
    assert_eq!(base_word("Secur1ty"), "security");
    assert_eq!(base_word("12345678"), "");
}

#[test]
fn messages_never_repeat_the_password() {
    let password = "Tanaka-secret-77";
    let problem = check_password(password, "tanaka").expect_err("contains the user name");
    assert!(!problem.to_string().contains("secret"));
    assert!(!format!("{problem:?}").contains("secret"));
}

#[test]
fn short_passwords_expire_after_two_calendar_months_and_long_ones_never() {
    let at = |y, m, d| Utc.with_ymd_and_hms(y, m, d, 10, 30, 0).single().expect("valid date");
    assert_eq!(password_expires_at(PasswordClass::Short, at(2025, 4, 15)), Some(at(2025, 6, 15)));
    assert_eq!(password_expires_at(PasswordClass::Short, at(2025, 12, 31)), Some(at(2026, 2, 28)));
    assert_eq!(password_expires_at(PasswordClass::Short, at(2023, 12, 31)), Some(at(2024, 2, 29)));
    assert_eq!(password_expires_at(PasswordClass::Long, at(2025, 4, 15)), None);

    let changed = at(2025, 4, 15);
    let second = chrono::TimeDelta::seconds(1);
    assert!(!password_expired(PasswordClass::Short, changed, at(2025, 6, 15) - second));
    assert!(password_expired(PasswordClass::Short, changed, at(2025, 6, 15)));
    assert!(!password_expired(PasswordClass::Long, changed, at(2035, 6, 15)));
}

#[test]
fn class_names_round_trip() {
    for class in [PasswordClass::Short, PasswordClass::Long] {
        assert_eq!(PasswordClass::parse(class.name()), Some(class));
    }
    assert_eq!(PasswordClass::parse("medium"), None);
}
