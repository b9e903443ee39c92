//! `drbook plan check` and `drbook report` from the command line, on the
//! demo estate: a plan with objectives the `web` group misses (its RTO
//! objective is 1s; three groups of unplanned failovers take at least 1.5 s
//! at `--speed 600`), its pre-flight check, its failover, then its report in
//! every format: each VM's RPO and RTO as the fabric's history, its items and
//! the run's own summary say, the misses flagged, the signature verified and
//! broken by a change of any byte, the PDF read back by `pdftotext` (the
//! plan, every VM and the misses in it), and a key configured in
//! drbook.toml signing instead of the data dir's.

use chrono::{DateTime, Utc};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

#[allow(dead_code)] // the emulator's helpers: these tests need only `drbook()` and `exits()`
mod common;
mod runbooks;

use common::{drbook, exits};

const VMS: [&str; 12] = [
    "sql-01", "sql-02", "app-01", "app-02", "app-03", "app-04", "web-01", "web-02", "web-03",
    "web-04", "web-05", "web-06",
];

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).expect("JSON")
}

fn time(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .unwrap_or_else(|| panic!("a time: {value}"))
        .with_timezone(&Utc)
}

/// `drbook` on `dir` at `speed`.
fn at(dir: &Path, speed: &str) -> Command {
    let mut command = drbook(dir);
    command.args(["--speed", speed]);
    command
}

