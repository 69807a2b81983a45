//! The account, key and deletion commands as the command line runs them: secrets read from the terminal
//! (never echoed) or, for scripts, one per line from standard input; results printed once.

use std::io::{BufRead as _, IsTerminal as _};

use anyhow::{Context as _, Result, bail};

use kiban_service::{App, SecondFactor, Session};

use crate::{InitArgs, LoginArgs, print};

/// Reads one secret: from the terminal without echo, or the next line of standard input.
fn read_secret(prompt: &str) -> Result<kiban_auth::SecretText> {
    let text = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(prompt).context("reading from the terminal")?
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("reading standard input")?;
        if line.is_empty() {
            bail!("standard input ended before the {}", prompt.trim_end_matches([':', ' ']));
        }
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    Ok(kiban_auth::SecretText::new(text))
}

/// Reads a new password, twice when typed at a terminal.
fn read_new_password(prompt: &str) -> Result<kiban_auth::SecretText> {
    let password = read_secret(prompt)?;
    if std::io::stdin().is_terminal() {
        let again = read_secret("Repeat it: ")?;
        if again.expose_secret() != password.expose_secret() {
            bail!("the two passwords differ");
        }
    }
    Ok(password)
}

pub(crate) fn init(app: &App, args: &InitArgs) -> Result<()> {
    let password = read_new_password(&format!("New password for {}: ", args.admin))?;
    let display_name = if args.display_name.is_empty() { &args.admin } else { &args.display_name };
    let outcome = app.init_admin(&args.admin, display_name, password.expose_secret())?;
    print::enrollment(&outcome);
    println!("next: kiban login --user {}", args.admin);
    Ok(())
}

pub(crate) fn enroll(app: &App, user: &str) -> Result<()> {
    let token = read_secret("Enrollment token: ")?;
    let password = read_new_password(&format!("New password for {user}: "))?;
    let outcome = app.enroll(user, token.expose_secret(), password.expose_secret())?;
    print::enrollment(&outcome);
    Ok(())
}

pub(crate) fn login(app: &App, session_file: &std::path::Path, args: &LoginArgs) -> Result<()> {
    let password = read_secret("Password: ")?;
    let code = read_secret(if args.recovery_code { "Recovery code: " } else { "One-time code: " })?;
    let second = if args.recovery_code {
        SecondFactor::RecoveryCode(code.expose_secret())
    } else {
        SecondFactor::Totp(code.expose_secret())
    };
    let outcome = app.login(&args.user, password.expose_secret(), second)?;
    crate::session::save_session(session_file, &outcome.token)?;
    let path = session_file;
    println!(
        "logged in as {}: the session ends after {} minutes idle, at {} at the latest (kept in {})",
        outcome.user,
        outcome.idle_expiry.num_minutes(),
        outcome.absolute_expiry.to_rfc3339(),
        path.display()
    );
    if let Some(expires) = outcome.password_expires_at {
        println!("your password must be changed by {} (kiban user passwd)", expires.to_rfc3339());
    }
    Ok(())
}

pub(crate) fn passwd(app: &App, session: &Session) -> Result<()> {
    let current = read_secret("Current password: ")?;
    let new = read_new_password("New password: ")?;
    let class = app.change_password(session, current.expose_secret(), new.expose_secret())?;
    println!("password changed (class: {})", class.name());
    Ok(())
}
