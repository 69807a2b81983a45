//! The security core through the functions the commands call: accounts and enrollment, the Guideline's
//! password rule, TOTP with replay protection, recovery codes, lockout and the four-eyes unlock, sessions,
//! the role × command table, the anomaly stop, and crypto-shredding.

use std::path::Path;

use chrono::{TimeDelta, Utc};
use clap::Parser as _;
use kiban_auth::{Action, Role};
use kiban_cli::Cli;
use kiban_service::{EnrollmentOutcome, Request, SecondFactor, ServiceError, Session};

use crate::Ctx;

const ADMIN_PASSWORD: &str = "Kiban-Sec-2026!xq";

fn ctx(dir: &Path) -> Ctx {
    crate::open_ctx(dir, "anonymous")
}

fn deleted(ctx: &Ctx, request: Request) -> kiban_service::DeletionOutcome {
    match ctx.app.execute(&admin(), request).unwrap() {
        kiban_service::Response::Deleted(outcome) => outcome,
        other => panic!("unexpected {other:?}"),
    }
}

fn code_now(ctx: &Ctx, outcome: &EnrollmentOutcome) -> String {
    kiban_auth::totp_code(&outcome.totp, ctx.now()).unwrap().expose_secret().to_owned()
}

thread_local! {
    /// The session of this test's first administrator (each test runs on its own thread).
    static ADMIN: std::cell::RefCell<Option<Session>> = const { std::cell::RefCell::new(None) };
    /// The recovery code each later session of a user logs in with (codes 9, 8, ...: tests use the low ones).
    static NEXT_CODE: std::cell::Cell<usize> = const { std::cell::Cell::new(9) };
}

/// A data directory with an enrolled first administrator `admin`, logged in (with a recovery code, so a
/// test's own TOTP login is no replay).
fn with_admin(dir: &Path) -> (Ctx, EnrollmentOutcome) {
    let ctx = ctx(dir);
    let outcome = ctx.app.init_admin("admin", "Admin", ADMIN_PASSWORD).unwrap();
    let session = session_of(&ctx, "admin", ADMIN_PASSWORD, &outcome);
    ADMIN.with(|admin| *admin.borrow_mut() = Some(session));
    (ctx, outcome)
}

/// The first administrator's session when this test made one (the suite's own staff user is added by it).
pub(crate) fn admin_if_any() -> Option<Session> {
    ADMIN.with(|admin| admin.borrow().clone())
}

/// The first administrator's session (see [`with_admin`]).
fn admin() -> Session {
    ADMIN.with(|admin| admin.borrow().clone().expect("with_admin ran first"))
}

/// A session of `name`, logged in with one of their recovery codes.
fn session_of(ctx: &Ctx, name: &str, password: &str, enrolled: &EnrollmentOutcome) -> Session {
    let index = NEXT_CODE.with(|next| next.replace(next.get() - 1));
    let code = enrolled.recovery_codes[index].expose_secret().to_owned();
    let outcome = ctx.app.login(name, password, SecondFactor::RecoveryCode(&code)).unwrap();
    ctx.app.authenticate(outcome.token.expose_secret()).unwrap()
}

/// Runs `request` for `session`, keeping only whether it passed.
fn execute(ctx: &Ctx, session: &Session, request: Request) -> Result<(), ServiceError> {
    ctx.app.execute(session, request).map(|_| ())
}

fn unlock(ctx: &Ctx, admin: &Session, name: &str, reason: &str) -> Result<(), ServiceError> {
    execute(ctx, admin, Request::UserUnlock { name: name.to_owned(), reason: reason.to_owned() })
}

fn lock(ctx: &Ctx, admin: &Session, name: &str, reason: &str) -> Result<(), ServiceError> {
    execute(ctx, admin, Request::UserLock { name: name.to_owned(), reason: reason.to_owned() })
}

fn reset(
    ctx: &Ctx,
    admin: &Session,
    name: &str,
    check: &str,
) -> Result<kiban_service::EnrollmentToken, ServiceError> {
    match ctx
        .app
        .execute(admin, Request::UserReset { name: name.to_owned(), identity_check: check.to_owned() })?
    {
        kiban_service::Response::EnrollmentToken(token) => Ok(token),
        other => panic!("unexpected {other:?}"),
    }
}

