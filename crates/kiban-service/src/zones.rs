//! What the intake and release zones do (Rule 6-4-ニ): providers upload extracts with a credential of
//! their own; recipients download the releases handed over to their account.
//!
//! - **Provider credentials.** A security administrator issues one per provider (`kiban_prov_` + 64 hex
//!   characters, shown once; the store keeps its SHA-256); a newer one replaces it, a revocation ends
//!   it. A [`ProviderPrincipal`] comes only from [`App::authenticate_provider`]: it can ingest for its own
//!   provider and nothing else, and a refused credential is audited.
//! - **Handovers.** A processor hands a recorded release to a researcher's account: the checked handover
//!   copy (as `kiban release export` makes it) is written under `handover/` and recorded. That account,
//!   and only it, lists and downloads the files its manifest names.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow};
use kiban_audit::Outcome;
use kiban_auth::{Role, SecretText};
use kiban_model::ProviderCode;
use kiban_store::Handover;

use crate::app::Ctx;
use crate::audit_ref::{AuditAction, ObjectRef};
use crate::error::refuse;
use crate::{App, IngestFormat, IngestOutcome, IngestRequest, ServiceError, Session};

const CREDENTIAL_PREFIX: &str = "kiban_prov_";

/// A provider authenticated by its upload credential. Obtainable only from
/// [`App::authenticate_provider`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderPrincipal {
    provider: ProviderCode,
}

impl ProviderPrincipal {
    pub fn provider(&self) -> &ProviderCode {
        &self.provider
    }
}

fn credential_hash(token: &str) -> String {
    kiban_crypto::sha256_hex(token.trim().as_bytes())
}

/// Issues a new upload credential for `provider` (replacing any earlier one); the token is shown once.
pub(crate) fn issue_credential(ctx: &Ctx, provider: &str) -> Result<SecretText> {
    let provider = ProviderCode::new(provider).with_context(|| format!("provider code {provider:?}"))?;
    let bytes: [u8; 32] = crate::security::random()?;
    let token = format!("{CREDENTIAL_PREFIX}{}", hex::encode(bytes));
    let event = ctx.event(
        AuditAction::ProviderCredential,
        &ObjectRef::Provider(provider.to_string()),
        Outcome::Success,
        "upload credential issued (replaces any earlier one)".to_owned(),
    );
    ctx.store.set_provider_credential(&provider, Some(&credential_hash(&token)), event)?;
    Ok(SecretText::new(token))
}

/// Revokes `provider`'s upload credential.
pub(crate) fn revoke_credential(ctx: &Ctx, provider: &str) -> Result<()> {
    let provider = ProviderCode::new(provider).with_context(|| format!("provider code {provider:?}"))?;
    let event = ctx.event(
        AuditAction::ProviderCredential,
        &ObjectRef::Provider(provider.to_string()),
        Outcome::Success,
        "upload credential revoked".to_owned(),
    );
    ctx.store.set_provider_credential(&provider, None, event)?;
    Ok(())
}

/// Hands release `release_id` over to the researcher `recipient`: the checked handover copy under
/// `handover/`, recorded against the account.
pub(crate) fn hand_over(ctx: &Ctx, release_id: &str, recipient: &str) -> Result<Handover> {
    let user = ctx.store.user(recipient).map_err(|_| {
        anyhow::Error::new(ServiceError::new(crate::ErrorCode::NotFound, format!("no account {recipient}")))
    })?;
    if !user.roles.iter().any(|role| role == Role::Researcher.name()) {
        refuse!(
            InvalidRequest,
            "{recipient} is not a researcher's account: releases are handed over to recipients only"
        );
    }
    let handover_root = ctx.data_dir.join("handover");
    std::fs::create_dir_all(&handover_root)
        .with_context(|| format!("creating {}", handover_root.display()))?;
    let n = ctx.store.handovers_to(recipient)?.len() + 1;
    let dir = handover_root.join(format!("{release_id}-{recipient}-{n}"));
    let exported = crate::release::export(ctx, release_id, &dir)?;
    let event = ctx.event(
        AuditAction::ReleaseHandover,
        &ObjectRef::Release(release_id.to_owned()),
        Outcome::Success,
        format!("to the account {recipient}: {} files, {} persons", exported.n_files, exported.n_persons),
    );
    Ok(ctx.store.record_handover(release_id, recipient, &dir.display().to_string(), event)?)
}

