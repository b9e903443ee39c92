//! A whole job store as portable records ([`Item`]), and the file they
//! travel in (`drbook store export` / `import`): how a store moves from
//! SQLite to PostgreSQL and back.
//!
//! Why records of the port's types and not rows: the two backends' tables
//! differ (PostgreSQL counts each job's `attempt`, SQLite numbers alerts per
//! webhook), so a file of one's rows would need the other to translate them;
//! records in the model's words ([`JobSpec`], [`Entry`], [`Record`], ...)
//! are what both already read and write. Each backend implements
//! [`JobStore::export`](super::JobStore::export) and
//! [`JobStore::import`](super::JobStore::import) over its own tables, and the
//! file is written and read here, once.
//!
//! What is not in a record, on purpose:
//! - **Leases.** An export refuses a job held under a live lease (its worker
//!   would go on writing to the old store, and the job would run twice:
//!   [`StoreError::Leased`]); a lapsed lease (its worker died) is dropped, so
//!   the importing store's workers take the job over as an interrupted one
//!   and resume it from its journal, whose intents make it re-attach to the
//!   operations it started instead of starting them again.
//! - **A job's attempt** (PostgreSQL's fencing token): it orders the runs of
//!   one store; no run of the old store can write to the new one, so the
//!   count starts again there.
//! - **Sequence numbers of alerts**: their order is the records' order.
//!
//! The file is JSON Lines: a [`Header`] naming the format, its version and
//! the store it came from; one [`Item`] a line; a last line ([`Trailer`])
//! with the number of items and the SHA-256 of their lines, so that a
//! truncated or altered file is refused before anything is written.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::io::{BufRead, Write};

use super::StoreError;
use crate::job::{Approval, JobRecord, JobSpec, JobStatus, Wake};
use crate::journal::{Entry, Record};
use crate::schedule::{Schedule, TickRecord};
use crate::store::Busy;
use crate::token::StoredToken;
use crate::webhook::StoredWebhook;

/// What the header's `format` says: this is a drbook job store's export.
pub const FORMAT: &str = "drbook-store-export";

/// The version of the records this build writes and reads. A file of
/// another version is refused: its records may mean other things.
pub const FORMAT_VERSION: u32 = 1;

/// The tables of both backends (named alike) that hold something of a
/// store's: an import's target must have no row in any of them.
pub const TABLES: &[&str] = &[
    "modules",
    "jobs",
    "journal",
    "streams",
    "decisions",
    "webhooks",
    "webhook_modules",
    "alerts",
    "webhook_seen",
    "api_tokens",
    "schedules",
    "schedule_ticks",
];

/// A store's contents, as [`JobStore::export`](super::JobStore::export)
/// returns them.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    pub source: Source,
    pub items: Vec<Item>,
}

/// The store an export came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// `sqlite` or `postgres` (`[store] kind`).
    pub kind: String,
    /// Its schema version when it was exported.
    pub schema: i64,
    /// Where it was (a file, a URL without its password).
    pub location: String,
}

/// The first line of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Header {
    pub format: String,
    pub version: u32,
    pub source: Source,
    pub exported_at: chrono::DateTime<chrono::Utc>,
}

/// The last line of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Trailer {
    /// How many item lines came before it.
    items: usize,
    /// Hex SHA-256 of those lines, each with its `\n`.
    sha256: String,
}

