//! The server's tests: the real axum app on `127.0.0.1:0` over a real data directory (SQLite, or
//! PostgreSQL with `KIBAN_SERVER_TEST_BACKEND=postgres`), talked to over HTTP as a client or a browser
//! would.

#![allow(clippy::unwrap_used)] // test helpers panic on setup failure by design

mod browser;
mod matrix;
mod review;
mod webdriver;
mod zones;

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use kiban_auth::TotpSecret;
use kiban_server::{ServerOptions, ServerState};
use kiban_service::{App, DemoRequest, Request, Response, SecondFactor, Session};
use kiban_store::test_support::{PostgresTestDb, TEST_DATABASE_URL_VAR};
use rustls::pki_types::pem::PemObject as _;
use serde_json::Value;

/// `postgres` runs this suite on the PostgreSQL server `KIBAN_TEST_DATABASE_URL` names.
const BACKEND_VAR: &str = "KIBAN_SERVER_TEST_BACKEND";

/// Where every test's clock starts: a weekday noon in Japan.
fn start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-07T03:00:00Z").unwrap().with_timezone(&Utc)
}

/// Twins at two CSV providers (one of each pair at each), registered, ingested and linked: linkage leaves
/// each pair to a person (same family name, birth date, phone and address; given names alike but not the
/// same). `n` pairs, at most 4.
pub(crate) fn seed_review_pairs(server: &TestServer, n: usize) {
    const FAMILIES: [(&str, &str); 4] =
        [("ヤマキ", "山木"), ("スズカ", "鈴鹿"), ("タナベ", "田辺"), ("イシダ", "石田")];
    const TWINS: [(&str, &str); 2] = [("ヨウナ", "洋奈"), ("ヨウミ", "洋美")];
    let desk = server.add_account("twins-desk", &["intake-operator"]);
    let desk = sign_in(&server.app, &desk.name, &desk.password, &desk.totp);
    let folder = tempfile::tempdir().unwrap();
    for (side, code) in ["1399000001", "1399000002"].into_iter().enumerate() {
        let dir = folder.path().join(code);
        std::fs::create_dir_all(&dir).unwrap();
        let mut csv = String::from("patient_id,name_kanji,name_kana,birth_date,sex,postal_code,phone\n");
        for (pair, (kana_family, kanji_family)) in FAMILIES.iter().take(n).enumerate() {
            let (kana_given, kanji_given) = TWINS[side];
            csv.push_str(&format!(
                "T{pair},{kanji_family} {kanji_given},{kana_family} {kana_given},2003-03-{:02},F,100-12{pair:02},090-3295-15{pair:02}\n",
                10 + pair
            ));
        }
        std::fs::write(dir.join("patients.csv"), csv).unwrap();
        let register = Request::ProviderAdd(kiban_service::ProviderRequest {
            code: code.to_owned(),
            name: format!("Twins Clinic {side}"),
            address: "Tokyo".to_owned(),
            notified_on: chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
            published_on: Some(chrono::NaiveDate::from_ymd_opt(2026, 1, 20).unwrap()),
        });
        server.app.execute(&desk, register).unwrap();
        let ingest = Request::Ingest(kiban_service::IngestRequest {
            provider: code.to_owned(),
            format: kiban_service::IngestFormat::Csv,
            path: dir,
            mapping: None,
        });
        server.app.execute(&desk, ingest).unwrap();
    }
    let linker = server.add_account("twins-linker", &["processor"]);
    let linker = sign_in(&server.app, &linker.name, &linker.password, &linker.totp);
    server.app.execute(&linker, Request::Link(kiban_service::LinkRequest::default())).unwrap();
}

/// A staff account a test signs in with.
pub(crate) struct Account {
    pub(crate) name: String,
    pub(crate) password: String,
    pub(crate) totp: TotpSecret,
}

/// A running server over its own data directory.
pub(crate) struct TestServer {
    pub(crate) base: String,
    pub(crate) app: Arc<App>,
    /// The administrator the harness acts as (not one of the accounts a test signs in with).
    pub(crate) root: Session,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
    _db: Option<PostgresTestDb>,
}

