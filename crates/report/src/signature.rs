//! Signed reports: one ed25519 signature, embedded at the end of the file so
//! that the report stays one file, covering every byte before it. The block
//! holds the signer's public key (OpenSSH) and its fingerprint, so that a
//! verifier says who signed without being told; `--key` pins who must have.
//!
//! The block is written in each format's own comment or field, so the file
//! still opens as what it is:
//!
//! - HTML and Markdown: a last `<!-- drbook-signature v1 ... -->` line;
//! - PDF: a last `%drbook-signature v1 ...` comment line after `%%EOF`;
//! - JSON: the document's last member, `"signature": "drbook-signature v1 ..."`
//!   (the signed bytes are the document up to that member).
//!
//! The signature covers the block's key and fingerprint too (the key's
//! comment names the signer), and the block must read back exactly as drbook
//! writes it, so a change to it (a byte of the key, the fingerprint or the
//! signature, a space) fails too.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use drbook_signing::{KeyFormat, PublicKey, SigningKey};

/// What the signature signs, before the file's bytes: a signature of a
/// report is never a valid signature of anything else drbook signs.
const DOMAIN: &[u8] = b"drbook-report-v1\0";
const MARK: &str = "drbook-signature v1";

/// How a format carries the block: the bytes before and after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    /// HTML and Markdown.
    Comment,
    Pdf,
    Json,
}

impl Carrier {
    const ALL: [Carrier; 3] = [Carrier::Comment, Carrier::Pdf, Carrier::Json];

    fn open(self) -> &'static str {
        match self {
            Carrier::Comment => "<!-- ",
            Carrier::Pdf => "%",
            Carrier::Json => ",\n\"signature\": \"",
        }
    }

    fn close(self) -> &'static str {
        match self {
            Carrier::Comment => " -->\n",
            Carrier::Pdf => "\n",
            Carrier::Json => "\"\n}\n",
        }
    }
}

/// Who signed a report that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub fingerprint: String,
    /// The key's OpenSSH comment (often `user@host`); may be empty.
    pub comment: String,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("it carries no drbook signature (a last `drbook-signature v1` block): it was not made by `drbook report`, or its end was cut or changed")]
    NotSigned,
    #[error("its signature block is malformed ({0}): the block was changed after it was written")]
    Malformed(String),
    #[error("its signature block names fingerprint {named}, but its key is {actual}: the block was changed")]
    Fingerprint { named: String, actual: String },
    #[error("the signature by {fingerprint} does not match the file: it was changed after it was signed")]
    Invalid { fingerprint: String },
    #[error("it is signed by {found}, not by the key given ({expected})")]
    OtherKey { expected: String, found: String },
}

#[derive(Debug, thiserror::Error)]
#[error("cannot sign the report: {0}")]
pub struct SignError(String);

/// `body` with its signature block by `key` appended.
pub fn sign(body: &[u8], carrier: Carrier, key: &SigningKey) -> Result<Vec<u8>, SignError> {
    let public = key.public_key();
    let encoded = public
        .encode(KeyFormat::OpenSsh)
        .map_err(|e| SignError(e.to_string()))?;
    let (key_b64, fingerprint) = (BASE64.encode(encoded.trim_end()), public.fingerprint());
    let signature = key.sign(&message(body, &key_b64, &fingerprint));
    let block = block(carrier, &key_b64, &fingerprint, &BASE64.encode(signature));
    let mut out = Vec::with_capacity(body.len() + block.len());
    out.extend_from_slice(body);
    out.extend_from_slice(block.as_bytes());
    Ok(out)
}

