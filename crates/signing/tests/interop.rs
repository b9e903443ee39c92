//! Interoperability with wasmsign2, the tool-conventions format's reference
//! implementation, through its own code: what drbook signs, wasmsign2
//! verifies; what wasmsign2 signs, drbook verifies; either countersigns the
//! other; and each reads the other's key files.

mod common;

use common::{component, key};
use drbook_signing::{sign, verify, KeyFormat, PublicKey, SignatureError, SigningKey};
use std::collections::HashSet;
use std::io::Cursor;

/// wasmsign2's view of a drbook public key, read from drbook's PEM file.
fn theirs(public: &PublicKey) -> wasmsign2::PublicKey {
    wasmsign2::PublicKey::from_pem(&public.encode(KeyFormat::Pem).unwrap()).unwrap()
}

/// drbook's view of a wasmsign2 public key, read from wasmsign2's key file.
fn ours(public: &wasmsign2::PublicKey) -> PublicKey {
    PublicKey::parse(&public.to_bytes()).unwrap()
}

fn wasmsign2_verifies(module: &[u8], public: &wasmsign2::PublicKey) -> bool {
    public.verify(&mut Cursor::new(module), None).is_ok()
}

/// `module` signed by wasmsign2's `sign_multi`, as its `sign` command does,
/// with the key id it would attach or without one.
fn wasmsign2_sign(
    module: &[u8],
    pair: &wasmsign2::KeyPair,
    with_key_id: bool,
    allow_extensions: bool,
) -> Vec<u8> {
    let parsed = wasmsign2::Module::deserialize(&mut Cursor::new(module)).unwrap();
    let key_id = with_key_id
        .then(|| pair.pk.clone().attach_default_key_id().key_id().cloned())
        .flatten();
    let (signed, _) = pair
        .sk
        .sign_multi(parsed, key_id.as_ref(), false, allow_extensions)
        .unwrap();
    let mut out = Vec::new();
    signed.serialize(&mut out).unwrap();
    out
}

#[test]
fn wasmsign2_verifies_what_drbook_signs() {
    let (author, author_pub) = key("author@example");
    let (reviewer, reviewer_pub) = key("reviewer@example");
    let (_, stranger_pub) = key("stranger@example");
    let signed = sign(&component(4096, &[("producers", b"x")]), &author).unwrap();
    let countersigned = sign(&signed, &reviewer).unwrap();

    assert!(wasmsign2_verifies(&signed, &theirs(&author_pub)));
    assert!(!wasmsign2_verifies(&signed, &theirs(&reviewer_pub)));
    // With the key id wasmsign2 gives the key, it tries only signatures that
    // carry the same id: drbook's carry it.
    let with_id = theirs(&author_pub).attach_default_key_id();
    assert!(wasmsign2_verifies(&countersigned, &with_id));
    assert!(with_id
        .verify_multi(&mut Cursor::new(&countersigned), None, |_| true)
        .is_ok());
    // Read from drbook's OpenSSH file, too.
    let from_openssh =
        wasmsign2::PublicKey::from_openssh(&reviewer_pub.encode(KeyFormat::OpenSsh).unwrap())
            .unwrap();
    assert!(wasmsign2_verifies(&countersigned, &from_openssh));

    let set = wasmsign2::PublicKeySet::new(HashSet::from([
        theirs(&author_pub),
        theirs(&reviewer_pub),
        theirs(&stranger_pub),
    ]));
    let signers = set.verify(&mut Cursor::new(&countersigned), None).unwrap();
    assert_eq!(
        signers,
        HashSet::from([&theirs(&author_pub), &theirs(&reviewer_pub)])
    );
}

#[test]
fn drbook_verifies_what_wasmsign2_signs() {
    let module = component(4096, &[]);
    for with_key_id in [true, false] {
        let pair = wasmsign2::KeyPair::generate();
        let signed = wasmsign2_sign(&module, &pair, with_key_id, false);
        let verified = verify(&signed, &[ours(&pair.pk)]).unwrap();
        assert_eq!(verified.signers, vec![ours(&pair.pk)]);

        let (_, stranger_pub) = key("stranger@example");
        assert!(matches!(
            verify(&signed, &[stranger_pub]),
            Err(SignatureError::UnknownSigners { .. })
        ));
    }
    // wasmsign2's single-signature `sign`, read through its PEM file.
    let pair = wasmsign2::KeyPair::generate();
    let parsed = wasmsign2::Module::deserialize(&mut Cursor::new(&module)).unwrap();
    let mut signed = Vec::new();
    pair.sk
        .sign(parsed, None)
        .unwrap()
        .serialize(&mut signed)
        .unwrap();
    let public = PublicKey::parse(pair.pk.to_pem().as_bytes()).unwrap();
    assert_eq!(
        common::signers(&signed, std::slice::from_ref(&public)),
        [public]
    );
}

