use super::*;
use crate::{sign, SigningKey};
use drbook_core::scope::PolicyCap;

/// A component: its header and one custom section (signing reads sections
/// only).
fn module() -> Vec<u8> {
    let mut bytes = b"\0asm\x0d\x00\x01\x00".to_vec();
    let (name, data) = (b"runbook-test", b"the runbook's code");
    bytes.extend([0, (1 + name.len() + data.len()) as u8, name.len() as u8]);
    bytes.extend(name);
    bytes.extend(data);
    bytes
}

fn key() -> (SigningKey, PublicKey) {
    let key = SigningKey::generate("").unwrap();
    let public = key.public_key();
    (key, public)
}

fn org(name: &str, keys: &[&PublicKey]) -> Organisation {
    Organisation {
        name: name.into(),
        keys: keys
            .iter()
            .map(|k| TrustedKey {
                key: (*k).clone(),
                expires: None,
            })
            .collect(),
    }
}

fn rule(name: &str, runbooks: &[&str], require: &[&str]) -> Rule {
    Rule {
        name: name.into(),
        runbooks: runbooks.iter().map(|s| s.to_string()).collect(),
        require: require.iter().map(|s| s.to_string()).collect(),
        operations: None,
        require_manifest: false,
        http: None,
        azure: None,
    }
}

/// The keys of `platform` (two) and `security-review` (one), and a policy
/// requiring one key of each for `failover_plan` and `dr_*`.
struct Fixture {
    platform: [(SigningKey, PublicKey); 2],
    review: (SigningKey, PublicKey),
    policy: TrustPolicy,
}

fn fixture() -> Fixture {
    let platform = [key(), key()];
    let review = key();
    let policy = TrustPolicy::new(
        vec![
            org("platform", &[&platform[0].1, &platform[1].1]),
            org("security-review", &[&review.1]),
        ],
        vec![rule(
            "shared",
            &["failover_plan", "dr_*"],
            &["platform", "security-review"],
        )],
    )
    .unwrap();
    Fixture {
        platform,
        review,
        policy,
    }
}

fn check(policy: &TrustPolicy, module: &[u8]) -> Result<Admission, TrustError> {
    policy.check(
        "failover_plan.wasm",
        "rb/failover_plan.wasm",
        module,
        Utc::now(),
    )
}

#[test]
fn one_key_of_each_required_organisation_admits_and_one_alone_does_not() {
    let f = fixture();
    let by_platform = sign(&module(), &f.platform[0].0).unwrap();
    let error = check(&f.policy, &by_platform).unwrap_err().to_string();
    assert!(error.contains("rule `shared`"), "{error}");
    assert!(error.contains("one key of `security-review`"), "{error}");
    assert!(!error.contains("one key of `platform`"), "{error}");
    assert!(
        error.contains(&format!(
            "signed by {} of `platform`",
            f.platform[0].1.fingerprint()
        )),
        "{error}"
    );

    // Two platform keys are still not a reviewer.
    let both_platform = sign(&by_platform, &f.platform[1].0).unwrap();
    let error = check(&f.policy, &both_platform).unwrap_err().to_string();
    assert!(error.contains("one key of `security-review`"), "{error}");

    // The reviewer countersigns: admitted, both signers recorded.
    let countersigned = sign(&by_platform, &f.review.0).unwrap();
    let admission = check(&f.policy, &countersigned).unwrap();
    assert_eq!(
        admission.admitted_by,
        AdmittedBy::Rule {
            rule: "shared".into()
        }
    );
    assert_eq!(
        admission.signers,
        [
            Signer {
                organisation: "platform".into(),
                fingerprint: f.platform[0].1.fingerprint()
            },
            Signer {
                organisation: "security-review".into(),
                fingerprint: f.review.1.fingerprint()
            },
        ]
    );
    assert_eq!(
        admission.digest,
        drbook_core::module::digest(&countersigned)
    );
    assert_eq!(admission.source, "rb/failover_plan.wasm");
}

#[test]
fn an_organisation_named_twice_needs_two_of_its_keys() {
    let (a, b) = (key(), key());
    let policy = TrustPolicy::new(
        vec![org("platform", &[&a.1, &b.1])],
        vec![rule("two-person", &["*"], &["platform", "platform"])],
    )
    .unwrap();
    let once = sign(&module(), &a.0).unwrap();
    let error = check(&policy, &once).unwrap_err().to_string();
    assert!(error.contains("one key of `platform`"), "{error}");
    let twice = sign(&once, &b.0).unwrap();
    assert_eq!(check(&policy, &twice).unwrap().signers.len(), 2);
    let error = check(&policy, &module()).unwrap_err().to_string();
    assert!(error.contains("2 keys of `platform`"), "{error}");
}

