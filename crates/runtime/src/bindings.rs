//! The host side of the `drbook:runbook` world (`wit/runbook.wit`): one
//! `bindgen!` for the whole world. Every import is async (a `wait` suspends the
//! runbook's fiber while the host awaits the fabric) and trappable (a host
//! fault or a passed deadline traps the runbook instead of returning a value it
//! would have to handle).

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "runbook",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "drbook:runbook/site-recovery.operation": crate::host::site_recovery::OperationHandle,
    },
});

pub use self::drbook::runbook::{approval, azure, clock, http, log, plan, site_recovery, types};
