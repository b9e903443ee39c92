//! Signing and verifying drbook's own signatures: who signed, countersigning,
//! and every kind of bad module refused with the error that says why.

mod common;

use common::{component, custom_section, is_valid, key, signature_section};
use drbook_signing::{sign, verify, SignatureError};
use sha2::{Digest, Sha256};

#[test]
fn a_signed_module_names_its_signer_and_keeps_its_content() {
    let module = component(4096, &[("producers", b"drbook-test")]);
    let (author, author_pub) = key("author@example");
    let signed = sign(&module, &author).unwrap();

    let verified = verify(&signed, std::slice::from_ref(&author_pub)).unwrap();
    assert_eq!(verified.signers, vec![author_pub]);
    assert_eq!(verified.other_signatures, 0);
    assert_eq!(
        verified.digest,
        format!("sha256:{}", hex::encode(Sha256::digest(&signed)))
    );
    // The signature is one section in front; everything else is as it was,
    // and still a component wasmtime's parser accepts.
    assert_eq!(
        &signed[signature_section(&signed).section.end..],
        &module[8..]
    );
    assert!(is_valid(&signed));
}

#[test]
fn a_countersignature_leaves_the_first_valid_and_tampering_breaks_both() {
    let module = component(4096, &[]);
    let (author, author_pub) = key("author@example");
    let (reviewer, reviewer_pub) = key("reviewer@example");
    let signed = sign(&module, &author).unwrap();
    let countersigned = sign(&signed, &reviewer).unwrap();

    for keys in [vec![author_pub.clone()], vec![reviewer_pub.clone()]] {
        assert_eq!(verify(&countersigned, &keys).unwrap().signers, keys);
    }
    let both = verify(&countersigned, &[author_pub.clone(), reviewer_pub.clone()]).unwrap();
    assert_eq!(both.signers, vec![author_pub.clone(), reviewer_pub.clone()]);
    // Given only the author's key, the reviewer's signature is counted, not trusted.
    assert_eq!(
        verify(&countersigned, std::slice::from_ref(&author_pub))
            .unwrap()
            .other_signatures,
        1
    );

    let mut tampered = countersigned.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    for key in [author_pub, reviewer_pub] {
        let err = verify(&tampered, &[key]).unwrap_err();
        assert!(
            matches!(err, SignatureError::ContentChanged { signatures: 2 }),
            "{err:?}"
        );
    }
}

#[test]
fn signing_twice_with_one_key_is_refused() {
    let (author, author_pub) = key("author@example");
    let signed = sign(&component(64, &[]), &author).unwrap();
    let err = sign(&signed, &author).unwrap_err();
    assert!(
        matches!(&err, SignatureError::AlreadySigned { fingerprint } if *fingerprint == author_pub.fingerprint()),
        "{err:?}"
    );
}

#[test]
fn no_single_changed_byte_verifies() {
    let (author, author_pub) = key("author@example");
    let signed = sign(&component(16, &[("name", b"x")]), &author).unwrap();
    let keys = [author_pub];
    for at in 0..signed.len() {
        let mut changed = signed.clone();
        changed[at] ^= 0x01;
        assert!(
            verify(&changed, &keys).is_err(),
            "a module with byte {at} changed verified"
        );
    }
}

