//! Capability manifests from the command line (issue 12, item 3): the
//! example `failover_plan` runbook granted with `drbook runbook grant`,
//! signed with `drbook runbook sign`, shown by `drbook runbook inspect`; a
//! manifest its signatures do not cover (changed or added after signing)
//! is refused before compiling, exit 2, no job stored; a rule requiring a
//! manifest refuses a module without one; a rule's cap names only
//! operations.

#[allow(dead_code)] // the emulator's helpers: these tests need only `drbook()`
mod common;
mod runbooks;

use common::run_in;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Output;

/// A policy with `platform`'s key and the rule `shared` for
/// `failover_plan`, with `extra` lines.
fn policy(extra: &str) -> String {
    format!(
        "[trust]\n[trust.organisations.platform]\nkeys = [\"platform.pub\"]\n\
         [[trust.rules]]\nname = \"shared\"\nrunbooks = [\"failover_plan\"]\n\
         require = [\"platform\"]\n{extra}"
    )
}

/// A data dir with the demo fabric, `platform`'s key, the runbook, and
/// drbook.toml holding [`policy`] with `extra`.
struct Host {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    plan: String,
}

impl Host {
    fn new(extra: &str) -> Host {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        std::fs::copy(runbooks::failover_plan(), path.join("failover_plan.wasm")).unwrap();
        let host = Host {
            _dir: dir,
            plan: path.join("plans/contoso-3tier.toml").display().to_string(),
            dir: path,
        };
        host.run(&["fabric", "init", "--demo"], 0);
        host.run(&["key", "generate", "platform"], 0);
        std::fs::write(host.dir.join("drbook.toml"), policy(extra)).unwrap();
        host
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

    /// `runbook grant` of the runbook with `operations`, then signed.
    fn grant_and_sign(&self, operations: &[&str]) {
        let mut args = vec!["runbook", "grant", "failover_plan.wasm"];
        for op in operations {
            args.extend(["--operation", op]);
        }
        self.run(&args, 0);
        self.run(
            &["runbook", "sign", "failover_plan.wasm", "--key", "platform"],
            0,
        );
    }

    fn runbook(&self) -> PathBuf {
        self.dir.join("failover_plan.wasm")
    }

    fn start(&self, extra: &[&str], code: i32) -> Output {
        let args = [
            &["run", "failover_plan.wasm", "--plan", &self.plan][..],
            extra,
        ]
        .concat();
        self.run(&args, code)
    }

    fn jobs(&self) -> usize {
        self.json(&["jobs", "list"]).as_array().unwrap().len()
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_says(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "{part:?} not in: {text}");
    }
}

/// `platform`'s key id and fingerprint, as `runbook inspect` shows them.
fn platform_key(host: &Host) -> (String, String) {
    let doc = host.json(&["runbook", "inspect", "failover_plan.wasm"]);
    let signature = &doc["signatures"][0];
    (
        signature["key_id"].as_str().unwrap().to_string(),
        signature["fingerprint"].as_str().unwrap().to_string(),
    )
}

#[test]
fn inspect_shows_the_signers_the_manifest_it_covers_and_the_policys_decision() {
    let host = Host::new("operations = [\"planned-failover\", \"commit\"]\n");
    host.grant_and_sign(&["planned-failover", "cancel-failover"]);
    let doc = host.json(&["runbook", "inspect", "failover_plan.wasm"]);
    let module = std::fs::read(host.runbook()).unwrap();
    assert_eq!(doc["size"], module.len());
    assert!(doc["digest"].as_str().unwrap().starts_with("sha256:"));
    let (key_id, fingerprint) = platform_key(&host);
    assert_eq!(key_id.len(), 24, "12 bytes, hex: {key_id}");
    assert_eq!(
        doc["signatures"],
        serde_json::json!([{
            "key_id": key_id,
            "covers": true,
            "known_scheme": true,
            "organisation": "platform",
            "fingerprint": fingerprint,
            "verified": true,
        }])
    );
    assert_eq!(
        doc["manifest"],
        serde_json::json!({
            "interfaces": ["site-recovery", "plan", "log", "clock", "approval", "http", "azure"],
            "operations": ["planned-failover", "cancel-failover"],
            "http": [],
            "covered_by_signatures": true,
        })
    );
    assert_eq!(doc["policy"]["admitted"], true);
    assert_eq!(doc["policy"]["admitted_by"]["rule"], "shared");
    assert_eq!(
        doc["policy"]["caps"],
        serde_json::json!([{ "rule": "shared", "operations": ["planned-failover", "commit"] }])
    );
    let imports: Vec<&str> = doc["imports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap())
        .collect();
    assert!(
        imports.contains(&"drbook:runbook/site-recovery@0.1.0")
            && imports.iter().any(|i| i.starts_with("wasi:")),
        "{imports:?}"
    );
    assert_eq!(doc["exports"], serde_json::json!(["run"]));

    let text = stdout(&host.run(&["runbook", "inspect", "failover_plan.wasm"], 0));
    assert_says(
        &text,
        &[
            &format!("key id {key_id}: {fingerprint} of `platform` (verified); covers the module"),
            "manifest:   covered by its signatures",
            "  interfaces: site-recovery, plan, log, clock, approval, http",
            "  operations: planned-failover, cancel-failover",
            "policy:     admitted by rule `shared`",
            "  capped at: planned-failover, commit",
            "  drbook:runbook/site-recovery@0.1.0",
        ],
    );

    // Granted again, the module is unsigned, and inspect says so.
    host.run(
        &[
            "runbook",
            "grant",
            "failover_plan.wasm",
            "--operation",
            "commit",
        ],
        0,
    );
    let text = stdout(&host.run(&["runbook", "inspect", "failover_plan.wasm"], 0));
    assert_says(
        &text,
        &[
            "signatures: none (unsigned)",
            "manifest:   NOT covered by any signature: unsigned",
            "policy:     refused: runbook `failover_plan.wasm` is not signed",
        ],
    );
}

/// A module's manifest changed after signing, or one added after: refused
/// before compiling, even with --allow-unsigned, exit 2, no job stored.
#[test]
fn a_manifest_the_signatures_do_not_cover_is_refused_before_compiling() {
    let host = Host::new("");
    host.grant_and_sign(&["planned-failover", "commit"]);
    let signed = std::fs::read(host.runbook()).unwrap();
    // Changed in place: the same bytes, in another order.
    let (from, to) = (
        br#""planned-failover","commit""#,
        br#""commit","planned-failover""#,
    );
    let at = signed
        .windows(from.len())
        .position(|w| w == from)
        .expect("the manifest's operations");
    let mut changed = signed.clone();
    changed[at..at + from.len()].copy_from_slice(to);
    // Added after signing: a module signed without one, then a manifest.
    let mut appended = std::fs::read(runbooks::failover_plan()).unwrap();
    std::fs::write(host.runbook(), &appended).unwrap();
    host.run(
        &["runbook", "sign", "failover_plan.wasm", "--key", "platform"],
        0,
    );
    appended = std::fs::read(host.runbook()).unwrap();
    appended.extend(custom_section(
        "drbook-capabilities",
        br#"{"version":1,"interfaces":["site-recovery","plan","log","clock","approval","http","azure"],"operations":["commit"]}"#,
    ));
    for tampered in [changed, appended] {
        std::fs::write(host.runbook(), &tampered).unwrap();
        for extra in [&[][..], &["--allow-unsigned"]] {
            let refused = stderr(&host.start(extra, 2));
            assert_says(
                &refused,
                &[
                    "the capability manifest is not covered by the module's signatures",
                    "re-sign after `runbook grant`",
                ],
            );
        }
        let text = stdout(&host.run(&["runbook", "inspect", "failover_plan.wasm"], 0));
        assert_says(
            &text,
            &[
                "does NOT cover the module as it is",
                "manifest:   NOT covered by any signature",
            ],
        );
    }
    assert_eq!(host.jobs(), 0);
    assert!(
        !host.dir.join("cache").exists()
            || std::fs::read_dir(host.dir.join("cache")).unwrap().count() == 0,
        "nothing compiled"
    );
}

/// A rule with `require-manifest = true` refuses a module without one; with
/// one, it is admitted, the job recording its manifest as signed.
#[test]
fn a_rule_requiring_a_manifest_refuses_a_module_without_one() {
    let host = Host::new("require-manifest = true\n");
    host.run(
        &["runbook", "sign", "failover_plan.wasm", "--key", "platform"],
        0,
    );
    let refused = stderr(&host.start(&[], 2));
    assert_says(
        &refused,
        &[
            "runbook `failover_plan.wasm` has no capability manifest, and the trust policy's rule \
             `shared` requires one",
            "drbook runbook grant FILE --operation OP",
        ],
    );
    assert_eq!(host.jobs(), 0);
    std::fs::copy(runbooks::failover_plan(), host.runbook()).unwrap();
    host.grant_and_sign(&["planned-failover"]);
    let out = host.start(&["--type", "planned", "--detach"], 0);
    let id = stdout(&out).trim().to_string();
    let job = host.json(&["jobs", "show", &id]);
    let capabilities = &job["spec"]["admission"]["capabilities"];
    assert_eq!(capabilities["signed"], true, "{job:#}");
    assert_eq!(
        capabilities["manifest"]["operations"],
        serde_json::json!(["planned-failover"])
    );
}

#[test]
fn a_rules_cap_names_only_operations() {
    let host = Host::new("operations = [\"delete-everything\"]\n");
    let refused = stderr(&host.run(&["jobs", "list"], 2));
    assert_says(
        &refused,
        &[
            "rule `shared`: `operations`: `delete-everything` is not an operation; one of \
             planned-failover",
        ],
    );
}

/// A custom section named `name` holding `data`, framed (a name under 128
/// bytes, a payload under 16 KiB: LEB128 lengths of one and two bytes).
fn custom_section(name: &str, data: &[u8]) -> Vec<u8> {
    let payload = 1 + name.len() + data.len();
    assert!(
        name.len() < 128 && payload < 1 << 14,
        "short LEB128 lengths"
    );
    let mut section = vec![0];
    if payload < 128 {
        section.push(payload as u8);
    } else {
        section.extend([(payload & 0x7f) as u8 | 0x80, (payload >> 7) as u8]);
    }
    section.push(name.len() as u8);
    section.extend(name.as_bytes());
    section.extend(data);
    section
}

/// `runbook grant` reads its flags strictly: an unknown operation or
/// interface, no grant at all, or operations for a read-only runbook are
/// bad input, and the file is left as it was.
#[test]
fn grant_refuses_what_it_cannot_declare() {
    let host = Host::new("");
    let before = std::fs::read(host.runbook()).unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &["--operation", "failover"],
            "`failover` is not an operation; one of planned-failover",
        ),
        (
            &["--read-only", "--interface", "dns"],
            "`dns` is not an interface a manifest declares; one of site-recovery, plan, log, clock, approval, http",
        ),
        (&[], "--operation <OPERATIONS>...|--read-only"),
        (
            &["--read-only", "--operation", "commit"],
            "cannot be used with",
        ),
    ];
    for (flags, says) in cases {
        let args = [&["runbook", "grant", "failover_plan.wasm"][..], flags].concat();
        let refused = stderr(&host.run(&args, 2));
        assert_says(&refused, &[says]);
    }
    assert_eq!(std::fs::read(host.runbook()).unwrap(), before);
}
