//! What `drbook runbook new` writes: a runbook crate that builds anywhere
//! on disk, with no clone of drbook and no path into one.
//!
//! Layout:
//! - `template`: the templates (`failover`, `drill`, `empty`) and the
//!   crate's own files (manifest, README, tests, configuration).
//! - `vendor`: drbook-sdk, drbook-test and the WIT, embedded from this
//!   repository's files and written into the crate's `vendor/`.

mod template;
mod vendor;

pub use template::{crate_files, Template};
pub use vendor::{runbook_profile, standalone_manifest, WIT};

/// A file of a new crate: its path relative to the crate's root, with `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub path: String,
    pub contents: String,
}

impl File {
    fn new(path: impl Into<String>, contents: impl Into<String>) -> Self {
        File {
            path: path.into(),
            contents: contents.into(),
        }
    }
}

/// Why a crate cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum AuthoringError {
    #[error(
        "`{0}` cannot name a runbook crate: use letters, digits, `-` and `_`, starting with a letter \
         (e.g. `my-failover`)"
    )]
    BadName(String),
    #[error("template `{0}` does not exist; use failover, drill or empty")]
    UnknownTemplate(String),
    /// A bug of this build: what is embedded does not read as it should.
    #[error("drbook's embedded runbook crate is broken ({0}); this is a bug of this drbook build")]
    Embedded(String),
}
