//! The audit trail: who started, decided, stopped and retried which job,
//! which alerts each webhook took and what was done with them, which
//! webhooks and API tokens were made and revoked.
//!
//! It is read back from what the job store records for its own work (jobs'
//! triggers, decisions, stop requests and attempts, alert records, webhooks,
//! tokens), not kept in a table of its own: there is nothing to keep in step
//! and nothing a failed write could leave out. The price is that a request
//! reads the store whole (every job and its journal), which suits stores of
//! thousands of jobs, and that what the store does not record is not here:
//! who revoked a token, who enabled or disabled a webhook, when a stop was
//! asked (a stop is dated by its job's end).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use drbook_core::job::{JobRecord, Wake};
use drbook_core::journal::Call;
use drbook_core::store::{JobStore, StoreError};

/// "Every row": the stores bind a limit as a signed 64-bit number.
const EVERY: usize = i64::MAX as usize;

/// What an [`AuditEvent`] records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AuditKind {
    /// A job was created by its trigger.
    Started,
    /// A manual step was approved.
    Approved,
    /// A manual step was rejected.
    Rejected,
    /// A job was asked to stop.
    Stopped,
    /// A failed job was retried.
    Retried,
    /// A webhook received an alert (or a request without one).
    Alert,
    WebhookCreated,
    TokenCreated,
    TokenRevoked,
}

impl AuditKind {
    pub const ALL: [AuditKind; 9] = [
        AuditKind::Started,
        AuditKind::Approved,
        AuditKind::Rejected,
        AuditKind::Stopped,
        AuditKind::Retried,
        AuditKind::Alert,
        AuditKind::WebhookCreated,
        AuditKind::TokenCreated,
        AuditKind::TokenRevoked,
    ];

    /// Its name in the API and in the console's filter (serde's).
    pub fn name(self) -> &'static str {
        match self {
            AuditKind::Started => "started",
            AuditKind::Approved => "approved",
            AuditKind::Rejected => "rejected",
            AuditKind::Stopped => "stopped",
            AuditKind::Retried => "retried",
            AuditKind::Alert => "alert",
            AuditKind::WebhookCreated => "webhook-created",
            AuditKind::TokenCreated => "token-created",
            AuditKind::TokenRevoked => "token-revoked",
        }
    }
}

/// One thing done, as the store recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    /// Unique in the trail (letters, digits, `-`, `_`, `.`, `:`): the
    /// cursor of the page after it.
    pub id: String,
    pub at: DateTime<Utc>,
    pub kind: AuditKind,
    /// Who: the token (the person) that decided, stopped, retried or made
    /// a token or webhook; what started a job (`cli:USER`, `webhook:NAME`,
    /// `schedule:NAME`, `rerun:JOB`); the webhook an alert came to
    /// (`webhook:NAME`). `None` where the store does not record it (a
    /// token's revocation).
    pub by: Option<String>,
    /// The jobs it concerns.
    pub jobs: Vec<String>,
    /// What: the runbook and plan started, the manual step's prompt and the
    /// decision's comment, an alert's condition, id and what was decided.
    pub detail: String,
}

/// Every event the store records, newest first (ties by id, so that the
/// order, and a cursor into it, is stable).
pub(crate) async fn trail(store: &dyn JobStore) -> Result<Vec<AuditEvent>, StoreError> {
    let mut events = Vec::new();
    for job in store.list(None, EVERY).await? {
        job_events(store, &job, &mut events).await?;
    }
    for webhook in store.webhooks().await? {
        events.push(AuditEvent {
            id: format!("webhook:{}", webhook.name),
            at: webhook.created,
            kind: AuditKind::WebhookCreated,
            by: Some(webhook.created_by.clone()),
            jobs: vec![],
            detail: format!("webhook {}", webhook.name),
        });
        let alerts = store.alerts(&webhook.name, EVERY).await?;
        let count = alerts.len();
        for (i, alert) in alerts.into_iter().enumerate() {
            events.push(AuditEvent {
                // Numbered from the oldest: a number stays as alerts arrive.
                id: format!("alert:{}:{}", webhook.name, count - i),
                at: alert.received,
                kind: AuditKind::Alert,
                by: Some(format!("webhook:{}", webhook.name)),
                jobs: alert.job_ids,
                detail: format!("{} {}: {}", alert.condition, alert.alert_id, alert.decision),
            });
        }
    }
    for token in store.tokens().await? {
        let scopes = super::access::scope_list(&token.scopes);
        events.push(AuditEvent {
            id: format!("token:{}", token.name),
            at: token.created,
            kind: AuditKind::TokenCreated,
            by: Some(token.created_by.clone()),
            jobs: vec![],
            detail: format!(
                "token {} ({scopes}) until {}",
                token.name,
                token.expires.to_rfc3339()
            ),
        });
        if let Some(revoked) = token.revoked {
            events.push(AuditEvent {
                id: format!("revoked:{}", token.name),
                at: revoked,
                kind: AuditKind::TokenRevoked,
                by: None,
                jobs: vec![],
                detail: format!("token {} ({scopes})", token.name),
            });
        }
    }
    events.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| b.id.cmp(&a.id)));
    Ok(events)
}

