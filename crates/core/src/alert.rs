//! Azure Monitor's common alert schema (`schemaId:
//! azureMonitorCommonAlertSchema`): the essentials, typed, and what a health
//! event's `alertContext` says of its resource. The rest of the payload
//! (`alertContext`, `customProperties`) depends on the signal and reaches the
//! runbook untouched, in the request body.
//!
//! Activity-log alerts are stateless: a Resource Health or Service Health
//! alert always arrives `Fired`, and only its event says whether the
//! resource recovered: Resource Health's operation
//! (`Microsoft.Resourcehealth/healthevent/{Activated|InProgress|Pending|Updated|Resolved}/action`),
//! its `status` (`Active`, `In Progress`, `Updated`, `Resolved`) and
//! `properties.currentHealthStatus` (`Available` once it is back); Service
//! Health's `status` (`Active`, `Resolved`) and `properties.stage`
//! (`Active`, `Planned`, `Resolved`, `RCA`). [`Alert::event_status`] is the
//! verdict.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The schema id of a common-alert-schema payload.
pub const SCHEMA_ID: &str = "azureMonitorCommonAlertSchema";

/// An alert's essentials. Serialised with Azure's names, in job specs too.
///
/// Azure's enums are read leniently: every spelling Azure is known to send
/// is accepted (`Activity Log` in most payloads, `ActivityLog` in Service
/// Health ones), and a value this version does not know becomes `Unknown`
/// rather than refusing the delivery: Azure does not retry a 400, so a
/// refused alert would be lost. The value as sent is named by
/// [`parse_alert`], for the record of the delivery, and stays in the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// The alert's ARM id: the same for every delivery of one alert.
    pub alert_id: String,
    pub alert_rule: String,
    #[serde(deserialize_with = "lenient")]
    pub severity: Severity,
    #[serde(deserialize_with = "lenient")]
    pub signal_type: SignalType,
    #[serde(deserialize_with = "lenient")]
    pub monitor_condition: MonitorCondition,
    #[serde(default)]
    pub monitoring_service: String,
    /// ARM ids of the resources the alert is about.
    #[serde(rename = "alertTargetIDs", default)]
    pub target_ids: Vec<String>,
    /// Azure sends some times without a zone (Service Health's
    /// `2021-11-17T05:34:48.0623172`); they are UTC.
    #[serde(rename = "firedDateTime", deserialize_with = "utc")]
    pub fired: DateTime<Utc>,
    #[serde(
        rename = "resolvedDateTime",
        default,
        deserialize_with = "optional_utc"
    )]
    pub resolved: Option<DateTime<Utc>>,
    #[serde(default)]
    pub description: Option<String>,
    /// What a health event (Resource Health, Service Health) says of its
    /// resource, from the `alertContext`; `None` for every other alert.
    #[serde(
        default,
        deserialize_with = "optional_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub event_status: Option<EventStatus>,
}

/// An alert as read from a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedAlert {
    pub alert: Alert,
    /// The enum values of the payload that this version does not know, as
    /// ``field `value` `` (escaped, at most 64 characters of the value).
    pub unrecognised: Vec<String>,
}

/// An enum of the common alert schema, read leniently (see [`Alert`]).
/// `Unknown` is never read from a rules file (`skip_deserializing`): a rule
/// names values Azure sends, and an unknown one matches no rule that names
/// specific values.
trait AzureEnum: Sized {
    /// The payload's field, for [`ParsedAlert::unrecognised`].
    const FIELD: &'static str;
    const UNKNOWN: Self;
    /// The value of a spelling folded by [`fold`].
    fn from_folded(folded: &str) -> Option<Self>;
}

/// Case, spaces, `-` and `_` differ between Azure's payloads
/// (`Activity Log`, `ActivityLog`); they never distinguish two values.
fn fold(value: &str) -> String {
    value
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '_'))
        .flat_map(char::to_lowercase)
        .collect()
}

fn known<T: AzureEnum>(value: &str) -> Option<T> {
    T::from_folded(&fold(value))
}

fn lenient<'de, D: serde::Deserializer<'de>, T: AzureEnum>(d: D) -> Result<T, D::Error> {
    let value = String::deserialize(d)?;
    Ok(known(&value).unwrap_or(T::UNKNOWN))
}

