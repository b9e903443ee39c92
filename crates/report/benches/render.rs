//! A report of a 1,000-VM job (50 groups of 20, synthetic: `testing::job`):
//! the model built from its journal, then rendered and signed as HTML and as
//! PDF (headless Chromium). The budget: 1 s for HTML, 5 s for PDF.
//!
//! `cargo bench -p drbook-report --features testing --bench render`

use criterion::{criterion_group, criterion_main, Criterion};
use std::time::Duration;

use drbook_core::job::JobRecord;
use drbook_core::journal::Entry;
use drbook_report::{testing, Format, Inputs, Report};
use drbook_signing::SigningKey;

/// The report of `job`, built from its journal as `drbook report` does.
fn report(job: &JobRecord, journal: &[Entry]) -> Report {
    Report::build(Inputs {
        job,
        journal,
        streams: &[],
        decisions: &[],
        audit: None,
        generated: chrono::Utc::now(),
    })
}

fn bench(c: &mut Criterion) {
    let key = SigningKey::generate("bench").unwrap();
    let (job, journal) = testing::job(1000, 50, "rto = \"4h\"\nrpo = \"15m\"");
    let mut group = c.benchmark_group("report_1000_vms");
    group.sample_size(10);
    group.bench_function("build_model", |b| b.iter(|| report(&job, &journal)));
    group.bench_function("html_signed", |b| {
        b.iter(|| {
            report(&job, &journal)
                .signed(Format::Html, None, &key)
                .unwrap()
        })
    });
    group.measurement_time(Duration::from_secs(60));
    group.bench_function("pdf_signed", |b| {
        b.iter(|| {
            report(&job, &journal)
                .signed(Format::Pdf, None, &key)
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
