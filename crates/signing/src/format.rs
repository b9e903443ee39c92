//! The tool-conventions signature format (`Signatures.md` in
//! WebAssembly/tool-conventions), byte for byte as wasmsign2 writes it, so
//! that either tool verifies the other's signatures.
//!
//! A signed module's first section is a custom section named `signature`.
//! Everything after it is the module's content, hashed with a rolling
//! SHA-256 that yields one hash at each `signature_delimiter` section (and
//! one at the end, if the last section is not a delimiter). A signature is
//! an ed25519 signature of `"wasmsig" ‖ version ‖ content type ‖ hash
//! function ‖ the hashes`; several signatures of the same hashes share one
//! set, which is how a countersignature leaves the first one valid: signing
//! changes the `signature` section only, never the content.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::wasm::{self, Section};
use crate::SignatureError;

pub(crate) const SIGNATURE_SECTION: &str = "signature";
const DELIMITER_SECTION: &str = "signature_delimiter";

const DOMAIN: &[u8] = b"wasmsig";
const SPEC_VERSION: u8 = 0x01;
const CONTENT_TYPE_WASM: u8 = 0x01;
const HASH_SHA256: u8 = 0x01;
pub(crate) const ED25519: u8 = 0x01;

/// wasmsign2's limits: a signature section is read before anything is
/// trusted, so what it may make a verifier do is bounded.
const MAX_HASH_SETS: u32 = 64;
const MAX_HASHES: u32 = 64;
const MAX_SIGNATURES: u32 = 256;

pub(crate) type Hash = [u8; 32];

/// A module split into its signature section (if any) and its content.
pub(crate) struct Layout<'a> {
    pub bytes: &'a [u8],
    /// The payload of the `signature` section, after its name.
    pub signature: Option<&'a [u8]>,
    /// Where the content starts: after the header and the `signature` section.
    pub content_start: usize,
    /// The content's sections: what the signatures cover, the capability
    /// manifest among them (`manifest`).
    pub content: Vec<Section<'a>>,
}

impl<'a> Layout<'a> {
    /// Reads `bytes`' sections; a `signature` section anywhere but first,
    /// or a second one, is refused: the format has one, first, and a
    /// verifier that hashed a second one as content would only say the
    /// content changed.
    pub fn of(bytes: &'a [u8]) -> Result<Self, SignatureError> {
        let sections = wasm::sections(bytes)?;
        let (signature, content) = match sections.split_first() {
            Some((first, rest)) if first.is_custom(SIGNATURE_SECTION) => {
                (first.custom.map(|(_, data)| data), rest)
            }
            _ => (None, &sections[..]),
        };
        if let Some(extra) = content.iter().find(|s| s.is_custom(SIGNATURE_SECTION)) {
            return Err(match signature {
                Some(_) => SignatureError::DuplicateSignatureSection {
                    offset: extra.offset,
                },
                None => SignatureError::MisplacedSignatureSection {
                    offset: extra.offset,
                },
            });
        }
        Ok(Layout {
            bytes,
            signature,
            content_start: content.first().map_or(bytes.len(), |s| s.offset),
            content: content.to_vec(),
        })
    }

    /// The content's rolling hashes, one per part.
    pub fn hashes(&self) -> Vec<Hash> {
        let mut hasher = Sha256::new();
        let mut hashed = self.content_start;
        let delimiter_ends = self
            .content
            .iter()
            .filter(|s| s.is_custom(DELIMITER_SECTION))
            .map(Section::end);
        let mut hashes = Vec::new();
        for end in delimiter_ends {
            hasher.update(&self.bytes[hashed..end]);
            hashed = end;
            hashes.push(hasher.clone().finalize().into());
        }
        if hashed < self.bytes.len() || hashes.is_empty() {
            hasher.update(&self.bytes[hashed..]);
            hashes.push(hasher.finalize().into());
        }
        hashes
    }

    pub fn content(&self) -> &'a [u8] {
        &self.bytes[self.content_start..]
    }
}

/// The payload of a `signature` section: sets of hashes, each with the
/// signatures made over it.
#[derive(Debug, Default)]
pub(crate) struct SignatureData {
    pub sets: Vec<SignedHashes>,
}

#[derive(Debug)]
pub(crate) struct SignedHashes {
    pub hashes: Vec<Hash>,
    pub signatures: Vec<SignatureRecord>,
}

/// One signature. Its algorithm is kept as read: a signature of a scheme
/// drbook does not know is skipped by verification, and kept when the
/// module is countersigned.
#[derive(Debug)]
pub(crate) struct SignatureRecord {
    /// Empty when the signer gave none.
    pub key_id: Vec<u8>,
    pub algorithm: u8,
    pub signature: Vec<u8>,
}

impl SignedHashes {
    /// What each signature of this set signs.
    pub fn message(&self) -> Vec<u8> {
        message(&self.hashes)
    }
}

pub(crate) fn message(hashes: &[Hash]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(DOMAIN.len() + 3 + 32 * hashes.len());
    msg.extend_from_slice(DOMAIN);
    msg.extend_from_slice(&[SPEC_VERSION, CONTENT_TYPE_WASM, HASH_SHA256]);
    for hash in hashes {
        msg.extend_from_slice(hash);
    }
    msg
}

