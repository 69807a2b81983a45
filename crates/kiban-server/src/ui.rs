//! The staff web UI: server-rendered pages (maud), in Japanese or English, with no script of their own
//! and nothing from another site. Each page runs the same service requests as the API; a form posts with
//! the session's CSRF token; long operations become jobs whose page refreshes itself until done.

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header, request::Parts};
use axum::response::{Html, IntoResponse, Redirect, Response as HttpResponse};
use axum::routing::{get, post};
use kiban_auth::Action;
use kiban_service::{Request as ServiceRequest, Response, Session};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Deserialize;

use crate::ServerState;
use crate::api::{self, AuditQuery, LoginBody, OptoutBody, ProviderBody, ReasonBody, ReleaseBody, UserBody};
use crate::error::ApiError;
use crate::i18n::{Lang, T};
use crate::jobs::JobState;
use crate::session::{Authed, CSRF_FIELD, Mutation};

pub(crate) fn routes() -> Router<Arc<ServerState>> {
    Router::new()
        .route("/login", get(login_page).post(login_submit))
        .route("/enroll", get(enroll_page).post(enroll_submit))
        .route("/logout", post(logout))
        .route("/", get(dashboard))
        .route("/providers", get(providers).post(provider_add))
        .route("/batches", get(batches))
        .route("/batches/{id}/quarantine", get(quarantine))
        .route("/linkage", get(linkage).post(linkage_run))
        .route("/linkage/review/{pair}", post(review_decide))
        .route("/releases", get(releases).post(release_start))
        .route("/releases/{id}/report", get(release_report))
        .route("/releases/{id}/handover", post(release_handover))
        .route("/jobs/{id}", get(job))
        .route("/ledger", get(ledger))
        .route("/receipts", get(receipts))
        .route("/audit", get(audit))
        .route("/audit/verify", post(audit_verify))
        .route("/users", get(users).post(user_add))
        .route("/users/{name}/lock", post(user_lock))
        .route("/users/{name}/unlock", post(user_unlock))
        .route("/users/{name}/roles", post(user_roles))
        .route("/users/{name}/reset", post(user_reset))
        .route("/keys", get(keys))
        .route("/keys/provider-credential", post(provider_credential))
        .route("/optouts", get(optouts).post(optout_add))
        .route("/optouts/{id}/notice", get(optout_notice))
}

/// An error shown as a page: the sign-in page when the session is missing or over, otherwise the
/// message with the status [`ApiError`] picks.
pub(crate) struct PageError {
    lang: Lang,
    error: ApiError,
}

impl IntoResponse for PageError {
    fn into_response(self) -> HttpResponse {
        if self.error.needs_login() {
            return Redirect::to("/login").into_response();
        }
        let lang = self.lang;
        let body = html! {
            h1 { (lang.t(T::Error)) }
            p.error data-code=(self.error.code()) { (self.error.message()) }
            p { a href="/" { (lang.t(T::Back)) } }
        };
        (self.error.status(), Html(layout(lang, None, lang.t(T::Error), "", body).into_string()))
            .into_response()
    }
}

/// A page request in a valid session, with its language.
struct Page {
    lang: Lang,
    authed: Authed,
}

impl FromRequestParts<Arc<ServerState>> for Page {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<ServerState>) -> Result<Page, PageError> {
        let lang = Lang::of(&parts.headers);
        let authed =
            Authed::from_request_parts(parts, state).await.map_err(|error| PageError { lang, error })?;
        Ok(Page { lang, authed })
    }
}

impl Page {
    fn fail(&self, error: ApiError) -> PageError {
        PageError { lang: self.lang, error }
    }

    async fn run(&self, state: &ServerState, request: ServiceRequest) -> Result<Response, PageError> {
        api::execute(state, self.authed.session.clone(), request).await.map_err(|error| self.fail(error))
    }

    fn render(&self, here: &str, title: T, body: Markup) -> Html<String> {
        let lang = self.lang;
        Html(
            layout(lang, Some((&self.authed.session, &self.authed.csrf)), lang.t(title), here, body)
                .into_string(),
        )
    }
}

/// A form posted in a valid session with its CSRF token.
struct PageForm<F> {
    page: Page,
    form: F,
}

impl<F: serde::de::DeserializeOwned + Send> FromRequest<Arc<ServerState>> for PageForm<F> {
    type Rejection = PageError;

    async fn from_request(request: Request, state: &Arc<ServerState>) -> Result<PageForm<F>, PageError> {
        let lang = Lang::of(request.headers());
        let mutation =
            Mutation::<F>::from_request(request, state).await.map_err(|error| PageError { lang, error })?;
        Ok(PageForm { page: Page { lang, authed: mutation.authed }, form: mutation.body })
    }
}

/// The sections of the UI: path, title, and the action a user needs to see it.
const SECTIONS: &[(&str, T, Action)] = &[
    ("/providers", T::Providers, Action::ProviderList),
    ("/batches", T::Batches, Action::Receipts),
    ("/optouts", T::Optouts, Action::OptoutList),
    ("/linkage", T::Linkage, Action::Link),
    ("/releases", T::Releases, Action::Ledger),
    ("/ledger", T::Ledger, Action::Ledger),
    ("/receipts", T::Receipts, Action::Receipts),
    ("/audit", T::Audit, Action::AuditShow),
    ("/users", T::Users, Action::UserList),
    ("/keys", T::Keys, Action::KeysStatus),
];