/// What job `job` records: its start, its decisions, its stop, its retries.
async fn job_events(
    store: &dyn JobStore,
    job: &JobRecord,
    into: &mut Vec<AuditEvent>,
) -> Result<(), StoreError> {
    let jobs = vec![job.id.clone()];
    into.push(AuditEvent {
        id: format!("started:{}", job.id),
        at: job.created,
        kind: AuditKind::Started,
        by: Some(job.trigger.clone()),
        jobs: jobs.clone(),
        detail: format!("{} on plan {}", job.runbook, job.spec.plan.name),
    });
    // The manual steps its journal holds, and the one at its end: the step
    // it waits at, or was decided at and has not run on from yet (its prompt
    // known from its wake while it waits).
    let journal = store.journal(&job.id).await?;
    let mut steps: Vec<(usize, &str)> = journal
        .iter()
        .enumerate()
        .filter_map(|(seq, entry)| match &entry.call {
            Call::Approval { prompt } => Some((seq, prompt.as_str())),
            _ => None,
        })
        .collect();
    let waiting = match &job.wake {
        Some(Wake::Decision {
            journal_seq,
            prompt,
        }) => Some((*journal_seq, prompt.as_str())),
        _ => None,
    };
    for step in waiting.into_iter().chain([(journal.len(), "")]) {
        if !steps.iter().any(|(seq, _)| *seq == step.0) {
            steps.push(step);
        }
    }
    for (seq, prompt) in steps {
        let Some(decision) = store.decision(&job.id, seq).await? else {
            continue;
        };
        let prompt = match prompt {
            "" => "a manual step".to_string(),
            prompt => format!("{prompt:?}"),
        };
        let comment = match decision.comment.as_str() {
            "" => String::new(),
            comment => format!(": {comment}"),
        };
        into.push(AuditEvent {
            id: format!("decision:{}:{seq}", job.id),
            at: decision.at,
            kind: if decision.approved {
                AuditKind::Approved
            } else {
                AuditKind::Rejected
            },
            by: Some(decision.by),
            jobs: jobs.clone(),
            detail: format!("{prompt}{comment}"),
        });
    }
    if let Some(by) = &job.stop_requested {
        into.push(AuditEvent {
            id: format!("stopped:{}", job.id),
            at: job.ended.or(job.started).unwrap_or(job.created),
            kind: AuditKind::Stopped,
            by: Some(by.clone()),
            jobs: jobs.clone(),
            detail: job.reason.clone().unwrap_or_default(),
        });
    }
    for attempt in &job.attempts {
        into.push(AuditEvent {
            id: format!("retried:{}:{}", job.id, attempt.attempt),
            at: attempt.at,
            kind: AuditKind::Retried,
            by: Some(attempt.by.clone()),
            jobs: jobs.clone(),
            detail: format!(
                "attempt {} after: {}",
                attempt.attempt,
                attempt.previous_reason.clone().unwrap_or_default()
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_is_named_as_the_api_spells_it() {
        for kind in AuditKind::ALL {
            let spelled = serde_json::to_value(kind).unwrap();
            assert_eq!(spelled, kind.name());
            let read: AuditKind = serde_json::from_value(spelled).unwrap();
            assert_eq!(read, kind);
        }
    }
}
