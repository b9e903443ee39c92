//! drbook-module-oci: runbook modules in OCI registries, behind drbook-core's
//! `ModuleSource` port, for `oci://HOST[:PORT]/REPO[:TAG][@sha256:DIGEST]`.
//!
//! Modules travel as CNCF Wasm OCI artifacts, so that other tools (wkg,
//! oras, wash) push and pull the same ones; a tag is resolved to a manifest
//! digest once, which the job then records; what was pulled is kept in a
//! content-addressed store in the data dir, so a module pulled by digest
//! is never asked of a registry again.
//!
//! Layout:
//! - [`reference`]: parsing `oci://` references; a module's name.
//! - [`artifact`]: the artifact's manifest and config, and what a pulled
//!   manifest must be to hold a runbook.
//! - [`registry`]: [`Registry`], push and pull over oci-client, the port's
//!   implementation, plain HTTP for loopback and insecure registries only.
//! - [`store`]: [`LocalStore`], blobs by digest, checked on the way in and out.
//! - [`credentials`]: where registry credentials come from.
//! - `dev` (feature `dev-registry`): a real registry for tests.

pub mod artifact;
pub mod credentials;
#[cfg(feature = "dev-registry")]
pub mod dev;
mod error;
pub mod reference;
pub mod registry;
pub mod store;

pub use credentials::{Credentials, Lookup};
pub use error::OciError;
pub use reference::Reference;
pub use registry::{Pushed, Registry, Settings};
pub use store::LocalStore;
