//! Write drbook disaster-recovery runbooks in Rust.
//!
//! A runbook is a function from its job's [`Context`] to an output string,
//! exported with [`runbook!`]. It is compiled to a WebAssembly component
//! (`cargo build --target wasm32-wasip2`) and run by the `drbook` host in a
//! sandbox that grants only Site Recovery operations, its plan, its streams
//! and a clock.
//!
//! ```no_run
//! use drbook_sdk::prelude::*;
//!
//! drbook_sdk::runbook!(run);
//!
//! fn run(ctx: &Context) -> Result<String> {
//!     run_plan(ctx, |group| {
//!         failover_group(ctx, group).into_result()?;
//!         Ok(())
//!     })
//! }
//! ```
//!
//! Layout: `context` (the job's plan and inputs), `fabric` (operations on
//! VMs), `groups` (a group in parallel, a plan in order), `recovery`
//! (retry with backoff, wait timeouts, going on past a failed VM), `http`
//! and `check` (outside calls), `azure` (Azure resources: DNS, Traffic
//! Manager), `log`
//! (streams), `error` (one error type that works with `?`).

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "drbook:runbook/runbook",
        pub_export_macro: true,
        export_macro_name: "__export_runbook_world",
    });
}

pub mod approval;
pub mod azure;
pub mod check;
mod context;
mod display;
mod error;
pub mod fabric;
mod groups;
pub mod http;
pub mod log;
pub mod recovery;

pub use context::{
    Alert, Context, Group, GroupObjective, MonitorCondition, Objective, PlanObjectives, Severity,
    SignalType, Step, WebhookData,
};
pub use error::{Error, Result};
pub use groups::{
    failover_group, failover_group_in, run_group, run_plan, verify_failed_over, GroupReport,
    VmResult,
};

/// Time from the host.
pub mod clock {
    /// Milliseconds since the Unix epoch, UTC.
    pub fn now_millis() -> u64 {
        crate::bindings::drbook::runbook::clock::now()
    }

    /// Sleeps without burning CPU; scaled by the simulator's speed.
    pub fn sleep(duration: core::time::Duration) {
        crate::bindings::drbook::runbook::clock::sleep(duration.as_millis() as u64)
    }
}

/// Everything a runbook usually needs.
pub mod prelude {
    pub use crate::fabric::{
        Direction, FailoverType, Item, Operation, OperationState, RecoveryPoint,
    };
    pub use crate::recovery::{Recovery, Retry};
    pub use crate::{bail, error, output, progress, verbose, warning};
    pub use crate::{
        failover_group, failover_group_in, run_group, run_plan, verify_failed_over, Context, Error,
        Group, GroupReport, Result,
    };
}

/// Exports `$run` (a `fn(&Context) -> Result<String>`) as the runbook.
#[macro_export]
macro_rules! runbook {
    ($run:path) => {
        struct __DrbookRunbook;

        impl $crate::bindings::Guest for __DrbookRunbook {
            fn run() -> ::core::result::Result<::std::string::String, $crate::bindings::RunbookError> {
                $crate::__run($run)
            }
        }

        $crate::bindings::__export_runbook_world!(__DrbookRunbook with_types_in $crate::bindings);
    };
}

#[doc(hidden)]
pub fn __run(
    run: fn(&Context) -> Result<String>,
) -> core::result::Result<String, bindings::RunbookError> {
    let context = Context::get();
    let result = run(&context).map_err(Error::into_wit);
    // A component's `run` returns without std's exit-time flush: what the
    // runbook printed without a final newline would be lost.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    result
}
