//! Tests for TOTP: the RFC vectors, the ±1 step window, replay protection and the secret's encodings.

use chrono::TimeZone;

use super::*;

/// The SHA-1 key of RFC 4226 Appendix D and RFC 6238 Appendix B.
const RFC_KEY: &[u8; 20] = b"12345678901234567890";

fn at(unix_secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(unix_secs, 0).single().expect("valid time")
}

fn secret() -> TotpSecret {
    TotpSecret::from_bytes(*RFC_KEY)
}

/// The 6-digit code of `step`, as an app would show it.
fn code_at_step(step: u64) -> String {
    format!("{:06}", hotp(RFC_KEY, step, 6))
}

#[test]
fn hotp_matches_rfc_4226_appendix_d() {
    let expected = [755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489];
    for (counter, code) in expected.into_iter().enumerate() {
        assert_eq!(hotp(RFC_KEY, counter as u64, 6), code, "counter {counter}");
    }
}

#[test]
fn totp_matches_rfc_6238_appendix_b_sha1() {
    let vectors = [
        (59, 94287082),
        (1111111109, 7081804),
        (1111111111, 14050471),
        (1234567890, 89005924),
        (2000000000, 69279037),
        (20000000000, 65353130),
    ];
    for (unix_secs, code) in vectors {
        let step = totp_step(at(unix_secs)).expect("after 1970");
        assert_eq!(hotp(RFC_KEY, step, 8), code, "time {unix_secs}");
        // The 6-digit code is the same number's last 6 digits.
        assert_eq!(
            totp_code(&secret(), at(unix_secs)).expect("after 1970").expose_secret(),
            format!("{:06}", code % 1_000_000)
        );
    }
    // 07081804 keeps its leading zero when shown.
    assert_eq!(totp_code(&secret(), at(1111111109)).expect("after 1970").expose_secret(), "081804");
}

#[test]
fn the_current_step_and_one_either_side_are_accepted() {
    let now = at(1_700_000_015);
    let current = totp_step(now).expect("after 1970");
    for step in [current - 1, current, current + 1] {
        assert_eq!(verify_totp(&secret(), &code_at_step(step), now, None), Ok(step));
    }
    for step in [current - 2, current + 2, current - 10] {
        assert_eq!(verify_totp(&secret(), &code_at_step(step), now, None), Err(TotpProblem::Wrong));
    }
}

#[test]
fn a_code_is_refused_once_its_step_was_used() {
    let now = at(1_700_000_015);
    let current = totp_step(now).expect("after 1970");
    let code = code_at_step(current);
    let used = verify_totp(&secret(), &code, now, None).expect("first use");
    assert_eq!(verify_totp(&secret(), &code, now, Some(used)), Err(TotpProblem::Replayed));
    // Still refused 20 seconds later, while the code is inside the window.
    assert_eq!(verify_totp(&secret(), &code, at(1_700_000_035), Some(used)), Err(TotpProblem::Replayed));
    // An earlier valid code is refused too once a later step was used.
    assert_eq!(
        verify_totp(&secret(), &code_at_step(current - 1), now, Some(used)),
        Err(TotpProblem::Replayed)
    );
    // The next step's code is accepted.
    assert_eq!(verify_totp(&secret(), &code_at_step(current + 1), now, Some(used)), Ok(current + 1));
    // A wrong code stays wrong, not replayed.
    let wrong = format!("{:06}", (hotp(RFC_KEY, current, 6) + 1) % 1_000_000);
    assert_eq!(verify_totp(&secret(), &wrong, now, Some(used)), Err(TotpProblem::Wrong));
}

#[test]
fn malformed_codes_are_refused_before_any_comparison() {
    let now = at(1_700_000_015);
    for code in ["", "12345", "1234567", "12345a", "１２３４５６", "-12345", "12 34 5"] {
        assert_eq!(verify_totp(&secret(), code, now, None), Err(TotpProblem::Malformed), "{code:?}");
    }
    let current = totp_step(now).expect("after 1970");
    let spaced = format!("{} {}", &code_at_step(current)[..3], &code_at_step(current)[3..]);
    assert_eq!(verify_totp(&secret(), &spaced, now, None), Ok(current));
    assert_eq!(verify_totp(&secret(), "123456", at(-1), None), Err(TotpProblem::ClockBeforeEpoch));
}

#[test]
fn the_secret_is_shared_as_base32_and_an_otpauth_uri_and_never_debug_printed() {
    let secret = secret();
    assert_eq!(secret.to_base32().expose_secret(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    assert_eq!(
        secret.provisioning_uri("tanaka").expose_secret(),
        "otpauth://totp/kiban:tanaka?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=kiban&algorithm=SHA1\
         &digits=6&period=30"
    );
    assert!(
        secret.provisioning_uri("a b:c@d").expose_secret().starts_with("otpauth://totp/kiban:a%20b%3Ac%40d?")
    );
    assert_eq!(format!("{secret:?}"), "TotpSecret(***)");

    let read = TotpSecret::from_base32("gezd gnbv gy3t qojq gezd gnbv gy3t qojq").expect("valid");
    assert_eq!(read.expose_bytes(), RFC_KEY);
    assert_eq!(
        TotpSecret::from_base32("GEZDGNBV").map(|_| ()),
        Err(TotpSecretError::WrongLength { n_bytes: 5 })
    );
    assert!(matches!(TotpSecret::from_base32("GEZ1"), Err(TotpSecretError::Base32(_))));
}