/// Checks the signature at the end of `file`; with `expected`, that it is
/// that key's.
pub fn verify(file: &[u8], expected: Option<&PublicKey>) -> Result<Signed, VerifyError> {
    let (carrier, at) = Carrier::ALL
        .into_iter()
        .filter(|c| file.ends_with(c.close().as_bytes()))
        .find_map(|c| {
            let needle = format!("{}{MARK} ", c.open());
            rfind(file, needle.as_bytes()).map(|at| (c, at))
        })
        .ok_or(VerifyError::NotSigned)?;
    let (body, tail) = file.split_at(at);
    let inner =
        std::str::from_utf8(&tail[carrier.open().len()..tail.len() - carrier.close().len()])
            .map_err(|_| VerifyError::Malformed("not UTF-8".into()))?;
    let fields = inner
        .strip_prefix(MARK)
        .and_then(|rest| rest.strip_prefix(' '))
        .ok_or_else(|| VerifyError::Malformed("no `drbook-signature v1`".into()))?;
    let field = |name: &str, text: Option<&str>| -> Result<String, VerifyError> {
        text.and_then(|t| t.strip_prefix(name))
            .and_then(|t| t.strip_prefix('='))
            .map(str::to_string)
            .ok_or_else(|| VerifyError::Malformed(format!("no `{name}=`")))
    };
    let mut parts = fields.split(' ');
    let key_b64 = field("key", parts.next())?;
    let named = field("fingerprint", parts.next())?;
    let signature_b64 = field("signature", parts.next())?;
    if parts.next().is_some() {
        return Err(VerifyError::Malformed(
            "more fields than drbook writes".into(),
        ));
    }
    // What drbook writes, byte for byte: nothing in the block goes unchecked.
    if block(carrier, &key_b64, &named, &signature_b64).as_bytes() != tail {
        return Err(VerifyError::Malformed("not as drbook writes it".into()));
    }
    let key_text = BASE64
        .decode(&key_b64)
        .map_err(|e| VerifyError::Malformed(format!("its key: {e}")))?;
    let key =
        PublicKey::parse(&key_text).map_err(|e| VerifyError::Malformed(format!("its key: {e}")))?;
    let actual = key.fingerprint();
    if actual != named {
        return Err(VerifyError::Fingerprint { named, actual });
    }
    let signature = BASE64
        .decode(&signature_b64)
        .map_err(|e| VerifyError::Malformed(format!("its signature: {e}")))?;
    if !key.verifies(&message(body, &key_b64, &named), &signature) {
        return Err(VerifyError::Invalid {
            fingerprint: actual,
        });
    }
    if let Some(expected) = expected {
        if expected.fingerprint() != actual {
            return Err(VerifyError::OtherKey {
                expected: expected.fingerprint(),
                found: actual,
            });
        }
    }
    Ok(Signed {
        fingerprint: actual,
        comment: key.comment().to_string(),
    })
}

fn block(carrier: Carrier, key: &str, fingerprint: &str, signature: &str) -> String {
    format!(
        "{}{MARK} key={key} fingerprint={fingerprint} signature={signature}{}",
        carrier.open(),
        carrier.close()
    )
}

/// What is signed: the file's bytes before the block, and the block's key
/// as written (its comment, which names the signer, included).
fn message(body: &[u8], key: &str, fingerprint: &str) -> Vec<u8> {
    let mut message = Vec::with_capacity(DOMAIN.len() + body.len() + key.len() + 64);
    message.extend_from_slice(DOMAIN);
    message.extend_from_slice(body);
    message.extend_from_slice(b"\0");
    message.extend_from_slice(key.as_bytes());
    message.extend_from_slice(b"\0");
    message.extend_from_slice(fingerprint.as_bytes());
    message
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_changed_byte_fails_and_the_signer_is_named() {
        let key = SigningKey::generate("auditor@example").unwrap();
        for (carrier, body) in [
            (Carrier::Comment, &b"<html><body>report</body></html>\n"[..]),
            (Carrier::Pdf, &b"%PDF-1.4\n...\n%%EOF\n"[..]),
            (Carrier::Json, &b"{\n\"report\": {\"vms\": []}"[..]),
        ] {
            let signed = sign(body, carrier, &key).unwrap();
            let ok = verify(&signed, Some(&key.public_key())).unwrap();
            assert_eq!(ok.fingerprint, key.public_key().fingerprint());
            assert_eq!(ok.comment, "auditor@example");
            if carrier == Carrier::Json {
                let doc: serde_json::Value = serde_json::from_slice(&signed).unwrap();
                assert!(doc["signature"].as_str().unwrap().starts_with(MARK));
            }
            for at in 0..signed.len() {
                let mut changed = signed.clone();
                changed[at] ^= 0x01;
                assert!(
                    verify(&changed, None).is_err(),
                    "{carrier:?}: byte {at} of {} changed and still verified",
                    signed.len()
                );
            }
            let other = SigningKey::generate("other").unwrap();
            let err = verify(&signed, Some(&other.public_key())).unwrap_err();
            assert!(matches!(err, VerifyError::OtherKey { .. }), "{err}");
        }
        let err = verify(b"<html></html>\n", None).unwrap_err();
        assert!(matches!(err, VerifyError::NotSigned), "{err}");
    }
}
