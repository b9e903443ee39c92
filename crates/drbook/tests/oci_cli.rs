//! Runbooks from an OCI registry on the command line (issue 12, item 4):
//! `drbook runbook push` and `pull`, and `run`, `jobs resume --module` and
//! `webhook create` taking `oci://` references, against a real registry
//! (Debian's `docker-registry`, started by drbook-module-oci's `DevRegistry`)
//! and the demo fabric on the simulator. A tag is resolved once and the job
//! records the reference pinned to the manifest's digest; a pinned job runs
//! with the registry gone; a moved tag changes new runs only; bad input is
//! refused (exit 2) with its fix and leaves no job.

#[allow(dead_code)] // the emulator's helpers: these tests need only `drbook()`
mod common;
mod runbooks;

use common::drbook;
use drbook_module_oci::dev::DevRegistry;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A data dir with the demo fabric and the example runbook, and a registry.
struct Host {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    plan: String,
    registry: DevRegistry,
    /// Environment for every command (credentials, PATH).
    env: Vec<(String, String)>,
}

impl Host {
    fn new() -> Host {
        Host::with(DevRegistry::start())
    }

    fn with(registry: DevRegistry) -> Host {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        std::fs::copy(runbooks::failover_plan(), path.join("failover_plan.wasm")).unwrap();
        let host = Host {
            _dir: dir,
            plan: path.join("plans/contoso-3tier.toml").display().to_string(),
            dir: path,
            registry,
            env: vec![("DOCKER_CONFIG".into(), "/nonexistent".into())],
        };
        host.run(&["fabric", "init", "--demo"], 0);
        host
    }

    fn command(&self) -> Command {
        let mut command = drbook(&self.dir);
        command
            .current_dir(&self.dir)
            .args(["--speed", "instant"])
            .env_remove("DRBOOK_REGISTRY_USERNAME")
            .env_remove("DRBOOK_REGISTRY_PASSWORD")
            .env_remove("DRBOOK_REGISTRY_OFFLINE")
            .env_remove("SSL_CERT_FILE");
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    fn run(&self, args: &[&str], code: i32) -> Output {
        common::exits(self.command(), args, code)
    }

    fn json(&self, args: &[&str]) -> Value {
        let output = self.run(&[&["--json"][..], args].concat(), 0);
        serde_json::from_slice(&output.stdout).unwrap()
    }

    fn reference(&self, path: &str) -> String {
        self.registry.reference(path)
    }

    /// `drbook runbook push FILE REF`: the pinned reference it prints.
    fn push(&self, file: &str, reference: &str) -> String {
        let output = self.run(&["runbook", "push", file, reference], 0);
        String::from_utf8(output.stdout).unwrap().trim().to_string()
    }

    /// `drbook run RUNBOOK --plan ...` with `extra`, exiting `code`.
    fn start(&self, runbook: &str, extra: &[&str], code: i32) -> Output {
        self.run(
            &[&["run", runbook, "--plan", &self.plan][..], extra].concat(),
            code,
        )
    }

    /// A job of `runbook` left to a worker: its id.
    fn detached(&self, runbook: &str) -> String {
        let output = self.start(runbook, &["--detach"], 0);
        String::from_utf8(output.stdout).unwrap().trim().to_string()
    }

    fn job(&self, id: &str) -> Value {
        let output = self.run(&["jobs", "show", id], 0);
        serde_json::from_slice(&output.stdout).unwrap()
    }

    fn jobs(&self) -> usize {
        self.json(&["jobs", "list"]).as_array().unwrap().len()
    }

    fn bytes(&self, file: &str) -> Vec<u8> {
        std::fs::read(self.dir.join(file)).unwrap()
    }
}

fn digest(bytes: &[u8]) -> String {
    drbook_core::module::digest(bytes)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_says(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "{part:?} not in: {text}");
    }
}

/// The manifest digest of a pinned reference.
fn manifest_digest(pinned: &str) -> &str {
    pinned.rsplit_once('@').expect("a pinned reference").1
}

