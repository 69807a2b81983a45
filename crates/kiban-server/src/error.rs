//! The one error type of the HTTP layer and the one place that picks status codes.
//!
//! A JSON client gets `{"code": "...", "message": "..."}` with a stable code (the service's
//! [`ErrorCode`], or one of the HTTP layer's own: `rate_limited`, `csrf`, `bad_request`); a browser gets
//! the same message on a page (see `ui.rs`). Messages come from the service, which never puts a patient's
//! value or a secret in one.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kiban_service::{ErrorCode, ServiceError};
use serde::Serialize;

/// A refused or failed HTTP request.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// The service refused or failed.
    Service(ServiceError),
    /// Too many login attempts from one address or for one user; try again after the given seconds.
    RateLimited { retry_after_secs: u64 },
    /// A state-changing request without the session's CSRF token, or from another origin.
    Csrf,
    /// A malformed request the service never saw (a bad form field, a bad query).
    BadRequest(String),
    /// A body larger than this server accepts.
    TooLarge(String),
    /// No such route or object in this zone.
    NotFound,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    /// The stable code a client branches on.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            ApiError::Service(error) => error.code().as_str(),
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Csrf => "csrf",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::TooLarge(_) => "too_large",
            ApiError::NotFound => "not_found",
        }
    }

    /// The message a person reads.
    pub(crate) fn message(&self) -> String {
        match self {
            ApiError::Service(error) => error.message().to_owned(),
            ApiError::RateLimited { retry_after_secs } => {
                format!("too many login attempts: try again in {retry_after_secs} seconds")
            }
            ApiError::Csrf => {
                "the request lacks this session's CSRF token or comes from another site: reload the page"
                    .to_owned()
            }
            ApiError::BadRequest(message) | ApiError::TooLarge(message) => message.clone(),
            ApiError::NotFound => "no such page or object".to_owned(),
        }
    }

    /// The HTTP status: the only place one is chosen for an error.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::Service(error) => {
                StatusCode::from_u16(error.code().http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Csrf => StatusCode::FORBIDDEN,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotFound => StatusCode::NOT_FOUND,
        }
    }

    /// Whether signing in again is the way on (no session, or it ended).
    pub(crate) fn needs_login(&self) -> bool {
        matches!(
            self,
            ApiError::Service(error)
                if matches!(error.code(), ErrorCode::Unauthenticated | ErrorCode::SessionExpired)
        )
    }

    pub(crate) fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> ApiError {
        ApiError::Service(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(code = self.code(), message = %self.message(), "request failed");
        }
        let message = self.message();
        let mut response =
            (status, axum::Json(Body { code: self.code(), message: &message })).into_response();
        if let Some(value) = self.retry_after().and_then(|secs| HeaderValue::from_str(&secs.to_string()).ok())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}