#[test]
fn each_countersigns_the_other() {
    let module = component(4096, &[]);
    let (drbook_key, drbook_pub) = key("author@example");
    let pair = wasmsign2::KeyPair::generate();
    let keys = [drbook_pub.clone(), ours(&pair.pk)];

    let drbook_then_wasmsign2 =
        wasmsign2_sign(&sign(&module, &drbook_key).unwrap(), &pair, true, false);
    assert_eq!(verify(&drbook_then_wasmsign2, &keys).unwrap().signers, keys);

    let wasmsign2_then_drbook =
        sign(&wasmsign2_sign(&module, &pair, true, false), &drbook_key).unwrap();
    assert_eq!(verify(&wasmsign2_then_drbook, &keys).unwrap().signers, keys);
    let set = wasmsign2::PublicKeySet::new(HashSet::from([theirs(&drbook_pub), pair.pk.clone()]));
    assert_eq!(
        set.verify(&mut Cursor::new(&wasmsign2_then_drbook), None)
            .unwrap()
            .len(),
        2
    );
}

/// wasmsign2 can sign a module in parts (`signature_delimiter` sections),
/// so that sections appended later can be signed without invalidating the
/// first signature. drbook verifies such a module whole, and refuses one
/// whose signatures cover only a part of it: runtimes must ignore partial
/// signatures unless told otherwise.
#[test]
fn drbook_verifies_modules_signed_in_parts_and_refuses_partial_signatures() {
    let pair = wasmsign2::KeyPair::generate();
    let keys = [ours(&pair.pk)];
    let split = wasmsign2_sign(&component(4096, &[]), &pair, true, true);
    verify(&split, &keys).unwrap();

    let mut extended = split.clone();
    extended.extend(common::custom_section("drbook-manifest", b"unsigned"));
    extended.extend(common::custom_section("signature_delimiter", &[7; 16]));
    assert!(matches!(
        verify(&extended, &keys),
        Err(SignatureError::ContentChanged { .. })
    ));
    // Signed again over the new part, the whole module verifies.
    let (drbook_key, drbook_pub) = key("reviewer@example");
    let resigned = sign(&extended, &drbook_key).unwrap();
    assert_eq!(
        common::signers(&resigned, std::slice::from_ref(&drbook_pub)),
        [drbook_pub]
    );
    // The first signature is still there, over a part only: not counted.
    assert!(matches!(
        verify(&resigned, &keys),
        Err(SignatureError::UnknownSigners { signatures: 1, .. })
    ));
}

#[test]
fn each_reads_the_others_key_files() {
    let module = component(64, &[]);

    // drbook's OpenSSH private key signs in wasmsign2; drbook verifies.
    let drbook_key = SigningKey::generate("author@example").unwrap();
    let openssh = drbook_key.encode(KeyFormat::OpenSsh).unwrap();
    let sk = wasmsign2::SecretKey::from_openssh(&openssh).unwrap();
    let pair = wasmsign2::KeyPair {
        pk: wasmsign2::PublicKey {
            pk: sk.sk.public_key(),
            key_id: None,
        },
        sk,
    };
    let signed = wasmsign2_sign(&module, &pair, false, false);
    let public = drbook_key.public_key();
    assert_eq!(
        common::signers(&signed, std::slice::from_ref(&public)),
        [public]
    );

    // drbook's PEM private key, too.
    let pem = drbook_key.encode(KeyFormat::Pem).unwrap();
    let sk = wasmsign2::SecretKey::from_pem(&pem).unwrap();
    assert_eq!(sk.sk.public_key(), pair.pk.pk);

    // wasmsign2's own key files sign in drbook; wasmsign2 verifies.
    let theirs = wasmsign2::KeyPair::generate();
    let ours = SigningKey::parse(&theirs.sk.to_bytes()).unwrap();
    assert!(wasmsign2_verifies(
        &sign(&module, &ours).unwrap(),
        &theirs.pk
    ));
    assert_eq!(
        ours.public_key().fingerprint(),
        PublicKey::parse(&theirs.pk.to_bytes())
            .unwrap()
            .fingerprint()
    );
}

/// The format allows other signature schemes beside ed25519: drbook skips
/// a signature it cannot check, counts it, and keeps it when it countersigns.
#[test]
fn a_signature_of_another_scheme_is_counted_and_kept() {
    let (author, author_pub) = key("author@example");
    let (reviewer, reviewer_pub) = key("reviewer@example");
    let signed = sign(&component(64, &[]), &author).unwrap();
    let at = common::signature_section(&signed);
    let mut data = wasmsign2::SignatureData::deserialize(&signed[at.data.clone()]).unwrap();
    data.signed_hashes_set[0]
        .signatures
        .push(wasmsign2::SignatureForHashes {
            key_id: None,
            alg_id: 0x02,
            signature: vec![0; 96],
        });
    let mut with_other = signed[..8].to_vec();
    with_other.extend(common::custom_section(
        "signature",
        &data.serialize().unwrap(),
    ));
    with_other.extend_from_slice(&signed[at.section.end..]);

    let verified = verify(&with_other, std::slice::from_ref(&author_pub)).unwrap();
    assert_eq!(verified.other_signatures, 1);
    let countersigned = sign(&with_other, &reviewer).unwrap();
    let verified = verify(&countersigned, &[author_pub, reviewer_pub]).unwrap();
    assert_eq!(verified.signers.len(), 2);
    assert_eq!(verified.other_signatures, 1);
}
