//! A runbook that reads WASI's clocks and randomness and waits on WASI (as a
//! Rust runbook's std does, or by hand), as its `mode` input says. The host
//! must hand a replay the values it handed the live run, and bound every
//! wait by the job's deadline and its stop.

use core::time::Duration;
use std::time::{Instant, SystemTime};

use drbook_sdk::clock;
use drbook_sdk::prelude::*;

mod wasi {
    wit_bindgen::generate!({
        path: "wit",
        world: "wasi-probe",
        generate_all,
    });
}

use wasi::wasi::clocks::monotonic_clock;
use wasi::wasi::io::poll;
use wasi::wasi::random::{insecure, insecure_seed, random};

drbook_sdk::runbook!(run);

fn run(ctx: &Context) -> Result<String> {
    match ctx.param_or("mode", "none") {
        // Both clocks, read before any other host call; then, once time has
        // passed, a line that says what they read, and a wait long enough to
        // unload the job (`wait`: `wit` for `clock.sleep`, `wasi` for std's
        // `thread::sleep`). The job is replayed when it wakes: its clocks
        // must read the same, or the line diverges.
        "clock-first" => {
            let wall = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_err(|e| Error::new(format!("the wall clock is before 1970: {e}")))?;
            let mono = Instant::now();
            let nanos = monotonic_clock::now();
            spin(number(ctx, "spin", "20000000")?);
            let first = format!("wall {} mono {nanos}", wall.as_nanos());
            output!("{first}");
            let wait = Duration::from_millis(number(ctx, "wait-ms", "300")?);
            match ctx.param_or("wait", "wit") {
                "wasi" => std::thread::sleep(wait),
                _ => clock::sleep(wait),
            }
            let waited = Instant::now()
                .checked_duration_since(mono)
                .ok_or_else(|| Error::new("the monotonic clock went back"))?;
            Ok(format!("{first}; {} ms later", waited.as_millis()))
        }
        // Random bytes of every WASI kind, then a line that shows them and
        // a wait long enough to unload the job: the replay must be handed
        // the same bytes, or the line diverges.
        "random" => {
            let len = number(ctx, "bytes", "32")?;
            let (low, high) = insecure_seed::insecure_seed();
            let shown = format!(
                "secure {} {:016x} insecure {} {:016x} seed {low:016x}{high:016x}",
                hex(&random::get_random_bytes(len)),
                random::get_random_u64(),
                hex(&insecure::get_insecure_random_bytes(len)),
                insecure::get_insecure_random_u64(),
            );
            output!("{shown}");
            clock::sleep(Duration::from_millis(number(ctx, "wait-ms", "300")?));
            Ok(shown)
        }
        // The longest wait WASI offers, polled, or blocked on.
        "poll-forever" => {
            output!("polling forever");
            let forever = monotonic_clock::subscribe_duration(u64::MAX);
            let ready = poll::poll(&[&forever]);
            Ok(format!("woke up: {ready:?}"))
        }
        "block-forever" => {
            output!("blocking forever");
            monotonic_clock::subscribe_duration(u64::MAX).block();
            Ok("woke up".to_string())
        }
        // std's sleep, of `ms` milliseconds.
        "sleep" => {
            let ms = number(ctx, "ms", "20000")?;
            output!("sleeping {ms} ms");
            std::thread::sleep(Duration::from_millis(ms));
            Ok(format!("slept {ms} ms"))
        }
        // `reads` reads of the monotonic clock, and nothing else.
        "clock-loop" => {
            let reads = number(ctx, "reads", &u64::MAX.to_string())?;
            let start = Instant::now();
            for _ in 0..reads {
                std::hint::black_box(Instant::now());
            }
            Ok(format!("{reads} reads in {:?}", start.elapsed()))
        }
        other => bail!("unknown mode `{other}`"),
    }
}

/// The input `name` as a number, `default` when it is not given.
fn number(ctx: &Context, name: &str, default: &str) -> Result<u64> {
    let text = ctx.param_or(name, default);
    text.parse()
        .map_err(|e| format!("input `{name}` is `{text}`, not a number: {e}").into())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Computes for a while without calling the host (`rounds` additions).
fn spin(rounds: u64) {
    let mut n: u64 = 0;
    for _ in 0..rounds {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}
