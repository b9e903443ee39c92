//! A disaster-recovery drill: test-fails the whole plan over into an isolated
//! network (production and replication untouched), validates it, and then
//! cleans up **always**, also when validation or a VM's test failover fails.
//!
//! Inputs: `test-network` (default `drbook-test-isolated`), `recovery-point`
//! (default `latest`), `validation=fail` to rehearse a failed validation,
//! and `check-url`: a URL template with `{vm}` (the VM's name, lowercase)
//! that each test VM answers in the isolated network, e.g.
//! `http://{vm}.drill.contoso.test/health`: validation GETs it for every VM
//! of the plan and passes only when each answers 2xx. Its manifest grants
//! exactly those URLs (`http = ["{check-url}"]`: the job's template, filled
//! with the plan's VMs).

use core::time::Duration;

use drbook_sdk::fabric::{self, AllowedOperation, FailoverType};
use drbook_sdk::prelude::*;

drbook_sdk::runbook!(run);

fn run(ctx: &Context) -> Result<String> {
    if ctx.failover_type() != FailoverType::Test {
        bail!("dr-drill only runs test failovers; start it with `--type test`");
    }
    let drill = run_plan(ctx, |group| {
        failover_group(ctx, group).into_result()?;
        verify_failed_over(group, FailoverType::Test, ctx.direction())
    })
    .and_then(|summary| validate(ctx).map(|_| summary));
    let cleanup = cleanup(ctx);
    match (drill, cleanup) {
        (Ok(summary), Ok(cleaned)) => Ok(format!(
            "drill passed: {summary}; cleaned up {cleaned} test VMs"
        )),
        (Err(e), Ok(cleaned)) => {
            Err(e.context(format!("drill failed (cleaned up {cleaned} test VMs)")))
        }
        (Ok(_), Err(e)) => Err(e.context("drill passed but cleanup failed")),
        (Err(drill), Err(cleanup)) => Err(Error::new(format!(
            "drill failed: {drill}; cleanup failed too: {cleanup}"
        ))),
    }
}

/// The validation step: each test copy is up (checked after each group),
/// and with `check-url`, each answers its endpoint through the isolated
/// network.
fn validate(ctx: &Context) -> Result<()> {
    if ctx.param("validation") == Some("fail") {
        bail!("validation failed (rehearsal requested with validation=fail)");
    }
    if let Some(template) = ctx.param("check-url") {
        let mut failed = Vec::new();
        for vm in ctx.vms() {
            let url = template.replace("{vm}", &vm.to_ascii_lowercase());
            match drbook_sdk::check::http_ok(&url, Duration::from_secs(10)) {
                Ok(status) => verbose!("validation: {vm} answers {url} with {status}"),
                Err(e) => failed.push(format!("{vm}: {e}")),
            }
        }
        if !failed.is_empty() {
            bail!("validation failed: {}", failed.join("; "));
        }
        output!("validation: every test VM answers its check ({template})");
    }
    output!(
        "validation: every test VM of plan `{}` is up",
        ctx.plan_name()
    );
    Ok(())
}

/// Cleans up the test failover of every VM that has one, in parallel.
fn cleanup(ctx: &Context) -> Result<usize> {
    let mut active = Group {
        name: "cleanup".to_string(),
        vms: Vec::new(),
        pre: Vec::new(),
        post: Vec::new(),
    };
    for vm in ctx.vms() {
        if fabric::get_item(vm)?.allows(AllowedOperation::TestFailoverCleanup) {
            active.vms.push(vm.to_string());
        }
    }
    let comments = format!("drill {} of plan {}", ctx.job_id(), ctx.plan_name());
    let report = run_group(&active, "test failover cleanup", |vm| {
        fabric::test_failover_cleanup(vm, &comments)
    });
    report.into_result().map(|r| r.vms.len())
}