/// One line of the file after its header: one record of the store. A job's
/// journal entries, stream lines and decisions follow the job; modules come
/// before the jobs and webhooks that name them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "item", rename_all = "camelCase")]
pub enum Item {
    /// A module, once per digest.
    Module {
        digest: String,
        #[serde(with = "hex_bytes")]
        bytes: Vec<u8>,
    },
    Job(Box<ExportedJob>),
    /// Journal entry `seq` (from 0) of `job`.
    Entry {
        job: String,
        seq: usize,
        entry: Entry,
    },
    /// Stream line `seq` (from 1) of `job`.
    Stream {
        job: String,
        seq: i64,
        record: Record,
    },
    /// The decision on the manual step at `journal_seq` of `job`.
    Decision {
        job: String,
        journal_seq: usize,
        approval: Approval,
    },
    Webhook(ExportedWebhook),
    /// An alert a webhook received (a webhook's alerts in the order they
    /// arrived).
    Alert(ExportedAlert),
    /// A signed delivery's message id, kept for its retries.
    Seen(ExportedSeen),
    /// An API token (its hash, never its secret), revoked ones included.
    Token(StoredToken),
    /// A schedule, with where it stands (paused, its next tick, its latest
    /// tick and job), after the module it runs.
    Schedule(Box<Schedule>),
    /// A tick `schedule` handled (a schedule's ticks oldest first, after
    /// it): the key that keeps the tick from starting a second job.
    Tick {
        schedule: String,
        record: TickRecord,
    },
}

/// A job with everything its row holds but its lease (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportedJob {
    pub id: String,
    pub digest: String,
    pub runbook: String,
    pub spec: JobSpec,
    pub trigger: String,
    pub status: JobStatus,
    pub reason: Option<String>,
    pub wake: Option<Wake>,
    pub stop_requested: Option<String>,
    pub result: Option<serde_json::Value>,
    pub created_ms: i64,
    pub started_ms: Option<i64>,
    pub ended_ms: Option<i64>,
    /// It waits for its plan's earlier jobs to end.
    pub queued: bool,
    /// Its retries, with the entries each one's cut dropped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<crate::retry::Attempt>,
}

impl ExportedJob {
    /// `record` as exported: its lease left out (see the module docs).
    pub fn new(record: JobRecord, queued: bool) -> Self {
        let ms = |t: chrono::DateTime<chrono::Utc>| t.timestamp_millis();
        ExportedJob {
            id: record.id,
            digest: record.digest,
            runbook: record.runbook,
            spec: record.spec,
            trigger: record.trigger,
            status: record.state,
            reason: record.reason,
            wake: record.wake,
            stop_requested: record.stop_requested,
            result: record.result,
            created_ms: ms(record.created),
            started_ms: record.started.map(ms),
            ended_ms: record.ended.map(ms),
            queued,
            attempts: record.attempts,
        }
    }

    /// The job's record, then its journal, stream lines and decisions, in
    /// order: how a job goes into an export.
    pub fn with_parts(
        self,
        entries: Vec<Entry>,
        streams: Vec<(i64, Record)>,
        decisions: Vec<(usize, Approval)>,
    ) -> impl Iterator<Item = Item> {
        let job = self.id.clone();
        let (j, s) = (job.clone(), job.clone());
        std::iter::once(Item::Job(Box::new(self)))
            .chain(
                entries
                    .into_iter()
                    .enumerate()
                    .map(move |(seq, entry)| Item::Entry {
                        job: j.clone(),
                        seq,
                        entry,
                    }),
            )
            .chain(streams.into_iter().map(move |(seq, record)| Item::Stream {
                job: s.clone(),
                seq,
                record,
            }))
            .chain(
                decisions
                    .into_iter()
                    .map(move |(journal_seq, approval)| Item::Decision {
                        job: job.clone(),
                        journal_seq,
                        approval,
                    }),
            )
    }
}

/// A webhook with the digests of the modules it runs. Its token is kept as
/// its hash, its signing secret as is: the export file holds secrets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportedWebhook {
    pub name: String,
    pub token_hash: String,
    pub signing_secret: Option<String>,
    pub target: serde_json::Value,
    pub enabled: bool,
    pub expires_ms: i64,
    pub created_ms: i64,
    pub created_by: String,
    pub last_used_ms: Option<i64>,
    pub modules: Vec<String>,
}

