//! The security core as commands: accounts (`kiban init`, `kiban user …`), login and sessions, the
//! authorization of every store command, the anomaly stop, keys and deletion.
//!
//! The rules are `kiban-auth`'s (roles, the password rule, TOTP, lockout, anomalies); the state is
//! `kiban-store`'s. Each function here takes its secrets as arguments and returns what the user must be
//! shown once (an enrollment token, a TOTP secret, recovery codes, a session token); reading them from a
//! terminal and printing are in [`crate::run`].
//!
//! - **Nobody learns a password.** An administrator creating or resetting an account gets a one-time
//!   enrollment token (valid 72 hours), not a password; the user sets their own password and receives their
//!   own TOTP secret and recovery codes when enrolling. Only argon2id hashes are stored.
//! - **Sessions.** `kiban login` checks the password and a TOTP code (or a recovery code) and starts a
//!   session: its token is shown once and kept by the CLI in the session file; the database keeps its
//!   SHA-256. Sessions end after 30 minutes idle or 8 hours.
//! - **Deny by default.** Every store command names its `kiban_auth::Action`; a user whose roles do not
//!   allow it is refused, the refusal is audited, and (an operation outside the role being an anomaly) the
//!   account is locked.
//! - **Anomaly stop (Rule 6-4-ロ).** After every command the user's recent activity is checked against the
//!   anomaly policy (`{data_dir}/security.toml`, defaults in `kiban_auth::AnomalyPolicy`); an anomaly locks
//!   the account, ends its sessions, writes an audit entry and raises an alert (stderr and
//!   `{data_dir}/alerts.log`). Another security administrator unlocks it with a recorded reason.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, Result, anyhow, bail};
use chrono::{DateTime, NaiveTime, TimeDelta, Utc};
use kiban_audit::Outcome;
use kiban_auth::{
    Action, ActivityEvent, AllowedHours, AnomalyPolicy, EventOutcome, LockoutPolicy, PasswordClass, Role,
    SecretText, SessionPolicy, SessionToken, StoredRecoveryCode, TotpSecret,
};
use kiban_crypto::{DataKey, SecretKey};
use kiban_store::{Activity, DeletionRecord, Enrollment, NewUser, SecondFactorUse, UserRecord};
use serde::Deserialize;

use crate::app::Ctx;
use crate::audit_ref::{AuditAction, ObjectRef};
use crate::error::{ErrorCode, ServiceError, refuse};

/// How long an enrollment token stays valid.
const ENROLLMENT_VALIDITY: TimeDelta = TimeDelta::hours(72);
const TOTP_SEAL_PURPOSE: &str = "kiban/totp-seal";

/// A logged-in user and the roles they hold. Obtainable only from authentication ([`crate::App::login`],
/// [`crate::App::authenticate`]): the fields are private, so no frontend can make one up.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Session {
    user: String,
    roles: Vec<Role>,
    /// SHA-256 of the session token (hex): the session's key in the store.
    token_hash: String,
}

impl Session {
    /// The user's name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The roles the user held when the session was checked.
    pub fn roles(&self) -> &[Role] {
        &self.roles
    }

    /// Whether the roles allow `action` (frontends use it to hide what would be refused; the service
    /// checks again on every request).
    pub fn may(&self, action: Action) -> bool {
        kiban_auth::is_allowed(&self.roles, action)
    }
}

/// What a user is shown once when enrolling: their authenticator secret and recovery codes.
#[derive(Debug)]
pub struct EnrollmentOutcome {
    pub user: String,
    pub totp: TotpSecret,
    pub recovery_codes: Vec<SecretText>,
    pub password_class: PasswordClass,
}

/// A one-time enrollment token for a new or reset account, to hand to the user in person.
#[derive(Debug)]
pub struct EnrollmentToken {
    pub user: String,
    pub token: SecretText,
    pub expires_at: DateTime<Utc>,
}

/// The second factor given at login.
pub enum SecondFactor<'a> {
    Totp(&'a str),
    RecoveryCode(&'a str),
}

/// A started session.
#[derive(Debug)]
pub struct LoginOutcome {
    pub user: String,
    pub token: SecretText,
    pub idle_expiry: TimeDelta,
    pub absolute_expiry: DateTime<Utc>,
    pub password_expires_at: Option<DateTime<Utc>>,
}

pub(crate) fn random<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes)
        .map_err(|error| anyhow!("the OS random number generator failed: {error}"))?;
    Ok(bytes)
}

fn sha256_hex(text: &str) -> String {
    kiban_crypto::sha256_hex(text.as_bytes())
}

fn roles_of(user: &UserRecord) -> Vec<Role> {
    user.roles.iter().filter_map(|name| Role::parse(name).ok()).collect()
}

fn parse_roles(names: &[String]) -> Result<Vec<Role>> {
    if names.is_empty() {
        bail!(
            "give at least one --role ({})",
            Role::ALL.iter().map(|role| role.name()).collect::<Vec<_>>().join(", ")
        );
    }
    names.iter().map(|name| Role::parse(name).map_err(|error| anyhow!("{error}"))).collect()
}

fn role_names(roles: &[Role]) -> Vec<String> {
    roles.iter().map(|role| role.name().to_owned()).collect()
}