#[test]
fn a_runbook_pushed_runs_by_tag_and_its_job_records_the_reference_pinned_to_the_digest() {
    let host = Host::new();
    let tagged = host.reference("dr/failover_plan:v1");
    let pinned = host.push("failover_plan.wasm", &tagged);
    assert!(pinned.starts_with(&format!("{tagged}@sha256:")), "{pinned}");

    host.start(&tagged, &[], 0);
    let jobs = host.json(&["jobs", "list"]);
    let id = jobs[0]["id"].as_str().unwrap();
    let job = host.job(id);
    assert_eq!(job["status"], "Completed", "{job}");
    assert_eq!(job["runbook"], "failover_plan");
    assert_eq!(job["digest"], digest(&host.bytes("failover_plan.wasm")));
    let admission = &job["spec"]["admission"];
    assert_eq!(admission["source"], pinned, "{admission}");
    assert_eq!(admission["digest"], job["digest"]);
    assert_eq!(admission["admittedBy"]["kind"], "noPolicy");
}

#[test]
fn a_pull_writes_the_module_by_tag_and_by_digest_and_a_stored_digest_needs_no_registry() {
    let mut host = Host::new();
    let tagged = host.reference("dr/failover_plan:v1");
    let pinned = host.push("failover_plan.wasm", &tagged);
    let original = host.bytes("failover_plan.wasm");
    let printed = host.run(&["runbook", "pull", &tagged, "-o", "by-tag.wasm"], 0);
    assert_eq!(String::from_utf8_lossy(&printed.stdout).trim(), pinned);
    assert_eq!(host.bytes("by-tag.wasm"), original);
    let by_digest = host.reference(&format!("dr/failover_plan@{}", manifest_digest(&pinned)));
    host.run(&["runbook", "pull", &by_digest], 0);
    assert_eq!(
        host.bytes("failover_plan.wasm"),
        original,
        "named by the repository"
    );
    let stored = host
        .dir
        .join("modules/sha256")
        .join(digest(&original).strip_prefix("sha256:").unwrap());
    assert_eq!(std::fs::read(stored).unwrap(), original);

    let asked = host.registry.requests().len();
    host.run(&["runbook", "pull", &by_digest, "-o", "again.wasm"], 0);
    assert_eq!(host.registry.requests().len(), asked, "the store answered");
    host.registry.stop();
    host.run(&["runbook", "pull", &pinned, "-o", "offline.wasm"], 0);
    assert_eq!(host.bytes("offline.wasm"), original);
}

#[test]
fn a_job_pinned_by_tag_resumes_with_the_registry_down() {
    let mut host = Host::new();
    let tagged = host.reference("dr/failover_plan:v1");
    host.push("failover_plan.wasm", &tagged);
    let id = host.detached(&tagged);
    host.registry.stop();
    host.run(&["jobs", "resume", &id], 0);
    let job = host.job(&id);
    assert_eq!(job["status"], "Completed", "{job}");
    // And a new run by tag needs the registry: it says so.
    let refused = stderr(&host.start(&tagged, &[], 2));
    assert_says(&refused, &["cannot be reached", "start it"]);
}

#[test]
fn a_moved_tag_leaves_the_pinned_job_on_its_digest_and_gives_a_new_run_the_new_module() {
    let host = Host::new();
    let tagged = host.reference("dr/failover_plan:stable");
    let first = host.push("failover_plan.wasm", &tagged);
    let old = digest(&host.bytes("failover_plan.wasm"));
    let pinned_job = host.detached(&tagged);
    // Another build of the runbook (signed: other bytes, same code) moves
    // the tag.
    host.json(&["key", "generate", "platform"]);
    host.run(
        &["runbook", "sign", "failover_plan.wasm", "--key", "platform"],
        0,
    );
    let second = host.push("failover_plan.wasm", &tagged);
    let new = digest(&host.bytes("failover_plan.wasm"));
    assert_ne!(first, second);
    assert_ne!(old, new);

    host.run(&["jobs", "resume", &pinned_job], 0);
    let job = host.job(&pinned_job);
    assert_eq!(job["status"], "Completed");
    assert_eq!(
        job["digest"], old,
        "the job ran the module it was pinned to"
    );
    assert_eq!(job["spec"]["admission"]["source"], first);

    // Left to a worker: the plan is failed over now, and what matters is
    // what the new job is pinned to.
    let newest = host.job(&host.detached(&tagged));
    assert_ne!(newest["id"], pinned_job.as_str());
    assert_eq!(
        newest["digest"], new,
        "a new run gets the moved tag's module"
    );
    assert_eq!(newest["spec"]["admission"]["source"], second);
}

