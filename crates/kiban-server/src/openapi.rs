//! The OpenAPI 3.1 document of the HTTP API, served at `/api/openapi.json`: built from [`OPERATIONS`],
//! the table of every API route with its role, body fields and answer. A test checks the table against
//! the router (every listed route exists, in the zone listed) and against the role grid.

use serde_json::{Map, Value, json};

/// One API operation.
pub(crate) struct Operation {
    pub(crate) method: &'static str,
    /// The path, with `{parameters}`.
    pub(crate) path: &'static str,
    pub(crate) zone: &'static str,
    pub(crate) summary: &'static str,
    /// Who may call it (the action's roles, see kiban-auth), or who owns it.
    pub(crate) who: &'static str,
    /// The JSON body's fields: name, type, required.
    pub(crate) body: &'static [(&'static str, &'static str, bool)],
    /// What a success answers with.
    pub(crate) answers: &'static str,
}

const REASON: &[(&str, &str, bool)] = &[("reason", "string", true)];

/// Every operation of the API.
pub(crate) const OPERATIONS: &[Operation] = &[
    Operation {
        method: "post",
        path: "/api/v1/login",
        zone: "core",
        summary: "Sign in with password and a TOTP or recovery code; sets the session cookie",
        who: "anyone",
        body: &[("user", "string", true), ("password", "string", true), ("code", "string", true)],
        answers: "user, roles, csrf_token, absolute_expiry",
    },
    Operation {
        method: "post",
        path: "/api/v1/logout",
        zone: "core",
        summary: "End the session",
        who: "any session",
        body: &[],
        answers: "user",
    },
    Operation {
        method: "get",
        path: "/api/v1/session",
        zone: "core",
        summary: "The session's user, roles and CSRF token",
        who: "any session",
        body: &[],
        answers: "user, roles, csrf_token",
    },
    Operation {
        method: "get",
        path: "/api/v1/providers",
        zone: "core",
        summary: "Registered providers (Rule 36)",
        who: "provider-list",
        body: &[],
        answers: "array of providers",
    },
    Operation {
        method: "post",
        path: "/api/v1/providers",
        zone: "core",
        summary: "Register a provider's notice and publication (Rule 36)",
        who: "provider-add",
        body: &[
            ("code", "string", true),
            ("name", "string", true),
            ("address", "string", true),
            ("notified_on", "date", true),
            ("published_on", "date", false),
        ],
        answers: "registered",
    },
    Operation {
        method: "post",
        path: "/api/v1/providers/{code}/credential",
        zone: "core",
        summary: "Issue the provider's upload credential for the intake zone (shown once)",
        who: "provider-credential",
        body: &[],
        answers: "provider, credential",
    },
    Operation {
        method: "post",
        path: "/api/v1/providers/{code}/credential/revoke",
        zone: "core",
        summary: "Revoke the provider's upload credential",
        who: "provider-credential",
        body: &[],
        answers: "revoked",
    },
    Operation {
        method: "get",
        path: "/api/v1/batches",
        zone: "core",
        summary: "Intake batches",
        who: "receipts",
        body: &[],
        answers: "array of batches",
    },
    Operation {
        method: "get",
        path: "/api/v1/batches/{batch}/quarantine",
        zone: "core",
        summary: "A batch's quarantined inputs with their reasons",
        who: "receipts",
        body: &[],
        answers: "array of inputs",
    },
    Operation {
        method: "post",
        path: "/api/v1/link",
        zone: "core",
        summary: "Link persons across providers (a background job)",
        who: "link",
        body: &[],
        answers: "202: job, status",
    },
    Operation {
        method: "get",
        path: "/api/v1/linkage/review",
        zone: "core",
        summary: "The linkage review queue: pairs the last run left to a person (opaque ID, providers, score, reason, field agreement)",
        who: "link",
        body: &[],
        answers: "array of pairs",
    },
    Operation {
        method: "post",
        path: "/api/v1/linkage/review/{pair}",
        zone: "core",
        summary: "Decide a queued pair; the next linkage run applies it",
        who: "link",
        body: &[("decision", "same | different", true), ("reason", "string", true)],
        answers: "pair, same_person, decided_by",
    },
    Operation {
        method: "get",
        path: "/api/v1/releases",
        zone: "core",
        summary: "Releases with their lifecycle state",
        who: "ledger",
        body: &[],
        answers: "recorded, statuses",
    },
    Operation {
        method: "post",
        path: "/api/v1/releases",
        zone: "core",
        summary: "Make a release under a policy (TOML) or the built-in anonymized policy (a background job)",
        who: "release",
        body: &[
            ("policy", "string", false),
            ("recipient_name", "string", false),
            ("recipient_address", "string", false),
            ("k", "string", false),
        ],
        answers: "202: job, status",
    },
    Operation {
        method: "post",
        path: "/api/v1/releases/{id}/handover",
        zone: "core",
        summary: "Hand a release over to a researcher's account",
        who: "release-handover",
        body: &[("recipient", "string", true)],
        answers: "release_id, recipient, handed_over_at",
    },
    Operation {
        method: "get",
        path: "/api/v1/jobs/{id}",
        zone: "core",
        summary: "A background job's state, summary and link",
        who: "the job's owner",
        body: &[],
        answers: "job, state, summary, link, error",
    },
    Operation {
        method: "get",
        path: "/api/v1/ledger",
        zone: "core",
        summary: "The provision ledger (Rule 12)",
        who: "ledger",
        body: &[],
        answers: "array of ledger lines",
    },
    Operation {
        method: "get",
        path: "/api/v1/receipts",
        zone: "core",
        summary: "The records of receipt (Rule 37)",
        who: "receipts",
        body: &[],
        answers: "array of receipts",
    },
    Operation {
        method: "get",
        path: "/api/v1/audit",
        zone: "core",
        summary: "Audit entries, filtered by query: user, object (prefix), since, until",
        who: "audit-show",
        body: &[],
        answers: "array of entries",
    },
    Operation {
        method: "post",
        path: "/api/v1/audit/verify",
        zone: "core",
        summary: "Verify the hash chain and its signed head",
        who: "audit-verify",
        body: &[],
        answers: "n_entries, head_hash, signed_through, public_key",
    },
    Operation {
        method: "get",
        path: "/api/v1/users",
        zone: "core",
        summary: "Accounts (no secrets)",
        who: "user-list",
        body: &[],
        answers: "array of users",
    },
    Operation {
        method: "post",
        path: "/api/v1/users",
        zone: "core",
        summary: "Add an account; answers its one-time enrollment token",
        who: "user-add",
        body: &[
            ("name", "string", true),
            ("display_name", "string", false),
            ("roles", "string (comma-separated)", true),
        ],
        answers: "user, enrollment_token, expires_at",
    },
    Operation {
        method: "post",
        path: "/api/v1/users/{name}/lock",
        zone: "core",
        summary: "Lock an account",
        who: "user-lock",
        body: REASON,
        answers: "locked",
    },
    Operation {
        method: "post",
        path: "/api/v1/users/{name}/unlock",
        zone: "core",
        summary: "Unlock an account (not one's own)",
        who: "user-unlock",
        body: REASON,
        answers: "unlocked",
    },
    Operation {
        method: "post",
        path: "/api/v1/users/{name}/roles",
        zone: "core",
        summary: "Set an account's roles",
        who: "user-roles",
        body: &[("roles", "string (comma-separated)", true)],
        answers: "user, roles",
    },
    Operation {
        method: "post",
        path: "/api/v1/users/{name}/reset",
        zone: "core",
        summary: "Reset an account: a new enrollment token, with the identity check recorded",
        who: "user-reset",
        body: &[("identity_check", "string", true)],
        answers: "user, enrollment_token, expires_at",
    },
    Operation {
        method: "get",
        path: "/api/v1/keys",
        zone: "core",
        summary: "The key store's status (no key material)",
        who: "keys-status",
        body: &[],
        answers: "kek_id, audit_public_key, entries",
    },
    Operation {
        method: "get",
        path: "/api/v1/optouts",
        zone: "core",
        summary: "Opt-out requests, by reference and dates only",
        who: "optout-list",
        body: &[],
        answers: "array of requests",
    },
    Operation {
        method: "post",
        path: "/api/v1/optouts",
        zone: "core",
        summary: "Record an opt-out request (Rule 31) and write its notice",
        who: "optout-add",
        body: &[
            ("requester", "person | bereaved-family", true),
            ("requester_name", "string", true),
            ("relationship", "string", false),
            ("received_on", "date", true),
            ("stop_on", "date", false),
            ("kana", "string", true),
            ("birth_date", "string", true),
            ("sex", "string", true),
            ("provider", "string", false),
            ("patient_id", "string", false),
            ("insurer_number", "string", false),
            ("issuer", "string", true),
        ],
        answers: "request_id, retain_until, notice",
    },
    Operation {
        method: "get",
        path: "/api/v1/optouts/{id}/notice",
        zone: "core",
        summary: "The request's written notice (HTML, printable)",
        who: "optout-add",
        body: &[],
        answers: "text/html",
    },
    Operation {
        method: "post",
        path: "/intake/v1/extracts",
        zone: "intake",
        summary: "Upload an extract as one tar archive (query: format = ssmix2 | fhir | csv), with `Authorization: Bearer kiban_prov_…`",
        who: "the provider's credential",
        body: &[],
        answers: "batch, provider, already_received, bytes, n_files, n_persons, n_persons_excluded, n_quarantined",
    },
    Operation {
        method: "post",
        path: "/release/v1/login",
        zone: "release",
        summary: "A recipient signs in; sets the session cookie",
        who: "anyone",
        body: &[("user", "string", true), ("password", "string", true), ("code", "string", true)],
        answers: "user, roles, csrf_token",
    },
    Operation {
        method: "post",
        path: "/release/v1/logout",
        zone: "release",
        summary: "End the session",
        who: "any session",
        body: &[],
        answers: "user",
    },
    Operation {
        method: "get",
        path: "/release/v1/packages",
        zone: "release",
        summary: "The packages handed over to the signed-in recipient",
        who: "package-download",
        body: &[],
        answers: "array of release_id, handed_over_at, files",
    },
    Operation {
        method: "get",
        path: "/release/v1/packages/{release_id}/files/{path}",
        zone: "release",
        summary: "One file of a package, streamed",
        who: "package-download",
        body: &[],
        answers: "application/octet-stream",
    },
];

