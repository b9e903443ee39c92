//! Webhooks and what they receive: signed messages and their retries,
//! alerts, the jobs a delivery creates.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

use super::fixtures::{assert_stamped, spec, Must, RUNBOOK};
use super::Backend;
use drbook_core::job::{JobSpec, JobStatus, NewJob, Trigger};
use drbook_core::module::digest;
use drbook_core::store::{JobStore, NewWebhookRow, OnBusy, StoreError};
use drbook_core::webhook::{
    AlertRecord, Message, NewDelivery, Recorded, StoredWebhook, WebhookData, WebhookModule,
};

/// The module webhooks in this file run.
pub(crate) const HOOK_MODULE: &[u8] = b"\0asm webhook module";

fn at_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// A webhook named `name`, its times in whole milliseconds (what stores
/// keep).
pub(crate) fn webhook(name: &str) -> StoredWebhook {
    StoredWebhook {
        name: name.to_string(),
        token_hash: format!("{:064x}", name.len()),
        signing_secret: Some("signing secret".to_string()),
        target: json!({"runbook": RUNBOOK, "rules": [{"when": "Fired", "run": "planned"}]}),
        enabled: true,
        expires: at_ms(1_900_000_000_000),
        created: at_ms(1_700_000_000_000),
        created_by: "alice".to_string(),
        last_used: None,
    }
}

/// Creates `webhook` running [`HOOK_MODULE`]; whether it was created.
pub(crate) async fn create_webhook(store: &dyn JobStore, webhook: &StoredWebhook) -> bool {
    let digest = digest(HOOK_MODULE);
    let modules = vec![WebhookModule {
        digest: &digest,
        bytes: HOOK_MODULE,
    }];
    let row = NewWebhookRow { webhook, modules };
    store.create_webhook(row).await.must("create_webhook")
}

/// A spec of a job webhook `name` starts, on the suite's plan.
pub(crate) fn plan_spec(name: &str) -> JobSpec {
    spec(Trigger::Webhook {
        request: WebhookData {
            name: name.to_string(),
            body: "{}".to_string(),
            headers: vec![("content-type".to_string(), "application/json".to_string())],
        },
        alert: None,
    })
}

/// A spec of a job webhook `name` starts, on a plan of its own (never busy).
pub(crate) fn hook_spec(name: &str) -> JobSpec {
    let mut spec = plan_spec(name);
    spec.plan.name = format!("plan of {}", spec.job_id);
    spec
}

/// A delivery to webhook `name` of `alert`, starting jobs of `specs`.
pub(crate) struct Delivery<'a> {
    pub(crate) name: &'a str,
    pub(crate) message: Option<Message<'a>>,
    pub(crate) alert: Option<(&'a str, &'a str)>,
    pub(crate) on_busy: OnBusy,
    pub(crate) specs: &'a [JobSpec],
}

impl<'a> Delivery<'a> {
    pub(crate) fn new(
        name: &'a str,
        alert: Option<(&'a str, &'a str)>,
        specs: &'a [JobSpec],
    ) -> Self {
        Delivery {
            name,
            message: None,
            alert,
            on_busy: OnBusy::Attach,
            specs,
        }
    }

    pub(crate) async fn record(&self, store: &dyn JobStore) -> Result<Recorded, StoreError> {
        let digest = digest(HOOK_MODULE);
        let jobs = self
            .specs
            .iter()
            .map(|spec| NewJob {
                digest: &digest,
                runbook: RUNBOOK,
                spec,
            })
            .collect();
        let delivery = NewDelivery {
            webhook: self.name,
            message: self.message,
            alert: self.alert,
            decision: "started by rule planned",
            on_busy: self.on_busy,
            jobs,
        };
        store.record_delivery(delivery).await
    }
}

/// Records a delivery of `alert` to webhook `name` that starts jobs of
/// `specs`.
pub(crate) async fn deliver(
    store: &dyn JobStore,
    name: &str,
    alert: Option<(&str, &str)>,
    specs: &[JobSpec],
) -> Result<Recorded, StoreError> {
    Delivery::new(name, alert, specs).record(store).await
}

/// A recorded delivery that created (or found) `job_ids` on free plans.
pub(crate) fn started(job_ids: Vec<String>, duplicate: bool) -> Recorded {
    Recorded {
        job_ids,
        duplicate,
        busy: None,
    }
}

fn job_ids(specs: &[JobSpec]) -> Vec<String> {
    specs.iter().map(|s| s.job_id.clone()).collect()
}

