//! Webhooks as the job store keeps them, and the requests they receive. A
//! webhook is a secret URL (Azure Automation's model) bound to what it runs;
//! what it runs (its target, with its alert rules) is a document the triggers
//! write and read, which the store keeps as it is.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::job::NewJob;
use crate::store::{Busy, OnBusy};

/// The request that started a job, as the runbook sees it (Azure's
/// `WebhookData`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookData {
    pub name: String,
    pub body: String,
    /// Lowercase names, in the order received, credentials left out.
    pub headers: Vec<(String, String)>,
}

/// A webhook as stored. Only a hash of its token is kept; its signing
/// secret, when it has one, as is (the server must recompute signatures).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredWebhook {
    pub name: String,
    /// Hex SHA-256 of the token.
    pub token_hash: String,
    pub signing_secret: Option<String>,
    /// What it runs: the triggers' document.
    pub target: serde_json::Value,
    pub enabled: bool,
    pub expires: DateTime<Utc>,
    pub created: DateTime<Utc>,
    pub created_by: String,
    pub last_used: Option<DateTime<Utc>>,
}

/// A module a webhook runs, kept in the store (and from `prune`) while the
/// webhook exists, so that a delivery only creates job rows.
#[derive(Debug, Clone, Copy)]
pub struct WebhookModule<'a> {
    pub digest: &'a str,
    pub bytes: &'a [u8],
}

/// A delivery to record, with the jobs it starts (pinned to modules of the
/// webhook, already in the store).
#[derive(Debug, Clone)]
pub struct NewDelivery<'a> {
    pub webhook: &'a str,
    /// A signed delivery's message: a retry of it is answered as it was.
    pub message: Option<Message<'a>>,
    /// The alert's id and monitor condition (`Fired`, `Resolved`), when the
    /// request carried an alert: the same alert is recorded once.
    pub alert: Option<(&'a str, &'a str)>,
    /// What was decided, for the audit (`started by rule ...`, `ignored: ...`).
    pub decision: &'a str,
    /// What a job of a busy plan does.
    pub on_busy: OnBusy,
    pub jobs: Vec<NewJob<'a>>,
}

/// A signed delivery's message (Standard Webhooks' `webhook-id`), kept to
/// answer its retries.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    pub id: &'a str,
    /// Hex SHA-256 of the body: the same id with another body is no retry.
    pub body_sha256: &'a str,
    /// Messages recorded before this are forgotten.
    pub forget_before: DateTime<Utc>,
}

/// How a delivery was recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub job_ids: Vec<String>,
    /// The same alert or message was delivered before: these are the first
    /// delivery's.
    pub duplicate: bool,
    /// A plan of the delivery's jobs was busy: with which job, and what was
    /// done (an attached job's id is in `job_ids`; a refused one's is not).
    pub busy: Option<Busy>,
}

/// An alert a webhook received, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertRecord {
    pub alert_id: String,
    /// `Fired` or `Resolved`.
    pub condition: String,
    /// What was done with it: the runs started, or why it was ignored.
    pub decision: String,
    pub job_ids: Vec<String>,
    pub received: DateTime<Utc>,
}
