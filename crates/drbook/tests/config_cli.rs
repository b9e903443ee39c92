//! `drbook.toml` as an operator meets it: the file chooses the backends and
//! their settings, environment variables override it, flags override both,
//! and a bad file is an input error (exit 2) that names the key and the fix.

use std::path::Path;
use std::process::{Command, Output};

fn drbook(data_dir: &Path, env: &[(&str, &Path)], args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_drbook"));
    command.arg("--data-dir").arg(data_dir).args(args);
    for var in [
        "DRBOOK_DATA_DIR",
        "DRBOOK_CONFIG",
        "DRBOOK_STORE_PATH",
        "DRBOOK_STORE_URL",
        "DRBOOK_SPEED",
    ] {
        command.env_remove(var);
    }
    for (var, value) in env {
        command.env(var, value);
    }
    command.output().expect("drbook runs")
}

#[test]
fn the_store_path_comes_from_the_file_then_the_environment_then_the_flag() {
    let data = tempfile::tempdir().unwrap();
    let [from_file, from_env, from_flag] = [(); 3].map(|_| tempfile::tempdir().unwrap());
    std::fs::write(
        data.path().join("drbook.toml"),
        format!(
            "[fabric]\nkind = \"simulator\"\nspeed = \"instant\"\n[store]\nkind = \"sqlite\"\npath = {:?}\n",
            from_file.path()
        ),
    )
    .unwrap();
    let jobs_db = |dir: &Path| dir.join("jobs.db").exists();

    let listed = drbook(data.path(), &[], &["jobs", "list"]);
    assert!(listed.status.success(), "{listed:?}");
    assert!(jobs_db(from_file.path()) && !jobs_db(data.path()));

    let env = [("DRBOOK_STORE_PATH", from_env.path())];
    assert!(drbook(data.path(), &env, &["jobs", "list"])
        .status
        .success());
    assert!(jobs_db(from_env.path()));

    let flag = from_flag.path().to_str().unwrap();
    let listed = drbook(data.path(), &env, &["--store-path", flag, "jobs", "list"]);
    assert!(listed.status.success());
    assert!(jobs_db(from_flag.path()));
    assert!(
        !jobs_db(data.path()),
        "the data dir's default was never used"
    );
}

#[test]
fn a_bad_configuration_is_an_input_error_naming_the_fix() {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("drbook.toml");
    std::fs::write(&config, "[store]\nkind = \"redis\"\n").unwrap();
    let out = drbook(data.path(), &[], &["jobs", "list"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("[store] kind `redis`") && stderr.contains("use `sqlite` or `postgres`"),
        "{stderr}"
    );
    assert!(!data.path().join("jobs.db").exists(), "nothing was opened");

    // A file named on the command line must exist.
    let missing = data.path().join("missing.toml");
    let out = drbook(
        data.path(),
        &[("DRBOOK_CONFIG", &missing)],
        &["jobs", "list"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("missing.toml"), "{stderr}");
}