/// Adds and enrolls `name` with `roles`; returns its enrollment outcome (TOTP secret, recovery codes).
fn add_enrolled(ctx: &Ctx, name: &str, roles: &[&str], password: &str) -> EnrollmentOutcome {
    let roles: Vec<String> = roles.iter().map(|role| (*role).to_owned()).collect();
    let request = Request::UserAdd { name: name.to_owned(), display_name: name.to_owned(), roles };
    let kiban_service::Response::EnrollmentToken(token) = ctx.app.execute(&admin(), request).unwrap() else {
        panic!("user add answers with a token")
    };
    ctx.app.enroll(name, token.token.expose_secret(), password).unwrap()
}

fn login(
    ctx: &Ctx,
    name: &str,
    password: &str,
    enrolled: &EnrollmentOutcome,
) -> Result<String, ServiceError> {
    let code = code_now(ctx, enrolled);
    ctx.app
        .login(name, password, SecondFactor::Totp(&code))
        .map(|outcome| outcome.token.expose_secret().to_owned())
}

fn audit_actions(ctx: &Ctx) -> Vec<(String, String, String)> {
    ctx.store
        .audit_entries()
        .unwrap()
        .into_iter()
        .map(|entry| (entry.event.actor, entry.event.action, entry.event.outcome.name().to_owned()))
        .collect()
}

#[test]
fn the_first_administrator_enrolls_logs_in_and_nobody_else_can_init() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, enrolled) = with_admin(dir.path());
    assert_eq!(enrolled.recovery_codes.len(), 10);
    assert!(ctx.app.init_admin("admin2", "x", ADMIN_PASSWORD).is_err(), "init works once only");
    let token = login(&ctx, "admin", ADMIN_PASSWORD, &enrolled).unwrap();
    let principal = ctx.app.authenticate(&token).unwrap();
    assert_eq!((principal.user(), principal.roles()), ("admin", &[Role::SecurityAdmin][..]));
    // Only hashes are stored: the password and the TOTP secret appear nowhere in the database.
    let db = crate::database_contents(dir.path());
    for secret in
        [ADMIN_PASSWORD.to_owned(), enrolled.totp.to_base32().expose_secret().to_owned(), token.clone()]
    {
        assert!(!db.windows(secret.len()).any(|w| w == secret.as_bytes()), "a secret is stored in the clear");
    }
    let user = ctx.store.user("admin").unwrap();
    assert!(user.password_hash.unwrap().starts_with("$argon2id$"));
    // Logging out (the CLI reads the token from its session file) ends the session.
    let session_file = dir.path().join("session");
    std::fs::write(&session_file, &token).unwrap();
    let mut argv = vec!["kiban", "--no-progress", "--data-dir", dir.path().to_str().unwrap()];
    argv.extend(["--session-file", session_file.to_str().unwrap()]);
    let database = crate::database_flags(dir.path());
    argv.extend(database.iter().map(String::as_str));
    argv.push("logout");
    kiban_cli::run(Cli::try_parse_from(argv).unwrap()).unwrap();
    assert!(!session_file.exists(), "logout removes the session file");
    let ended = ctx.app.authenticate(&token).unwrap_err();
    assert_eq!(ended.code(), kiban_service::ErrorCode::SessionExpired, "{ended}");
    let actions = audit_actions(&ctx);
    assert!(actions.contains(&("admin".into(), "user.init".into(), "success".into())));
    assert!(actions.contains(&("admin".into(), "login".into(), "success".into())));
}

#[test]
fn passwords_follow_the_guideline_rule() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, _) = with_admin(dir.path());
    let request = Request::UserAdd {
        name: "nurse".to_owned(),
        display_name: "Nurse".to_owned(),
        roles: vec!["intake-operator".to_owned()],
    };
    let kiban_service::Response::EnrollmentToken(token) = ctx.app.execute(&admin(), request).unwrap() else {
        panic!("user add answers with a token")
    };
    let token = token.token.expose_secret().to_owned();
    for refused in ["Ab1!", "abcdefgh1234", "Passw0rd!", "P@ssw0rd2024!", "nurse-Ab12!", "abcdefghijklmnop"] {
        let error = ctx.app.enroll("nurse", &token, refused).unwrap_err().to_string();
        assert!(error.contains("password refused"), "{error}");
        assert!(!error.contains(refused), "the message repeats the password: {error}");
    }
    // 8 to 12 mixed characters: accepted, and must be changed within 2 months.
    let enrolled = ctx.app.enroll("nurse", &token, "Ka9#mVq2").unwrap();
    assert_eq!(enrolled.password_class, kiban_auth::PasswordClass::Short);
    // The token was used up.
    assert!(ctx.app.enroll("nurse", &token, "Ka9#mVq2zz").is_err());

    let session = login(&ctx, "nurse", "Ka9#mVq2", &enrolled).unwrap();
    let principal = ctx.app.authenticate(&session).unwrap();
    execute(&ctx, &principal, Request::Receipts).unwrap();
    // Two months and a day later the password has expired: only a password change is allowed.
    let later = crate::open_ctx(dir.path(), "anonymous");
    later.app.set_clock(Some(Utc::now() + TimeDelta::days(62)));
    let error = execute(&later, &principal, Request::Receipts).unwrap_err().to_string();
    assert!(error.contains("expired"), "{error}");
    assert_eq!(later.app.change_password(&principal, "Ka9#mVq2", "Rx7$tLw4").unwrap().name(), "short");
    execute(&later, &principal, Request::Receipts).unwrap();
    // 13 or more mixed characters: never forced to change.
    later.app.change_password(&principal, "Rx7$tLw4", "Long-enough-9x").unwrap();
    let much_later = crate::open_ctx(dir.path(), "anonymous");
    much_later.app.set_clock(Some(Utc::now() + TimeDelta::days(800)));
    execute(&much_later, &principal, Request::Receipts).unwrap();
}