impl ExportedWebhook {
    pub fn new(webhook: StoredWebhook, modules: Vec<String>) -> Self {
        ExportedWebhook {
            name: webhook.name,
            token_hash: webhook.token_hash,
            signing_secret: webhook.signing_secret,
            target: webhook.target,
            enabled: webhook.enabled,
            expires_ms: webhook.expires.timestamp_millis(),
            created_ms: webhook.created.timestamp_millis(),
            created_by: webhook.created_by,
            last_used_ms: webhook.last_used.map(|t| t.timestamp_millis()),
            modules,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportedAlert {
    pub webhook: String,
    pub alert_id: String,
    pub condition: String,
    pub decision: String,
    pub job_ids: Vec<String>,
    pub received_ms: i64,
    /// The busy plan it met, if it did.
    pub busy: Option<Busy>,
}

/// An alert's row as both backends keep it: its job ids and busy plan as
/// JSON text.
pub type AlertRow = (String, String, String, String, String, i64, Option<String>);

impl ExportedAlert {
    /// `row` (webhook, alert id, condition, decision, job ids, received,
    /// busy plan), its JSON decoded.
    pub fn from_row(row: AlertRow) -> Result<Self, StoreError> {
        let (webhook, alert_id, condition, decision, job_ids, received_ms, busy) = row;
        Ok(ExportedAlert {
            webhook,
            alert_id,
            condition,
            decision,
            job_ids: decode("alert jobs", &job_ids)?,
            received_ms,
            busy: busy.map(|b| decode("alert busy plan", &b)).transpose()?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportedSeen {
    pub webhook: String,
    pub message_id: String,
    pub at_ms: i64,
    /// Hex SHA-256 of its body; `None` for a message recorded before
    /// stores kept it (SQLite's schema 4), whose retry is refused as reused.
    pub body_sha256: Option<String>,
    /// The answer its delivery got (`[job ids, busy plan]`), for a retry.
    pub answer: Option<serde_json::Value>,
}

/// How many records of each kind an export holds: what `drbook store
/// export` and `import` print.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub modules: usize,
    pub jobs: usize,
    pub entries: usize,
    pub streams: usize,
    pub decisions: usize,
    pub webhooks: usize,
    pub alerts: usize,
    pub seen: usize,
    pub tokens: usize,
    pub schedules: usize,
    pub ticks: usize,
}

impl Counts {
    pub fn of(items: &[Item]) -> Self {
        let mut counts = Counts::default();
        for item in items {
            *match item {
                Item::Module { .. } => &mut counts.modules,
                Item::Job(_) => &mut counts.jobs,
                Item::Entry { .. } => &mut counts.entries,
                Item::Stream { .. } => &mut counts.streams,
                Item::Decision { .. } => &mut counts.decisions,
                Item::Webhook(_) => &mut counts.webhooks,
                Item::Alert(_) => &mut counts.alerts,
                Item::Seen(_) => &mut counts.seen,
                Item::Token(_) => &mut counts.tokens,
                Item::Schedule(_) => &mut counts.schedules,
                Item::Tick { .. } => &mut counts.ticks,
            } += 1;
        }
        counts
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} jobs, {} modules, {} journal entries, {} stream lines, {} decisions, {} webhooks, {} alerts, \
             {} message ids, {} API tokens, {} schedules, {} schedule ticks",
            self.jobs,
            self.modules,
            self.entries,
            self.streams,
            self.decisions,
            self.webhooks,
            self.alerts,
            self.seen,
            self.tokens,
            self.schedules,
            self.ticks
        )
    }
}

/// A JSON column's value, or the store's [`StoreError::Decode`].
pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    what: &'static str,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Decode {
        what,
        detail: e.to_string(),
    })
}

/// Why a file cannot be imported. Each says what is wrong and what to do;
/// nothing was written when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("the export cannot be read: {0}")]
    Io(#[from] std::io::Error),
    #[error("the file is empty: it is not a drbook store export; export the store again")]
    Empty,
    #[error(
        "line 1 is not the header of a drbook store export ({detail}); give the file `drbook store export` \
         wrote"
    )]
    NotAnExport { detail: String },
    #[error(
        "the export is of format version {found} and this build reads version {FORMAT_VERSION}; import it \
         with a drbook of the build that exported it{}",
        if *found > FORMAT_VERSION { " or newer (upgrade drbook)" } else { "" }
    )]
    Version { found: u32 },
    #[error(
        "line {line} of the export cannot be read ({detail}): the file is corrupted; export the store again"
    )]
    Corrupt { line: usize, detail: String },
    #[error(
        "the export ends at line {lines} without its last line: the file is truncated (a copy cut short?); \
         export the store again"
    )]
    Truncated { lines: usize },
    #[error(
        "the export's {items} items do not match its last line ({detail}): the file was altered or is \
         corrupted; export the store again"
    )]
    Altered { items: usize, detail: String },
    #[error("the export is inconsistent ({0}): export the store again")]
    Inconsistent(String),
}

