//! What can go wrong between drbook and a registry, each naming the problem
//! and its fix. None of them ever holds a credential.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error("`{reference}` is not a registry reference: {problem}")]
    BadReference { reference: String, problem: String },
    #[error(
        "registry {registry} cannot be reached ({detail}): start it, or check the host and port of the \
         reference; a module pulled before by digest (oci://...@sha256:...) needs no registry"
    )]
    Unreachable { registry: String, detail: String },
    #[error(
        "registry {registry} wants credentials (401 Unauthorized) and none were found: set \
         DRBOOK_REGISTRY_USERNAME and DRBOOK_REGISTRY_PASSWORD, or `docker login {registry}`"
    )]
    NoCredentials { registry: String },
    #[error(
        "registry {registry} refused the credentials from {from} (401 Unauthorized): check the user name \
         and password there, or log in again (`docker login {registry}`)"
    )]
    Refused { registry: String, from: String },
    #[error(
        "registry {registry} denies this to the credentials from {from} (403 Forbidden): the account needs \
         the registry's {operation} permission on the repository"
    )]
    Denied {
        registry: String,
        from: String,
        operation: &'static str,
    },
    #[error(
        "{reference} does not exist in its registry ({detail}): check the repository and the tag or digest, \
         or push the runbook first (`drbook runbook push FILE {reference}`)"
    )]
    NotFound { reference: String, detail: String },
    #[error(
        "{what} does not hash to its digest: expected {expected}, got {actual}; the registry's copy is \
         corrupt or was tampered with, so nothing was stored or run: push the runbook again from a \
         trusted copy"
    )]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },
    #[error(
        "{reference} is not a runbook module: {problem}; a runbook is pushed as a CNCF Wasm OCI \
         artifact, one `application/wasm` layer (`drbook runbook push FILE {reference}`)"
    )]
    NotAModule { reference: String, problem: String },
    #[error(
        "{reference}'s module is {size} bytes, more than the {limit} a runbook may have (--module-bytes): \
         nothing was downloaded"
    )]
    TooLarge {
        reference: String,
        size: i64,
        limit: u64,
    },
    #[error(
        "{reference} is not in the local module store, and DRBOOK_REGISTRY_OFFLINE=1 asks no registry: \
         pull it once with the registry reachable (`drbook runbook pull {reference}`), or unset \
         DRBOOK_REGISTRY_OFFLINE"
    )]
    Offline { reference: String },
    #[error("{reference}: the registry answered what drbook cannot use: {detail}")]
    Registry { reference: String, detail: String },
    #[error("registry credentials: {problem}")]
    Credentials { problem: String },
    #[error("the registry client: {problem}")]
    Client { problem: String },
    #[error("the local module store, {}: {source}; check that the data dir is writable by this user", path.display())]
    Store {
        path: PathBuf,
        source: std::io::Error,
    },
}
