//! Who is asking: the session cookie, its CSRF token, and the login rate limit.
//!
//! - The session token (from [`kiban_service::App::login`]) travels only in the `kiban_session` cookie:
//!   `HttpOnly` (no script reads it), `Secure`, `SameSite=Strict` (no other site's page sends it). The
//!   server keeps nothing of it: each request resolves it through [`kiban_service::App::authenticate`],
//!   which applies the idle and absolute limits and the account's lock.
//! - Every state-changing request carries the session's CSRF token (a hidden form field `csrf` or the
//!   `X-CSRF-Token` header), derived from the session token by SHA-256, so only a page that could read
//!   the session can send it; a request whose `Origin` is not this server is refused too. [`Mutation`]
//!   is the extractor that checks both: a handler that changes state takes one, and cannot forget.
//! - Logins are rate-limited per client address and per user name (beside the account lockout, which
//!   the service applies after repeated failures).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, header, request::Parts};
use kiban_service::{ErrorCode, ServiceError, Session};
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq as _;

use crate::ServerState;
use crate::error::ApiError;

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "kiban_session";
/// The form field and header that carry the CSRF token.
pub(crate) const CSRF_FIELD: &str = "csrf";
const CSRF_HEADER: &str = "x-csrf-token";

/// The `Set-Cookie` value that starts a session in the browser.
pub(crate) fn session_cookie(token: &str) -> String {
    format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; Secure; SameSite=Strict")
}

/// The `Set-Cookie` value that forgets the session.
pub(crate) fn clear_session_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0")
}

/// The CSRF token of a session token: a one-way function of it, so it proves the page could read the
/// session and reveals nothing of the session itself.
pub(crate) fn csrf_token(session_token: &str) -> String {
    kiban_crypto::sha256_hex(format!("kiban-csrf\0{session_token}").as_bytes())
}

/// A cookie's value from the request's `Cookie` headers.
pub(crate) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(key, value)| (key == name).then_some(value))
}

/// A request made in a valid session.
pub(crate) struct Authed {
    pub(crate) session: Session,
    pub(crate) csrf: String,
    /// The session token, for logout.
    pub(crate) token: String,
}

impl FromRequestParts<Arc<ServerState>> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<ServerState>) -> Result<Authed, ApiError> {
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE).filter(|token| !token.is_empty()) else {
            return Err(ApiError::Service(ServiceError::new(
                ErrorCode::Unauthenticated,
                "sign in first: this request needs a session",
            )));
        };
        let token = token.to_owned();
        let app = Arc::clone(&state.app);
        let lookup = token.clone();
        let session = crate::blocking(move || app.authenticate(&lookup)).await??;
        Ok(Authed { session, csrf: csrf_token(&token), token })
    }
}

/// Refuses a state-changing request sent from another origin (the `Origin` header, when the browser
/// sends one, must name this server's host).
pub(crate) fn check_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN) else { return Ok(()) };
    let host = headers.get(header::HOST).and_then(|host| host.to_str().ok()).unwrap_or_default();
    let origin = origin.to_str().unwrap_or_default();
    let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
    if origin_host.is_empty() || origin_host != host {
        return Err(ApiError::Csrf);
    }
    Ok(())
}

/// A state-changing request: a valid session, this session's CSRF token, a same-origin request, and the
/// body (a form or JSON) parsed as `T`.
pub(crate) struct Mutation<T> {
    pub(crate) authed: Authed,
    pub(crate) body: T,
}

#[derive(serde::Deserialize)]
struct CsrfField {
    csrf: Option<String>,
}

