//! The report as Markdown, for a ticket or a wiki page: the same sections
//! as the HTML page, tables as pipe tables, every value escaped. The
//! timeline is the HTML page's and the PDF's only.

use std::fmt::Write as _;

use crate::document::{sections, Body};
use crate::escape::markdown;
use crate::model::Report;

pub fn render(report: &Report) -> String {
    let mut out = String::with_capacity(300 * report.vms.len() + 200 * report.log.len() + 4000);
    let summary = &report.summary;
    let _ = writeln!(
        out,
        "# Disaster-recovery evidence: plan {}\n\n**{}**\n",
        markdown(&report.plan.name),
        markdown(&summary.headline)
    );
    for miss in &summary.missed {
        let _ = writeln!(out, "- **missed:** {}", markdown(miss));
    }
    let _ = writeln!(
        out,
        "\nJob {}, generated {} by drbook.",
        markdown(&report.job.id),
        report.generated.format("%Y-%m-%d %H:%M:%S UTC")
    );
    for section in sections(report) {
        let _ = writeln!(out, "\n## {}\n", markdown(section.title));
        match section.body {
            Body::Table { headers, rows } => {
                let _ = writeln!(out, "| {} |", headers.join(" | "));
                let _ = writeln!(out, "|{}", "---|".repeat(headers.len()));
                for row in rows {
                    let cells: Vec<String> = row
                        .iter()
                        .map(|cell| match (cell.flagged, markdown(&cell.text)) {
                            (true, text) => format!("**{text}**"),
                            (false, text) => text,
                        })
                        .collect();
                    let _ = writeln!(out, "| {} |", cells.join(" | "));
                }
            }
            Body::Pairs(pairs) => {
                for (label, cell) in pairs {
                    let _ = writeln!(out, "- **{label}:** {}", markdown(&cell.text));
                }
            }
            Body::Timeline => {
                let _ = writeln!(
                    out,
                    "{} operation(s); the chart is in the HTML and PDF reports.",
                    report.timeline.len()
                );
            }
            Body::Note(note) => {
                let _ = writeln!(out, "{}", markdown(&note));
            }
        }
    }
    out
}
