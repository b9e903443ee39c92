//! Key files: those ssh-keygen and openssl write are read, drbook's own
//! round-trip in both formats, fingerprints are ssh-keygen's, and every
//! file that is not an ed25519 key of the expected kind is refused saying
//! what it is.

mod common;

use drbook_signing::{sign, KeyError, KeyFormat, PublicKey, SigningKey};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/keys")
        .join(name)
}

const SSH_FINGERPRINT: &str = "SHA256:5ThCHeCGaB1fnukiz2yzYyqJ//CJIAUmTUTeE0CktjM";
const OPENSSL_FINGERPRINT: &str = "SHA256:LT/x84mGRtot6uD+JW/R0cswKw7XVpkopHRdr2hYqBY";

#[test]
fn keys_made_by_ssh_keygen_and_openssl_sign_and_verify() {
    for (private, public, fingerprint, comment) in [
        (
            "ssh-ed25519",
            "ssh-ed25519.pub",
            SSH_FINGERPRINT,
            "author@example",
        ),
        (
            "openssl-ed25519.pem",
            "openssl-ed25519.pub.pem",
            OPENSSL_FINGERPRINT,
            "",
        ),
    ] {
        let key = SigningKey::from_file(&fixture(private)).unwrap();
        let public = PublicKey::from_file(&fixture(public)).unwrap();
        assert_eq!(public.fingerprint(), fingerprint);
        assert_eq!(public.comment(), comment);
        assert_eq!(key.public_key(), public);
        let signed = sign(&common::component(64, &[]), &key).unwrap();
        assert_eq!(
            common::signers(&signed, std::slice::from_ref(&public)),
            [public]
        );
    }
}

#[test]
fn drbook_writes_keys_as_the_other_tools_do() {
    // The same bytes as ssh-keygen's public line and openssl's PEM files.
    for name in ["ssh-ed25519.pub", "openssl-ed25519.pub.pem"] {
        let file = std::fs::read_to_string(fixture(name)).unwrap();
        let format = if name.ends_with(".pem") {
            KeyFormat::Pem
        } else {
            KeyFormat::OpenSsh
        };
        let public = PublicKey::parse(file.as_bytes()).unwrap();
        assert_eq!(public.encode(format).unwrap(), file);
    }
    let pem = std::fs::read_to_string(fixture("openssl-ed25519.pem")).unwrap();
    let key = SigningKey::parse(pem.as_bytes()).unwrap();
    assert_eq!(*key.encode(KeyFormat::Pem).unwrap(), pem);
}

#[test]
fn generated_keys_round_trip_in_both_formats() {
    let key = SigningKey::generate("reviewer@example").unwrap();
    let public = key.public_key();
    for format in [KeyFormat::OpenSsh, KeyFormat::Pem] {
        let read = SigningKey::parse(key.encode(format).unwrap().as_bytes()).unwrap();
        assert_eq!(read.public_key().fingerprint(), public.fingerprint());
        let read_public = PublicKey::parse(public.encode(format).unwrap().as_bytes()).unwrap();
        assert_eq!(read_public.fingerprint(), public.fingerprint());
    }
    // OpenSSH files keep the comment.
    let openssh = key.encode(KeyFormat::OpenSsh).unwrap();
    assert_eq!(
        SigningKey::parse(openssh.as_bytes())
            .unwrap()
            .public_key()
            .comment(),
        "reviewer@example"
    );
    assert_ne!(
        SigningKey::generate("").unwrap().public_key().fingerprint(),
        public.fingerprint()
    );
}

#[test]
fn files_that_are_not_the_key_expected_are_refused_saying_what_they_are() {
    let public = |bytes: &[u8]| PublicKey::parse(bytes).unwrap_err();
    let private = |bytes: &[u8]| SigningKey::parse(bytes).unwrap_err();
    let read = |name: &str| std::fs::read(fixture(name)).unwrap();

    for bytes in [
        &b"hello\n"[..],
        b"",
        &[0xff; 40],
        b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    ] {
        assert!(
            matches!(public(bytes), KeyError::UnknownFormat),
            "{bytes:?}"
        );
        assert!(
            matches!(private(bytes), KeyError::UnknownFormat),
            "{bytes:?}"
        );
    }
    assert!(
        matches!(public(&read("ssh-rsa.pub")), KeyError::NotEd25519 { algorithm } if algorithm == "ssh-rsa")
    );
    assert!(matches!(
        private(&read("ssh-ed25519-encrypted")),
        KeyError::Encrypted
    ));
    for name in [
        "ssh-ed25519",
        "ssh-ed25519-encrypted",
        "openssl-ed25519.pem",
    ] {
        let err = public(&read(name));
        assert!(
            matches!(err, KeyError::PrivateWherePublic),
            "{name}: {err:?}"
        );
    }
    for name in ["ssh-ed25519.pub", "openssl-ed25519.pub.pem"] {
        let err = private(&read(name));
        assert!(
            matches!(err, KeyError::PublicWherePrivate),
            "{name}: {err:?}"
        );
    }

    // wasmsign2's key pair file (a seed, then its public key) whose public
    // half is not the seed's.
    let mut pair = vec![0x81];
    pair.extend([7; 32]);
    pair.extend([9; 32]);
    assert!(matches!(private(&pair), KeyError::Malformed(_)));
}

#[test]
fn a_key_file_error_names_the_file() {
    let missing = fixture("no-such-key");
    let err = PublicKey::from_file(&missing).unwrap_err();
    assert!(matches!(err.error, KeyError::Read(_)));
    assert!(err.to_string().contains("no-such-key"), "{err}");

    let err = SigningKey::from_file(&fixture("ssh-ed25519-encrypted")).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("ssh-ed25519-encrypted"), "{message}");
    assert!(message.contains("ssh-keygen -p"), "{message}");
}