fn totp_seal_key(ctx: &Ctx) -> Result<DataKey> {
    Ok(DataKey::derive_from(&ctx.store.keys()?.root, TOTP_SEAL_PURPOSE))
}

fn seal_totp(ctx: &Ctx, user: &str, secret: &TotpSecret) -> Result<String> {
    let sealed = totp_seal_key(ctx)?.seal(&format!("totp:{user}"), secret.expose_bytes())?;
    Ok(hex::encode(sealed))
}

fn open_totp(ctx: &Ctx, user: &UserRecord) -> Result<TotpSecret> {
    let sealed = user.totp_sealed.as_deref().ok_or_else(|| anyhow!("user {} has not enrolled", user.name))?;
    let bytes = hex::decode(sealed).context("the stored TOTP secret is malformed")?;
    let mut plain = totp_seal_key(ctx)?.open(&format!("totp:{}", user.name), &bytes)?;
    let secret: [u8; kiban_auth::TOTP_SECRET_BYTES] =
        plain.as_slice().try_into().map_err(|_| anyhow!("the stored TOTP secret has the wrong length"))?;
    zeroize::Zeroize::zeroize(&mut plain);
    Ok(TotpSecret::from_bytes(secret))
}

fn validate_user_name(name: &str) -> Result<()> {
    let ok = (2..=64).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !ok {
        bail!(
            "a user name is 2-64 characters of a-z, A-Z, 0-9, '-', '_' or '.', starting with a letter or digit"
        );
    }
    Ok(())
}

/// `kiban init`: creates the first security administrator, enrolled at once with `password`. Refused once
/// any account exists.
///
/// # Errors
/// When accounts exist, the name or password breaks the rules, or the store fails.
pub(crate) fn init_admin(
    ctx: &Ctx,
    name: &str,
    display_name: &str,
    password: &str,
) -> Result<EnrollmentOutcome> {
    validate_user_name(name)?;
    if ctx.store.has_users()? {
        refuse!(
            Conflict,
            "accounts already exist: the first administrator is made only once; ask a security administrator"
        );
    }
    let now = ctx.now();
    let token = SessionToken::from_bytes(random()?);
    let token_text = token.to_text();
    let user = NewUser {
        name: name.to_owned(),
        display_name: display_name.to_owned(),
        roles: vec![Role::SecurityAdmin.name().to_owned()],
        enrollment_hash: sha256_hex(token_text.expose_secret()),
        enrollment_expires_at: now + ENROLLMENT_VALIDITY,
        created_at: now,
        created_by: name.to_owned(),
    };
    // Check the password before creating anything, so a refused password leaves no half-made account.
    kiban_auth::check_password(password, name).map_err(|problem| anyhow!("password refused: {problem}"))?;
    let event = ctx.event_by(
        name,
        AuditAction::UserInit,
        &ObjectRef::User(name.to_owned()),
        Outcome::Success,
        "roles=security-admin".to_owned(),
    );
    ctx.store.create_user(&user, event)?;
    enroll(ctx, name, token_text.expose_secret(), password)
}

/// `kiban user add`: an account with `roles` and a one-time enrollment token for its owner.
///
/// # Errors
/// Unknown role, bad or duplicate name, or a store failure.
pub(crate) fn add_user(
    ctx: &Ctx,
    admin: &Session,
    name: &str,
    display_name: &str,
    roles: &[String],
) -> Result<EnrollmentToken> {
    validate_user_name(name)?;
    let roles = parse_roles(roles)?;
    let now = ctx.now();
    let token = SessionToken::from_bytes(random()?).to_text();
    let expires_at = now + ENROLLMENT_VALIDITY;
    let user = NewUser {
        name: name.to_owned(),
        display_name: display_name.to_owned(),
        roles: role_names(&roles),
        enrollment_hash: sha256_hex(token.expose_secret()),
        enrollment_expires_at: expires_at,
        created_at: now,
        created_by: admin.user.clone(),
    };
    let detail = format!("roles={}", role_names(&roles).join(","));
    ctx.store.create_user(
        &user,
        ctx.event_by(
            &admin.user,
            AuditAction::UserAdd,
            &ObjectRef::User(name.to_owned()),
            Outcome::Success,
            detail,
        ),
    )?;
    Ok(EnrollmentToken { user: name.to_owned(), token, expires_at })
}

