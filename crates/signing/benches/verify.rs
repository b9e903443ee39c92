//! The signature benchmark of issue 12, with its target:
//! - `verify/1MiB-2-signers`: verifying a 1 MiB component signed by an
//!   author and countersigned by a reviewer, given both keys (≤ 2 ms): the
//!   framing, the rolling SHA-256 of the content, the SHA-256 of the whole
//!   file (its digest) and two ed25519 verifications.
//!
//! Each verification's outcome is checked before it is measured.
//! `cargo bench -p drbook-signing --bench verify`; results and method:
//! `docs/benchmarks.md`.

#[path = "../tests/common/mod.rs"]
mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use drbook_signing::{sign, verify};
use std::hint::black_box;

fn signatures(c: &mut Criterion) {
    let module = common::component(1 << 20, &[]);
    let (author, author_pub) = common::key("author@example");
    let (reviewer, reviewer_pub) = common::key("reviewer@example");
    let signed = sign(&sign(&module, &author).unwrap(), &reviewer).unwrap();
    let keys = [author_pub, reviewer_pub];
    assert_eq!(verify(&signed, &keys).unwrap().signers, keys);
    assert!(signed.len() > 1 << 20);

    c.bench_function("verify/1MiB-2-signers", |b| {
        b.iter(|| verify(black_box(&signed), black_box(&keys)).unwrap())
    });
}

criterion_group!(benches, signatures);
criterion_main!(benches);
