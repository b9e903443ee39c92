//! drbook-signing: signatures embedded in runbook modules, in the
//! WebAssembly tool-conventions format (`Signatures.md`), byte for byte as
//! wasmsign2 writes it: other tools verify drbook's signatures and drbook
//! verifies theirs. A module may carry several signers (an author, then a
//! reviewer who countersigns without invalidating the first); keys are
//! ed25519, in OpenSSH or PEM files.
//!
//! Verification works on a module's bytes before anything compiles them,
//! and says which keys signed ([`Verified::signers`], known by their
//! fingerprints) so that a trust policy can match signers to organisations.
//! A signature covers every section after the `signature` section, custom
//! sections included: a manifest put in the module before it is signed is
//! signed with it.
//!
//! Layout:
//! - `wasm`: a module's framing (header, sections), borrowed from its bytes
//! - `format`: the signature section's data and the hashes it signs
//! - `keys`: key files, fingerprints ([`PublicKey`], [`SigningKey`])
//! - [`sign()`] and [`verify()`]
//! - `manifest`: the capability manifest, a custom section declaring the
//!   interfaces a module imports and the operations it may start, read
//!   from the parse its signatures are verified on
//! - `policy`: the trust policy ([`TrustPolicy`]) and what a host holds of it
//!   ([`Trust`]): which organisations' signatures a runbook needs
//! - `error`: [`SignatureError`], [`KeyError`]

mod error;
mod format;
mod keys;
pub mod manifest;
mod policy;
mod sign;
mod verify;
mod wasm;

pub use error::{KeyError, KeyFileError, SignatureError};
pub use keys::{KeyFormat, PublicKey, SigningKey};
pub use manifest::ManifestError;
pub use policy::{Organisation, PolicyError, Rule, Trust, TrustError, TrustPolicy, TrustedKey};
pub use sign::sign;
pub use verify::{signatures, verify, Signature, Verified};