#[test]
fn totp_codes_cannot_be_replayed_and_recovery_codes_work_once() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, enrolled) = with_admin(dir.path());
    let code = code_now(&ctx, &enrolled);
    ctx.app.login("admin", ADMIN_PASSWORD, SecondFactor::Totp(&code)).unwrap();
    let replay = ctx.app.login("admin", ADMIN_PASSWORD, SecondFactor::Totp(&code));
    assert!(replay.is_err(), "the same code twice is a replay");
    let wrong = ctx.app.login("admin", ADMIN_PASSWORD, SecondFactor::Totp("000000"));
    assert!(wrong.is_err());

    let recovery = enrolled.recovery_codes[3].expose_secret().to_owned();
    ctx.app.login("admin", ADMIN_PASSWORD, SecondFactor::RecoveryCode(&recovery)).unwrap();
    assert!(ctx.app.login("admin", ADMIN_PASSWORD, SecondFactor::RecoveryCode(&recovery)).is_err());
    // A right code with a wrong password is refused with the same message as anything else.
    let other = enrolled.recovery_codes[4].expose_secret().to_owned();
    let error = ctx.app.login("admin", "Wrong-password-1!", SecondFactor::RecoveryCode(&other)).unwrap_err();
    assert_eq!(error.to_string(), "login refused: wrong user name, password or code");
}

#[test]
fn repeated_failures_lock_and_only_another_administrator_unlocks() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, admin_enrolled) = with_admin(dir.path());
    let admin2_enrolled = add_enrolled(&ctx, "admin2", &["security-admin"], "Second-admin-77!");
    let clerk = add_enrolled(&ctx, "clerk", &["intake-operator"], "Harbor-light-5!");
    for _ in 0..5 {
        assert!(ctx.app.login("clerk", "Not-the-password-1!", SecondFactor::Totp("123456")).is_err());
    }
    assert!(ctx.store.user("clerk").unwrap().is_locked());
    let error = login(&ctx, "clerk", "Harbor-light-5!", &clerk).unwrap_err().to_string();
    assert!(error.contains("locked"), "{error}");
    assert!(std::fs::read_to_string(dir.path().join("alerts.log")).unwrap().contains("clerk"));

    // Not by themselves (a locked account gets no session at all), not without a reason, not by someone
    // who is not a security administrator.
    let helper = add_enrolled(&ctx, "deskmate", &["intake-operator"], "Harbor-desk-88!");
    let helper = session_of(&ctx, "deskmate", "Harbor-desk-88!", &helper);
    assert_eq!(
        unlock(&ctx, &helper, "clerk", "please").unwrap_err().code(),
        kiban_service::ErrorCode::Forbidden
    );
    assert!(unlock(&ctx, &admin(), "clerk", " ").is_err());
    unlock(&ctx, &admin(), "clerk", "called the user; typo in password").unwrap();
    login(&ctx, "clerk", "Harbor-light-5!", &clerk).unwrap();

    // An administrator cannot unlock or reset their own account.
    let admin2 = session_of(&ctx, "admin2", "Second-admin-77!", &admin2_enrolled);
    lock(&ctx, &admin2, "admin", "test").unwrap();
    assert!(login(&ctx, "admin", ADMIN_PASSWORD, &admin_enrolled).is_err());
    assert!(unlock(&ctx, &admin(), "admin", "it is me").is_err());
    unlock(&ctx, &admin2, "admin", "verified by phone").unwrap();
    assert!(reset(&ctx, &admin2, "admin2", "self").is_err());
    // A reset records the identity check, voids the password and second factor, and needs a new enrollment.
    let token = reset(&ctx, &admin2, "clerk", "in person, staff ID card").unwrap();
    assert!(login(&ctx, "clerk", "Harbor-light-5!", &clerk).is_err());
    let re_enrolled = ctx.app.enroll("clerk", token.token.expose_secret(), "Harbor-light-6?").unwrap();
    login(&ctx, "clerk", "Harbor-light-6?", &re_enrolled).unwrap();
    let reset = ctx
        .store
        .audit_entries()
        .unwrap()
        .into_iter()
        .find(|entry| entry.event.action == "user.reset")
        .unwrap();
    assert_eq!(reset.event.actor, "admin2");
    assert!(reset.event.detail.contains("in person, staff ID card"));
}

