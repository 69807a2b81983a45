//! The one error type of the service: a stable code a program can branch on, and a message a person can
//! read. Messages name what and where, never a patient's value or a secret.

use std::fmt;

/// What kind of failure, as a stable code (the HTTP API's `code` field; a boundary: clients branch on it).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ErrorCode {
    /// No session, or a malformed session token.
    Unauthenticated,
    /// The session ended, idled out or reached its absolute limit.
    SessionExpired,
    /// Login refused (which factor was wrong is never said).
    LoginRefused,
    /// The account is locked (failed logins, an anomaly, or an administrator).
    AccountLocked,
    /// The password expired: only a password change is allowed.
    PasswordExpired,
    /// The user's roles do not allow the operation (recorded, and the account locked).
    Forbidden,
    /// The request is malformed or breaks a rule (a bad policy, an unknown role, a refused password).
    InvalidRequest,
    /// What the request names does not exist.
    NotFound,
    /// The request conflicts with the current state (a duplicate, a second init, an already-made decision).
    Conflict,
    /// Every database connection stayed busy: try again.
    Busy,
    /// The operation failed part-way; nothing half-done was kept (see the message).
    Failed,
}

impl ErrorCode {
    /// The code's stable text.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::SessionExpired => "session_expired",
            ErrorCode::LoginRefused => "login_refused",
            ErrorCode::AccountLocked => "account_locked",
            ErrorCode::PasswordExpired => "password_expired",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::Busy => "busy",
            ErrorCode::Failed => "failed",
        }
    }

    /// The HTTP status a server answers with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::Unauthenticated | ErrorCode::SessionExpired | ErrorCode::LoginRefused => 401,
            ErrorCode::AccountLocked | ErrorCode::PasswordExpired | ErrorCode::Forbidden => 403,
            ErrorCode::InvalidRequest => 400,
            ErrorCode::NotFound => 404,
            ErrorCode::Conflict => 409,
            ErrorCode::Busy => 503,
            ErrorCode::Failed => 500,
        }
    }
}

/// A refused or failed service operation.
#[derive(Debug)]
pub struct ServiceError {
    code: ErrorCode,
    message: String,
}

impl ServiceError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ServiceError {
        ServiceError { code, message: message.into() }
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The message, with its causes (`: `-joined).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ServiceError {}

/// Inside the service, operations use `anyhow` with context; at the boundary an error keeps the code of
/// the [`ServiceError`] it was raised as (under any context added since), and is [`ErrorCode::Failed`]
/// otherwise ([`ErrorCode::Busy`] for a busy store).
impl From<anyhow::Error> for ServiceError {
    fn from(error: anyhow::Error) -> ServiceError {
        if let Some(service) = error.downcast_ref::<ServiceError>() {
            // Raised as a ServiceError, perhaps with context added since: keep the code, show the context.
            return ServiceError { code: service.code, message: format!("{error:#}") };
        }
        let code = error
            .chain()
            .find_map(|cause| {
                if let Some(service) = cause.downcast_ref::<ServiceError>() {
                    return Some(service.code);
                }
                match cause.downcast_ref::<kiban_store::StoreError>() {
                    Some(kiban_store::StoreError::Busy { .. }) => Some(ErrorCode::Busy),
                    _ => None,
                }
            })
            .unwrap_or(ErrorCode::Failed);
        ServiceError { code, message: format!("{error:#}") }
    }
}

impl From<kiban_store::StoreError> for ServiceError {
    fn from(error: kiban_store::StoreError) -> ServiceError {
        ServiceError::from(anyhow::Error::new(error))
    }
}

/// Raises a [`ServiceError`] with `code` inside an `anyhow` function.
macro_rules! refuse {
    ($code:ident, $($message:tt)+) => {
        return Err(anyhow::Error::new($crate::error::ServiceError::new(
            $crate::error::ErrorCode::$code,
            format!($($message)+),
        )))
    };
}
pub(crate) use refuse;

#[cfg(test)]
mod tests {
    use super::*;

    fn raised(code: ErrorCode) -> anyhow::Result<()> {
        refuse!(Forbidden, "not allowed for {code:?}")
    }

    #[test]
    fn a_code_survives_context_and_plain_errors_are_failed() {
        let error =
            raised(ErrorCode::Forbidden).map_err(|error| error.context("running ledger")).unwrap_err();
        let service = ServiceError::from(error);
        assert_eq!(service.code(), ErrorCode::Forbidden);
        assert!(service.message().starts_with("running ledger: not allowed"), "{}", service.message());
        let plain = ServiceError::from(anyhow::anyhow!("disk full"));
        assert_eq!((plain.code(), plain.code().http_status()), (ErrorCode::Failed, 500));
        let busy = ServiceError::from(kiban_store::StoreError::Busy { waited_secs: 30 });
        assert_eq!(busy.code().as_str(), "busy");
    }
}
