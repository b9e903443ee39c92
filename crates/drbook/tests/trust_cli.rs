//! The trust policy from the command line (issue 12, items 2 and 5): keys
//! made with `drbook key generate`, the example `failover_plan` runbook
//! signed with `drbook runbook sign`, the demo fabric, and a policy in
//! `trust.toml` requiring one key of `platform` and one of
//! `security-review`. Each refusal is bad input (exit 2) that names what is
//! missing and stores no job; what admitted a job is on its record; a job
//! whose signer's key left the policy fails when resumed, running nothing.

#[allow(dead_code)] // the emulator's helpers: these tests need only `drbook()`
mod common;
mod runbooks;

use common::{drbook, run_in};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Output;

/// `trust.toml` with the keys of `platform` and `security-review` (its
/// `keys` list written as `review`) and a rule for `failover_plan`.
fn policy(review: &str) -> String {
    format!(
        r#"
[organisations.platform]
keys = ["platform.pub"]
[organisations.security-review]
keys = [{review}]
[[rules]]
name = "shared"
runbooks = ["failover_plan", "dr_*"]
require = ["platform", "security-review"]
"#
    )
}

/// A data dir with the demo fabric, the runbook, three keys (`platform`,
/// `review`, `stranger`) and, when `trusted`, drbook.toml naming
/// `trust.toml` (written by [`Host::trust`]).
struct Host {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    runbook: PathBuf,
    plan: String,
    /// `platform`'s and `review`'s fingerprints.
    fingerprints: [String; 2],
}

impl Host {
    fn new(trusted: bool) -> Host {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let runbook = path.join("failover_plan.wasm");
        std::fs::copy(runbooks::failover_plan(), &runbook).unwrap();
        let mut host = Host {
            _dir: dir,
            plan: path.join("plans/contoso-3tier.toml").display().to_string(),
            dir: path,
            runbook,
            fingerprints: Default::default(),
        };
        host.run(&["fabric", "init", "--demo"], 0);
        for (i, name) in ["platform", "review"].into_iter().enumerate() {
            host.fingerprints[i] = host.json(&["key", "generate", name])["fingerprint"]
                .as_str()
                .unwrap()
                .to_string();
        }
        host.json(&["key", "generate", "stranger"]);
        if trusted {
            host.trust(&policy(r#""review.pub""#));
            std::fs::write(
                host.dir.join("drbook.toml"),
                "[trust]\nfile = \"trust.toml\"\n",
            )
            .unwrap();
        }
        host
    }

    fn trust(&self, policy: &str) {
        std::fs::write(self.dir.join("trust.toml"), policy).unwrap();
    }

    fn run(&self, args: &[&str], code: i32) -> Output {
        run_in(
            &self.dir,
            &[&["--speed", "instant"][..], args].concat(),
            code,
        )
    }

    fn json(&self, args: &[&str]) -> Value {
        let output = self.run(&[&["--json"][..], args].concat(), 0);
        serde_json::from_slice(&output.stdout).unwrap()
    }

    fn sign(&self, key: &str) {
        self.run(&["runbook", "sign", "failover_plan.wasm", "--key", key], 0);
    }

    /// `drbook run` of the runbook with `extra` flags: its exit code's
    /// output.
    fn start(&self, extra: &[&str], code: i32) -> Output {
        let args = [
            &["run", "failover_plan.wasm", "--plan", &self.plan][..],
            extra,
        ]
        .concat();
        self.run(&args, code)
    }

    /// A job left to a worker: its id.
    fn detached(&self, extra: &[&str]) -> String {
        let output = self.start(&[&["--detach"][..], extra].concat(), 0);
        String::from_utf8(output.stdout).unwrap().trim().to_string()
    }

    fn job(&self, id: &str) -> Value {
        let output = self.run(&["jobs", "show", id], 0);
        serde_json::from_slice(&output.stdout).unwrap()
    }

    fn jobs(&self) -> usize {
        self.json(&["jobs", "list"]).as_array().unwrap().len()
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A list of signers as (organisation, fingerprint).
fn signers_of(list: &Value) -> Vec<(&str, &str)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["organisation"].as_str().unwrap(),
                s["fingerprint"].as_str().unwrap(),
            )
        })
        .collect()
}

fn assert_says(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "{part:?} not in: {text}");
    }
}