#[test]
fn sessions_expire_when_idle_and_end_on_lock() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, _) = with_admin(dir.path());
    let enrolled = add_enrolled(&ctx, "proc", &["processor"], "Xq7!Mediform-9");
    let token = login(&ctx, "proc", "Xq7!Mediform-9", &enrolled).unwrap();
    ctx.app.authenticate(&token).unwrap();
    let idle = crate::open_ctx(dir.path(), "anonymous");
    idle.app.set_clock(Some(Utc::now() + TimeDelta::minutes(31)));
    assert!(idle.app.authenticate(&token).is_err(), "30 minutes idle ends a session");
    // A second login within the same 30 s would replay the TOTP code: use a recovery code.
    let recovery = enrolled.recovery_codes[0].expose_secret().to_owned();
    let token = ctx
        .app
        .login("proc", "Xq7!Mediform-9", SecondFactor::RecoveryCode(&recovery))
        .unwrap()
        .token
        .expose_secret()
        .to_owned();
    lock(&ctx, &admin(), "proc", "leaving the project").unwrap();
    assert!(ctx.app.authenticate(&token).is_err(), "locking ends the sessions");
    assert!(ctx.app.authenticate("kiban_session_00").is_err());
}

/// Every role × command pair, from the command line as typed, against a table written here independently
/// of `kiban-auth`'s.
#[test]
fn every_role_and_command_pair_is_allowed_or_refused_as_specified() {
    // (command line, roles allowed: I=intake-operator P=processor R=reviewer S=security-admin A=auditor X=researcher)
    let table: &[(&str, &str)] = &[
        ("provider add --code 1310000001 --name n --address a --notified-on 2024-01-01", "I"),
        ("provider list", "IPRA"),
        ("ingest --provider 1310000001 --format ssmix2 /tmp/x", "I"),
        ("link", "P"),
        ("release --recipient-name n --recipient-address a", "P"),
        ("release --policy p.toml", "P"),
        ("release export R0001 --to /tmp/x", "P"),
        ("optout list", "IRA"),
        ("linkage-material export --out /tmp/x", "P"),
        ("linkage-material import /tmp/x", "P"),
        ("ledger", "PRA"),
        ("receipts", "IRA"),
        ("audit verify", "SA"),
        ("audit show", "SA"),
        ("user add u --role processor", "S"),
        ("user list", "SA"),
        ("user reset u --identity-check x", "S"),
        ("user lock u --reason x", "S"),
        ("user unlock u --reason x", "S"),
        ("user roles u --role processor", "S"),
        ("keys status", "S"),
        ("keys rotate --new-key-file /tmp/k", "S"),
        ("delete batch 1 --reason x", "S"),
        ("delete release R-1 --reason x", "S"),
    ];
    let roles = [
        ('I', Role::IntakeOperator),
        ('P', Role::Processor),
        ('R', Role::Reviewer),
        ('S', Role::SecurityAdmin),
        ('A', Role::Auditor),
        ('X', Role::Researcher),
    ];
    let mut checked = 0;
    for (line, allowed) in table {
        let cli = match Cli::try_parse_from(std::iter::once("kiban").chain(line.split(' '))) {
            Ok(cli) => cli,
            Err(error) => panic!("{line}: {error}"),
        };
        let action = match kiban_cli::request_of(cli.command) {
            Ok(Some(request)) => request.action(),
            Ok(None) => panic!("{line}: no action"),
            // The request needs its files (a policy, a key file): map the command by its words instead.
            Err(_) => file_action(line),
        };
        for (letter, role) in roles {
            let expected = allowed.contains(letter);
            assert_eq!(kiban_auth::is_allowed(&[role], action), expected, "{line} for {}", role.name());
            checked += 1;
        }
    }
    assert_eq!(checked, table.len() * roles.len());
    // Release and its export share their roles, so check the mapping itself: the export must count as one.
    let export = Cli::try_parse_from(["kiban", "release", "export", "R0001", "--to", "/tmp/x"]).unwrap();
    assert_eq!(
        kiban_cli::request_of(export.command).unwrap().map(|r| r.action()),
        Some(Action::ReleaseExport)
    );
    let make = Cli::try_parse_from(["kiban", "release", "--policy", "p.toml"]).unwrap();
    assert!(kiban_cli::request_of(make.command).is_err(), "the policy file is read to make the request");
    let recover =
        Cli::try_parse_from(["kiban", "user", "recover", "a", "--key-file", "k", "--reason", "r"]).unwrap();
    assert!(kiban_cli::request_of(recover.command).unwrap().is_none(), "break-glass runs without a session");
    // The optout add command needs its arguments; it is the intake operator's.
    assert_eq!(kiban_auth::allowed_roles(Action::OptoutAdd), [Role::IntakeOperator]);
}

