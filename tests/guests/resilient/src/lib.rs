//! A runbook that fails its plan over as the job says, through
//! `drbook_sdk::recovery`, set by its inputs: `attempts=N` retries each
//! start's transient refusals (`backoff=SECONDS` before the second
//! attempt, doubling), `timeout=SECONDS` bounds each group's wait, and
//! `on-error=continue` goes on past a failed VM. Without them it is
//! `failover-plan` without the checks.

use std::time::Duration;

use drbook_sdk::prelude::*;

drbook_sdk::runbook!(run);

fn run(ctx: &Context) -> Result<String> {
    let mut recovery = Recovery::new();
    if let Some(attempts) = number(ctx, "attempts")? {
        let backoff = number(ctx, "backoff")?.unwrap_or(30);
        recovery = recovery.retry(
            Retry::transient()
                .attempts(attempts as u32)
                .backoff(Duration::from_secs(backoff)),
        );
    }
    if let Some(timeout) = number(ctx, "timeout")? {
        recovery = recovery.timeout(Duration::from_secs(timeout));
    }
    if ctx.param("on-error") == Some("continue") {
        recovery = recovery.continue_on_error();
    }
    recovery.run_plan(ctx, |group| Ok(recovery.failover_group(ctx, group)))
}

fn number(ctx: &Context, key: &str) -> Result<Option<u64>> {
    ctx.param(key)
        .map(|text| {
            text.parse()
                .map_err(|_| Error::new(format!("`{key}` must be a whole number, not `{text}`")))
        })
        .transpose()
}
