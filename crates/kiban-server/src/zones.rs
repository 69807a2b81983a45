//! The intake and release zones (Rule 6-4-ニ): each a process of its own that only receives or only sends.
//!
//! - **Intake** (`/intake/v1`): a provider uploads an extract as one tar archive with its upload
//!   credential (`Authorization: Bearer kiban_prov_...`). The body is streamed to the inbox on disk a
//!   chunk at a time (never held in memory), unpacked, ingested as that provider (Rule 36 check,
//!   quarantine, opt-out filter, receipt) and removed. No route here reads the vault or a release.
//! - **Release** (`/release/v1`): a recipient signs in (a researcher's account) and lists and downloads
//!   the packages handed over to them, each file streamed from the checked handover copy. Nothing is
//!   received but the sign-in.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::{get, post};
use axum::{Json, Router};
use http_body_util::BodyExt as _;
use kiban_service::{IngestFormat, Request, Response};
use serde::Deserialize;
use serde_json::json;
use tokio::io::AsyncWriteExt as _;

use crate::ServerState;
use crate::api::execute;
use crate::error::ApiError;
use crate::session::Authed;

pub(crate) fn intake_routes() -> Router<Arc<ServerState>> {
    Router::new()
        .route("/intake/v1/extracts", post(upload))
        .route("/intake/", get(upload_page))
        .route("/assets/intake.js", get(upload_script))
}

/// The provider's upload page: the credential, the format and the archive; the script sends it.
async fn upload_page(headers: HeaderMap) -> axum::response::Html<String> {
    use crate::i18n::{Lang, T};
    let lang = Lang::of(&headers);
    let body = maud::html! {
        p { (lang.t(T::UploadHelp)) }
        form.card #upload data-sending=(lang.t(T::Sending)) data-done=(lang.t(T::UploadDone)) data-again=(lang.t(T::AlreadyReceived)) {
            label { span { (lang.t(T::Credential)) } input type="password" name="credential" autocomplete="off" required; }
            label { span { (lang.t(T::Format)) } select name="format" {
                option value="ssmix2" { "SS-MIX2" } option value="fhir" { "FHIR (JP Core)" } option value="csv" { "CSV" }
            } }
            label { span { (lang.t(T::Archive)) } input type="file" name="extract" accept=".tar,application/x-tar" required; }
            button type="submit" { (lang.t(T::Upload)) }
        }
        p #upload-result aria-live="polite" {}
        script src="/assets/intake.js" {}
    };
    axum::response::Html(crate::ui::layout(lang, None, lang.t(T::UploadTitle), "", body).into_string())
}

async fn upload_script() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], include_str!("../assets/intake.js"))
}

pub(crate) fn release_routes() -> Router<Arc<ServerState>> {
    Router::new()
        .route("/release/v1/login", post(crate::api::login))
        .route("/release/v1/logout", post(crate::api::logout))
        .route("/release/v1/packages", get(packages))
        .route("/release/v1/packages/{release_id}/files/{*path}", get(download))
}

#[derive(Deserialize)]
struct UploadQuery {
    #[serde(default)]
    format: String,
}

fn bad(message: &str) -> ApiError {
    ApiError::BadRequest(message.to_owned())
}

/// Removes its path when dropped (the upload's temporary archive and folder, whatever happens).
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ =
            if self.0.is_dir() { std::fs::remove_dir_all(&self.0) } else { std::fs::remove_file(&self.0) };
    }
}

async fn upload(
    State(state): State<Arc<ServerState>>,
    request: axum::extract::Request,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    // Each attempt counts against the sender's address, so bad credentials cannot flood the audit log.
    state.limiter.attempt(&[format!("intake:{}", crate::session::client_address(&parts))])?;
    let query: UploadQuery = serde_urlencoded::from_str(parts.uri.query().unwrap_or_default())
        .map_err(|_| bad("the query: give format=ssmix2, fhir or csv"))?;
    let format = match query.format.as_str() {
        "ssmix2" => IngestFormat::Ssmix2,
        "fhir" => IngestFormat::Fhir,
        "csv" => IngestFormat::Csv,
        _ => return Err(bad("format: give ssmix2, fhir or csv")),
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ApiError::Service(kiban_service::ServiceError::new(
                kiban_service::ErrorCode::Unauthenticated,
                "give the provider's upload credential as `Authorization: Bearer kiban_prov_...`",
            ))
        })?
        .to_owned();
    let app = Arc::clone(&state.app);
    let principal = crate::blocking(move || app.authenticate_provider(&token)).await??;

    // Stream the body to the inbox, a chunk at a time.
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let inbox = state.app.data_dir().join("inbox");
    tokio::fs::create_dir_all(&inbox)
        .await
        .map_err(|error| failed(&format!("creating the inbox: {error}")))?;
    let name = format!(
        "{}-{}-{}",
        principal.provider(),
        state.app.now().format("%Y%m%dT%H%M%S"),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let archive = inbox.join(format!("{name}.tar"));
    let archive_guard = Cleanup(archive.clone());
    let mut file = tokio::fs::File::create(&archive)
        .await
        .map_err(|error| failed(&format!("writing the inbox: {error}")))?;
    let mut body = body;
    let mut received: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|error| bad(&format!("the upload broke off after {received} bytes: {error}")))?;
        if let Ok(data) = frame.into_data() {
            received += data.len() as u64;
            if received > state.max_upload_bytes {
                return Err(ApiError::TooLarge(format!(
                    "the upload is larger than {} bytes",
                    state.max_upload_bytes
                )));
            }
            file.write_all(&data).await.map_err(|error| failed(&format!("writing the inbox: {error}")))?;
        }
    }
    file.sync_all().await.map_err(|error| failed(&format!("writing the inbox: {error}")))?;
    drop(file);
    if received == 0 {
        return Err(bad("the upload is empty: send the extract as one tar archive"));
    }

    let app = Arc::clone(&state.app);
    let outcome = crate::blocking(move || {
        let folder = inbox.join(&name);
        let _folder_guard = Cleanup(folder.clone());
        unpack(&archive, &folder)?;
        drop(archive_guard);
        app.receive_extract(&principal, format, &folder).map_err(ApiError::from)
    })
    .await??;
    Ok(Json(json!({
        "batch": outcome.batch.0,
        "provider": outcome.provider.to_string(),
        "already_received": outcome.already_received,
        "bytes": received,
        "n_files": outcome.n_files,
        "n_persons": outcome.n_persons,
        "n_persons_excluded": outcome.n_persons_excluded,
        "n_quarantined": outcome.n_quarantined,
    })))
}

