//! The azure backend from the command line, against the ARM emulator of
//! `drbook fabric serve-arm` (another data dir; `common/azure.rs`): `[fabric] kind =
//! "azure"` in drbook.toml with azure_identity's managed identity over the
//! emulator's token endpoint; `azure check` names the vault and, when the
//! vault is wrong, the fix; `fabric show` and `fabric op --wait` drive it;
//! the simulator-only commands say they need the simulator.

use serde_json::Value;

#[path = "common/azure.rs"]
mod azure;
#[allow(dead_code)] // serve_arm() is for the tests of serve-arm itself
mod common;

use azure::{text, AzureHost};

#[test]
fn the_azure_backend_drives_the_emulator_from_drbook_toml() {
    let sim = tempfile::tempdir().unwrap();
    let host = tempfile::tempdir().unwrap();
    let emulator = AzureHost::start(sim.path(), host.path(), &[], None);
    let azure = |args: &[&str]| emulator.run(args);

    let check = azure(&["azure", "check"]);
    assert!(check.status.success(), "{}", text(&check));
    assert!(
        text(&check).contains("is readable: 12 protected items"),
        "{}",
        text(&check)
    );

    let wrong = azure(&["--azure-vault", "no-such-vault", "azure", "check"]);
    assert_eq!(wrong.status.code(), Some(1), "{}", text(&wrong));
    assert!(
        text(&wrong).contains("fix: there is no vault `no-such-vault`"),
        "{}",
        text(&wrong)
    );

    let show = azure(&["--json", "fabric", "show"]);
    assert!(show.status.success(), "{}", text(&show));
    let items: Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(items.as_array().map(Vec::len), Some(12));
    assert_eq!(items[0]["name"], "app-01");
    assert_eq!(items[0]["primaryRegion"], "eastus");

    let op = azure(&["fabric", "op", "planned-failover", "web-01", "--wait"]);
    assert!(op.status.success(), "{}", text(&op));
    assert!(text(&op).contains("Succeeded"), "{}", text(&op));
    let again = azure(&["fabric", "op", "planned-failover", "web-01"]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(
        text(&again).contains("not allowed on `web-01`"),
        "{}",
        text(&again)
    );

    for args in [
        &["fabric", "history"][..],
        &["fabric", "reset"],
        &["fabric", "fault", "clear"],
    ] {
        let refused = azure(args);
        assert_eq!(
            refused.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&refused)
        );
        assert!(
            text(&refused).contains("needs the simulator"),
            "{args:?}: {}",
            text(&refused)
        );
    }
    // Nothing the host keeps holds the identity secret.
    let secret = emulator.secret();
    for entry in std::fs::read_dir(host.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(secret),
                "{} holds the identity secret",
                path.display()
            );
        }
    }
}
