use super::*;
use crate::{sign, verify, SigningKey};
use drbook_core::fabric::OperationKind as K;
use wasm_encoder::{
    Component, ComponentImportSection, ComponentTypeRef, ComponentTypeSection, CustomSection,
    InstanceType,
};

/// A component importing each of `imports` (as empty instances), with the
/// custom sections of `custom`: the shape of a runbook's top level.
fn component(imports: &[&str], custom: &[(&str, &[u8])]) -> Vec<u8> {
    let mut component = Component::new();
    let mut types = ComponentTypeSection::new();
    types.instance(&InstanceType::new());
    component.section(&types);
    let mut section = ComponentImportSection::new();
    for name in imports {
        section.import(*name, ComponentTypeRef::Instance(0));
    }
    component.section(&section);
    for (name, data) in custom {
        component.section(&CustomSection {
            name: (*name).into(),
            data: (*data).into(),
        });
    }
    component.finish()
}

const SITE_RECOVERY: &str = "drbook:runbook/site-recovery@0.1.0";
const LOG: &str = "drbook:runbook/log@0.1.0";
const TYPES: &str = "drbook:runbook/types@0.1.0";
const STDERR: &str = "wasi:cli/stderr@0.2.6";

fn drill() -> Manifest {
    Manifest {
        interfaces: vec![Interface::SiteRecovery, Interface::Log],
        operations: vec![K::TestFailover, K::TestFailoverCleanup],
        http: vec![],
        azure: vec![],
    }
}

fn decode_err(json: &str) -> String {
    decode(json.as_bytes()).unwrap_err().to_string()
}

