//! drbook's cross-crate integration tests: real runbooks, built for
//! wasm32-wasip2 by this crate's build script, run by the real runtime
//! against the real simulator (at instant speed).

mod azure;
mod bad_input;
mod busy_plans;
mod capabilities;
mod cli;
mod crash;
mod eviction;
mod health_events;
mod hostile;
mod http;
mod jobs_cli;
mod recovery;
mod runbooks;
mod scope;
mod support;
mod wasi;
mod webhooks;

/// The test that runs each guest `build.rs` built: `foreach_guest!` names
/// every one, so a runbook or test guest added without a test here does not
/// compile.
mod tested {
    pub(crate) use crate::hostile::an_infinite_loop_is_stopped_at_its_deadline as hostile;
    pub(crate) use crate::http::a_module_without_the_grant_connects_nowhere as http_probe;
    pub(crate) use crate::recovery::sdk_retry_a_transient_fault_on_the_first_two_attempts_then_the_third_succeeds as resilient;
    pub(crate) use crate::runbooks::commit_plan_refuses_vms_that_were_not_failed_over as commit_plan;
    pub(crate) use crate::runbooks::dr_drill_tests_and_always_cleans_up_leaving_production_untouched as dr_drill;
    pub(crate) use crate::runbooks::failover_plan_fails_every_vm_over_once_group_by_group as failover_plan;
    pub(crate) use crate::runbooks::the_full_cycle_runs_through_runbooks_only as failback_plan;
    pub(crate) use crate::runbooks::the_full_cycle_runs_through_runbooks_only as reprotect_plan;
    pub(crate) use crate::scope::a_test_job_cannot_fail_production_over_nor_touch_vms_outside_its_plan as overreach;
    pub(crate) use crate::wasi::every_wasi_wait_ends_at_the_deadline as wasi_probe;
    pub(crate) use crate::webhooks::the_runbook_sees_the_request_and_the_typed_alert_and_fixed_parameters_hold as probe;
}

macro_rules! assert_tested {
    ($guest:ident) => {
        #[allow(unused_imports)]
        use tested::$guest as _;
    };
}
drbook_tests::foreach_guest!(assert_tested);