const PASSWORD: &str = "Server-Test-Pass-2026!";

impl TestServer {
    /// A server whose store holds what `kiban demo` makes from `patients` synthetic persons (none: an
    /// empty store), with the anomaly rules set wide (tests run at any hour and refuse on purpose).
    pub(crate) fn start(options: ServerOptions, patients: Option<usize>) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("security.toml"),
            "[anomaly]\nallowed_hours = \"00:00-00:00\"\nmax_exports_per_hour = 1000\n\
             max_rows_per_day = 1000000000\nmax_failures_per_hour = 100000\n",
        )
        .unwrap();
        let db = match std::env::var(BACKEND_VAR).as_deref() {
            Ok("postgres") => {
                let server = std::env::var(TEST_DATABASE_URL_VAR)
                    .expect("KIBAN_SERVER_TEST_BACKEND=postgres needs KIBAN_TEST_DATABASE_URL");
                Some(PostgresTestDb::create(&server))
            }
            _ => None,
        };
        let config = match &db {
            Some(db) => kiban_store::DatabaseConfig::Postgres(kiban_store::DatabaseUrl::new(db.url.clone())),
            None => kiban_store::DatabaseConfig::Sqlite,
        };
        let app = App::open(dir.path(), &config, false).unwrap().with_clock(start_time());
        if let Some(patients) = patients {
            app.demo(&DemoRequest { patients, providers: 3, seed: 7, k: 5 }).unwrap();
        }
        let enrolled = app.init_admin("root", "Harness administrator", PASSWORD).unwrap();
        let root = sign_in(&app, "root", PASSWORD, &enrolled.totp);
        let app = Arc::new(app);
        let state = ServerState::new(Arc::clone(&app), &options);
        let (sender, receiver) = tokio::sync::oneshot::channel::<()>();
        let (bound_sender, bound) = std::sync::mpsc::channel();
        let zone = options.zone;
        let thread = std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                bound_sender.send(listener.local_addr().unwrap()).unwrap();
                kiban_server::serve(listener, state, zone, async {
                    let _ = receiver.await;
                })
                .await
                .unwrap();
            });
        });
        let address = bound.recv().unwrap();
        TestServer {
            base: format!("http://{address}"),
            app,
            root,
            shutdown: Some(sender),
            thread: Some(thread),
            _dir: dir,
            _db: db,
        }
    }

    /// Adds and enrolls `name` with `roles`, as the harness's administrator.
    pub(crate) fn add_account(&self, name: &str, roles: &[&str]) -> Account {
        let request = Request::UserAdd {
            name: name.to_owned(),
            display_name: format!("Test {name}"),
            roles: roles.iter().map(|role| (*role).to_owned()).collect(),
        };
        let Response::EnrollmentToken(token) = self.app.execute(&self.root, request).unwrap() else {
            panic!("user add answers with a token")
        };
        let password = "Zq7-Mediform-Keys-2026!".to_owned();
        let enrolled = self.app.enroll(name, token.token.expose_secret(), &password).unwrap();
        Account { name: name.to_owned(), password, totp: enrolled.totp }
    }

    /// Unlocks `name` as the harness's administrator.
    pub(crate) fn unlock(&self, name: &str) {
        let request =
            Request::UserUnlock { name: name.to_owned(), reason: "test: refusal checked".to_owned() };
        self.app.execute(&self.root, request).unwrap();
    }

    /// The roles of `name`'s account.
    pub(crate) fn roles_of(&self, name: &str) -> Vec<String> {
        let Response::Users(users) = self.app.execute(&self.root, Request::UserList).unwrap() else {
            panic!("user list answers with users")
        };
        users.into_iter().find(|user| user.name == name).map(|user| user.roles).unwrap_or_default()
    }

    /// Whether `name`'s account is locked.
    pub(crate) fn is_locked(&self, name: &str) -> bool {
        let Response::Users(users) = self.app.execute(&self.root, Request::UserList).unwrap() else {
            panic!("user list answers with users")
        };
        users.iter().any(|user| user.name == name && user.locked_reason.is_some())
    }

    /// Moves the clock on (a new TOTP step every 30 seconds; sessions idle out after 30 minutes).
    pub(crate) fn advance(&self, by: TimeDelta) {
        self.app.set_clock(Some(self.app.now() + by));
    }

    /// The TOTP code of `account` now.
    pub(crate) fn code(&self, account: &Account) -> String {
        kiban_auth::totp_code(&account.totp, self.app.now()).unwrap().expose_secret().to_owned()
    }

    pub(crate) fn client(&self) -> Client {
        Client::new(&self.base)
    }

    /// A client signed in as `account` over the API (the clock moved to a fresh TOTP step first).
    pub(crate) fn signed_in(&self, account: &Account) -> Client {
        let mut client = self.client();
        self.advance(TimeDelta::seconds(31));
        let (status, body) = client.login(&account.name, &account.password, &self.code(account));
        assert_eq!(status, 200, "login of {}: {body}", account.name);
        client
    }

    /// The audit log's entries (as the harness's administrator).
    pub(crate) fn audit(&self) -> Vec<kiban_audit::AuditEntry> {
        let request = Request::AuditShow(kiban_service::AuditFilter::default());
        let Response::AuditEntries(entries) = self.app.execute(&self.root, request).unwrap() else {
            panic!("audit show answers with entries")
        };
        entries
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

pub(crate) fn sign_in(app: &App, name: &str, password: &str, totp: &TotpSecret) -> Session {
    let code = kiban_auth::totp_code(totp, app.now()).unwrap();
    let outcome = app.login(name, password, SecondFactor::Totp(code.expose_secret())).unwrap();
    app.authenticate(outcome.token.expose_secret()).unwrap()
}

/// An HTTP agent that follows no redirect and keeps no idle connection: a server that refuses a request
/// before reading its body closes the connection, and a pooled one would fail the next request.
pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .max_idle_connections(0)
        .max_idle_connections_per_host(0)
        .build()
        .into()
}

