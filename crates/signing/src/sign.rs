//! Signing: adds one signature to a module's `signature` section, creating
//! the section if the module has none. The content after it is copied as
//! it is, so every signature already there stays valid: an author signs, a
//! reviewer countersigns the same file.

use crate::format::{self, Layout, SignatureData, SignatureRecord, SignedHashes};
use crate::wasm;
use crate::{SignatureError, SigningKey};

/// `module` signed by `key` as well as by whoever signed it before.
///
/// A module whose content changed since an earlier signature keeps that
/// signature (wasmsign2 does the same), which no longer covers it; the new
/// one does. Signing twice with one key is refused.
pub fn sign(module: &[u8], key: &SigningKey) -> Result<Vec<u8>, SignatureError> {
    let layout = Layout::of(module)?;
    let mut data = match layout.signature {
        Some(payload) => SignatureData::decode(payload)?,
        None => SignatureData::default(),
    };
    let hashes = layout.hashes();
    let public_key = key.public_key();
    let record = SignatureRecord {
        key_id: public_key.key_id(),
        algorithm: format::ED25519,
        signature: key.sign(&format::message(&hashes)).to_vec(),
    };
    match data.sets.iter_mut().find(|set| set.hashes == hashes) {
        // ed25519 is deterministic: the same key over the same hashes makes
        // the same signature.
        Some(set)
            if set
                .signatures
                .iter()
                .any(|s| s.signature == record.signature) =>
        {
            return Err(SignatureError::AlreadySigned {
                fingerprint: public_key.fingerprint(),
            })
        }
        Some(set) => set.signatures.push(record),
        None => data.sets.push(SignedHashes {
            hashes,
            signatures: vec![record],
        }),
    }
    data.check_limits()?;
    let section = wasm::custom_section(format::SIGNATURE_SECTION, &data.encode());
    let content = layout.content();
    let mut signed = Vec::with_capacity(wasm::HEADER_LEN + section.len() + content.len());
    signed.extend_from_slice(&module[..wasm::HEADER_LEN]);
    signed.extend_from_slice(&section);
    signed.extend_from_slice(content);
    Ok(signed)
}
