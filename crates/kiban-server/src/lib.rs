//! kiban over HTTP: the JSON API and the staff web UI, on [`kiban_service`].
//!
//! The server holds no business rule: every handler turns its input into a [`kiban_service::Request`]
//! and runs it through [`kiban_service::App::execute`] (which authorizes, runs, audits and checks for
//! anomalies), or calls one of the service's session operations (login, logout). The service is
//! synchronous (the store's drivers block), so every call runs on tokio's blocking pool ([`blocking`]),
//! never on an async worker.
//!
//! - `error.rs`: [`ApiError`](error::ApiError), the one place that picks status codes.
//! - `session.rs`: the session cookie, the CSRF check ([`Mutation`](session::Mutation)) and the login
//!   rate limit.
//! - `api.rs`: the JSON API under `/api/v1`, `ui.rs`: the server-rendered pages, `i18n.rs`: their
//!   Japanese and English texts, `jobs.rs`: long operations in the background.
//! - Zones (Rule 6-4-ニ): [`Zone`] decides which routes a process serves; see [`router`].

use std::sync::Arc;

use axum::Router;
use kiban_service::App;
pub use tls::{TlsListener, crypto_provider, self_signed, server_config};

mod api;
mod error;
mod i18n;
mod jobs;
mod openapi;
mod session;
mod tls;
mod ui;
mod zones;

/// Which part of the producer's network a server process serves (Rule 6-4-ニ).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Zone {
    /// Receive-only: providers upload extracts with their credential; no route reads the vault or a release.
    Intake,
    /// The staff API and web UI: the vault, linkage, processing and the records.
    Core,
    /// Send-only: recipients download the packages handed over to them.
    Release,
    /// Every zone on one process (the embedded default).
    All,
}

impl Zone {
    /// Parses a zone's name.
    ///
    /// # Errors
    /// An unknown name.
    pub fn parse(name: &str) -> Result<Zone, String> {
        match name {
            "intake" => Ok(Zone::Intake),
            "core" => Ok(Zone::Core),
            "release" => Ok(Zone::Release),
            "all" => Ok(Zone::All),
            other => Err(format!("unknown zone {other:?}: give intake, core, release or all")),
        }
    }
}

/// Settings of one server process.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    pub zone: Zone,
    /// Login attempts allowed per client address and per user name in a minute.
    pub login_attempts_per_minute: usize,
    /// The largest extract the intake zone accepts in one upload.
    pub max_upload_bytes: u64,
}

impl Default for ServerOptions {
    fn default() -> ServerOptions {
        ServerOptions { zone: Zone::All, login_attempts_per_minute: 10, max_upload_bytes: 64 << 30 }
    }
}

/// What every request shares: the application and the server's own state.
pub struct ServerState {
    pub(crate) app: Arc<App>,
    pub(crate) limiter: session::LoginLimiter,
    pub(crate) jobs: Arc<jobs::Jobs>,
    pub(crate) max_upload_bytes: u64,
    /// Password checks (argon2id, 19 MiB each) running at once: a burst of logins queues here instead of
    /// taking memory for each.
    pub(crate) password_checks: tokio::sync::Semaphore,
}

impl ServerState {
    pub fn new(app: Arc<App>, options: &ServerOptions) -> Arc<ServerState> {
        Arc::new(ServerState {
            app,
            limiter: session::LoginLimiter::new(options.login_attempts_per_minute),
            jobs: Arc::default(),
            max_upload_bytes: options.max_upload_bytes,
            password_checks: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get),
            ),
        })
    }
}

/// Threads of the runtime's blocking pool, where every service call runs. The store lends at most 8
/// connections at once, so more threads would only wait for one, each holding memory of its own.
pub const BLOCKING_THREADS: usize = 16;

/// Runs `work` (a call into the synchronous service) on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, error::ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(|join_error| {
        tracing::error!(%join_error, "a service call panicked");
        error::ApiError::Service(kiban_service::ServiceError::new(
            kiban_service::ErrorCode::Failed,
            "the operation stopped unexpectedly; nothing half-done was kept",
        ))
    })
}

/// The routes a process of `zone` serves.
pub fn router(state: Arc<ServerState>, zone: Zone) -> Router {
    let mut router = Router::new()
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .route("/api/openapi.json", axum::routing::get(|| async { axum::Json(openapi::document()) }))
        // Every zone's pages share the style sheet and the language switch.
        .route("/assets/style.css", axum::routing::get(ui::style))
        .route("/lang/{code}", axum::routing::get(ui::set_lang));
    if matches!(zone, Zone::Intake | Zone::All) {
        router = router.merge(zones::intake_routes());
    }
    if matches!(zone, Zone::Core | Zone::All) {
        router = router.merge(api::routes()).merge(ui::routes());
    }
    if matches!(zone, Zone::Release | Zone::All) {
        router = router.merge(zones::release_routes());
    }
    router
        .fallback(|| async { error::ApiError::NotFound })
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(state)
}

/// Headers on every response: no framing by other sites, no content sniffing, a strict content policy
/// (the pages load only their own script and style), and no caching of pages that show records.
async fn security_headers(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    // A page that sets its own policy (a release report, a printable notice: inline styles, no script)
    // keeps it.
    headers.entry(header::CONTENT_SECURITY_POLICY).or_insert(
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
        ),
    );
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Serves `zone` on `listener` (plain HTTP) until `shutdown` completes.
///
/// # Errors
/// When the listener fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<ServerState>,
    zone: Zone,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state, zone).into_make_service_with_connect_info::<tls::ClientAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

/// Serves `zone` on `listener` over TLS with `config` until `shutdown` completes.
///
/// # Errors
/// When the listener fails.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    config: Arc<rustls::ServerConfig>,
    state: Arc<ServerState>,
    zone: Zone,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state, zone).into_make_service_with_connect_info::<tls::ClientAddr>();
    axum::serve(TlsListener::new(listener, config), app).with_graceful_shutdown(shutdown).await
}
