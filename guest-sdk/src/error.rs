//! One error type for runbooks, so that `?` works on fabric errors, strings
//! and formatted messages alike.

use crate::bindings::drbook::runbook::site_recovery::FabricError;
use crate::bindings::RunbookError;

/// Why a runbook failed: a message for the operator and what it completed
/// before it stopped.
#[derive(Debug, Clone)]
pub struct Error {
    message: String,
    completed: Vec<String>,
}

pub type Result<T, E = Error> = core::result::Result<T, E>;

impl Error {
    pub fn new(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
            completed: Vec::new(),
        }
    }

    /// Records what was completed before the failure (groups, VMs).
    pub fn with_completed(mut self, completed: Vec<String>) -> Self {
        self.completed = completed;
        self
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// Adds context in front of the message: `"{context}: {message}"`.
    pub fn context(mut self, context: impl core::fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    pub(crate) fn into_wit(self) -> RunbookError {
        RunbookError {
            message: self.message,
            completed: self.completed,
        }
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<FabricError> for Error {
    fn from(e: FabricError) -> Self {
        Error::new(crate::fabric::describe(&e))
    }
}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Error::new(message)
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Error::new(message)
    }
}

/// Returns early with a formatted [`Error`].
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => {
        return ::core::result::Result::Err($crate::Error::new(::std::format!($($arg)*)))
    };
}
