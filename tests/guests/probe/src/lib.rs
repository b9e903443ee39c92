//! A runbook for measuring the host: `calls=N` makes N `clock.now` host
//! calls and returns; without it, it returns at once (instantiate-to-first-
//! instruction). `reads=N` makes N `fabric.get-item` calls of the plan's first
//! VM: a replayed Site Recovery read, what `tests/benches/http.rs` sets a
//! replayed HTTP exchange beside. `echo=TEXT` returns TEXT, to check inputs reach the guest.
//! `show=trigger` returns what the webhook and alert that started the job
//! looked like from inside. `show=objectives` returns the plan's recovery
//! objectives as the runbook reads them (`plan.objectives`); no other input
//! calls it, so the others run without that import. `stamp=wall` returns the wall clock (WASI's,
//! the host machine's: `wall <nanoseconds since the epoch>`) read as the
//! runbook's first action, right after the SDK's `plan.context`: a benchmark
//! in another process (`crates/drbook/benches/postgres.rs`) compares it with
//! the job's claim or the request that started it, where no observer of the
//! host's reaches.

use std::time::{SystemTime, UNIX_EPOCH};

use drbook_sdk::prelude::*;
use drbook_sdk::Objective;

drbook_sdk::runbook!(run);

fn run(ctx: &Context) -> Result<String> {
    if ctx.param("stamp") == Some("wall") {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| Error::new(format!("the wall clock is before 1970: {e}")))?;
        return Ok(format!("wall {}", wall.as_nanos()));
    }
    if let Some(text) = ctx.param("echo") {
        return Ok(text.to_string());
    }
    if ctx.param("show") == Some("trigger") {
        return Ok(trigger(ctx));
    }
    if ctx.param("show") == Some("objectives") {
        return Ok(objectives(ctx));
    }
    if let Some(reads) = ctx.param("reads") {
        return reads_of_first_vm(ctx, reads);
    }
    let calls: u64 = ctx
        .param_or("calls", "0")
        .parse()
        .map_err(|_| Error::new("`calls` must be a number"))?;
    let mut last = 0;
    for _ in 0..calls {
        last = drbook_sdk::clock::now_millis();
    }
    Ok(format!("{calls} calls, last {last}"))
}

fn reads_of_first_vm(ctx: &Context, reads: &str) -> Result<String> {
    let reads: u64 = reads
        .parse()
        .map_err(|_| Error::new("`reads` must be a number"))?;
    let vm = ctx
        .vms()
        .next()
        .ok_or_else(|| Error::new("the plan has no VM to read"))?;
    let mut health = String::new();
    for _ in 0..reads {
        health = format!("{:?}", drbook_sdk::fabric::get_item(vm)?.replication_health);
    }
    Ok(format!("{reads} reads of {vm}, last {health}"))
}

fn trigger(ctx: &Context) -> String {
    let webhook = match ctx.webhook() {
        Some(w) => format!(
            "webhook={} body={} headers={}",
            w.name,
            w.body.len(),
            w.headers
                .iter()
                .map(|(k, _)| k.as_str())
                .collect::<Vec<_>>()
                .join(",")
        ),
        None => "webhook=none".to_string(),
    };
    let alert = match ctx.alert() {
        Some(a) => format!(
            "alert={} rule={} severity={:?} signal={:?} condition={:?} targets={} fired={}",
            a.alert_id,
            a.alert_rule,
            a.severity,
            a.signal_type,
            a.monitor_condition,
            a.target_ids.join(","),
            a.fired_time
        ),
        None => "alert=none".to_string(),
    };
    let params: Vec<String> = ["region", "mode"]
        .iter()
        .filter_map(|k| ctx.param(k).map(|v| format!("{k}={v}")))
        .collect();
    format!("{webhook} {alert} params={}", params.join(","))
}

/// `plan rto=… rpo=…; <group> rto=… rpo=…; …`, in seconds, `-` for none.
fn objectives(ctx: &Context) -> String {
    let pair = |o: &Objective| {
        let secs = |d: Option<std::time::Duration>| {
            d.map_or_else(|| "-".to_string(), |d| d.as_secs().to_string())
        };
        format!("rto={} rpo={}", secs(o.rto()), secs(o.rpo()))
    };
    let mut parts = vec![format!("plan {}", pair(&ctx.objectives().plan))];
    for group in ctx.groups() {
        parts.push(format!(
            "{} {}",
            group.name,
            pair(&ctx.objectives_of(&group.name))
        ));
    }
    parts.join("; ")
}