pub(crate) fn layout(
    lang: Lang,
    session: Option<(&Session, &str)>,
    title: &str,
    here: &str,
    body: Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — kiban" }
                link rel="stylesheet" href="/assets/style.css";
            }
            body {
                header {
                    a.brand href="/" { (lang.t(T::AppName)) }
                    span.spacer {}
                    a #lang-switch href={ "/lang/" (lang.other().code()) } { (lang.t(T::SwitchLanguage)) }
                    @if let Some((session, csrf)) = session {
                        span #whoami { (lang.t(T::SignedInAs)) ": " strong { (session.user()) } }
                        form.inline method="post" action="/logout" {
                            input type="hidden" name=(CSRF_FIELD) value=(csrf);
                            button.quiet #sign-out type="submit" { (lang.t(T::SignOut)) }
                        }
                    }
                }
                @if let Some((session, _)) = session {
                    nav {
                        a href="/" class=[(here == "/").then_some("here")] { (lang.t(T::Dashboard)) }
                        @for (path, text, action) in SECTIONS {
                            @if session.may(*action) {
                                a href=(path) class=[(here == *path).then_some("here")] { (lang.t(*text)) }
                            }
                        }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    }
}

fn csrf_input(page: &Page) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(page.authed.csrf); }
}

fn field(label: &str, name: &str, kind: &str, required: bool) -> Markup {
    html! { label { span { (label) } input type=(kind) name=(name) required[required]; } }
}

fn empty_or<Item>(lang: Lang, items: &[Item], table: impl FnOnce() -> Markup) -> Markup {
    if items.is_empty() {
        html! { p.muted { (lang.t(T::NothingYet)) } }
    } else {
        table()
    }
}

pub(crate) async fn style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "max-age=3600")],
        include_str!("../assets/style.css"),
    )
}

pub(crate) async fn set_lang(Path(code): Path<String>, headers: HeaderMap) -> HttpResponse {
    let lang = Lang::parse(&code).unwrap_or(Lang::Ja);
    // Back to the page the switch was on, when it was one of ours.
    let back = headers
        .get(header::REFERER)
        .and_then(|value| value.to_str().ok())
        .and_then(|referer| referer.split_once("://").map(|(_, rest)| rest))
        .and_then(|rest| rest.find('/').map(|slash| rest[slash..].to_owned()))
        // Only a path on this server: not `//host` nor `/\host`, which browsers read as another site.
        .filter(|path| path.starts_with('/') && !path.starts_with("//") && !path.contains('\\'))
        .unwrap_or_else(|| "/".to_owned());
    let cookie = format!("lang={}; Path=/; SameSite=Strict; Max-Age=31536000", lang.code());
    ([(header::SET_COOKIE, cookie)], Redirect::to(&back)).into_response()
}

fn login_form(lang: Lang, error: Option<&ApiError>) -> Markup {
    html! {
        @if let Some(error) = error {
            p.error #login-error data-code=(error.code()) { (error.message()) }
        }
        form.card #login method="post" action="/login" {
            (field(lang.t(T::UserName), "user", "text", true))
            (field(lang.t(T::Password), "password", "password", true))
            label { span { (lang.t(T::OneTimeCode)) } input type="text" name="code" autocomplete="one-time-code" required; }
            button type="submit" { (lang.t(T::SignIn)) }
        }
        p.muted { a href="/enroll" { (lang.t(T::Enroll)) } }
    }
}

fn enroll_form(lang: Lang, error: Option<&ApiError>) -> Markup {
    html! {
        p { (lang.t(T::EnrollHelp)) }
        @if let Some(error) = error {
            p.error #enroll-error data-code=(error.code()) { (error.message()) }
        }
        form.card #enroll method="post" action="/enroll" {
            (field(lang.t(T::UserName), "user", "text", true))
            (field(lang.t(T::EnrollmentTokenField), "token", "password", true))
            (field(lang.t(T::NewPassword), "password", "password", true))
            button type="submit" { (lang.t(T::Enroll)) }
        }
    }
}

async fn enroll_page(headers: HeaderMap) -> Html<String> {
    let lang = Lang::of(&headers);
    Html(layout(lang, None, lang.t(T::Enroll), "", enroll_form(lang, None)).into_string())
}

#[derive(Deserialize)]
struct EnrollBody {
    user: String,
    token: String,
    password: String,
}

/// A new user sets their password with the enrollment token an administrator handed them, and is shown
/// their authenticator secret and recovery codes, once. Rate-limited like a login.
async fn enroll_submit(State(state): State<Arc<ServerState>>, request: Request) -> HttpResponse {
    let lang = Lang::of(request.headers());
    let (parts, body) = request.into_parts();
    let fail = |error: ApiError| {
        (
            error.status(),
            Html(layout(lang, None, lang.t(T::Enroll), "", enroll_form(lang, Some(&error))).into_string()),
        )
            .into_response()
    };
    if let Err(error) = crate::session::check_origin(&parts.headers) {
        return fail(error);
    }
    let client = crate::session::client_address(&parts);
    let Some(form) = axum::body::to_bytes(body, 64 * 1024)
        .await
        .ok()
        .and_then(|bytes| serde_urlencoded::from_bytes::<EnrollBody>(&bytes).ok())
    else {
        return fail(ApiError::BadRequest(
            "fill in the user name, the enrollment token and a new password".to_owned(),
        ));
    };
    if let Err(error) = state.limiter.attempt(&[format!("ip:{client}"), format!("user:{}", form.user.trim())])
    {
        return fail(error);
    }
    let Ok(_permit) = state.password_checks.acquire().await else {
        return fail(ApiError::NotFound);
    };
    let app = Arc::clone(&state.app);
    let enrolled = match crate::blocking(move || {
        app.enroll(form.user.trim(), form.token.trim(), &form.password)
    })
    .await
    {
        Ok(Ok(enrolled)) => enrolled,
        Ok(Err(error)) => return fail(ApiError::Service(error)),
        Err(error) => return fail(error),
    };
    let base32 = enrolled.totp.to_base32();
    let uri = enrolled.totp.provisioning_uri(&enrolled.user);
    let body = html! {
        div.ok #enrolled {
            p { (lang.t(T::EnrolledShownOnce)) }
            p { (lang.t(T::TotpSecret)) ": " span.secret #totp-secret { (base32.expose_secret()) } }
            p.muted { code { (uri.expose_secret()) } }
            p { (lang.t(T::RecoveryCodes)) }
            ul #recovery-codes { @for code in &enrolled.recovery_codes { li { span.secret { (code.expose_secret()) } } } }
        }
        p { a href="/login" { (lang.t(T::SignIn)) } }
    };
    Html(layout(lang, None, lang.t(T::Enroll), "", body).into_string()).into_response()
}