/// The OpenAPI document.
pub(crate) fn document() -> Value {
    let mut paths = Map::new();
    for operation in OPERATIONS {
        let parameters: Vec<Value> = operation
            .path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{').and_then(|rest| rest.strip_suffix('}')))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        let mut spec = json!({
            "summary": operation.summary,
            "tags": [operation.zone],
            "description": format!("Zone: {}. Allowed: {}. Answers: {}.", operation.zone, operation.who, operation.answers),
            "parameters": parameters,
            "responses": {
                "200": { "description": operation.answers },
                "default": { "description": "an error", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
            },
        });
        if operation.method == "post" && operation.path != "/intake/v1/extracts" {
            let properties: Map<String, Value> = operation
                .body
                .iter()
                .map(|(name, kind, _)| ((*name).to_owned(), json!({ "type": "string", "description": kind })))
                .collect();
            let required: Vec<&str> = operation
                .body
                .iter()
                .filter(|(_, _, required)| *required)
                .map(|(name, _, _)| *name)
                .collect();
            spec["requestBody"] = json!({ "content": { "application/json": { "schema": { "type": "object", "properties": properties, "required": required } } } });
        }
        let entry = paths.entry(operation.path.to_owned()).or_insert_with(|| json!({}));
        entry[operation.method] = spec;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "kiban",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "kiban's HTTP API. State changes need the session cookie and the X-CSRF-Token header (from login or /api/v1/session).",
        },
        "paths": paths,
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": { "code": { "type": "string" }, "message": { "type": "string" } },
                    "required": ["code", "message"],
                },
            },
            "securitySchemes": {
                "session": { "type": "apiKey", "in": "cookie", "name": crate::session::SESSION_COOKIE },
                "provider": { "type": "http", "scheme": "bearer" },
            },
        },
    })
}
