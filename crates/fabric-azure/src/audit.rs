//! The azure backend's own records, in `<data-dir>/azure-audit.jsonl`
//! (created 0600; JSON lines, appended): Azure has nowhere to keep them.
//!
//! - `refused`: a start drbook refused before it reached Azure (outside its
//!   job's scope), once per initiator, for the audit trail
//!   ([`Fabric::record_refusal`](drbook_core::fabric::Fabric::record_refusal)).
//! - `intent`: a start about to be POSTed, with its client request id and
//!   the request, synced before the POST: ASR's job does not echo a
//!   request's options, so a resumed process that finds the job by its
//!   client request id reads the options here.
//! - `started`: the job an intent became.
//!
//! No secret or token is ever written here.

use chrono::{DateTime, Utc};
use drbook_core::fabric::{OperationKind, OperationRequest, RefusedStart};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub const FILE_NAME: &str = "azure-audit.jsonl";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "camelCase")]
pub enum Record {
    #[serde(rename_all = "camelCase")]
    Refused {
        at: DateTime<Utc>,
        refused: RefusedStart,
    },
    #[serde(rename_all = "camelCase")]
    Intent {
        at: DateTime<Utc>,
        request_id: String,
        vm: String,
        initiator: String,
        request: OperationRequest,
    },
    #[serde(rename_all = "camelCase")]
    Started {
        at: DateTime<Utc>,
        request_id: String,
        job: String,
        vm: String,
        request: OperationRequest,
    },
}

/// What an intent or a start said about one operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Known {
    pub vm: String,
    pub request: OperationRequest,
    pub request_id: String,
}

#[derive(Default)]
struct Index {
    refused: HashSet<String>,
    /// Per client request id, every intent, oldest first.
    intents: HashMap<String, Vec<Known>>,
    /// Per job name (lowercase).
    started: HashMap<String, Known>,
}

impl Index {
    fn add(&mut self, record: &Record) {
        match record {
            Record::Refused { refused, .. } => {
                self.refused.insert(refused.initiator.clone());
            }
            Record::Intent {
                request_id,
                vm,
                request,
                ..
            } => self
                .intents
                .entry(request_id.clone())
                .or_default()
                .push(Known {
                    vm: vm.clone(),
                    request: request.clone(),
                    request_id: request_id.clone(),
                }),
            Record::Started {
                request_id,
                job,
                vm,
                request,
                ..
            } => {
                self.started.insert(
                    job.to_ascii_lowercase(),
                    Known {
                        vm: vm.clone(),
                        request: request.clone(),
                        request_id: request_id.clone(),
                    },
                );
            }
        }
    }
}

pub struct AuditLog {
    path: PathBuf,
    file: Mutex<std::fs::File>,
    index: Mutex<Index>,
}

#[derive(Debug, thiserror::Error)]
#[error("the azure backend's audit log {}: {source}", path.display())]
pub struct AuditError {
    path: PathBuf,
    source: std::io::Error,
}

impl AuditLog {
    /// Opens (or creates, 0600) the log in `dir` and reads what it holds.
    /// A torn last line (a crash mid-append) is skipped.
    pub fn open(dir: &Path) -> Result<AuditLog, AuditError> {
        let path = dir.join(FILE_NAME);
        let err = |source| AuditError {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(err)?;
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true).read(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(&path).map_err(err)?;
        let mut index = Index::default();
        let text = std::fs::read_to_string(&path).map_err(err)?;
        for line in text.lines() {
            match serde_json::from_str::<Record>(line) {
                Ok(record) => index.add(&record),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "skipping a line of the audit log")
                }
            }
        }
        Ok(AuditLog {
            path,
            file: Mutex::new(file),
            index: Mutex::new(index),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `record`; `sync` makes it durable before returning.
    pub fn append(&self, record: Record, sync: bool) -> Result<(), AuditError> {
        let err = |source| AuditError {
            path: self.path.clone(),
            source,
        };
        let mut line = serde_json::to_vec(&record).map_err(|e| err(e.into()))?;
        line.push(b'\n');
        {
            let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
            file.write_all(&line).map_err(err)?;
            if sync {
                file.sync_data().map_err(err)?;
            }
        }
        self.index
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .add(&record);
        Ok(())
    }

    /// Records a refusal unless its initiator has one already.
    pub fn refuse(&self, refused: &RefusedStart) -> Result<(), AuditError> {
        if self
            .index
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .refused
            .contains(&refused.initiator)
        {
            return Ok(());
        }
        self.append(
            Record::Refused {
                at: Utc::now(),
                refused: refused.clone(),
            },
            true,
        )
    }

    /// What this host knows of job `job`, started by request `request_id`.
    pub fn known(
        &self,
        job: &str,
        request_id: Option<&str>,
        vm: &str,
        kind: Option<OperationKind>,
    ) -> Option<Known> {
        let index = self.index.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(known) = index.started.get(&job.to_ascii_lowercase()) {
            return Some(known.clone());
        }
        index
            .intents
            .get(request_id?)?
            .iter()
            .rev()
            .find(|k| {
                k.vm.eq_ignore_ascii_case(vm) && kind.is_none_or(|kind| k.request.kind() == kind)
            })
            .cloned()
    }

    /// Every record, oldest first (for tests and `drbook fabric history`).
    pub fn records(&self) -> Result<Vec<Record>, AuditError> {
        let text = std::fs::read_to_string(&self.path).map_err(|source| AuditError {
            path: self.path.clone(),
            source,
        })?;
        Ok(text
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect())
    }
}