/// The releases handed over to the session's user, but those deleted since.
pub(crate) fn packages(ctx: &Ctx, session: &Session) -> Result<Vec<Handover>> {
    let mut kept = Vec::new();
    for handover in ctx.store.handovers_to(session.user())? {
        if !ctx.store.is_deleted(&ObjectRef::Release(handover.release_id.clone()).to_string())? {
            kept.push(handover);
        }
    }
    Ok(kept)
}

/// The file `path` of the release `release_id` handed over to the session's user: only a file the
/// handover's manifest names (or the manifest and report themselves), inside the handover folder.
pub(crate) fn package_file(ctx: &Ctx, session: &Session, release_id: &str, path: &str) -> Result<PathBuf> {
    let object = ObjectRef::ReleaseFile(release_id.to_owned(), path.to_owned());
    let result = find_package_file(ctx, session, release_id, path);
    match &result {
        Ok(file) => {
            let size = std::fs::metadata(file).map(|meta| meta.len()).unwrap_or(0);
            ctx.store.append_audit(ctx.event(
                AuditAction::ReleaseDownload,
                &object,
                Outcome::Success,
                format!("{size} bytes"),
            ))?;
        }
        Err(error) => ctx.audit_failure(AuditAction::ReleaseDownload, &object, Outcome::Denied, error),
    }
    result
}

fn find_package_file(ctx: &Ctx, session: &Session, release_id: &str, path: &str) -> Result<PathBuf> {
    let Some(handover) = ctx
        .store
        .handovers_to(session.user())?
        .into_iter()
        .rev()
        .find(|handover| handover.release_id == release_id)
    else {
        refuse!(NotFound, "release {release_id} was not handed over to you");
    };
    if ctx.store.is_deleted(&ObjectRef::Release(release_id.to_owned()).to_string())? {
        refuse!(NotFound, "release {release_id} was deleted");
    }
    let dir = Path::new(&handover.dir);
    let manifest_text =
        std::fs::read_to_string(dir.join("manifest.json")).context("reading the handover's manifest")?;
    let manifest: serde_json::Value =
        serde_json::from_str(&manifest_text).context("the handover's manifest")?;
    let listed = manifest["files"]
        .as_array()
        .is_some_and(|files| files.iter().any(|file| file["path"].as_str() == Some(path)));
    if !(listed || matches!(path, "manifest.json" | "report.html" | "report.json")) {
        refuse!(NotFound, "the handover of {release_id} has no file {path}");
    }
    // The manifest's paths are relative and plain; check anyway that the file stays inside the folder.
    let file = dir.join(path);
    let inside = file
        .canonicalize()
        .ok()
        .zip(dir.canonicalize().ok())
        .is_some_and(|(file, dir)| file.starts_with(dir));
    if !inside {
        refuse!(NotFound, "the handover of {release_id} has no file {path}");
    }
    Ok(file)
}

impl App {
    /// The provider whose upload credential `token` is. A refused credential is audited.
    ///
    /// # Errors
    /// [`crate::ErrorCode::Unauthenticated`] for an unknown, replaced or revoked credential.
    pub fn authenticate_provider(&self, token: &str) -> Result<ProviderPrincipal, ServiceError> {
        let ctx = self.as_actor("intake");
        let provider = if token.trim().starts_with(CREDENTIAL_PREFIX) {
            ctx.store.provider_of_credential(&credential_hash(token))?
        } else {
            None
        };
        match provider {
            Some(provider) => Ok(ProviderPrincipal { provider }),
            None => {
                let error = anyhow!("an upload with an unknown, replaced or revoked provider credential");
                ctx.audit_failure(
                    AuditAction::IntakeUpload,
                    &ObjectRef::Authorization,
                    Outcome::Denied,
                    &error,
                );
                Err(ServiceError::new(
                    crate::ErrorCode::Unauthenticated,
                    "the provider credential is unknown, replaced or revoked: ask the producer for a new one",
                ))
            }
        }
    }

    /// Ingests an extract a provider uploaded (unpacked into `dir`), as that provider: the same intake as
    /// `kiban ingest` (Rule 36 check, quarantine, opt-out filter, receipt), audited under the provider.
    ///
    /// # Errors
    /// As intake: an unpublished provider, an unreadable extract, a store failure.
    pub fn receive_extract(
        &self,
        provider: &ProviderPrincipal,
        format: IngestFormat,
        dir: &Path,
    ) -> Result<IngestOutcome, ServiceError> {
        let ctx = self.as_actor(&format!("provider:{}", provider.provider));
        let request = IngestRequest {
            provider: provider.provider.to_string(),
            format,
            path: dir.to_owned(),
            mapping: None,
        };
        Ok(crate::ingest::ingest(&ctx, &request)?)
    }
}
