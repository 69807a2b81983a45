//! The JSON API under `/api/v1`: one route per service operation, each a thin translation between JSON
//! and a [`Request`]. Reads are `GET`; everything that changes state is `POST` through [`Mutation`]
//! (session, CSRF token, same origin). Linkage and releases run as background jobs.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use kiban_auth::Role;
use kiban_service::{
    AuditFilter, LinkRequest, OptoutForm, ProviderRequest, ReleaseRequest, Request, Requester, Response,
    SecondFactor, Session,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::ServerState;
use crate::error::ApiError;
use crate::session::{Authed, Mutation};

pub(crate) fn routes() -> Router<Arc<ServerState>> {
    Router::new()
        .route("/api/v1/login", post(login))
        .route("/api/v1/logout", post(logout))
        .route("/api/v1/session", get(session))
        .route("/api/v1/providers", get(providers).post(provider_add))
        .route("/api/v1/providers/{code}/credential", post(provider_credential))
        .route("/api/v1/providers/{code}/credential/revoke", post(provider_credential_revoke))
        .route("/api/v1/batches", get(batches))
        .route("/api/v1/batches/{batch}/quarantine", get(quarantine))
        .route("/api/v1/link", post(link))
        .route("/api/v1/linkage/review", get(review_queue))
        .route("/api/v1/linkage/review/{pair}", post(review_decide))
        .route("/api/v1/releases", get(releases).post(release))
        .route("/api/v1/releases/{id}/handover", post(release_handover))
        .route("/api/v1/jobs/{id}", get(job))
        .route("/api/v1/ledger", get(ledger))
        .route("/api/v1/receipts", get(receipts))
        .route("/api/v1/audit", get(audit_show))
        .route("/api/v1/audit/verify", post(audit_verify))
        .route("/api/v1/users", get(users).post(user_add))
        .route("/api/v1/users/{name}/lock", post(user_lock))
        .route("/api/v1/users/{name}/unlock", post(user_unlock))
        .route("/api/v1/users/{name}/roles", post(user_roles))
        .route("/api/v1/users/{name}/reset", post(user_reset))
        .route("/api/v1/keys", get(keys))
        .route("/api/v1/optouts", get(optouts).post(optout_add))
        .route("/api/v1/optouts/{id}/notice", get(optout_notice))
}

/// Runs `request` in `session` on the blocking pool.
pub(crate) async fn execute(
    state: &ServerState,
    session: Session,
    request: Request,
) -> Result<Response, ApiError> {
    let app = Arc::clone(&state.app);
    Ok(crate::blocking(move || app.execute(&session, request)).await??)
}

/// Starts `request` as a background job, unless the session may not run it at all: then it runs at once,
/// so the refusal (audited, and locking the account) is the answer, not a job that fails later.
pub(crate) async fn start_job(
    state: &ServerState,
    session: Session,
    request: Request,
    describe: fn(&Response) -> (String, Option<String>),
) -> Result<u64, ApiError> {
    if !session.may(request.action()) {
        // The service refuses it (and records the refusal); its error is the answer.
        execute(state, session, request).await?;
        return Err(ApiError::Service(kiban_service::ServiceError::new(
            kiban_service::ErrorCode::Forbidden,
            "this operation is not allowed for your roles",
        )));
    }
    Ok(state.jobs.start(&state.app, session, request, describe))
}

/// A number in a path (a batch, a job): none other names anything.
pub(crate) fn number(text: &str) -> Result<u64, ApiError> {
    text.parse().map_err(|_| ApiError::NotFound)
}

fn job_started(id: u64) -> HttpResponse {
    (StatusCode::ACCEPTED, Json(json!({ "job": id, "status": format!("/api/v1/jobs/{id}") }))).into_response()
}

#[derive(Deserialize)]
pub(crate) struct LoginBody {
    pub(crate) user: String,
    pub(crate) password: String,
    /// A 6-digit TOTP code or a recovery code.
    pub(crate) code: String,
}

/// Password and second factor; on success the session cookie. Rate-limited per address and per user.
pub(crate) async fn sign_in(
    state: &ServerState,
    client: String,
    body: LoginBody,
) -> Result<(kiban_service::LoginOutcome, Session), ApiError> {
    state.limiter.attempt(&[format!("ip:{client}"), format!("user:{}", body.user.trim())])?;
    let _permit = state.password_checks.acquire().await.map_err(|_| ApiError::NotFound)?;
    let app = Arc::clone(&state.app);
    crate::blocking(move || {
        let code = body.code.trim();
        let second = if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
            SecondFactor::Totp(code)
        } else {
            SecondFactor::RecoveryCode(code)
        };
        let outcome = app.login(body.user.trim(), &body.password, second)?;
        let session = app.authenticate(outcome.token.expose_secret())?;
        Ok::<_, kiban_service::ServiceError>((outcome, session))
    })
    .await?
    .map_err(ApiError::from)
}

