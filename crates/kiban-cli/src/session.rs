//! Where the command line keeps its session token between commands (the server uses a cookie instead).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow};
use kiban_auth::SecretText;

/// The environment variable that gives a session token directly (scripts).
const SESSION_ENV: &str = "KIBAN_SESSION";

/// The session file: `--session-file` (`KIBAN_SESSION_FILE`), or `~/.config/kiban/session`, or
/// `{data_dir}/.session` when there is no home directory.
pub fn session_file(given: Option<&Path>, data_dir: &Path) -> PathBuf {
    if let Some(path) = given {
        return path.to_owned();
    }
    match std::env::var_os("HOME").filter(|home| !home.is_empty()) {
        Some(home) => PathBuf::from(home).join(".config").join("kiban").join("session"),
        None => data_dir.join(".session"),
    }
}

/// Keeps a session token in the session file (owner-only).
///
/// # Errors
/// When the file cannot be written.
pub fn save_session(path: &Path, token: &SecretText) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let _ = std::fs::remove_file(path);
    write_owner_only(path, token.expose_secret().as_bytes())
        .with_context(|| format!("writing the session file {}", path.display()))
}

/// The current session's token: `KIBAN_SESSION`, or the session file.
///
/// # Errors
/// Not logged in.
pub fn current_token(path: &Path) -> Result<SecretText> {
    match std::env::var(SESSION_ENV) {
        Ok(text) if !text.is_empty() => Ok(SecretText::new(text)),
        _ => std::fs::read_to_string(path)
            .map(|text| SecretText::new(text.trim().to_owned()))
            .map_err(|_| anyhow!("not logged in: run `kiban login --user NAME` first")),
    }
}

#[cfg(unix)]
fn write_owner_only(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_owner_only(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}
