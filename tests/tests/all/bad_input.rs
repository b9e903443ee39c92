//! Bad runbook files and bad plans get errors that name the problem and the fix.

use drbook_core::fabric::Fabric;
use drbook_core::plan::{check_against, RecoveryPlan};
use drbook_runtime::LoadError;
use drbook_tests::guests;

use crate::support::{runtime, Demo};

fn load_error(bytes: &[u8]) -> LoadError {
    match runtime().load_bytes(bytes, "bad.wasm") {
        Ok(_) => panic!("bad bytes loaded as a runbook"),
        Err(e) => e,
    }
}

#[test]
fn a_file_that_is_not_wasm_is_refused() {
    let e = load_error(b"#!/bin/sh\necho not wasm\n");
    assert!(matches!(e, LoadError::NotWasm { .. }), "{e}");
    assert!(
        e.to_string().contains("wasm32-wasip2"),
        "the error suggests the fix: {e}"
    );
}

#[test]
fn a_core_module_is_refused_as_not_a_component() {
    // The smallest core module: magic, version 1, layer 0.
    let e = load_error(b"\0asm\x01\0\0\0");
    assert!(matches!(e, LoadError::CoreModule { .. }), "{e}");
    assert!(e.to_string().contains("not a component"), "{e}");
}

#[test]
fn a_component_without_the_run_export_is_refused() {
    // The smallest component: magic, version 0x0d, layer 1; it exports nothing.
    let e = load_error(b"\0asm\x0d\0\x01\0");
    assert!(matches!(e, LoadError::WrongWorld { .. }), "{e}");
    assert!(e.to_string().contains("drbook-sdk"), "{e}");
}

#[test]
fn a_truncated_component_is_refused() {
    let bytes = std::fs::read(guests::PROBE).unwrap();
    let e = load_error(&bytes[..bytes.len() / 2]);
    assert!(matches!(e, LoadError::Invalid { .. }), "{e}");
}

#[test]
fn a_runbook_loads_once_and_is_pinned_by_digest() {
    let first = runtime().load(std::path::Path::new(guests::PROBE)).unwrap();
    let again = runtime().load(std::path::Path::new(guests::PROBE)).unwrap();
    assert!(
        std::sync::Arc::ptr_eq(&first, &again),
        "the second load reuses the compiled runbook"
    );
    assert!(first.digest.starts_with("sha256:") && first.digest.len() == 7 + 64);
}

#[test]
fn a_plan_naming_unknown_vms_is_refused_with_each_problem() {
    let demo = Demo::new();
    let text = "name = \"p\"\nprimary_region = \"eastus\"\nrecovery_region = \"westus\"\n\
                [[groups]]\nname = \"g\"\nvms = [\"sql-01\", \"nope-01\", \"nope-02\"]\n";
    let plan = RecoveryPlan::parse(text, "p.toml").unwrap();
    let items = demo.tokio.block_on(demo.sim.list_items()).unwrap();
    let e = check_against(&plan, &items).unwrap_err().to_string();
    assert!(
        e.contains("VM `nope-01` (group `g`) is not a protected item"),
        "{e}"
    );
    assert!(e.contains("nope-02"), "{e}");
    assert!(!e.contains("sql-01"), "{e}");
}

#[test]
fn a_compiled_runbook_is_cached_on_disk_and_a_bad_cache_file_is_recompiled() {
    use drbook_runtime::Runtime;
    let dir = tempfile::tempdir().unwrap();
    let first = Runtime::new(Some(dir.path().to_path_buf())).unwrap();
    let digest = first
        .load(std::path::Path::new(guests::PROBE))
        .unwrap()
        .digest
        .clone();
    let cached: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(cached.len(), 1, "one precompiled file: {cached:?}");
    let file = &cached[0];
    assert!(
        file.to_string_lossy()
            .contains(digest.trim_start_matches("sha256:")),
        "{file:?}"
    );
    assert_eq!(file.extension().and_then(|e| e.to_str()), Some("cwasm"));

    // Another process (a new runtime) loads the precompiled file.
    let second = Runtime::new(Some(dir.path().to_path_buf())).unwrap();
    assert_eq!(
        second
            .load(std::path::Path::new(guests::PROBE))
            .unwrap()
            .digest,
        digest
    );

    // A damaged cache file costs a compile, not the runbook. (The file is
    // mapped while a runtime uses it, so it is damaged after that runtime is
    // gone, as drbook itself only ever replaces cache files by renaming.)
    drop(second);
    std::fs::write(file, b"not a precompiled component").unwrap();
    let third = Runtime::new(Some(dir.path().to_path_buf())).unwrap();
    assert_eq!(
        third
            .load(std::path::Path::new(guests::PROBE))
            .unwrap()
            .digest,
        digest
    );
    assert!(
        std::fs::read(file).unwrap().len() > 1000,
        "the damaged file was replaced by a fresh compile"
    );
}