#[test]
fn a_module_changed_after_signing_is_refused_even_with_allow_unsigned() {
    let f = fixture();
    let signed = sign(&sign(&module(), &f.platform[0].0).unwrap(), &f.review.0).unwrap();
    let mut tampered = signed.clone();
    *tampered.last_mut().unwrap() ^= 1;
    let error = check(&f.policy, &tampered).unwrap_err();
    assert!(matches!(error, TrustError::Broken { .. }), "{error}");
    assert!(
        error.to_string().contains("changed after it was signed"),
        "{error}"
    );
    let trust = Trust::enforce(f.policy);
    let error = trust
        .admit("failover_plan.wasm", "f", &tampered, true)
        .unwrap_err();
    assert!(matches!(error, TrustError::Broken { .. }), "{error}");
    assert!(trust
        .admit("failover_plan.wasm", "f", &signed, false)
        .is_ok());
}

#[test]
fn a_module_signed_by_a_key_the_policy_does_not_hold_is_refused() {
    let f = fixture();
    let stranger = key();
    let signed = sign(&module(), &stranger.0).unwrap();
    let error = check(&f.policy, &signed).unwrap_err().to_string();
    assert!(error.contains("no key it trusts signed it"), "{error}");
    assert!(
        error.contains("1 signature(s) by keys the policy does not hold"),
        "{error}"
    );
    assert!(
        error.contains("one key of `platform` and one key of `security-review`"),
        "{error}"
    );
}

#[test]
fn an_expired_key_no_longer_counts_and_is_named() {
    let f = fixture();
    let signed = sign(&sign(&module(), &f.platform[0].0).unwrap(), &f.review.0).unwrap();
    let with_review_expiring = |expires: DateTime<Utc>| {
        TrustPolicy::new(
            vec![
                org("platform", &[&f.platform[0].1]),
                Organisation {
                    name: "security-review".into(),
                    keys: vec![TrustedKey {
                        key: f.review.1.clone(),
                        expires: Some(expires),
                    }],
                },
            ],
            vec![rule(
                "shared",
                &["failover_plan"],
                &["platform", "security-review"],
            )],
        )
        .unwrap()
    };
    let later = with_review_expiring(Utc::now() + chrono::Duration::days(1));
    assert!(check(&later, &signed).is_ok());
    let expired = with_review_expiring(Utc::now() - chrono::Duration::days(1));
    let error = check(&expired, &signed).unwrap_err().to_string();
    assert!(error.contains("one key of `security-review`"), "{error}");
    assert!(
        error.contains(&format!(
            "the signature by {} of `security-review` does not count: that key expired",
            f.review.1.fingerprint()
        )),
        "{error}"
    );
}

#[test]
fn an_unsigned_module_is_refused_naming_the_rule_and_admitted_only_with_allow_unsigned() {
    let f = fixture();
    let trust = Trust::enforce(f.policy);
    let error = trust
        .admit("dr_drill.wasm", "dr_drill.wasm", &module(), false)
        .unwrap_err()
        .to_string();
    for part in [
        "runbook `dr_drill.wasm` is not signed",
        "rule `shared`",
        "one key of `platform` and one key of `security-review`",
        "drbook runbook sign",
        "--allow-unsigned",
    ] {
        assert!(error.contains(part), "{part}: {error}");
    }
    let admission = trust
        .admit("dr_drill.wasm", "dr_drill.wasm", &module(), true)
        .unwrap();
    let AdmittedBy::AllowUnsigned { refusal } = &admission.admitted_by else {
        panic!("{admission:?}")
    };
    assert_eq!(refusal, &error);
    // A signed module half-way there keeps its signer on the record.
    let by_platform = sign(&module(), &f.platform[0].0).unwrap();
    let admission = trust.admit("dr_drill", "x", &by_platform, true).unwrap();
    assert_eq!(admission.signers[0].organisation, "platform");
}

#[test]
fn without_a_policy_every_module_is_admitted_unchecked() {
    let trust = Trust::none();
    let admission = trust.admit("anything", "a.wasm", &module(), false).unwrap();
    assert_eq!(admission.admitted_by, AdmittedBy::NoPolicy);
    assert_eq!(admission.digest, drbook_core::module::digest(&module()));
    assert!(trust.recheck("anything", &module(), None).is_ok());
}