#[test]
fn without_a_policy_an_unsigned_runbook_runs_and_its_job_says_it_was_not_checked() {
    let host = Host::new(false);
    let id = host.detached(&[]);
    let admission = &host.job(&id)["spec"]["admission"];
    assert_eq!(admission["admittedBy"]["kind"], "noPolicy", "{admission}");
    assert_eq!(admission["source"], "failover_plan.wasm");
    assert_eq!(admission["capabilities"]["manifest"], Value::Null);
    assert_eq!(admission["digest"], host.job(&id)["digest"]);
}

#[test]
fn an_unsigned_runbook_is_refused_naming_the_rule_and_allow_unsigned_runs_it_on_the_record() {
    let host = Host::new(true);
    let refused = stderr(&host.start(&[], 2));
    assert_says(
        &refused,
        &[
            "runbook `failover_plan.wasm` is not signed",
            "rule `shared`",
            "one key of `platform` and one key of `security-review`",
            "drbook runbook sign",
            "--allow-unsigned",
        ],
    );
    assert_eq!(host.jobs(), 0, "a refused runbook leaves no job");

    let id = host.detached(&["--allow-unsigned"]);
    let admission = &host.job(&id)["spec"]["admission"];
    assert_eq!(
        admission["admittedBy"]["kind"], "allowUnsigned",
        "{admission}"
    );
    assert_says(
        admission["admittedBy"]["refusal"].as_str().unwrap(),
        &["is not signed", "rule `shared`"],
    );
    // Resumed in another process, under the same policy: the allowance on
    // its record holds, and the job runs to its end.
    host.run(&["jobs", "resume", &id], 0);
    assert_eq!(host.job(&id)["status"], "Completed");
}

#[test]
fn one_signer_of_two_is_refused_naming_the_missing_organisation_and_a_countersigned_runbook_runs() {
    let host = Host::new(true);
    host.sign("platform");
    let refused = stderr(&host.start(&[], 2));
    assert_says(
        &refused,
        &[
            "rule `shared` requires: one key of `security-review`",
            &format!("signed by {} of `platform`", host.fingerprints[0]),
        ],
    );
    assert!(!refused.contains("one key of `platform`"), "{refused}");
    assert_eq!(host.jobs(), 0);

    host.sign("review");
    host.start(&[], 0);
    let jobs = host.json(&["jobs", "list"]);
    let job = &jobs[0];
    assert_eq!(job["status"], "Completed");
    let admission = &job["spec"]["admission"];
    assert_eq!(admission["admittedBy"]["kind"], "rule");
    assert_eq!(admission["admittedBy"]["rule"], "shared");
    assert_eq!(admission["source"], "failover_plan.wasm");
    assert_eq!(admission["digest"], job["digest"]);
    let signers = signers_of(&admission["signers"]);
    assert_eq!(
        signers,
        [
            ("platform", host.fingerprints[0].as_str()),
            ("security-review", host.fingerprints[1].as_str())
        ]
    );

    // The job's evidence report names the module's digest, both signers
    // and the rule that let it in, in its data and on its page.
    let id = job["id"].as_str().unwrap();
    let out = tempfile::tempdir().unwrap();
    let report = |format: &str| {
        let path = out.path().join(format!("report.{format}"));
        let path = path.to_str().unwrap();
        host.run(&["report", id, "--format", format, "--out", path], 0);
        std::fs::read_to_string(path).unwrap()
    };
    let data: Value = serde_json::from_str(&report("json")).unwrap();
    let module = &data["report"]["module"];
    assert_eq!(module["digest"], job["digest"]);
    assert_eq!(module["admittedBy"], "trust policy rule `shared`");
    let reported = signers_of(&module["signers"]);
    assert_eq!(reported, signers);
    let page = report("md");
    assert_says(
        &page,
        &[
            job["digest"].as_str().unwrap(),
            &format!("platform ({})", host.fingerprints[0]),
            &format!("security-review ({})", host.fingerprints[1]),
        ],
    );
}

#[test]
fn a_runbook_signed_by_a_key_the_policy_does_not_hold_is_refused() {
    let host = Host::new(true);
    host.sign("stranger");
    let refused = stderr(&host.start(&[], 2));
    assert_says(
        &refused,
        &[
            "no key it trusts signed it",
            "1 signature(s) by keys the policy does not hold",
            "one key of `platform` and one key of `security-review`",
        ],
    );
    assert_eq!(host.jobs(), 0);
}