async fn login_page(headers: HeaderMap) -> Html<String> {
    let lang = Lang::of(&headers);
    Html(layout(lang, None, lang.t(T::SignIn), "", login_form(lang, None)).into_string())
}

async fn login_submit(State(state): State<Arc<ServerState>>, request: Request) -> HttpResponse {
    let lang = Lang::of(request.headers());
    let (parts, body) = request.into_parts();
    let fail = |error: ApiError| {
        let status = error.status();
        (
            status,
            Html(layout(lang, None, lang.t(T::SignIn), "", login_form(lang, Some(&error))).into_string()),
        )
            .into_response()
    };
    if let Err(error) = crate::session::check_origin(&parts.headers) {
        return fail(error);
    }
    let client = crate::session::client_address(&parts);
    let form = match axum::body::to_bytes(body, 64 * 1024)
        .await
        .ok()
        .and_then(|bytes| serde_urlencoded::from_bytes::<LoginBody>(&bytes).ok())
    {
        Some(form) => form,
        None => return fail(ApiError::BadRequest("fill in the user name, password and code".to_owned())),
    };
    match api::sign_in(&state, client, form).await {
        Ok((outcome, _)) => {
            let cookie = crate::session::session_cookie(outcome.token.expose_secret());
            ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
        }
        Err(error) => fail(error),
    }
}

#[derive(Deserialize)]
struct Nothing {}

async fn logout(State(state): State<Arc<ServerState>>, form: PageForm<Nothing>) -> HttpResponse {
    let app = Arc::clone(&state.app);
    let token = form.page.authed.token.clone();
    // Even if the store fails, the browser forgets the session.
    if let Ok(Err(error)) = crate::blocking(move || app.logout(&token)).await {
        tracing::warn!(code = error.code().as_str(), "logout failed");
    }
    ([(header::SET_COOKIE, crate::session::clear_session_cookie())], Redirect::to("/login")).into_response()
}

async fn dashboard(State(state): State<Arc<ServerState>>, page: Page) -> Html<String> {
    let lang = page.lang;
    let jobs = state.jobs.of(page.authed.session.user());
    let body = html! {
        h2 { (lang.t(T::YourSections)) }
        div.tiles {
            @for (path, text, action) in SECTIONS {
                @if page.authed.session.may(*action) { a href=(path) { (lang.t(*text)) } }
            }
        }
        @if !jobs.is_empty() {
            h2 { (lang.t(T::Jobs)) }
            (jobs_table(lang, &jobs))
        }
    };
    page.render("/", T::Dashboard, body)
}

fn jobs_table(lang: Lang, jobs: &[crate::jobs::Job]) -> Markup {
    html! {
        table {
            tr { th { (lang.t(T::Job)) } th { (lang.t(T::Action)) } th { (lang.t(T::StartedAt)) } th { (lang.t(T::Status)) } }
            @for job in jobs {
                tr {
                    td { a href={ "/jobs/" (job.id) } { "#" (job.id) } }
                    td { (job.kind) }
                    td { (job.started_at.format("%Y-%m-%d %H:%M:%S UTC")) }
                    td { (job_state_text(lang, &job.state)) }
                }
            }
        }
    }
}

fn job_state_text(lang: Lang, state: &JobState) -> &'static str {
    match state {
        JobState::Running => lang.t(T::Running),
        JobState::Done { .. } => lang.t(T::Done),
        JobState::Failed { .. } => lang.t(T::Failed),
    }
}

async fn providers(State(state): State<Arc<ServerState>>, page: Page) -> Result<Html<String>, PageError> {
    let Response::Providers(providers) = page.run(&state, ServiceRequest::ProviderList).await? else {
        return Err(page.fail(ApiError::NotFound));
    };
    let lang = page.lang;
    let body = html! {
        (empty_or(lang, &providers, || html! {
            table #providers {
                tr { th { (lang.t(T::Code)) } th { (lang.t(T::Name)) } th { (lang.t(T::Address)) } th { (lang.t(T::NotifiedOn)) } th { (lang.t(T::PublishedOn)) } }
                @for provider in &providers {
                    tr {
                        td { (provider.code) } td { (provider.name) } td { (provider.address) }
                        td { (provider.notified_on) }
                        td { @if let Some(day) = provider.published_on { (day) } @else { span.muted { (lang.t(T::NotPublished)) } } }
                    }
                }
            }
        }))
        @if page.authed.session.may(Action::ProviderAdd) {
            h2 { (lang.t(T::Register)) }
            form.card #provider-form method="post" action="/providers" {
                (csrf_input(&page))
                (field(lang.t(T::Code), "code", "text", true))
                (field(lang.t(T::Name), "name", "text", true))
                (field(lang.t(T::Address), "address", "text", true))
                (field(lang.t(T::NotifiedOn), "notified_on", "date", true))
                (field(lang.t(T::PublishedOn), "published_on", "date", false))
                button type="submit" { (lang.t(T::Register)) }
            }
        }
    };
    Ok(page.render("/providers", T::Providers, body))
}

async fn provider_add(
    State(state): State<Arc<ServerState>>,
    form: PageForm<ProviderBody>,
) -> Result<Redirect, PageError> {
    let request = form.form.request().map_err(|error| form.page.fail(error))?;
    form.page.run(&state, request).await?;
    Ok(Redirect::to("/providers"))
}

