//! Runbooks' Azure resource calls ([`Resources`], drbook-core's port) over
//! the backend's ARM client: its credentials, budget and retries.
//!
//! A GET is retried as every read is ([`ArmClient::get`]). A write is sent
//! once as far as its effect goes: a 429 or a refused connection is sent
//! again after the wait (ARM did nothing); a lost answer or a 5xx is sent
//! again only for PUT and DELETE, which ARM defines as idempotent, and is
//! `outcome-unknown` for POST and PATCH. An answer of 201 or 202 with
//! `Azure-AsyncOperation` is polled until its status ends (then a PUT or
//! PATCH reads the resource, a POST its `Location` if it gave one); a 202
//! with `Location` alone is polled until it answers something else.

use std::sync::Arc;
use std::time::Duration;

use drbook_core::outside::azure::{AzureError, ResourceRequest, ResourceResponse, Resources};
use drbook_core::outside::Method;
use reqwest::Method as HttpMethod;

use crate::client::{Answer, ArmClient, PostError};
use crate::config::AzureConfig;
use crate::error::ArmError;
use crate::fabric_impl::{arm_client, connect, OpenError};

/// Polls of one long-running operation, at most: hours at ARM's usual
/// `Retry-After`; the job's deadline ends it sooner.
const MAX_POLLS: usize = 10_000;

/// The azure backend's ARM client, for runbooks' resource calls.
pub struct ArmResources {
    arm: ArmClient,
    /// Between polls when ARM gives no `Retry-After`.
    poll_interval: Duration,
}

impl ArmResources {
    /// Over `config`'s endpoint, credentials and per-subscription budget
    /// (shared with the backend's fabric in this process). Each request
    /// names its own api-version.
    pub fn open(config: &AzureConfig) -> Result<Arc<ArmResources>, OpenError> {
        let (http, credentials) = connect(config)?;
        Ok(Arc::new(ArmResources {
            arm: arm_client(config, http, credentials)?,
            poll_interval: config.poll_interval,
        }))
    }

    /// The client: its counters, for tests.
    pub fn arm(&self) -> &ArmClient {
        &self.arm
    }

    async fn write(&self, request: &ResourceRequest, path: &str) -> Result<Answer, AzureError> {
        let method = match request.method {
            Method::Put => HttpMethod::PUT,
            Method::Patch => HttpMethod::PATCH,
            Method::Delete => HttpMethod::DELETE,
            _ => HttpMethod::POST,
        };
        let idempotent = matches!(request.method, Method::Put | Method::Delete);
        let request_id = uuid::Uuid::now_v7().to_string();
        let policy = self.arm.retry_policy();
        let shown = shown(request);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let wait = match self
                .arm
                .write(method.clone(), path, request.body.as_ref(), &request_id)
                .await
            {
                Ok(answer) => return Ok(answer),
                Err(PostError::Refused(e)) => return Err(of_arm(&shown, e)),
                Err(PostError::NotStarted(wait)) if attempt < policy.attempts => wait,
                Err(PostError::Unknown { retry_after, .. })
                    if idempotent && attempt < policy.attempts =>
                {
                    retry_after
                }
                Err(PostError::NotStarted(_)) => {
                    return Err(AzureError::Unavailable {
                        message: format!(
                            "{shown}: ARM throttled it or took no connection {attempt} times; \
                             nothing was applied"
                        ),
                    })
                }
                Err(PostError::Unknown { reason, .. }) if idempotent => {
                    return Err(AzureError::Unavailable {
                        message: format!("{shown}: {reason} after {attempt} attempts"),
                    })
                }
                Err(PostError::Unknown { reason, .. }) => {
                    return Err(AzureError::OutcomeUnknown {
                        message: format!(
                            "{shown}: {reason}; ARM may have applied it, and a {} is not sent \
                             twice: find out in Azure whether it took effect",
                            request.method
                        ),
                    })
                }
            };
            self.arm.note_retry();
            tokio::time::sleep(policy.wait(attempt, wait)).await;
        }
    }

    /// The long-running operation `answer` started, followed to its end:
    /// ARM's final answer.
    async fn follow(
        &self,
        request: &ResourceRequest,
        path: &str,
        answer: Answer,
    ) -> Result<Answer, AzureError> {
        let shown = shown(request);
        let arm = |e| of_arm(&shown, e);
        if !matches!(answer.status, 201 | 202) {
            return Ok(answer);
        }
        if let Some(status_url) = answer.header("azure-asyncoperation").map(str::to_string) {
            let mut wait = answer.retry_after();
            for _ in 0..MAX_POLLS {
                tokio::time::sleep(wait.unwrap_or(self.poll_interval)).await;
                let poll = self.arm.get(&status_url).await.map_err(arm)?;
                let body: serde_json::Value = poll.json().map_err(arm)?;
                let status = body["status"].as_str().unwrap_or("InProgress");
                if status.eq_ignore_ascii_case("Succeeded") {
                    return match request.method {
                        Method::Put | Method::Patch => self.arm.get(path).await.map_err(arm),
                        _ => match answer.header("location") {
                            Some(location) => self.arm.get(location).await.map_err(arm),
                            None => Ok(poll),
                        },
                    };
                }
                if status.eq_ignore_ascii_case("Failed") || status.eq_ignore_ascii_case("Canceled")
                {
                    return Err(AzureError::Failed {
                        message: format!(
                            "{shown}: its operation ended {status}: {}",
                            body["error"]["message"].as_str().unwrap_or("(no message)")
                        ),
                    });
                }
                wait = poll.retry_after();
            }
        } else if let Some(location) = answer.header("location").map(str::to_string) {
            let mut last = answer;
            for _ in 0..MAX_POLLS {
                if last.status != 202 {
                    return Ok(last);
                }
                tokio::time::sleep(last.retry_after().unwrap_or(self.poll_interval)).await;
                last = self.arm.get(&location).await.map_err(arm)?;
            }
        } else {
            return Ok(answer);
        }
        Err(AzureError::Unavailable {
            message: format!("{shown}: its operation did not end in {MAX_POLLS} polls"),
        })
    }
}

#[async_trait::async_trait]
impl Resources for ArmResources {
    async fn send(&self, request: &ResourceRequest) -> Result<ResourceResponse, AzureError> {
        // The host checked both: a resource id without a query, an
        // api-version of letters, digits, `-` and `.`.
        let path = format!(
            "{}?api-version={}",
            request.resource_id, request.api_version
        );
        let answer = if request.method.is_read() {
            self.arm
                .get(&path)
                .await
                .map_err(|e| of_arm(&shown(request), e))?
        } else {
            let answer = self.write(request, &path).await?;
            self.follow(request, &path, answer).await?
        };
        Ok(ResourceResponse {
            status: answer.status,
            body: String::from_utf8_lossy(&answer.body).into_owned(),
        })
    }
}

/// `PUT /subscriptions/...`, as messages show a request.
fn shown(request: &ResourceRequest) -> String {
    format!("{} {}", request.method, request.resource_id)
}

/// What the runbook is told of an ARM error.
fn of_arm(shown: &str, error: ArmError) -> AzureError {
    match error {
        ArmError::Status {
            status,
            code,
            message,
        } => AzureError::Status {
            status,
            code,
            message,
        },
        ArmError::Unavailable(why) => AzureError::Unavailable {
            message: format!("{shown}: {why}"),
        },
        other => AzureError::Unavailable {
            message: format!("{shown}: {other}"),
        },
    }
}