/// `kiban user enroll`: the user sets their password with the enrollment token and receives a TOTP secret
/// and recovery codes.
///
/// # Errors
/// A wrong or expired token, a refused password, or a store failure.
pub(crate) fn enroll(ctx: &Ctx, name: &str, token: &str, password: &str) -> Result<EnrollmentOutcome> {
    let user = ctx.store.user(name).map_err(|_| anyhow!("no enrollment is open for {name}"))?;
    let now = ctx.now();
    let open = user
        .enrollment_hash
        .as_deref()
        .is_some_and(|hash| kiban_crypto::sha256_hex(token.trim().as_bytes()) == hash)
        && user.enrollment_expires_at.is_some_and(|expires| now < expires);
    if !open {
        ctx.audit_failure_by(
            name,
            AuditAction::UserEnroll,
            &ObjectRef::User(name.to_owned()),
            Outcome::Denied,
            &anyhow!("wrong or expired enrollment token"),
        );
        refuse!(
            LoginRefused,
            "no enrollment is open for {name} with this token (wrong, used or expired): ask a security administrator"
        );
    }
    let class = kiban_auth::check_password(password, name)
        .map_err(|problem| anyhow!("password refused: {problem}"))?;
    let password_hash = kiban_auth::hash_password(password, random()?)?;
    let totp = TotpSecret::from_bytes(random()?);
    let codes = kiban_auth::generate_recovery_codes(&random()?);
    let enrollment = Enrollment {
        password_hash,
        password_class: class.name().to_owned(),
        totp_sealed: seal_totp(ctx, name, &totp)?,
        recovery_hashes: codes.hashes.iter().map(|hash| hash.to_hex()).collect(),
        at: now,
    };
    let detail = format!("password class {}, {} recovery codes", class.name(), codes.codes.len());
    ctx.store.enroll_user(
        name,
        &enrollment,
        ctx.event_by(
            name,
            AuditAction::UserEnroll,
            &ObjectRef::User(name.to_owned()),
            Outcome::Success,
            detail,
        ),
    )?;
    Ok(EnrollmentOutcome { user: name.to_owned(), totp, recovery_codes: codes.codes, password_class: class })
}

/// `kiban login`: password and second factor; a session on success. Failures are counted, and the account
/// locks after [`LockoutPolicy`]'s limit. The message never says which of the two was wrong.
///
/// # Errors
/// Wrong credentials, a locked or unenrolled account, or a store failure.
pub(crate) fn login(ctx: &Ctx, name: &str, password: &str, second: SecondFactor<'_>) -> Result<LoginOutcome> {
    let object = ObjectRef::User(name.to_owned());
    let now = ctx.now();
    let refused = || {
        anyhow::Error::new(ServiceError::new(
            ErrorCode::LoginRefused,
            "login refused: wrong user name, password or code",
        ))
    };
    let Ok(user) = ctx.store.user(name) else {
        ctx.audit_failure_by(name, AuditAction::Login, &object, Outcome::Failure, &anyhow!("unknown user"));
        return Err(refused());
    };
    if user.is_locked() {
        ctx.audit_failure_by(name, AuditAction::Login, &object, Outcome::Denied, &anyhow!("account locked"));
        refuse!(AccountLocked, "account {name} is locked: a security administrator must unlock it");
    }
    let Some(password_hash) = user.password_hash.as_deref() else {
        ctx.audit_failure_by(name, AuditAction::Login, &object, Outcome::Denied, &anyhow!("not enrolled"));
        refuse!(
            LoginRefused,
            "account {name} has not enrolled yet: use `kiban user enroll` with the token from your administrator"
        );
    };
    let password_ok = kiban_auth::verify_password(password, password_hash);
    let factor = match second {
        SecondFactor::Totp(code) => {
            let secret = open_totp(ctx, &user)?;
            kiban_auth::verify_totp(&secret, code, now, user.totp_last_step)
                .ok()
                .map(|step| SecondFactorUse::Totp { step })
        }
        SecondFactor::RecoveryCode(code) => {
            let stored = ctx
                .store
                .recovery_codes(name)?
                .into_iter()
                .filter_map(|(hash, used)| {
                    kiban_auth::RecoveryCodeHash::from_hex(&hash)
                        .map(|hash| StoredRecoveryCode { hash, used })
                })
                .collect::<Vec<_>>();
            kiban_auth::use_recovery_code(&stored, code)
                .map(|matched| SecondFactorUse::RecoveryCode { index: matched.index })
        }
    };
    let (true, Some(factor)) = (password_ok, factor) else {
        let policy = LockoutPolicy::default();
        let event = ctx.event_by(
            name,
            AuditAction::Login,
            &object,
            Outcome::Failure,
            "wrong password or code".to_owned(),
        );
        let failures = ctx.store.record_login_failure(
            name,
            |failures| policy.must_lock(failures).then(|| policy.lock_reason(failures)),
            event,
        )?;
        if policy.must_lock(failures) {
            alert(ctx, name, "repeated-failures", &policy.lock_reason(failures));
        }
        return Err(refused());
    };
    let token = SessionToken::from_bytes(random()?);
    let detail = match factor {
        SecondFactorUse::Totp { .. } => "password and TOTP",
        SecondFactorUse::RecoveryCode { .. } => "password and a recovery code (now used)",
    };
    ctx.store.record_login(
        name,
        factor,
        &token.hash().to_hex(),
        ctx.event_by(name, AuditAction::Login, &object, Outcome::Success, detail.to_owned()),
    )?;
    let class = user.password_class.as_deref().and_then(PasswordClass::parse).unwrap_or(PasswordClass::Short);
    let session_policy = SessionPolicy::default();
    Ok(LoginOutcome {
        user: name.to_owned(),
        token: token.to_text(),
        idle_expiry: session_policy.idle,
        absolute_expiry: now + session_policy.absolute,
        password_expires_at: user
            .password_changed_at
            .and_then(|changed| kiban_auth::password_expires_at(class, changed)),
    })
}

