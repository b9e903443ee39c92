//! The conformance suite of the job store port ([`JobStore`], with the
//! [`RunLog`](drbook_core::store::RunLog) of a run): one public function per
//! guarantee the port's docs give, and [`store_conformance_tests!`](crate::store_conformance_tests)
//! to run them all. SQLite and PostgreSQL pass it.
//!
//! A backend runs every function in a test of its own (the macro makes
//! them), so that a failure names the guarantee, each on a store of its own that starts empty. The
//! suite holds a store only as `Arc<dyn JobStore>`, and opens it again
//! ([`Backend::open`]) wherever a guarantee is about another process: a
//! reader on another host, the worker that resumes a job. The guarantee that
//! needs a process to die for real (an intent outlives a crash of its
//! writer) runs its writer in a child process, with [`crash_child_or`] and
//! [`spawn_crash_child`], which other suites may use too.
//!
//! Leases are real here (a lease is a wall-clock deadline): the tests that
//! let one lapse wait out [`SHORT_LEASE`].

mod busy;
mod crash;
mod export;
mod fixtures;
mod jobs;
mod leases;
mod pages;
mod retries;
mod runs;
mod schedules;
mod sessions;
mod tokens;
mod webhooks;

use async_trait::async_trait;
use drbook_core::store::JobStore;
use std::sync::Arc;

pub use busy::{
    a_busy_plan_attaches_queues_or_refuses_a_start, starts_racing_for_a_plan_create_one_job,
};
pub use crash::{
    an_intent_survives_a_crash_of_its_writer, crash_child_or, spawn_crash_child, CRASH_CHILD,
};
pub use export::a_store_exported_and_imported_reads_the_same;
/// For a backend's own tests and benches: a job as the suite makes them.
pub use fixtures::create as create_job;
pub use fixtures::SHORT_LEASE;
pub use jobs::{
    a_job_reads_the_module_it_is_pinned_to, a_stop_is_requested_and_read_back,
    finish_ends_a_job_for_good, jobs_are_created_read_listed_and_counted,
    prune_removes_old_ended_jobs_with_their_journals_and_streams,
};
pub use leases::{
    a_claimed_job_is_running_under_its_lease, a_dead_workers_job_is_claimable_after_its_lease_ends,
    a_lapsed_lease_is_never_renewed_and_claims_nothing, a_lease_not_yet_renewed_claims_nothing,
    runnable_jobs_are_new_or_interrupted_oldest_first,
    workers_are_listed_with_their_jobs_and_heartbeats,
};
pub use pages::jobs_are_paged_newest_first_by_filter_and_cursor;
pub use retries::a_failed_job_is_retried_from_its_cut_as_a_new_attempt;
pub use runs::{
    a_decision_resumes_a_suspended_job, a_finished_run_ends_its_job_and_releases_its_lease,
    a_run_taken_over_writes_nothing_more, a_waiting_job_is_unloaded_until_woken,
    housekeeping_keeps_what_runs_wrote, readers_see_what_a_running_job_appended,
};
pub use schedules::{
    a_tick_is_fired_once_and_skipped_while_its_previous_job_runs,
    batches_racing_for_their_ticks_create_one_job_each, firings_racing_for_a_tick_create_one_job,
    schedule, schedules_are_created_once_listed_paused_resumed_and_deleted,
    ticks_fired_together_are_each_handled_once_or_not_at_all, SCHEDULE_MODULE,
};
pub use sessions::sessions_are_found_by_hash_revoked_with_their_token_and_pruned;
pub use tokens::api_tokens_are_found_by_hash_used_and_revoked;
pub use webhooks::{
    a_delivery_creates_its_jobs_atomically, a_retried_message_gets_the_first_answer,
    alerts_are_listed_newest_first_and_deleted_with_their_webhook,
    an_alert_is_recorded_once_with_its_jobs, webhooks_are_created_once_listed_enabled_and_deleted,
};

