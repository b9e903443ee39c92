use super::*;
use crate::fabric::Direction;
use crate::job::{Admission, AdmittedBy, Trigger};
use crate::plan::{FailoverType, RecoveryPlan};
use crate::scope::{Capabilities, Manifest, PolicyCap};

const ZONE: &str = "/subscriptions/{subscription}/resourceGroups/*/providers/Microsoft.Network/dnszones/contoso.com/*";

const RECORD: &str =
    "/subscriptions/sub-1/resourceGroups/dns/providers/Microsoft.Network/dnsZones/contoso.com/A/www";

fn spec(azure: &[&str], caps: Vec<PolicyCap>) -> JobSpec {
    JobSpec {
        job_id: "job-1".into(),
        plan: RecoveryPlan::parse(
            "name = \"app\"\nprimary_region = \"eastus\"\nrecovery_region = \"westus\"\n\
             [[groups]]\nname = \"web\"\nvms = [\"web-01\"]\n",
            "test.toml",
        )
        .unwrap(),
        failover_type: FailoverType::Planned,
        direction: Direction::PrimaryToRecovery,
        parameters: [("subscription".to_string(), "sub-1".to_string())].into(),
        trigger: Trigger::CommandLine { user: "t".into() },
        grant: Default::default(),
        admission: Some(Admission {
            digest: "sha256:00".into(),
            source: "probe.wasm".into(),
            signers: vec![],
            admitted_by: AdmittedBy::NoPolicy,
            capabilities: Capabilities {
                manifest: Some(Manifest {
                    azure: azure.iter().map(|p| p.to_string()).collect(),
                    ..Manifest::default()
                }),
                signed: false,
                caps,
            },
            replaces: None,
        }),
    }
}

#[test]
fn a_pattern_matches_segments_in_any_case_and_a_last_star_anything_below() {
    let p = ResourcePattern::parse(&ZONE.replace("{subscription}", "sub-1")).unwrap();
    assert!(p.matches(RECORD));
    assert!(p.matches(&RECORD.to_ascii_uppercase()));
    let zone = "/subscriptions/sub-1/resourceGroups/dns/providers/Microsoft.Network/dnszones";
    assert!(
        !p.matches(&format!("{zone}/contoso.com")),
        "the zone itself"
    );
    assert!(!p.matches(&format!("{zone}/fabrikam.com/A/www")));
    assert!(!p.matches(
        "/subscriptions/sub-1/resourceGroups/a/b/providers/Microsoft.Network/dnszones/contoso.com/A/www"
    ));
    // `..` cannot climb out of a granted zone.
    assert!(!p.matches(&format!("{zone}/contoso.com/../fabrikam.com/A/www")));
    let exact = ResourcePattern::parse(RECORD).unwrap();
    assert!(exact.matches(RECORD));
    assert!(!exact.matches(&format!("{RECORD}/more")));
    for bad in [
        "subscriptions/x",
        "/tenants/x",
        "/subscriptions/x?y",
        "/subscriptions//x",
        "/subscriptions/{s}",
    ] {
        assert!(ResourcePattern::parse(bad).is_err(), "{bad}");
    }
    assert!(resource_id(RECORD).is_ok());
    assert!(resource_id("/subscriptions/sub-1/*").is_err());
}

#[test]
fn the_manifest_filled_from_the_job_and_every_cap_must_hold_the_resource() {
    assert_eq!(
        check(&spec(&[ZONE], vec![]), Method::Put, RECORD).unwrap(),
        ZONE.replace("{subscription}", "sub-1")
    );

    let none = check(&spec(&[], vec![]), Method::Get, RECORD).unwrap_err();
    assert_eq!(none.rule, Rule::ModuleManifest);
    assert!(
        none.message.contains("grants no Azure resource"),
        "{}",
        none.message
    );
    assert!(
        none.message.contains("--azure RESOURCE-ID-PATTERN"),
        "{}",
        none.message
    );

    let other = RECORD.replace("contoso.com", "fabrikam.com");
    let outside = check(&spec(&[ZONE], vec![]), Method::Put, &other).unwrap_err();
    assert!(
        outside
            .message
            .starts_with(&format!("PUT {other} is not granted")),
        "{}",
        outside.message
    );
    assert!(
        outside
            .message
            .contains("dnszones/contoso.com/*`, and none holds it"),
        "{}",
        outside.message
    );

    let cap = |azure: Option<Vec<&str>>| PolicyCap {
        rule: "ops".into(),
        operations: vec![],
        http: None,
        azure: azure.map(|a| a.iter().map(|p| p.to_string()).collect()),
    };
    assert!(check(&spec(&[ZONE], vec![cap(None)]), Method::Put, RECORD).is_ok());
    let capped = check(
        &spec(&[ZONE], vec![cap(Some(vec!["/subscriptions/sub-2/*"]))]),
        Method::Put,
        RECORD,
    )
    .unwrap_err();
    assert_eq!(capped.rule, Rule::TrustPolicy);
    assert!(
        capped.message.contains(
            "rule `ops` caps the modules it admits at Azure resources /subscriptions/sub-2/*"
        ),
        "{}",
        capped.message
    );

    let mut unfilled = spec(&[ZONE], vec![]);
    unfilled.parameters.clear();
    let missing = check(&unfilled, Method::Get, RECORD).unwrap_err();
    assert!(
        missing
            .message
            .contains("without the job parameter `subscription`"),
        "{}",
        missing.message
    );
}
