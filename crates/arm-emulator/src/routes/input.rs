//! An action's input body as the simulator's request.

use super::path::Action;
use crate::error::ArmError;
use drbook_core::fabric::{Direction, OperationRequest, RecoveryPointChoice, SourceSiteOperations};
use serde_json::Value;

/// An action's input (`{"properties":{...}}`) as the simulator's request.
pub(super) fn parse_input(action: Action, input: &Value) -> Result<OperationRequest, ArmError> {
    let props = &input["properties"];
    let details = &props["providerSpecificDetails"];
    if let Some(kind) = details.get("instanceType") {
        if kind.as_str() != Some("A2A") {
            return Err(ArmError::bad_request(
                "InvalidProviderSpecificInput",
                format!("providerSpecificDetails.instanceType is {kind}; this vault protects Azure VMs: use \"A2A\""),
            ));
        }
    }
    let direction = || -> Result<Direction, ArmError> {
        match props["failoverDirection"].as_str() {
            Some(d) if d.eq_ignore_ascii_case("PrimaryToRecovery") => Ok(Direction::PrimaryToRecovery),
            Some(d) if d.eq_ignore_ascii_case("RecoveryToPrimary") => Ok(Direction::RecoveryToPrimary),
            other => Err(ArmError::bad_request(
                "InvalidFailoverDirection",
                format!(
                    "properties.failoverDirection must be PrimaryToRecovery or RecoveryToPrimary, not {}",
                    other.map_or("missing".to_string(), |d| format!("'{d}'"))
                ),
            )),
        }
    };
    let recovery_point = || -> Result<RecoveryPointChoice, ArmError> {
        if let Some(id) = details["recoveryPointId"]
            .as_str()
            .filter(|s| !s.is_empty())
        {
            return Ok(RecoveryPointChoice::Id(last_segment(id)));
        }
        match details["recoveryPointType"].as_str() {
            None => Ok(RecoveryPointChoice::LatestProcessed),
            Some(t) if t.eq_ignore_ascii_case("Latest") => Ok(RecoveryPointChoice::Latest),
            Some(t) if t.eq_ignore_ascii_case("LatestProcessed") => {
                Ok(RecoveryPointChoice::LatestProcessed)
            }
            Some(t) if t.eq_ignore_ascii_case("LatestApplicationConsistent") => {
                Ok(RecoveryPointChoice::LatestApplicationConsistent)
            }
            Some(t) if t.eq_ignore_ascii_case("LatestCrashConsistent") => {
                Ok(RecoveryPointChoice::LatestCrashConsistent)
            }
            Some(t) => Err(ArmError::bad_request(
                "InvalidRecoveryPointType",
                format!("recoveryPointType '{t}' is not one of Latest, LatestProcessed, LatestApplicationConsistent, LatestCrashConsistent"),
            )),
        }
    };
    Ok(match action {
        Action::PlannedFailover => OperationRequest::PlannedFailover {
            direction: direction()?,
        },
        Action::UnplannedFailover => OperationRequest::UnplannedFailover {
            direction: direction()?,
            recovery_point: recovery_point()?,
            source_site_operations: match props["sourceSiteOperations"].as_str() {
                Some(s) if s.eq_ignore_ascii_case("Required") => SourceSiteOperations::Required,
                None => SourceSiteOperations::NotRequired,
                Some(s) if s.eq_ignore_ascii_case("NotRequired") => {
                    SourceSiteOperations::NotRequired
                }
                Some(s) => {
                    return Err(ArmError::bad_request(
                        "InvalidSourceSiteOperations",
                        format!("sourceSiteOperations must be Required or NotRequired, not '{s}'"),
                    ))
                }
            },
        },
        Action::TestFailover => OperationRequest::TestFailover {
            direction: direction()?,
            network: props["networkId"]
                .as_str()
                .map(last_segment)
                .unwrap_or_default(),
            recovery_point: recovery_point()?,
        },
        Action::TestFailoverCleanup => OperationRequest::TestFailoverCleanup {
            comments: props["comments"].as_str().unwrap_or_default().to_string(),
        },
        Action::FailoverCommit => OperationRequest::Commit,
        Action::FailoverCancel => OperationRequest::CancelFailover,
        Action::ApplyRecoveryPoint => OperationRequest::ChangeRecoveryPoint {
            recovery_point_id: props["recoveryPointId"]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(last_segment)
                .ok_or_else(|| {
                    ArmError::bad_request(
                        "InvalidRecoveryPointId",
                        "properties.recoveryPointId is required: the id of one of the item's recoveryPoints",
                    )
                })?,
        },
        Action::ReProtect => OperationRequest::Reprotect,
    })
}

/// The last segment of an ARM id (a bare name is its own last segment).
pub(super) fn last_segment(id: &str) -> String {
    id.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(id)
        .to_string()
}
