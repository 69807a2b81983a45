//! Terminal output: every response of the service, printed once. No logic here beyond layout.

use kiban_service::{
    DemoOutcome, EnrollmentOutcome, EnrollmentToken, ExportOutcome, IngestOutcome, LinkOutcome,
    LinkageExportOutcome, OptoutOutcome, ReleaseOutcome, Response,
};

/// Prints what a request produced.
pub(crate) fn response(response: &Response) {
    match response {
        Response::ProviderRegistered { code } => println!("registered provider {code}"),
        Response::ProviderCredential { provider, token } => {
            println!(
                "upload credential of provider {provider} (shown once; give it to the provider securely):"
            );
            println!("{}", token.expose_secret());
        }
        Response::ProviderCredentialRevoked { provider } => {
            println!("revoked the upload credential of {provider}")
        }
        Response::HandedOver(handover) => println!(
            "handed release {} over to {}: the copy in {} is served to that account by the release zone",
            handover.release_id, handover.recipient_user, handover.dir
        ),
        Response::Packages(handovers) => {
            println!("release\thanded_over_at\tby");
            for handover in handovers {
                println!(
                    "{}\t{}\t{}",
                    handover.release_id,
                    handover.created_at.to_rfc3339(),
                    handover.created_by
                );
            }
        }
        Response::PackageFile(path) => println!("{}", path.display()),
        Response::LinkReview(items) => {
            println!("pair\tscore\treason\tagreement");
            for item in items {
                println!("{}\t{:.1}\t{}\t{}", item.pair_id, item.score, item.reason, item.agreement);
            }
        }
        Response::LinkReviewDecided(decision) => println!(
            "{}: {} (applied by the next `kiban link`)",
            decision.pair_id,
            if decision.same_person { "one person" } else { "two persons" }
        ),
        Response::Providers(providers) => {
            println!("code\tname\tnotified_on\tpublished_on");
            for provider in providers {
                let published = provider.published_on.map_or_else(|| "-".to_owned(), |day| day.to_string());
                println!("{}\t{}\t{}\t{published}", provider.code, provider.name, provider.notified_on);
            }
        }
        Response::Ingested(outcome) => ingest(outcome),
        Response::Batches(batches) => {
            println!("batch\tprovider\tformat\tstatus\tstarted_at\tcompleted_at");
            for batch in batches {
                println!(
                    "{}\t{}\t{}\t{:?}\t{}\t{}",
                    batch.id,
                    batch.provider,
                    batch.format,
                    batch.status,
                    batch.started_at.to_rfc3339(),
                    batch.completed_at.map_or_else(|| "-".to_owned(), |at| at.to_rfc3339())
                );
            }
        }
        Response::Quarantine(inputs) => {
            println!("batch\tpath\treason");
            for input in inputs {
                println!("{}\t{}\t{}", input.batch, input.path, input.reason);
            }
        }
        Response::Linked(outcome) => link(outcome),
        Response::Released(outcome) => release(outcome),
        Response::Releases { recorded, statuses } => {
            println!("release\tstate\treserved_by\treserved_at\trecipient\tpersons");
            for status in statuses {
                let record = recorded.iter().find(|info| info.record.release_id == status.release_id);
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    status.release_id,
                    status.state.name(),
                    status.reserved_by,
                    status.reserved_at.to_rfc3339(),
                    record.map_or("-", |info| info.record.recipient_name.as_str()),
                    record.map_or_else(|| "-".to_owned(), |info| info.record.n_persons.to_string())
                );
            }
        }
        Response::Exported(outcome) => export(outcome),
        Response::OptoutRecorded(outcome) => optout(outcome),
        Response::Optouts(requests) => {
            println!("request\trequester\treceived_on\tstop_on\tnotice_given_on\tretain_until\tnotice");
            for request in requests {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    request.request_id,
                    request.requester,
                    request.received_on,
                    request.stop_on,
                    request.notice_given_on,
                    request.retain_until,
                    request.notice_path
                );
            }
        }
        Response::Notice(html) | Response::Report(html) => println!("{html}"),
        Response::LinkageExported(outcome) => linkage_export(outcome),
        Response::ProvisionIdsImported(n) => println!("stored {n} provision IDs (提供用ID)"),
        Response::Ledger(entries) => {
            println!("id\tkind\trelease\tprovided_on\trecipient\taddress\tpersons\tretain_until\titems");
            for entry in entries {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    entry.id,
                    entry.kind,
                    entry.release_id.as_deref().unwrap_or("-"),
                    entry.provided_on,
                    entry.recipient_name,
                    entry.recipient_address,
                    entry.n_persons,
                    entry.retain_until,
                    entry.items.join(",")
                );
            }
        }
        Response::Receipts(receipts) => {
            println!(
                "batch\treceived_on\tprovider\tname\tpublished_on\tpersons\texcluded_by_optout\tretain_until\titems"
            );
            for receipt in receipts {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    receipt.batch,
                    receipt.received_on,
                    receipt.provider,
                    receipt.provider_name,
                    receipt.published_on,
                    receipt.n_persons,
                    receipt.n_persons_excluded,
                    receipt.retain_until,
                    receipt.items.join(",")
                );
            }
        }
        Response::AuditVerified(log) => println!(
            "audit log verified: {} entries, head {}, signed through seq {} ({} checkpoints, public key {})",
            log.n_entries, log.head_hash, log.signed_through, log.n_checkpoints, log.public_key
        ),
        Response::AuditEntries(entries) => {
            println!("seq\tat\tactor\taction\tobject\toutcome\tdetail");
            for entry in entries {
                let event = &entry.event;
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    entry.seq,
                    event.at.to_rfc3339(),
                    event.actor,
                    event.action,
                    event.object,
                    event.outcome.name(),
                    event.detail
                );
            }
        }
        Response::EnrollmentToken(token) => enrollment_token(token),
        Response::Users(users) => {
            println!("name\tdisplay_name\troles\tenrolled\tpassword_changed_at\tfailed_logins\tlocked");
            for user in users {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    user.name,
                    user.display_name,
                    user.roles.join(","),
                    if user.enrolled { "yes" } else { "no" },
                    user.password_changed_at.map_or("-".to_owned(), |at| at.to_rfc3339()),
                    user.failed_logins,
                    user.locked_reason.as_deref().map_or("-".to_owned(), |reason| format!("yes: {reason}")),
                );
            }
        }
        Response::Locked { name } => println!("locked {name}"),
        Response::Unlocked { name } => println!("unlocked {name}"),
        Response::Roles { name, roles } => {
            println!("{name}: {}", roles.iter().map(|role| role.name()).collect::<Vec<_>>().join(","));
        }
        Response::KeyStatus(status) => {
            println!("KEK in use: {} (from {:?})", status.kek_id, status.kek_source);
            println!("key store: {}", status.keystore_dir.display());
            println!("audit checkpoint public key: {}", status.audit_public_key);
            println!("object\tkek");
            for (object, kek) in &status.entries {
                println!("{object}\t{kek}");
            }
        }
        Response::KeysRotated { rewrapped, already_current, note } => {
            println!(
                "re-wrapped {rewrapped} keys under the new KEK ({already_current} already were); the vault's files were not touched"
            );
            println!("{note}");
        }
        Response::Deleted(outcome) => println!(
            "deleted {}: data key {}, {} files removed; the deletion record is kept 3 years",
            outcome.object,
            if outcome.key_destroyed { "destroyed" } else { "already gone" },
            outcome.files_removed
        ),
    }
}

