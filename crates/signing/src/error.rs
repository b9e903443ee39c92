//! What can go wrong signing and verifying, each error naming the problem
//! and what to do about it.

use std::path::PathBuf;

/// Why a module could not be signed or verified.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error(
        "not a WebAssembly module or component: it does not start with `\\0asm` and a version \
         this format knows; sign or verify the `.wasm` file the build wrote"
    )]
    NotWasm,
    #[error(
        "the module is cut short or altered: the {what} at byte {offset} runs past the end of \
         the file (an interrupted copy or download?); fetch or build it again"
    )]
    Truncated { offset: usize, what: &'static str },
    #[error("the module is malformed at byte {offset}: {reason}; fetch or build it again")]
    Malformed { offset: usize, reason: &'static str },
    #[error(
        "the module has a second `signature` section, at byte {offset}: the format allows one, \
         its first section, so the file was tampered with or mangled by a tool; \
         take the module as its signers published it"
    )]
    DuplicateSignatureSection { offset: usize },
    #[error(
        "the module has a `signature` section at byte {offset} that is not its first section, \
         where the format requires it: the file was tampered with or mangled by a tool; \
         take the module as its signers published it"
    )]
    MisplacedSignatureSection { offset: usize },
    #[error(
        "the module's `signature` section is malformed: {reason} (truncated or altered); \
         take the module as its signers published it"
    )]
    BadSignatureData { reason: String },
    #[error(
        "the module's signatures use an unsupported {what} ({value:#04x}); this version of \
         drbook reads version 1 of the tool-conventions format, SHA-256, for modules"
    )]
    Unsupported { what: &'static str, value: u8 },
    #[error(
        "the module is not signed: it has no `signature` section; \
         sign it with `drbook runbook sign FILE --key KEY`"
    )]
    Unsigned,
    #[error(
        "the module was changed after it was signed: none of its {signatures} signature(s) \
         covers its content as it is now; take the module as its signers published it, \
         or have it signed again"
    )]
    ContentChanged { signatures: usize },
    #[error(
        "the capability manifest is not covered by the module's signatures: none of its \
         {signatures} signature(s) covers the module as it is now (a manifest written or changed \
         after signing, or another change); re-sign after `runbook grant` \
         (`drbook runbook sign FILE --key KEY`), or take the module as its signers published it"
    )]
    ManifestNotCovered { signatures: usize },
    #[error(
        "the signature by {fingerprint} does not verify: the `signature` section was altered; \
         take the module as its signers published it"
    )]
    InvalidSignature { fingerprint: String },
    #[error(
        "the module is signed, but by none of the keys given ({tried}): its {signatures} \
         signature(s) are by other keys; pass the signer's public key"
    )]
    UnknownSigners { signatures: usize, tried: String },
    #[error(
        "cannot sign: the signature section would hold {count} {what}, more than the {max} \
         that verifiers (drbook's, wasmsign2's) read"
    )]
    OverLimit {
        what: &'static str,
        count: usize,
        max: u32,
    },
    #[error("the module is already signed by {fingerprint}: nothing to add")]
    AlreadySigned { fingerprint: String },
}

/// Why a key file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read it: {0}")]
    Read(std::io::Error),
    #[error(
        "not a key file drbook reads: an ed25519 key as OpenSSH (`ssh-keygen -t ed25519`, \
         `drbook key generate`), PEM (PKCS#8 private, SPKI public: `openssl genpkey -algorithm \
         ed25519`) or wasmsign2's own files"
    )]
    UnknownFormat,
    #[error("it is a {algorithm} key: runbook signatures are ed25519; make one with `drbook key generate`")]
    NotEd25519 { algorithm: String },
    #[error(
        "the private key is encrypted with a passphrase, which drbook does not read; \
         decrypt a copy (`ssh-keygen -p -N '' -f COPY`) or make a key for signing with \
         `drbook key generate`"
    )]
    Encrypted,
    #[error("it is a private key, where a public key is expected: pass its `.pub` file")]
    PrivateWherePublic,
    #[error("it is a public key, where a private key is expected: signing needs the private key (the file without `.pub`)")]
    PublicWherePrivate,
    #[error("it is malformed: {0}")]
    Malformed(String),
    #[error("the system's random number generator failed: {0}")]
    Random(String),
}

/// A [`KeyError`] with the file it is about. The error is part of the
/// message, not a `source`, so that a chain printed whole says it once.
#[derive(Debug, thiserror::Error)]
#[error("key file {}: {error}", path.display())]
pub struct KeyFileError {
    pub path: PathBuf,
    pub error: KeyError,
}
