//! ed25519 keys and the files they come in: OpenSSH (what `ssh-keygen -t
//! ed25519` and `drbook key generate` write), PEM (PKCS#8 private keys and
//! SPKI public keys, what `openssl genpkey -algorithm ed25519` writes) and
//! wasmsign2's own binary files (so keys made with its `keygen` work here).
//! A key is known by its fingerprint, `SHA256:...` as `ssh-keygen -l` prints
//! it, which is what a trust policy names.

use ed25519_dalek::pkcs8::spki::{DecodePublicKey, EncodePublicKey};
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, KeypairBytes};
use ed25519_dalek::{Signer, VerifyingKey};
use ssh_key::private::{Ed25519Keypair, Ed25519PrivateKey, KeypairData};
use ssh_key::public::{Ed25519PublicKey, KeyData};
use ssh_key::{HashAlg, LineEnding};
use std::path::Path;
use zeroize::{Zeroize, Zeroizing};

use crate::format;
use crate::{KeyError, KeyFileError};

/// wasmsign2's key files: an algorithm byte, then the raw key.
const WASMSIGN2_PUBLIC: u8 = 0x01;
const WASMSIGN2_KEYPAIR: u8 = 0x81;

/// How a key is written to a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFormat {
    /// `-----BEGIN OPENSSH PRIVATE KEY-----` and an `ssh-ed25519 ...` line.
    OpenSsh,
    /// PKCS#8 (`-----BEGIN PRIVATE KEY-----`) and SPKI (`-----BEGIN PUBLIC KEY-----`).
    Pem,
}

/// A public key: what verifies a signer's signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    key: VerifyingKey,
    /// OpenSSH's comment (often `user@host`); empty for the other formats.
    comment: String,
}

/// A private key: what signs.
#[derive(Debug)]
pub struct SigningKey {
    key: ed25519_dalek::SigningKey,
    comment: String,
}

