//! Fails a recovery plan over: planned, unplanned or test as the job says,
//! groups in order, the VMs of a group in parallel, and a check after each
//! group that every VM really is up on the target side. Stops at the first
//! group that fails and reports the groups it completed.
//!
//! Optional outside calls, granted by its manifest to the URLs its job is
//! given (`[package.metadata.drbook] http`): `--param app-url=URL` checks
//! after the failover that the application answers 2xx (the job fails if
//! it does not), and `--param notify-url=URL` posts the run's summary
//! there as JSON (`{"plan", "job", "passed", "summary"}`), whether the
//! failover passed or not: the incident channel's webhook.
//!
//! An optional post step switches traffic, before the application check:
//! with `--param dns-zone=ZONE` (and `dns-subscription`,
//! `dns-resource-group`, `dns-record`, `dns-ip`; `dns-ttl`, default 60) it
//! makes the zone's A record `dns-record` hold `dns-ip` alone, through the
//! host's Azure credentials, on the one record its manifest's `azure`
//! grants (filled from those parameters).

use core::time::Duration;

use drbook_sdk::prelude::*;

drbook_sdk::runbook!(run);

fn run(ctx: &Context) -> Result<String> {
    let result = fail_over(ctx)
        .and_then(|summary| switch_dns(ctx).map(|()| summary))
        .and_then(|summary| check_app(ctx).map(|()| summary));
    notify(ctx, &result);
    result
}

fn fail_over(ctx: &Context) -> Result<String> {
    output!(
        "{} failover of plan `{}` ({} groups, {} VMs), {}",
        ctx.failover_type(),
        ctx.plan_name(),
        ctx.groups().len(),
        ctx.vms().count(),
        ctx.direction()
    );
    run_plan(ctx, |group| {
        for step in group.pre.iter().filter(|s| s.manual.is_none()) {
            verbose!("pre step `{}` of group `{}`", step.name, group.name);
        }
        failover_group(ctx, group).into_result()?;
        // The custom check after each group, and the plan's post steps.
        verify_failed_over(group, ctx.failover_type(), ctx.direction())?;
        for step in group.post.iter().filter(|s| s.manual.is_none()) {
            output!(
                "post step `{}` of group `{}`: every VM is up",
                step.name,
                group.name
            );
        }
        Ok(())
    })
}

/// The DNS switch, when `dns-zone` is given: the record holds `dns-ip`.
fn switch_dns(ctx: &Context) -> Result<()> {
    let Some(zone) = ctx.param("dns-zone") else {
        return Ok(());
    };
    let param = |name: &str| {
        ctx.param(name).ok_or_else(|| {
            Error::new(format!(
                "the DNS switch of `{zone}` needs `--param {name}=...`"
            ))
        })
    };
    let (subscription, group) = (param("dns-subscription")?, param("dns-resource-group")?);
    let (record, ip) = (param("dns-record")?, param("dns-ip")?);
    let ttl = match ctx.param("dns-ttl") {
        Some(ttl) => ttl
            .parse()
            .map_err(|_| Error::new(format!("`dns-ttl` is `{ttl}`, not a number of seconds")))?,
        None => 60,
    };
    let zone_id = format!(
        "/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Network/dnszones/{zone}"
    );
    match drbook_sdk::azure::dns::set_a_record(&zone_id, record, &[ip], ttl) {
        Ok(_) => output!("post step `dns`: {record}.{zone} now points at {ip}"),
        Err(drbook_sdk::azure::AzureError::NotSent(_)) => {
            output!("post step `dns` (dry run, not sent): {record}.{zone} would point at {ip}")
        }
        Err(e) => return Err(Error::from(e).context(format!("switching {record}.{zone} to {ip}"))),
    }
    Ok(())
}

/// `app-url`, when given: the application answers after the failover.
fn check_app(ctx: &Context) -> Result<()> {
    let Some(url) = ctx.param("app-url") else {
        return Ok(());
    };
    let status = drbook_sdk::check::http_ok(url, Duration::from_secs(10))?;
    output!("application check: {url} answers {status}");
    Ok(())
}

/// The `notify` step: the run's summary to `notify-url`, when given. A
/// notification that fails is a warning, not the failover's failure.
fn notify(ctx: &Context, result: &Result<String>) {
    let Some(url) = ctx.param("notify-url") else {
        return;
    };
    let (passed, summary) = match result {
        Ok(summary) => (true, summary.clone()),
        Err(e) => (false, e.message().to_string()),
    };
    let body = drbook_sdk::http::json!({
        "plan": ctx.plan_name(),
        "job": ctx.job_id(),
        "passed": passed,
        "summary": summary,
    });
    match drbook_sdk::http::post_json(url, &body) {
        Ok(response) if response.ok() => {
            output!("notify: posted the summary ({})", response.status)
        }
        Ok(response) => warning!("notify: {url} answered {}", response.status),
        Err(e) => warning!("notify: {}", drbook_sdk::http::describe(&e)),
    }
}
