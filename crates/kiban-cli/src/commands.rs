//! The account, key and deletion commands as the command line runs them: secrets read from the terminal
//! (never echoed) or, for scripts, one per line from standard input; results printed once.

use std::io::{BufRead as _, IsTerminal as _};

use anyhow::{Context as _, Result, anyhow, bail};

use crate::security::{self, EnrollmentOutcome, EnrollmentToken, Principal, SecondFactor};
use crate::{Ctx, DeleteCommand, InitArgs, KeysCommand, LoginArgs, UserCommand};

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

fn print_enrollment(outcome: &EnrollmentOutcome) {
    println!("enrolled {} (password class: {})", outcome.user, outcome.password_class.name());
    println!("Add this account to your authenticator app (shown once, keep it private):");
    println!("  secret: {}", outcome.totp.to_base32().expose_secret());
    println!("  uri:    {}", outcome.totp.provisioning_uri(&outcome.user).expose_secret());
    println!("Recovery codes (each works once in place of a code; store them offline):");
    for code in &outcome.recovery_codes {
        println!("  {}", code.expose_secret());
    }
}

fn print_token(token: &EnrollmentToken) {
    println!(
        "enrollment token for {} (hand it over in person; valid until {}):",
        token.user,
        token.expires_at.to_rfc3339()
    );
    println!("  {}", token.token.expose_secret());
    println!("the user runs: kiban user enroll --user {}", token.user);
}

pub(crate) fn init(ctx: &Ctx, args: &InitArgs) -> Result<()> {
    let password = read_new_password(&format!("New password for {}: ", args.admin))?;
    let display_name = if args.display_name.is_empty() { &args.admin } else { &args.display_name };
    let outcome = security::init_admin(ctx, &args.admin, display_name, password.expose_secret())?;
    print_enrollment(&outcome);
    println!("next: kiban login --user {}", args.admin);
    Ok(())
}

pub(crate) fn enroll(ctx: &Ctx, user: &str) -> Result<()> {
    let token = read_secret("Enrollment token: ")?;
    let password = read_new_password(&format!("New password for {user}: "))?;
    let outcome = security::enroll(ctx, user, token.expose_secret(), password.expose_secret())?;
    print_enrollment(&outcome);
    Ok(())
}

pub(crate) fn login(ctx: &Ctx, args: &LoginArgs) -> Result<()> {
    let password = read_secret("Password: ")?;
    let code = read_secret(if args.recovery_code { "Recovery code: " } else { "One-time code: " })?;
    let second = if args.recovery_code {
        SecondFactor::RecoveryCode(code.expose_secret())
    } else {
        SecondFactor::Totp(code.expose_secret())
    };
    let outcome = security::login(ctx, &args.user, password.expose_secret(), second)?;
    let path = security::save_session(ctx, &outcome.token)?;
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

pub(crate) fn passwd(ctx: &Ctx, principal: &Principal) -> Result<()> {
    let current = read_secret("Current password: ")?;
    let new = read_new_password("New password: ")?;
    let class = security::change_password(ctx, principal, current.expose_secret(), new.expose_secret())?;
    println!("password changed (class: {})", class.name());
    Ok(())
}

pub(crate) fn user(ctx: &Ctx, principal: &Principal, command: UserCommand) -> Result<()> {
    match command {
        UserCommand::Add { name, roles, display_name } => {
            let display_name = if display_name.is_empty() { name.clone() } else { display_name };
            print_token(&security::add_user(ctx, principal, &name, &display_name, &roles)?);
        }
        UserCommand::Reset { name, identity_check } => {
            print_token(&security::reset_user(ctx, principal, &name, &identity_check)?);
        }
        UserCommand::Lock { name, reason } => {
            security::lock_user(ctx, principal, &name, &reason)?;
            println!("locked {name}");
        }
        UserCommand::Unlock { name, reason } => {
            security::unlock_user(ctx, principal, &name, &reason)?;
            println!("unlocked {name}");
        }
        UserCommand::Roles { name, roles } => {
            let roles = security::set_roles(ctx, principal, &name, &roles)?;
            println!("{name}: {}", roles.iter().map(|role| role.name()).collect::<Vec<_>>().join(","));
        }
        UserCommand::List => {
            println!("name\tdisplay_name\troles\tenrolled\tpassword_changed_at\tfailed_logins\tlocked");
            for user in ctx.store.users()? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    user.name,
                    user.display_name,
                    user.roles.join(","),
                    if user.password_hash.is_some() { "yes" } else { "no" },
                    user.password_changed_at.map_or("-".to_owned(), |at| at.to_rfc3339()),
                    user.failed_logins,
                    user.locked_reason.as_deref().map_or("-".to_owned(), |reason| format!("yes: {reason}")),
                );
            }
        }
        UserCommand::Enroll { .. } | UserCommand::Passwd | UserCommand::Recover { .. } => {
            bail!("this command does not run inside a session")
        }
    }
    Ok(())
}

pub(crate) fn keys(ctx: &Ctx, principal: &Principal, command: KeysCommand) -> Result<()> {
    match command {
        KeysCommand::Status => {
            let keys = ctx.store.keys()?;
            println!("KEK in use: {} (from {:?})", keys.kek.id(), crate::keys::kek_source(&ctx.data_dir));
            println!("key store: {}", keys.keystore.dir().display());
            println!("audit checkpoint public key: {}", hex::encode(keys.signer.public_key()));
            println!("object\tkek");
            for entry in keys.keystore.list()? {
                println!("{}\t{}", entry.object, entry.kek_id);
            }
        }
        KeysCommand::Rotate { new_key_file } => {
            let new = crate::keys::read_key_file(&new_key_file)?;
            let (rotation, note) = security::rotate_keys(ctx, principal, &new)?;
            println!(
                "re-wrapped {} keys under the new KEK ({} already were); the vault's files were not touched",
                rotation.rewrapped, rotation.already_current
            );
            println!("{note}");
        }
    }
    Ok(())
}

pub(crate) fn delete(ctx: &Ctx, principal: &Principal, command: DeleteCommand) -> Result<()> {
    let outcome = match command {
        DeleteCommand::Batch { batch, reason } => {
            security::delete_batch(ctx, principal, kiban_store::BatchId(batch), &reason)?
        }
        DeleteCommand::Release { release_id, reason } => {
            security::delete_release(ctx, principal, &release_id, &reason)?
        }
    };
    println!(
        "deleted {}: data key {}, {} files removed; the deletion record is kept 3 years",
        outcome.object,
        if outcome.key_destroyed { "destroyed" } else { "already gone" },
        outcome.files_removed
    );
    Ok(())
}

/// Parses an audit time bound: RFC 3339, or a date (midnight UTC).
pub(crate) fn parse_time(text: &str) -> Result<chrono::DateTime<chrono::Utc>> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&chrono::Utc));
    }
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| anyhow!("{text:?} is neither an RFC 3339 time nor a date (YYYY-MM-DD)"))?;
    Ok(date.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc())
}
