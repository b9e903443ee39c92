//! What can go wrong talking to ARM, before it means anything to a runbook.
//! [`crate::AzureFabric`] turns each into the [`FabricError`] a runbook sees,
//! knowing which item and operation it was about.

use drbook_core::fabric::FabricError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArmError {
    /// ARM or Site Recovery answered with an error body.
    #[error("{status} {code}: {message}")]
    Status {
        status: u16,
        code: String,
        message: String,
    },

    /// No token, or ARM refused the one we have even after a fresh one.
    #[error(
        "not authenticated to Azure: {0}; check the [fabric] credential setting \
         (`drbook azure check` says which principal is used)"
    )]
    Unauthenticated(String),

    /// 429 or 5xx past the retry budget, or no answer at all.
    #[error("Azure is unavailable or throttling: {0}")]
    Unavailable(String),

    /// The answer was not what the REST specification says.
    #[error("unexpected answer from ARM: {0}")]
    Body(String),

    /// The configuration cannot work (a bad URL, an unreadable CA file).
    #[error("{0}")]
    Config(String),
}

impl ArmError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ArmError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The error as the fabric port states it, when the item and operation
    /// it was about do not change its meaning.
    pub fn into_fabric(self) -> FabricError {
        match self {
            ArmError::Status {
                status: 403,
                code,
                message,
            } => FabricError::InvalidRequest {
                message: format!(
                    "Azure refused access ({code}: {message}); give the principal \
                     `drbook azure check` names the Site Recovery Contributor role on the vault"
                ),
            },
            ArmError::Status {
                status: 429 | 500..=599,
                code,
                message,
                ..
            } => FabricError::Transient {
                message: format!("{code}: {message}"),
            },
            ArmError::Status {
                status,
                code,
                message,
            } => FabricError::InvalidRequest {
                message: format!("Azure answered {status} {code}: {message}"),
            },
            ArmError::Unavailable(message) => FabricError::Transient { message },
            other @ (ArmError::Unauthenticated(_) | ArmError::Body(_) | ArmError::Config(_)) => {
                FabricError::InvalidRequest {
                    message: other.to_string(),
                }
            }
        }
    }
}
