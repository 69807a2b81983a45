//! Who may call what, over HTTP: every endpoint × every role against a grid written here, independently
//! of `kiban_auth`'s table; and the requests that must never get through (no session, an expired one, no
//! CSRF token, a locked account).

use chrono::TimeDelta;
use kiban_server::ServerOptions;
use serde_json::{Value, json};

use crate::{Client, TestServer, code_of};

/// One row per endpoint, one column per role (`x` = allowed). API endpoints answer a refusal with 403
/// `forbidden`; pages with a 403 page. `{optout}` stands for the opt-out request the intake operator
/// recorded on an earlier row.
pub(crate) const GRID: &str = "
    method path                                intake processor reviewer secadmin auditor researcher
    GET    /api/v1/session                     x      x         x        x        x       x
    GET    /api/v1/providers                   x      x         x        .        x       .
    POST   /api/v1/providers                   x      .         .        .        .       .
    POST   /api/v1/providers/{provider}/credential  .  .       .        x        .       .
    GET    /api/v1/batches                     x      .         x        .        x       .
    GET    /api/v1/batches/1/quarantine        x      .         x        .        x       .
    POST   /api/v1/link                        .      x         .        .        .       .
    GET    /api/v1/linkage/review              .      x         .        .        .       .
    GET    /api/v1/releases                    .      x         x        .        x       .
    POST   /api/v1/releases                    .      x         .        .        .       .
    POST   /api/v1/releases/{release}/handover .      x         .        .        .       .
    GET    /release/v1/packages                .      .         .        .        .       x
    GET    /api/v1/ledger                      .      x         x        .        x       .
    GET    /api/v1/receipts                    x      .         x        .        x       .
    GET    /api/v1/audit                       .      .         .        x        x       .
    POST   /api/v1/audit/verify                .      .         .        x        x       .
    GET    /api/v1/users                       .      .         .        x        x       .
    POST   /api/v1/users                       .      .         .        x        .       .
    POST   /api/v1/users/target/lock           .      .         .        x        .       .
    POST   /api/v1/users/target/unlock         .      .         .        x        .       .
    POST   /api/v1/users/target/roles          .      .         .        x        .       .
    POST   /api/v1/users/target/reset          .      .         .        x        .       .
    GET    /api/v1/keys                        .      .         .        x        .       .
    POST   /api/v1/optouts                     x      .         .        .        .       .
    GET    /api/v1/optouts                     x      .         x        .        x       .
    GET    /api/v1/optouts/{optout}/notice     x      .         .        .        .       .
    GET    /                                   x      x         x        x        x       x
    GET    /providers                          x      x         x        .        x       .
    GET    /batches                            x      .         x        .        x       .
    GET    /linkage                            .      x         .        .        .       .
    GET    /releases                           .      x         x        .        x       .
    GET    /ledger                             .      x         x        .        x       .
    GET    /receipts                           x      .         x        .        x       .
    GET    /optouts                            x      .         x        .        x       .
    GET    /audit                              .      .         .        x        x       .
    GET    /users                              .      .         .        x        x       .
    GET    /keys                               .      .         .        x        .       .
";

const ROLES: [(&str, &str); 6] = [
    ("intake", "intake-operator"),
    ("proc", "processor"),
    ("review", "reviewer"),
    ("sec", "security-admin"),
    ("audit", "auditor"),
    ("research", "researcher"),
];

struct Row<'a> {
    method: &'a str,
    path: &'a str,
    allowed: Vec<bool>,
}

fn rows() -> Vec<Row<'static>> {
    let mut lines = GRID.lines().map(str::trim).filter(|line| !line.is_empty());
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header.len(), 2 + ROLES.len());
    lines
        .map(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(cells.len(), header.len(), "grid row {line}");
            Row {
                method: cells[0],
                path: cells[1],
                allowed: cells[2..].iter().map(|cell| *cell == "x").collect(),
            }
        })
        .collect()
}

