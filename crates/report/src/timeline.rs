//! The timeline of a run as one self-contained SVG: one bar per operation,
//! in seconds from the job's start, grouped by plan group in boot order, so
//! that the order of the groups and the parallelism within each show at a
//! glance. Its own module (and only [`Bar`]s in) so that the web console can
//! draw the same chart of a running job.

use std::fmt::Write as _;

use crate::escape::html;
use crate::model::Bar;

const WIDTH: f64 = 960.0;
const LABEL: f64 = 230.0;
const ROW: f64 = 14.0;
const HEADER: f64 = 18.0;
const AXIS: f64 = 24.0;

/// The chart of `bars`, with `groups` (the plan's, in boot order) as its
/// sections; bars of VMs outside them come last, under their own group.
/// The plan's RTO (`rto`, seconds from the job's start), when it has one, is
/// a line across the chart: a bar ending past it came up late.
pub fn svg(bars: &[Bar], groups: &[String], rto: Option<f64>) -> String {
    let mut sections: Vec<(&str, Vec<&Bar>)> =
        groups.iter().map(|g| (g.as_str(), Vec::new())).collect();
    for bar in bars {
        match sections.iter_mut().find(|(name, _)| *name == bar.group) {
            Some((_, section)) => section.push(bar),
            None => sections.push((bar.group.as_str(), vec![bar])),
        }
    }
    sections.retain(|(_, section)| !section.is_empty());
    let end = bars
        .iter()
        .map(|b| b.end_seconds.unwrap_or(b.start_seconds))
        .fold(rto.unwrap_or(0.0), f64::max)
        .max(1.0);
    let plot = WIDTH - LABEL - 10.0;
    let x = |seconds: f64| LABEL + seconds.max(0.0) / end * plot;
    let height = AXIS
        + sections
            .iter()
            .map(|(_, s)| HEADER + ROW * s.len() as f64)
            .sum::<f64>()
        + 4.0;
    let mut out = String::with_capacity(200 * bars.len() + 1000);
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="10" role="img" aria-label="timeline of the run">"##
    );
    out.push_str(r##"<style>.Succeeded{fill:#2e7d32}.Failed{fill:#c62828}.Canceled{fill:#9e9e9e}.InProgress{fill:#f9a825}</style>"##);
    for tick in 0..=5 {
        let seconds = end * f64::from(tick) / 5.0;
        let at = x(seconds);
        let _ = write!(
            out,
            r##"<line x1="{at:.1}" y1="{AXIS}" x2="{at:.1}" y2="{height}" stroke="#ddd"/><text x="{at:.1}" y="14" text-anchor="middle">{}</text>"##,
            crate::model::span(seconds)
        );
    }
    if let Some(rto) = rto {
        let at = x(rto);
        let _ = write!(
            out,
            r##"<line class="rto" x1="{at:.1}" y1="{AXIS}" x2="{at:.1}" y2="{height}" stroke="#c62828" stroke-dasharray="4 2"/><text x="{at:.1}" y="{:.1}" text-anchor="end" fill="#c62828">RTO {}</text>"##,
            AXIS - 2.0,
            crate::model::span(rto)
        );
    }
    let mut y = AXIS;
    for (group, section) in &sections {
        let _ = write!(
            out,
            r##"<text x="2" y="{:.1}" font-weight="bold">group {}</text>"##,
            y + 13.0,
            html(group)
        );
        y += HEADER;
        for bar in section {
            let start = x(bar.start_seconds);
            let stop = x(bar.end_seconds.unwrap_or(end)).max(start + 1.0);
            let label = format!("{} {}", bar.vm, bar.operation.cli_name());
            let state = match bar.state.as_str() {
                known @ ("Succeeded" | "Failed" | "Canceled") => known,
                _ => "InProgress",
            };
            let _ = write!(
                out,
                r##"<text x="12" y="{:.1}">{}</text><rect class="{state}" x="{start:.1}" y="{:.1}" width="{:.1}" height="{:.1}"><title>{} {}: {state}</title></rect>"##,
                y + 10.0,
                html(&label),
                y + 2.0,
                stop - start,
                ROW - 4.0,
                html(&label),
                match bar.end_seconds {
                    Some(e) => format!("{:.1}s → {:.1}s", bar.start_seconds, e),
                    None => format!("{:.1}s →", bar.start_seconds),
                },
            );
            y += ROW;
        }
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use drbook_core::fabric::OperationKind;

    fn bar(vm: &str, group: &str, start: f64, end: Option<f64>, state: &str) -> Bar {
        Bar {
            vm: vm.to_string(),
            group: group.to_string(),
            operation: OperationKind::PlannedFailover,
            start_seconds: start,
            end_seconds: end,
            state: state.to_string(),
        }
    }

    #[test]
    fn one_bar_per_operation_grouped_in_boot_order_and_escaped() {
        let bars = [
            bar("web-01", "web", 5.0, Some(10.0), "Succeeded"),
            bar("sql-01", "db", 0.0, Some(5.0), "Succeeded"),
            bar("<script>alert(1)</script>", "db", 0.0, None, "InProgress"),
            bar("stray", "(outside the plan)", 1.0, Some(2.0), "Failed"),
        ];
        let svg = svg(&bars, &["db".to_string(), "web".to_string()], None);
        assert_eq!(svg.matches("<rect ").count(), 4, "{svg}");
        let db = svg.find("group db").unwrap();
        let web = svg.find("group web").unwrap();
        let outside = svg.find("group (outside the plan)").unwrap();
        assert!(db < web && web < outside, "{svg}");
        assert!(svg.find("sql-01").unwrap() < web, "{svg}");
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;"), "{svg}");
        assert!(svg.contains(r#"class="Failed""#), "{svg}");
        // web-01 runs from the middle of the plot (5 of 10 s) to its end.
        assert!(svg.contains(r#"x="590.0" y="#), "{svg}");
        assert!(svg.contains(r#"width="360.0""#), "{svg}");
        assert!(!svg.contains("RTO"), "no objective, no line: {svg}");
    }

    #[test]
    fn the_rto_is_a_line_and_widens_the_chart_when_no_bar_reaches_it() {
        let bars = [bar("web-01", "web", 0.0, Some(10.0), "Succeeded")];
        let svg = svg(&bars, &["web".to_string()], Some(20.0));
        // 20 s is the end of the plot; web-01 ends at its middle.
        assert!(svg.contains(r#"<line class="rto" x1="950.0""#), "{svg}");
        assert!(svg.contains(r#"width="360.0""#), "{svg}");
    }
}