/// The action of a command whose request needs a file the matrix does not create.
fn file_action(line: &str) -> Action {
    match line.split(' ').next() {
        Some("release") => Action::Release,
        Some("keys") => Action::KeysRotate,
        _ => panic!("{line}: no request"),
    }
}

#[test]
fn an_operation_outside_the_role_is_refused_audited_and_locks_the_account() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, _) = with_admin(dir.path());
    let enrolled = add_enrolled(&ctx, "researcher1", &["researcher"], "Researcher-pass-4!");
    let token = login(&ctx, "researcher1", "Researcher-pass-4!", &enrolled).unwrap();
    let principal = ctx.app.authenticate(&token).unwrap();
    let error = execute(&ctx, &principal, Request::Ledger).unwrap_err().to_string();
    assert!(error.contains("not allowed"), "{error}");
    assert!(ctx.store.user("researcher1").unwrap().is_locked());
    assert!(ctx.app.authenticate(&token).is_err(), "the session ended with the lock");
    let actions = audit_actions(&ctx);
    assert!(actions.contains(&("researcher1".into(), "ledger".into(), "denied".into())));
    assert!(actions.contains(&("kiban-anomaly".into(), "security.lock".into(), "success".into())));
    let alerts = std::fs::read_to_string(dir.path().join("alerts.log")).unwrap();
    assert!(alerts.contains("researcher1") && alerts.contains("outside-role"), "{alerts}");
}