pub(crate) async fn login(
    State(state): State<Arc<ServerState>>,
    request: axum::extract::Request,
) -> Result<HttpResponse, ApiError> {
    let (parts, body) = request.into_parts();
    crate::session::check_origin(&parts.headers)?;
    let client = crate::session::client_address(&parts);
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map_err(|error| ApiError::BadRequest(format!("reading the request body: {error}")))?;
    let body: LoginBody = serde_json::from_slice(&bytes)
        .map_err(|error| ApiError::BadRequest(format!("the JSON body does not fit: {error}")))?;
    let (outcome, session) = sign_in(&state, client, body).await?;
    let token = outcome.token.expose_secret();
    let cookie = crate::session::session_cookie(token);
    let body = json!({
        "user": outcome.user,
        "roles": role_names(session.roles()),
        "csrf_token": crate::session::csrf_token(token),
        "absolute_expiry": outcome.absolute_expiry.to_rfc3339(),
        "idle_expiry_minutes": outcome.idle_expiry.num_minutes(),
        "password_expires_at": outcome.password_expires_at.map(|at| at.to_rfc3339()),
    });
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

#[derive(Deserialize, Default)]
pub(crate) struct Empty {}

pub(crate) async fn logout(
    State(state): State<Arc<ServerState>>,
    mutation: Mutation<Empty>,
) -> Result<HttpResponse, ApiError> {
    let app = Arc::clone(&state.app);
    let token = mutation.authed.token;
    let user = crate::blocking(move || app.logout(&token)).await??;
    Ok(([(header::SET_COOKIE, crate::session::clear_session_cookie())], Json(json!({ "user": user })))
        .into_response())
}

fn role_names(roles: &[Role]) -> Vec<&'static str> {
    roles.iter().map(|role| role.name()).collect()
}

async fn session(authed: Authed) -> Json<Value> {
    Json(json!({
        "user": authed.session.user(),
        "roles": role_names(authed.session.roles()),
        "csrf_token": authed.csrf,
    }))
}

/// Runs a read request and answers with its JSON.
async fn read(state: &ServerState, authed: Authed, request: Request) -> Result<Json<Value>, ApiError> {
    Ok(Json(to_json(execute(state, authed.session, request).await?)))
}

async fn providers(State(state): State<Arc<ServerState>>, authed: Authed) -> Result<Json<Value>, ApiError> {
    read(&state, authed, Request::ProviderList).await
}

#[derive(Deserialize)]
pub(crate) struct ProviderBody {
    pub(crate) code: String,
    pub(crate) name: String,
    pub(crate) address: String,
    pub(crate) notified_on: String,
    #[serde(default)]
    pub(crate) published_on: Option<String>,
}

pub(crate) fn parse_date(text: &str, field: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| ApiError::BadRequest(format!("{field}: give a date as YYYY-MM-DD")))
}

fn optional_date(text: Option<&str>, field: &str) -> Result<Option<NaiveDate>, ApiError> {
    text.map(str::trim).filter(|text| !text.is_empty()).map(|text| parse_date(text, field)).transpose()
}

impl ProviderBody {
    pub(crate) fn request(&self) -> Result<Request, ApiError> {
        Ok(Request::ProviderAdd(ProviderRequest {
            code: self.code.trim().to_owned(),
            name: self.name.trim().to_owned(),
            address: self.address.trim().to_owned(),
            notified_on: parse_date(&self.notified_on, "notified_on")?,
            published_on: optional_date(self.published_on.as_deref(), "published_on")?,
        }))
    }
}

