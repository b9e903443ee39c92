//! The data directory holds secrets: drbook creates it for its owner only
//! and says how to fix one it finds open to others.

#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn drbook(data_dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_drbook"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("DRBOOK_DATA_DIR")
        .env_remove("RUST_LOG")
        .output()
        .expect("drbook runs")
}

#[test]
fn a_new_data_dir_is_the_owners_only_and_an_open_one_is_reported() {
    let root = tempfile::tempdir().unwrap();
    let new = root.path().join("new");
    let out = drbook(&new, &["--speed", "instant", "fabric", "init", "--demo"]);
    assert!(out.status.success(), "{out:?}");
    assert!(drbook(&new, &["jobs", "list"]).status.success());
    assert_eq!(mode(&new), 0o700);
    assert_eq!(mode(&new.join("spool")), 0o700);
    assert_eq!(mode(&new.join("jobs.db")), 0o600);

    let open = root.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = drbook(&open, &["jobs", "list"]);
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("open to other users (mode 755)")
            && stderr.contains(&format!("chmod 700 {}", open.display())),
        "{stderr}"
    );
}
