//! `drbook store`: the job store itself.
//!
//! `migrate` brings the configured job store's schema up to this build's.
//! SQLite's store migrates as it opens (one host, one file); PostgreSQL's is
//! shared by hosts that may run different builds, so its upgrade is the
//! operator's step: a store not migrated is refused with this command's
//! name, and a store newer than the build is refused by both.
//!
//! `export` and `import` (`move_store`) move a store's contents to another
//! store, of either backend.

mod move_store;

use clap::{Args, Subcommand};

use super::{Global, InputError, Outcome};
use crate::config::StoreChoice;
use drbook_store_postgres::PostgresStore;
use drbook_store_sqlite::SqliteStore;

#[derive(Args)]
pub struct StoreArgs {
    #[command(subcommand)]
    command: StoreCommand,
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Migrate the job store to this build's schema (PostgreSQL: before
    /// the first worker of a new build starts; several at once take turns).
    Migrate,
    /// Write everything the job store holds to a file (JSON Lines), for
    /// `drbook store import` into another store. Stop the store's workers
    /// first: a job under a live lease is refused.
    Export(move_store::ExportArgs),
    /// Read a file `drbook store export` wrote into the configured job
    /// store, which must be empty (PostgreSQL: migrated), in one transaction.
    Import(move_store::ImportArgs),
}

pub async fn run(global: &Global, args: StoreArgs) -> anyhow::Result<Outcome> {
    match args.command {
        StoreCommand::Migrate => migrate(global).await,
        StoreCommand::Export(args) => move_store::export(global, args).await,
        StoreCommand::Import(args) => move_store::import(global, args).await,
    }
}

async fn migrate(global: &Global) -> anyhow::Result<Outcome> {
    let (location, from, to) = match &global.config()?.store {
        StoreChoice::Sqlite { dir } => {
            let store = SqliteStore::open(dir)?;
            let location = store.file().display().to_string();
            let schema = drbook_store_sqlite::SCHEMA_VERSION;
            (location, None, schema)
        }
        StoreChoice::Postgres { url } => {
            let migrated = PostgresStore::migrate(url)
                .await
                .map_err(|e| InputError::new(format!("cannot migrate the job store: {e}")))?;
            let schema = drbook_store_postgres::SCHEMA_VERSION;
            (migrated.location, Some(migrated.from), schema)
        }
    };
    if global.json {
        let report = serde_json::json!({"store": location, "from": from, "schema": to});
        println!("{report}");
    } else {
        match from {
            Some(from) if from < to => {
                println!("migrated the job store at {location} from schema {from} to {to}")
            }
            _ => println!("the job store at {location} is at schema {to}, this build's"),
        }
    }
    Ok(Outcome::Success)
}