async fn provider_add(
    State(state): State<Arc<ServerState>>,
    mutation: Mutation<ProviderBody>,
) -> Result<Json<Value>, ApiError> {
    let request = mutation.body.request()?;
    read(&state, mutation.authed, request).await
}

async fn provider_credential(
    State(state): State<Arc<ServerState>>,
    Path(code): Path<String>,
    mutation: Mutation<Empty>,
) -> Result<Json<Value>, ApiError> {
    read(&state, mutation.authed, Request::ProviderCredentialIssue { provider: code }).await
}

async fn provider_credential_revoke(
    State(state): State<Arc<ServerState>>,
    Path(code): Path<String>,
    mutation: Mutation<Empty>,
) -> Result<Json<Value>, ApiError> {
    read(&state, mutation.authed, Request::ProviderCredentialRevoke { provider: code }).await
}

#[derive(Deserialize)]
pub(crate) struct HandoverBody {
    pub(crate) recipient: String,
}

async fn release_handover(
    State(state): State<Arc<ServerState>>,
    Path(id): Path<String>,
    mutation: Mutation<HandoverBody>,
) -> Result<Json<Value>, ApiError> {
    let request =
        Request::ReleaseHandover { release_id: id, recipient: mutation.body.recipient.trim().to_owned() };
    read(&state, mutation.authed, request).await
}

async fn batches(State(state): State<Arc<ServerState>>, authed: Authed) -> Result<Json<Value>, ApiError> {
    read(&state, authed, Request::BatchList).await
}

async fn quarantine(
    State(state): State<Arc<ServerState>>,
    authed: Authed,
    Path(batch): Path<String>,
) -> Result<Json<Value>, ApiError> {
    read(&state, authed, Request::Quarantine { batch: Some(number(&batch)?) }).await
}

pub(crate) fn describe_link(response: &Response) -> (String, Option<String>) {
    match response {
        Response::Linked(outcome) => (
            format!(
                "{} records linked into {} persons; {} pairs to review",
                outcome.n_records, outcome.n_persons, outcome.n_review
            ),
            None,
        ),
        _ => (String::new(), None),
    }
}

async fn link(
    State(state): State<Arc<ServerState>>,
    mutation: Mutation<Empty>,
) -> Result<HttpResponse, ApiError> {
    let request = Request::Link(LinkRequest::default());
    Ok(job_started(start_job(&state, mutation.authed.session, request, describe_link).await?))
}

async fn review_queue(
    State(state): State<Arc<ServerState>>,
    authed: Authed,
) -> Result<Json<Value>, ApiError> {
    read(&state, authed, Request::LinkReviewList).await
}

/// A decision on a review pair: `same` or `different`, with the reason.
#[derive(Deserialize)]
pub(crate) struct DecisionBody {
    pub(crate) decision: String,
    pub(crate) reason: String,
}

impl DecisionBody {
    pub(crate) fn request(&self, pair_id: String) -> Result<Request, ApiError> {
        let same_person = match self.decision.as_str() {
            "same" => true,
            "different" => false,
            _ => return Err(ApiError::BadRequest("decision: give same or different".to_owned())),
        };
        Ok(Request::LinkReviewDecide { pair_id, same_person, reason: self.reason.clone() })
    }
}

async fn review_decide(
    State(state): State<Arc<ServerState>>,
    Path(pair): Path<String>,
    mutation: Mutation<DecisionBody>,
) -> Result<Json<Value>, ApiError> {
    let request = mutation.body.request(pair)?;
    read(&state, mutation.authed, request).await
}

async fn releases(State(state): State<Arc<ServerState>>, authed: Authed) -> Result<Json<Value>, ApiError> {
    read(&state, authed, Request::ReleaseList).await
}

/// A release: a whole policy (TOML, as `kiban release --policy` reads), or the built-in anonymized policy
/// for a recipient.
#[derive(Deserialize)]
pub(crate) struct ReleaseBody {
    #[serde(default)]
    pub(crate) policy: Option<String>,
    #[serde(default)]
    pub(crate) recipient_name: Option<String>,
    #[serde(default)]
    pub(crate) recipient_address: Option<String>,
    #[serde(default)]
    pub(crate) k: Option<String>,
}

