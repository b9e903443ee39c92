//! A runbook for measuring the host: `calls=N` makes N `clock.now` host
//! calls and returns; without it, it returns at once (instantiate-to-first-
//! instruction). `echo=TEXT` returns TEXT, to check inputs reach the guest.

use drbook_sdk::prelude::*;

drbook_sdk::runbook!(run);

fn run(ctx: &Context) -> Result<String> {
    if let Some(text) = ctx.param("echo") {
        return Ok(text.to_string());
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