/// A webhook is created once per name (a second of that name is refused
/// and changes nothing), read back as created, listed by name, enabled and
/// disabled, and deleted once.
pub async fn webhooks_are_created_once_listed_enabled_and_deleted(backend: &impl Backend) {
    let store = backend.open().await;
    assert!(store.webhooks().await.must("webhooks").is_empty());
    for name in ["b-hook", "a-hook", "c-hook"] {
        assert!(
            create_webhook(&*store, &webhook(name)).await,
            "{name} is new"
        );
    }
    let impostor = StoredWebhook {
        token_hash: "f".repeat(64),
        created_by: "mallory".to_string(),
        ..webhook("a-hook")
    };
    assert!(
        !create_webhook(&*store, &impostor).await,
        "a name is taken once"
    );

    let reader = backend.open().await;
    let (reader, writer) = (&*reader, &*store);
    let read = |name| async move { reader.webhook(name).await.must("webhook") };
    assert_eq!(
        read("a-hook").await,
        Some(webhook("a-hook")),
        "read as first created"
    );
    assert_eq!(read("no-hook").await, None);
    let names: Vec<String> = reader
        .webhooks()
        .await
        .must("webhooks")
        .into_iter()
        .map(|w| w.name)
        .collect();
    assert_eq!(names, ["a-hook", "b-hook", "c-hook"], "by name");

    let enable = |name, enabled| async move {
        writer
            .set_webhook_enabled(name, enabled)
            .await
            .must("set_webhook_enabled")
    };
    assert!(enable("b-hook", false).await);
    assert_eq!(read("b-hook").await.map(|w| w.enabled), Some(false));
    assert!(enable("b-hook", true).await);
    assert_eq!(read("b-hook").await.map(|w| w.enabled), Some(true));
    assert!(!enable("no-hook", true).await, "no such webhook");

    assert!(store.delete_webhook("b-hook").await.must("delete_webhook"));
    assert!(
        !store.delete_webhook("b-hook").await.must("delete_webhook"),
        "once"
    );
    assert_eq!(read("b-hook").await, None);
    assert_eq!(reader.webhooks().await.must("webhooks").len(), 2);
}

/// A signed delivery's message is answered once: a retry (the same id and
/// body) gets the first answer, marked duplicate, and creates nothing; the
/// same id with another body is refused and creates nothing; an id recorded
/// before a delivery's `forget_before` is forgotten.
pub async fn a_retried_message_gets_the_first_answer(backend: &impl Backend) {
    let store = backend.open().await;
    assert!(create_webhook(&*store, &webhook("hook")).await);
    let t0 = Utc::now();
    let message = |id, body_sha256, forget_before| Message {
        id,
        body_sha256,
        forget_before,
    };
    let specs = [hook_spec("hook")];
    let first = Delivery {
        message: Some(message("message-1", "body-a", t0 - TimeDelta::minutes(5))),
        ..Delivery::new("hook", None, &specs)
    };
    let recorded = first.record(&*store).await.must("deliver");
    assert_eq!(recorded, started(job_ids(&specs), false));

    let reader = backend.open().await;
    let again = [hook_spec("hook")];
    let retry = Delivery {
        specs: &again,
        ..first
    };
    let retried = retry.record(&*reader).await.must("a retry");
    assert_eq!(retried, started(job_ids(&specs), true), "the first answer");
    let other_body = Delivery {
        message: Some(message("message-1", "body-b", t0 - TimeDelta::minutes(5))),
        ..retry
    };
    assert!(
        matches!(
            other_body.record(&*reader).await,
            Err(StoreError::MessageReused { message_id }) if message_id == "message-1"
        ),
        "another body under a seen id"
    );
    let another = Delivery {
        message: Some(message("message-2", "body-b", t0 - TimeDelta::minutes(5))),
        ..retry
    };
    assert_eq!(
        another.record(&*reader).await.must("another message"),
        started(job_ids(&again), false)
    );
    assert_eq!(reader.list(None, 10).await.must("list").len(), 2);

    let later = [hook_spec("hook")];
    let forgotten = Delivery {
        message: Some(message(
            "message-1",
            "body-b",
            Utc::now() + TimeDelta::seconds(1),
        )),
        specs: &later,
        ..retry
    };
    assert_eq!(
        forgotten.record(&*reader).await.must("a forgotten id"),
        started(job_ids(&later), false),
        "forgotten once recorded before forget_before"
    );
}

/// A delivery creates its jobs (`New`, pinned to the webhook's module); the
/// same alert (id and condition) delivered again creates nothing and
/// returns the first delivery's jobs, marked duplicate; another condition
/// of the alert, or a delivery with no alert, is new.
pub async fn an_alert_is_recorded_once_with_its_jobs(backend: &impl Backend) {
    let store = backend.open().await;
    assert!(create_webhook(&*store, &webhook("hook")).await);
    let fired = Some(("alert-1", "Fired"));
    let specs = [hook_spec("hook"), hook_spec("hook")];
    let recorded = deliver(&*store, "hook", fired, &specs)
        .await
        .must("deliver");
    let first = started(job_ids(&specs), false);
    assert_eq!(recorded, first);
    let reader = backend.open().await;
    for spec in &specs {
        let job = reader.get(&spec.job_id).await.must("a delivered job");
        assert_eq!((job.state, &job.spec), (JobStatus::New, spec));
        assert_eq!(job.trigger, "webhook:hook");
        assert_eq!(reader.module(&job).await.must("module"), HOOK_MODULE);
    }

    let again = [hook_spec("hook")];
    let recorded = deliver(&*reader, "hook", fired, &again)
        .await
        .must("deliver");
    assert_eq!(
        recorded,
        Recorded {
            duplicate: true,
            ..first
        }
    );
    assert!(
        matches!(
            reader.get(&again[0].job_id).await,
            Err(StoreError::NoSuchJob { .. })
        ),
        "a duplicate creates no job"
    );
    assert_eq!(reader.list(None, 10).await.must("list").len(), 2);

    for alert in [Some(("alert-1", "Resolved")), None, None] {
        let specs = [hook_spec("hook")];
        let recorded = deliver(&*reader, "hook", alert, &specs)
            .await
            .must("deliver");
        let new = started(job_ids(&specs), false);
        assert_eq!(recorded, new, "a new delivery: {alert:?}");
    }
    assert_eq!(reader.list(None, 10).await.must("list").len(), 5);
}