#[test]
fn a_runbook_changed_after_signing_is_refused_even_with_allow_unsigned() {
    let host = Host::new(true);
    host.sign("platform");
    host.sign("review");
    let mut bytes = std::fs::read(&host.runbook).unwrap();
    *bytes.last_mut().unwrap() ^= 1;
    std::fs::write(&host.runbook, bytes).unwrap();
    for extra in [&[][..], &["--allow-unsigned"]] {
        let refused = stderr(&host.start(extra, 2));
        assert_says(&refused, &["changed after it was signed"]);
    }
    assert_eq!(host.jobs(), 0);
}

#[test]
fn a_signature_by_an_expired_key_does_not_count() {
    let host = Host::new(true);
    host.sign("platform");
    host.sign("review");
    host.trust(&policy(r#"{ file = "review.pub", expires = 2020-01-01 }"#));
    let refused = stderr(&host.start(&[], 2));
    assert_says(
        &refused,
        &[
            "one key of `security-review`",
            &format!(
                "the signature by {} of `security-review` does not count: that key expired 2020-01-01",
                host.fingerprints[1]
            ),
        ],
    );
    host.trust(&policy(r#"{ file = "review.pub", expires = 2999-01-01 }"#));
    host.detached(&[]);
}

#[test]
fn a_job_resumed_after_its_signers_key_left_the_policy_fails_and_runs_nothing() {
    let host = Host::new(true);
    host.sign("platform");
    host.sign("review");
    let history = host.json(&["fabric", "history"]).as_array().unwrap().len();
    let id = host.detached(&[]);

    host.trust(&policy(""));
    host.run(&["jobs", "resume", &id], 1);
    let job = host.job(&id);
    assert_eq!(job["status"], "Failed");
    assert_says(
        job["reason"].as_str().unwrap(),
        &[
            "admitted by rule `shared`",
            "refuses it now",
            "one key of `security-review`",
            &format!(
                "what changed: {} of `security-review` signed it then",
                host.fingerprints[1]
            ),
        ],
    );
    let logs = host.run(&["jobs", "logs", &id], 0);
    assert!(logs.stdout.is_empty(), "the runbook never ran: {logs:?}");
    assert_eq!(
        host.json(&["fabric", "history"]).as_array().unwrap().len(),
        history,
        "no operation was started"
    );
}

#[test]
fn a_job_is_not_re_pinned_to_a_module_the_policy_refuses() {
    let host = Host::new(true);
    std::fs::copy(&host.runbook, host.dir.join("unsigned.wasm")).unwrap();
    host.sign("platform");
    host.sign("review");
    let id = host.detached(&[]);
    let digest = host.job(&id)["digest"].clone();
    let refused = stderr(&host.run(&["jobs", "resume", &id, "--module", "unsigned.wasm"], 2));
    assert_says(
        &refused,
        &[
            "--module unsigned.wasm: runbook `failover_plan.wasm` is not signed",
            "rule `shared`",
            "re-pin the job only to a module the policy trusts",
        ],
    );
    assert!(!refused.contains("--allow-unsigned"), "{refused}");
    let job = host.job(&id);
    assert_eq!(job["digest"], digest, "still pinned to the signed module");
    assert_eq!(job["status"], "New", "{job}");
}

/// Kills `drbook serve` when the test ends, passed or not.
struct Serving(std::process::Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// POSTs `{}` to `path` on `addr`: the one job id of the answer.
fn deliver(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    let ids: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"));
    ids["JobIds"][0].as_str().unwrap().to_string()
}

#[test]
fn a_webhooks_jobs_record_how_its_module_was_admitted_and_run_under_the_policy() {
    let host = Host::new(true);
    // The URL's path and query, from what `webhook create` prints.
    let create = |name: &str, extra: &[&str]| -> String {
        let args = [
            &[
                "webhook",
                "create",
                "--name",
                name,
                "--runbook",
                "failover_plan.wasm",
                "--plan",
                &host.plan,
            ][..],
            extra,
        ]
        .concat();
        let created = host.json(&args);
        let url = created["url"].as_str().unwrap();
        url.trim_start_matches("http://127.0.0.1:8080").to_string()
    };
    let refused = stderr(&host.run(
        &[
            "webhook",
            "create",
            "--name",
            "unsigned",
            "--runbook",
            "failover_plan.wasm",
            "--plan",
            &host.plan,
        ],
        2,
    ));
    assert_says(&refused, &["is not signed", "rule `shared`"]);
    let dev = create("dev", &["--allow-unsigned"]);
    // Its capability manifest, written before it is signed: the signed
    // webhook's jobs are held to it, the dev one's (pinned before) to none.
    host.run(
        &[
            "runbook",
            "grant",
            "failover_plan.wasm",
            "--operation",
            "planned-failover",
        ],
        0,
    );
    host.sign("platform");
    host.sign("review");
    let signed = create("signed", &[]);
    let hooks = host.json(&["webhook", "list"]);
    let names: Vec<&str> = hooks
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");

    let mut child = drbook(&host.dir)
        .args(["--speed", "instant", "serve", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _serving = Serving(child);
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();

    // One job at a time changes the plan: each delivery after the last ended.
    let ended = |id: &str| -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let job = host.job(id);
            if ["Completed", "Failed", "Stopped"].contains(&job["status"].as_str().unwrap()) {
                return job;
            }
            assert!(std::time::Instant::now() < deadline, "{job}");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    let job = ended(&deliver(&addr, &dev));
    assert_eq!(job["status"], "Completed", "the allowance holds: {job}");
    let admission = &job["spec"]["admission"];
    assert_eq!(
        admission["admittedBy"]["kind"], "allowUnsigned",
        "{admission}"
    );
    assert_eq!(admission["source"], "failover_plan.wasm");

    // The estate is failed over now, so this run's failovers are refused;
    // what counts is that it ran, admitted.
    let job = ended(&deliver(&addr, &signed));
    let logs = host.run(&["jobs", "logs", job["id"].as_str().unwrap()], 0);
    assert!(!logs.stdout.is_empty(), "the runbook ran: {job}");
    assert!(
        !job["reason"].as_str().unwrap_or("").contains("trust"),
        "{job}"
    );
    let admission = &job["spec"]["admission"];
    assert_eq!(admission["admittedBy"]["rule"], "shared", "{admission}");
    assert_eq!(admission["digest"], job["digest"]);
    assert_eq!(admission["signers"].as_array().unwrap().len(), 2);
    let capabilities = &admission["capabilities"];
    assert_eq!(capabilities["signed"], true, "{admission}");
    assert_eq!(
        capabilities["manifest"]["operations"],
        serde_json::json!(["planned-failover"])
    );
}

/// A plan of `vm` alone, named `name`, in the host's data dir: its path.
fn one_vm_plan(host: &Host, name: &str, vm: &str) -> String {
    let path = host.dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            "name = \"{name}\"\nprimary_region = \"eastus\"\nrecovery_region = \"westus\"\n\
             [[groups]]\nname = \"g\"\nvms = [\"{vm}\"]\n"
        ),
    )
    .unwrap();
    path.display().to_string()
}

#[test]
fn a_worker_checks_each_job_against_its_own_admission_even_when_the_module_is_compiled_already() {
    let host = Host::new(true);
    host.sign("platform");
    host.sign("review");
    let (a, b) = (
        one_vm_plan(&host, "a", "sql-01"),
        one_vm_plan(&host, "b", "web-01"),
    );
    // Job A: run under a policy that no longer trusts the reviewer's key,
    // with --allow-unsigned on its record.
    host.trust(&policy(r#""stranger.pub""#));
    let allowed = &[
        "run",
        "failover_plan.wasm",
        "--plan",
        &a,
        "--detach",
        "--allow-unsigned",
    ];
    let first = String::from_utf8(host.run(allowed, 0).stdout).unwrap();
    // Job B: the same module, admitted by the rule while the key counted.
    host.trust(&policy(r#""review.pub""#));
    let admitted = &["run", "failover_plan.wasm", "--plan", &b, "--detach"];
    let second = String::from_utf8(host.run(admitted, 0).stdout).unwrap();
    // One worker runs both, A first (it is older): A's allowance compiles the
    // module, and must not carry B, whose rule no longer admits it.
    host.trust(&policy(r#""stranger.pub""#));
    host.run(&["worker", "--exit-when-idle", "--concurrency", "1"], 0);
    assert_eq!(host.job(first.trim())["status"], "Completed");
    let job = host.job(second.trim());
    assert_eq!(job["status"], "Failed", "{job}");
    assert_says(job["reason"].as_str().unwrap(), &["no longer"]);
}