fn optional_lenient<'de, D: serde::Deserializer<'de>, T: AzureEnum>(
    d: D,
) -> Result<Option<T>, D::Error> {
    let value = Option::<String>::deserialize(d)?;
    Ok(value.map(|v| known(&v).unwrap_or(T::UNKNOWN)))
}

/// An RFC 3339 time, or one without a zone, taken as UTC.
fn parse_utc(value: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|t| t.and_utc())
        })
}

fn utc<'de, D: serde::Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let value = String::deserialize(d)?;
    parse_utc(&value).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "`{}` is not a date and time (RFC 3339, e.g. 2026-01-02T03:04:05Z)",
            value.escape_debug()
        ))
    })
}

fn optional_utc<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(value) => utc(serde::de::value::StringDeserializer::new(value)).map(Some),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    Sev0,
    Sev1,
    Sev2,
    Sev3,
    Sev4,
    /// A severity this version does not know.
    #[serde(skip_deserializing)]
    Unknown,
}

impl AzureEnum for Severity {
    const FIELD: &'static str = "severity";
    const UNKNOWN: Self = Severity::Unknown;
    fn from_folded(folded: &str) -> Option<Self> {
        Some(match folded {
            "sev0" => Severity::Sev0,
            "sev1" => Severity::Sev1,
            "sev2" => Severity::Sev2,
            "sev3" => Severity::Sev3,
            "sev4" => Severity::Sev4,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SignalType {
    Metric,
    Log,
    /// `Activity Log`; Service Health payloads spell it `ActivityLog`.
    #[serde(rename = "Activity Log", alias = "ActivityLog")]
    ActivityLog,
    /// A signal type this version does not know.
    #[serde(skip_deserializing)]
    Unknown,
}

impl AzureEnum for SignalType {
    const FIELD: &'static str = "signalType";
    const UNKNOWN: Self = SignalType::Unknown;
    fn from_folded(folded: &str) -> Option<Self> {
        Some(match folded {
            "metric" => SignalType::Metric,
            "log" => SignalType::Log,
            "activitylog" => SignalType::ActivityLog,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MonitorCondition {
    Fired,
    Resolved,
    /// A condition this version does not know: it starts nothing (only a
    /// `Fired` alert does), and is recorded.
    #[serde(skip_deserializing)]
    Unknown,
}

impl AzureEnum for MonitorCondition {
    const FIELD: &'static str = "monitorCondition";
    const UNKNOWN: Self = MonitorCondition::Unknown;
    fn from_folded(folded: &str) -> Option<Self> {
        Some(match folded {
            "fired" => MonitorCondition::Fired,
            "resolved" => MonitorCondition::Resolved,
            _ => return None,
        })
    }
}

/// What a health event says of its resource (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventStatus {
    /// The resource or service is impaired (activated, in progress,
    /// pending, updated and still not available; an incident or a
    /// maintenance under way).
    Active,
    /// It recovered: the event resolved, the resource is `Available` again,
    /// the incident is mitigated (its review, `RCA`, is out).
    Resolved,
    /// A health event whose status this version does not know: it starts
    /// nothing (it may be a recovery), and is recorded.
    #[serde(skip_deserializing)]
    Unknown,
}

impl AzureEnum for EventStatus {
    const FIELD: &'static str = "alertContext.status";
    const UNKNOWN: Self = EventStatus::Unknown;
    fn from_folded(folded: &str) -> Option<Self> {
        Some(match folded {
            "active" => EventStatus::Active,
            "resolved" => EventStatus::Resolved,
            _ => return None,
        })
    }
}

impl MonitorCondition {
    pub fn as_str(self) -> &'static str {
        match self {
            MonitorCondition::Fired => "Fired",
            MonitorCondition::Resolved => "Resolved",
            MonitorCondition::Unknown => "Unknown",
        }
    }
}

impl Alert {
    /// The VM names the alert targets: the last segment of each target id,
    /// in lowercase (ARM names are case-insensitive).
    pub fn target_names(&self) -> impl Iterator<Item = String> + '_ {
        self.target_ids.iter().filter_map(|id| {
            id.trim_end_matches('/')
                .rsplit('/')
                .next()
                .filter(|n| !n.is_empty())
                .map(str::to_ascii_lowercase)
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    schema_id: Option<String>,
}

/// The payload, with its essentials read as `E`.
#[derive(Deserialize)]
struct Payload<E> {
    data: Data<E>,
}

#[derive(Deserialize)]
struct Data<E> {
    essentials: E,
}

/// The essentials' enums as sent, to name the values this version does
/// not know.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SentEnums {
    severity: String,
    signal_type: String,
    monitor_condition: String,
}

/// The parts of an activity-log `alertContext` that say what a health
/// event is; any JSON (Service Health sends numbers and nulls elsewhere).
#[derive(Deserialize)]
struct ContextPayload {
    data: ContextData,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContextData {
    #[serde(default)]
    alert_context: Option<HealthContext>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HealthContext {
    #[serde(default)]
    operation_name: serde_json::Value,
    #[serde(default)]
    status: serde_json::Value,
    #[serde(default)]
    properties: Option<HealthProperties>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HealthProperties {
    #[serde(default)]
    current_health_status: serde_json::Value,
    #[serde(default)]
    stage: serde_json::Value,
}

/// The verdict on a health event (see the module docs), with its status as
/// sent; `None` when the alert is no health event.
fn health_event(alert: &Alert, body: &[u8]) -> Option<(EventStatus, String)> {
    let service = fold(&alert.monitoring_service);
    if alert.signal_type != SignalType::ActivityLog
        || !matches!(service.as_str(), "resourcehealth" | "servicehealth")
    {
        return None;
    }
    let payload: ContextPayload = serde_json::from_slice(body).ok()?;
    let context = payload.data.alert_context?;
    let text = |v: &serde_json::Value| v.as_str().map(fold).unwrap_or_default();
    let operation = text(&context.operation_name);
    // `microsoft.resourcehealth/healthevent/<verb>/action`
    let verb = operation
        .strip_prefix("microsoft.resourcehealth/healthevent/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default();
    let status = text(&context.status);
    let (health, stage) = context
        .properties
        .map(|p| (text(&p.current_health_status), text(&p.stage)))
        .unwrap_or_default();
    let recovered = verb == "resolved"
        || status == "resolved"
        || health == "available"
        || matches!(stage.as_str(), "resolved" | "rca");
    let impaired = matches!(verb, "activated" | "inprogress" | "pending" | "updated")
        || matches!(status.as_str(), "active" | "inprogress" | "updated");
    let verdict = if recovered {
        EventStatus::Resolved
    } else if impaired {
        EventStatus::Active
    } else {
        EventStatus::Unknown
    };
    let sent = context.status.as_str().unwrap_or_default().to_string();
    Some((verdict, sent))
}

/// How much of an unknown value is recorded.
const MAX_RECORDED: usize = 64;

fn note_unknown<T: AzureEnum>(value: &str, notes: &mut Vec<String>) {
    if known::<T>(value).is_none() {
        let shown: String = value.chars().take(MAX_RECORDED).collect();
        notes.push(format!("{} `{}`", T::FIELD, shown.escape_debug()));
    }
}

/// Why a body that says it is a common-alert-schema payload is not one.
#[derive(Debug, thiserror::Error)]
#[error("the body says it is an Azure Monitor common-alert-schema payload but is not one: {0}")]
pub struct MalformedAlert(String);

/// The alert in `body`: `None` when the body is not a common-alert-schema
/// payload at all (any other body, JSON or not); an error when it says it is
/// one (`schemaId`) but its essentials are missing or mistyped. An enum
/// value this version does not know is not an error (see [`Alert`]).
pub fn parse_alert(body: &[u8]) -> Result<Option<ParsedAlert>, MalformedAlert> {
    let Ok(envelope) = serde_json::from_slice::<Envelope>(body) else {
        return Ok(None);
    };
    if envelope.schema_id.as_deref() != Some(SCHEMA_ID) {
        return Ok(None);
    }
    let malformed = |e: serde_json::Error| MalformedAlert(e.to_string());
    let payload: Payload<Alert> = serde_json::from_slice(body).map_err(malformed)?;
    let mut alert = payload.data.essentials;
    if alert.alert_id.trim().is_empty() {
        return Err(MalformedAlert("`data.essentials.alertId` is empty".into()));
    }
    let sent: Payload<SentEnums> = serde_json::from_slice(body).map_err(malformed)?;
    let sent = sent.data.essentials;
    let mut unrecognised = Vec::new();
    note_unknown::<Severity>(&sent.severity, &mut unrecognised);
    note_unknown::<SignalType>(&sent.signal_type, &mut unrecognised);
    note_unknown::<MonitorCondition>(&sent.monitor_condition, &mut unrecognised);
    // Whatever essentials said of it: the event is read from its context.
    alert.event_status = None;
    if let Some((status, sent)) = health_event(&alert, body) {
        if status == EventStatus::Unknown {
            note_unknown::<EventStatus>(&sent, &mut unrecognised);
        }
        alert.event_status = Some(status);
    }
    Ok(Some(ParsedAlert {
        alert,
        unrecognised,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(condition: &str) -> String {
        serde_json::json!({
            "schemaId": "azureMonitorCommonAlertSchema",
            "data": {
                "essentials": {
                    "alertId": "/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/a1",
                    "alertRule": "primary-down",
                    "severity": "Sev1",
                    "signalType": "Activity Log",
                    "monitorCondition": condition,
                    "monitoringService": "Platform",
                    "alertTargetIDs": ["/subscriptions/s/resourcegroups/rg/providers/microsoft.compute/virtualmachines/WEB-01"],
                    "configurationItems": ["web-01"],
                    "originAlertId": "x",
                    "firedDateTime": "2026-01-02T03:04:05.678Z",
                    "description": null
                },
                "alertContext": {},
                "customProperties": null
            }
        })
        .to_string()
    }

    #[test]
    fn essentials_are_typed() {
        let alert = parse_alert(payload("Fired").as_bytes())
            .unwrap()
            .unwrap()
            .alert;
        assert_eq!(alert.severity, Severity::Sev1);
        assert_eq!(alert.signal_type, SignalType::ActivityLog);
        assert_eq!(alert.monitor_condition, MonitorCondition::Fired);
        assert_eq!(alert.target_names().collect::<Vec<_>>(), ["web-01"]);
        assert_eq!(alert.fired.timestamp_millis(), 1_767_323_045_678);
        assert_eq!(alert.description, None);
    }

    #[test]
    fn other_bodies_are_not_alerts() {
        assert_eq!(parse_alert(b"not json").unwrap(), None);
        assert_eq!(parse_alert(b"{\"hello\":1}").unwrap(), None);
        assert_eq!(parse_alert(b"").unwrap(), None);
    }

    #[test]
    fn a_broken_alert_is_an_error() {
        let body = br#"{"schemaId":"azureMonitorCommonAlertSchema","data":{}}"#;
        assert!(parse_alert(body).is_err());
        let body = payload("Fired").replace("2026-01-02T03:04:05.678Z", "yesterday");
        let error = parse_alert(body.as_bytes()).unwrap_err().to_string();
        assert!(error.contains("`yesterday` is not a date"), "{error}");
    }

    #[test]
    fn every_spelling_azure_sends_is_read_and_unknown_values_are_kept() {
        // Service Health: `ActivityLog`, and a time without a zone.
        let body = payload("Fired")
            .replace("Activity Log", "ActivityLog")
            .replace("2026-01-02T03:04:05.678Z", "2021-11-17T05:34:48.0623172");
        let parsed = parse_alert(body.as_bytes()).unwrap().unwrap();
        assert_eq!(parsed.alert.signal_type, SignalType::ActivityLog);
        assert_eq!(parsed.alert.fired.timestamp(), 1_637_127_288);
        assert!(parsed.unrecognised.is_empty());

        let body = payload("Sideways")
            .replace("Sev1", "Sev9")
            .replace("Activity Log", r"Tea\nLeaves");
        let ParsedAlert {
            alert,
            unrecognised,
        } = parse_alert(body.as_bytes()).unwrap().unwrap();
        assert_eq!(alert.severity, Severity::Unknown);
        assert_eq!(alert.signal_type, SignalType::Unknown);
        assert_eq!(alert.monitor_condition, MonitorCondition::Unknown);
        assert_eq!(
            unrecognised,
            [
                "severity `Sev9`",
                r"signalType `Tea\nLeaves`",
                "monitorCondition `Sideways`"
            ]
        );
        // A job spec keeps `Unknown`, and reads it back.
        let spec = serde_json::to_string(&alert).unwrap();
        let back: Alert = serde_json::from_str(&spec).unwrap();
        assert_eq!(back.signal_type, SignalType::Unknown);
    }

    /// Microsoft's Resource Health and Service Health samples, with the
    /// statuses a recovery sends.
    #[test]
    fn a_health_event_says_whether_its_resource_recovered() {
        let health = |service: &str, context: serde_json::Value| {
            let mut body: serde_json::Value = serde_json::from_str(&payload("Fired")).unwrap();
            body["data"]["essentials"]["monitoringService"] = service.into();
            body["data"]["alertContext"] = context;
            parse_alert(body.to_string().as_bytes()).unwrap().unwrap()
        };
        let resource = |verb: &str, status: &str, current: &str| {
            let context = serde_json::json!({
                "channels": "Admin, Operation", "eventSource": "ResourceHealth", "level": "Informational",
                "operationName": format!("Microsoft.Resourcehealth/healthevent/{verb}/action"),
                "properties": { "title": "t", "details": null, "currentHealthStatus": current,
                                "previousHealthStatus": "Available", "type": "Downtime", "cause": "UserInitiated" },
                "status": status
            });
            health("Resource Health", context).alert.event_status
        };
        assert_eq!(
            resource("Activated", "Active", "Unavailable"),
            Some(EventStatus::Active)
        );
        assert_eq!(
            resource("InProgress", "In Progress", "Degraded"),
            Some(EventStatus::Active)
        );
        assert_eq!(
            resource("Updated", "Updated", "Available"),
            Some(EventStatus::Resolved)
        );
        assert_eq!(
            resource("Resolved", "Resolved", "Available"),
            Some(EventStatus::Resolved)
        );

        let service = |status: &str, stage: &str| {
            let context = serde_json::json!({
                "authorization": null, "channels": 1, "eventSource": 2, "level": 3,
                "operationName": "Microsoft.ServiceHealth/incident/action",
                "properties": { "title": "t", "incidentType": "Incident", "stage": stage },
                "status": status, "subStatus": null
            });
            health("ServiceHealth", context)
        };
        assert_eq!(
            service("Active", "Active").alert.event_status,
            Some(EventStatus::Active)
        );
        assert_eq!(
            service("Resolved", "Resolved").alert.event_status,
            Some(EventStatus::Resolved)
        );
        assert_eq!(
            service("Active", "RCA").alert.event_status,
            Some(EventStatus::Resolved)
        );
        let odd = service("Sideways", "Odd");
        assert_eq!(odd.alert.event_status, Some(EventStatus::Unknown));
        assert_eq!(odd.unrecognised, ["alertContext.status `Sideways`"]);

        // Not a health event: a metric alert, an administrative activity log.
        assert_eq!(
            parse_alert(payload("Fired").as_bytes())
                .unwrap()
                .unwrap()
                .alert
                .event_status,
            None
        );
        let admin = health(
            "Activity Log - Administrative",
            serde_json::json!({"operationName": "Microsoft.Compute/virtualMachines/restart/action", "status": "Succeeded"}),
        );
        assert_eq!(admin.alert.event_status, None);
        // A job spec keeps it.
        let spec = serde_json::to_string(&odd.alert).unwrap();
        let back: Alert = serde_json::from_str(&spec).unwrap();
        assert_eq!(back.event_status, Some(EventStatus::Unknown));
    }

    #[test]
    fn a_rules_file_cannot_name_unknown() {
        assert!(serde_json::from_str::<SignalType>("\"Unknown\"").is_err());
        assert_eq!(
            serde_json::from_str::<SignalType>("\"ActivityLog\"").unwrap(),
            SignalType::ActivityLog
        );
    }
}