/// The demo plan with objectives: 1h / 15m for the plan, `rpo` for the
/// databases, 1s RTO for `web`.
fn plan(dir: &Path, databases_rpo: &str) -> std::path::PathBuf {
    let demo = std::fs::read_to_string(dir.join("plans/contoso-3tier.toml")).unwrap();
    let text = demo
        .replacen(
            "recovery_region = \"westus\"\n",
            "recovery_region = \"westus\"\nrto = \"1h\"\nrpo = \"15m\"\n",
            1,
        )
        .replace(
            "name = \"databases\"\n",
            &format!("name = \"databases\"\nrpo = \"{databases_rpo}\"\n"),
        )
        .replace("name = \"web\"\n", "name = \"web\"\nrto = \"1s\"\n");
    let path = dir.join(format!("objectives-{databases_rpo}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_failover_s_report_shows_each_vm_against_its_objectives_signed_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    exits(at(dir, "instant"), &["fabric", "init", "--demo"], 0);

    // Pre-flight, in real time: the estate's newest points are from its
    // init, so a few seconds later every RPO is over 1s and under 15m.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let tight = plan(dir, "1s");
    let out = exits(at(dir, "1"), &["plan", "check", tight.to_str().unwrap()], 1);
    let text = String::from_utf8_lossy(&out.stdout);
    for vm in ["sql-01", "sql-02"] {
        assert!(
            text.contains(&format!(
                "warning: VM `{vm}` (group `databases`): its RPO is "
            )),
            "{text}"
        );
    }
    assert!(text.contains("over its objective of 1s"), "{text}");
    assert_eq!(text.matches("warning:").count(), 2, "{text}");
    let checked = json(&exits(
        at(dir, "1"),
        &["--json", "plan", "check", tight.to_str().unwrap()],
        1,
    ));
    assert_eq!(
        checked["warnings"].as_array().unwrap().len(),
        2,
        "{checked}"
    );
    let plan = plan(dir, "10m");
    let out = exits(at(dir, "1"), &["plan", "check", plan.to_str().unwrap()], 0);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("every VM is within its RPO objective now"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // The failover, and what the fabric and the run say of it.
    let runbook = runbooks::failover_plan();
    let run = json(&exits(
        at(dir, "600"),
        &[
            "--json",
            "run",
            runbook.to_str().unwrap(),
            "--plan",
            plan.to_str().unwrap(),
            "--type",
            "unplanned",
        ],
        0,
    ));
    let id = run["jobId"].as_str().unwrap().to_string();
    let job = json(&exits(at(dir, "600"), &["--json", "jobs", "show", &id], 0));
    let started = time(&job["started"]);
    let history = json(&exits(at(dir, "600"), &["--json", "fabric", "history"], 0));
    let items = json(&exits(at(dir, "600"), &["--json", "fabric", "show"], 0));

    let out_dir = tempfile::tempdir().unwrap();
    let file = |ext: &str| out_dir.path().join(format!("report.{ext}"));
    for ext in ["html", "md", "json", "pdf"] {
        let path = file(ext);
        let out = exits(
            at(dir, "600"),
            &[
                "report",
                &id,
                "--format",
                ext,
                "--out",
                path.to_str().unwrap(),
            ],
            0,
        );
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            said.starts_with(
                "FAILED: unplanned failover of plan `contoso-3tier` recovered 12 of 12 VMs"
            ),
            "{said}"
        );
        assert!(said.contains("6 objective(s) missed"), "{said}");
    }
    // The key was made in the data dir on first use, private.
    let key = dir.join("report-key");
    #[cfg(unix)]
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key).unwrap().permissions())
            & 0o777,
        0o600
    );

    let report: Value = serde_json::from_slice(&std::fs::read(file("json")).unwrap()).unwrap();
    let report = &report["report"];
    assert_eq!(report["plan"]["name"], "contoso-3tier");
    assert_eq!(report["summary"]["passed"], false);
    assert_eq!(
        report["summary"]["rtoSeconds"], run["rtoSeconds"],
        "the run's RTO"
    );
    let vms = report["vms"].as_array().unwrap();
    assert_eq!(vms.len(), 12);
    for vm in vms {
        let name = vm["vm"].as_str().unwrap();
        let entry = history
            .as_array()
            .unwrap()
            .iter()
            .find(|e| {
                e["vm"] == name
                    && e["initiator"]
                        .as_str()
                        .unwrap()
                        .starts_with(&format!("job {id} call "))
            })
            .unwrap_or_else(|| panic!("{name} in the history"));
        assert_eq!(entry["operation"], "UnplannedFailover");
        assert_eq!(vm["result"], "Succeeded", "{vm}");
        // RTO: from the job's start until the fabric says the VM was up.
        let rto = (time(&entry["endTime"]) - started).num_milliseconds() as f64 / 1000.0;
        assert_eq!(vm["rtoSeconds"].as_f64(), Some(rto), "{name}");
        // RPO: from the point the fabric says it restored to the start.
        let item = items
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == name)
            .unwrap();
        let point_id = item["failoverRecoveryPointId"].as_str().unwrap();
        assert_eq!(vm["recoveryPointId"], point_id, "{name}");
        let point = item["recoveryPoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == point_id)
            .unwrap_or_else(|| panic!("{name}'s point {point_id} listed"));
        let rpo = (time(&entry["startTime"]) - time(&point["recoveryPointTime"])).num_seconds();
        assert_eq!(vm["rpoSeconds"].as_i64(), Some(rpo), "{name}");
        assert_eq!(
            vm["recoveryPointType"], point["recoveryPointType"],
            "{name}"
        );
        assert_eq!(
            vm["recoveryPointTime"]
                .as_str()
                .map(|t| time(&Value::from(t))),
            Some(time(&point["recoveryPointTime"]))
        );
        // And as the run's summary said, from the same journal.
        let row = run["vms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["vm"] == name)
            .unwrap();
        assert_eq!(vm["rpoSeconds"], row["rpoSeconds"], "{name}");
        let web = name.starts_with("web-");
        assert_eq!(
            vm["rtoMissed"], web,
            "{name}: RTO {rto}s against {}",
            vm["objectives"]
        );
        assert_eq!(vm["rpoMissed"], false, "{name}");
        assert_eq!(vm["objectives"]["rto"], if web { "1s" } else { "1h" });
    }
    let audit = report["audit"].as_array().unwrap();
    assert_eq!(audit.len(), 12, "one audit entry per operation of the job");
    let check = |name: &str| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("check {name}"))
            .clone()
    };
    assert_eq!(
        check("the fabric's audit trail matches the journal, one operation per start")["passed"],
        true
    );
    assert_eq!(check("every VM within its RTO objective")["passed"], false);
    assert_eq!(check("every VM within its RPO objective")["passed"], true);

    let html = std::fs::read_to_string(file("html")).unwrap();
    assert_eq!(
        html.matches("<td class=\"flag\">1s: MISSED</td>").count(),
        6,
        "web's six"
    );
    assert!(html.contains("<svg"), "the timeline");
    assert_eq!(html.matches("<rect ").count(), 12, "one bar per operation");
    let markdown = std::fs::read_to_string(file("md")).unwrap();
    assert_eq!(markdown.matches("**1s: MISSED**").count(), 6, "{markdown}");

    // The PDF opens: pdftotext reads the plan and every VM in it.
    let text = Command::new("pdftotext")
        .arg(file("pdf"))
        .arg("-")
        .output()
        .expect("pdftotext (Debian's poppler-utils; scripts/test.sh installs it)");
    assert!(
        text.status.success(),
        "{}",
        String::from_utf8_lossy(&text.stderr)
    );
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("contoso-3tier"), "{text}");
    for vm in VMS {
        assert!(text.contains(vm), "{vm} in the PDF: {text}");
    }
    // And its misses, flagged as on the page it was printed from.
    assert_eq!(text.matches("1s: MISSED").count(), 6, "web's six: {text}");

    // Verified as written, by the data dir's key; any change breaks it.
    let public = dir.join("report-key.pub");
    let other = out_dir.path().join("other");
    exits(
        drbook(dir),
        &["key", "generate", other.to_str().unwrap()],
        0,
    );
    for ext in ["html", "md", "json", "pdf"] {
        let path = file(ext);
        let path = path.to_str().unwrap();
        let out = exits(
            drbook(dir),
            &["report", "verify", path, "--key", public.to_str().unwrap()],
            0,
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains(": valid, signed by SHA256:"));
        let out = exits(
            drbook(dir),
            &[
                "report",
                "verify",
                path,
                "--key",
                &format!("{}.pub", other.display()),
            ],
            1,
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("not by the key given"));
        let signed = std::fs::read(path).unwrap();
        let len = signed.len();
        let block = signed
            .windows(19)
            .rposition(|w| w == b"drbook-signature v1")
            .unwrap();
        for at in [0, len / 2, block - 3, block + 40, len - 30, len - 2] {
            let mut changed = signed.clone();
            changed[at] = if changed[at] == b'x' { b'y' } else { b'x' };
            let tampered = out_dir.path().join(format!("tampered.{ext}"));
            std::fs::write(&tampered, &changed).unwrap();
            let out = exits(
                drbook(dir),
                &["report", "verify", tampered.to_str().unwrap()],
                1,
            );
            assert!(
                String::from_utf8_lossy(&out.stdout).contains("INVALID"),
                "{ext}: byte {at} of {len}: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }

    // A key configured in drbook.toml signs instead of the data dir's.
    std::fs::write(
        dir.join("drbook.toml"),
        format!("[report]\nkey = \"{}\"\n", other.display()),
    )
    .unwrap();
    let configured = file("configured.json");
    let configured = configured.to_str().unwrap();
    exits(
        at(dir, "600"),
        &["report", &id, "--format", "json", "--out", configured],
        0,
    );
    let other_public = format!("{}.pub", other.display());
    for (key, code) in [(other_public.as_str(), 0), (public.to_str().unwrap(), 1)] {
        exits(
            drbook(dir),
            &["report", "verify", configured, "--key", key],
            code,
        );
    }

    let out = exits(at(dir, "600"), &["report", "job-nope"], 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no job `job-nope`"));
}