#[test]
fn the_last_administrator_locked_out_is_recovered_only_with_the_kek_and_only_when_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, _) = with_admin(dir.path());
    // The lone administrator works outside the allowed hours and is stopped.
    std::fs::write(dir.path().join("security.toml"), "[anomaly]\nallowed_hours = \"09:00-09:01\"\n").unwrap();
    let night = crate::open_ctx(dir.path(), "anonymous");
    night.app.set_clock(Some(
        chrono::DateTime::parse_from_rfc3339("2026-11-26T15:00:00Z").unwrap().with_timezone(&Utc),
    ));
    night.app.report_activity(&admin(), "user-list", kiban_auth::EventOutcome::Success, 0).unwrap();
    assert!(ctx.store.user("admin").unwrap().is_locked());
    assert!(unlock(&ctx, &admin(), "admin", "it is me").is_err(), "no self-unlock");

    // A key that is not the KEK is refused, and the attempt is audited.
    let wrong = kiban_crypto::SecretKey::from_bytes([9; 32]);
    let error = ctx.app.break_glass_unlock("admin", &wrong, "locked out at night").unwrap_err();
    assert!(error.to_string().contains("not this deployment's key-encryption key"), "{error}");
    assert!(ctx.store.user("admin").unwrap().is_locked());
    let key_text = std::fs::read_to_string(dir.path().join("keys/master.key")).unwrap();
    let kek = kiban_crypto::SecretKey::from_hex(key_text.trim()).unwrap();
    assert!(ctx.app.break_glass_unlock("admin", &kek, " ").is_err(), "a reason is needed");
    assert!(ctx.app.break_glass_unlock("nobody", &kek, "x").is_err());

    // With the KEK and a reason, the lone administrator is unlocked; audited and alerted.
    ctx.app.break_glass_unlock("admin", &kek, "lone administrator locked out at night").unwrap();
    assert!(!ctx.store.user("admin").unwrap().is_locked());
    let actions = audit_actions(&ctx);
    assert!(actions.contains(&("break-glass".into(), "user.break-glass".into(), "denied".into())));
    assert!(actions.contains(&("break-glass".into(), "user.break-glass".into(), "success".into())));
    let alerts = std::fs::read_to_string(dir.path().join("alerts.log")).unwrap();
    assert!(alerts.contains("break-glass unlock"), "{alerts}");
    assert!(ctx.app.break_glass_unlock("admin", &kek, "again").is_err(), "not locked any more");

    // A copy of the database opened with a key store and KEK of the attacker's own: the KEK given matches
    // the process's, but the account's sealed secrets do not open, so it is refused.
    // (The store's own lock, as the administrator x would set it with a session.)
    ctx.store
        .lock_user(
            "admin",
            "t",
            kiban_audit::AuditEvent {
                at: ctx.now(),
                actor: "x".to_owned(),
                action: "user.lock".to_owned(),
                object: "user:admin".to_owned(),
                outcome: kiban_audit::Outcome::Success,
                detail: "t".to_owned(),
            },
        )
        .unwrap();
    let forged = tempfile::tempdir().unwrap();
    copy_tree(dir.path(), forged.path(), &["keystore", "keys"]);
    let forged_ctx = crate::open_ctx(forged.path(), "anonymous");
    let forged_key = std::fs::read_to_string(forged.path().join("keys/master.key")).unwrap();
    let forged_key = kiban_crypto::SecretKey::from_hex(forged_key.trim()).unwrap();
    let error = forged_ctx.app.break_glass_unlock("admin", &forged_key, "x").unwrap_err().to_string();
    if forged.path().join("kiban.db").exists() {
        assert!(error.contains("not this deployment's key-encryption key"), "{error}");
    }
    drop(forged_ctx);

    // A lock an administrator set on purpose is never lifted by break-glass, even for the last one.
    let error = ctx.app.break_glass_unlock("admin", &kek, "x").unwrap_err();
    assert!(error.to_string().contains("locked by the administrator x"), "{error}");

    // With a second administrator able to unlock, break-glass is refused: the four-eyes unlock serves.
    // (All day allowed: the defaults' 07:00-22:00 would make this test depend on the hour it runs at.)
    std::fs::write(dir.path().join("security.toml"), "[anomaly]\nallowed_hours = \"00:00-00:00\"\n").unwrap();
    // (admin is locked; admin2 is made directly in the store as a second administrator would make it.)
    let admin2 = second_admin(&ctx);
    unlock(&ctx, &admin2, "admin", "test over").unwrap();
    for _ in 0..5 {
        assert!(ctx.app.login("admin", "Not-the-password-1!", SecondFactor::Totp("123456")).is_err());
    }
    assert!(ctx.store.user("admin").unwrap().is_locked(), "failed logins lock");
    let error = ctx.app.break_glass_unlock("admin", &kek, "x").unwrap_err();
    assert!(error.to_string().contains("admin2 can unlock"), "{error}");
    assert!(ctx.store.user("admin").unwrap().is_locked());
    // And it unlocks only security administrators.
    let request = Request::UserAdd {
        name: "clerk".to_owned(),
        display_name: String::new(),
        roles: vec!["intake-operator".to_owned()],
    };
    execute(&ctx, &admin2, request).unwrap();
    lock(&ctx, &admin2, "clerk", "test").unwrap();
    let error = ctx.app.break_glass_unlock("clerk", &kek, "x").unwrap_err();
    assert!(error.to_string().contains("locked security administrator only"), "{error}");
    // Every refusal is in the audit log.
    let denied = audit_actions(&ctx)
        .into_iter()
        .filter(|(actor, action, outcome)| {
            actor == "break-glass" && action == "user.break-glass" && outcome == "denied"
        })
        .count();
    assert!(denied >= 5, "{denied} refusals audited");
}

#[test]
fn bulk_exports_and_work_outside_hours_stop_the_account() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, _) = with_admin(dir.path());
    std::fs::write(
        dir.path().join("security.toml"),
        "[anomaly]\nmax_exports_per_hour = 2\nallowed_hours = \"00:00-00:00\"\n",
    )
    .unwrap();
    let enrolled = add_enrolled(&ctx, "proc", &["processor"], "Xq7!Mediform-9");
    let token = login(&ctx, "proc", "Xq7!Mediform-9", &enrolled).unwrap();
    let principal = ctx.app.authenticate(&token).unwrap();
    for _ in 0..2 {
        let found = ctx
            .app
            .report_activity(&principal, "release-export", kiban_auth::EventOutcome::Success, 100)
            .unwrap();
        assert!(found.is_empty(), "{found:?}");
    }
    let found = ctx
        .app
        .report_activity(&principal, "release-export", kiban_auth::EventOutcome::Success, 100)
        .unwrap();
    assert_eq!(found.len(), 1);
    assert!(ctx.store.user("proc").unwrap().is_locked());
    unlock(&ctx, &admin(), "proc", "export schedule agreed with the reviewer").unwrap();

    // Allowed hours 09:00-09:01 Japan time: now (fixed at 12:00 JST) is outside.
    std::fs::write(dir.path().join("security.toml"), "[anomaly]\nallowed_hours = \"09:00-09:01\"\n").unwrap();
    let noon = crate::open_ctx(dir.path(), "anonymous");
    noon.app.set_clock(Some(
        chrono::DateTime::parse_from_rfc3339("2026-11-26T03:00:00Z").unwrap().with_timezone(&Utc),
    ));
    let found = noon.app.report_activity(&principal, "ledger", kiban_auth::EventOutcome::Success, 0).unwrap();
    assert_eq!(found.iter().map(|anomaly| anomaly.kind.name()).collect::<Vec<_>>(), ["outside-hours"]);
    assert!(ctx.store.user("proc").unwrap().is_locked());
}

