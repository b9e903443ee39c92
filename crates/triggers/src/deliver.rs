//! One delivery, from a request that reached a webhook to the ids of the
//! jobs it started: authenticate, check the signature, rate-limit, read the
//! alert, decide what runs, and record it all in one transaction of the job
//! store; then wake the worker.

use axum::http::HeaderMap;
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

use super::alert_rules::{judge, Verdict};
use super::auth::{self, Signed, SIGNATURE_HEADERS};
use super::limits::Buckets;
use super::metrics::Metrics;
use super::refusal::Refusal;
use super::registry::{Authorized, RunTarget, Webhooks};
use drbook_core::alert::{parse_alert, Alert, MonitorCondition};
use drbook_core::job::{new_id, JobSpec, NewJob, Trigger};
use drbook_core::webhook::{NewDelivery, WebhookData};

/// Caller parameters at most, and their sizes.
const MAX_PARAMS: usize = 32;
const MAX_PARAM_LEN: usize = 1024;

/// Headers a runbook never sees.
const HIDDEN_HEADERS: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];

/// The answer to an accepted delivery: Azure's `{"JobIds": [...]}`.
#[derive(Debug, Clone, Serialize)]
pub struct Accepted {
    #[serde(rename = "JobIds")]
    pub job_ids: Vec<String>,
    /// The same alert was delivered before; these are its jobs.
    #[serde(rename = "Duplicate", skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
    /// Why no job was started, when none was.
    #[serde(rename = "Ignored", skip_serializing_if = "Option::is_none")]
    pub ignored: Option<String>,
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

        if let Some(secret) = &authorized.signing_secret {
            let header = |name: &str| d.headers.get(name).and_then(|v| v.to_str().ok());
            let signed = Signed {
                id: header(SIGNATURE_HEADERS[0]),
                timestamp: header(SIGNATURE_HEADERS[1]),
                signature: header(SIGNATURE_HEADERS[2]),
            };
            let now = chrono::Utc::now().timestamp();
            let id = auth::verify_signature(secret, &signed, d.body, now, self.replay_window)?;
            if !self.buckets.take(d.webhook) {
                return Err(Refusal::RateLimited);
            }
            let first = self
                .webhooks
                .first_delivery(d.webhook, id, self.replay_window)
                .await
                .map_err(|e| Refusal::Store(e.to_string()))?;
            if !first {
                return Err(Refusal::Replayed);
            }
        } else if !self.buckets.take(d.webhook) {
            return Err(Refusal::RateLimited);
        }

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
        let (targets, mut decision): (Vec<&RunTarget>, String) = match (&alert, &webhook.rules) {
            (Some(a), _) if a.monitor_condition == MonitorCondition::Resolved => (
                Vec::new(),
                "ignored: a resolved alert never starts a job".to_string(),
            ),
            // The safe default: a failover is disruptive, and an alert whose
            // condition is not known to be `Fired` may be a clearing one.
            (Some(a), _) if a.monitor_condition == MonitorCondition::Unknown => (
                Vec::new(),
                "ignored: only a Fired alert starts a job".to_string(),
            ),
            (Some(a), Some(rules)) => match judge(rules, a, &webhook.run) {
                Verdict::Run { rule, target } => (vec![target], format!("started by rule `{rule}`")),
                Verdict::Ignore { reason } => (Vec::new(), format!("ignored: {reason}")),
            },
            (None, Some(_)) => {
                return Err(Refusal::Malformed(
                    "this webhook maps Azure Monitor alerts to runs: send a payload in the common alert schema \
                     (schemaId azureMonitorCommonAlertSchema)"
                        .to_string(),
                ))
            }
            (_, None) => (vec![&webhook.run], "started".to_string()),
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
            let spec = JobSpec {
                job_id: new_id(),
                plan: target.plan.clone(),
                failover_type: target.failover_type,
                direction: target.direction,
                parameters,
                trigger: Trigger::Webhook {
                    request: data.clone(),
                    alert: alert.clone(),
                },
            };
            jobs.push((target, spec));
        }

        let delivery = NewDelivery {
            webhook: d.webhook,
            alert: alert
                .as_ref()
                .map(|a: &Alert| (a.alert_id.as_str(), a.monitor_condition.as_str())),
            decision: &decision,
            jobs: jobs
                .iter()
                .map(|(target, spec)| NewJob {
                    digest: &target.digest,
                    runbook: &target.runbook,
                    spec,
                })
                .collect(),
        };
        let recorded = self
            .webhooks
            .store()
            .record_delivery(delivery)
            .await
            .map_err(|e| Refusal::Store(e.to_string()))?;
        if recorded.duplicate {
            self.metrics.delivered("duplicate");
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
            job_ids: recorded.job_ids,
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