impl ReleaseBody {
    pub(crate) fn request(&self) -> Result<Request, ApiError> {
        let policy = self.policy.as_deref().map(str::trim).filter(|text| !text.is_empty());
        let request = match policy {
            Some(text) => {
                ReleaseRequest { policy: kiban_service::parse_policy_text(text)?, reference_date: None }
            }
            None => {
                let name = self.recipient_name.as_deref().map(str::trim).unwrap_or_default();
                let address = self.recipient_address.as_deref().map(str::trim).unwrap_or_default();
                if name.is_empty() || address.is_empty() {
                    return Err(ApiError::BadRequest(
                        "give a policy, or the recipient's name and address".to_owned(),
                    ));
                }
                let k = match self.k.as_deref().map(str::trim).filter(|text| !text.is_empty()) {
                    None => None,
                    Some(text) => Some(
                        text.parse::<usize>()
                            .map_err(|_| ApiError::BadRequest("k: give a whole number".to_owned()))?,
                    ),
                };
                let recipient =
                    kiban_engine::policy::Recipient { name: name.to_owned(), address: address.to_owned() };
                ReleaseRequest::default_anonymized(recipient, k, None)?
            }
        };
        Ok(Request::Release(Box::new(request)))
    }
}

pub(crate) fn describe_release(response: &Response) -> (String, Option<String>) {
    match response {
        Response::Released(outcome) => (
            format!(
                "release {}: {} persons released, {} suppressed, {} left out by opt-out",
                outcome.release_id,
                outcome.n_persons_released,
                outcome.n_persons_suppressed,
                outcome.n_persons_excluded
            ),
            Some(format!("/releases/{}/report", outcome.release_id)),
        ),
        _ => (String::new(), None),
    }
}

async fn release(
    State(state): State<Arc<ServerState>>,
    mutation: Mutation<ReleaseBody>,
) -> Result<HttpResponse, ApiError> {
    let request = mutation.body.request()?;
    Ok(job_started(start_job(&state, mutation.authed.session, request, describe_release).await?))
}

async fn job(
    State(state): State<Arc<ServerState>>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let job = state.jobs.get(number(&id)?, authed.session.user()).ok_or(ApiError::NotFound)?;
    let (summary, link, error) = match &job.state {
        crate::jobs::JobState::Running => (None, None, None),
        crate::jobs::JobState::Done { summary, link } => (Some(summary.clone()), link.clone(), None),
        crate::jobs::JobState::Failed { code, message } => {
            (None, None, Some(json!({ "code": code, "message": message })))
        }
    };
    Ok(Json(json!({
        "job": job.id,
        "kind": job.kind,
        "state": job.state.name(),
        "started_at": job.started_at.to_rfc3339(),
        "finished_at": job.finished_at.map(|at| at.to_rfc3339()),
        "step": job.step.map(|(name, number, total)| json!({ "name": name, "number": number, "of": total })),
        "summary": summary,
        "link": link,
        "error": error,
    })))
}

async fn ledger(State(state): State<Arc<ServerState>>, authed: Authed) -> Result<Json<Value>, ApiError> {
    read(&state, authed, Request::Ledger).await
}

async fn receipts(State(state): State<Arc<ServerState>>, authed: Authed) -> Result<Json<Value>, ApiError> {
    read(&state, authed, Request::Receipts).await
}

#[derive(Deserialize, Default)]
pub(crate) struct AuditQuery {
    pub(crate) user: Option<String>,
    pub(crate) object: Option<String>,
    pub(crate) since: Option<String>,
    pub(crate) until: Option<String>,
}

impl AuditQuery {
    pub(crate) fn filter(&self) -> Result<AuditFilter, ApiError> {
        Ok(AuditFilter::parse(
            self.user.as_deref(),
            self.object.as_deref(),
            self.since.as_deref(),
            self.until.as_deref(),
        )?)
    }
}