/// The key id wasmsign2 gives a public key (`attach_default_key_id`): the
/// first 12 bytes of HMAC-SHA256 keyed with the key, of `"key_id"`. A
/// verifier holding several keys tries only the one whose id a signature
/// names.
pub(crate) fn key_id(public_key: &[u8; 32]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(public_key).expect("HMAC takes any key length");
    mac.update(b"key_id");
    mac.finalize().into_bytes()[..12].to_vec()
}

impl SignatureData {
    pub fn decode(data: &[u8]) -> Result<Self, SignatureError> {
        let mut reader = Reader { data, at: 0 };
        for (what, expected) in [
            ("specification version", SPEC_VERSION),
            ("content type", CONTENT_TYPE_WASM),
            ("hash function", HASH_SHA256),
        ] {
            let value = reader.byte()?;
            if value != expected {
                return Err(SignatureError::Unsupported { what, value });
            }
        }
        let sets = (0..reader.count(MAX_HASH_SETS, "hash sets")?)
            .map(|_| SignedHashes::decode(reader.slice()?))
            .collect::<Result<_, _>>()?;
        reader.finish()?;
        Ok(SignatureData { sets })
    }

    /// Holds data about to be written to the limits its readers hold it to:
    /// signing must not write a section that verifiers refuse.
    pub fn check_limits(&self) -> Result<(), SignatureError> {
        let over = |what, count: usize, max: u32| {
            (count > max as usize).then_some(SignatureError::OverLimit { what, count, max })
        };
        let error = over("hash sets", self.sets.len(), MAX_HASH_SETS).or_else(|| {
            self.sets.iter().find_map(|set| {
                over("parts (hashes)", set.hashes.len(), MAX_HASHES).or_else(|| {
                    over(
                        "signatures of one content",
                        set.signatures.len(),
                        MAX_SIGNATURES,
                    )
                })
            })
        });
        error.map_or(Ok(()), Err)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![SPEC_VERSION, CONTENT_TYPE_WASM, HASH_SHA256];
        wasm::write_u32(&mut out, self.sets.len() as u32);
        for set in &self.sets {
            write_slice(&mut out, &set.encode());
        }
        out
    }
}

impl SignedHashes {
    fn decode(data: &[u8]) -> Result<Self, SignatureError> {
        let mut reader = Reader { data, at: 0 };
        let hashes = (0..reader.count(MAX_HASHES, "hashes")?)
            .map(|_| Ok(reader.bytes(32)?.try_into().expect("32 bytes")))
            .collect::<Result<_, SignatureError>>()?;
        let signatures = (0..reader.count(MAX_SIGNATURES, "signatures")?)
            .map(|_| SignatureRecord::decode(reader.slice()?))
            .collect::<Result<_, _>>()?;
        reader.finish()?;
        Ok(SignedHashes { hashes, signatures })
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        wasm::write_u32(&mut out, self.hashes.len() as u32);
        for hash in &self.hashes {
            out.extend_from_slice(hash);
        }
        wasm::write_u32(&mut out, self.signatures.len() as u32);
        for signature in &self.signatures {
            write_slice(&mut out, &signature.encode());
        }
        out
    }
}

impl SignatureRecord {
    fn decode(data: &[u8]) -> Result<Self, SignatureError> {
        let mut reader = Reader { data, at: 0 };
        let key_id = reader.slice()?.to_vec();
        let algorithm = reader.byte()?;
        let signature = reader.slice()?.to_vec();
        reader.finish()?;
        Ok(SignatureRecord {
            key_id,
            algorithm,
            signature,
        })
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        write_slice(&mut out, &self.key_id);
        out.push(self.algorithm);
        write_slice(&mut out, &self.signature);
        out
    }
}

fn write_slice(out: &mut Vec<u8>, bytes: &[u8]) {
    wasm::write_u32(out, bytes.len() as u32);
    out.extend_from_slice(bytes);
}

/// Reads the signature data, each short read an error naming it.
struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], SignatureError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.data.len())
            .ok_or(SignatureError::BadSignatureData {
                reason: "it ends in the middle of a record".into(),
            })?;
        let bytes = &self.data[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    fn byte(&mut self) -> Result<u8, SignatureError> {
        Ok(self.bytes(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, SignatureError> {
        let (value, end) = wasm::read_u32(self.data, self.at, "signature data").map_err(|_| {
            SignatureError::BadSignatureData {
                reason: "a length is cut short or too long".into(),
            }
        })?;
        self.at = end;
        Ok(value)
    }

    fn count(&mut self, max: u32, what: &str) -> Result<u32, SignatureError> {
        let count = self.u32()?;
        if count > max {
            return Err(SignatureError::BadSignatureData {
                reason: format!("{count} {what}, more than the {max} the format allows"),
            });
        }
        Ok(count)
    }

    fn slice(&mut self) -> Result<&'a [u8], SignatureError> {
        let len = self.u32()?;
        self.bytes(len as usize)
    }

    fn finish(self) -> Result<(), SignatureError> {
        match self.data.len() - self.at {
            0 => Ok(()),
            extra => Err(SignatureError::BadSignatureData {
                reason: format!("{extra} bytes follow its last record"),
            }),
        }
    }
}
