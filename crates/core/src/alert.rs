//! Azure Monitor's common alert schema (`schemaId:
//! azureMonitorCommonAlertSchema`): the essentials, typed. The rest of the
//! payload (`alertContext`, `customProperties`) depends on the signal and
//! reaches the runbook untouched, in the request body.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The schema id of a common-alert-schema payload.
pub const SCHEMA_ID: &str = "azureMonitorCommonAlertSchema";

/// An alert's essentials. Serialised with Azure's names, in job specs too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// The alert's ARM id: the same for every delivery of one alert.
    pub alert_id: String,
    pub alert_rule: String,
    pub severity: Severity,
    pub signal_type: SignalType,
    pub monitor_condition: MonitorCondition,
    #[serde(default)]
    pub monitoring_service: String,
    /// ARM ids of the resources the alert is about.
    #[serde(rename = "alertTargetIDs", default)]
    pub target_ids: Vec<String>,
    #[serde(rename = "firedDateTime")]
    pub fired: DateTime<Utc>,
    #[serde(rename = "resolvedDateTime", default)]
    pub resolved: Option<DateTime<Utc>>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    Sev0,
    Sev1,
    Sev2,
    Sev3,
    Sev4,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SignalType {
    Metric,
    Log,
    #[serde(rename = "Activity Log")]
    ActivityLog,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MonitorCondition {
    Fired,
    Resolved,
}

impl MonitorCondition {
    pub fn as_str(self) -> &'static str {
        match self {
            MonitorCondition::Fired => "Fired",
            MonitorCondition::Resolved => "Resolved",
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

#[derive(Deserialize)]
struct Payload {
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    essentials: Alert,
}

/// Why a body that says it is a common-alert-schema payload is not one.
#[derive(Debug, thiserror::Error)]
#[error("the body says it is an Azure Monitor common-alert-schema payload but is not one: {0}")]
pub struct MalformedAlert(String);

/// The alert in `body`: `None` when the body is not a common-alert-schema
/// payload at all (any other body, JSON or not); an error when it says it is
/// one (`schemaId`) but its essentials are missing or mistyped.
pub fn parse_alert(body: &[u8]) -> Result<Option<Alert>, MalformedAlert> {
    let Ok(envelope) = serde_json::from_slice::<Envelope>(body) else {
        return Ok(None);
    };
    if envelope.schema_id.as_deref() != Some(SCHEMA_ID) {
        return Ok(None);
    }
    let payload: Payload =
        serde_json::from_slice(body).map_err(|e| MalformedAlert(e.to_string()))?;
    let alert = payload.data.essentials;
    if alert.alert_id.trim().is_empty() {
        return Err(MalformedAlert("`data.essentials.alertId` is empty".into()));
    }
    Ok(Some(alert))
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
        let alert = parse_alert(payload("Fired").as_bytes()).unwrap().unwrap();
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
        let body = payload("Sideways");
        assert!(parse_alert(body.as_bytes()).is_err());
        let body = br#"{"schemaId":"azureMonitorCommonAlertSchema","data":{}}"#;
        assert!(parse_alert(body).is_err());
    }
}
