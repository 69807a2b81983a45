//! The three zones as processes (Rule 6-4-ニ): each serves only its own routes; providers upload through
//! the intake zone with their own credential; recipients download, from the release zone, only what was
//! handed over to them.

use chrono::NaiveDate;
use kiban_server::{ServerOptions, Zone};
use kiban_service::{ProviderRequest, Request, Response, SynthRequest};
use sha2::Digest as _;

use crate::{TestServer, code_of};

/// What each zone must answer for one path of each other zone: 404 where the route does not exist there.
#[test]
fn each_zone_serves_only_its_own_routes() {
    let probes = [
        ("GET", "/api/v1/session"),
        ("GET", "/"),
        ("GET", "/providers"),
        ("POST", "/intake/v1/extracts?format=fhir"),
        ("GET", "/release/v1/packages"),
    ];
    // Which probe exists in which zone (it then answers 401 or a redirect: no session, no credential).
    let expected = [
        (Zone::Intake, [false, false, false, true, false]),
        (Zone::Core, [true, true, true, false, false]),
        (Zone::Release, [false, false, false, false, true]),
        (Zone::All, [true, true, true, true, true]),
    ];
    for (zone, exists) in expected {
        let server = TestServer::start(ServerOptions { zone, ..ServerOptions::default() }, None);
        let client = server.client();
        for ((method, path), exists) in probes.iter().zip(exists) {
            let (status, _, _) = client.send(method, path, None);
            if exists {
                assert!(
                    matches!(status, 401 | 303),
                    "{zone:?}: {method} {path} should exist, answered {status}"
                );
            } else {
                assert_eq!(status, 404, "{zone:?}: {method} {path} must not exist");
            }
        }
        assert_eq!(client.get("/healthz").0, 200);
    }
}

/// A tar archive of `dir`'s contents, as a provider's upload.
fn tar_of(dir: &std::path::Path) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.append_dir_all(".", dir).unwrap();
    builder.into_inner().unwrap()
}

