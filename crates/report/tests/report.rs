//! Reports of a known job (`testing::job`: each failover 180 s, from a point
//! 120 s older than its start): every VM's RPO and RTO as its journal says,
//! objectives missed flagged, values escaped in every format, and the
//! signature of each format verified and broken by any change.

use drbook_core::journal::{Record, Stream};
use drbook_report::{testing, Format, Inputs, Report};
use drbook_signing::SigningKey;

/// Two groups of two VMs: `g0` up at 180 s, `g1` at 360 s; the plan's RTO
/// objective is 10m, `g1`'s own 5m (missed); RPO 15m everywhere (met).
fn known(streams: &[Record]) -> Report {
    let (mut job, journal) = testing::job(4, 2, "rto = \"10m\"\nrpo = \"15m\"");
    job.spec.plan.groups[1].rto = Some("5m".parse().unwrap());
    Report::build(Inputs {
        job: &job,
        journal: &journal,
        streams,
        decisions: &[],
        audit: None,
        generated: chrono::Utc::now(),
    })
}

#[test]
fn each_vm_has_the_rpo_and_rto_its_journal_says_and_misses_are_flagged() {
    let report = known(&[]);
    /// A VM: its name, RPO, RTO, and whether each missed its objective.
    type Seen<'a> = (&'a str, Option<u64>, Option<f64>, bool, bool);
    let got: Vec<Seen> = report
        .vms
        .iter()
        .map(|v| {
            (
                v.row.vm.as_str(),
                v.row.rpo_seconds,
                v.rto_seconds,
                v.rpo_missed,
                v.rto_missed,
            )
        })
        .collect();
    let (rpo, one, two) = (
        testing::POINT_AGE as u64,
        testing::FAILOVER as f64,
        2.0 * testing::FAILOVER as f64,
    );
    assert_eq!(
        got,
        vec![
            ("vm-0000", Some(rpo), Some(one), false, false),
            ("vm-0001", Some(rpo), Some(one), false, false),
            ("vm-0002", Some(rpo), Some(two), false, true),
            ("vm-0003", Some(rpo), Some(two), false, true),
        ]
    );
    let first = &report.vms[0];
    assert_eq!(first.row.recovery_point_id.as_deref(), Some("rp-vm-0000"));
    assert_eq!(
        first.recovery_point_type,
        Some(drbook_core::fabric::RecoveryPointType::CrashConsistent)
    );
    assert!(!report.summary.passed);
    assert_eq!(report.summary.rto_seconds, Some(two));
    assert_eq!(report.summary.worst_rpo_seconds, Some(rpo));
    assert_eq!(
        report.summary.missed,
        vec![
            "vm-0002: RTO 6m 00s over its objective of 5m",
            "vm-0003: RTO 6m 00s over its objective of 5m"
        ]
    );
    assert!(report.summary.headline.starts_with("FAILED: unplanned failover of plan `synthetic` recovered 4 of 4 VMs, RTO 6m 00s (objective 10m)"), "{}", report.summary.headline);
    let rto_check = report
        .checks
        .iter()
        .find(|c| c.name == "every VM within its RTO objective")
        .unwrap();
    assert!(
        !rto_check.passed && rto_check.detail == "2 VM(s) missed it",
        "{rto_check:?}"
    );
    assert_eq!(report.timeline.len(), 4);
    assert_eq!(report.timeline[2].start_seconds, one);
    assert_eq!(report.timeline[2].end_seconds, Some(two));

    let html = String::from_utf8(report.render(Format::Html, None).unwrap()).unwrap();
    assert!(
        html.contains("<td class=\"flag\">5m: MISSED</td>"),
        "{html}"
    );
    assert!(html.contains("<td>10m: met</td>"), "{html}");
    assert!(html.contains("<svg"), "{html}");
    let markdown = String::from_utf8(report.render(Format::Markdown, None).unwrap()).unwrap();
    assert!(markdown.contains("| **5m: MISSED** |"), "{markdown}");
    let json: serde_json::Value = serde_json::from_slice(
        &[report.render(Format::Json, None).unwrap(), b"}".to_vec()].concat(),
    )
    .unwrap();
    assert_eq!(json["report"]["vms"][2]["rtoMissed"], true);
    assert_eq!(json["report"]["vms"][2]["rtoSeconds"], two);
}

#[test]
fn a_vm_name_or_a_log_line_with_markup_renders_inert() {
    let hostile = "<script>alert('x')</script>";
    let line = Record {
        stream: Stream::Output,
        time: std::time::SystemTime::now(),
        text: format!("log {hostile} | `code`"),
    };
    let (mut job, journal) = testing::job(2, 1, "");
    job.spec.plan.groups[0].vms.push(hostile.to_string());
    job.spec.plan.name = hostile.to_string();
    let report = Report::build(Inputs {
        job: &job,
        journal: &journal,
        streams: &[line],
        decisions: &[],
        audit: None,
        generated: chrono::Utc::now(),
    });
    for format in [Format::Html, Format::Markdown] {
        let text = String::from_utf8(report.render(format, None).unwrap()).unwrap();
        assert!(!text.contains("<script"), "{format:?}: {text}");
        assert!(text.contains("&lt;script&gt;"), "{format:?}: {text}");
    }
    let html = String::from_utf8(report.render(Format::Html, None).unwrap()).unwrap();
    // The page runs nothing, whatever it holds.
    assert!(html.contains("default-src 'none'"), "{html}");
}

#[test]
fn each_format_verifies_signed_and_fails_once_changed() {
    let report = known(&[]);
    let key = SigningKey::generate("auditor").unwrap();
    for format in [Format::Html, Format::Markdown, Format::Json] {
        let signed = report.signed(format, None, &key).unwrap();
        let by = drbook_report::signature::verify(&signed, Some(&key.public_key())).unwrap();
        assert_eq!(by.fingerprint, key.public_key().fingerprint());
        if format == Format::Json {
            let doc: serde_json::Value = serde_json::from_slice(&signed).unwrap();
            assert_eq!(doc["report"]["plan"]["name"], "synthetic");
        }
        let len = signed.len();
        for at in [0, len / 3, len / 2, len - 200, len - 40, len - 2] {
            let mut changed = signed.clone();
            changed[at] = if changed[at] == b'A' { b'B' } else { b'A' };
            assert!(
                drbook_report::signature::verify(&changed, None).is_err(),
                "{format:?}: byte {at} of {len} changed and still verified"
            );
        }
    }
}