/// A job store under test, as the suite reaches it.
#[async_trait]
pub trait Backend: Send + Sync + Sized {
    /// Opens the store again, as a new process would: every call returns a
    /// new handle on the same store, which holds whatever earlier handles
    /// wrote.
    async fn open(&self) -> Arc<dyn JobStore>;

    /// Where the store is, as text a child process is handed to open it
    /// too (a data directory, a database URL).
    fn place(&self) -> String;

    /// The backend of the store at `place`, in a child process (see
    /// [`crash_child_or`]); it must not remove the store when dropped: the
    /// parent goes on with it.
    fn at(place: &str) -> Self;
}

/// Defines, in a backend's test file, one test per guarantee, named after
/// it, each on a store of its own from `$fresh` (the export's on two) (an expression: a future of
/// the [`Backend`], made again for every test), so that a failure names the
/// guarantee and a new guarantee reaches every backend. The crash test runs
/// itself again as its child, which makes no store of its own. The test
/// file needs tokio's `macros` and `rt-multi-thread` features.
#[macro_export]
macro_rules! store_conformance_tests {
    ($fresh:expr) => {
        $crate::store_conformance_tests!(@each $fresh;
            jobs_are_created_read_listed_and_counted,
            jobs_are_paged_newest_first_by_filter_and_cursor,
            a_job_reads_the_module_it_is_pinned_to,
            finish_ends_a_job_for_good,
            a_stop_is_requested_and_read_back,
            prune_removes_old_ended_jobs_with_their_journals_and_streams,
            runnable_jobs_are_new_or_interrupted_oldest_first,
            a_claimed_job_is_running_under_its_lease,
            a_lease_not_yet_renewed_claims_nothing,
            a_lapsed_lease_is_never_renewed_and_claims_nothing,
            a_dead_workers_job_is_claimable_after_its_lease_ends,
            workers_are_listed_with_their_jobs_and_heartbeats,
            a_run_taken_over_writes_nothing_more,
            readers_see_what_a_running_job_appended,
            a_waiting_job_is_unloaded_until_woken,
            a_finished_run_ends_its_job_and_releases_its_lease,
            a_decision_resumes_a_suspended_job,
            housekeeping_keeps_what_runs_wrote,
            a_failed_job_is_retried_from_its_cut_as_a_new_attempt,
            webhooks_are_created_once_listed_enabled_and_deleted,
            a_retried_message_gets_the_first_answer,
            an_alert_is_recorded_once_with_its_jobs,
            a_delivery_creates_its_jobs_atomically,
            alerts_are_listed_newest_first_and_deleted_with_their_webhook,
            a_busy_plan_attaches_queues_or_refuses_a_start,
            starts_racing_for_a_plan_create_one_job,
            schedules_are_created_once_listed_paused_resumed_and_deleted,
            a_tick_is_fired_once_and_skipped_while_its_previous_job_runs,
            firings_racing_for_a_tick_create_one_job,
            api_tokens_are_found_by_hash_used_and_revoked,
            sessions_are_found_by_hash_revoked_with_their_token_and_pruned,
            ticks_fired_together_are_each_handled_once_or_not_at_all,
            batches_racing_for_their_ticks_create_one_job_each,
        );

        /// From one store into a second, both fresh.
        #[tokio::test(flavor = "multi_thread")]
        async fn a_store_exported_and_imported_reads_the_same() {
            $crate::store::a_store_exported_and_imported_reads_the_same(&$fresh.await, &$fresh.await)
                .await;
        }

        /// Its writer runs in a child process: this test, run again.
        #[tokio::test(flavor = "multi_thread")]
        async fn an_intent_survives_a_crash_of_its_writer() {
            $crate::store::an_intent_survives_a_crash_of_its_writer(
                "an_intent_survives_a_crash_of_its_writer",
                || $fresh,
            )
            .await;
        }
    };
    (@each $fresh:expr; $($guarantee:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread")]
        async fn $guarantee() {
            $crate::store::$guarantee(&$fresh.await).await;
        }
    )*};
}