#[test]
fn the_first_matching_rule_decides_and_unmatched_runbooks_are_refused() {
    let (a, b) = (key(), key());
    let policy = TrustPolicy::new(
        vec![org("platform", &[&a.1]), org("partner", &[&b.1])],
        vec![
            rule("drills", &["dr_*.wasm"], &["partner"]),
            rule("rest", &["*_plan"], &["platform"]),
        ],
    )
    .unwrap();
    assert_eq!(policy.rule_for("dr_drill.wasm").unwrap().name, "drills");
    assert_eq!(policy.rule_for("dr_plan").unwrap().name, "drills");
    assert_eq!(policy.rule_for("failover_plan.wasm").unwrap().name, "rest");
    let error = policy
        .check("backup.wasm", "backup.wasm", &module(), Utc::now())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("no rule of the trust policy covers runbook `backup.wasm`"),
        "{error}"
    );
}

#[test]
fn globs_match_names() {
    for (pattern, text, matches) in [
        ("dr_*", "dr_drill", true),
        ("dr_*", "dr_", true),
        ("dr_*", "xdr_drill", false),
        ("*", "", true),
        ("*_plan", "failover_plan", true),
        ("*_plan", "failover_plan2", false),
        ("a*b*c", "aXbYbZc", true),
        ("a*b*c", "aXbYcZ", false),
        ("fail?ver", "failover", true),
        ("fail?ver", "failver", false),
        ("exact", "exact", true),
        ("exact", "exactly", false),
    ] {
        assert_eq!(glob(pattern, text), matches, "{pattern} ~ {text}");
    }
}

#[test]
fn bad_policies_name_the_problem() {
    let a = key();
    let cases = [
        (
            vec![org("platform", &[&a.1])],
            vec![rule("r", &["*"], &["security"])],
            "requires `security`, which is no organisation",
        ),
        (
            vec![org("platform", &[&a.1])],
            vec![rule("r", &["*"], &[])],
            "requires no signer",
        ),
        (
            vec![org("platform", &[&a.1])],
            vec![rule("r", &[], &["platform"])],
            "names no runbook",
        ),
        (
            vec![org("platform", &[&a.1])],
            vec![
                rule("r", &["a"], &["platform"]),
                rule("r", &["b"], &["platform"]),
            ],
            "two rules are named `r`",
        ),
        (
            vec![org("platform", &[&a.1]), org("review", &[&a.1])],
            vec![],
            "is in both `platform` and `review`",
        ),
    ];
    for (orgs, rules, expected) in cases {
        let error = TrustPolicy::new(orgs, rules).unwrap_err().to_string();
        assert!(error.contains(expected), "{expected}: {error}");
    }
}

#[test]
fn a_pinned_module_whose_signer_was_removed_fails_its_recheck_naming_the_rule_and_the_key() {
    let f = fixture();
    let signed = sign(&sign(&module(), &f.platform[0].0).unwrap(), &f.review.0).unwrap();
    let admission = Trust::enforce(f.policy.clone())
        .admit(
            "failover_plan.wasm",
            "rb/failover_plan.wasm",
            &signed,
            false,
        )
        .unwrap();
    assert!(Trust::enforce(f.policy.clone())
        .recheck("failover_plan.wasm", &signed, Some(&admission))
        .is_ok());

    // The reviewer's key is taken out of the policy.
    let without_review = TrustPolicy::new(
        vec![
            org("platform", &[&f.platform[0].1, &f.platform[1].1]),
            org("security-review", &[]),
        ],
        vec![rule(
            "shared",
            &["failover_plan"],
            &["platform", "security-review"],
        )],
    )
    .unwrap();
    let trust = Trust::enforce(without_review);
    let error = trust
        .recheck("failover_plan.wasm", &signed, Some(&admission))
        .unwrap_err();
    assert!(
        matches!(error, TrustError::NoLongerTrusted { .. }),
        "{error}"
    );
    let error = error.to_string();
    for part in [
        "admitted by rule `shared`",
        "one key of `security-review`",
        &format!(
            "what changed: {} of `security-review` signed it then",
            f.review.1.fingerprint()
        ),
    ] {
        assert!(error.contains(part), "{part}: {error}");
    }

    // A job admitted with --allow-unsigned keeps its allowance.
    let allowed = trust
        .admit("failover_plan.wasm", "f", &module(), true)
        .unwrap();
    assert!(trust
        .recheck("failover_plan.wasm", &module(), Some(&allowed))
        .is_ok());
    // One admitted without a policy is checked like a new one.
    let unchecked = Trust::none()
        .admit("failover_plan.wasm", "f", &module(), false)
        .unwrap();
    let error = trust
        .recheck("failover_plan.wasm", &module(), Some(&unchecked))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("admitted with no trust policy configured"),
        "{error}"
    );
    assert!(error.contains("is not signed"), "{error}");
}

