//! What a test asserts on: how the job ended, what it wrote, and the
//! fabric it left behind. Read from `drbook runbook test --json`.

use serde_json::Value;
use std::time::Duration;

/// How a scenario's job ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub(crate) doc: Value,
    pub(crate) elapsed: Duration,
}

impl Outcome {
    /// `Completed`, `Failed` or `Stopped`.
    pub fn status(&self) -> &str {
        self.doc["job"]["status"].as_str().unwrap_or_default()
    }

    /// The runbook's result: its output, or why it failed.
    pub fn result(&self) -> Result<&str, &str> {
        match self.doc["job"]["output"].as_str() {
            Some(output) if self.status() == "Completed" => Ok(output),
            _ => Err(self.doc["job"]["failure"]["reason"]
                .as_str()
                .unwrap_or_default()),
        }
    }

    /// Panics, with the failure and the streams, unless the job completed.
    pub fn assert_completed(&self) -> &Self {
        if let Err(reason) = self.result() {
            panic!(
                "the job ended {}: {reason}\nits streams:\n{}",
                self.status(),
                self.streams_text()
            );
        }
        self
    }

    /// What it said it completed before it failed.
    pub fn completed(&self) -> Vec<&str> {
        strings(&self.doc["job"]["failure"]["completed"])
    }

    /// Every line of its streams, in order: `(stream, text)`, the stream
    /// being `Output`, `Warning`, `Error`, `Verbose` or `Progress`.
    pub fn streams(&self) -> Vec<(&str, &str)> {
        self.doc["streams"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|line| {
                (
                    line["stream"].as_str().unwrap_or_default(),
                    line["text"].as_str().unwrap_or_default(),
                )
            })
            .collect()
    }

    /// The lines of one stream (`Output`, `Warning`, ...).
    pub fn stream(&self, stream: &str) -> Vec<&str> {
        self.streams()
            .into_iter()
            .filter(|(s, _)| *s == stream)
            .map(|(_, text)| text)
            .collect()
    }

    fn streams_text(&self) -> String {
        self.streams()
            .iter()
            .map(|(stream, text)| format!("  [{stream}] {text}"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The prompts of the manual steps the job reached, in order.
    pub fn manual_steps(&self) -> Vec<&str> {
        strings(&self.doc["job"]["manualSteps"])
    }

    /// The VM `name` as the fabric has it at the end; panics if the estate
    /// has no such VM.
    pub fn vm(&self, name: &str) -> Vm<'_> {
        self.vms()
            .into_iter()
            .find(|vm| vm.name().eq_ignore_ascii_case(name))
            .unwrap_or_else(|| panic!("the estate has no VM `{name}`"))
    }

    /// Every VM of the estate at the end.
    pub fn vms(&self) -> Vec<Vm<'_>> {
        self.doc["fabric"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|item| Vm { item })
            .collect()
    }

    /// The fabric's audit trail: every operation started (and every start
    /// refused), in order, as `drbook fabric history --json` prints it.
    pub fn history(&self) -> &[Value] {
        self.doc["history"].as_array().map_or(&[], Vec::as_slice)
    }

    /// The operations started on `vm`, in order, as the fabric names them
    /// (`PlannedFailover`, `TestFailoverCleanup`, ...); refused starts are
    /// not among them.
    pub fn operations_on(&self, vm: &str) -> Vec<&str> {
        self.history()
            .iter()
            .filter(|entry| {
                entry["vm"]
                    .as_str()
                    .is_some_and(|v| v.eq_ignore_ascii_case(vm))
            })
            .filter(|entry| entry["outcome"] != "Refused")
            .filter_map(|entry| entry["operation"].as_str())
            .collect()
    }

    /// The whole document, for what the accessors do not cover.
    pub fn json(&self) -> &Value {
        &self.doc
    }

    /// How long `drbook runbook test` took, the runbook's load and the
    /// simulator's setup included.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }
}

/// One VM at the end of a scenario.
#[derive(Debug, Clone, Copy)]
pub struct Vm<'a> {
    item: &'a Value,
}

impl<'a> Vm<'a> {
    pub fn name(&self) -> &'a str {
        self.field("name")
    }

    /// `Primary` or `Recovery`: the side it runs on.
    pub fn active_location(&self) -> &'a str {
        self.field("activeLocation")
    }

    /// Site Recovery's protection state (`Protected`,
    /// `FailedOverCommitPending`, ...).
    pub fn protection_state(&self) -> &'a str {
        self.field("protectionState")
    }

    /// `None`, `InProgress`, `Succeeded`, ... for its test failover.
    pub fn test_failover_state(&self) -> &'a str {
        self.field("testFailoverState")
    }

    /// The operations it allows now (`Commit`, `Reprotect`, ...).
    pub fn allowed_operations(&self) -> Vec<&'a str> {
        strings(&self.item["allowedOperations"])
    }

    /// The item as the fabric reads it (`drbook fabric show --json`).
    pub fn json(&self) -> &'a Value {
        self.item
    }

    fn field(&self, name: &str) -> &'a str {
        self.item[name].as_str().unwrap_or_default()
    }
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}
