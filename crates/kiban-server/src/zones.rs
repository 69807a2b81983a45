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
use axum::extract::{Path, Query, State};
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
    Router::new().route("/intake/v1/extracts", post(upload))
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
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
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
    tokio::fs::create_dir_all(&inbox).await.map_err(|error| bad(&format!("creating the inbox: {error}")))?;
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
        .map_err(|error| bad(&format!("writing the inbox: {error}")))?;
    let mut body = body;
    let mut received: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|error| bad(&format!("the upload broke off after {received} bytes: {error}")))?;
        if let Ok(data) = frame.into_data() {
            received += data.len() as u64;
            if received > state.max_upload_bytes {
                return Err(bad(&format!("the upload is larger than {} bytes", state.max_upload_bytes)));
            }
            file.write_all(&data).await.map_err(|error| bad(&format!("writing the inbox: {error}")))?;
        }
    }
    file.sync_all().await.map_err(|error| bad(&format!("writing the inbox: {error}")))?;
    drop(file);
    if received == 0 {
        return Err(bad("the upload is empty: send the extract as one tar archive"));
    }

    let app = Arc::clone(&state.app);
    let outcome = crate::blocking(move || {
        let folder = inbox.join(&name);
        let _folder_guard = Cleanup(folder.clone());
        let unpacked = std::fs::File::open(&archive)
            .and_then(|archive| tar::Archive::new(std::io::BufReader::new(archive)).unpack(&folder));
        if let Err(error) = unpacked {
            return Err(ApiError::BadRequest(format!("the upload is not a readable tar archive: {error}")));
        }
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

async fn packages(
    State(state): State<Arc<ServerState>>,
    authed: Authed,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Response::Packages(handovers) = execute(&state, authed.session, Request::PackageList).await? else {
        return Err(ApiError::NotFound);
    };
    Ok(Json(serde_json::Value::Array(
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
    )))
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