#[test]
fn a_shredded_batch_cannot_be_decrypted_even_from_copies_made_before() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = crate::open_ctx(dir.path(), "demo");
    ctx.app.demo(&kiban_service::DemoRequest { patients: 120, providers: 2, seed: 3, k: 2 }).unwrap();
    let batch = ctx.store.batches().unwrap()[0].id;
    assert!(!ctx.store.read_batch_records(batch).unwrap().is_empty());
    // An attacker (or a backup) copies the database and the vault, with the KEK at hand.
    let copy = tempfile::tempdir().unwrap();
    copy_tree(dir.path(), copy.path(), &["keystore"]);
    drop(ctx);

    let (ctx, _) = with_admin(dir.path());
    let outcome = deleted(
        &ctx,
        Request::DeleteBatch { batch: batch.0, reason: "retention ended (contract §4)".to_owned() },
    );
    assert!(outcome.key_destroyed && outcome.files_removed > 0);
    assert!(!ctx.store.batch_vault_dir(batch).exists());
    let record = &ctx.store.deletions().unwrap()[0];
    assert_eq!(record.object, format!("batch:{batch}"));
    assert!(record.items.contains(&"persons".to_owned()));
    assert_eq!(record.retain_until, record.deleted_on.checked_add_months(chrono::Months::new(36)).unwrap());
    // A deletion run again finishes without error (the key is already gone).
    assert!(
        !deleted(&ctx, Request::DeleteBatch { batch: batch.0, reason: "again".to_owned() }).key_destroyed
    );
    drop(ctx);

    // Put the old database and vault back: the batch's data key is gone from the key store, so the
    // sealed files stay sealed.
    copy_tree(copy.path(), dir.path(), &["keystore"]);
    let restored = crate::open_ctx(dir.path(), "anonymous");
    let error = restored.store.read_batch_records(batch).unwrap_err().to_string();
    assert!(error.contains("deleted") || error.contains("no data key"), "{error}");
    // The other batch still reads.
    let other = restored.store.batches().unwrap()[1].id;
    assert!(!restored.store.read_batch_records(other).unwrap().is_empty());
}

#[test]
fn a_deleted_release_cannot_be_exported_or_opened_even_from_copies_made_before() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = crate::open_ctx(dir.path(), "demo");
    let demo =
        ctx.app.demo(&kiban_service::DemoRequest { patients: 80, providers: 1, seed: 4, k: 2 }).unwrap();
    let release_id = demo.release.release_id.clone();
    let object = format!("release:{release_id}");
    assert!(ctx.store.keys().unwrap().keystore.list().unwrap().iter().any(|entry| entry.object == object));
    let copy = tempfile::tempdir().unwrap();
    copy_tree(dir.path(), copy.path(), &["keystore"]);
    drop(ctx);

    let (ctx, _) = with_admin(dir.path());
    let outcome = deleted(
        &ctx,
        Request::DeleteRelease {
            release_id: release_id.clone(),
            reason: "the recipient's contract ended".to_owned(),
        },
    );
    assert!(outcome.key_destroyed && outcome.files_removed > 0);
    assert!(!demo.release.dir.exists());
    let record = &ctx.store.deletions().unwrap()[0];
    assert_eq!(record.object, object);
    let error = crate::ops::export_release(&ctx, &release_id, &dir.path().join("again")).unwrap_err();
    assert!(!dir.path().join("again").exists());
    assert!(error.to_string().contains("deleted"), "{error}");
    drop(ctx);

    // The old database and sealed release put back, KEK at hand: the release's data key is gone.
    copy_tree(copy.path(), dir.path(), &["keystore"]);
    let restored = crate::open_ctx(dir.path(), "restorer");
    assert!(demo.release.dir.join("csv").exists(), "the sealed files are back");
    let error = crate::ops::export_release(&restored, &release_id, &dir.path().join("out")).unwrap_err();
    assert!(
        format!("{error:#}").contains("no data key") || format!("{error:#}").contains("deleted"),
        "{error:#}"
    );
    assert!(!dir.path().join("out").exists());
    // Every data file of the copy is sealed, so nothing of it reads without the key.
    for entry in std::fs::read_dir(demo.release.dir.join("csv")).unwrap() {
        assert!(kiban_crypto::is_sealed(&std::fs::read(entry.unwrap().path()).unwrap()));
    }
}

