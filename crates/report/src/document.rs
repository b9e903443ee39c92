//! The report laid out once, as sections of tables and lists of plain text,
//! which the HTML and Markdown renderers only dress: both show the same
//! values in the same order, and each escapes every value as it writes it.

use crate::model::{span, Report};

/// One cell; `flagged` marks a miss or a failure (red in HTML, bold in
/// Markdown).
pub struct Cell {
    pub text: String,
    pub flagged: bool,
}

impl Cell {
    fn plain(text: impl Into<String>) -> Self {
        Cell {
            text: text.into(),
            flagged: false,
        }
    }

    fn flag(text: impl Into<String>, flagged: bool) -> Self {
        Cell {
            text: text.into(),
            flagged,
        }
    }
}

pub enum Body {
    Table {
        headers: Vec<&'static str>,
        rows: Vec<Vec<Cell>>,
    },
    /// Label and value, one per line.
    Pairs(Vec<(&'static str, Cell)>),
    /// The run's timeline (the SVG itself in HTML).
    Timeline,
    /// Said when a section has nothing to show.
    Note(String),
}

pub struct Section {
    pub title: &'static str,
    pub body: Body,
}

fn or_dash(text: Option<String>) -> String {
    text.unwrap_or_else(|| "-".to_string())
}

fn time(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    or_dash(at.map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string()))
}

/// Every section after the summary, in the order a reader wants them.
pub fn sections(report: &Report) -> Vec<Section> {
    let job = &report.job;
    let mut sections = vec![Section {
        title: "Virtual machines",
        body: Body::Table {
            headers: vec![
                "VM",
                "Group",
                "Operation",
                "Result",
                "Recovery point",
                "Point time",
                "Consistency",
                "RPO",
                "RPO objective",
                "RTO",
                "RTO objective",
            ],
            rows: report
                .vms
                .iter()
                .map(|vm| {
                    let row = &vm.row;
                    vec![
                        Cell::plain(&row.vm),
                        Cell::plain(&row.group),
                        Cell::plain(or_dash(row.operation.clone())),
                        Cell::flag(
                            match &row.error {
                                Some(error) => format!("{}: {error}", row.result),
                                None => row.result.clone(),
                            },
                            row.result != "Succeeded",
                        ),
                        Cell::plain(or_dash(row.recovery_point_id.clone())),
                        Cell::plain(time(vm.recovery_point_time)),
                        Cell::plain(or_dash(vm.recovery_point_type.map(|t| format!("{t:?}")))),
                        Cell::flag(
                            or_dash(row.rpo_seconds.map(|s| span(s as f64))),
                            vm.rpo_missed,
                        ),
                        objective(vm.objectives.rpo, row.rpo_seconds.is_some(), vm.rpo_missed),
                        Cell::flag(or_dash(vm.rto_seconds.map(span)), vm.rto_missed),
                        objective(vm.objectives.rto, vm.rto_seconds.is_some(), vm.rto_missed),
                    ]
                })
                .collect(),
        },
    }];
    sections.push(Section {
        title: "Timeline",
        body: Body::Timeline,
    });
    sections.push(Section {
        title: "Checks",
        body: Body::Table {
            headers: vec!["Check", "Result", "Detail"],
            rows: report
                .checks
                .iter()
                .map(|c| {
                    vec![
                        Cell::plain(&c.name),
                        Cell::flag(if c.passed { "passed" } else { "FAILED" }, !c.passed),
                        Cell::plain(&c.detail),
                    ]
                })
                .collect(),
        },
    });
    sections.push(Section {
        title: "Approvals",
        body: if report.approvals.is_empty() {
            Body::Note("The job reached no manual step.".to_string())
        } else {
            Body::Table {
                headers: vec!["Manual step", "Decision", "By", "At", "Comment"],
                rows: report
                    .approvals
                    .iter()
                    .map(|a| match &a.decision {
                        Some(d) => vec![
                            Cell::plain(&a.prompt),
                            Cell::flag(
                                if d.approved { "approved" } else { "rejected" },
                                !d.approved,
                            ),
                            Cell::plain(&d.by),
                            Cell::plain(time(Some(d.at))),
                            Cell::plain(&d.comment),
                        ],
                        None => vec![
                            Cell::plain(&a.prompt),
                            Cell::flag("undecided", true),
                            Cell::plain("-"),
                            Cell::plain("-"),
                            Cell::plain("-"),
                        ],
                    })
                    .collect(),
            }
        },
    });
    let module = &report.module;
    let signers = if module.signers.is_empty() {
        "none".to_string()
    } else {
        module
            .signers
            .iter()
            .map(|s| format!("{} ({})", s.organisation, s.fingerprint))
            .collect::<Vec<_>>()
            .join(", ")
    };
    sections.push(Section {
        title: "Job, trigger and module",
        body: Body::Pairs(vec![
            ("Job", Cell::plain(&job.id)),
            (
                "Status",
                Cell::flag(
                    match &job.reason {
                        Some(reason) => format!("{:?}: {reason}", job.status),
                        None => format!("{:?}", job.status),
                    },
                    job.status != drbook_core::job::JobStatus::Completed,
                ),
            ),
            (
                "Failover",
                Cell::plain(format!("{:?}, {:?}", job.failover_type, job.direction)),
            ),
            (
                "Plan",
                Cell::plain(format!(
                    "{} ({} → {}), RTO objective {}, RPO objective {}",
                    report.plan.name,
                    report.plan.primary_region,
                    report.plan.recovery_region,
                    or_dash(report.plan.rto.map(|o| o.to_string())),
                    or_dash(report.plan.rpo.map(|o| o.to_string())),
                )),
            ),
            ("Trigger", Cell::plain(&job.trigger)),
            ("Alert", Cell::plain(or_dash(job.alert.clone()))),
            (
                "Parameters",
                Cell::plain(if job.parameters.is_empty() {
                    "-".to_string()
                } else {
                    job.parameters
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                }),
            ),
            ("Created", Cell::plain(time(Some(job.created)))),
            ("Started", Cell::plain(time(job.started))),
            ("Ended", Cell::plain(time(job.ended))),
            ("Output", Cell::plain(or_dash(job.output.clone()))),
            ("Runbook", Cell::plain(&module.runbook)),
            ("Module digest", Cell::plain(&module.digest)),
            ("Module source", Cell::plain(or_dash(module.source.clone()))),
            ("Signers", Cell::plain(signers)),
            (
                "Admitted by",
                Cell::plain(or_dash(module.admitted_by.clone())),
            ),
        ]),
    });
    if !report.attempts.is_empty() {
        sections.push(Section {
            title: "Attempts",
            body: Body::Table {
                headers: vec![
                    "Attempt",
                    "Retried by",
                    "At",
                    "Why the attempt before failed",
                ],
                rows: report
                    .attempts
                    .iter()
                    .map(|a| {
                        vec![
                            Cell::plain(a.attempt.to_string()),
                            Cell::plain(&a.by),
                            Cell::plain(time(Some(a.at))),
                            Cell::plain(or_dash(a.previous_failed.clone())),
                        ]
                    })
                    .collect(),
            },
        });
    }
    if !report.refusals.is_empty() {
        sections.push(Section {
            title: "Refused starts",
            body: Body::Table {
                headers: vec!["VM", "Operation", "Refusal"],
                rows: report
                    .refusals
                    .iter()
                    .map(|r| {
                        vec![
                            Cell::plain(&r.vm),
                            Cell::plain(r.operation.cli_name()),
                            Cell::flag(&r.error, true),
                        ]
                    })
                    .collect(),
            },
        });
    }
    sections.push(Section {
        title: "Outside calls",
        body: if report.outside_calls.is_empty() {
            Body::Note("The runbook made no outside call.".to_string())
        } else {
            Body::Table {
                headers: vec!["Time", "Request", "Sent", "Answer"],
                rows: report
                    .outside_calls
                    .iter()
                    .map(|c| {
                        vec![
                            Cell::plain(time(c.at)),
                            Cell::plain(format!("{} {}", c.method, c.url)),
                            Cell::plain(format!("{} bytes", c.request_bytes)),
                            match (&c.status, &c.error) {
                                (Some(status), _) => Cell::flag(
                                    format!(
                                        "{status}, {} bytes",
                                        c.response_bytes.unwrap_or_default()
                                    ),
                                    *status >= 400,
                                ),
                                (None, Some(error)) => Cell::flag(error, true),
                                (None, None) => Cell::plain("-"),
                            },
                        ]
                    })
                    .collect(),
            }
        },
    });
    sections.push(Section {
        title: "The fabric's audit trail for this job",
        body: match &report.audit {
            None => Body::Note(
                "This backend keeps its audit trail itself (Azure: the vault's Site Recovery jobs \
                 and the activity log, `drbook fabric jobs`); it is not part of this report."
                    .to_string(),
            ),
            Some(audit) => Body::Table {
                headers: vec![
                    "Started",
                    "Ended",
                    "Id",
                    "VM",
                    "Operation",
                    "Initiator",
                    "Outcome",
                ],
                rows: audit
                    .iter()
                    .map(|e| {
                        vec![
                            Cell::plain(time(Some(e.start_time))),
                            Cell::plain(time(Some(e.end_time))),
                            Cell::plain(&e.id),
                            Cell::plain(&e.vm),
                            Cell::plain(e.operation.cli_name()),
                            Cell::plain(&e.initiator),
                            Cell::flag(
                                match &e.error {
                                    Some(error) => format!("{}: {error}", e.outcome),
                                    None => e.outcome.clone(),
                                },
                                e.outcome != "Succeeded",
                            ),
                        ]
                    })
                    .collect(),
            },
        },
    });
    sections.push(Section {
        title: "Runbook log",
        body: Body::Table {
            headers: vec!["Time", "Stream", "Line"],
            rows: report
                .log
                .iter()
                .map(|r| {
                    let at: chrono::DateTime<chrono::Utc> = r.time.into();
                    let stream = format!("{:?}", r.stream);
                    vec![
                        Cell::plain(time(Some(at))),
                        Cell::flag(
                            &stream,
                            matches!(r.stream, drbook_core::journal::Stream::Error),
                        ),
                        Cell::plain(&r.text),
                    ]
                })
                .collect(),
        },
    });
    sections
}

/// An objective and whether it was met; a VM that was not recovered has
/// no value to meet it with, which is a miss too.
fn objective(
    objective: Option<drbook_core::plan::Objective>,
    achieved: bool,
    missed: bool,
) -> Cell {
    match objective {
        None => Cell::plain("-"),
        Some(o) if !achieved => Cell::flag(format!("{o}: not reached"), true),
        Some(o) if missed => Cell::flag(format!("{o}: MISSED"), true),
        Some(o) => Cell::plain(format!("{o}: met")),
    }
}