/// An HTTP client that keeps the session cookie and CSRF token it was given, and follows no redirect.
pub(crate) struct Client {
    agent: ureq::Agent,
    base: String,
    pub(crate) cookie: Option<String>,
    pub(crate) csrf: Option<String>,
}

impl Client {
    fn new(base: &str) -> Client {
        let agent = crate::agent();
        Client { agent, base: base.to_owned(), cookie: None, csrf: None }
    }

    /// Signs in over the API; keeps the cookie and CSRF token on success.
    pub(crate) fn login(&mut self, user: &str, password: &str, code: &str) -> (u16, Value) {
        let body = serde_json::json!({ "user": user, "password": password, "code": code });
        let mut response = self.agent.post(&format!("{}/api/v1/login", self.base)).send_json(&body).unwrap();
        let status = response.status().as_u16();
        let cookie =
            response.headers().get("set-cookie").and_then(|value| value.to_str().ok()).map(str::to_owned);
        let value: Value = response.body_mut().read_json().unwrap_or(Value::Null);
        if status == 200 {
            let cookie = cookie.expect("a session cookie");
            self.cookie = Some(cookie.split(';').next().unwrap().to_owned());
            self.csrf = value["csrf_token"].as_str().map(str::to_owned);
        }
        (status, value)
    }

