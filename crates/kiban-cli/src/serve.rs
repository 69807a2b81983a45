//! `kiban serve`: the HTTP server (API and staff web UI) on this data directory, until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use kiban_server::{ServerOptions, ServerState, Zone};
use kiban_service::{App, DemoRequest};

/// Arguments of `kiban serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// The address to listen on (loopback by default; serve TLS on any other).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Which zone this process serves: `core` (the staff API and UI) or `all`.
    #[arg(long, default_value = "all", value_parser = Zone::parse)]
    pub zone: Zone,
    /// In a data directory without accounts: run the demo pipeline on a synthetic cohort first and make
    /// one staff account per role, printing their sign-in details (a demo only).
    #[arg(long)]
    pub demo: bool,
    /// Persons in the demo's synthetic cohort.
    #[arg(long, default_value_t = 2_000)]
    pub demo_patients: usize,
    /// Serve HTTPS with this certificate chain (PEM), with --tls-key.
    #[arg(long, requires = "tls_key", conflicts_with = "tls_self_signed")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve HTTPS with a self-signed certificate for localhost, made once in `{data_dir}/tls/` (local use).
    #[arg(long)]
    pub tls_self_signed: bool,
}

pub(crate) fn serve(app: App, args: &ServeArgs) -> Result<()> {
    if args.demo {
        seed_demo(&app, args.demo_patients)?;
    }
    let tls = match (&args.tls_cert, &args.tls_key, args.tls_self_signed) {
        (Some(cert), Some(key), _) => Some(kiban_server::server_config(cert, key)?),
        (_, _, true) => {
            let (cert, key) = kiban_server::self_signed(app.data_dir(), &[args.listen.ip().to_string()])?;
            println!(
                "self-signed certificate: {} (trust it in the browser for local use only)",
                cert.display()
            );
            Some(kiban_server::server_config(&cert, &key)?)
        }
        _ => None,
    };
    // The session cookie is Secure: beyond loopback a browser keeps it only over HTTPS, and the Act wants
    // data to move encrypted (Rule 6-4-ニ(4)).
    anyhow::ensure!(
        tls.is_some() || args.listen.ip().is_loopback(),
        "serving plain HTTP on {} would send sessions and records unencrypted: give --tls-cert and --tls-key, or --tls-self-signed",
        args.listen
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(kiban_server::BLOCKING_THREADS)
        .enable_all()
        .build()
        .context("starting the server's runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        let address = listener.local_addr().context("the listening address")?;
        let state =
            ServerState::new(Arc::new(app), &ServerOptions { zone: args.zone, ..ServerOptions::default() });
        let scheme = if tls.is_some() { "https" } else { "http" };
        println!("kiban is serving zone {:?} at {scheme}://{address}/ (Ctrl-C stops it)", args.zone);
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        match tls {
            Some(config) => kiban_server::serve_tls(listener, config, state, args.zone, shutdown).await,
            None => kiban_server::serve(listener, state, args.zone, shutdown).await,
        }
        .context("serving")
    })
}

/// The demo: the pipeline on a synthetic cohort, then the staff accounts, printed once and kept
/// owner-only in `demo-logins.txt` so a later `kiban serve --demo` can point at them.
fn seed_demo(app: &App, patients: usize) -> Result<()> {
    let logins_file = app.data_dir().join("demo-logins.txt");
    if app.has_users()? {
        println!(
            "the data directory already has accounts; the demo's sign-in details are in {}",
            logins_file.display()
        );
        return Ok(());
    }
    println!("seeding {} with the demo pipeline ({patients} synthetic persons)…", app.data_dir().display());
    let outcome = app.demo(&DemoRequest { patients, providers: 3, seed: 42, k: 5 })?;
    println!("release {} made; creating the staff accounts", outcome.release.release_id);
    let logins = app.seed_demo_staff()?;
    let mut text = String::from(
        "# kiban demo sign-ins (a demo data directory only: real accounts are enrolled by their users)\n\
         # user, role, password, TOTP secret (base32, for an authenticator app), one recovery code\n",
    );
    for login in &logins {
        text.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\n",
            login.user,
            login.role.name(),
            login.password.expose_secret(),
            login.totp_base32.expose_secret(),
            login.recovery_code.expose_secret()
        ));
    }
    write_owner_only(&logins_file, &text)?;
    println!(
        "sign in as any of these (password, then the recovery code, or a code from an authenticator app):"
    );
    print!("{text}");
    println!("(kept in {})", logins_file.display());
    Ok(())
}

fn write_owner_only(path: &std::path::Path, text: &str) -> Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("writing {}", path.display()))?;
    file.write_all(text.as_bytes()).with_context(|| format!("writing {}", path.display()))
}