async fn batches(State(state): State<Arc<ServerState>>, page: Page) -> Result<Html<String>, PageError> {
    let Response::Batches(batches) = page.run(&state, ServiceRequest::BatchList).await? else {
        return Err(page.fail(ApiError::NotFound));
    };
    let lang = page.lang;
    let body = empty_or(lang, &batches, || {
        html! {
            table #batches {
                tr { th { (lang.t(T::Batch)) } th { (lang.t(T::Provider)) } th { (lang.t(T::Format)) } th { (lang.t(T::Status)) } th { (lang.t(T::StartedAt)) } th { (lang.t(T::CompletedAt)) } th { (lang.t(T::Quarantine)) } }
                @for batch in &batches {
                    tr {
                        td.num { (batch.id.0) } td { (batch.provider) } td { (batch.format) } td { (batch.status.name()) }
                        td { (batch.started_at.format("%Y-%m-%d %H:%M")) }
                        td { @if let Some(at) = batch.completed_at { (at.format("%Y-%m-%d %H:%M")) } }
                        td { a href={ "/batches/" (batch.id.0) "/quarantine" } { (lang.t(T::Open)) } }
                    }
                }
            }
        }
    });
    Ok(page.render("/batches", T::Batches, body))
}

async fn quarantine(
    State(state): State<Arc<ServerState>>,
    page: Page,
    Path(batch): Path<String>,
) -> Result<Html<String>, PageError> {
    let batch = api::number(&batch).map_err(|error| page.fail(error))?;
    let Response::Quarantine(inputs) =
        page.run(&state, ServiceRequest::Quarantine { batch: Some(batch) }).await?
    else {
        return Err(page.fail(ApiError::NotFound));
    };
    let lang = page.lang;
    let body = html! {
        p { (lang.t(T::Batch)) " " (batch) }
        (empty_or(lang, &inputs, || html! {
            table #quarantine {
                tr { th { (lang.t(T::Path)) } th { (lang.t(T::Reason)) } }
                @for input in &inputs { tr { td { (input.path) } td { (input.reason) } } }
            }
        }))
    };
    Ok(page.render("/batches", T::Quarantine, body))
}

async fn linkage(State(state): State<Arc<ServerState>>, page: Page) -> Result<Html<String>, PageError> {
    let lang = page.lang;
    let Response::LinkReview(items) = page.run(&state, ServiceRequest::LinkReviewList).await? else {
        return Err(page.fail(ApiError::NotFound));
    };
    let body = html! {
        p { (lang.t(T::LinkageHelp)) }
        form.card method="post" action="/linkage" {
            (csrf_input(&page))
            button #run-linkage type="submit" { (lang.t(T::RunLinkage)) }
        }
        h2 { (lang.t(T::ReviewQueue)) }
        p.muted { (lang.t(T::ReviewHelp)) }
        (empty_or(lang, &items, || html! {
            table #review {
                tr { th { (lang.t(T::Pair)) } th { (lang.t(T::Provider)) } th { "score" } th { (lang.t(T::Reason)) } th { (lang.t(T::Agreement)) } th { (lang.t(T::Decision)) } }
                @for item in &items {
                    tr data-pair=(item.pair_id) {
                        td { code { (item.pair_id) } }
                        td { (item.a.provider) " / " (item.b.provider) }
                        td.num { (format!("{:.1}", item.score)) }
                        td { (item.reason) }
                        td { small { (item.agreement) } }
                        td {
                            form.inline method="post" action={ "/linkage/review/" (item.pair_id) } {
                                (csrf_input(&page))
                                input type="text" name="reason" placeholder=(lang.t(T::Reason)) required;
                                button.quiet type="submit" name="decision" value="same" { (lang.t(T::SamePerson)) }
                                " "
                                button.quiet type="submit" name="decision" value="different" { (lang.t(T::DifferentPersons)) }
                            }
                        }
                    }
                }
            }
        }))
    };
    Ok(page.render("/linkage", T::Linkage, body))
}

async fn review_decide(
    State(state): State<Arc<ServerState>>,
    Path(pair): Path<String>,
    form: PageForm<api::DecisionBody>,
) -> Result<Redirect, PageError> {
    let request = form.form.request(pair).map_err(|error| form.page.fail(error))?;
    form.page.run(&state, request).await?;
    Ok(Redirect::to("/linkage"))
}

async fn linkage_run(
    State(state): State<Arc<ServerState>>,
    form: PageForm<Nothing>,
) -> Result<Redirect, PageError> {
    let request = ServiceRequest::Link(kiban_service::LinkRequest::default());
    let id = api::start_job(&state, form.page.authed.session.clone(), request, api::describe_link)
        .await
        .map_err(|error| form.page.fail(error))?;
    Ok(Redirect::to(&format!("/jobs/{id}")))
}

