//! Live view of a running job: in a terminal, a bar per group and a bar per
//! VM operation under way, with the runbook's log lines above them; elsewhere,
//! plain log lines on stderr; with `--json`, nothing until the end.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use drbook_core::journal::Stream;
use drbook_core::plan::RecoveryPlan;
use drbook_runtime::{JobEvent, Observer};

#[derive(Clone)]
pub struct Live {
    inner: Arc<Inner>,
}

struct Inner {
    mode: Mode,
    verbose: bool,
    multi: MultiProgress,
    /// Group name and bar, per VM (lower case), for the group bars.
    groups: HashMap<String, ProgressBar>,
    /// Bars of the operations under way, by operation id.
    operations: Mutex<HashMap<String, ProgressBar>>,
}

#[derive(Clone, Copy, PartialEq)]
pub enum Mode {
    /// Progress bars on a terminal.
    Bars,
    /// Log lines on stderr.
    Lines,
    /// Nothing (the JSON document says it all).
    Quiet,
}

impl Live {
    pub fn new(plan: &RecoveryPlan, mode: Mode, verbose: bool) -> Self {
        let multi = MultiProgress::with_draw_target(if mode == Mode::Bars {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        let style = ProgressStyle::with_template("{prefix:>24} [{bar:30}] {pos}/{len} VMs {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let mut groups = HashMap::new();
        for group in &plan.groups {
            let bar = multi.add(ProgressBar::new(group.vms.len() as u64));
            bar.set_style(style.clone());
            bar.set_prefix(format!("group {}", group.name));
            for vm in &group.vms {
                groups.insert(vm.to_ascii_lowercase(), bar.clone());
            }
        }
        Live {
            inner: Arc::new(Inner {
                mode,
                verbose,
                multi,
                groups,
                operations: Mutex::default(),
            }),
        }
    }

    pub fn show(&self, event: &JobEvent) {
        let inner = &self.inner;
        if inner.mode == Mode::Quiet {
            return;
        }
        match event {
            JobEvent::Started { .. } => {}
            JobEvent::Log(record) => {
                if record.stream == Stream::Verbose && !inner.verbose {
                    return;
                }
                if record.stream == Stream::Progress {
                    return;
                }
                let line = match record.stream {
                    Stream::Output => record.text.clone(),
                    other => format!("{}: {}", format!("{other:?}").to_lowercase(), record.text),
                };
                self.println(&line);
            }
            JobEvent::Progress { percent, activity } => {
                if inner.mode == Mode::Lines {
                    eprintln!("[{percent:>3}%] {activity}");
                }
            }
            JobEvent::OperationStarted { vm, kind, id } => {
                let bar = inner.multi.add(ProgressBar::new(100));
                bar.set_style(
                    ProgressStyle::with_template("{prefix:>24} [{bar:30}] {pos:>3}% {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                );
                bar.set_prefix(vm.clone());
                bar.set_message(kind.cli_name());
                inner
                    .operations
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(id.clone(), bar);
            }
            JobEvent::OperationProgress { id, percent, .. } => {
                if let Some(bar) = inner
                    .operations
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(id)
                {
                    bar.set_position(u64::from(*percent));
                }
            }
            JobEvent::OperationEnded { status } => {
                if let Some(bar) = inner
                    .operations
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&status.id)
                {
                    bar.finish_and_clear();
                    inner.multi.remove(&bar);
                }
                if let Some(group) = inner.groups.get(&status.vm.to_ascii_lowercase()) {
                    group.inc(1);
                }
            }
        }
    }

    /// An observer that shows a job's events here.
    pub fn observer(&self) -> Observer {
        let view = self.clone();
        Observer::new(move |event| view.show(event))
    }

    /// A line about the job itself (suspended, interrupted), shown above the
    /// bars, or on stderr.
    pub fn note(&self, line: &str) {
        match self.inner.mode {
            Mode::Bars => {
                let _ = self.inner.multi.println(line);
            }
            _ => eprintln!("{line}"),
        }
    }

    fn println(&self, line: &str) {
        match self.inner.mode {
            Mode::Bars => {
                let _ = self.inner.multi.println(line);
            }
            Mode::Lines => eprintln!("{line}"),
            Mode::Quiet => {}
        }
    }

    pub fn finish(&self) {
        let _ = self.inner.multi.clear();
    }
}