/// Unpacks the uploaded archive into `folder`: regular files and folders only (no links, devices or
/// sparse entries, which could make intake read outside the folder or far more than was sent), each path
/// inside the folder, and no more bytes in all than the archive held.
fn unpack(archive: &std::path::Path, folder: &std::path::Path) -> Result<(), ApiError> {
    let refuse =
        |what: &str| ApiError::BadRequest(format!("the upload is not a tar archive kiban accepts: {what}"));
    let limit =
        std::fs::metadata(archive).map_err(|error| failed(&format!("reading the inbox: {error}")))?.len();
    let file =
        std::fs::File::open(archive).map_err(|error| failed(&format!("reading the inbox: {error}")))?;
    std::fs::create_dir_all(folder).map_err(|error| failed(&format!("writing the inbox: {error}")))?;
    let mut tar = tar::Archive::new(std::io::BufReader::new(file));
    let mut total: u64 = 0;
    for (n, entry) in tar.entries().map_err(|_| refuse("unreadable"))?.enumerate() {
        let mut entry = entry.map_err(|_| refuse(&format!("entry {} is unreadable", n + 1)))?;
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind.is_dir()) {
            return Err(refuse(&format!(
                "entry {} is neither a file nor a folder (links and devices are refused)",
                n + 1
            )));
        }
        total = total.saturating_add(entry.size());
        if total > limit {
            return Err(refuse("its entries claim more bytes than were sent"));
        }
        // `unpack_in` refuses paths that leave the folder (`..`, absolute paths).
        let inside =
            entry.unpack_in(folder).map_err(|_| refuse(&format!("entry {} could not be written", n + 1)))?;
        if !inside {
            return Err(refuse(&format!("entry {} leaves the archive's folder", n + 1)));
        }
    }
    Ok(())
}

/// A failure of the server's own (its disk), not of the request.
fn failed(message: &str) -> ApiError {
    tracing::error!(message, "intake failed");
    ApiError::Service(kiban_service::ServiceError::new(
        kiban_service::ErrorCode::Failed,
        "the server could not store the upload; nothing was kept: try again later",
    ))
}

async fn packages(
    State(state): State<Arc<ServerState>>,
    authed: Authed,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Response::Packages(handovers) = execute(&state, authed.session, Request::PackageList).await? else {
        return Err(ApiError::NotFound);
    };
    // Reading the manifests is file I/O: off the async workers.
    let listing = crate::blocking(move || package_listing(handovers)).await?;
    Ok(Json(listing))
}

fn package_listing(handovers: Vec<kiban_store::Handover>) -> serde_json::Value {
    serde_json::Value::Array(
        handovers
            .into_iter()
            .map(|handover| {
                let manifest = std::fs::read_to_string(PathBuf::from(&handover.dir).join("manifest.json"))
                    .ok()
                    .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok());
                let files: Vec<String> = manifest
                    .as_ref()
                    .and_then(|manifest| manifest["files"].as_array())
                    .map(|files| {
                        files.iter().filter_map(|file| file["path"].as_str().map(str::to_owned)).collect()
                    })
                    .unwrap_or_default();
                json!({
                    "release_id": handover.release_id,
                    "handed_over_at": handover.created_at.to_rfc3339(),
                    "files": files,
                    "manifest": format!("/release/v1/packages/{}/files/manifest.json", handover.release_id),
                })
            })
            .collect(),
    )
}

async fn download(
    State(state): State<Arc<ServerState>>,
    authed: Authed,
    Path((release_id, path)): Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let request = Request::PackageFile { release_id, path: path.clone() };
    let Response::PackageFile(file) = execute(&state, authed.session, request).await? else {
        return Err(ApiError::NotFound);
    };
    let opened = tokio::fs::File::open(&file).await.map_err(|_| ApiError::NotFound)?;
    let name = path.rsplit('/').next().unwrap_or("file").to_owned();
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(opened));
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        body,
    )
        .into_response())
}