async fn releases(State(state): State<Arc<ServerState>>, page: Page) -> Result<Html<String>, PageError> {
    let Response::Releases { recorded, statuses } = page.run(&state, ServiceRequest::ReleaseList).await?
    else {
        return Err(page.fail(ApiError::NotFound));
    };
    let lang = page.lang;
    let state_of = |id: &str| {
        statuses
            .iter()
            .find(|status| status.release_id == id)
            .map_or("published", |status| status.state.name())
    };
    let body = html! {
        (empty_or(lang, &recorded, || html! {
            table #releases {
                tr { th { (lang.t(T::ReleaseId)) } th { (lang.t(T::Recipient)) } th { (lang.t(T::ProvidedOn)) } th { (lang.t(T::Mode)) } th { (lang.t(T::Persons)) } th { (lang.t(T::Status)) } th { (lang.t(T::Report)) } }
                @for info in &recorded {
                    tr {
                        td { (info.record.release_id) } td { (info.record.recipient_name) } td { (info.record.provided_on) }
                        td { (info.record.mode) } td.num { (info.record.n_persons) } td { (state_of(&info.record.release_id)) }
                        td { a href={ "/releases/" (info.record.release_id) "/report" } { (lang.t(T::Report)) } }
                        @if page.authed.session.may(Action::ReleaseHandover) {
                            td {
                                form.inline method="post" action={ "/releases/" (info.record.release_id) "/handover" } {
                                    (csrf_input(&page))
                                    input type="text" name="recipient" placeholder=(lang.t(T::RecipientAccount)) required;
                                    button.quiet type="submit" { (lang.t(T::HandOver)) }
                                }
                            }
                        }
                    }
                }
            }
        }))
        @if page.authed.session.may(Action::Release) {
            h2 { (lang.t(T::NewRelease)) }
            form.card #release-form method="post" action="/releases" {
                (csrf_input(&page))
                p { strong { (lang.t(T::BuiltInPolicy)) } }
                (field(lang.t(T::Recipient), "recipient_name", "text", false))
                (field(lang.t(T::RecipientAddress), "recipient_address", "text", false))
                label { span { "k" } input type="text" name="k" value="5" inputmode="numeric"; }
                label { span { (lang.t(T::OrPolicy)) } textarea name="policy" {} }
                button #start-release type="submit" { (lang.t(T::StartRelease)) }
            }
        }
    };
    Ok(page.render("/releases", T::Releases, body))
}

async fn release_start(
    State(state): State<Arc<ServerState>>,
    form: PageForm<ReleaseBody>,
) -> Result<Redirect, PageError> {
    let request = form.form.request().map_err(|error| form.page.fail(error))?;
    let id = api::start_job(&state, form.page.authed.session.clone(), request, api::describe_release)
        .await
        .map_err(|error| form.page.fail(error))?;
    Ok(Redirect::to(&format!("/jobs/{id}")))
}

async fn release_handover(
    State(state): State<Arc<ServerState>>,
    Path(id): Path<String>,
    form: PageForm<api::HandoverBody>,
) -> Result<Redirect, PageError> {
    let request =
        ServiceRequest::ReleaseHandover { release_id: id, recipient: form.form.recipient.trim().to_owned() };
    form.page.run(&state, request).await?;
    Ok(Redirect::to("/releases"))
}

async fn release_report(
    State(state): State<Arc<ServerState>>,
    page: Page,
    Path(id): Path<String>,
) -> Result<HttpResponse, PageError> {
    let Response::Report(html) = page.run(&state, ServiceRequest::ReleaseReport { release_id: id }).await?
    else {
        return Err(page.fail(ApiError::NotFound));
    };
    // The report is a document of its own (its own styles and plots); it runs no script.
    Ok((
        [(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'",
        )],
        Html(html),
    )
        .into_response())
}

async fn job(
    State(state): State<Arc<ServerState>>,
    page: Page,
    Path(id): Path<String>,
) -> Result<HttpResponse, PageError> {
    let id = api::number(&id).map_err(|error| page.fail(error))?;
    let job = state.jobs.get(id, page.authed.session.user()).ok_or_else(|| page.fail(ApiError::NotFound))?;
    let lang = page.lang;
    let running = matches!(job.state, JobState::Running);
    let body = html! {
        @if running { meta http-equiv="refresh" content="1"; }
        p { (lang.t(T::Action)) ": " (job.kind) " · " (lang.t(T::StartedAt)) ": " (job.started_at.format("%Y-%m-%d %H:%M:%S UTC")) }
        @match &job.state {
            JobState::Running => p #job-state data-state="running" {
                (lang.t(T::Running))
                @if let Some((name, number, total)) = job.step {
                    " " (lang.t(T::Step)) " " (number) "/" (total) ": " (name)
                }
            },
            JobState::Done { summary, link } => {
                p.ok #job-state data-state="done" { (lang.t(T::Done)) ": " (summary) }
                @if let Some(link) = link { p { a #job-link href=(link) { (lang.t(T::Open)) } } }
            }
            JobState::Failed { code, message } => p.error #job-state data-state="failed" data-code=(code) { (lang.t(T::Failed)) ": " (message) },
        }
    };
    Ok(page.render("/", T::Job, body).into_response())
}

async fn ledger(State(state): State<Arc<ServerState>>, page: Page) -> Result<Html<String>, PageError> {
    let Response::Ledger(lines) = page.run(&state, ServiceRequest::Ledger).await? else {
        return Err(page.fail(ApiError::NotFound));
    };
    let lang = page.lang;
    let body = empty_or(lang, &lines, || {
        html! {
            table #ledger {
                tr { th { "#" } th { (lang.t(T::ReleaseId)) } th { (lang.t(T::Recipient)) } th { (lang.t(T::RecipientAddress)) } th { (lang.t(T::ProvidedOn)) } th { (lang.t(T::Items)) } th { (lang.t(T::Persons)) } th { (lang.t(T::RetainUntil)) } }
                @for line in &lines {
                    tr {
                        td.num { (line.id) } td { (line.release_id.as_deref().unwrap_or("")) } td { (line.recipient_name) } td { (line.recipient_address) }
                        td { (line.provided_on) } td { (line.items.join(", ")) } td.num { (line.n_persons) } td { (line.retain_until) }
                    }
                }
            }
        }
    });
    Ok(page.render("/ledger", T::Ledger, body))
}

