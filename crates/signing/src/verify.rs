//! Verification: which of the given keys signed a module as it is, on its
//! bytes, before anything compiles them.

use crate::format::{self, Layout, SignatureData};
use crate::manifest;
use crate::{PublicKey, SignatureError};

/// A module whose signatures verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// `sha256:<hex>` of the whole module, signature section included:
    /// what a job is pinned to (`drbook_core::module::digest`).
    pub digest: String,
    /// The keys, of those given, that signed the module, in the order given:
    /// what a trust policy matches to organisations by their fingerprints.
    pub signers: Vec<PublicKey>,
    /// Signatures over the module's content by none of the keys given (or
    /// of schemes drbook does not know): counted, not trusted.
    pub other_signatures: usize,
}

/// Verifies `module`'s embedded signatures against `keys`.
///
/// A signature counts only if it covers the whole module (the format also
/// allows signing a prefix, which runtimes must ignore unless told
/// otherwise): so a section added after signing, such as a manifest, is
/// refused as a change, and one added before is covered by every signature.
/// At least one of `keys` must have signed; which did is the answer.
pub fn verify(module: &[u8], keys: &[PublicKey]) -> Result<Verified, SignatureError> {
    verify_layout(&Layout::of(module)?, keys)
}

/// [`verify`] on a module already parsed: what the trust policy uses, so
/// that the capability manifest is read from the same parse.
pub(crate) fn verify_layout(
    layout: &Layout,
    keys: &[PublicKey],
) -> Result<Verified, SignatureError> {
    let module = layout.bytes;
    let data = SignatureData::decode(layout.signature.ok_or(SignatureError::Unsigned)?)?;
    let hashes = layout.hashes();
    let all_signatures = data.sets.iter().map(|set| set.signatures.len()).sum();
    let Some(covering) = data.sets.iter().find(|set| set.hashes == hashes) else {
        // The manifest is what authors most often change after signing.
        let has_manifest = layout
            .content
            .iter()
            .any(|s| s.is_custom(manifest::SECTION));
        return Err(if has_manifest {
            SignatureError::ManifestNotCovered {
                signatures: all_signatures,
            }
        } else {
            SignatureError::ContentChanged {
                signatures: all_signatures,
            }
        });
    };
    let message = covering.message();
    let key_ids: Vec<Vec<u8>> = keys.iter().map(PublicKey::key_id).collect();
    let mut signed = vec![false; keys.len()];
    let mut invalid = None;
    let mut other_signatures = 0;
    for record in &covering.signatures {
        let signature = (record.algorithm == format::ED25519)
            .then(|| ed25519_dalek::Signature::from_slice(&record.signature).ok())
            .flatten();
        let Some(signature) = signature else {
            other_signatures += 1;
            continue;
        };
        // A key id narrows the keys to try to the one it names (and a
        // signature that does not verify with it was altered); a signature
        // without one is tried with every key.
        let named = !record.key_id.is_empty();
        let by = keys.iter().zip(&key_ids).position(|(key, id)| {
            if named && *id != record.key_id {
                return false;
            }
            let verified = key
                .verifying_key()
                .verify_strict(&message, &signature)
                .is_ok();
            if !verified && named {
                invalid.get_or_insert_with(|| key.fingerprint());
            }
            verified
        });
        match by {
            Some(i) => signed[i] = true,
            None => other_signatures += 1,
        }
    }
    let signers: Vec<PublicKey> = keys
        .iter()
        .zip(&signed)
        .filter(|(_, signed)| **signed)
        .map(|(key, _)| key.clone())
        .collect();
    if signers.is_empty() {
        return Err(match invalid {
            Some(fingerprint) => SignatureError::InvalidSignature { fingerprint },
            None => SignatureError::UnknownSigners {
                signatures: covering.signatures.len(),
                tried: keys
                    .iter()
                    .map(PublicKey::fingerprint)
                    .collect::<Vec<_>>()
                    .join(", "),
            },
        });
    }
    Ok(Verified {
        digest: digest(module),
        signers,
        other_signatures,
    })
}

fn digest(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// One signature a module carries, as read without any key: what
/// `drbook runbook inspect` lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The key id it names (wasmsign2's, see [`PublicKey::key_id`]), hex;
    /// empty when it names none.
    pub key_id: String,
    /// Whether it is of a scheme drbook verifies (ed25519).
    pub known_scheme: bool,
    /// Whether it signs the module as it is now (its whole content, the
    /// capability manifest included), not an earlier version of it.
    pub covers: bool,
}

impl Signature {
    /// Whether it names `key`'s id.
    pub fn names(&self, key: &PublicKey) -> bool {
        self.key_id == hex::encode(key.key_id())
    }
}

/// The signatures `module` carries (none if it is unsigned), unverified.
pub fn signatures(module: &[u8]) -> Result<Vec<Signature>, SignatureError> {
    let layout = Layout::of(module)?;
    let Some(section) = layout.signature else {
        return Ok(Vec::new());
    };
    let hashes = layout.hashes();
    let data = SignatureData::decode(section)?;
    Ok(data
        .sets
        .iter()
        .flat_map(|set| {
            let covers = set.hashes == hashes;
            set.signatures.iter().map(move |record| Signature {
                key_id: hex::encode(&record.key_id),
                known_scheme: record.algorithm == format::ED25519,
                covers,
            })
        })
        .collect())
}