/// Writes `export` to `out` as the file described in the module docs.
pub fn write(out: &mut dyn Write, export: &Export) -> std::io::Result<()> {
    let header = Header {
        format: FORMAT.to_string(),
        version: FORMAT_VERSION,
        source: export.source.clone(),
        exported_at: chrono::Utc::now(),
    };
    writeln!(out, "{}", json(&header))?;
    let mut sha = Sha256::new();
    for item in &export.items {
        let line = json(item) + "\n";
        sha.update(line.as_bytes());
        out.write_all(line.as_bytes())?;
    }
    let trailer = Trailer {
        items: export.items.len(),
        sha256: hex::encode(sha.finalize()),
    };
    writeln!(out, "{}", json(&serde_json::json!({ "end": trailer })))?;
    out.flush()
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("export records serialise")
}

/// Reads a file [`write`] wrote: its header and items, checked whole (the
/// version, every line, the trailer's count and hash, each module's digest,
/// that every record's job, webhook and module is in the file) before
/// anything is returned.
pub fn read(input: &mut dyn BufRead) -> Result<(Header, Vec<Item>), FileError> {
    let mut lines = input.lines();
    let first = lines.next().ok_or(FileError::Empty)??;
    let header = read_header(&first)?;
    let mut sha = Sha256::new();
    let mut items = Vec::new();
    let mut trailer = None;
    let mut number = 1;
    for line in lines {
        let line = line?;
        number += 1;
        if trailer.is_some() {
            return Err(FileError::Corrupt {
                line: number,
                detail: "a line after the export's last line".to_string(),
            });
        }
        let corrupt = |e: serde_json::Error| FileError::Corrupt {
            line: number,
            detail: e.to_string(),
        };
        let value: serde_json::Value = serde_json::from_str(&line).map_err(corrupt)?;
        if let Some(end) = value.get("end") {
            trailer = Some(Trailer::deserialize(end).map_err(corrupt)?);
            continue;
        }
        sha.update(line.as_bytes());
        sha.update(b"\n");
        items.push(Item::deserialize(value).map_err(corrupt)?);
    }
    let trailer = trailer.ok_or(FileError::Truncated { lines: number })?;
    let altered = |detail: String| FileError::Altered {
        items: items.len(),
        detail,
    };
    if trailer.items != items.len() {
        return Err(altered(format!("it counts {} items", trailer.items)));
    }
    if trailer.sha256 != hex::encode(sha.finalize()) {
        return Err(altered("their SHA-256 differs".to_string()));
    }
    check_references(&items)?;
    Ok((header, items))
}

fn read_header(line: &str) -> Result<Header, FileError> {
    let not_an_export = |detail: String| FileError::NotAnExport { detail };
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| not_an_export(e.to_string()))?;
    if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(not_an_export(format!("its format is not `{FORMAT}`")));
    }
    // The version before the rest: another version's header may differ.
    let version = value.get("version").and_then(|v| v.as_u64());
    let version = version.ok_or_else(|| not_an_export("it has no version".to_string()))?;
    let found = u32::try_from(version).unwrap_or(u32::MAX);
    if found != FORMAT_VERSION {
        return Err(FileError::Version { found });
    }
    Header::deserialize(value).map_err(|e| not_an_export(e.to_string()))
}