    /// A request: `GET` or `POST` (a JSON body, with the CSRF header when the client has a token).
    /// Returns the status, the body and the `Location` header.
    pub(crate) fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, String, Option<String>) {
        let url = format!("{}{path}", self.base);
        let result = if method == "GET" {
            let mut request = self.agent.get(&url);
            if let Some(cookie) = &self.cookie {
                request = request.header("Cookie", cookie);
            }
            request.call()
        } else {
            let mut request = self.agent.post(&url);
            if let Some(cookie) = &self.cookie {
                request = request.header("Cookie", cookie);
            }
            if let Some(csrf) = &self.csrf {
                request = request.header("X-CSRF-Token", csrf);
            }
            request.send_json(body.cloned().unwrap_or_else(|| serde_json::json!({})))
        };
        let mut response = result.unwrap();
        let status = response.status().as_u16();
        let location =
            response.headers().get("location").and_then(|value| value.to_str().ok()).map(str::to_owned);
        let text = response.body_mut().read_to_string().unwrap_or_default();
        (status, text, location)
    }

    pub(crate) fn get(&self, path: &str) -> (u16, String) {
        let (status, text, _) = self.send("GET", path, None);
        (status, text)
    }

    pub(crate) fn post(&self, path: &str, body: &Value) -> (u16, String) {
        let (status, text, _) = self.send("POST", path, Some(body));
        (status, text)
    }
}

/// The `code` field of a JSON error body.
pub(crate) fn code_of(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|value| value["code"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[test]
fn the_session_cookie_is_http_only_secure_and_same_site_strict() {
    let server = TestServer::start(ServerOptions::default(), None);
    let account = server.add_account("clerk", &["intake-operator"]);
    server.advance(TimeDelta::seconds(31));
    let body =
        serde_json::json!({ "user": "clerk", "password": account.password, "code": server.code(&account) });
    let agent = crate::agent();
    let response = agent.post(&format!("{}/api/v1/login", server.base)).send_json(&body).unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let cookie = response.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    for flag in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(flag), "{flag} missing from the session cookie");
    }
    assert!(cookie.starts_with("kiban_session=kiban_"), "the token has kiban's prefix");
    // Every response forbids framing and sniffing, and pages are not cached.
    let response = agent.get(&format!("{}/login", server.base)).call().unwrap();
    let headers = response.headers();
    assert_eq!(headers.get("x-frame-options").unwrap(), "DENY");
    assert_eq!(headers.get("x-content-type-options").unwrap(), "nosniff");
    assert!(headers.get("content-security-policy").unwrap().to_str().unwrap().contains("default-src 'self'"));
    assert_eq!(headers.get("cache-control").unwrap(), "no-store");
}

#[test]
fn logins_are_rate_limited_per_address() {
    let options = ServerOptions { login_attempts_per_minute: 3, ..ServerOptions::default() };
    let server = TestServer::start(options, None);
    let mut client = server.client();
    for attempt in 0..3 {
        let (status, body) = client.login(&format!("nobody{attempt}"), "wrong-Password-1!", "000000");
        assert_eq!(status, 401, "{body}");
    }
    let (status, body) = client.login("nobody9", "wrong-Password-1!", "000000");
    assert_eq!((status, body["code"].as_str()), (429, Some("rate_limited")), "{body}");
}

#[test]
fn the_pages_speak_japanese_by_default_and_english_when_switched() {
    let server = TestServer::start(ServerOptions::default(), None);
    let client = server.client();
    let (status, page) = client.get("/login");
    assert_eq!(status, 200);
    assert!(page.contains("<html lang=\"ja\"") && page.contains("ログイン"), "Japanese by default");
    let (status, _, location) = client.send("GET", "/lang/en", None);
    assert_eq!((status, location.as_deref()), (303, Some("/")));
    // The switch returns to the page it was on, and never to another site.
    for (referer, back) in [
        ("http://127.0.0.1:1/releases", "/releases"),
        ("http://127.0.0.1:1//evil.example/x", "/"),
        ("http://127.0.0.1:1/\\evil.example", "/"),
    ] {
        let response =
            agent().get(&format!("{}/lang/en", server.base)).header("Referer", referer).call().unwrap();
        assert_eq!(response.headers().get("location").unwrap(), back, "back from {referer}");
    }
    let mut english = server.client();
    english.cookie = Some("lang=en".to_owned());
    let (_, page) = english.get("/login");
    assert!(
        page.contains("<html lang=\"en\"") && page.contains("Sign in") && !page.contains("ログイン</button>")
    );
}