pub(crate) fn ingest(outcome: &IngestOutcome) {
    if outcome.already_received {
        println!(
            "provider {}: this extract was already received as batch {}; nothing stored twice",
            outcome.provider, outcome.batch
        );
        return;
    }
    let records: Vec<String> =
        outcome.n_records_by_kind.iter().map(|(kind, n)| format!("{n} {kind}")).collect();
    println!(
        "batch {} from provider {}: {} files, {} persons, {}",
        outcome.batch,
        outcome.provider,
        outcome.n_files,
        outcome.n_persons,
        records.join(", ")
    );
    if outcome.n_persons_excluded > 0 {
        println!("  {} persons excluded by opt-out (not stored)", outcome.n_persons_excluded);
    }
    if outcome.n_quarantined > 0 {
        println!(
            "  {} inputs quarantined (see `kiban receipts` and `kiban quarantine`)",
            outcome.n_quarantined
        );
    }
    if !outcome.unmapped.is_empty() {
        let unmapped: Vec<String> = outcome.unmapped.iter().map(|(kind, n)| format!("{kind} ×{n}")).collect();
        println!("  read but not mapped yet: {}", unmapped.join(", "));
    }
    if outcome.n_warnings > 0 {
        println!("  {} warnings", outcome.n_warnings);
    }
}

pub(crate) fn link(outcome: &LinkOutcome) {
    println!("linked {} provider records to {} persons", outcome.n_records, outcome.n_persons);
    if outcome.n_review > 0 {
        println!("  {} uncertain pairs left for review ", outcome.n_review);
    }
    if let Some(quality) = &outcome.quality {
        println!(
            "  against the ground truth: precision {:.4}, recall {:.4} ({} true pairs)",
            quality.precision, quality.recall, quality.true_pairs
        );
    }
}