/// Every module hashes to its digest, and every record names a job, webhook
/// or module the file holds before it.
fn check_references(items: &[Item]) -> Result<(), FileError> {
    let (mut modules, mut jobs, mut webhooks) = (HashSet::new(), HashSet::new(), HashSet::new());
    let mut schedules = HashSet::new();
    let missing = |what: &str, name: &str, of: &str| {
        FileError::Inconsistent(format!(
            "{of} names {what} `{name}`, which is not before it"
        ))
    };
    for item in items {
        match item {
            Item::Module { digest, bytes } => {
                if crate::module::digest(bytes) != *digest {
                    return Err(FileError::Inconsistent(format!(
                        "the bytes of module {digest} do not hash to it"
                    )));
                }
                modules.insert(digest.as_str());
            }
            Item::Job(job) => {
                if !modules.contains(job.digest.as_str()) {
                    return Err(missing("module", &job.digest, &format!("job `{}`", job.id)));
                }
                jobs.insert(job.id.as_str());
            }
            Item::Entry { job, .. } | Item::Stream { job, .. } | Item::Decision { job, .. } => {
                if !jobs.contains(job.as_str()) {
                    return Err(missing(
                        "job",
                        job,
                        "a journal entry, stream line or decision",
                    ));
                }
            }
            Item::Webhook(webhook) => {
                if let Some(digest) = webhook
                    .modules
                    .iter()
                    .find(|d| !modules.contains(d.as_str()))
                {
                    let of = format!("webhook `{}`", webhook.name);
                    return Err(missing("module", digest, &of));
                }
                webhooks.insert(webhook.name.as_str());
            }
            Item::Alert(ExportedAlert { webhook, .. })
            | Item::Seen(ExportedSeen { webhook, .. }) => {
                if !webhooks.contains(webhook.as_str()) {
                    return Err(missing("webhook", webhook, "an alert or message id"));
                }
            }
            Item::Token(_) => {}
            Item::Schedule(schedule) => {
                if !modules.contains(schedule.run.digest.as_str()) {
                    let of = format!("schedule `{}`", schedule.name);
                    return Err(missing("module", &schedule.run.digest, &of));
                }
                schedules.insert(schedule.name.as_str());
            }
            Item::Tick { schedule, .. } => {
                if !schedules.contains(schedule.as_str()) {
                    return Err(missing("schedule", schedule, "a tick"));
                }
            }
        }
    }
    Ok(())
}

/// What a job held under a live lease is named by in
/// [`StoreError::Leased`]: its id and its lease's owner.
pub fn leased(jobs: impl IntoIterator<Item = (String, String)>) -> Result<(), StoreError> {
    let jobs: Vec<String> = jobs
        .into_iter()
        .map(|(id, owner)| format!("`{id}` (held by {owner})"))
        .collect();
    if jobs.is_empty() {
        return Ok(());
    }
    Err(StoreError::Leased {
        jobs: jobs.join(", "),
    })
}

/// Module bytes as hex in the file: JSON has no bytes, and hex needs no
/// other crate.
mod hex_bytes {
    use serde::Deserialize;