async fn audit_show(
    State(state): State<Arc<ServerState>>,
    authed: Authed,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
    read(&state, authed, Request::AuditShow(query.filter()?)).await
}

async fn audit_verify(
    State(state): State<Arc<ServerState>>,
    mutation: Mutation<Empty>,
) -> Result<Json<Value>, ApiError> {
    read(&state, mutation.authed, Request::AuditVerify).await
}

async fn users(State(state): State<Arc<ServerState>>, authed: Authed) -> Result<Json<Value>, ApiError> {
    read(&state, authed, Request::UserList).await
}

#[derive(Deserialize)]
pub(crate) struct UserBody {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) display_name: String,
    /// Role names, comma-separated in a form.
    pub(crate) roles: String,
}

pub(crate) fn split_roles(text: &str) -> Vec<String> {
    text.split([',', ' ']).map(str::trim).filter(|role| !role.is_empty()).map(str::to_owned).collect()
}

async fn user_add(
    State(state): State<Arc<ServerState>>,
    mutation: Mutation<UserBody>,
) -> Result<Json<Value>, ApiError> {
    let body = mutation.body;
    let request = Request::UserAdd {
        name: body.name.trim().to_owned(),
        display_name: body.display_name.trim().to_owned(),
        roles: split_roles(&body.roles),
    };
    read(&state, mutation.authed, request).await
}

#[derive(Deserialize)]
pub(crate) struct ReasonBody {
    pub(crate) reason: String,
}

async fn user_lock(
    State(state): State<Arc<ServerState>>,
    Path(name): Path<String>,
    mutation: Mutation<ReasonBody>,
) -> Result<Json<Value>, ApiError> {
    read(&state, mutation.authed, Request::UserLock { name, reason: mutation.body.reason }).await
}

async fn user_unlock(
    State(state): State<Arc<ServerState>>,
    Path(name): Path<String>,
    mutation: Mutation<ReasonBody>,
) -> Result<Json<Value>, ApiError> {
    read(&state, mutation.authed, Request::UserUnlock { name, reason: mutation.body.reason }).await
}

#[derive(Deserialize)]
struct RolesBody {
    roles: String,
}

async fn user_roles(
    State(state): State<Arc<ServerState>>,
    Path(name): Path<String>,
    mutation: Mutation<RolesBody>,
) -> Result<Json<Value>, ApiError> {
    read(&state, mutation.authed, Request::UserRoles { name, roles: split_roles(&mutation.body.roles) }).await
}

#[derive(Deserialize)]
struct ResetBody {
    identity_check: String,
}

async fn user_reset(
    State(state): State<Arc<ServerState>>,
    Path(name): Path<String>,
    mutation: Mutation<ResetBody>,
) -> Result<Json<Value>, ApiError> {
    read(&state, mutation.authed, Request::UserReset { name, identity_check: mutation.body.identity_check })
        .await
}

async fn keys(State(state): State<Arc<ServerState>>, authed: Authed) -> Result<Json<Value>, ApiError> {
    read(&state, authed, Request::KeysStatus).await
}

async fn optouts(State(state): State<Arc<ServerState>>, authed: Authed) -> Result<Json<Value>, ApiError> {
    read(&state, authed, Request::OptoutList).await
}

/// An opt-out request as the desk records it (the fields of `kiban optout add`).
#[derive(Deserialize)]
pub(crate) struct OptoutBody {
    /// `person` or `bereaved-family`.
    pub(crate) requester: String,
    pub(crate) requester_name: String,
    #[serde(default)]
    pub(crate) relationship: Option<String>,
    pub(crate) received_on: String,
    #[serde(default)]
    pub(crate) stop_on: Option<String>,
    pub(crate) kana: String,
    pub(crate) birth_date: String,
    pub(crate) sex: String,
    #[serde(default)]
    pub(crate) provider: Option<String>,
    #[serde(default)]
    pub(crate) patient_id: Option<String>,
    #[serde(default)]
    pub(crate) insurer_number: Option<String>,
    pub(crate) issuer: String,
}

fn non_empty(text: Option<String>) -> Option<String> {
    text.map(|text| text.trim().to_owned()).filter(|text| !text.is_empty())
}