/// A second security administrator, made while the first is locked: created in the store (as `user add`
/// would by an administrator), enrolled and logged in.
fn second_admin(ctx: &Ctx) -> Session {
    let token = "kiban_enroll_second_admin_for_tests";
    let at = ctx.now();
    ctx.store
        .create_user(
            &kiban_store::NewUser {
                name: "admin2".to_owned(),
                display_name: String::new(),
                roles: vec!["security-admin".to_owned()],
                enrollment_hash: kiban_crypto::sha256_hex(token.as_bytes()),
                enrollment_expires_at: at + TimeDelta::hours(1),
                created_at: at,
                created_by: "admin".to_owned(),
            },
            kiban_audit::AuditEvent {
                at,
                actor: "admin".to_owned(),
                action: "user.add".to_owned(),
                object: "user:admin2".to_owned(),
                outcome: kiban_audit::Outcome::Success,
                detail: String::new(),
            },
        )
        .unwrap();
    let enrolled = ctx.app.enroll("admin2", token, "Second-admin-77!").unwrap();
    session_of(ctx, "admin2", "Second-admin-77!", &enrolled)
}

fn copy_tree(from: &Path, to: &Path, skip: &[&str]) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if skip.iter().any(|skip| name == *skip) {
            continue;
        }
        let target = to.join(&name);
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target, skip);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn key_rotation_keeps_the_vault_readable_under_the_new_kek_only() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = crate::open_ctx(dir.path(), "demo");
    ctx.app.demo(&kiban_service::DemoRequest { patients: 60, providers: 1, seed: 5, k: 2 }).unwrap();
    let batch = ctx.store.batches().unwrap()[0].id;
    let before = ctx.store.read_batch_records(batch).unwrap();
    drop(ctx);
    let (ctx, _) = with_admin(dir.path());
    let new = kiban_crypto::SecretKey::from_bytes([42; 32]);
    let kiban_service::Response::KeysRotated { rewrapped, note, .. } = ctx
        .app
        .execute(&admin(), Request::KeysRotate { new_kek: kiban_crypto::SecretKey::from_bytes([42; 32]) })
        .unwrap()
    else {
        panic!("a rotation answers with its counts")
    };
    assert!(rewrapped >= 2, "{rewrapped}");
    assert!(note.contains("now holds the new KEK"), "{note}");
    drop(ctx);
    // The default key file now holds the new KEK; the store opens and reads as before, and the audit log
    // (signed under the unchanged deployment key) still verifies.
    let reopened = crate::open_ctx(dir.path(), "anonymous");
    assert!(reopened.store.read_batch_records(batch).unwrap() == before);
    assert!(reopened.store.verify_audit().is_ok());
    let key_text = std::fs::read_to_string(dir.path().join("keys/master.key")).unwrap();
    assert_eq!(key_text.trim(), new.to_hex_secret().expose_secret());
}

/// Makes `user` (with `role`) in the data directory `data` (and its first administrator, if there is
/// none), enrolls and logs them in, and keeps the session token in `session_file`, as `kiban login` does.
/// Every hour is allowed, so tests do not depend on the time they run.
pub(crate) fn log_in_as(data: &Path, user: &str, role: &str, session_file: &Path) {
    let ctx = ctx(data);
    std::fs::write(data.join("security.toml"), "[anomaly]\nallowed_hours = \"00:00-00:00\"\n").unwrap();
    let enrolled = ctx.app.init_admin("admin", "Admin", ADMIN_PASSWORD).unwrap();
    ADMIN.with(|admin| *admin.borrow_mut() = Some(session_of(&ctx, "admin", ADMIN_PASSWORD, &enrolled)));
    let password = "Desk-password-42!";
    let enrolled = add_enrolled(&ctx, user, &[role], password);
    let token = login(&ctx, user, password, &enrolled).unwrap();
    std::fs::write(session_file, token).unwrap();
}