async fn receipts(State(state): State<Arc<ServerState>>, page: Page) -> Result<Html<String>, PageError> {
    let Response::Receipts(receipts) = page.run(&state, ServiceRequest::Receipts).await? else {
        return Err(page.fail(ApiError::NotFound));
    };
    let lang = page.lang;
    let body = empty_or(lang, &receipts, || {
        html! {
            table #receipts {
                tr { th { (lang.t(T::Batch)) } th { (lang.t(T::ReceivedOn)) } th { (lang.t(T::Provider)) } th { (lang.t(T::PublishedOn)) } th { (lang.t(T::Persons)) } th { (lang.t(T::Excluded)) } th { (lang.t(T::Items)) } th { (lang.t(T::RetainUntil)) } }
                @for receipt in &receipts {
                    tr {
                        td.num { (receipt.batch.0) } td { (receipt.received_on) } td { (receipt.provider) " " (receipt.provider_name) }
                        td { (receipt.published_on) } td.num { (receipt.n_persons) } td.num { (receipt.n_persons_excluded) }
                        td { (receipt.items.join(", ")) } td { (receipt.retain_until) }
                    }
                }
            }
        }
    });
    Ok(page.render("/receipts", T::Receipts, body))
}

/// The audit log's newest entries the viewer shows at once.
const AUDIT_PAGE: usize = 500;

fn audit_page(
    page: &Page,
    query: &AuditQuery,
    entries: &[kiban_audit_entry::Entry],
    verified: Option<Markup>,
) -> Markup {
    let lang = page.lang;
    html! {
        @if let Some(verified) = verified { (verified) }
        form.card method="post" action="/audit/verify" {
            (csrf_input(page))
            button #verify-audit type="submit" { (lang.t(T::Verify)) }
        }
        form.card #audit-filter method="get" action="/audit" {
            label { span { (lang.t(T::Actor)) } input type="text" name="user" value=(query.user.as_deref().unwrap_or("")); }
            label { span { (lang.t(T::Object)) } input type="text" name="object" value=(query.object.as_deref().unwrap_or("")); }
            label { span { (lang.t(T::Since)) } input type="text" name="since" placeholder="2026-12-01" value=(query.since.as_deref().unwrap_or("")); }
            label { span { (lang.t(T::Until)) } input type="text" name="until" value=(query.until.as_deref().unwrap_or("")); }
            button.quiet type="submit" { (lang.t(T::Filter)) }
        }
        (empty_or(lang, entries, || html! {
            table #audit {
                tr { th { "#" } th { (lang.t(T::At)) } th { (lang.t(T::Actor)) } th { (lang.t(T::Action)) } th { (lang.t(T::Object)) } th { (lang.t(T::Outcome)) } th { (lang.t(T::Detail)) } }
                @for entry in entries.iter().rev().take(AUDIT_PAGE) {
                    tr {
                        td.num { (entry.seq) } td { (entry.at) } td { (entry.actor) } td { (entry.action) }
                        td { (entry.object) } td { (entry.outcome) } td { (entry.detail) }
                    }
                }
            }
        }))
    }
}

/// An audit entry as the viewer shows it.
mod kiban_audit_entry {
    pub(super) struct Entry {
        pub(super) seq: u64,
        pub(super) at: String,
        pub(super) actor: String,
        pub(super) action: String,
        pub(super) object: String,
        pub(super) outcome: &'static str,
        pub(super) detail: String,
    }
}

async fn audit_entries(
    state: &ServerState,
    page: &Page,
    query: &AuditQuery,
) -> Result<Vec<kiban_audit_entry::Entry>, PageError> {
    let filter = query.filter().map_err(|error| page.fail(error))?;
    let Response::AuditEntries(entries) = page.run(state, ServiceRequest::AuditShow(filter)).await? else {
        return Err(page.fail(ApiError::NotFound));
    };
    Ok(entries
        .into_iter()
        .map(|entry| kiban_audit_entry::Entry {
            seq: entry.seq,
            at: entry.event.at.format("%Y-%m-%d %H:%M:%S").to_string(),
            actor: entry.event.actor,
            action: entry.event.action,
            object: entry.event.object,
            outcome: entry.event.outcome.name(),
            detail: entry.event.detail,
        })
        .collect())
}

async fn audit(
    State(state): State<Arc<ServerState>>,
    page: Page,
    Query(query): Query<AuditQuery>,
) -> Result<Html<String>, PageError> {
    let entries = audit_entries(&state, &page, &query).await?;
    Ok(page.render("/audit", T::Audit, audit_page(&page, &query, &entries, None)))
}

async fn audit_verify(
    State(state): State<Arc<ServerState>>,
    form: PageForm<Nothing>,
) -> Result<Html<String>, PageError> {
    let page = form.page;
    let lang = page.lang;
    let verified = match page.run(&state, ServiceRequest::AuditVerify).await {
        Ok(Response::AuditVerified(verified)) => html! {
            div.ok #audit-verified data-entries=(verified.n_entries) {
                p { (lang.t(T::AuditVerified)) }
                p { (lang.t(T::Entries)) ": " (verified.n_entries) " · " (lang.t(T::SignedThrough)) ": " (verified.signed_through) }
                p.muted { (lang.t(T::HeadHash)) ": " code { (verified.head_hash) } }
                p.muted { (lang.t(T::PublicKey)) ": " code { (verified.public_key) } }
            }
        },
        Ok(_) => return Err(page.fail(ApiError::NotFound)),
        Err(error) if error.error.needs_login() || matches!(error.error.status(), StatusCode::FORBIDDEN) => {
            return Err(error);
        }
        // A log that does not verify is the finding this page exists to show.
        Err(error) => {
            html! { p.error #audit-verified data-code=(error.error.code()) { (error.error.message()) } }
        }
    };
    let query = AuditQuery::default();
    let entries = audit_entries(&state, &page, &query).await?;
    Ok(page.render("/audit", T::Audit, audit_page(&page, &query, &entries, Some(verified))))
}