/// What a key file holds, told from its first bytes.
enum Contents<'a> {
    OpenSshPrivate(&'a str),
    OpenSshPublic { algorithm: &'a str, text: &'a str },
    Pkcs8(&'a str),
    Spki(&'a str),
    Wasmsign2Keypair(&'a [u8]),
    Wasmsign2Public(&'a [u8]),
    Encrypted,
    Other { algorithm: &'static str },
}

fn contents(bytes: &[u8]) -> Result<Contents<'_>, KeyError> {
    // wasmsign2's files are binary; their lengths and first bytes tell them
    // from text, which starts with `-` or a letter.
    match (bytes.first(), bytes.len()) {
        (Some(&WASMSIGN2_PUBLIC), 33) => return Ok(Contents::Wasmsign2Public(&bytes[1..])),
        (Some(&WASMSIGN2_KEYPAIR), 65) => return Ok(Contents::Wasmsign2Keypair(&bytes[1..])),
        _ => {}
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| KeyError::UnknownFormat)?
        .trim();
    let pem_label = text
        .strip_prefix("-----BEGIN ")
        .and_then(|rest| rest.split_once("-----"))
        .map(|(label, _)| label);
    Ok(match pem_label {
        Some("OPENSSH PRIVATE KEY") => Contents::OpenSshPrivate(text),
        Some("PRIVATE KEY") => Contents::Pkcs8(text),
        Some("PUBLIC KEY") => Contents::Spki(text),
        Some("ENCRYPTED PRIVATE KEY") => Contents::Encrypted,
        Some("RSA PRIVATE KEY" | "RSA PUBLIC KEY") => Contents::Other { algorithm: "RSA" },
        Some("EC PRIVATE KEY") => Contents::Other { algorithm: "ECDSA" },
        Some(_) => return Err(KeyError::UnknownFormat),
        None => {
            let algorithm = text.split_whitespace().next().unwrap_or_default();
            let is_ssh = algorithm.starts_with("ssh-")
                || algorithm.starts_with("ecdsa-")
                || algorithm.starts_with("sk-");
            if !is_ssh || text.lines().count() > 1 {
                return Err(KeyError::UnknownFormat);
            }
            Contents::OpenSshPublic { algorithm, text }
        }
    })
}

impl PublicKey {
    /// The public key in a key file's bytes, whichever format it is.
    pub fn parse(bytes: &[u8]) -> Result<Self, KeyError> {
        match contents(bytes)? {
            Contents::OpenSshPublic { algorithm, text } => {
                if algorithm != "ssh-ed25519" {
                    return Err(KeyError::NotEd25519 {
                        algorithm: algorithm.to_string(),
                    });
                }
                let key = ssh_key::PublicKey::from_openssh(text)
                    .map_err(|e| KeyError::Malformed(e.to_string()))?;
                let KeyData::Ed25519(Ed25519PublicKey(raw)) = key.key_data() else {
                    return Err(KeyError::NotEd25519 {
                        algorithm: key.algorithm().to_string(),
                    });
                };
                Ok(PublicKey {
                    key: verifying_key(raw)?,
                    comment: key.comment().to_string(),
                })
            }
            Contents::Spki(pem) => Ok(PublicKey {
                key: VerifyingKey::from_public_key_pem(pem).map_err(|e| {
                    KeyError::Malformed(format!("{e} (only ed25519 keys sign runbooks)"))
                })?,
                comment: String::new(),
            }),
            Contents::Wasmsign2Public(raw) => Ok(PublicKey {
                key: verifying_key(raw.try_into().expect("32 bytes"))?,
                comment: String::new(),
            }),
            Contents::OpenSshPrivate(_)
            | Contents::Pkcs8(_)
            | Contents::Wasmsign2Keypair(_)
            | Contents::Encrypted => Err(KeyError::PrivateWherePublic),
            Contents::Other { algorithm } => Err(KeyError::NotEd25519 {
                algorithm: algorithm.to_string(),
            }),
        }
    }

    pub fn from_file(path: &Path) -> Result<Self, KeyFileError> {
        read(path, Self::parse)
    }

    /// `SHA256:` and the unpadded base64 of the SHA-256 of the key in SSH's
    /// wire format: what `ssh-keygen -l` prints, in every format the key
    /// comes in.
    pub fn fingerprint(&self) -> String {
        ssh_key::Fingerprint::new(HashAlg::Sha256, &self.key_data()).to_string()
    }

    pub fn comment(&self) -> &str {
        &self.comment
    }

    /// The key as a file in `format`.
    pub fn encode(&self, format: KeyFormat) -> Result<String, KeyError> {
        let encoded = match format {
            KeyFormat::OpenSsh => ssh_key::PublicKey::new(self.key_data(), &self.comment)
                .to_openssh()
                .map_err(|e| KeyError::Malformed(e.to_string()))?,
            KeyFormat::Pem => self
                .key
                .to_public_key_pem(LineEnding::LF)
                .map_err(|e| KeyError::Malformed(e.to_string()))?,
        };
        Ok(format!("{}\n", encoded.trim_end()))
    }

    /// The id wasmsign2 gives this key, which drbook's signatures carry
    /// (a [`crate::Signature`] shows it in hex).
    pub fn key_id(&self) -> Vec<u8> {
        format::key_id(self.key.as_bytes())
    }

    /// Whether `signature` is this key's ed25519 signature of `message`
    /// (strict verification, as for modules).
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        ed25519_dalek::Signature::from_slice(signature)
            .is_ok_and(|signature| self.key.verify_strict(message, &signature).is_ok())
    }

    pub(crate) fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    fn key_data(&self) -> KeyData {
        KeyData::Ed25519(Ed25519PublicKey(self.key.to_bytes()))
    }
}

impl SigningKey {
    /// A new key from the system's random number generator.
    pub fn generate(comment: impl Into<String>) -> Result<Self, KeyError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut()).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(SigningKey {
            key: ed25519_dalek::SigningKey::from_bytes(&seed),
            comment: comment.into(),
        })
    }

    /// The private key in a key file's bytes, whichever format it is.
    pub fn parse(bytes: &[u8]) -> Result<Self, KeyError> {
        match contents(bytes)? {
            Contents::OpenSshPrivate(pem) => {
                let key = ssh_key::PrivateKey::from_openssh(pem)
                    .map_err(|e| KeyError::Malformed(e.to_string()))?;
                if key.is_encrypted() {
                    return Err(KeyError::Encrypted);
                }
                let KeypairData::Ed25519(pair) = key.key_data() else {
                    return Err(KeyError::NotEd25519 {
                        algorithm: key.algorithm().to_string(),
                    });
                };
                let seed = Zeroizing::new(pair.private.to_bytes());
                signing_key(&seed, &pair.public.0, key.comment())
            }
            Contents::Pkcs8(pem) => Ok(SigningKey {
                key: ed25519_dalek::SigningKey::from_pkcs8_pem(pem).map_err(|e| {
                    KeyError::Malformed(format!("{e} (only ed25519 keys sign runbooks)"))
                })?,
                comment: String::new(),
            }),
            // wasmsign2's key pair: the seed, then the public key.
            Contents::Wasmsign2Keypair(raw) => {
                let (seed, public) = raw.split_at(32);
                let seed = Zeroizing::new(<[u8; 32]>::try_from(seed).expect("32 bytes"));
                signing_key(&seed, public.try_into().expect("32 bytes"), "")
            }
            Contents::Encrypted => Err(KeyError::Encrypted),
            Contents::OpenSshPublic { .. } | Contents::Spki(_) | Contents::Wasmsign2Public(_) => {
                Err(KeyError::PublicWherePrivate)
            }
            Contents::Other { algorithm } => Err(KeyError::NotEd25519 {
                algorithm: algorithm.to_string(),
            }),
        }
    }

    pub fn from_file(path: &Path) -> Result<Self, KeyFileError> {
        read(path, Self::parse)
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            key: self.key.verifying_key(),
            comment: self.comment.clone(),
        }
    }

    /// The key as a file in `format`: a secret, zeroed when dropped.
    pub fn encode(&self, format: KeyFormat) -> Result<Zeroizing<String>, KeyError> {
        match format {
            KeyFormat::OpenSsh => {
                let pair = Ed25519Keypair {
                    public: Ed25519PublicKey(self.key.verifying_key().to_bytes()),
                    private: Ed25519PrivateKey::from_bytes(self.key.as_bytes()),
                };
                ssh_key::PrivateKey::new(KeypairData::Ed25519(pair), &self.comment)
                    .and_then(|key| key.to_openssh(LineEnding::LF))
                    .map_err(|e| KeyError::Malformed(e.to_string()))
            }
            // PKCS#8 version 1, without the public key, as `openssl genpkey`
            // writes it: version 2 (with it) is what ed25519-dalek would
            // write, and wasmsign2 does not read that.
            KeyFormat::Pem => {
                let mut pair = KeypairBytes {
                    secret_key: self.key.to_bytes(),
                    public_key: None,
                };
                let pem = pair.to_pkcs8_pem(LineEnding::LF);
                pair.secret_key.zeroize();
                pem.map_err(|e| KeyError::Malformed(e.to_string()))
            }
        }
    }

    /// An ed25519 signature of `message`: what module signatures are made
    /// of, and what other signed documents (drbook's evidence reports)
    /// embed.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }
}

/// The key file at `path`, parsed; an error names the file.
fn read<T>(
    path: &Path,
    parse: impl FnOnce(&[u8]) -> Result<T, KeyError>,
) -> Result<T, KeyFileError> {
    std::fs::read(path)
        .map_err(KeyError::Read)
        .and_then(|bytes| parse(&bytes))
        .map_err(|error| KeyFileError {
            path: path.to_path_buf(),
            error,
        })
}

fn verifying_key(raw: &[u8; 32]) -> Result<VerifyingKey, KeyError> {
    VerifyingKey::from_bytes(raw)
        .map_err(|_| KeyError::Malformed("its 32 bytes are not an ed25519 public key".into()))
}

/// The key of `seed`, checked against the public key its file stores with it.
fn signing_key(seed: &[u8; 32], public: &[u8; 32], comment: &str) -> Result<SigningKey, KeyError> {
    let key = ed25519_dalek::SigningKey::from_bytes(seed);
    if key.verifying_key().as_bytes() != public {
        return Err(KeyError::Malformed(
            "its public half does not belong to its private half".into(),
        ));
    }
    Ok(SigningKey {
        key,
        comment: comment.to_string(),
    })
}
