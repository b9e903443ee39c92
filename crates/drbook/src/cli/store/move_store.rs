//! `drbook store export` and `drbook store import`: a job store's contents
//! moved to another store, SQLite to PostgreSQL and back, through a file of
//! portable records (drbook-core's `store::export`: the format, its checks,
//! why leases are not carried). Both commands are backend-agnostic: each
//! store implements `JobStore::export` and `import`.
//!
//! Exit codes: 2 for a file that cannot be imported (another format
//! version, truncated, corrupted, of a newer schema) and for a target store
//! that is not empty, nothing written; 1 for an export refused because a
//! worker holds a job (stop the workers, then export again).

use anyhow::Context as _;
use clap::Args;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use super::super::{open_store, Global, InputError, Outcome};
use drbook_core::store::export::{self, Counts, Header};
use drbook_core::store::StoreError;

#[derive(Args)]
pub struct ExportArgs {
    /// Where to write it: a file (created 0600: it holds webhooks' signing
    /// secrets and the requests that started jobs), or `-` for stdout.
    #[arg(long, default_value = "-")]
    out: PathBuf,
}

#[derive(Args)]
pub struct ImportArgs {
    /// The file `drbook store export` wrote, or `-` for stdin.
    file: PathBuf,
}

fn is_stdio(path: &Path) -> bool {
    path.as_os_str() == "-"
}

pub async fn export(global: &Global, args: ExportArgs) -> anyhow::Result<Outcome> {
    let store = open_store(global)?;
    let exported = store
        .export()
        .await
        .with_context(|| format!("cannot export the job store at {}", store.location()))?;
    let counts = Counts::of(&exported.items);
    if is_stdio(&args.out) {
        let mut out = std::io::stdout().lock();
        export::write(&mut out, &exported).context("cannot write the export to stdout")?;
    } else {
        write_file(&args.out, &exported)?;
    }
    let to = if is_stdio(&args.out) {
        "stdout".to_string()
    } else {
        args.out.display().to_string()
    };
    let report = if global.json {
        serde_json::json!({"store": exported.source.location, "out": to, "moved": counts})
            .to_string()
    } else {
        format!(
            "exported {counts} from {} to {to}",
            exported.source.location
        )
    };
    // Stdout may be the export itself.
    if is_stdio(&args.out) {
        eprintln!("{report}");
    } else {
        println!("{report}");
    }
    Ok(Outcome::Success)
}

/// Writes the export beside `path` and renames it there once whole: a file
/// of that name is never half an export.
fn write_file(path: &Path, exported: &export::Export) -> anyhow::Result<()> {
    let partial = path.with_extension("partial");
    let cannot = || format!("cannot write the export to {}", path.display());
    let file = drbook_core::private::file_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&partial)
        .with_context(cannot)?;
    let mut out = std::io::BufWriter::new(file);
    export::write(&mut out, exported).with_context(cannot)?;
    out.into_inner()
        .map_err(|e| e.into_error())
        .and_then(|file| file.sync_all())
        .with_context(cannot)?;
    std::fs::rename(&partial, path).with_context(cannot)?;
    Ok(())
}

pub async fn import(global: &Global, args: ImportArgs) -> anyhow::Result<Outcome> {
    let name = if is_stdio(&args.file) {
        "stdin".to_string()
    } else {
        args.file.display().to_string()
    };
    let refused = |e: &dyn std::fmt::Display| InputError::new(format!("cannot import {name}: {e}"));
    let read = if is_stdio(&args.file) {
        export::read(&mut std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(&args.file).map_err(|e| refused(&e))?;
        export::read(&mut BufReader::new(file))
    };
    let (header, items) = read.map_err(|e| refused(&e))?;
    known_schema(&header).map_err(|e| refused(&e))?;
    let counts = Counts::of(&items);
    let store = open_store(global)?;
    let location = store.location();
    match store.import(items).await {
        Ok(()) => {}
        Err(e @ StoreError::NotEmpty { .. }) => return Err(refused(&e).into()),
        Err(e) => {
            let context = format!("cannot import {name} into {location}");
            return Err(anyhow::Error::new(e).context(context));
        }
    }
    if global.json {
        let report = serde_json::json!({"store": location, "from": header.source, "moved": counts});
        println!("{report}");
    } else {
        let from = &header.source;
        println!(
            "imported {counts} into {location} (exported from {} store {} at schema {})",
            from.kind, from.location, from.schema
        );
    }
    std::io::stdout().flush()?;
    Ok(Outcome::Success)
}

/// Refuses an export of a store whose schema this build does not know: its
/// records may hold what this build would drop.
fn known_schema(header: &Header) -> Result<(), String> {
    let source = &header.source;
    let known = match source.kind.as_str() {
        "sqlite" => drbook_store_sqlite::SCHEMA_VERSION,
        "postgres" => drbook_store_postgres::SCHEMA_VERSION,
        other => {
            return Err(format!(
                "it was exported from a `{other}` store, a kind this build does not have (it has sqlite and \
                 postgres); import it with the drbook that exported it"
            ))
        }
    };
    if source.schema > known {
        return Err(format!(
            "it was exported from a {} store at schema {}, newer than this build's ({known}); upgrade drbook \
             to the build that exported it or newer",
            source.kind, source.schema
        ));
    }
    Ok(())
}
