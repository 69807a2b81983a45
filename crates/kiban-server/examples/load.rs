//! Load on loopback, bounded and self-stopping: `--sessions` staff sessions (default 50) each sign in and
//! browse and list (pages and API reads) `--requests` times, all at once, against a server in this
//! process over a demo store, after one upload of `--upload-mib` MiB (default 1024) through the intake
//! zone. Prints latency percentiles, errors, and the process's peak memory before and after the upload.
//!
//! ```sh
//! cargo run --release -p kiban-server --example load -- --sessions 50 --requests 200 --upload-mib 1024
//! ```

#![allow(clippy::unwrap_used)] // a benchmark driver: any failure ends the run

use std::io::{BufWriter, Read as _, Write as _};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kiban_server::{ServerOptions, ServerState, Zone};
use kiban_service::{App, DemoRequest, Request, Response, SecondFactor};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map_or(default, |v| v.parse().unwrap())
}

/// Peak resident memory of this process so far (VmHWM), in MiB.
fn peak_rss_mib() -> f64 {
    status_mib("VmHWM:")
}

/// A memory figure of this process from /proc/self/status, in MiB.
fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

fn main() {
    let sessions = arg("--sessions", 50) as usize;
    let requests = arg("--requests", 200) as usize;
    let patients = arg("--patients", 2000) as usize;
    let upload_mib = arg("--upload-mib", 1024);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("security.toml"), "[anomaly]\nallowed_hours = \"00:00-00:00\"\n").unwrap();
    let app = App::open(dir.path(), &kiban_store::DatabaseConfig::Sqlite, false).unwrap();
    let started = Instant::now();
    app.demo(&DemoRequest { patients, providers: 3, seed: 42, k: 5 }).unwrap();
    eprintln!("demo store of {patients} persons in {:.1} s", started.elapsed().as_secs_f64());
    let password = "Load-Bench-Pass-2026!";
    let enrolled = app.init_admin("root", "Load admin", password).unwrap();
    let code = kiban_auth::totp_code(&enrolled.totp, app.now()).unwrap();
    let root = app.login("root", password, SecondFactor::Totp(code.expose_secret())).unwrap();
    let root = app.authenticate(root.token.expose_secret()).unwrap();
    let mut accounts = Vec::new();
    for n in 0..sessions {
        let name = format!("staff{n:02}");
        let request = Request::UserAdd {
            name: name.clone(),
            display_name: name.clone(),
            roles: vec!["reviewer".into(), "intake-operator".into()],
        };
        let Response::EnrollmentToken(token) = app.execute(&root, request).unwrap() else { panic!() };
        let enrolled = app.enroll(&name, token.token.expose_secret(), password).unwrap();
        accounts.push((name, enrolled.totp));
    }
    let providers = std::fs::read_to_string(dir.path().join("synthetic-cohort/providers.csv")).unwrap();
    let fhir =
        providers.lines().find(|line| line.contains(",fhir,")).unwrap().split(',').next().unwrap().to_owned();
    let Response::ProviderCredential { token: credential, .. } =
        app.execute(&root, Request::ProviderCredentialIssue { provider: fhir.clone() }).unwrap()
    else {
        panic!()
    };

    let app = Arc::new(app);
    let state = ServerState::new(
        Arc::clone(&app),
        &ServerOptions { zone: Zone::All, login_attempts_per_minute: 100_000, ..ServerOptions::default() },
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(kiban_server::BLOCKING_THREADS)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(kiban_server::serve(listener, state, Zone::All, async {
        let _ = stopped.await;
    }));

    // 1. One large upload through the intake zone: the FHIR provider's extract and a filler file intake
    // skips (not FHIR), as one tar archive streamed from disk.
    if upload_mib > 0 {
        let archive_path = dir.path().join("upload.tar");
        {
            let file = BufWriter::new(std::fs::File::create(&archive_path).unwrap());
            let mut builder = tar::Builder::new(file);
            builder.append_dir_all("extract", dir.path().join("synthetic-cohort").join(&fhir)).unwrap();
            let mut header = tar::Header::new_gnu();
            header.set_size(upload_mib << 20);
            header.set_mode(0o600);
            header.set_cksum();
            builder
                .append_data(&mut header, "filler.bin", std::io::repeat(0x5a).take(upload_mib << 20))
                .unwrap();
            builder.into_inner().unwrap().flush().unwrap();
        }
        let size = std::fs::metadata(&archive_path).unwrap().len();
        let rss_before = peak_rss_mib();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(1800)))
            .build()
            .into();
        let file = std::fs::File::open(&archive_path).unwrap();
        let sent = Instant::now();
        let mut response = agent
            .post(&format!("{base}/intake/v1/extracts?format=fhir"))
            .header("Authorization", &format!("Bearer {}", credential.expose_secret()))
            .header("Content-Type", "application/x-tar")
            .send(ureq::SendBody::from_reader(&mut std::io::BufReader::new(file)))
            .unwrap();
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string().unwrap();
        let seconds = sent.elapsed().as_secs_f64();
        println!(
            "upload: {:.0} MiB in {seconds:.1} s ({:.0} MiB/s), status {status}; peak RSS {rss_before:.0} → {:.0} MiB; answer {body}",
            size as f64 / (1 << 20) as f64,
            size as f64 / (1 << 20) as f64 / seconds,
            peak_rss_mib()
        );
    }
    // 2. Sessions browsing and listing, all at once.
    let paths = [
        "/",
        "/providers",
        "/batches",
        "/releases",
        "/ledger",
        "/receipts",
        "/optouts",
        "/api/v1/providers",
        "/api/v1/releases",
        "/api/v1/ledger",
        "/api/v1/receipts",
        "/api/v1/batches",
    ];
    let rss_before_load = peak_rss_mib();
    let load_started = Instant::now();
    let workers: Vec<_> = accounts
        .into_iter()
        .map(|(name, totp)| {
            let base = base.clone();
            let app = Arc::clone(&app);
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
                let code = kiban_auth::totp_code(&totp, app.now()).unwrap();
                let body = serde_json::json!({ "user": name, "password": "Load-Bench-Pass-2026!", "code": code.expose_secret() });
                let response = agent.post(&format!("{base}/api/v1/login")).send_json(&body).unwrap();
                assert_eq!(response.status().as_u16(), 200, "login of {name}");
                let cookie = response.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_owned();
                let mut latencies = Vec::with_capacity(requests);
                let mut errors = 0usize;
                for n in 0..requests {
                    let path = paths[n % paths.len()];
                    let sent = Instant::now();
                    let mut response = agent.get(&format!("{base}{path}")).header("Cookie", &cookie).call().unwrap();
                    let _ = response.body_mut().read_to_vec();
                    latencies.push(sent.elapsed());
                    if response.status().as_u16() != 200 {
                        errors += 1;
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        let (mine, failed) = worker.join().unwrap();
        latencies.extend(mine);
        errors += failed;
    }
    let elapsed = load_started.elapsed().as_secs_f64();
    latencies.sort();
    println!(
        "load: {sessions} sessions × {requests} requests = {} requests in {elapsed:.1} s ({:.0}/s); latency ms p50 {:.1}, p90 {:.1}, p99 {:.1}, max {:.1}; errors {errors}; peak RSS {rss_before_load:.0} → {:.0} MiB",
        latencies.len(),
        latencies.len() as f64 / elapsed,
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.90),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
        peak_rss_mib()
    );

    let _ = stop.send(());
    runtime.block_on(server).unwrap().unwrap();
}
