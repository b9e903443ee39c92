use super::*;
use crate::fabric::Direction;
use crate::job::{Admission, AdmittedBy, Trigger};
use crate::plan::{FailoverType, RecoveryPlan};
use crate::scope::{Capabilities, Manifest, PolicyCap};

const PLAN: &str = r#"
name = "app"
primary_region = "eastus"
recovery_region = "westus"
[[groups]]
name = "web"
vms = ["web-01", "web-02"]
"#;

fn spec(http: &[&str], caps: Vec<PolicyCap>, params: &[(&str, &str)]) -> JobSpec {
    JobSpec {
        job_id: "job-1".into(),
        plan: RecoveryPlan::parse(PLAN, "test.toml").unwrap(),
        failover_type: FailoverType::Test,
        direction: Direction::PrimaryToRecovery,
        parameters: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        trigger: Trigger::CommandLine { user: "t".into() },
        grant: Default::default(),
        admission: Some(Admission {
            digest: "sha256:00".into(),
            source: "probe.wasm".into(),
            signers: vec![],
            admitted_by: AdmittedBy::NoPolicy,
            capabilities: Capabilities {
                manifest: Some(Manifest {
                    interfaces: vec![],
                    operations: vec![],
                    http: http.iter().map(|p| p.to_string()).collect(),
                    azure: vec![],
                }),
                signed: false,
                caps,
            },
            replaces: None,
        }),
    }
}

fn url(text: &str) -> url::Url {
    url::Url::parse(text).unwrap()
}

fn allowed(spec: &JobSpec, text: &str) -> Result<Granted, Refused> {
    check(spec, Method::Get, &url(text))
}

#[test]
fn a_pattern_is_a_scheme_host_port_and_path_prefix() {
    let p = Pattern::parse("https://Hooks.Contoso.com/services").unwrap();
    assert_eq!(p.to_string(), "https://hooks.contoso.com:443/services");
    assert!(p.matches(&url("https://hooks.contoso.com/services")));
    assert!(p.matches(&url("https://hooks.contoso.com:443/services/T0/x?token=1")));
    assert!(!p.matches(&url("https://hooks.contoso.com/servicesX")));
    assert!(!p.matches(&url("http://hooks.contoso.com/services")));
    assert!(!p.matches(&url("https://hooks.contoso.com:8443/services")));
    assert!(!p.matches(&url("https://evil.com/services")));
    assert!(!p.matches(&url("https://hooks.contoso.com.evil.com/services")));
    // `..` is resolved by the URL parser before the match.
    assert!(!p.matches(&url("https://hooks.contoso.com/services/../admin")));

    let below = Pattern::parse("https://*.contoso.com:*/").unwrap();
    assert!(below.matches(&url("https://a.b.contoso.com:9/x")));
    assert!(!below.matches(&url("https://contoso.com/")));
    assert!(!below.matches(&url("https://xcontoso.com/")));

    for bad in [
        "hooks.contoso.com",
        "ftp://x/",
        "https://x/?q",
        "https://u@x/",
        "https://*/",
        "https://x:port/",
        "https://{p}/",
        "https://*.10.0.0.1/",
    ] {
        let e = Pattern::parse(bad).unwrap_err();
        assert!(e.to_string().contains("is not an HTTP destination"), "{e}");
    }
}

#[test]
fn placeholders_are_filled_from_the_job_and_vm_by_each_vm_of_its_plan() {
    let params: BTreeMap<String, String> = [
        ("url".to_string(), "http://127.0.0.1:8080/{vm}/".to_string()),
        ("region".to_string(), "westus".to_string()),
        ("bad".to_string(), "x.com/admin".to_string()),
    ]
    .into();
    assert_eq!(
        fill("{url}", &params, ["web-01", "Web-02"]),
        Filled::Patterns(vec![
            "http://127.0.0.1:8080/web-01/".into(),
            "http://127.0.0.1:8080/web-02/".into()
        ])
    );
    assert_eq!(
        fill("https://{region}.status.test/", &params, []),
        Filled::Patterns(vec!["https://westus.status.test/".into()])
    );
    assert_eq!(
        fill("https://{nope}.test/", &params, []),
        Filled::Missing("nope".into())
    );
    assert!(matches!(
        fill("https://{bad}.test/", &params, []),
        Filled::Unsafe { .. }
    ));
}

#[test]
fn a_request_needs_the_manifest_and_every_policy_cap() {
    let none = spec(&[], vec![], &[]);
    let e = allowed(&none, "https://a.test/").unwrap_err();
    assert_eq!(e.rule, Rule::ModuleManifest);
    assert!(
        e.message.contains("GET https://a.test/ is not granted")
            && e.message.contains("grants no HTTP destination")
            && e.message.contains("[package.metadata.drbook] http"),
        "{e}"
    );

    let a = spec(&["https://a.test/api/"], vec![], &[]);
    assert_eq!(
        allowed(&a, "https://a.test/api/health").unwrap().pattern,
        "https://a.test/api/"
    );
    let e = allowed(&a, "https://b.test/api/health").unwrap_err();
    assert!(e.message.contains("grants `https://a.test/api/`"), "{e}");

    let cap = |http: Option<Vec<&str>>| PolicyCap {
        rule: "ops".into(),
        operations: vec![],
        http: http.map(|h| h.into_iter().map(String::from).collect()),
        azure: None,
    };
    let capped = spec(
        &["https://a.test/", "https://b.test/"],
        vec![cap(Some(vec!["https://a.test/"])), cap(None)],
        &[],
    );
    assert!(allowed(&capped, "https://a.test/x").is_ok());
    let e = allowed(&capped, "https://b.test/x").unwrap_err();
    assert_eq!(e.rule, Rule::TrustPolicy);
    assert!(e.message.contains("rule `ops` caps"), "{e}");

    let missing = spec(&["{notify-url}"], vec![], &[]);
    let e = allowed(&missing, "https://a.test/").unwrap_err();
    assert!(e.message.contains("`--param notify-url=...`"), "{e}");
    let given = spec(
        &["{notify-url}"],
        vec![],
        &[("notify-url", "https://a.test/hook")],
    );
    assert!(allowed(&given, "https://a.test/hook").is_ok());
    assert!(allowed(&given, "https://a.test/other").is_err());
}

#[test]
fn an_address_that_is_not_public_needs_a_grant_that_names_it() {
    for addr in [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fd00:ec2::254",
        "::ffff:127.0.0.1",
    ] {
        assert!(!is_public(addr.parse().unwrap()), "{addr}");
    }
    for addr in ["20.1.2.3", "8.8.8.8", "2606:4700::1111"] {
        assert!(is_public(addr.parse().unwrap()), "{addr}");
    }
    let named = spec(&["http://127.0.0.1:8080/"], vec![], &[]);
    assert!(
        allowed(&named, "http://127.0.0.1:8080/x")
            .unwrap()
            .names_address
    );
    let wildcard = spec(&["http://127.0.0.1:*/", "http://*.test/"], vec![], &[]);
    assert!(allowed(&wildcard, "http://127.0.0.1:9/").is_ok());
    // A metadata endpoint reached through a wider grant is refused.
    let wide = spec(&["http://169.254.169.254:80/"], vec![], &[]);
    assert!(allowed(&wide, "http://169.254.169.254/metadata").is_ok());
    let e = allowed(&wildcard, "http://169.254.169.254/").unwrap_err();
    assert!(e.message.contains("grants"), "{e}");
}