/// Resolves a session token (as login returned it) to its session: the session must exist, not be ended
/// or expired, and its account must not be locked. Marks the session used.
///
/// # Errors
/// A malformed or unknown token ([`ErrorCode::Unauthenticated`]), an ended or expired session
/// ([`ErrorCode::SessionExpired`]), a locked account ([`ErrorCode::AccountLocked`]).
pub(crate) fn authenticate_with(ctx: &Ctx, token: &str) -> Result<Session> {
    let Ok(token) = SessionToken::parse(token.trim()) else {
        refuse!(Unauthenticated, "the session token is malformed: log in again")
    };
    let hash = token.hash().to_hex();
    let Some(session) = ctx.store.session(&hash)? else {
        refuse!(Unauthenticated, "the session is unknown: log in again")
    };
    if session.ended_at.is_some() {
        refuse!(SessionExpired, "the session has ended: log in again");
    }
    let now = ctx.now();
    if let Err(problem) =
        kiban_auth::session_valid(session.created_at, session.last_seen_at, now, &SessionPolicy::default())
    {
        refuse!(SessionExpired, "{problem}: log in again");
    }
    let user = ctx.store.user(&session.user)?;
    if user.is_locked() {
        refuse!(AccountLocked, "account {} is locked: a security administrator must unlock it", user.name);
    }
    ctx.store.touch_session(&hash, now)?;
    Ok(Session { user: user.name.clone(), roles: roles_of(&user), token_hash: hash })
}

/// Whether the principal's password has expired (then only a password change is allowed).
fn password_expired(ctx: &Ctx, principal: &Session) -> Result<bool> {
    let user = ctx.store.user(&principal.user)?;
    let class = user.password_class.as_deref().and_then(PasswordClass::parse).unwrap_or(PasswordClass::Short);
    Ok(user
        .password_changed_at
        .is_some_and(|changed| kiban_auth::password_expired(class, changed, ctx.now())))
}

/// Allows `action` to `principal`, or refuses it: the refusal is audited, counted as activity, and (an
/// operation outside the role) locks the account.
///
/// # Errors
/// The refusal.
pub(crate) fn authorize(ctx: &Ctx, principal: &Session, action: Action) -> Result<()> {
    if password_expired(ctx, principal)? {
        refuse!(
            PasswordExpired,
            "your password has expired (2 months for passwords under 13 characters): change it with `kiban user passwd`"
        );
    }
    if kiban_auth::is_allowed(&principal.roles, action) {
        return Ok(());
    }
    let error = anyhow!(
        "`{}` is not allowed for {} (roles: {}); this refusal is recorded",
        action.name(),
        principal.user,
        if principal.roles.is_empty() { "none".to_owned() } else { role_names(&principal.roles).join(", ") }
    );
    ctx.audit_failure_by(
        &principal.user,
        AuditAction::Refused(action),
        &ObjectRef::Authorization,
        Outcome::Denied,
        &error,
    );
    after_command(ctx, principal, action.name(), EventOutcome::Refused, 0)?;
    Err(anyhow::Error::new(ServiceError::new(ErrorCode::Forbidden, error.to_string())))
}

/// The anomaly policy of this data directory: `{data_dir}/security.toml`, else the defaults.
///
/// ```toml
/// [anomaly]
/// allowed_hours = "07:00-22:00"   # Japan time; "00:00-00:00" allows every hour
/// max_exports_per_hour = 5
/// max_rows_per_day = 1000000
/// max_failures_per_hour = 5
/// ```
///
/// # Errors
/// When the file exists but is malformed.
pub fn anomaly_policy(data_dir: &Path) -> Result<AnomalyPolicy> {
    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct File {
        #[serde(default)]
        anomaly: Anomaly,
    }
    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct Anomaly {
        allowed_hours: Option<String>,
        max_exports_per_hour: Option<u32>,
        max_rows_per_day: Option<u64>,
        max_failures_per_hour: Option<u32>,
    }
    let mut policy = AnomalyPolicy::default();
    let path = data_dir.join("security.toml");
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(policy) };
    let file: File = toml::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
    let anomaly = file.anomaly;
    if let Some(hours) = anomaly.allowed_hours {
        let (start, end) = hours
            .split_once('-')
            .and_then(|(start, end)| {
                Some((
                    NaiveTime::parse_from_str(start.trim(), "%H:%M").ok()?,
                    NaiveTime::parse_from_str(end.trim(), "%H:%M").ok()?,
                ))
            })
            .ok_or_else(|| anyhow!("{}: allowed_hours must look like \"07:00-22:00\"", path.display()))?;
        policy.allowed_hours_jst = AllowedHours { start, end };
    }
    if let Some(value) = anomaly.max_exports_per_hour {
        policy.max_exports_per_hour = value;
    }
    if let Some(value) = anomaly.max_rows_per_day {
        policy.max_rows_per_day = value;
    }
    if let Some(value) = anomaly.max_failures_per_hour {
        policy.max_failures_per_hour = value;
    }
    Ok(policy)
}

