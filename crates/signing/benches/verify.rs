//! The signature benchmark of issue 12, with its target:
//! - `verify/1MiB-2-signers`: verifying a 1 MiB component signed by an
//!   author and countersigned by a reviewer, given both keys (≤ 2 ms): the
//!   framing, the rolling SHA-256 of the content, the SHA-256 of the whole
//!   file (its digest) and two ed25519 verifications.
//!
//! - `admit/1MiB-2-signers[-manifest]`: the trust policy's admission of
//!   that module (one parse, the verification, the policy's rule), without
//!   and with a capability manifest (read from the same parse): what the
//!   manifest adds to the check made once per digest.
//! - `scope-check/...`: the one check at an operation's start, the job's
//!   scope alone and with a manifest and a policy cap.
//!
//! Each verification's outcome is checked before it is measured.
//! `cargo bench -p drbook-signing --bench verify`; results and method:
//! `docs/benchmarks.md`.

#[path = "../tests/common/mod.rs"]
mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use drbook_core::fabric::{Direction, OperationKind as K};
use drbook_core::job::{AdmittedBy, JobSpec, Trigger};
use drbook_core::plan::{FailoverType, RecoveryPlan};
use drbook_core::scope::{self, Interface, Manifest};
use drbook_signing::{sign, verify, Organisation, Rule, Trust, TrustPolicy, TrustedKey};
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

fn admission(c: &mut Criterion) {
    let (author, author_pub) = common::key("author@example");
    let (reviewer, reviewer_pub) = common::key("reviewer@example");
    let org = |name: &str, key: &drbook_signing::PublicKey| Organisation {
        name: name.into(),
        keys: vec![TrustedKey {
            key: key.clone(),
            expires: None,
        }],
    };
    let rule = Rule {
        name: "shared".into(),
        runbooks: vec!["dr_*".into()],
        require: vec!["platform".into(), "security-review".into()],
        operations: Some(vec![K::TestFailover, K::TestFailoverCleanup]),
        require_manifest: false,
        http: None,
        azure: None,
    };
    let policy = TrustPolicy::new(
        vec![
            org("platform", &author_pub),
            org("security-review", &reviewer_pub),
        ],
        vec![rule],
    )
    .unwrap();
    let trust = Trust::enforce(policy);
    let manifest = Manifest {
        interfaces: vec![Interface::SiteRecovery, Interface::Log],
        operations: vec![K::TestFailover, K::TestFailoverCleanup],
        http: vec![],
        azure: vec![],
    };
    let bare = common::component(1 << 20, &[]);
    let granted = drbook_signing::manifest::write(&bare, &manifest)
        .unwrap()
        .module;
    for (name, module) in [("", bare), ("-manifest", granted)] {
        let signed = sign(&sign(&module, &author).unwrap(), &reviewer).unwrap();
        let admission = trust
            .admit("dr_drill", "dr_drill.wasm", &signed, false)
            .unwrap();
        assert!(matches!(admission.admitted_by, AdmittedBy::Rule { .. }));
        assert_eq!(admission.capabilities.manifest.is_some(), !name.is_empty());
        c.bench_function(&format!("admit/1MiB-2-signers{name}"), |b| {
            b.iter(|| {
                trust
                    .admit("dr_drill", "dr_drill.wasm", black_box(&signed), false)
                    .unwrap()
            })
        });
    }
}

fn start_check(c: &mut Criterion) {
    let plan = RecoveryPlan::parse(
        "name = \"app\"\nprimary_region = \"eastus\"\nrecovery_region = \"westus\"\n\
         [[groups]]\nname = \"web\"\nvms = [\"web-01\", \"web-02\", \"web-03\"]\n",
        "bench.toml",
    )
    .unwrap();
    let mut spec = JobSpec {
        job_id: "job-1".into(),
        plan,
        failover_type: FailoverType::Test,
        direction: Direction::PrimaryToRecovery,
        parameters: Default::default(),
        trigger: Trigger::CommandLine { user: "b".into() },
        grant: Default::default(),
        admission: None,
    };
    c.bench_function("scope-check/job-scope", |b| {
        b.iter(|| scope::check(black_box(&spec), "web-03", K::TestFailoverCleanup).unwrap())
    });
    let mut capabilities = scope::Capabilities {
        manifest: Some(Manifest {
            interfaces: vec![Interface::SiteRecovery],
            operations: vec![K::TestFailover, K::TestFailoverCleanup],
            http: vec![],
            azure: vec![],
        }),
        signed: true,
        caps: vec![],
    };
    capabilities.narrow(scope::PolicyCap {
        rule: "shared".into(),
        operations: vec![K::TestFailover, K::TestFailoverCleanup],
        http: None,
        azure: None,
    });
    spec.admission = Some(drbook_core::job::Admission {
        digest: "sha256:00".into(),
        source: "dr_drill.wasm".into(),
        signers: vec![],
        admitted_by: AdmittedBy::NoPolicy,
        capabilities,
        replaces: None,
    });
    c.bench_function("scope-check/job-scope-manifest-cap", |b| {
        b.iter(|| scope::check(black_box(&spec), "web-03", K::TestFailoverCleanup).unwrap())
    });
}

criterion_group!(benches, signatures, admission, start_check);
criterion_main!(benches);