#[test]
fn a_provider_uploads_an_extract_with_its_own_credential_and_nothing_else_gets_in() {
    let server = TestServer::start(ServerOptions { zone: Zone::Intake, ..ServerOptions::default() }, None);
    let cohort = tempfile::tempdir().unwrap();
    let reference_date = NaiveDate::from_ymd_opt(2026, 4, 1).unwrap();
    kiban_service::synth(
        &SynthRequest {
            patients: 60,
            providers: 1,
            seed: 11,
            format: kiban_synth::OutputFormat::Fhir,
            reference_date,
            out: cohort.path().join("cohort"),
        },
        false,
    )
    .unwrap();
    let providers = std::fs::read_to_string(cohort.path().join("cohort/providers.csv")).unwrap();
    let code = providers.lines().nth(1).unwrap().split(',').next().unwrap().to_owned();
    let intake = server.add_account("desk", &["intake-operator"]);
    let desk = crate::sign_in(&server.app, &intake.name, &intake.password, &intake.totp);
    let register = Request::ProviderAdd(ProviderRequest {
        code: code.clone(),
        name: "Upload Clinic".to_owned(),
        address: "Chiba".to_owned(),
        notified_on: NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
        published_on: Some(NaiveDate::from_ymd_opt(2026, 1, 20).unwrap()),
    });
    server.app.execute(&desk, register).unwrap();
    let Response::ProviderCredential { token, .. } = server
        .app
        .execute(&server.root, Request::ProviderCredentialIssue { provider: code.clone() })
        .unwrap()
    else {
        panic!("a credential")
    };
    let token = token.expose_secret().to_owned();
    assert!(token.starts_with("kiban_prov_"));
    let archive = tar_of(&cohort.path().join("cohort").join(&code));
    let agent = crate::agent();
    let upload = |credential: &str, body: &[u8]| {
        let mut response = agent
            .post(&format!("{}/intake/v1/extracts?format=fhir", server.base))
            .header("Authorization", &format!("Bearer {credential}"))
            .header("Content-Type", "application/x-tar")
            .send(body)
            .unwrap();
        (response.status().as_u16(), response.body_mut().read_to_string().unwrap())
    };

    // Requests refused before their body is read get a small body: the server answers and closes at once,
    // and a large body still being sent would meet a closed connection.
    let (status, body) = upload(&format!("kiban_prov_{}", "0".repeat(64)), b"x");
    assert_eq!((status, code_of(&body).as_str()), (401, "unauthenticated"), "{body}");
    let (status, body) = upload(&token, b"not a tar archive at all");
    assert_eq!(status, 400, "{body}");
    // An archive with a link (here to a system file) is refused whole: intake reads only what was sent.
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Symlink);
    header.set_size(0);
    header.set_mode(0o777);
    builder.append_link(&mut header, "Patient.ndjson", "/etc/passwd").unwrap();
    let (status, body) = upload(&token, &builder.into_inner().unwrap());
    assert_eq!((status, code_of(&body).as_str()), (400, "bad_request"), "{body}");
    assert!(!body.contains("inbox"), "no server path in the answer: {body}");
    // A format the intake does not know, or none, is a clear error in JSON.
    let response = agent.post(&format!("{}/intake/v1/extracts", server.base)).send(&b"x"[..]).unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let (status, body) = upload(&token, &archive);
    assert_eq!(status, 200, "{body}");
    let outcome: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(outcome["provider"], code.as_str());
    assert_eq!(outcome["already_received"], false);
    assert!(outcome["n_persons"].as_u64().unwrap() > 20, "{outcome}");
    assert_eq!(outcome["bytes"].as_u64().unwrap(), archive.len() as u64);
    // The batch and its record of receipt are in the store; the inbox is empty again.
    let Response::Receipts(receipts) = server.app.execute(&desk, Request::Receipts).unwrap() else {
        panic!()
    };
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0].provider.as_str(), code);
    let inbox = server.app.data_dir().join("inbox");
    assert_eq!(std::fs::read_dir(&inbox).unwrap().count(), 0, "nothing left in the inbox");
    // The same extract again is recognized; a revoked credential gets nothing in.
    let (status, body) = upload(&token, &archive);
    assert!(status == 200 && body.contains("\"already_received\":true"), "{body}");
    server.app.execute(&server.root, Request::ProviderCredentialRevoke { provider: code.clone() }).unwrap();
    let (status, _) = upload(&token, b"x");
    assert_eq!(status, 401);
    let refused = server
        .audit()
        .into_iter()
        .filter(|entry| {
            entry.event.action == "intake.upload" && entry.event.outcome == kiban_audit::Outcome::Denied
        })
        .count();
    assert_eq!(refused, 2, "each refused credential is audited");
}

#[test]
fn a_recipient_downloads_only_what_was_handed_over_to_them() {
    let server = TestServer::start(ServerOptions::default(), Some(300));
    let processor = server.add_account("kakou", &["processor"]);
    let recipient = server.add_account("kenkyu", &["researcher"]);
    let other = server.add_account("tanin", &["researcher"]);
    let staff = crate::sign_in(&server.app, &processor.name, &processor.password, &processor.totp);
    let refused = server.app.execute(
        &staff,
        Request::ReleaseHandover { release_id: "R0001".to_owned(), recipient: "kakou".to_owned() },
    );
    assert!(refused.is_err(), "a release goes to a researcher's account only");
    server
        .app
        .execute(
            &staff,
            Request::ReleaseHandover { release_id: "R0001".to_owned(), recipient: "kenkyu".to_owned() },
        )
        .unwrap();

    let mut client = server.client();
    server.advance(chrono::TimeDelta::seconds(31));
    let body = serde_json::json!({ "user": "kenkyu", "password": recipient.password, "code": server.code(&recipient) });
    let agent = crate::agent();
    let mut response = agent.post(&format!("{}/release/v1/login", server.base)).send_json(&body).unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let cookie =
        response.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_owned();
    let _: serde_json::Value = response.body_mut().read_json().unwrap();
    client.cookie = Some(cookie);
    let (status, listing) = client.get("/release/v1/packages");
    assert_eq!(status, 200, "{listing}");
    let listing: serde_json::Value = serde_json::from_str(&listing).unwrap();
    assert_eq!(listing[0]["release_id"], "R0001");
    let files: Vec<String> = listing[0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| file.as_str().unwrap().to_owned())
        .collect();
    assert!(files.iter().any(|file| file.ends_with(".parquet")), "{files:?}");

    // Every file arrives whole: its SHA-256 is the manifest's.
    let (status, manifest) = client.get("/release/v1/packages/R0001/files/manifest.json");
    assert_eq!(status, 200);
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    for entry in manifest["files"].as_array().unwrap() {
        let path = entry["path"].as_str().unwrap();
        let mut response = agent
            .get(&format!("{}/release/v1/packages/R0001/files/{path}", server.base))
            .header("Cookie", client.cookie.as_deref().unwrap())
            .call()
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let bytes = response.body_mut().with_config().limit(1 << 30).read_to_vec().unwrap();
        assert_eq!(hex::encode(sha2::Sha256::digest(&bytes)), entry["sha256"].as_str().unwrap(), "{path}");
    }
    // Nothing outside the package: no other path, no traversal.
    for path in ["../../kiban.db", "..%2F..%2Fkiban.db", "keys/master.key", "parquet/nothing.parquet"] {
        let (status, body) = client.get(&format!("/release/v1/packages/R0001/files/{path}"));
        assert!(matches!(status, 400 | 404), "{path}: {status} {body}");
    }
    // Another recipient sees nothing of it.
    let mut stranger = server.client();
    server.advance(chrono::TimeDelta::seconds(31));
    let (status, _) = stranger.login("tanin", &other.password, &server.code(&other));
    assert_eq!(status, 200);
    assert_eq!(stranger.get("/release/v1/packages").1, "[]");
    let (status, _) = stranger.get("/release/v1/packages/R0001/files/manifest.json");
    assert_eq!(status, 404);
    let downloads =
        server.audit().into_iter().filter(|entry| entry.event.action == "release.download").count();
    assert!(downloads > manifest["files"].as_array().unwrap().len(), "every download is audited");
}

