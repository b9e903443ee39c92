//! `drbook key generate`, `drbook runbook sign` and `verify` as an operator
//! runs them: an author signs, a reviewer countersigns, verify names both;
//! a changed or foreign-signed runbook is refused (exit 1), a bad key file
//! is bad input (exit 2), and a key is never replaced or left readable.

#[allow(dead_code)] // the emulator's helpers: these tests need only `drbook()`
mod common;

use serde_json::Value;
use std::path::Path;
use std::process::Output;

/// A small component: the 8-byte header and one custom section. Signing
/// reads sections only, so any component will do.
fn component(dir: &Path) -> std::path::PathBuf {
    let mut bytes = b"\0asm\x0d\x00\x01\x00".to_vec();
    let (name, data) = (b"runbook-test", b"some content to sign");
    bytes.extend([0, (1 + name.len() + data.len()) as u8, name.len() as u8]);
    bytes.extend(name);
    bytes.extend(data);
    let path = dir.join("runbook.wasm");
    std::fs::write(&path, bytes).unwrap();
    path
}

fn run(dir: &Path, args: &[&str], code: i32) -> Output {
    common::run_in(dir, args, code)
}

fn json(dir: &Path, args: &[&str]) -> Value {
    let output = run(dir, &[&["--json"][..], args].concat(), 0);
    serde_json::from_slice(&output.stdout).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn fingerprints(signers: &Value) -> Vec<&str> {
    signers
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["fingerprint"].as_str().unwrap())
        .collect()
}

#[test]
fn an_author_signs_a_reviewer_countersigns_and_verify_names_both() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    component(dir);
    let author = json(
        dir,
        &["key", "generate", "author", "--comment", "author@example"],
    );
    let reviewer = json(dir, &["key", "generate", "reviewer", "--format", "pem"]);
    let author_fp = author["fingerprint"].as_str().unwrap();
    let reviewer_fp = reviewer["fingerprint"].as_str().unwrap();
    assert_ne!(author_fp, reviewer_fp);

    let signed = json(dir, &["runbook", "sign", "runbook.wasm", "--key", "author"]);
    assert_eq!(signed["signer"]["fingerprint"], author_fp);
    assert_eq!(signed["signer"]["comment"], "author@example");
    // The reviewer countersigns into another file; the author's stays as it was.
    let author_signed = std::fs::read(dir.join("runbook.wasm")).unwrap();
    let countersigned = json(
        dir,
        &[
            "runbook",
            "sign",
            "runbook.wasm",
            "--key",
            "reviewer",
            "--out",
            "reviewed.wasm",
        ],
    );
    assert_eq!(
        std::fs::read(dir.join("runbook.wasm")).unwrap(),
        author_signed
    );

    let both = json(
        dir,
        &[
            "runbook",
            "verify",
            "reviewed.wasm",
            "--key",
            "author.pub",
            "reviewer.pub",
        ],
    );
    assert_eq!(fingerprints(&both["signers"]), [author_fp, reviewer_fp]);
    assert_eq!(both["signers"][0]["key_file"], "author.pub");
    assert_eq!(both["digest"], countersigned["digest"]);
    assert_eq!(both["other_signatures"], 0);

    let author_only = json(
        dir,
        &["runbook", "verify", "reviewed.wasm", "--key", "author.pub"],
    );
    assert_eq!(fingerprints(&author_only["signers"]), [author_fp]);
    assert_eq!(author_only["other_signatures"], 1);

    // One of two keys is enough; the other is named as not having signed.
    let one_of_two = json(
        dir,
        &[
            "runbook",
            "verify",
            "runbook.wasm",
            "--key",
            "reviewer.pub",
            "--key",
            "author.pub",
        ],
    );
    assert_eq!(fingerprints(&one_of_two["signers"]), [author_fp]);
    assert_eq!(fingerprints(&one_of_two["not_signers"]), [reviewer_fp]);
}

#[test]
fn a_changed_unsigned_or_foreign_signed_runbook_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let file = component(dir);
    run(dir, &["key", "generate", "author"], 0);
    run(dir, &["key", "generate", "stranger"], 0);
    let verify = |key: &str| run(dir, &["runbook", "verify", "runbook.wasm", "--key", key], 1);

    assert!(stderr(&verify("author.pub")).contains("not signed"));

    run(
        dir,
        &["runbook", "sign", "runbook.wasm", "--key", "author"],
        0,
    );
    let refused = stderr(&verify("stranger.pub"));
    assert!(refused.contains("refusing runbook.wasm"), "{refused}");
    assert!(refused.contains("by none of the keys given"), "{refused}");

    let mut bytes = std::fs::read(&file).unwrap();
    *bytes.last_mut().unwrap() ^= 1;
    std::fs::write(&file, bytes).unwrap();
    let refused = stderr(&verify("author.pub"));
    assert!(refused.contains("changed after it was signed"), "{refused}");
}

#[test]
fn bad_key_files_are_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    component(dir);
    run(dir, &["key", "generate", "author"], 0);
    std::fs::write(dir.join("notes.txt"), "not a key\n").unwrap();

    let unknown = stderr(&run(
        dir,
        &["runbook", "verify", "runbook.wasm", "--key", "notes.txt"],
        2,
    ));
    assert!(unknown.contains("key file notes.txt"), "{unknown}");
    assert!(unknown.contains("not a key file drbook reads"), "{unknown}");

    let public = stderr(&run(
        dir,
        &["runbook", "sign", "runbook.wasm", "--key", "author.pub"],
        2,
    ));
    assert!(public.contains("private key is expected"), "{public}");
    let private = stderr(&run(
        dir,
        &["runbook", "verify", "runbook.wasm", "--key", "author"],
        2,
    ));
    assert!(private.contains("public key is expected"), "{private}");
}

#[test]
fn a_key_is_readable_by_its_owner_only_and_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    run(dir, &["key", "generate", "author"], 0);
    let key = std::fs::read(dir.join("author")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |name: &str| {
            std::fs::metadata(dir.join(name))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("author"), 0o600);
        assert_eq!(mode("author.pub") & 0o600, 0o600);
    }

    let refused = stderr(&run(dir, &["key", "generate", "author"], 2));
    assert!(refused.contains("never replaces a key"), "{refused}");
    assert_eq!(std::fs::read(dir.join("author")).unwrap(), key);
    // Nor its public half, which would then belong to another key.
    std::fs::rename(dir.join("author"), dir.join("moved")).unwrap();
    run(dir, &["key", "generate", "author"], 2);
    assert!(!dir.join("author").exists());
}