/// A body that the operation accepts, so an allowed call succeeds rather than failing validation.
fn body_for(path: &str, n: usize) -> Value {
    match path {
        "/api/v1/providers" => json!({
            "code": format!("99{n:08}"), "name": "Matrix Clinic", "address": "Tokyo", "notified_on": "2026-01-05",
        }),
        "/api/v1/releases" => {
            json!({ "recipient_name": "Matrix University", "recipient_address": "Kyoto", "k": "5" })
        }
        "/api/v1/users" => json!({ "name": format!("added{n}"), "roles": "reviewer" }),
        "/api/v1/releases/{release}/handover" => json!({ "recipient": "research" }),
        "/api/v1/users/target/roles" => json!({ "roles": "reviewer,auditor" }),
        "/api/v1/users/target/reset" => json!({ "identity_check": "staff card checked in person" }),
        "/api/v1/optouts" => json!({
            "requester": "person", "requester_name": "テスト 花子", "received_on": "2026-12-01",
            "kana": "テスト ハナコ", "birth_date": "1960-02-03", "sex": "F", "issuer": "Matrix Producer",
        }),
        path if path.ends_with("/lock") || path.ends_with("/unlock") => json!({ "reason": "matrix" }),
        _ => json!({}),
    }
}

/// The code of the first provider of the demo's cohort (its `providers.csv`).
fn first_provider(server: &TestServer) -> String {
    let providers =
        std::fs::read_to_string(server.app.data_dir().join("synthetic-cohort/providers.csv")).unwrap();
    providers.lines().nth(1).unwrap().split(',').next().unwrap().to_owned()
}

#[test]
fn every_endpoint_answers_every_role_as_the_grid_says_and_each_refusal_is_audited() {
    // A store holding what the demo makes (providers, batches, release R0001) from a small cohort.
    let server = TestServer::start(
        ServerOptions { login_attempts_per_minute: 100_000, ..ServerOptions::default() },
        Some(120),
    );
    let provider = first_provider(&server);
    server.add_account("target", &["reviewer"]);
    let accounts: Vec<_> = ROLES.iter().map(|(name, role)| server.add_account(name, &[role])).collect();
    let mut clients: Vec<Client> = accounts.iter().map(|account| server.signed_in(account)).collect();
    let mut optout = String::new();
    let mut n_refused = 0;
    for (n, row) in rows().into_iter().enumerate() {
        let path = row
            .path
            .replace("{optout}", &optout)
            .replace("{provider}", &provider)
            .replace("{release}", "R0001");
        for (index, allowed) in row.allowed.iter().enumerate() {
            let (status, body, _) =
                clients[index].send(row.method, &path, Some(&body_for(row.path, n * 10 + index)));
            let who = format!("{} {path} as {}", row.method, ROLES[index].1);
            if *allowed {
                assert!((200..300).contains(&status), "{who}: allowed, answered {status}: {body}");
                if row.path == "/api/v1/optouts" && row.method == "POST" {
                    let value: Value = serde_json::from_str(&body).unwrap();
                    optout = value["request_id"].as_str().unwrap().to_owned();
                }
            } else {
                assert_eq!(status, 403, "{who}: refused, answered {status}: {body}");
                if path.starts_with("/api/") || path.starts_with("/release/") {
                    assert_eq!(code_of(&body), "forbidden", "{who}");
                }
                n_refused += 1;
                // A refusal locks the account and ends its sessions: unlock and sign in again.
                let (status, body) = clients[index].get("/api/v1/session");
                assert_eq!(
                    (status, code_of(&body).as_str()),
                    (401, "session_expired"),
                    "{who}: session not ended"
                );
                assert!(server.is_locked(&accounts[index].name), "{who}: account not locked");
                server.unlock(&accounts[index].name);
                clients[index] = server.signed_in(&accounts[index]);
            }
        }
    }
    assert!(n_refused > 100, "the grid refuses most cells ({n_refused})");
    let refusals = server
        .audit()
        .into_iter()
        .filter(|entry| {
            entry.event.outcome == kiban_audit::Outcome::Denied && entry.event.object == "authorization"
        })
        .count();
    assert!(refusals >= n_refused, "{refusals} refusals audited for {n_refused} refused requests");
    // The audit log over the API carries each entry's chain hashes, as the export file does.
    let auditor = ROLES.iter().position(|(_, role)| *role == "auditor").unwrap();
    let (status, entries) = clients[auditor].get("/api/v1/audit");
    assert_eq!(status, 200);
    let entries: Vec<Value> = serde_json::from_str(&entries).unwrap();
    let (first, last) = (&entries[0], &entries[entries.len() - 1]);
    assert_eq!(first["seq"], 1);
    assert_eq!(last["hash"].as_str().unwrap().len(), 64);
    assert_eq!(entries[entries.len() - 2]["hash"], last["prev_hash"], "entries chain");
}