/// `module()` with a manifest of `operations` (it imports nothing, so any
/// interfaces do).
fn granted(operations: &[drbook_core::fabric::OperationKind]) -> Vec<u8> {
    let manifest = Manifest {
        interfaces: vec![drbook_core::scope::Interface::SiteRecovery],
        operations: operations.to_vec(),
        http: vec![],
        azure: vec![],
    };
    crate::manifest::write(&module(), &manifest).unwrap().module
}

#[test]
fn an_admission_pins_the_manifest_and_the_rules_cap() {
    use drbook_core::fabric::OperationKind as K;
    let f = fixture();
    let mut rules = vec![rule("shared", &["dr_*"], &["platform"])];
    rules[0].operations = Some(vec![K::TestFailover]);
    rules[0].require_manifest = true;
    let policy = TrustPolicy::new(f.policy.organisations.clone(), rules).unwrap();
    let trust = Trust::enforce(policy);
    let drill = granted(&[K::TestFailover, K::TestFailoverCleanup]);
    let signed = sign(&drill, &f.platform[0].0).unwrap();
    let admission = trust
        .admit("dr_drill", "dr_drill.wasm", &signed, false)
        .unwrap();
    let capabilities = &admission.capabilities;
    assert!(capabilities.signed);
    assert_eq!(
        capabilities.manifest.as_ref().unwrap().operations,
        [K::TestFailover, K::TestFailoverCleanup]
    );
    assert_eq!(
        capabilities.caps,
        [PolicyCap {
            rule: "shared".into(),
            operations: vec![K::TestFailover],
            http: None,
            azure: None,
        }]
    );

    // Without a manifest: refused, as the rule requires one; with
    // --allow-unsigned, the refusal is recorded, no manifest pinned.
    let bare = sign(&module(), &f.platform[0].0).unwrap();
    let refusal = trust
        .admit("dr_drill", "dr_drill.wasm", &bare, false)
        .unwrap_err();
    assert!(
        refusal.to_string().contains(
            "runbook `dr_drill` has no capability manifest, and the trust policy's rule \
             `shared` requires one"
        ),
        "{refusal}"
    );
    let allowed = trust
        .admit("dr_drill", "dr_drill.wasm", &bare, true)
        .unwrap();
    assert!(matches!(
        allowed.admitted_by,
        AdmittedBy::AllowUnsigned { .. }
    ));
    assert_eq!(allowed.capabilities.manifest, None);

    // Unsigned, allowed: the manifest still narrows, recorded unsigned,
    // under the rule's cap.
    let allowed = trust
        .admit("dr_drill", "dr_drill.wasm", &drill, true)
        .unwrap();
    assert!(!allowed.capabilities.signed);
    assert!(allowed.capabilities.manifest.is_some());
    assert_eq!(allowed.capabilities.caps.len(), 1);

    // A manifest that cannot be read is refused even with --allow-unsigned.
    let mut broken = module();
    broken.extend(crate::wasm::custom_section(
        crate::manifest::SECTION,
        br#"{"version":7}"#,
    ));
    let refusal = trust
        .admit("dr_drill", "dr_drill.wasm", &broken, true)
        .unwrap_err();
    assert!(matches!(refusal, TrustError::Manifest { .. }), "{refusal}");

    // No policy: the manifest narrows, unsigned; a file that is no module
    // has none here (loading it says what it is).
    let none = Trust::none().admit("x", "x", &drill, false).unwrap();
    assert!(none.capabilities.manifest.is_some() && !none.capabilities.signed);
    let text = Trust::none().admit("x", "x", b"not wasm", false).unwrap();
    assert_eq!(text.capabilities, Capabilities::default());
}

#[test]
fn a_policy_narrows_a_jobs_capabilities_as_it_is_now_and_never_widens_them() {
    use drbook_core::fabric::OperationKind as K;
    let f = fixture();
    let cap = |ops: &[K]| {
        let mut r = rule("shared", &["dr_*"], &["platform"]);
        r.operations = Some(ops.to_vec());
        Trust::enforce(TrustPolicy::new(f.policy.organisations.clone(), vec![r]).unwrap())
    };
    let mut pinned = Capabilities::default();
    cap(&[K::TestFailover, K::Commit]).narrow("dr_drill.wasm", &mut pinned);
    cap(&[K::TestFailover]).narrow("dr_drill.wasm", &mut pinned);
    assert_eq!(pinned.caps.len(), 2, "both hold: the narrower decides");
    // No policy, or a rule without a cap, adds nothing.
    Trust::none().narrow("dr_drill.wasm", &mut pinned);
    assert_eq!(
        fixture().policy.rule_for("dr_drill").unwrap().operations,
        None
    );
    Trust::enforce(fixture().policy).narrow("dr_drill.wasm", &mut pinned);
    assert_eq!(pinned.caps.len(), 2);
}