async fn users_page(
    state: &ServerState,
    page: &Page,
    notice: Option<Markup>,
) -> Result<Html<String>, PageError> {
    let Response::Users(users) = page.run(state, ServiceRequest::UserList).await? else {
        return Err(page.fail(ApiError::NotFound));
    };
    let lang = page.lang;
    let admin = page.authed.session.may(Action::UserLock);
    let body = html! {
        @if let Some(notice) = notice { (notice) }
        table #users {
            tr { th { (lang.t(T::UserName)) } th { (lang.t(T::DisplayName)) } th { (lang.t(T::Roles)) } th { (lang.t(T::Enrolled)) } th { (lang.t(T::Locked)) } @if admin { th {} } }
            @for user in &users {
                tr {
                    td { (user.name) } td { (user.display_name) } td { (user.roles.join(", ")) }
                    td { @if user.enrolled { "✓" } }
                    td { @if let Some(reason) = &user.locked_reason { (reason) } }
                    @if admin && user.name != page.authed.session.user() {
                        td {
                            @let (path, text) = if user.locked_reason.is_some() { ("unlock", T::Unlock) } else { ("lock", T::Lock) };
                            form.inline method="post" action={ "/users/" (user.name) "/" (path) } {
                                (csrf_input(page))
                                input type="text" name="reason" placeholder=(lang.t(T::Reason)) required;
                                button.quiet type="submit" { (lang.t(text)) }
                            }
                            form.inline method="post" action={ "/users/" (user.name) "/roles" } {
                                (csrf_input(page))
                                input type="text" name="roles" value=(user.roles.join(",")) required;
                                button.quiet type="submit" { (lang.t(T::SetRoles)) }
                            }
                            form.inline method="post" action={ "/users/" (user.name) "/reset" } {
                                (csrf_input(page))
                                input type="text" name="identity_check" placeholder=(lang.t(T::IdentityCheck)) required;
                                button.quiet type="submit" { (lang.t(T::Reset)) }
                            }
                        }
                    } @else if admin { td {} }
                }
            }
        }
        @if page.authed.session.may(Action::UserAdd) {
            h2 { (lang.t(T::AddUser)) }
            form.card #user-form method="post" action="/users" {
                (csrf_input(page))
                (field(lang.t(T::UserName), "name", "text", true))
                (field(lang.t(T::DisplayName), "display_name", "text", false))
                label { span { (lang.t(T::Roles)) } select name="roles" {
                    @for role in kiban_auth::Role::ALL { option value=(role.name()) { (role.name()) } }
                } }
                button type="submit" { (lang.t(T::AddUser)) }
            }
        }
    };
    Ok(page.render("/users", T::Users, body))
}

async fn users(State(state): State<Arc<ServerState>>, page: Page) -> Result<Html<String>, PageError> {
    users_page(&state, &page, None).await
}

async fn user_add(
    State(state): State<Arc<ServerState>>,
    form: PageForm<UserBody>,
) -> Result<Html<String>, PageError> {
    let request = ServiceRequest::UserAdd {
        name: form.form.name.trim().to_owned(),
        display_name: form.form.display_name.trim().to_owned(),
        roles: api::split_roles(&form.form.roles),
    };
    let Response::EnrollmentToken(token) = form.page.run(&state, request).await? else {
        return Err(form.page.fail(ApiError::NotFound));
    };
    users_page(&state, &form.page, Some(enrollment_notice(form.page.lang, &token))).await
}

async fn user_lock(
    State(state): State<Arc<ServerState>>,
    Path(name): Path<String>,
    form: PageForm<ReasonBody>,
) -> Result<Redirect, PageError> {
    form.page.run(&state, ServiceRequest::UserLock { name, reason: form.form.reason.clone() }).await?;
    Ok(Redirect::to("/users"))
}

async fn user_unlock(
    State(state): State<Arc<ServerState>>,
    Path(name): Path<String>,
    form: PageForm<ReasonBody>,
) -> Result<Redirect, PageError> {
    form.page.run(&state, ServiceRequest::UserUnlock { name, reason: form.form.reason.clone() }).await?;
    Ok(Redirect::to("/users"))
}

#[derive(Deserialize)]
struct RolesForm {
    roles: String,
}

async fn user_roles(
    State(state): State<Arc<ServerState>>,
    Path(name): Path<String>,
    form: PageForm<RolesForm>,
) -> Result<Redirect, PageError> {
    form.page
        .run(&state, ServiceRequest::UserRoles { name, roles: api::split_roles(&form.form.roles) })
        .await?;
    Ok(Redirect::to("/users"))
}

#[derive(Deserialize)]
struct ResetForm {
    identity_check: String,
}

/// A reset gives a new enrollment token, shown once (the user sets a new password with it).
async fn user_reset(
    State(state): State<Arc<ServerState>>,
    Path(name): Path<String>,
    form: PageForm<ResetForm>,
) -> Result<Html<String>, PageError> {
    let request = ServiceRequest::UserReset { name, identity_check: form.form.identity_check.clone() };
    let Response::EnrollmentToken(token) = form.page.run(&state, request).await? else {
        return Err(form.page.fail(ApiError::NotFound));
    };
    users_page(&state, &form.page, Some(enrollment_notice(form.page.lang, &token))).await
}