#[test]
fn a_manifest_is_versioned_json_and_reads_back_as_written() {
    let data = encode(&drill());
    assert_eq!(
        std::str::from_utf8(&data).unwrap(),
        r#"{"interfaces":["site-recovery","log"],"operations":["test-failover","test-failover-cleanup"],"version":1}"#
    );
    assert_eq!(decode(&data).unwrap(), drill());
    // A read-only runbook declares no operation.
    let read_only = decode(br#"{"version":1,"interfaces":["site-recovery","plan"]}"#).unwrap();
    assert!(read_only.operations.is_empty());
    // HTTP destinations, placeholders kept for the job to fill.
    let notifier = Manifest {
        interfaces: vec![Interface::Http],
        operations: vec![],
        http: vec![
            "{notify-url}".into(),
            "http://{vm}.drill.test:8080/health".into(),
        ],
        azure: vec![],
    };
    let data = encode(&notifier);
    assert_eq!(
        std::str::from_utf8(&data).unwrap(),
        r#"{"http":["{notify-url}","http://{vm}.drill.test:8080/health"],"interfaces":["http"],"operations":[],"version":1}"#
    );
    assert_eq!(decode(&data).unwrap(), notifier);
}

#[test]
fn bad_manifests_name_the_problem_and_the_fix() {
    let err = decode_err("{not json");
    assert!(err.contains("is not JSON: key must be a string"), "{err}");
    assert!(err.contains("`drbook runbook grant FILE"), "{err}");
    let err = decode(b"\xff\xfe").unwrap_err().to_string();
    assert!(err.contains("not UTF-8"), "{err}");
    assert!(decode_err("[1]").contains("it is not a JSON object"));
    let err = decode_err(r#"{"interfaces":[]}"#);
    assert!(err.contains("has no `version`"), "{err}");
    let err = decode_err(r#"{"version":2,"capabilities":{"http":true}}"#);
    assert!(
        err.contains("is version 2, and this drbook reads version 1: upgrade drbook"),
        "{err}"
    );
    assert!(decode_err(r#"{"version":"1"}"#).contains("is version \"1\""));
    let err = decode_err(
        r#"{"version":1,"interfaces":["site-recovery"],"operations":["delete-everything"]}"#,
    );
    assert!(
        err.contains("`delete-everything` is not an operation; one of planned-failover"),
        "{err}"
    );
    let err = decode_err(r#"{"version":1,"interfaces":["sockets"]}"#);
    assert!(
        err.contains("unknown variant `sockets`, expected one of `site-recovery`"),
        "{err}"
    );
    let err = decode_err(r#"{"version":1,"interfaces":["log"],"http":["https://a.test/"]}"#);
    assert!(
        err.contains("does not declare the `http` interface"),
        "{err}"
    );
    let err = decode_err(r#"{"version":1,"interfaces":["http"],"http":["a.test/x"]}"#);
    assert!(
        err.contains("`a.test/x` is not an HTTP destination: it has no `://`"),
        "{err}"
    );
    let err = decode_err(r#"{"version":1,"interfaces":[],"network":"any"}"#);
    assert!(err.contains("unknown field `network`"), "{err}");
    let err = decode_err(r#"{"version":1,"interfaces":["log"],"operations":["commit"]}"#);
    assert!(
        err.contains("grants operations (commit) but does not declare the `site-recovery`"),
        "{err}"
    );
}

#[test]
fn write_adds_or_replaces_the_section_and_read_finds_it() {
    let module = component(&[SITE_RECOVERY, LOG, TYPES, STDERR], &[("name", b"x")]);
    assert_eq!(read(&module).unwrap(), None);
    let once = write(&module, &drill()).unwrap();
    assert_eq!(once.dropped_signatures, 0);
    assert_eq!(read(&once.module).unwrap(), Some(drill()));
    let mut wider = drill();
    wider.operations.push(K::UnplannedFailover);
    let twice = write(&once.module, &wider).unwrap().module;
    assert_eq!(read(&twice).unwrap(), Some(wider));
    let layout = Layout::of(&twice).unwrap();
    let manifests = layout
        .content
        .iter()
        .filter(|s| s.is_custom(SECTION))
        .count();
    assert_eq!(manifests, 1, "replaced, not added");
    assert!(twice.starts_with(&module), "the rest is kept as it was");
    assert_eq!(
        imports(&twice).unwrap(),
        [SITE_RECOVERY, LOG, TYPES, STDERR]
    );
}

#[test]
fn an_import_the_manifest_does_not_declare_is_refused() {
    let module = component(&[SITE_RECOVERY, LOG, TYPES, STDERR], &[]);
    let logs_only = Manifest {
        interfaces: vec![Interface::Log],
        operations: vec![],
        http: vec![],
        azure: vec![],
    };
    // `write` refuses what loading would refuse.
    let err = write(&module, &logs_only).unwrap_err().to_string();
    assert!(
        err.contains(
            "it imports `drbook:runbook/site-recovery@0.1.0`, an interface its capability \
             manifest does not declare (it declares log)"
        ) && err.contains("--interface site-recovery"),
        "{err}"
    );
    let section = crate::wasm::custom_section(SECTION, &encode(&logs_only));
    let mut forged = module.clone();
    forged.extend(section);
    assert!(matches!(
        read(&forged),
        Err(ManifestError::UndeclaredImport { .. })
    ));
    let unknown = component(&["drbook:runbook/shell@0.1.0"], &[]);
    let mut forged = unknown.clone();
    forged.extend(crate::wasm::custom_section(SECTION, &encode(&drill())));
    let err = read(&forged).unwrap_err().to_string();
    assert!(
        err.contains("no capability manifest of this drbook can declare"),
        "{err}"
    );
}

#[test]
fn a_second_manifest_is_refused() {
    let data = encode(&drill());
    let module = component(&[], &[(SECTION, &data), (SECTION, &data)]);
    assert!(matches!(
        read(&module),
        Err(ManifestError::Duplicate { .. })
    ));
}

#[test]
fn the_signatures_cover_the_manifest_and_a_change_after_signing_is_named() {
    let key = SigningKey::generate("author").unwrap();
    let keys = [key.public_key()];
    let module = component(&[SITE_RECOVERY, LOG], &[]);
    let granted = write(&module, &drill()).unwrap().module;
    let signed = sign(&granted, &key).unwrap();
    verify(&signed, &keys).unwrap();
    assert_eq!(read(&signed).unwrap(), Some(drill()));

    // Granted again after signing: the signature is dropped, and says so.
    let mut wider = drill();
    wider.operations.push(K::UnplannedFailover);
    let regranted = write(&signed, &wider).unwrap();
    assert_eq!(regranted.dropped_signatures, 1);
    assert!(matches!(
        verify(&regranted.module, &keys),
        Err(SignatureError::Unsigned)
    ));

    // Changed in place, or added after signing: not covered.
    let changed = {
        let mut bytes = signed.clone();
        let at = bytes
            .windows(b"test-failover\"".len())
            .position(|w| w == b"test-failover\"")
            .unwrap();
        bytes[at..at + 4].copy_from_slice(b"TEST");
        bytes
    };
    let mut appended = sign(&module, &key).unwrap();
    appended.extend(crate::wasm::custom_section(SECTION, &encode(&drill())));
    for tampered in [changed, appended] {
        let err = verify(&tampered, &keys).unwrap_err();
        assert!(
            matches!(err, SignatureError::ManifestNotCovered { signatures: 1 }),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains("the capability manifest is not covered by the module's signatures")
                && err.to_string().contains("re-sign after `runbook grant`"),
            "{err}"
        );
    }
}
