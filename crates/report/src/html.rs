//! The report as one self-contained HTML page: inline CSS and SVG, no
//! script, no external asset (it opens offline, and prints to PDF as it
//! shows), every value escaped.

use std::fmt::Write as _;

use crate::document::{sections, Body, Cell};
use crate::escape::html;
use crate::model::Report;
use crate::timeline;

const STYLE: &str = "body{font-family:sans-serif;font-size:12px;margin:24px;color:#222}\
h1{font-size:20px;margin:0 0 8px}h2{font-size:15px;margin:22px 0 6px;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;width:100%}th,td{border:1px solid #ddd;padding:2px 5px;text-align:left;vertical-align:top}\
th{background:#f2f2f2}.flag{color:#b71c1c;font-weight:bold}.verdict{padding:10px 14px;font-size:14px;border-radius:4px}\
.passed{background:#e8f5e9;border:2px solid #2e7d32}.failed{background:#ffebee;border:2px solid #c62828}\
dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dt{font-weight:bold}dd{margin:0}\
.missed li{color:#b71c1c}@page{size:A4 landscape;margin:10mm}\
@media print{h2{break-after:avoid}tr{break-inside:avoid}}";

/// The page of `report`.
pub fn render(report: &Report) -> String {
    let mut out = String::with_capacity(600 * report.vms.len() + 300 * report.log.len() + 8000);
    let summary = &report.summary;
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
         <title>DR evidence: {} / job {}</title><style>{STYLE}</style></head><body>\n\
         <h1>Disaster-recovery evidence: plan {}</h1>\n<div class=\"verdict {}\"><strong>{}</strong>",
        html(&report.plan.name),
        html(&report.job.id),
        html(&report.plan.name),
        if summary.passed { "passed" } else { "failed" },
        html(&summary.headline),
    );
    if !summary.missed.is_empty() {
        out.push_str("<ul class=\"missed\">");
        for miss in &summary.missed {
            let _ = write!(out, "<li>{}</li>", html(miss));
        }
        out.push_str("</ul>");
    }
    let _ = write!(
        out,
        "</div>\n<p>Job {} · generated {} by drbook.</p>\n",
        html(&report.job.id),
        report.generated.format("%Y-%m-%d %H:%M:%S UTC")
    );
    for section in sections(report) {
        let _ = writeln!(out, "<h2>{}</h2>", html(section.title));
        match section.body {
            Body::Table { headers, rows } => {
                out.push_str("<table><thead><tr>");
                for header in headers {
                    let _ = write!(out, "<th>{}</th>", html(header));
                }
                out.push_str("</tr></thead><tbody>\n");
                for row in rows {
                    out.push_str("<tr>");
                    for cell in &row {
                        let _ = write!(out, "<td{}>{}</td>", class(cell), html(&cell.text));
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</tbody></table>\n");
            }
            Body::Pairs(pairs) => {
                out.push_str("<dl>");
                for (label, cell) in pairs {
                    let _ = write!(
                        out,
                        "<dt>{}</dt><dd{}>{}</dd>",
                        html(label),
                        class(&cell),
                        html(&cell.text)
                    );
                }
                out.push_str("</dl>\n");
            }
            Body::Timeline => {
                out.push_str(&timeline::svg(
                    &report.timeline,
                    &report.plan.groups,
                    report.plan.rto.map(|rto| rto.as_secs() as f64),
                ));
                out.push('\n');
            }
            Body::Note(note) => {
                let _ = writeln!(out, "<p>{}</p>", html(&note));
            }
        }
    }
    out.push_str("</body></html>\n");
    out
}

fn class(cell: &Cell) -> &'static str {
    if cell.flagged {
        " class=\"flag\""
    } else {
        ""
    }
}