fn enrollment_notice(lang: Lang, token: &kiban_service::EnrollmentToken) -> Markup {
    html! {
        div.ok {
            p { (token.user) ": " (lang.t(T::EnrollmentToken)) }
            p { span.secret #enrollment-token { (token.token.expose_secret()) } }
            p.muted { (token.expires_at.format("%Y-%m-%d %H:%M UTC")) }
        }
    }
}

async fn keys(State(state): State<Arc<ServerState>>, page: Page) -> Result<Html<String>, PageError> {
    keys_page(&state, &page, None).await
}

#[derive(Deserialize)]
struct CredentialForm {
    provider: String,
}

async fn provider_credential(
    State(state): State<Arc<ServerState>>,
    form: PageForm<CredentialForm>,
) -> Result<Html<String>, PageError> {
    let request = ServiceRequest::ProviderCredentialIssue { provider: form.form.provider.trim().to_owned() };
    let Response::ProviderCredential { provider, token } = form.page.run(&state, request).await? else {
        return Err(form.page.fail(ApiError::NotFound));
    };
    let lang = form.page.lang;
    let notice = html! {
        div.ok {
            p { (provider) ": " (lang.t(T::CredentialShownOnce)) }
            p { span.secret #provider-credential { (token.expose_secret()) } }
        }
    };
    keys_page(&state, &form.page, Some(notice)).await
}

async fn keys_page(
    state: &ServerState,
    page: &Page,
    notice: Option<Markup>,
) -> Result<Html<String>, PageError> {
    let Response::KeyStatus(status) = page.run(state, ServiceRequest::KeysStatus).await? else {
        return Err(page.fail(ApiError::NotFound));
    };
    let lang = page.lang;
    let body = html! {
        @if let Some(notice) = notice { (notice) }
        p { (lang.t(T::KekId)) ": " code #kek-id { (status.kek_id) } }
        p { (lang.t(T::PublicKey)) ": " code { (status.audit_public_key) } }
        h2 { (lang.t(T::WrappedKeys)) }
        (empty_or(lang, &status.entries, || html! {
            table #keys {
                tr { th { (lang.t(T::Object)) } th { (lang.t(T::KekId)) } }
                @for (object, kek) in &status.entries { tr { td { (object) } td { (kek) } } }
            }
        }))
        @if page.authed.session.may(Action::ProviderCredential) {
            h2 { (lang.t(T::ProviderCredential)) }
            form.card #credential-form method="post" action="/keys/provider-credential" {
                (csrf_input(page))
                (field(lang.t(T::Code), "provider", "text", true))
                button type="submit" { (lang.t(T::IssueCredential)) }
            }
        }
    };
    Ok(page.render("/keys", T::Keys, body))
}

async fn optouts_page(
    state: &ServerState,
    page: &Page,
    notice: Option<Markup>,
) -> Result<Html<String>, PageError> {
    let Response::Optouts(listings) = page.run(state, ServiceRequest::OptoutList).await? else {
        return Err(page.fail(ApiError::NotFound));
    };
    let lang = page.lang;
    let may_add = page.authed.session.may(Action::OptoutAdd);
    let body = html! {
        @if let Some(notice) = notice { (notice) }
        (empty_or(lang, &listings, || html! {
            table #optouts {
                tr { th { "ID" } th { (lang.t(T::Requester)) } th { (lang.t(T::ReceivedOn)) } th { (lang.t(T::StopOn)) } th { (lang.t(T::RetainUntil)) } @if may_add { th { (lang.t(T::Notice)) } } }
                @for listing in &listings {
                    tr {
                        td { (listing.request_id) } td { (listing.requester) } td { (listing.received_on) } td { (listing.stop_on) } td { (listing.retain_until) }
                        @if may_add { td { a href={ "/optouts/" (listing.request_id) "/notice" } { (lang.t(T::PrintNotice)) } } }
                    }
                }
            }
        }))
        @if may_add {
            h2 { (lang.t(T::RecordOptout)) }
            form.card #optout-form method="post" action="/optouts" {
                (csrf_input(page))
                label { span { (lang.t(T::Requester)) } select name="requester" {
                    option value="person" { (lang.t(T::ThePerson)) }
                    option value="bereaved-family" { (lang.t(T::BereavedFamily)) }
                } }
                (field(lang.t(T::RequesterName), "requester_name", "text", true))
                (field(lang.t(T::Relationship), "relationship", "text", false))
                (field(lang.t(T::ReceivedOn), "received_on", "date", true))
                (field(lang.t(T::StopOn), "stop_on", "date", false))
                (field(lang.t(T::Kana), "kana", "text", true))
                (field(lang.t(T::BirthDate), "birth_date", "text", true))
                (field(lang.t(T::Sex), "sex", "text", true))
                (field(lang.t(T::Provider), "provider", "text", false))
                (field(lang.t(T::PatientId), "patient_id", "text", false))
                (field(lang.t(T::InsurerNumber), "insurer_number", "text", false))
                (field(lang.t(T::Issuer), "issuer", "text", true))
                button type="submit" { (lang.t(T::RecordOptout)) }
            }
        }
    };
    Ok(page.render("/optouts", T::Optouts, body))
}

async fn optouts(State(state): State<Arc<ServerState>>, page: Page) -> Result<Html<String>, PageError> {
    optouts_page(&state, &page, None).await
}

async fn optout_add(
    State(state): State<Arc<ServerState>>,
    form: PageForm<OptoutBody>,
) -> Result<Html<String>, PageError> {
    let PageForm { page, form } = form;
    let request = form.request().map_err(|error| page.fail(error))?;
    let Response::OptoutRecorded(outcome) = page.run(&state, request).await? else {
        return Err(page.fail(ApiError::NotFound));
    };
    let lang = page.lang;
    let notice = html! {
        div.ok #optout-recorded {
            p { (lang.t(T::Recorded)) " " (outcome.request_id) }
            p { a #notice-link href={ "/optouts/" (outcome.request_id) "/notice" } { (lang.t(T::PrintNotice)) } }
        }
    };
    optouts_page(&state, &page, Some(notice)).await
}

async fn optout_notice(
    State(state): State<Arc<ServerState>>,
    page: Page,
    Path(id): Path<String>,
) -> Result<HttpResponse, PageError> {
    let Response::Notice(notice) = page.run(&state, ServiceRequest::OptoutNotice { request_id: id }).await?
    else {
        return Err(page.fail(ApiError::NotFound));
    };
    // The kept notice is a whole printable document (its own inline styles, no script).
    Ok((
        [(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        )],
        Html(PreEscaped(notice).into_string()),
    )
        .into_response())
}
