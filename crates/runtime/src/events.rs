//! What a running job tells whoever watches it (the terminal's progress bars,
//! later the job store): log lines, progress, and the life of each operation.

use std::sync::Arc;

use drbook_core::fabric::{OperationKind, OperationStatus};
use drbook_core::journal::Record;

#[derive(Debug, Clone)]
pub enum JobEvent {
    /// The runbook read its context, its first host call: it is running.
    /// Sent again when a resumed job replays.
    Started {
        job_id: String,
    },
    /// A line appended to one of the job's streams.
    Log(Record),
    /// The runbook reported its progress.
    Progress {
        percent: u8,
        activity: String,
    },
    OperationStarted {
        vm: String,
        kind: OperationKind,
        id: String,
    },
    /// A waited-on operation moved.
    OperationProgress {
        vm: String,
        id: String,
        percent: u8,
    },
    OperationEnded {
        status: OperationStatus,
    },
}

type Notify = dyn Fn(&JobEvent) + Send + Sync;

/// A cheap, clonable sink for [`JobEvent`]s; `none()` ignores them.
#[derive(Clone, Default)]
pub struct Observer(Option<Arc<Notify>>);

impl Observer {
    pub fn none() -> Self {
        Observer(None)
    }

    pub fn new(f: impl Fn(&JobEvent) + Send + Sync + 'static) -> Self {
        Observer(Some(Arc::new(f)))
    }

    pub fn notify(&self, event: &JobEvent) {
        if let Some(f) = &self.0 {
            f(event)
        }
    }
}