#[test]
fn a_changed_byte_of_content_says_the_module_changed_after_signing() {
    let (author, author_pub) = key("author@example");
    let signed = sign(&component(4096, &[]), &author).unwrap();
    let mut changed = signed.clone();
    changed[signed.len() - 100] ^= 0x80;
    let err = verify(&changed, &[author_pub]).unwrap_err();
    assert!(
        matches!(err, SignatureError::ContentChanged { signatures: 1 }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("changed after it was signed"),
        "{err}"
    );
}

#[test]
fn a_changed_signature_names_the_key_it_claims() {
    let (author, author_pub) = key("author@example");
    let mut signed = sign(&component(64, &[]), &author).unwrap();
    // The section ends with the signature's last byte.
    let end = signature_section(&signed).section.end;
    signed[end - 1] ^= 0x01;
    let err = verify(&signed, std::slice::from_ref(&author_pub)).unwrap_err();
    assert!(
        matches!(&err, SignatureError::InvalidSignature { fingerprint } if *fingerprint == author_pub.fingerprint()),
        "{err:?}"
    );
}

#[test]
fn a_signature_by_an_unknown_key_names_the_keys_tried() {
    let (author, _) = key("author@example");
    let (_, stranger_pub) = key("stranger@example");
    let signed = sign(&component(64, &[]), &author).unwrap();
    let err = verify(&signed, std::slice::from_ref(&stranger_pub)).unwrap_err();
    assert!(
        matches!(err, SignatureError::UnknownSigners { signatures: 1, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&stranger_pub.fingerprint()),
        "{err}"
    );
}

#[test]
fn an_unsigned_module_is_refused_as_unsigned() {
    let (_, author_pub) = key("author@example");
    let err = verify(&component(64, &[]), &[author_pub]).unwrap_err();
    assert!(matches!(err, SignatureError::Unsigned), "{err:?}");
    assert!(err.to_string().contains("drbook runbook sign"), "{err}");
}

#[test]
fn a_truncated_module_or_signature_section_is_refused_as_such() {
    let (author, author_pub) = key("author@example");
    let keys = [author_pub];
    let signed = sign(&component(4096, &[]), &author).unwrap();
    let at = signature_section(&signed);

    // The file cut short: at its end, and inside the signature section.
    for cut in [signed.len() - 1, at.section.end - 10] {
        let err = verify(&signed[..cut], &keys).unwrap_err();
        assert!(
            matches!(err, SignatureError::Truncated { .. }),
            "cut at {cut}: {err:?}"
        );
    }

    // The signature section's own data cut short, its framing intact.
    let mut short = signed[..8].to_vec();
    short.extend(custom_section(
        "signature",
        &signed[at.data.start..at.data.end - 10],
    ));
    short.extend_from_slice(&signed[at.section.end..]);
    let err = verify(&short, &keys).unwrap_err();
    assert!(
        matches!(err, SignatureError::BadSignatureData { .. }),
        "{err:?}"
    );
}

#[test]
fn a_second_or_misplaced_signature_section_is_refused_as_such() {
    let (author, author_pub) = key("author@example");
    let keys = [author_pub];
    let signed = sign(&component(64, &[]), &author).unwrap();
    let section = signature_section(&signed).section;

    let mut duplicated = signed.clone();
    duplicated.splice(section.end..section.end, signed[section.clone()].to_vec());
    let err = verify(&duplicated, &keys).unwrap_err();
    assert!(
        matches!(err, SignatureError::DuplicateSignatureSection { offset } if offset == section.end),
        "{err:?}"
    );

    let mut moved = signed[..8].to_vec();
    moved.extend_from_slice(&signed[section.end..]);
    moved.extend_from_slice(&signed[section.clone()]);
    let err = verify(&moved, &keys).unwrap_err();
    assert!(
        matches!(err, SignatureError::MisplacedSignatureSection { .. }),
        "{err:?}"
    );
}

#[test]
fn a_file_that_is_not_webassembly_is_refused_as_such() {
    let (author, author_pub) = key("author@example");
    for bytes in [&b""[..], b"\0asm", b"#!/bin/sh\necho hello\n"] {
        assert!(matches!(
            verify(bytes, std::slice::from_ref(&author_pub)),
            Err(SignatureError::NotWasm)
        ));
        assert!(matches!(sign(bytes, &author), Err(SignatureError::NotWasm)));
    }
}

/// Issue 12's manifests: a custom section in the module when it is signed
/// is covered by the signature; one added afterwards is a change.
#[test]
fn custom_sections_are_signed_with_the_module() {
    let manifest: &[u8] = b"operations = [\"test-failover\"]";
    let (author, author_pub) = key("author@example");
    let keys = [author_pub];
    let signed = sign(&component(64, &[("drbook-manifest", manifest)]), &author).unwrap();
    verify(&signed, &keys).unwrap();

    let mut altered = signed.clone();
    let at = signed
        .windows(manifest.len())
        .position(|w| w == manifest)
        .unwrap();
    altered[at..at + manifest.len()].copy_from_slice(b"operations = [\"xxxx-failover\"]");
    assert!(matches!(
        verify(&altered, &keys),
        Err(SignatureError::ContentChanged { .. })
    ));

    let mut appended = signed.clone();
    appended.extend(custom_section(
        "drbook-manifest",
        b"operations = [\"unplanned-failover\"]",
    ));
    assert!(matches!(
        verify(&appended, &keys),
        Err(SignatureError::ContentChanged { .. })
    ));
}

#[test]
fn signing_past_what_verifiers_read_is_refused() {
    // A part per `signature_delimiter` section, a hash per part: verifiers
    // read 64.
    let (author, author_pub) = key("author@example");
    let mut module = component(64, &[]);
    for i in 0..64 {
        module.extend(custom_section("signature_delimiter", &[i; 16]));
    }
    let signed = sign(&module, &author).unwrap();
    verify(&signed, &[author_pub]).unwrap();

    module.extend(custom_section("signature_delimiter", &[64; 16]));
    let err = sign(&module, &author).unwrap_err();
    assert!(
        matches!(
            err,
            SignatureError::OverLimit {
                count: 65,
                max: 64,
                ..
            }
        ),
        "{err:?}"
    );
}