impl<T: DeserializeOwned + Send> FromRequest<Arc<ServerState>> for Mutation<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &Arc<ServerState>) -> Result<Mutation<T>, ApiError> {
        let (mut parts, body) = request.into_parts();
        check_origin(&parts.headers)?;
        let authed = Authed::from_request_parts(&mut parts, state).await?;
        let is_json = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("application/json"));
        let header_token =
            parts.headers.get(CSRF_HEADER).and_then(|value| value.to_str().ok()).map(str::to_owned);
        let request = Request::from_parts(parts, body);
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|error| ApiError::BadRequest(format!("reading the request body: {error}")))?;
        let (given, body) = if is_json {
            let body =
                if bytes.is_empty() { serde_json::from_slice(b"{}") } else { serde_json::from_slice(&bytes) }
                    .map_err(|error| ApiError::BadRequest(format!("the JSON body does not fit: {error}")))?;
            (header_token, body)
        } else {
            let field: CsrfField = serde_urlencoded::from_bytes(&bytes)
                .map_err(|error| ApiError::BadRequest(format!("the form does not fit: {error}")))?;
            let body = serde_urlencoded::from_bytes(&bytes)
                .map_err(|error| ApiError::BadRequest(format!("the form does not fit: {error}")))?;
            (header_token.or(field.csrf), body)
        };
        let matches = given.is_some_and(|given| bool::from(given.as_bytes().ct_eq(authed.csrf.as_bytes())));
        if !matches {
            return Err(ApiError::Csrf);
        }
        Ok(Mutation { authed, body })
    }
}

/// The client's address (the server runs with connect info).
pub(crate) fn client_address(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ConnectInfo<crate::tls::ClientAddr>>()
        .map_or_else(|| "unknown".to_owned(), |info| info.0.0.ip().to_string())
}

/// Login attempts per key (a client address, a user name) in a sliding minute.
pub(crate) struct LoginLimiter {
    per_minute: usize,
    attempts: Mutex<HashMap<String, VecDeque<Instant>>>,
}

const WINDOW: Duration = Duration::from_secs(60);

impl LoginLimiter {
    pub(crate) fn new(per_minute: usize) -> LoginLimiter {
        LoginLimiter { per_minute, attempts: Mutex::new(HashMap::new()) }
    }

    /// Counts one attempt under each key; refuses when any key already had its fill this minute.
    pub(crate) fn attempt(&self, keys: &[String]) -> Result<(), ApiError> {
        let now = Instant::now();
        let mut attempts = self.attempts.lock().unwrap_or_else(PoisonError::into_inner);
        // Forget what has left the window, so the map holds only recent keys.
        attempts.retain(|_, times| {
            while times.front().is_some_and(|at| now.duration_since(*at) >= WINDOW) {
                times.pop_front();
            }
            !times.is_empty()
        });
        let full = keys
            .iter()
            .filter_map(|key| attempts.get(key))
            .filter(|times| times.len() >= self.per_minute)
            .filter_map(|times| times.front())
            .map(|oldest| WINDOW.saturating_sub(now.duration_since(*oldest)).as_secs().max(1))
            .max();
        if let Some(retry_after_secs) = full {
            return Err(ApiError::RateLimited { retry_after_secs });
        }
        for key in keys {
            attempts.entry(key.clone()).or_default().push_back(now);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_refuses_past_the_limit_per_key() {
        let limiter = LoginLimiter::new(2);
        let keys = |ip: &str, user: &str| [format!("ip:{ip}"), format!("user:{user}")];
        limiter.attempt(&keys("a", "u1")).unwrap();
        limiter.attempt(&keys("a", "u2")).unwrap();
        assert!(
            matches!(limiter.attempt(&keys("a", "u3")), Err(ApiError::RateLimited { .. })),
            "address full"
        );
        limiter.attempt(&keys("b", "u3")).unwrap();
        limiter.attempt(&keys("c", "u3")).unwrap();
        assert!(limiter.attempt(&keys("d", "u3")).is_err(), "user full, from any address");
    }

    #[test]
    fn cookies_are_found_among_others_and_the_csrf_token_is_not_the_session() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, "lang=ja; kiban_session=abc; x=y".parse().unwrap());
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, "lang"), Some("ja"));
        assert_eq!(cookie(&headers, "none"), None);
        assert_ne!(csrf_token("abc"), "abc");
        assert_eq!(csrf_token("abc"), csrf_token("abc"));
        assert_ne!(csrf_token("abc"), csrf_token("abd"));
    }

    #[test]
    fn a_foreign_origin_is_refused() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "127.0.0.1:8443".parse().unwrap());
        assert!(check_origin(&headers).is_ok(), "no Origin: a non-browser client");
        headers.insert(header::ORIGIN, "https://127.0.0.1:8443".parse().unwrap());
        assert!(check_origin(&headers).is_ok());
        headers.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        assert!(matches!(check_origin(&headers), Err(ApiError::Csrf)));
        headers.insert(header::ORIGIN, "null".parse().unwrap());
        assert!(check_origin(&headers).is_err());
    }
}