impl OptoutBody {
    pub(crate) fn request(self) -> Result<Request, ApiError> {
        let requester = match self.requester.as_str() {
            "person" => Requester::Person,
            "bereaved-family" => Requester::BereavedFamily,
            _ => return Err(ApiError::BadRequest("requester: give person or bereaved-family".to_owned())),
        };
        Ok(Request::OptoutAdd(Box::new(OptoutForm {
            requester,
            requester_name: self.requester_name.trim().to_owned(),
            relationship: non_empty(self.relationship),
            received_on: parse_date(&self.received_on, "received_on")?,
            stop_on: optional_date(self.stop_on.as_deref(), "stop_on")?,
            notice_on: None,
            kana: self.kana.trim().to_owned(),
            birth_date: self.birth_date.trim().to_owned(),
            sex: self.sex.trim().to_owned(),
            provider: non_empty(self.provider),
            patient_id: non_empty(self.patient_id),
            insurer_number: non_empty(self.insurer_number),
            issuer: self.issuer.trim().to_owned(),
        })))
    }
}

async fn optout_add(
    State(state): State<Arc<ServerState>>,
    mutation: Mutation<OptoutBody>,
) -> Result<Json<Value>, ApiError> {
    let request = mutation.body.request()?;
    read(&state, mutation.authed, request).await
}