/// Records what `principal` just did and runs the anomaly rules over their last 24 hours; an anomaly
/// locks the account (ending its sessions), is audited and raises an alert. Returns the anomalies found.
///
/// # Errors
/// A store failure, or a malformed `security.toml`.
pub(crate) fn after_command(
    ctx: &Ctx,
    principal: &Session,
    action: &str,
    outcome: EventOutcome,
    rows: u64,
) -> Result<Vec<kiban_auth::Anomaly>> {
    let now = ctx.now();
    let outcome_name = match outcome {
        EventOutcome::Success => "success",
        EventOutcome::Refused => "refused",
        EventOutcome::Failed => "failed",
    };
    let recent: Vec<ActivityEvent> = ctx
        .store
        .activity_since(&principal.user, now - TimeDelta::hours(24))?
        .into_iter()
        .map(|activity| ActivityEvent {
            at: activity.at,
            user: activity.user,
            action: activity.action,
            outcome: match activity.outcome.as_str() {
                "success" => EventOutcome::Success,
                "refused" => EventOutcome::Refused,
                _ => EventOutcome::Failed,
            },
            rows: activity.n_rows,
        })
        .collect();
    let event =
        ActivityEvent { at: now, user: principal.user.clone(), action: action.to_owned(), outcome, rows };
    let anomalies = kiban_auth::detect(&anomaly_policy(&ctx.data_dir)?, &recent, &event);
    ctx.store.record_activity(&Activity {
        user: principal.user.clone(),
        at: now,
        action: action.to_owned(),
        outcome: outcome_name.to_owned(),
        n_rows: rows,
    })?;
    if !anomalies.is_empty() {
        let reason = anomalies
            .iter()
            .map(|anomaly| format!("{}: {}", anomaly.kind.name(), anomaly.reason))
            .collect::<Vec<_>>()
            .join("; ");
        let user = ctx.store.user(&principal.user)?;
        if !user.is_locked() {
            let event = ctx.event_by(
                "kiban-anomaly",
                AuditAction::SecurityLock,
                &ObjectRef::User(principal.user.clone()),
                Outcome::Success,
                reason.clone(),
            );
            ctx.store.lock_user(&principal.user, &reason, event)?;
        }
        alert(ctx, &principal.user, "anomaly", &reason);
    }
    Ok(anomalies)
}

/// Raises an alert: stderr and `{data_dir}/alerts.log` (time, user, kind, reason; no patient data).
fn alert(ctx: &Ctx, user: &str, kind: &str, reason: &str) {
    let line = format!("{}\t{user}\t{kind}\t{reason}", ctx.now().to_rfc3339());
    eprintln!("ALERT: {kind} on account {user}: {reason}");
    let path = ctx.data_dir.join("alerts.log");
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| writeln!(file, "{line}"));
    if let Err(error) = written {
        tracing::error!(%error, path = %path.display(), "could not write the alert log");
    }
}

/// `kiban user passwd`: a user changes their own password, giving the current one.
///
/// # Errors
/// A wrong current password, a refused new one, or a store failure.
pub(crate) fn change_password(
    ctx: &Ctx,
    principal: &Session,
    current: &str,
    new: &str,
) -> Result<PasswordClass> {
    let user = ctx.store.user(&principal.user)?;
    let object = ObjectRef::User(principal.user.clone());
    if !user.password_hash.as_deref().is_some_and(|hash| kiban_auth::verify_password(current, hash)) {
        ctx.audit_failure_by(
            &principal.user,
            AuditAction::UserPasswd,
            &object,
            Outcome::Denied,
            &anyhow!("wrong current password"),
        );
        bail!("the current password is wrong");
    }
    if current == new {
        bail!("the new password must differ from the current one");
    }
    let class = kiban_auth::check_password(new, &principal.user)
        .map_err(|problem| anyhow!("password refused: {problem}"))?;
    let hash = kiban_auth::hash_password(new, random()?)?;
    let event = ctx.event_by(
        &principal.user,
        AuditAction::UserPasswd,
        &object,
        Outcome::Success,
        format!("password class {}", class.name()),
    );
    ctx.store.set_password(&principal.user, &hash, class.name(), ctx.now(), event)?;
    Ok(class)
}

/// `kiban user reset`: another security administrator voids a user's password and second factor after
/// checking their identity (recorded), and issues a new enrollment token.
///
/// # Errors
/// Not allowed (own account, no identity check), or a store failure.
pub(crate) fn reset_user(
    ctx: &Ctx,
    admin: &Session,
    name: &str,
    identity_check: &str,
) -> Result<EnrollmentToken> {
    kiban_auth::check_admin_reset(&admin.user, &admin.roles, name, identity_check)?;
    ctx.store.user(name)?;
    let token = SessionToken::from_bytes(random()?).to_text();
    let expires_at = ctx.now() + ENROLLMENT_VALIDITY;
    let event = ctx.event_by(
        &admin.user,
        AuditAction::UserReset,
        &ObjectRef::User(name.to_owned()),
        Outcome::Success,
        format!("identity check: {identity_check}"),
    );
    ctx.store.reset_user(name, &sha256_hex(token.expose_secret()), expires_at, event)?;
    Ok(EnrollmentToken { user: name.to_owned(), token, expires_at })
}