#[test]
fn a_signed_runbook_travels_through_the_registry_and_the_trust_policy_admits_it_by_its_repository_name(
) {
    let host = Host::new();
    host.json(&["key", "generate", "platform"]);
    std::fs::write(
        host.dir.join("drbook.toml"),
        "[trust.organisations.platform]\nkeys = [\"platform.pub\"]\n\
         [[trust.rules]]\nname = \"shared\"\nrunbooks = [\"failover_plan\"]\nrequire = [\"platform\"]\n",
    )
    .unwrap();
    let unsigned = host.reference("dr/failover_plan:unsigned");
    host.push("failover_plan.wasm", &unsigned);
    let refused = stderr(&host.start(&unsigned, &[], 2));
    assert_says(
        &refused,
        &["runbook `failover_plan` is not signed", "rule `shared`"],
    );
    assert_eq!(host.jobs(), 0, "a refused runbook leaves no job");

    host.run(
        &["runbook", "sign", "failover_plan.wasm", "--key", "platform"],
        0,
    );
    let signed = host.reference("dr/failover_plan:signed");
    let pinned = host.push("failover_plan.wasm", &signed);
    host.run(&["runbook", "pull", &pinned, "-o", "pulled.wasm"], 0);
    host.run(
        &["runbook", "verify", "pulled.wasm", "--key", "platform.pub"],
        0,
    );

    host.start(&signed, &[], 0);
    let job = &host.json(&["jobs", "list"])[0];
    assert_eq!(job["status"], "Completed");
    let admission = &job["spec"]["admission"];
    assert_eq!(admission["admittedBy"]["rule"], "shared", "{admission}");
    assert_eq!(admission["signers"][0]["organisation"], "platform");
    assert_eq!(admission["source"], pinned);
}

#[test]
fn bad_registry_input_is_refused_with_its_fix_and_leaves_no_job() {
    let mut host = Host::new();
    let missing = host.reference("dr/failover_plan:nope");
    let refused = stderr(&host.start(&missing, &[], 2));
    assert_says(&refused, &["does not exist", "drbook runbook push FILE"]);
    let refused = stderr(&host.start("oci://127.0.0.1/Dr/x", &[], 2));
    assert_says(
        &refused,
        &["is not a registry reference", "write it as oci://"],
    );
    let refused = stderr(&host.run(
        &[
            "runbook",
            "push",
            "failover_plan.wasm",
            "oci://127.0.0.1/dr/x@sha256:0",
        ],
        2,
    ));
    assert_says(&refused, &["digest `sha256:0` is not"]);
    std::fs::write(host.dir.join("notes.txt"), "not a runbook").unwrap();
    let asked = host.registry.requests().len();
    let refused = stderr(&host.run(
        &[
            "runbook",
            "push",
            "notes.txt",
            &host.reference("dr/notes:v1"),
        ],
        2,
    ));
    assert_eq!(
        host.registry.requests().len(),
        asked,
        "a file that is no runbook is not pushed"
    );
    assert_says(&refused, &["notes.txt"]);
    host.registry.stop();
    let refused = stderr(&host.start(&host.reference("dr/failover_plan:v1"), &[], 2));
    assert_says(&refused, &["cannot be reached", "onnection refused"]);
    assert_eq!(host.jobs(), 0);
}

/// A Docker configuration directory holding `config` as `config.json`.
fn docker_config(dir: &Path, config: &str) -> String {
    let docker = dir.join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    std::fs::write(docker.join("config.json"), config).unwrap();
    docker.display().to_string()
}