/// A delivery is recorded with its jobs, or not at all: one whose second
/// job cannot be created (its id is taken) fails, leaving neither its first
/// job nor its alert, so that the alert delivered again is new.
pub async fn a_delivery_creates_its_jobs_atomically(backend: &impl Backend) {
    let store = backend.open().await;
    assert!(create_webhook(&*store, &webhook("hook")).await);
    let taken = hook_spec("hook");
    deliver(&*store, "hook", None, std::slice::from_ref(&taken))
        .await
        .must("deliver");
    let fired = Some(("alert-1", "Fired"));
    let clashing = [hook_spec("hook"), taken];
    // Queued: the taken job's plan is busy with it, and the job is created.
    let delivery = Delivery {
        on_busy: OnBusy::Queue,
        ..Delivery::new("hook", fired, &clashing)
    };
    assert!(
        delivery.record(&*store).await.is_err(),
        "a delivery creating a job whose id is taken"
    );
    let reader = backend.open().await;
    assert!(
        matches!(
            reader.get(&clashing[0].job_id).await,
            Err(StoreError::NoSuchJob { .. })
        ),
        "a failed delivery creates none of its jobs"
    );
    assert!(
        reader.alerts("hook", 10).await.must("alerts").is_empty(),
        "nor its alert"
    );
    let specs = [hook_spec("hook")];
    let recorded = deliver(&*reader, "hook", fired, &specs)
        .await
        .must("deliver");
    let new = started(job_ids(&specs), false);
    assert_eq!(recorded, new, "the alert was not recorded");
}

/// A webhook's alerts are listed newest first, up to a limit, as recorded
/// (what was decided, the jobs started); deleting the webhook deletes them,
/// and leaves their jobs.
pub async fn alerts_are_listed_newest_first_and_deleted_with_their_webhook(backend: &impl Backend) {
    let store = backend.open().await;
    for name in ["hook", "other-hook"] {
        assert!(create_webhook(&*store, &webhook(name)).await);
    }
    let before = Utc::now();
    let mut delivered = Vec::new();
    for alert in ["alert-c", "alert-a", "alert-b"] {
        let specs = [hook_spec("hook")];
        deliver(&*store, "hook", Some((alert, "Fired")), &specs)
            .await
            .must("deliver");
        // Back to back, within a millisecond most likely: newest first
        // holds all the same (and the ids are not in delivery order).
        delivered.push((alert, job_ids(&specs)));
    }
    let after = Utc::now();
    deliver(&*store, "other-hook", Some(("alert-z", "Fired")), &[])
        .await
        .must("deliver");

    let reader = backend.open().await;
    let alerts = reader.alerts("hook", 10).await.must("alerts");
    for alert in &alerts {
        assert_stamped(alert.received, before, after, "received");
    }
    let newest_first: Vec<AlertRecord> = delivered
        .iter()
        .rev()
        .zip(&alerts)
        .map(|((id, jobs), recorded)| AlertRecord {
            alert_id: id.to_string(),
            condition: "Fired".to_string(),
            decision: "started by rule planned".to_string(),
            job_ids: jobs.clone(),
            received: recorded.received,
        })
        .collect();
    assert_eq!(alerts, newest_first, "newest first, only this webhook's");
    let latest = reader.alerts("hook", 2).await.must("alerts");
    assert_eq!(latest, newest_first[..2], "the latest two");

    assert!(reader.delete_webhook("hook").await.must("delete_webhook"));
    assert!(reader.alerts("hook", 10).await.must("alerts").is_empty());
    assert!(
        create_webhook(&*reader, &webhook("hook")).await,
        "the name is free"
    );
    assert!(
        reader.alerts("hook", 10).await.must("alerts").is_empty(),
        "a new webhook of the name has none of the old one's alerts"
    );
    assert_eq!(
        reader.alerts("other-hook", 10).await.must("alerts").len(),
        1
    );
    for (_, jobs) in &delivered {
        reader
            .get(&jobs[0])
            .await
            .must("a deleted webhook's jobs stay");
    }
    let redelivered = [hook_spec("hook")];
    let recorded = deliver(&*reader, "hook", Some(("alert-a", "Fired")), &redelivered)
        .await
        .must("deliver");
    assert!(!recorded.duplicate, "its alerts are forgotten with it");
}
