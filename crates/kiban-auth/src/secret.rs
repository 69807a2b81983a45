//! [`SecretText`]: text shown to a user once (a TOTP secret, a session token, recovery codes), kept out of
//! `Debug` and zeroized on drop.

use std::fmt;

use zeroize::Zeroize;

/// Secret text to show the user once and then forget. `Debug` prints `SecretText(***)`, there is no
/// `Display`, and the text is zeroized on drop; reading it needs an explicit [`SecretText::expose_secret`].
#[derive(PartialEq, Eq)]
pub struct SecretText {
    text: String,
}

impl SecretText {
    /// Wraps secret text (e.g. a password as typed) so it is zeroized on drop and never printed.
    pub fn new(text: String) -> SecretText {
        SecretText { text }
    }

    /// The secret itself, to print for the user or hand to a QR-code renderer. Never log it.
    pub fn expose_secret(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretText(***)")
    }
}

impl Drop for SecretText {
    fn drop(&mut self) {
        self.text.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_text() {
        let secret = SecretText::new("hunter2".to_owned());
        assert_eq!(format!("{secret:?}"), "SecretText(***)");
        assert_eq!(secret.expose_secret(), "hunter2");
    }
}
