//! One delivery, from a request that reached a webhook to the ids of the
//! jobs it started: authenticate, check the signature, rate-limit, read the
//! alert, decide what runs, and record it all in one transaction of the job
//! store; then wake the worker. In that transaction the store answers a
//! signed message's retry as it answered the message, and a job whose plan
//! is busy attaches to the busy job, queues behind it or is refused (409), as
//! the rule's `on-busy` says; without rules, an alert attaches (the same
//! outage) and a request that is no alert queues (a run asked for).

use axum::http::HeaderMap;
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

use super::alert_rules::{judge, not_by_default, Verdict};
use super::auth::{self, Signed, SIGNATURE_HEADERS};
use super::limits::Buckets;
use super::metrics::Metrics;
use super::refusal::Refusal;
use super::registry::{Authorized, RunTarget, Webhooks};
use drbook_core::alert::{parse_alert, Alert, MonitorCondition};
use drbook_core::job::Trigger;
use drbook_core::store::{OnBusy, StoreError};
use drbook_core::webhook::{Message, NewDelivery, WebhookData};
use sha2::{Digest, Sha256};

/// Caller parameters at most, and their sizes.
const MAX_PARAMS: usize = 32;
const MAX_PARAM_LEN: usize = 1024;

/// How long a signed delivery's message id is kept with its answer: retries
/// of the Standard Webhooks schedule come for a day and more (the replay
/// window bounds each attempt's timestamp, not the id).
const MESSAGE_RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(3);

/// Headers a runbook never sees.
const HIDDEN_HEADERS: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];

/// The answer to an accepted delivery: Azure's `{"JobIds": [...]}`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    #[serde(rename = "JobIds")]
    pub job_ids: Vec<String>,
    /// The same alert, or the same signed message (a retry), was delivered
    /// before; these are its jobs.
    #[serde(rename = "Duplicate", skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
    /// Why no job was started, when none was.
    #[serde(rename = "Ignored", skip_serializing_if = "Option::is_none")]
    pub ignored: Option<String>,
    /// The plan was busy: `JobIds` is its running job, which the delivery's
    /// alert is recorded on.
    #[serde(rename = "Attached", skip_serializing_if = "std::ops::Not::not")]
    pub attached: bool,
    /// The plan was busy: the job runs once this one has ended.
    #[serde(rename = "QueuedBehind", skip_serializing_if = "Option::is_none")]
    pub queued_behind: Option<String>,
}

/// What deliveries need; shared by the server's handlers.
pub struct Intake {
    pub webhooks: Webhooks,
    pub buckets: Buckets,
    pub replay_window: Duration,
    pub metrics: Metrics,
    /// Wakes the worker: a new job is in the store.
    pub wake: Arc<Notify>,
}

/// A request to a webhook.
pub struct Delivery<'a> {
    pub webhook: &'a str,
    /// The query's pairs: the token, then caller parameters.
    pub query: &'a [(String, String)],
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub received: Instant,
}