fn linkage_export(outcome: &LinkageExportOutcome) {
    println!(
        "linkage export {}: {} rows written to {}",
        outcome.export_id,
        outcome.n_rows,
        outcome.out.display()
    );
    if outcome.n_incomplete > 0 {
        println!("  {} persons left out: no kana name or birth date", outcome.n_incomplete);
    }
    if outcome.n_opted_out > 0 {
        println!("  {} persons left out: opted out", outcome.n_opted_out);
    }
}

fn optout(outcome: &OptoutOutcome) {
    println!("recorded opt-out request {}", outcome.request_id);
    println!("  written notice: {}  (keep until {})", outcome.notice.display(), outcome.retain_until);
    println!(
        "  {} provider records in the vault match: they are left out of every later release; later intakes leave the person out",
        outcome.n_vault_records_matched
    );
}

pub(crate) fn release(outcome: &ReleaseOutcome) {
    println!(
        "release {} ({}): {} of {} persons released, {} suppressed, smallest class {}",
        outcome.release_id,
        outcome.mode.name(),
        outcome.n_persons_released,
        outcome.n_persons_in,
        outcome.n_persons_suppressed,
        outcome.smallest_class.map_or_else(|| "-".to_owned(), |size| size.to_string())
    );
    if outcome.n_persons_excluded > 0 {
        println!("  {} persons excluded by opt-out before processing", outcome.n_persons_excluded);
    }
    if let Some(worst) = outcome.risk.headline() {
        println!(
            "  highest re-identification risk, measured on the released files: {:.4} ({}; {} persons in classes below k = {})",
            worst.highest, worst.name, worst.n_below_k, worst.k
        );
    }
    let residual: Vec<_> =
        outcome.risk.models.iter().filter(|model| model.residual && !model.holds()).collect();
    if !residual.is_empty() {
        println!("  residual risk (attackers the policy does not declare; see the report):");
        for model in residual {
            println!("    {}: {} of {} persons unique", model.name, model.n_unique, model.n_persons);
        }
    }
    println!("  files:  {} (sealed; hand over with `kiban release export`)", outcome.dir.display());
    println!("  report: {}", outcome.report.display());
    println!("  ledger line {} recorded for {}", outcome.ledger.id, outcome.ledger.recipient_name);
}

pub(crate) fn export(outcome: &ExportOutcome) {
    println!(
        "release {} exported to {}: {} files, {} bytes, each checked against the manifest",
        outcome.release_id,
        outcome.to.display(),
        outcome.n_files,
        outcome.bytes
    );
}

pub(crate) fn enrollment(outcome: &EnrollmentOutcome) {
    println!("enrolled {} (password class: {})", outcome.user, outcome.password_class.name());
    println!("Add this account to your authenticator app (shown once, keep it private):");
    println!("  secret: {}", outcome.totp.to_base32().expose_secret());
    println!("  uri:    {}", outcome.totp.provisioning_uri(&outcome.user).expose_secret());
    println!("Recovery codes (each works once in place of a code; store them offline):");
    for code in &outcome.recovery_codes {
        println!("  {}", code.expose_secret());
    }
}

pub(crate) fn enrollment_token(token: &EnrollmentToken) {
    println!(
        "enrollment token for {} (hand it over in person; valid until {}):",
        token.user,
        token.expires_at.to_rfc3339()
    );
    println!("  {}", token.token.expose_secret());
    println!("the user runs: kiban user enroll --user {}", token.user);
}

pub(crate) fn demo(outcome: &DemoOutcome, data_dir: &std::path::Path) {
    println!("kiban demo finished\n");
    for outcome in &outcome.ingests {
        ingest(outcome);
    }
    link(&outcome.linkage);
    release(&outcome.release);
    export(&outcome.handover);
    println!("\nwhere everything is:");
    println!("  synthetic cohort:   {}", outcome.cohort_dir.display());
    println!("  release (sealed):   {}", outcome.release.dir.display());
    println!("  handover copy:      {}", outcome.handover.to.display());
    println!("  report:             {}", outcome.release.report.display());
    println!("  ledger (Rule 12):   {}  (also `kiban ledger`)", outcome.ledger_export.display());
    println!(
        "  audit log:          {}  ({} entries, chain verified; also `kiban audit verify`)",
        outcome.audit_export.display(),
        outcome.n_audit_entries
    );
    println!("  database:           {}", data_dir.join("kiban.db").display());
    println!("\ntimings:");
    for (step, secs) in &outcome.steps {
        println!("  {step:<28} {secs:>7.2} s");
    }
}
