//! SQLite runs the job store conformance suite (`drbook-conformance`'s
//! `store` module): one test per guarantee, each on a data directory of its
//! own.

use async_trait::async_trait;
use std::path::PathBuf;
use std::sync::Arc;

use drbook_conformance::store::Backend;
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

drbook_conformance::store_conformance_tests!(std::future::ready(Sqlite::fresh()));