/// The token of a request: the query's `token`.
fn token(query: &[(String, String)]) -> &str {
    query
        .iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

impl Intake {
    /// Checks the request's token for `webhook`, before anything else of the
    /// request is read: the body of an unauthenticated request is never
    /// buffered.
    pub async fn authenticate(
        &self,
        webhook: &str,
        query: &[(String, String)],
    ) -> Result<Authorized, Refusal> {
        self.webhooks.authenticate(webhook, token(query)).await
    }

    /// One delivery to a webhook `authenticate` let in.
    pub async fn deliver(
        &self,
        authorized: Authorized,
        d: Delivery<'_>,
    ) -> Result<Accepted, Refusal> {
        let webhook = &authorized.webhook;

        let now = chrono::Utc::now();
        let message_id = match &authorized.signing_secret {
            Some(secret) => {
                let header = |name: &str| d.headers.get(name).and_then(|v| v.to_str().ok());
                let signed = Signed {
                    id: header(SIGNATURE_HEADERS[0]),
                    timestamp: header(SIGNATURE_HEADERS[1]),
                    signature: header(SIGNATURE_HEADERS[2]),
                };
                let now = now.timestamp();
                Some(auth::verify_signature(
                    secret,
                    &signed,
                    d.body,
                    now,
                    self.replay_window,
                )?)
            }
            None => None,
        };
        if !self.buckets.take(d.webhook) {
            return Err(Refusal::RateLimited);
        }
        let body_sha256 = message_id.map(|_| hex::encode(Sha256::digest(d.body)));

        let caller: Vec<&(String, String)> = d.query.iter().filter(|(k, _)| k != "token").collect();
        if caller.len() > MAX_PARAMS
            || caller
                .iter()
                .any(|(k, v)| k.is_empty() || k.len() > MAX_PARAM_LEN || v.len() > MAX_PARAM_LEN)
        {
            return Err(Refusal::Malformed(format!(
                "at most {MAX_PARAMS} parameters, with names of 1 to {MAX_PARAM_LEN} bytes and values of at most {MAX_PARAM_LEN}"
            )));
        }

        let parsed = parse_alert(d.body).map_err(|e| Refusal::Malformed(e.to_string()))?;
        let (alert, unrecognised) = match parsed {
            Some(p) => (Some(p.alert), p.unrecognised),
            None => (None, Vec::new()),
        };
        // A plan busy with another job: an alert attaches to it (the same
        // outage), a request that is no alert (a run asked for) queues.
        let plain = if alert.is_some() {
            OnBusy::Attach
        } else {
            OnBusy::Queue
        };
        let ignore = |reason: &str| (Vec::new(), format!("ignored: {reason}"), plain);
        let (targets, mut decision, on_busy): (Vec<&RunTarget>, String, OnBusy) =
            match (&alert, &webhook.rules) {
                (Some(a), _) if a.monitor_condition == MonitorCondition::Resolved => {
                    ignore("a resolved alert never starts a job")
                }
                // The safe default: a failover is disruptive, and an alert whose
                // condition is not known to be `Fired` may be a clearing one.
                (Some(a), _) if a.monitor_condition == MonitorCondition::Unknown => {
                    ignore("only a Fired alert starts a job")
                }
                (Some(a), Some(rules)) => match judge(rules, a, &webhook.run) {
                    Verdict::Run {
                        rule,
                        target,
                        on_busy,
                    } => (vec![target], format!("started by rule `{rule}`"), on_busy),
                    Verdict::Ignore { reason } => ignore(&reason),
                },
                (None, Some(_)) => {
                    return Err(Refusal::Malformed(
                        "this webhook maps Azure Monitor alerts to runs: send a payload in the common alert \
                         schema (schemaId azureMonitorCommonAlertSchema)"
                            .to_string(),
                    ))
                }
                (alert, None) => match alert.as_ref().and_then(not_by_default) {
                    // Without rules too, a recovery starts no failover.
                    Some(why) => ignore(why),
                    None => (vec![&webhook.run], "started".to_string(), plain),
                },
            };

        if !unrecognised.is_empty() {
            decision.push_str(&format!(
                " (values this version does not know: {})",
                unrecognised.join(", ")
            ));
        }

        let data = WebhookData {
            name: webhook.name.clone(),
            body: String::from_utf8_lossy(d.body).into_owned(),
            headers: visible_headers(d.headers),
        };
        let mut jobs = Vec::with_capacity(targets.len());
        for target in targets {
            let mut parameters = target.parameters.clone();
            for (k, v) in &caller {
                if target.parameters.contains_key(k) {
                    return Err(Refusal::FixedParameter(k.clone()));
                }
                parameters.insert(k.clone(), v.clone());
            }
            let trigger = Trigger::Webhook {
                request: data.clone(),
                alert: alert.clone(),
            };
            let spec = target.spec(trigger, parameters);
            jobs.push((target, spec));
        }

        let delivery = NewDelivery {
            webhook: d.webhook,
            message: message_id
                .zip(body_sha256.as_deref())
                .map(|(id, body_sha256)| Message {
                    id,
                    body_sha256,
                    forget_before: now - MESSAGE_RETENTION,
                }),
            alert: alert
                .as_ref()
                .map(|a: &Alert| (a.alert_id.as_str(), a.monitor_condition.as_str())),
            decision: &decision,
            on_busy,
            jobs: jobs.iter().map(|(target, spec)| target.job(spec)).collect(),
        };
        let recorded = match self.webhooks.store().record_delivery(delivery).await {
            Ok(recorded) => recorded,
            Err(StoreError::MessageReused { message_id }) => {
                return Err(Refusal::ReusedMessageId(message_id))
            }
            Err(e) => return Err(Refusal::Store(e.to_string())),
        };
        let busy = |kind| recorded.busy.as_ref().filter(|b| b.on_busy == kind);
        // Counted with the refusals, as `plan_busy`.
        if let Some(busy) = busy(OnBusy::Refuse) {
            return Err(Refusal::PlanBusy { busy: busy.clone() });
        }
        if recorded.duplicate {
            self.metrics.delivered("duplicate");
        } else if busy(OnBusy::Attach).is_some() {
            self.metrics.delivered("attached");
        } else if busy(OnBusy::Queue).is_some() {
            // Its worker takes it once the plan is free; its wait is no
            // trigger-to-start latency.
            self.metrics.delivered("queued");
        } else if recorded.job_ids.is_empty() {
            self.metrics.delivered("ignored");
        } else {
            for id in &recorded.job_ids {
                self.metrics.triggered(id, d.received);
            }
            self.wake.notify_one();
            self.metrics.delivered("started");
        }
        let ignored = (recorded.job_ids.is_empty() && !recorded.duplicate).then_some(decision);
        Ok(Accepted {
            attached: busy(OnBusy::Attach).is_some(),
            queued_behind: busy(OnBusy::Queue).map(|b| b.job.clone()),
            job_ids: recorded.job_ids.clone(),
            duplicate: recorded.duplicate,
            ignored,
        })
    }
}

/// The request's headers as a runbook may see them: no credentials, no
/// signature.
fn visible_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| {
            let name = name.as_str();
            !HIDDEN_HEADERS.contains(&name) && !SIGNATURE_HEADERS.contains(&name)
        })
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}