#[test]
fn no_session_an_expired_one_a_missing_csrf_token_or_a_locked_account_gets_nothing() {
    let server = TestServer::start(ServerOptions::default(), None);
    let intake = server.add_account("intake", &["intake-operator"]);
    let anonymous = server.client();
    for row in rows() {
        let path = row
            .path
            .replace("{optout}", "OPT-1")
            .replace("{provider}", "1234567890")
            .replace("{release}", "R0001");
        let (status, body, location) = anonymous.send(row.method, &path, Some(&body_for(row.path, 0)));
        if path.starts_with("/api/") || path.starts_with("/release/") {
            assert_eq!(
                (status, code_of(&body).as_str()),
                (401, "unauthenticated"),
                "{} {path} without a session",
                row.method
            );
        } else {
            assert_eq!((status, location.as_deref()), (303, Some("/login")), "{path} without a session");
        }
    }

    // A forged or stale cookie is no session.
    let mut forged = server.client();
    forged.cookie = Some("kiban_session=kiban_sess_0000".to_owned());
    assert_eq!(forged.get("/api/v1/providers").0, 401);

    // Without the CSRF token (or with another session's), a state change is refused and nothing changes;
    // it is not held against the user (the account stays usable).
    let mut client = server.signed_in(&intake);
    let csrf = client.csrf.take();
    let provider = body_for("/api/v1/providers", 1);
    let (status, body) = client.post("/api/v1/providers", &provider);
    assert_eq!((status, code_of(&body).as_str()), (403, "csrf"), "{body}");
    client.csrf = Some("0".repeat(64));
    assert_eq!(client.post("/api/v1/providers", &provider).0, 403);
    client.csrf = csrf;
    let (_, providers) = client.get("/api/v1/providers");
    assert_eq!(providers, "[]", "nothing was registered");
    // A form posted from another site's page carries its Origin: refused even with the token.
    let agent = crate::agent();
    let response = agent
        .post(&format!("{}/api/v1/providers", server.base))
        .header("Cookie", client.cookie.as_deref().unwrap())
        .header("X-CSRF-Token", client.csrf.as_deref().unwrap())
        .header("Origin", "https://attacker.example")
        .send_json(&provider)
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    let (status, body) = client.post("/api/v1/providers", &provider);
    assert_eq!(status, 200, "the same request with the token, same-origin: {body}");

    // Idle for 31 minutes: the session is over.
    server.advance(TimeDelta::minutes(31));
    let (status, body) = client.get("/api/v1/providers");
    assert_eq!((status, code_of(&body).as_str()), (401, "session_expired"), "{body}");

    // A locked account: its session stops working, and it cannot sign in.
    let client = server.signed_in(&intake);
    let request =
        kiban_service::Request::UserLock { name: "intake".to_owned(), reason: "left the company".to_owned() };
    server.app.execute(&server.root, request).unwrap();
    let (status, body) = client.get("/api/v1/providers");
    assert_eq!(
        (status, code_of(&body).as_str()),
        (401, "session_expired"),
        "locking ends the sessions: {body}"
    );
    let mut again = server.client();
    server.advance(TimeDelta::seconds(31));
    let (status, body) = again.login("intake", &intake.password, &server.code(&intake));
    assert_eq!((status, body["code"].as_str()), (403, Some("account_locked")), "{body}");
}