/// The OpenAPI document lists every API route, each of which exists in the zone it names (and only
/// there), and every API route of the role grid is in it.
#[test]
fn the_openapi_document_matches_the_routes() {
    let all = TestServer::start(ServerOptions::default(), None);
    let (status, document) = all.client().get("/api/openapi.json");
    assert_eq!(status, 200);
    let document: serde_json::Value = serde_json::from_str(&document).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().unwrap();
    let zones: Vec<(Zone, TestServer)> = [Zone::Intake, Zone::Core, Zone::Release]
        .into_iter()
        .map(|zone| (zone, TestServer::start(ServerOptions { zone, ..ServerOptions::default() }, None)))
        .collect();
    let mut n_operations = 0;
    for (path, operations) in paths {
        let concrete = path.replace('{', "x").replace('}', "");
        for (method, operation) in operations.as_object().unwrap() {
            let zone_name = operation["tags"][0].as_str().unwrap();
            for (zone, server) in &zones {
                let here = format!("{zone:?}").to_lowercase() == zone_name;
                let (status, body, _) = server.client().send(&method.to_uppercase(), &concrete, None);
                if here {
                    assert_ne!(
                        status, 404,
                        "{method} {path} is documented in zone {zone_name} but missing: {body}"
                    );
                    assert_ne!(status, 405, "{method} {path}: documented method not routed");
                } else {
                    assert_eq!(status, 404, "{method} {path} answers in zone {zone:?} too");
                }
            }
            n_operations += 1;
        }
    }
    assert!(n_operations >= 30, "{n_operations} operations documented");
    for line in crate::matrix::GRID
        .lines()
        .map(str::trim)
        .filter(|line| line.contains(" /api/") || line.contains(" /release/"))
    {
        let mut cells = line.split_whitespace();
        let (method, path) = (cells.next().unwrap().to_lowercase(), cells.next().unwrap());
        let documented = paths.iter().any(|(documented, operations)| {
            operations.get(&method).is_some() && same_route(documented, path)
        });
        assert!(documented, "{method} {path} of the role grid is not in the OpenAPI document");
    }
}

/// Whether a documented path (`{name}` parameters) matches a concrete one of the grid.
fn same_route(documented: &str, concrete: &str) -> bool {
    let documented: Vec<&str> = documented.split('/').collect();
    let concrete: Vec<&str> = concrete.split('/').collect();
    documented.len() == concrete.len()
        && documented.iter().zip(&concrete).all(|(a, b)| a.starts_with('{') || a == b)
}