/// `kiban user lock`.
///
/// # Errors
/// No reason given, or a store failure.
pub(crate) fn lock_user(ctx: &Ctx, admin: &Session, name: &str, reason: &str) -> Result<()> {
    if reason.trim().is_empty() {
        bail!("give a --reason for locking {name}");
    }
    let event = ctx.event_by(
        &admin.user,
        AuditAction::UserLock,
        &ObjectRef::User(name.to_owned()),
        Outcome::Success,
        reason.to_owned(),
    );
    ctx.store.lock_user(name, reason, event)?;
    Ok(())
}

/// `kiban user unlock`: by a security administrator who is not the user, with a recorded reason.
///
/// # Errors
/// Not allowed (own account, no reason), or a store failure.
pub(crate) fn unlock_user(ctx: &Ctx, admin: &Session, name: &str, reason: &str) -> Result<()> {
    kiban_auth::check_unlock(&admin.user, &admin.roles, name, reason)?;
    let event = ctx.event_by(
        &admin.user,
        AuditAction::UserUnlock,
        &ObjectRef::User(name.to_owned()),
        Outcome::Success,
        reason.to_owned(),
    );
    ctx.store.unlock_user(name, event)?;
    Ok(())
}

/// `kiban user recover`: the break-glass unlock of the last security administrator, for the one case the
/// four-eyes unlock cannot serve (no other security administrator is unlocked). It runs without a
/// session; the operator proves their authority by presenting the key-encryption key itself (the key
/// file, named explicitly): it must be the KEK this process runs with, and the keys it opens must open
/// what the database already holds (the account's sealed TOTP secret), so a key store swapped for an
/// empty one does not pass. It lifts only an automatic lock (the anomaly stop, repeated failed logins),
/// never one an administrator set on purpose. Every outcome is audited as `user.break-glass`; success is
/// alerted like an anomaly stop.
///
/// # Errors
/// No reason, a key that is not this deployment's KEK, an account that is not a locked security
/// administrator, a lock set by an administrator, another security administrator who can unlock instead,
/// or a store failure.
pub(crate) fn break_glass_unlock(
    ctx: &Ctx,
    name: &str,
    key: &kiban_crypto::SecretKey,
    reason: &str,
) -> Result<()> {
    if reason.trim().is_empty() {
        bail!("give a --reason for the break-glass unlock (it is kept in the audit log)");
    }
    let object = ObjectRef::User(name.to_owned());
    if let Err(error) = check_break_glass(ctx, name, key) {
        ctx.audit_failure_by("break-glass", AuditAction::UserBreakGlass, &object, Outcome::Denied, &error);
        return Err(error);
    }
    let detail = format!("break-glass with the key-encryption key; reason: {reason}");
    ctx.store.unlock_user(
        name,
        ctx.event_by("break-glass", AuditAction::UserBreakGlass, &object, Outcome::Success, detail),
    )?;
    alert(ctx, name, "break-glass unlock", reason);
    Ok(())
}

fn check_break_glass(ctx: &Ctx, name: &str, key: &kiban_crypto::SecretKey) -> Result<()> {
    let not_the_kek = || anyhow!("the key file is not this deployment's key-encryption key");
    if kiban_crypto::Kek::from_master(key).id() != ctx.store.keys()?.kek.id() {
        return Err(not_the_kek());
    }
    let user = ctx.store.user(name)?;
    let admin_role = Role::SecurityAdmin.name();
    if !user.roles.iter().any(|role| role == admin_role) || !user.is_locked() {
        bail!("break-glass unlocks a locked security administrator only; {name} is not one");
    }
    // The deployment key this process opened must be the one the database's secrets were sealed under.
    open_totp(ctx, &user).map_err(|_| not_the_kek())?;
    let object = ObjectRef::User(name.to_owned());
    let last_lock_change = ctx.store.audit_entries()?.into_iter().rev().find(|entry| {
        entry.event.object == object.to_string()
            && matches!(
                entry.event.action.as_str(),
                "user.lock" | "user.unlock" | "security.lock" | "user.break-glass" | "user.reset"
            )
            && entry.event.outcome == Outcome::Success
    });
    if let Some(entry) = last_lock_change.filter(|entry| entry.event.action == "user.lock") {
        bail!(
            "{name} was locked by the administrator {}: break-glass lifts only automatic locks",
            entry.event.actor
        );
    }
    let others: Vec<String> = ctx
        .store
        .users()?
        .into_iter()
        .filter(|other| {
            other.name != user.name
                && !other.is_locked()
                && other.password_hash.is_some()
                && other.roles.iter().any(|role| role == admin_role)
        })
        .map(|other| other.name)
        .collect();
    if !others.is_empty() {
        bail!(
            "{} can unlock {name} with `kiban user unlock`: break-glass is only for when no other security administrator can",
            others.join(", ")
        );
    }
    Ok(())
}

/// `kiban user roles`: replaces a user's roles; nobody changes their own.
///
/// # Errors
/// Own account, unknown role, or a store failure.
pub(crate) fn set_roles(ctx: &Ctx, admin: &Session, name: &str, roles: &[String]) -> Result<Vec<Role>> {
    if admin.user.eq_ignore_ascii_case(name) {
        bail!("administrators may not change their own roles; another security administrator must");
    }
    let roles = parse_roles(roles)?;
    let names = role_names(&roles);
    let event = ctx.event_by(
        &admin.user,
        AuditAction::UserRoles,
        &ObjectRef::User(name.to_owned()),
        Outcome::Success,
        format!("roles={}", names.join(",")),
    );
    ctx.store.set_roles(name, &names, event)?;
    Ok(roles)
}