    pub fn serialize<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        hex::decode(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Export {
        let bytes = b"\0asm module".to_vec();
        let digest = crate::module::digest(&bytes);
        let webhook = ExportedWebhook {
            name: "hook".to_string(),
            token_hash: "ab".repeat(32),
            signing_secret: Some("secret".to_string()),
            target: serde_json::json!({"runbook": "r.wasm"}),
            enabled: true,
            expires_ms: 1_900_000_000_000,
            created_ms: 1_700_000_000_000,
            created_by: "alice".to_string(),
            last_used_ms: None,
            modules: vec![digest.clone()],
        };
        let alert = ExportedAlert {
            webhook: "hook".to_string(),
            alert_id: "alert-1".to_string(),
            condition: "Fired".to_string(),
            decision: "started".to_string(),
            job_ids: vec!["job-1".to_string()],
            received_ms: 1_700_000_000_001,
            busy: None,
        };
        Export {
            source: Source {
                kind: "sqlite".to_string(),
                schema: 5,
                location: "/data/jobs.db".to_string(),
            },
            items: vec![
                Item::Module { digest, bytes },
                Item::Webhook(webhook),
                Item::Alert(alert),
            ],
        }
    }

    fn file(export: &Export) -> String {
        let mut out = Vec::new();
        write(&mut out, export).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn read_text(text: &str) -> Result<(Header, Vec<Item>), FileError> {
        read(&mut text.as_bytes())
    }

    #[test]
    fn a_written_file_reads_back_whole() {
        let export = sample();
        let (header, items) = read_text(&file(&export)).unwrap();
        assert_eq!(
            (header.format.as_str(), header.version),
            (FORMAT, FORMAT_VERSION)
        );
        assert_eq!(header.source, export.source);
        assert_eq!(items, export.items);
        let counts = Counts::of(&items);
        assert_eq!(
            (counts.modules, counts.webhooks, counts.alerts, counts.jobs),
            (1, 1, 1, 0)
        );
    }

    #[test]
    fn a_truncated_file_is_refused() {
        let text = file(&sample());
        let lines: Vec<&str> = text.lines().collect();
        let cut = lines[..lines.len() - 1].join("\n") + "\n";
        assert!(matches!(
            read_text(&cut),
            Err(FileError::Truncated { lines: 4 })
        ));
        // Cut inside a line: that line cannot be read.
        let torn = &text[..text.len() - 10];
        assert!(matches!(
            read_text(torn),
            Err(FileError::Corrupt { line: 5, .. })
        ));
        assert!(matches!(read_text(""), Err(FileError::Empty)));
    }

    #[test]
    fn an_altered_or_corrupted_file_is_refused() {
        let text = file(&sample());
        let altered = text.replace("alert-1", "alert-2");
        let refused = read_text(&altered).unwrap_err();
        assert!(
            matches!(refused, FileError::Altered { items: 3, .. }),
            "{refused}"
        );
        assert!(
            refused.to_string().contains("export the store again"),
            "{refused}"
        );
        let dropped: Vec<&str> = text.lines().filter(|l| !l.contains("alert-1")).collect();
        let dropped = dropped.join("\n") + "\n";
        assert!(matches!(
            read_text(&dropped),
            Err(FileError::Altered { items: 2, .. })
        ));
        let garbage = text.replacen("{\"item\"", "{\"item\" garbage", 1);
        assert!(matches!(
            read_text(&garbage),
            Err(FileError::Corrupt { line: 2, .. })
        ));
        let after = text.clone() + "{}\n";
        assert!(matches!(
            read_text(&after),
            Err(FileError::Corrupt { line: 6, .. })
        ));
    }

    #[test]
    fn another_version_or_format_is_refused_with_the_fix() {
        let text = file(&sample());
        let newer = text.replacen("\"version\":1", "\"version\":2", 1);
        let refused = read_text(&newer).unwrap_err();
        assert!(
            matches!(refused, FileError::Version { found: 2 }),
            "{refused}"
        );
        assert!(refused.to_string().contains("upgrade drbook"), "{refused}");
        let other = text.replacen(FORMAT, "something-else", 1);
        assert!(matches!(
            read_text(&other),
            Err(FileError::NotAnExport { .. })
        ));
        assert!(matches!(
            read_text("not json\n"),
            Err(FileError::NotAnExport { .. })
        ));
    }

    #[test]
    fn records_naming_what_the_file_lacks_or_bad_module_bytes_are_refused() {
        let mut export = sample();
        if let Item::Module { bytes, .. } = &mut export.items[0] {
            bytes.push(0);
        }
        let refused = read_text(&file(&export)).unwrap_err();
        assert!(
            refused.to_string().contains("do not hash to it"),
            "{refused}"
        );
        let mut export = sample();
        export.items.remove(1);
        let refused = read_text(&file(&export)).unwrap_err();
        assert!(
            refused.to_string().contains("names webhook `hook`"),
            "{refused}"
        );
    }
}
