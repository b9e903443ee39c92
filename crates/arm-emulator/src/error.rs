//! ARM's error answers: `{"error":{"code","message"}}` with the status that
//! goes with them, and the simulator's refusals mapped onto them.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use drbook_core::fabric::FabricError;
use serde_json::json;

/// An error as ARM answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArmError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

impl ArmError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ArmError {
            status,
            code: code.to_string(),
            message: message.into(),
        }
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn body(&self) -> serde_json::Value {
        json!({"error": {"code": self.code, "message": self.message}})
    }
}

impl IntoResponse for ArmError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

/// A refusal of the simulator as Site Recovery answers it. Each variant has
/// its own code, so that a client maps it back without reading the message:
///
/// | `FabricError` | status | code |
/// |---|---|---|
/// | `NotAllowed` | 409 | `OperationNotAllowedInCurrentState` |
/// | `Busy` | 409 | `AnotherOperationInProgress` |
/// | `ItemNotFound` | 404 | `ReplicationProtectedItemNotFound` |
/// | `OperationNotFound` | 404 | `JobNotFound` |
/// | `RecoveryPointNotFound` | 404 | `RecoveryPointNotFound` |
/// | `RegionUnavailable` | 409 | `RegionUnavailable` |
/// | `Refused` (never the simulator's) | 409 | its own code |
/// | `InvalidRequest` (and the rest) | 400 | `InvalidRequest` |
/// | `Transient` | 503 | `ServiceUnavailable` |
impl From<FabricError> for ArmError {
    fn from(err: FabricError) -> Self {
        let message = err.to_string();
        if let FabricError::Refused { code, .. } = &err {
            return ArmError::new(StatusCode::CONFLICT, code, message);
        }
        let (status, code) = match &err {
            FabricError::NotAllowed { .. } => {
                (StatusCode::CONFLICT, "OperationNotAllowedInCurrentState")
            }
            FabricError::Busy { .. } => (StatusCode::CONFLICT, "AnotherOperationInProgress"),
            FabricError::ItemNotFound { .. } => {
                (StatusCode::NOT_FOUND, "ReplicationProtectedItemNotFound")
            }
            FabricError::OperationNotFound { .. } => (StatusCode::NOT_FOUND, "JobNotFound"),
            FabricError::RecoveryPointNotFound { .. } => {
                (StatusCode::NOT_FOUND, "RecoveryPointNotFound")
            }
            FabricError::RegionUnavailable { .. } => (StatusCode::CONFLICT, "RegionUnavailable"),
            FabricError::Transient { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable")
            }
            // InvalidRequest, OutOfScope (never the simulator's) and any
            // variant the port adds later.
            _ => (StatusCode::BAD_REQUEST, "InvalidRequest"),
        };
        ArmError::new(status, code, message)
    }
}