/// Ends the session of `token` (logout). Returns whose it was.
///
/// # Errors
/// A malformed or unknown token, or a store failure.
pub(crate) fn logout(ctx: &Ctx, token: &str) -> Result<String> {
    let Ok(token) = SessionToken::parse(token.trim()) else {
        refuse!(Unauthenticated, "the session token is malformed")
    };
    let hash = token.hash().to_hex();
    let Some(session) = ctx.store.session(&hash)? else { refuse!(Unauthenticated, "the session is unknown") };
    ctx.store.end_session(
        &hash,
        ctx.event_by(
            &session.user,
            AuditAction::Logout,
            &ObjectRef::User(session.user.clone()),
            Outcome::Success,
            String::new(),
        ),
    )?;
    Ok(session.user)
}

/// `kiban keys rotate`: re-wraps every key of the key store under the new KEK (the vault's files are not
/// touched), and, when the KEK came from the default key file, replaces that file.
///
/// # Errors
/// A key under neither KEK, or a file failure.
pub(crate) fn rotate_keys(
    ctx: &Ctx,
    admin: &Session,
    new_kek: &SecretKey,
) -> Result<(kiban_store::Rotation, String)> {
    let keys = ctx.store.keys()?;
    let new = kiban_crypto::Kek::from_master(new_kek);
    let rotation = keys.keystore.rotate(&keys.kek, &new)?;
    let detail = format!(
        "KEK {} -> {}: {} keys re-wrapped, {} already current",
        keys.kek.id(),
        new.id(),
        rotation.rewrapped,
        rotation.already_current
    );
    ctx.store.append_audit(ctx.event_by(
        &admin.user,
        AuditAction::KeysRotate,
        &ObjectRef::Keystore,
        Outcome::Success,
        detail,
    ))?;
    let note = match crate::keys::kek_source(&ctx.data_dir) {
        crate::keys::KekSource::File(path) if std::env::var_os("KIBAN_KEY_FILE").is_none() => {
            crate::keys::replace_key_file(&path, new_kek)?;
            format!("the key file {} now holds the new KEK", path.display())
        }
        crate::keys::KekSource::File(path) => {
            format!("put the new KEK in {} (KIBAN_KEY_FILE) before the next command", path.display())
        }
        crate::keys::KekSource::Environment => {
            "set KIBAN_MASTER_KEY to the new KEK before the next command".to_owned()
        }
    };
    Ok((rotation, note))
}

/// What `kiban delete` did.
#[derive(Debug)]
pub struct DeletionOutcome {
    pub object: String,
    pub key_destroyed: bool,
    pub files_removed: usize,
}

/// `kiban delete batch N`: records the deletion (Rule 19: date, items), then destroys the batch's data key
/// (crypto-shredding) and removes its vault files. A deletion that was interrupted finishes when run again.
///
/// # Errors
/// An unknown batch, no reason, or a store or file failure.
pub(crate) fn delete_batch(
    ctx: &Ctx,
    admin: &Session,
    batch: kiban_store::BatchId,
    reason: &str,
) -> Result<DeletionOutcome> {
    if reason.trim().is_empty() {
        bail!("give a --reason for the deletion (it is kept in the deletion record for 3 years)");
    }
    let info = ctx.store.batch(batch)?;
    let object = ObjectRef::Batch(batch.0);
    let receipt_persons = ctx
        .store
        .receipts()?
        .into_iter()
        .find(|receipt| receipt.batch == batch)
        .map_or(0, |receipt| receipt.n_persons);
    let now = ctx.now();
    let record = DeletionRecord {
        object: object.to_string(),
        deleted_on: now.date_naive(),
        items: kiban_columnar::RECORD_TABLES.iter().map(|table| (*table).to_owned()).collect(),
        n_persons: receipt_persons,
        reason: reason.to_owned(),
        actor: admin.user.clone(),
        recorded_at: now,
        retain_until: now.date_naive(),
    };
    let detail = format!("provider {}, {} persons; reason: {reason}", info.provider, receipt_persons);
    ctx.store.record_deletion(
        &record,
        ctx.event_by(&admin.user, AuditAction::DeleteBatch, &object, Outcome::Success, detail),
    )?;
    let key_destroyed = ctx.store.keys()?.keystore.destroy(&object.to_string())?;
    let dir = ctx.store.batch_vault_dir(batch);
    let mut files_removed = 0;
    if dir.exists() {
        files_removed =
            std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))?.count();
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    Ok(DeletionOutcome { object: object.to_string(), key_destroyed, files_removed })
}

