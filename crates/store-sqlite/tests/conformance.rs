//! SQLite runs the job store conformance suite (`drbook-conformance`'s
//! `store` module): one test per guarantee, each on a data directory of its
//! own.

use async_trait::async_trait;
use std::path::PathBuf;
use std::sync::Arc;

use drbook_conformance::store::{self, Backend};
use drbook_core::store::JobStore;
use drbook_store_sqlite::SqliteStore;
use tempfile::TempDir;

/// A job store in a data directory: a temporary one of the test's, removed
/// after it, or (in a crash test's child) its parent's.
struct Sqlite {
    dir: PathBuf,
    _temp: Option<TempDir>,
}

impl Sqlite {
    fn fresh() -> Self {
        let temp = tempfile::tempdir().expect("a temporary data directory");
        Sqlite {
            dir: temp.path().to_path_buf(),
            _temp: Some(temp),
        }
    }
}

#[async_trait]
impl Backend for Sqlite {
    async fn open(&self) -> Arc<dyn JobStore> {
        Arc::new(SqliteStore::open(&self.dir).expect("open the job store"))
    }

    fn place(&self) -> String {
        self.dir
            .to_str()
            .expect("a UTF-8 temporary path")
            .to_string()
    }

    fn at(place: &str) -> Self {
        Sqlite {
            dir: PathBuf::from(place),
            _temp: None,
        }
    }
}

/// A test per guarantee, named after it.
macro_rules! guarantees {
    ($($guarantee:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread")]
        async fn $guarantee() {
            store::$guarantee(&Sqlite::fresh()).await;
        }
    )*};
}

guarantees!(
    jobs_are_created_read_listed_and_counted,
    a_job_reads_the_module_it_is_pinned_to,
    finish_ends_a_job_for_good,
    a_stop_is_requested_and_read_back,
    prune_removes_old_ended_jobs_with_their_journals_and_streams,
    runnable_jobs_are_new_or_interrupted_oldest_first,
    a_claimed_job_is_running_under_its_lease,
    a_lease_not_yet_renewed_claims_nothing,
    a_lapsed_lease_is_never_renewed_and_claims_nothing,
    a_dead_workers_job_is_claimable_after_its_lease_ends,
    a_run_taken_over_writes_nothing_more,
    readers_see_what_a_running_job_appended,
    a_waiting_job_is_unloaded_until_woken,
    a_finished_run_ends_its_job_and_releases_its_lease,
    a_decision_resumes_a_suspended_job,
    housekeeping_keeps_what_runs_wrote,
    webhooks_are_created_once_listed_enabled_and_deleted,
    a_retried_message_gets_the_first_answer,
    an_alert_is_recorded_once_with_its_jobs,
    a_delivery_creates_its_jobs_atomically,
    alerts_are_listed_newest_first_and_deleted_with_their_webhook,
    a_busy_plan_attaches_queues_or_refuses_a_start,
    starts_racing_for_a_plan_create_one_job,
);

/// Its writer runs in a child process: this test, run again.
#[tokio::test(flavor = "multi_thread")]
async fn an_intent_survives_a_crash_of_its_writer() {
    store::an_intent_survives_a_crash_of_its_writer(
        "an_intent_survives_a_crash_of_its_writer",
        Sqlite::fresh,
    )
    .await;
}
