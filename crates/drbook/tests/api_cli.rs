//! `drbook --server URL --token T jobs ...` against a real `drbook serve`
//! over TLS with a self-signed certificate, pinned by its fingerprint (and
//! trusted by its CA file): the same output as the local commands, a
//! manual step approved remotely and recorded with the token's name, a stop,
//! and refusals (a wrong pin, a scope the token lacks, a revoked token).
//! API tokens are made with `drbook token create`; their secrets appear
//! nowhere but in the line that printed them.

mod common;
mod runbooks;

use common::{drbook, exits, wait_for, Server};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `drbook token create`'s secret.
fn token(dir: &Path, name: &str, scope: &str) -> String {
    let made = exits(
        drbook(dir),
        &["token", "create", "--name", name, "--scope", scope],
        0,
    );
    let secret = text(&made).trim().to_string();
    assert!(
        secret.starts_with("drbk_") && secret.len() == 48,
        "{secret}"
    );
    secret
}

/// `drbook` aimed at `url` with `token`, run from a directory without a job
/// store: only the server is reached.
fn remote(url: &str, token: &str, pin: &str) -> Command {
    let nowhere = tempfile::tempdir().unwrap().keep();
    let mut command = drbook(&nowhere);
    command.args([
        "--server",
        url,
        "--token",
        token,
        "--server-fingerprint",
        pin,
    ]);
    command
}

#[test]
fn the_remote_cli_drives_a_tls_server_as_the_local_one_drives_its_store() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::write(dir.join("drbook.toml"), "[fabric]\nspeed = \"instant\"\n").unwrap();
    exits(drbook(dir), &["fabric", "init", "--demo"], 0);
    let plan = dir.join("manual.toml");
    std::fs::write(
        &plan,
        "name = \"manual\"\nprimary_region = \"eastus\"\nrecovery_region = \"westus\"\n\
         [[groups]]\nname = \"web\"\nvms = [\"web-01\"]\n\
         pre = [{ name = \"dns\", manual = \"Switch DNS to westus\" }]\n",
    )
    .unwrap();
    let viewer = token(dir, "dashboard", "viewer");
    let approver = token(dir, "pager", "approver");
    let operator = token(dir, "ci", "operator,viewer");

    let stderr = dir.join("serve.log");
    let mut child = drbook(dir)
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-self-signed"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    // Its first two lines: where it listens, and its certificate's SHA-256.
    let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
    let mut line = |prefix: &str| {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let value = line.trim().strip_prefix(prefix).map(str::to_string);
        value.unwrap_or_else(|| panic!("`{prefix}...`, not {line:?}"))
    };
    let url = line("listening on ");
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let pin = line("fingerprint ");
    let _server = Server(child);

    // A job that waits for a person, run by the server's worker.
    let runbook = runbooks::failover_plan();
    let run = [
        "run",
        runbook.to_str().unwrap(),
        "--plan",
        plan.to_str().unwrap(),
        "--detach",
    ];
    let job = text(&exits(drbook(dir), &run, 0)).trim().to_string();
    wait_for(dir, &job, "Suspended");

    let rejected = exits(remote(&url, &viewer, &pin), &["jobs", "approve", &job], 2);
    let why = String::from_utf8_lossy(&rejected.stderr);
    assert!(why.contains("403") && why.contains("`approver`"), "{why}");
    let approved = exits(
        remote(&url, &approver, &pin),
        &["jobs", "approve", &job, "--comment", "DNS switched"],
        0,
    );
    assert_eq!(
        text(&approved).trim(),
        format!(
            "approved \"Switch DNS to westus\" for job {job} as pager; a worker (or `drbook jobs resume`) \
             continues it"
        )
    );
    wait_for(dir, &job, "Completed");

    // The same output as the local commands, read through the API.
    for args in [
        vec!["jobs", "list"],
        vec!["--json", "jobs", "list", "--status", "Completed"],
        vec!["jobs", "show", &job],
        vec!["jobs", "logs", &job],
        vec!["jobs", "logs", &job, "--follow"],
    ] {
        let local = text(&exits(drbook(dir), &args, 0));
        let far = text(&exits(remote(&url, &viewer, &pin), &args, 0));
        assert_eq!(far, local, "drbook {args:?}");
    }
    let logs = text(&exits(drbook(dir), &["jobs", "logs", &job], 0));
    assert!(logs.contains("web-01"), "{logs}");

    // The CA file trusts it too; a wrong pin does not.
    let ca = dir.join("serve-ca.pem");
    let nowhere = tempfile::tempdir().unwrap();
    let mut with_ca = drbook(nowhere.path());
    with_ca.args(["--server", &url, "--token", &viewer, "--ca-cert"]);
    with_ca.arg(&ca);
    exits(with_ca, &["jobs", "list"], 0);
    let wrong = "00".repeat(32);
    let refused = exits(remote(&url, &viewer, &wrong), &["jobs", "list"], 1);
    let why = format!("{:?}", String::from_utf8_lossy(&refused.stderr));
    assert!(why.contains("cannot reach"), "{why}");

    // A stop, by an operator, recorded with its name.
    let again = text(&exits(drbook(dir), &run, 0)).trim().to_string();
    wait_for(dir, &again, "Suspended");
    let stopped = exits(remote(&url, &operator, &pin), &["jobs", "stop", &again], 0);
    assert_eq!(text(&stopped).trim(), format!("job {again} stopped"));
    let shown = text(&exits(drbook(dir), &["jobs", "show", &again], 0));
    assert!(
        shown.contains("\"Stopped\"") && shown.contains("stopped by ci"),
        "{shown}"
    );
    let ended = exits(remote(&url, &operator, &pin), &["jobs", "stop", &again], 2);
    assert!(String::from_utf8_lossy(&ended.stderr).contains("has already ended"));

    // A revoked token is refused, saying so.
    exits(drbook(dir), &["token", "revoke", "ci"], 0);
    let revoked = exits(remote(&url, &operator, &pin), &["jobs", "list"], 2);
    let why = String::from_utf8_lossy(&revoked.stderr);
    assert!(why.contains("401") && why.contains("revoked"), "{why}");
    let missing = exits(remote(&url, "", &pin), &["jobs", "list"], 2);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--token"));

    // `token list` shows what each holds and when it was used, never a secret.
    let listed = text(&exits(drbook(dir), &["token", "list"], 0));
    for (name, scopes) in [
        ("dashboard", "viewer"),
        ("pager", "approver"),
        ("ci", "viewer,operator"),
    ] {
        let row = listed
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_default();
        assert!(row.contains(scopes), "{listed}");
    }
    let log = std::fs::read_to_string(&stderr).unwrap();
    for secret in [&viewer, &approver, &operator] {
        assert!(
            !listed.contains(secret.as_str()),
            "token list shows a secret"
        );
        assert!(!log.contains(secret.as_str()), "serve's log shows a secret");
        assert!(!listed.contains(&secret[5..15]));
    }
    assert!(log.contains("token_revoked"), "{log}");
}
