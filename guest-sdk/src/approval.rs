//! Manual steps: the job waits for a person. While it waits it holds no
//! memory in the host, and the wait survives a restart of the host.

use crate::bindings::drbook::runbook::approval;
use crate::{output, Error, Result};

pub use approval::Decision;

/// Suspends the job with `prompt` until a person approves or rejects it
/// (`drbook jobs approve|reject <job>`).
pub fn request(prompt: &str) -> Decision {
    approval::request(prompt)
}

/// [`request`], and an error naming the step, who rejected it and why when
/// it is rejected.
pub fn require(step: &str, prompt: &str) -> Result<Decision> {
    output!("manual step `{step}`: waiting for approval: {prompt}");
    let decision = request(prompt);
    if decision.approved {
        output!(
            "manual step `{step}` approved by {}{}",
            decision.by,
            comment(&decision.comment)
        );
        Ok(decision)
    } else {
        Err(Error::new(format!(
            "manual step `{step}` rejected by {}{}",
            decision.by,
            comment(&decision.comment)
        )))
    }
}

fn comment(text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}