#[test]
fn registry_credentials_come_from_docker_s_config_its_helpers_and_the_environment() {
    use base64::Engine as _;
    let mut host = Host::with(DevRegistry::with_users(&[("alice", "s3cret")]));
    let tagged = host.reference("dr/failover_plan:v1");
    let address = host.registry.address().to_string();

    let refused = stderr(&host.run(&["runbook", "push", "failover_plan.wasm", &tagged], 2));
    assert_says(&refused, &["wants credentials (401", "docker login"]);

    // `docker login`'s entry for the registry, without a credential store.
    let logged_in = |user_pass: &str| {
        let auth = base64::engine::general_purpose::STANDARD.encode(user_pass);
        let config = format!(r#"{{"auths": {{"{address}": {{"auth": "{auth}"}}}}}}"#);
        vec![(
            "DOCKER_CONFIG".to_string(),
            docker_config(&host.dir, &config),
        )]
    };
    host.env = logged_in("alice:wrong");
    let refused = stderr(&host.run(&["runbook", "push", "failover_plan.wasm", &tagged], 2));
    assert_says(
        &refused,
        &["refused the credentials from", "config.json (auths)"],
    );
    assert!(!refused.contains("wrong"), "no credential in: {refused}");

    host.env = logged_in("alice:s3cret");
    host.push("failover_plan.wasm", &tagged);

    // A credential helper, as `docker login` with a store leaves it.
    let bin = host.dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-drbooktest");
    std::fs::write(
        &helper,
        "#!/bin/sh\nread server\necho \"{\\\"ServerURL\\\":\\\"$server\\\",\\\"Username\\\":\\\"alice\\\",\\\"Secret\\\":\\\"s3cret\\\"}\"\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let helped = docker_config(&host.dir, r#"{"credsStore": "drbooktest"}"#);
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    host.env = vec![("DOCKER_CONFIG".into(), helped), ("PATH".into(), path)];
    host.run(&["runbook", "pull", &tagged, "-o", "helped.wasm"], 0);
    assert_eq!(host.bytes("helped.wasm"), host.bytes("failover_plan.wasm"));

    // The environment wins over Docker's configuration.
    host.env
        .push(("DRBOOK_REGISTRY_USERNAME".into(), "alice".into()));
    host.env
        .push(("DRBOOK_REGISTRY_PASSWORD".into(), "wrong".into()));
    let refused = stderr(&host.run(&["runbook", "pull", &tagged, "-o", "env.wasm"], 2));
    assert_says(
        &refused,
        &["refused the credentials from DRBOOK_REGISTRY_USERNAME"],
    );
    host.registry.stop();
}

#[test]
fn a_webhook_and_a_resumed_job_take_registry_references_too() {
    let host = Host::new();
    let tagged = host.reference("dr/failover_plan:v1");
    let pinned = host.push("failover_plan.wasm", &tagged);
    host.run(
        &[
            "webhook",
            "create",
            "--name",
            "dr",
            "--runbook",
            &tagged,
            "--plan",
            &host.plan,
        ],
        0,
    );
    let webhooks = host.json(&["webhook", "list"]);
    let run = &webhooks[0]["run"];
    assert_eq!(run["runbook"], "failover_plan", "{run}");
    assert_eq!(run["digest"], digest(&host.bytes("failover_plan.wasm")));
    assert_eq!(run["admission"]["source"], pinned);

    // A rules file names a runbook by reference too (a rule of the same
    // webhook runs the tag `drill`'s module).
    let drill = host.push(
        "failover_plan.wasm",
        &host.reference("dr/failover_plan:drill"),
    );
    std::fs::write(
        host.dir.join("rules.toml"),
        format!(
            "[[rule]]\nname = \"drill\"\ntype = \"test\"\nrunbook = \"{}\"\n",
            host.reference("dr/failover_plan:drill")
        ),
    )
    .unwrap();
    let args = [
        "--runbook",
        &tagged,
        "--plan",
        &host.plan,
        "--rules",
        "rules.toml",
    ];
    host.run(
        &[&["webhook", "create", "--name", "ruled"][..], &args].concat(),
        0,
    );
    let webhooks = host.json(&["webhook", "list"]);
    let ruled = webhooks
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "ruled")
        .unwrap();
    let rules = ruled["rules"].to_string();
    assert!(rules.contains(&drill), "{rules}");

    let id = host.detached("failover_plan.wasm");
    host.run(&["jobs", "resume", &id, "--module", &pinned], 0);
    assert_eq!(host.job(&id)["status"], "Completed");
}