/// `kiban delete release ID`: records the deletion (Rule 19), destroys the release's data key (if it has
/// one) and removes its folder. The provision ledger line stays (it is a legal record of its own).
///
/// # Errors
/// An unknown release, no reason, or a store or file failure.
pub(crate) fn delete_release(
    ctx: &Ctx,
    admin: &Session,
    release_id: &str,
    reason: &str,
) -> Result<DeletionOutcome> {
    if reason.trim().is_empty() {
        bail!("give a --reason for the deletion (it is kept in the deletion record for 3 years)");
    }
    let release = ctx
        .store
        .releases()?
        .into_iter()
        .find(|release| release.record.release_id == release_id)
        .ok_or_else(|| anyhow!("release {release_id} does not exist"))?
        .record;
    let object = ObjectRef::Release(release_id.to_string());
    let now = ctx.now();
    let record = DeletionRecord {
        object: object.to_string(),
        deleted_on: now.date_naive(),
        items: release.items.clone(),
        n_persons: release.n_persons,
        reason: reason.to_owned(),
        actor: admin.user.clone(),
        recorded_at: now,
        retain_until: now.date_naive(),
    };
    let detail = format!("{} persons; reason: {reason}", release.n_persons);
    ctx.store.record_deletion(
        &record,
        ctx.event_by(&admin.user, AuditAction::DeleteRelease, &object, Outcome::Success, detail),
    )?;
    let key_destroyed = ctx.store.keys()?.keystore.destroy(&object.to_string())?;
    let dir = ctx.data_dir.join("releases").join(release_id);
    let mut files_removed = 0;
    if dir.exists() {
        files_removed = walk_count(&dir);
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    Ok(DeletionOutcome { object: object.to_string(), key_destroyed, files_removed })
}

fn walk_count(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .map(|entry| if entry.path().is_dir() { walk_count(&entry.path()) } else { 1 })
            .sum()
    })
}

/// The operations that run before (or without) a session: each returns what the user is shown once.
impl crate::App {
    /// `kiban init`: the first security administrator, enrolled at once. Refused once any account exists.
    ///
    /// # Errors
    /// [`ErrorCode::Conflict`] when accounts exist; a refused name or password.
    pub fn init_admin(
        &self,
        name: &str,
        display_name: &str,
        password: &str,
    ) -> Result<EnrollmentOutcome, ServiceError> {
        Ok(init_admin(&self.as_actor(name), name, display_name, password)?)
    }

    /// A user sets their password with their enrollment token and receives their TOTP secret and
    /// recovery codes.
    ///
    /// # Errors
    /// A wrong or expired token, a refused password.
    pub fn enroll(&self, name: &str, token: &str, password: &str) -> Result<EnrollmentOutcome, ServiceError> {
        Ok(enroll(&self.as_actor(name), name, token, password)?)
    }

    /// Password and second factor: a session token on success (shown once). Failures are counted and
    /// lock the account at the lockout limit; the message never says which factor was wrong.
    ///
    /// # Errors
    /// [`ErrorCode::LoginRefused`], [`ErrorCode::AccountLocked`].
    pub fn login(
        &self,
        name: &str,
        password: &str,
        second: SecondFactor<'_>,
    ) -> Result<LoginOutcome, ServiceError> {
        Ok(login(&self.as_actor(name), name, password, second)?)
    }

    /// The session of a token: the only way to get a [`Session`].
    ///
    /// # Errors
    /// [`ErrorCode::Unauthenticated`], [`ErrorCode::SessionExpired`], [`ErrorCode::AccountLocked`].
    pub fn authenticate(&self, token: &str) -> Result<Session, ServiceError> {
        Ok(authenticate_with(&self.as_actor("anonymous"), token)?)
    }

    /// Ends the session of `token`; returns whose it was.
    ///
    /// # Errors
    /// An unknown token, a store failure.
    pub fn logout(&self, token: &str) -> Result<String, ServiceError> {
        Ok(logout(&self.as_actor("anonymous"), token)?)
    }

    /// A user changes their own password (allowed with an expired one).
    ///
    /// # Errors
    /// A wrong current password, a refused new one.
    pub fn change_password(
        &self,
        session: &Session,
        current: &str,
        new: &str,
    ) -> Result<PasswordClass, ServiceError> {
        Ok(change_password(&self.as_actor(&session.user), session, current, new)?)
    }

    /// Break-glass: unlocks the last security administrator when no other can, proving authority with the
    /// KEK itself (audited and alerted).
    ///
    /// # Errors
    /// A key that is not this deployment's KEK, or an account not eligible.
    pub fn break_glass_unlock(&self, name: &str, key: &SecretKey, reason: &str) -> Result<(), ServiceError> {
        Ok(break_glass_unlock(&self.as_actor("break-glass"), name, key, reason)?)
    }

    /// Records what `session` did outside the service (a download a frontend served) and runs the anomaly
    /// rules over the user's last 24 hours; an anomaly locks the account. Returns the anomalies found.
    ///
    /// # Errors
    /// A store failure, or a malformed `security.toml`.
    pub fn report_activity(
        &self,
        session: &Session,
        action: &str,
        outcome: EventOutcome,
        rows: u64,
    ) -> Result<Vec<kiban_auth::Anomaly>, ServiceError> {
        Ok(after_command(&self.as_actor(&session.user), session, action, outcome, rows)?)
    }

    /// Records a refused break-glass attempt whose key file did not even read.
    pub fn audit_break_glass_refusal(&self, name: &str, error: &ServiceError) {
        self.as_actor("break-glass").audit_failure_by(
            "break-glass",
            AuditAction::UserBreakGlass,
            &ObjectRef::User(name.to_owned()),
            Outcome::Denied,
            &anyhow!("{error}"),
        );
    }
}