#[test]
fn the_server_speaks_tls_with_a_self_signed_certificate_and_refuses_plain_http_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = kiban_server::self_signed(dir.path(), &[]).unwrap();
    let config = kiban_server::server_config(&cert, &key).unwrap();
    let app = Arc::new(App::open(dir.path(), &kiban_store::DatabaseConfig::Sqlite, false).unwrap());
    let state = ServerState::new(app, &ServerOptions::default());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server =
            tokio::spawn(kiban_server::serve_tls(listener, config, state, kiban_server::Zone::All, async {
                let _ = stopped.await;
            }));

        // A client that trusts exactly the generated certificate.
        let mut roots = rustls::RootCertStore::empty();
        let pem = std::fs::read(&cert).unwrap();
        for der in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
            roots.add(der.unwrap()).unwrap();
        }
        let client = rustls::ClientConfig::builder_with_provider(kiban_server::crypto_provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
        // A client that connects and never starts its handshake holds up nobody else.
        let _stalled = tokio::net::TcpStream::connect(address).await.unwrap();
        let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        // Well within the 10 s a handshake may take: answered at once, not after the stalled one.
        let answer = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            let mut tls = connector.connect(name, tcp).await.unwrap();
            tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .await
                .unwrap();
            let mut answer = String::new();
            tls.read_to_string(&mut answer).await.unwrap();
            answer
        })
        .await
        .expect("answered while another client stalls its handshake");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("ok"), "{answer}");

        // Plain HTTP on the TLS port gets no answer: the handshake fails and the connection is closed.
        let mut plain = tokio::net::TcpStream::connect(address).await.unwrap();
        plain.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
        let mut bytes = Vec::new();
        let _ = plain.read_to_end(&mut bytes).await;
        assert!(!String::from_utf8_lossy(&bytes).contains("200"), "no plain answer");

        let _ = stop.send(());
        server.await.unwrap().unwrap();
    });
    // The key is kept owner-only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o077, 0);
    }
}

/// Polls a job until it is no longer running (bounded), and returns its last state.
fn finished_job(client: &Client, id: u64) -> Value {
    for _ in 0..1200 {
        let (status, body) = client.get(&format!("/api/v1/jobs/{id}"));
        assert_eq!(status, 200, "{body}");
        let job: Value = serde_json::from_str(&body).unwrap();
        if job["state"] != "running" {
            return job;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("job {id} still running after two minutes");
}

#[test]
fn long_operations_run_as_jobs_that_report_their_steps_to_their_owner_only() {
    let server = TestServer::start(
        ServerOptions { login_attempts_per_minute: 1000, ..ServerOptions::default() },
        Some(120),
    );
    let processor = server.add_account("kakou", &["processor"]);
    let other = server.add_account("kakou2", &["processor"]);
    let client = server.signed_in(&processor);
    let (status, body) = client.post("/api/v1/link", &serde_json::json!({}));
    assert_eq!(status, 202, "{body}");
    let link: Value = serde_json::from_str(&body).unwrap();
    let job = finished_job(&client, link["job"].as_u64().unwrap());
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!((job["step"]["number"].as_u64(), job["step"]["of"].as_u64()), (Some(3), Some(3)), "{job}");

    let release =
        serde_json::json!({ "recipient_name": "Job University", "recipient_address": "Sendai", "k": "5" });
    let (status, body) = client.post("/api/v1/releases", &release);
    assert_eq!(status, 202, "{body}");
    let id = serde_json::from_str::<Value>(&body).unwrap()["job"].as_u64().unwrap();
    let job = finished_job(&client, id);
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!((job["step"]["number"].as_u64(), job["step"]["of"].as_u64()), (Some(5), Some(5)), "{job}");
    assert_eq!(job["link"], "/releases/R0002/report");
    // Another user does not see it.
    let stranger = server.signed_in(&other);
    assert_eq!(stranger.get(&format!("/api/v1/jobs/{id}")).0, 404);
    assert_eq!(stranger.get("/api/v1/jobs/not-a-number").0, 404);
}
