//! PostgreSQL runs the job store conformance suite (`drbook-conformance`'s
//! `store` module), every case of it: one test per guarantee, each on a
//! database of its own, copied from a migrated template on the test
//! process's throwaway cluster (`drbook_store_postgres::testing`).

use async_trait::async_trait;
use std::sync::Arc;

use drbook_conformance::store::Backend;
use drbook_core::store::JobStore;
use drbook_store_postgres::{testing, PostgresStore};

/// A job store in a database of its own; the crash test's child reaches the
/// parent's by its URL.
struct Postgres {
    url: String,
}

impl Postgres {
    async fn fresh() -> Self {
        Postgres {
            url: testing::database().await,
        }
    }
}

#[async_trait]
impl Backend for Postgres {
    async fn open(&self) -> Arc<dyn JobStore> {
        Arc::new(
            PostgresStore::open(&self.url)
                .await
                .expect("open the job store"),
        )
    }

    fn place(&self) -> String {
        self.url.clone()
    }

    fn at(place: &str) -> Self {
        Postgres {
            url: place.to_string(),
        }
    }
}

// The crash test's child connects to the parent's database and aborts after
// its intent.
drbook_conformance::store_conformance_tests!(Postgres::fresh());
