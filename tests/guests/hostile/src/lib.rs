//! A runbook that misbehaves on purpose, as its `attack` input says. The
//! host must contain each attack: stop it, trap it with a clear reason, or
//! show that what it reached for is not there.

use core::time::Duration;

use drbook_sdk::prelude::*;
use drbook_sdk::{clock, fabric};

drbook_sdk::runbook!(run);

fn run(ctx: &Context) -> Result<String> {
    match ctx.param_or("attack", "none") {
        "loop" => spin(),
        "alloc" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
            }
        }
        "fs" => Ok(report(&[
            (
                "read /etc/passwd",
                std::fs::read("/etc/passwd").map(|b| b.len().to_string()),
            ),
            (
                "list /",
                std::fs::read_dir("/").map(|d| d.count().to_string()),
            ),
            (
                "list .",
                std::fs::read_dir(".").map(|d| d.count().to_string()),
            ),
            (
                "write /tmp/x",
                std::fs::write("/tmp/drbook-hostile", b"x").map(|_| "written".to_string()),
            ),
        ])),
        "net" => Ok(report(&[
            (
                "tcp 127.0.0.1:22",
                std::net::TcpStream::connect("127.0.0.1:22").map(|_| "connected".to_string()),
            ),
            (
                "udp bind",
                std::net::UdpSocket::bind("0.0.0.0:0").map(|_| "bound".to_string()),
            ),
            (
                "tcp listen",
                std::net::TcpListener::bind("127.0.0.1:0").map(|_| "listening".to_string()),
            ),
        ])),
        "env" => {
            let vars: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
            let args: Vec<String> = std::env::args().collect();
            Ok(format!("env vars: {}; args: {}", vars.len(), args.len()))
        }
        "flood" => {
            let line = "x".repeat(1000);
            for i in 0..20_000 {
                println!("{i} {line}");
            }
            Ok("flooded".to_string())
        }
        "tail" => {
            print!("a last line without a newline");
            Ok("tail".to_string())
        }
        "panic" => panic!("the hostile runbook gave up on purpose"),
        "recurse" => Ok(format!("depth {}", recurse(0))),
        "recurse-wasm" => Ok(format!("depth {}", recurse_wasm_stack(0))),
        // The same with a host call in every frame: the stack runs out in
        // one of them, as the host hands the runbook its reply.
        "recurse-call" => Ok(format!(
            "depth {}",
            recurse_calling(&ctx.groups()[0].vms[0])
        )),
        // The longest sleep a runbook can ask for: its wake time overflows
        // any clock the host might add it to.
        "sleep-forever" => {
            clock::sleep(Duration::from_millis(u64::MAX));
            Ok("woke up".to_string())
        }
        // Short sleeps, each long enough to unload the job: together they
        // outlast the deadline, which must hold across the reloads.
        "naps" => {
            let naps = number(ctx, "naps", "10")?;
            let nap = Duration::from_millis(number(ctx, "nap-ms", "300")?);
            for _ in 0..naps {
                clock::sleep(nap);
            }
            Ok(format!("{naps} naps"))
        }
        // Host calls in a loop, each journaled with its whole reply.
        "list-items" => {
            let calls = number(ctx, "calls", &u64::MAX.to_string())?;
            for _ in 0..calls {
                let _ = fabric::list_items();
            }
            Ok(format!("{calls} list-items"))
        }
        "attach" => {
            let calls = number(ctx, "calls", &u64::MAX.to_string())?;
            for _ in 0..calls {
                drop(fabric::attach("no-such-operation"));
            }
            Ok(format!("{calls} attach"))
        }
        // Strings of `bytes` bytes wherever the WIT takes one.
        "long-args" => {
            let long = "x".repeat(size(ctx)?);
            let vm = &ctx.groups()[0].vms[0];
            let probes = [
                ("get-item", fabric::get_item(&long).map(|_| ())),
                (
                    "test-failover",
                    fabric::test_failover(
                        vm,
                        Direction::PrimaryToRecovery,
                        &long,
                        &fabric::RecoveryPointChoice::Latest,
                    )
                    .map(drop),
                ),
                ("attach", fabric::attach(&long).map(drop)),
            ];
            drbook_sdk::log::write(drbook_sdk::log::Level::Output, &long);
            drbook_sdk::log::progress(50, &long);
            Ok(probes
                .iter()
                .map(|(name, result)| match result {
                    Ok(()) => format!("{name}: ok"),
                    Err(e) => format!("{name}: {}", fabric::describe(e)),
                })
                .collect::<Vec<_>>()
                .join("\n"))
        }
        // One operation (a planned failover: within a planned job's
        // scope), waited on `copies` times at once.
        "wait-all" => {
            let vm = &ctx.groups()[0].vms[0];
            let op = fabric::planned_failover(vm, ctx.direction())?;
            let copies = number(ctx, "copies", "5000")? as usize;
            let statuses = fabric::wait_all(&vec![&op; copies]);
            Ok(format!("{} statuses", statuses.len()))
        }
        "long-output" => Ok("x".repeat(size(ctx)?)),
        "long-error" => {
            let completed = (0..number(ctx, "completed", "1000000")?)
                .map(|i| format!("vm-{i}"))
                .collect();
            Err(Error::new("x".repeat(size(ctx)?)).with_completed(completed))
        }
        "long-prompt" => {
            drbook_sdk::approval::request(&"x".repeat(size(ctx)?));
            Ok("decided".to_string())
        }
        other => bail!("unknown attack `{other}`"),
    }
}

/// The input `name` as a number, `default` when it is not given.
fn number(ctx: &Context, name: &str, default: &str) -> Result<u64> {
    let text = ctx.param_or(name, default);
    text.parse()
        .map_err(|e| format!("input `{name}` is `{text}`, not a number: {e}").into())
}

/// The input `bytes`: how long the attack's strings are (8 MiB unless given).
fn size(ctx: &Context) -> Result<usize> {
    Ok(number(ctx, "bytes", &(8u64 << 20).to_string())? as usize)
}

/// Each probe as `name: ok <value>` or `name: denied <error>`.
fn report(probes: &[(&str, std::io::Result<String>)]) -> String {
    probes
        .iter()
        .map(|(name, result)| match result {
            Ok(value) => format!("{name}: ok {value}"),
            Err(e) => format!("{name}: denied {e}"),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[allow(clippy::empty_loop)]
fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

/// Recursion whose frames live on the runbook's own stack in linear memory
/// (locals whose address is taken): it overflows that stack first. Never
/// returns, on purpose.
#[inline(never)]
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let pad = std::hint::black_box([depth; 16]);
    1 + recurse(pad[depth as usize % 16] + 1)
}

/// Recursion with no locals in memory: only the wasm call stack grows.
/// Never returns, on purpose.
#[inline(never)]
#[allow(unconditional_recursion)]
fn recurse_wasm_stack(depth: u64) -> u64 {
    std::hint::black_box(recurse_wasm_stack(std::hint::black_box(depth + 1))) + 1
}

/// Recursion that calls the host in every frame. Never returns, on purpose.
#[inline(never)]
#[allow(unconditional_recursion)]
fn recurse_calling(vm: &str) -> u64 {
    drop(std::hint::black_box(fabric::get_item(vm)));
    std::hint::black_box(recurse_calling(std::hint::black_box(vm))) + 1
}