async fn optout_notice(
    State(state): State<Arc<ServerState>>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<HttpResponse, ApiError> {
    match execute(&state, authed.session, Request::OptoutNotice { request_id: id }).await? {
        Response::Notice(html) => Ok(axum::response::Html(html).into_response()),
        _ => Err(ApiError::NotFound),
    }
}

/// A response as the API's JSON: the fields a client needs, never a secret beyond what the operation
/// exists to hand over once (an enrollment token).
pub(crate) fn to_json(response: Response) -> Value {
    match response {
        Response::ProviderRegistered { code } => json!({ "registered": code }),
        Response::Providers(providers) => Value::Array(
            providers
                .into_iter()
                .map(|provider| {
                    json!({
                        "code": provider.code.to_string(),
                        "name": provider.name,
                        "address": provider.address,
                        "notified_on": provider.notified_on.to_string(),
                        "published_on": provider.published_on.map(|day| day.to_string()),
                    })
                })
                .collect(),
        ),
        Response::Batches(batches) => Value::Array(
            batches
                .into_iter()
                .map(|batch| {
                    json!({
                        "id": batch.id.0,
                        "provider": batch.provider.to_string(),
                        "format": batch.format,
                        "status": batch.status.name(),
                        "started_at": batch.started_at.to_rfc3339(),
                        "completed_at": batch.completed_at.map(|at| at.to_rfc3339()),
                    })
                })
                .collect(),
        ),
        Response::Quarantine(inputs) => Value::Array(
            inputs
                .into_iter()
                .map(|input| json!({ "batch": input.batch.0, "path": input.path, "reason": input.reason }))
                .collect(),
        ),
        Response::Releases { recorded, statuses } => json!({
            "recorded": recorded.into_iter().map(|info| json!({
                "release_id": info.record.release_id,
                "recipient_name": info.record.recipient_name,
                "provided_on": info.record.provided_on.to_string(),
                "mode": info.record.mode,
                "n_persons": info.record.n_persons,
                "manifest_sha256": info.record.manifest_sha256,
            })).collect::<Vec<_>>(),
            "statuses": statuses.into_iter().map(|status| json!({
                "release_id": status.release_id,
                "state": status.state.name(),
                "reserved_by": status.reserved_by,
                "state_at": status.state_at.to_rfc3339(),
            })).collect::<Vec<_>>(),
        }),
        Response::Ledger(lines) => Value::Array(
            lines
                .into_iter()
                .map(|line| {
                    json!({
                        "id": line.id,
                        "kind": line.kind,
                        "release_id": line.release_id,
                        "recipient_name": line.recipient_name,
                        "recipient_address": line.recipient_address,
                        "provided_on": line.provided_on.to_string(),
                        "items": line.items,
                        "n_persons": line.n_persons,
                        "retain_until": line.retain_until.to_string(),
                    })
                })
                .collect(),
        ),
        Response::Receipts(receipts) => Value::Array(
            receipts
                .into_iter()
                .map(|receipt| {
                    json!({
                        "batch": receipt.batch.0,
                        "received_on": receipt.received_on.to_string(),
                        "provider": receipt.provider.to_string(),
                        "provider_name": receipt.provider_name,
                        "published_on": receipt.published_on.to_string(),
                        "n_persons": receipt.n_persons,
                        "n_persons_excluded": receipt.n_persons_excluded,
                        "items": receipt.items,
                        "retain_until": receipt.retain_until.to_string(),
                    })
                })
                .collect(),
        ),
        Response::AuditVerified(verified) => json!({
            "n_entries": verified.n_entries,
            "head_hash": verified.head_hash,
            "signed_through": verified.signed_through,
            "n_checkpoints": verified.n_checkpoints,
            "public_key": verified.public_key,
        }),
        Response::AuditEntries(entries) => {
            Value::Array(entries.iter().map(kiban_service::audit_entry_json).collect())
        }
        Response::EnrollmentToken(token) => json!({
            "user": token.user,
            "enrollment_token": token.token.expose_secret(),
            "expires_at": token.expires_at.to_rfc3339(),
        }),
        Response::Users(users) => Value::Array(
            users
                .into_iter()
                .map(|user| {
                    json!({
                        "name": user.name,
                        "display_name": user.display_name,
                        "roles": user.roles,
                        "enrolled": user.enrolled,
                        "failed_logins": user.failed_logins,
                        "locked": user.locked_reason.is_some(),
                        "locked_reason": user.locked_reason,
                    })
                })
                .collect(),
        ),
        Response::ProviderCredential { provider, token } => json!({
            "provider": provider,
            "credential": token.expose_secret(),
            "note": "shown once: give it to the provider securely",
        }),
        Response::ProviderCredentialRevoked { provider } => json!({ "revoked": provider }),
        Response::HandedOver(handover) => json!({
            "release_id": handover.release_id,
            "recipient": handover.recipient_user,
            "handed_over_at": handover.created_at.to_rfc3339(),
        }),
        Response::LinkReview(items) => Value::Array(
            items
                .into_iter()
                .map(|item| {
                    json!({
                        "pair": item.pair_id,
                        "a_provider": item.a.provider.to_string(),
                        "b_provider": item.b.provider.to_string(),
                        "score": item.score,
                        "reason": item.reason,
                        "agreement": item.agreement,
                    })
                })
                .collect(),
        ),
        Response::LinkReviewDecided(decision) => json!({
            "pair": decision.pair_id,
            "same_person": decision.same_person,
            "decided_by": decision.decided_by,
            "note": "applied by the next linkage run",
        }),
        Response::Locked { name } => json!({ "locked": name }),
        Response::Unlocked { name } => json!({ "unlocked": name }),
        Response::Roles { name, roles } => json!({ "user": name, "roles": role_names(&roles) }),
        Response::KeyStatus(status) => json!({
            "kek_id": status.kek_id,
            "audit_public_key": status.audit_public_key,
            "entries": status.entries.into_iter().map(|(object, kek_id)| json!({ "object": object, "kek_id": kek_id })).collect::<Vec<_>>(),
        }),
        Response::OptoutRecorded(outcome) => json!({
            "request_id": outcome.request_id,
            "retain_until": outcome.retain_until.to_string(),
            "n_vault_records_matched": outcome.n_vault_records_matched,
            "notice": format!("/api/v1/optouts/{}/notice", outcome.request_id),
        }),
        Response::Optouts(listings) => Value::Array(
            listings
                .into_iter()
                .map(|listing| {
                    json!({
                        "request_id": listing.request_id,
                        "requester": listing.requester,
                        "received_on": listing.received_on.to_string(),
                        "stop_on": listing.stop_on.to_string(),
                        "notice_given_on": listing.notice_given_on.to_string(),
                        "retain_until": listing.retain_until.to_string(),
                    })
                })
                .collect(),
        ),
        // The operations that answer otherwise (jobs, notices, files) never reach here.
        _ => json!({ "done": true }),
    }
}
