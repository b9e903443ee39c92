//! A running job's spool: what its host calls and streams write while it
//! runs, appended to `<data-dir>/spool/<job>.jsonl` with one `write(2)` per
//! host call, and folded into the job store when the run ends or unloads,
//! when it has grown to [`FOLD_EVERY`] lines, or when another run of the job
//! starts (after a crash, say).
//!
//! Why not straight into the store: a commit to SQLite shared by several
//! processes costs 10–25 µs (file locks, WAL frames) on every host call; an
//! append to a file costs about 1 µs. Both survive the death of the process
//! the same way (the kernel holds what was written).
//!
//! Who may write: the holder of the job's lease. Every append checks the
//! worker's lease locally ([`Lease::held`]), so a worker that stalled past its
//! lease stops writing before another may take the job over; every fold checks
//! it in the store, inside its transaction. A run that takes a job over folds
//! the old spool and removes it before it creates its own, so late appends of
//! a stale writer land in a file nobody reads.
//!
//! Power loss: an intent (a call with an effect outside the job, about to be
//! made) is synced to disk before the effect, and a fold's commit is synced
//! before the spool is removed, so a resumed job never starts an operation
//! twice. Other appends are not synced: a power loss may lose the last
//! replies and lines, which the resumed job asks for or writes again.
//!
//! Why the file is padded with zeros: on ext4 (and most journaling file
//! systems) syncing an append also commits the file's new size to the
//! journal, a second write and flush; syncing an overwrite of blocks the
//! file already has flushes only the data. So a write that would pass the
//! end of the file also writes [`PAD`] zeros after its line, and the next
//! lines overwrite them: an intent's sync costs about two thirds of an
//! append's (`scripts/sync-append-vs-overwrite.py`, `docs/benchmarks.md`). Readers stop at the first zero byte
//! (JSON lines never hold one), which also drops what a power loss tore
//! among lines never synced.
//!
//! Readers (`jobs logs --follow`, the job API) read the spool before the store
//! and merge by sequence number: they see a running job's lines as they are
//! written, and none go missing while a fold moves them.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fs::File;
use std::io::{ErrorKind, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::db::{self, decode, encode, Error, Result, SqliteStore};
use crate::jobs::{holds_lease, whole_journal};
use drbook_core::job::JobStatus;
use drbook_core::journal::{Entry, Record};
use drbook_core::lease::Lease;
use drbook_core::store::StoreError;

/// A running job's spool is folded into the store once it holds this many
/// lines: readers re-read the whole file, and a run that never unloads (a
/// long loop of host calls) must not grow it without end.
const FOLD_EVERY: usize = 4096;

/// Zeros written after a line that passes the end of the spool file, for
/// the next lines to overwrite (see the module's doc): room for about a
/// hundred journal entries.
const PAD: usize = 32 * 1024;

/// One line of a spool file: borrowed to be written, owned once read.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Line<'a> {
    /// Journal entry `seq` (a new one, or the reply to an intent: the last
    /// line for a `seq` wins).
    Entry { seq: usize, entry: Cow<'a, Entry> },
    /// Stream line `seq` of the job.
    Stream { seq: i64, record: Cow<'a, Record> },
}

/// The writing end of a job's spool, for one run; cheap to clone (the
/// journal and the runbook's stdout and stderr share it).
#[derive(Clone)]
pub(crate) struct Spool {
    store: SqliteStore,
    job_id: Arc<str>,
    writer: Arc<Mutex<Writer>>,
}

struct Writer {
    path: PathBuf,
    lease: Lease,
    /// `None` once folded; an append after that opens the file again.
    file: Option<File>,
    /// Whether the file's directory entry is on disk (synced at the first
    /// durable append after the file was created).
    created_durably: bool,
    next_stream: i64,
    /// Reused for every append: one line (or two) per `write(2)`.
    buf: Vec<u8>,
    /// Where the next line goes: the end of the lines, before the zeros.
    end: u64,
    /// The file's length, lines and zeros.
    len: u64,
    /// Lines in the file now.
    lines: usize,
    /// An append was refused because the lease was no longer held.
    lease_lost: bool,
    /// A write failed (a full disk, say) and may have left part of a line:
    /// nothing more is written after it, so the fold drops only that part.
    failed: bool,
}

impl SqliteStore {
    /// Where job `id`'s spool file is: named after the id, with every byte
    /// that is not `[A-Za-z0-9_-]` escaped as `%XX`.
    pub(crate) fn spool_path(&self, id: &str) -> PathBuf {
        let mut name = String::with_capacity(id.len() + 6);
        for b in id.bytes() {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                name.push(b as char);
            } else {
                name.push_str(&format!("%{b:02X}"));
            }
        }
        name.push_str(".jsonl");
        self.data_dir().join("spool").join(name)
    }

    /// Starts a run of job `id` held by `lease`: folds what an earlier run
    /// left in the job's spool into the store, opens a new spool, and returns
    /// it with the journal the run replays.
    pub(crate) fn open_spool(&self, id: &str, lease: &Lease) -> Result<(Spool, Vec<Entry>)> {
        let path = self.spool_path(id);
        // The journal is the store's, then the spool's lines: read once, for
        // the fold and for the journal, which is not read back after the fold
        // wrote it (nobody else writes it: the lease is held).
        let lines = read_to_fold(&path)?;
        let stored = self.stored_journal(id)?;
        let next_stream = fold_lines(self, id, lease.owner(), &path, &lines, None)?;
        let file = create(&path, id, lease.owner())?;
        let spool = Spool {
            store: self.clone(),
            job_id: id.into(),
            writer: Arc::new(Mutex::new(Writer {
                path,
                lease: lease.clone(),
                file: Some(file),
                created_durably: false,
                next_stream,
                buf: Vec::with_capacity(512),
                end: 0,
                len: 0,
                lines: 0,
                lease_lost: false,
                failed: false,
            })),
        };
        Ok((spool, whole_journal(id, stored, lines)?))
    }

    /// Tidies the spool directory after crashes: the spool of a job that
    /// has ended (its worker was killed between the fold's commit and the
    /// file's removal, or the job was stopped after its host died) is folded
    /// into the store and removed; that of a job no longer in the store is
    /// removed. Spools of jobs still running or resumable are left to their
    /// next run, and one that cannot be read is left for inspection. Returns
    /// how many were tidied.
    pub(crate) fn tidy_spools(&self) -> Result<usize> {
        let dir = self.data_dir().join("spool");
        let entries = std::fs::read_dir(&dir).map_err(io_error(&dir))?;
        let mut tidied = 0;
        for path in entries.flatten().map(|e| e.path()) {
            let Some(id) = job_of(&path) else { continue };
            let Ok(lines) = read(&path) else { continue };
            let ended = self.write_durably(|tx| {
                let job: Option<(String, Option<String>)> = tx
                    .query_row(
                        "SELECT state, lease_owner FROM jobs WHERE id = ?1",
                        [&id],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                let Some((state, owner)) = job else {
                    return Ok(true);
                };
                let state: JobStatus = decode("job state", &state)?;
                if !state.is_terminal() || owner.is_some() {
                    return Ok(false);
                }
                insert(tx, &id, &lines)?;
                Ok(true)
            })?;
            if ended && std::fs::remove_file(&path).is_ok() {
                tidied += 1;
            }
        }
        Ok(tidied)
    }

    /// What job `id`'s spool holds now (empty if it has none).
    pub(crate) fn spooled(&self, id: &str) -> Result<Vec<Line<'static>>> {
        read(&self.spool_path(id))
    }
}

impl Spool {
    pub(crate) fn store(&self) -> &SqliteStore {
        &self.store
    }

    pub(crate) fn job_id(&self) -> &str {
        &self.job_id
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[cfg(test)]
    /// Appends journal entry `seq` and, in the same write, the stream line
    /// the call produced: both are stored, or neither.
    pub(crate) fn append(&self, seq: usize, entry: &Entry, stream: Option<&Record>) -> Result<()> {
        self.append_lines(Some((seq, entry)), stream, false)
    }

    /// Appends an intent (an entry without its reply yet, for a call with
    /// an effect outside the job) and syncs it to disk before returning.
    pub(crate) fn append_intent(&self, seq: usize, entry: &Entry) -> Result<()> {
        self.append_lines(Some((seq, entry)), None, true)
    }

    #[cfg(test)]
    /// Appends a stream line that is not a host call's (stdout, stderr).
    pub(crate) fn append_stream(&self, record: &Record) -> Result<()> {
        self.append_lines(None, Some(record), false)
    }

    /// Writes, then folds if the spool has grown to [`FOLD_EVERY`] lines.
    fn append_lines(
        &self,
        entry: Option<(usize, &Entry)>,
        stream: Option<&Record>,
        durable: bool,
    ) -> Result<()> {
        if self.write_lines(entry, stream, durable)? {
            self.fold_if_due()?;
        }
        Ok(())
    }

    /// Writes; true if the spool has grown to [`FOLD_EVERY`] lines and is
    /// due a fold ([`fold_if_due`](Self::fold_if_due)).
    pub(crate) fn write_lines(
        &self,
        entry: Option<(usize, &Entry)>,
        stream: Option<&Record>,
        durable: bool,
    ) -> Result<bool> {
        let mut writer = self.writer();
        writer.write(&self.job_id, entry, stream, durable)?;
        Ok(writer.lines >= FOLD_EVERY)
    }

    /// Folds if the spool is still due a fold (no other append folded it
    /// meanwhile).
    pub(crate) fn fold_if_due(&self) -> Result<()> {
        let mut writer = self.writer();
        if writer.lines >= FOLD_EVERY {
            self.fold_locked(&mut writer, None)?;
        }
        Ok(())
    }

    #[cfg(test)]
    /// Moves what this run spooled into the store and removes the file.
    /// Fails with `LeaseLost` if another worker took the job over meanwhile
    /// (its run folded this spool already).
    pub(crate) fn fold(&self) -> Result<()> {
        self.fold_with(|_| Ok(()))
    }

    /// [`fold`](Self::fold), with `then` in the same transaction: at the end
    /// of a run, how it ended is recorded with what it wrote, or neither.
    pub(crate) fn fold_with(
        &self,
        mut then: impl FnMut(&Transaction<'_>) -> Result<()>,
    ) -> Result<()> {
        self.fold_locked(&mut self.writer(), Some(&mut then))
    }

    /// Folds with the writer held; the next append starts a new file. A
    /// fold refused for the lease marks the run's lease lost.
    fn fold_locked(&self, writer: &mut Writer, then: Option<Then<'_>>) -> Result<()> {
        writer.file = None;
        writer.lines = 0;
        (writer.end, writer.len) = (0, 0);
        let (owner, path) = (writer.lease.owner(), &writer.path);
        let folded = fold(&self.store, &self.job_id, owner, path, then);
        if let Err(Error::Store(StoreError::LeaseLost { .. })) = folded {
            writer.lease_lost = true;
        }
        writer.next_stream = folded?;
        Ok(())
    }

    /// Whether an append was refused because this worker's lease lapsed: the
    /// run must end without recording anything; the job will be resumed.
    pub(crate) fn lease_lost(&self) -> bool {
        self.writer().lease_lost
    }
}

impl Writer {
    /// Writes a journal entry, a stream line or both with one `write(2)`,
    /// if the lease is still held; `durable`: synced to disk too.
    fn write(
        &mut self,
        job_id: &str,
        entry: Option<(usize, &Entry)>,
        stream: Option<&Record>,
        durable: bool,
    ) -> Result<()> {
        if !self.lease.held() {
            self.lease_lost = true;
            return Err(StoreError::LeaseLost {
                job: job_id.to_string(),
                owner: self.lease.owner().to_string(),
            }
            .into());
        }
        if self.failed {
            return Err(StoreError::Spool {
                path: self.path.clone(),
                detail: "an earlier write to it failed; nothing more is written".to_string(),
            }
            .into());
        }
        self.buf.clear();
        if let Some((seq, entry)) = entry {
            let entry = Cow::Borrowed(entry);
            push_line(&mut self.buf, &Line::Entry { seq, entry });
        }
        if let Some(record) = stream {
            let (seq, record) = (self.next_stream, Cow::Borrowed(record));
            push_line(&mut self.buf, &Line::Stream { seq, record });
        }
        let result = self.write_buf(job_id, durable);
        self.failed = result.is_err();
        result?;
        self.lines += usize::from(entry.is_some()) + usize::from(stream.is_some());
        if stream.is_some() {
            self.next_stream += 1;
        }
        Ok(())
    }

    /// Writes what `buf` holds; `durable`: synced to disk too.
    fn write_buf(&mut self, job_id: &str, durable: bool) -> Result<()> {
        let spool_error = io_error(&self.path);
        let file = match &mut self.file {
            Some(file) => file,
            None => {
                self.created_durably = false;
                let file = create(&self.path, job_id, self.lease.owner());
                if let Err(Error::Store(StoreError::LeaseLost { .. })) = file {
                    self.lease_lost = true;
                }
                self.file.insert(file?)
            }
        };
        let end = self.end + self.buf.len() as u64;
        file.write_all(&self.buf).map_err(spool_error)?;
        if end > self.len {
            // Past the end: the zeros the next lines overwrite, from a
            // static (growing `buf` by them kept 32 KiB per running job),
            // then back to the line's end.
            static ZEROS: [u8; PAD] = [0; PAD];
            file.write_all(&ZEROS).map_err(spool_error)?;
            file.seek(SeekFrom::Start(end)).map_err(spool_error)?;
            self.len = end + PAD as u64;
        }
        self.end = end;
        if durable {
            file.sync_data().map_err(spool_error)?;
            if !self.created_durably {
                let dir = self.path.parent().unwrap_or(Path::new("."));
                File::open(dir)
                    .and_then(|dir| dir.sync_all())
                    .map_err(spool_error)?;
                self.created_durably = true;
            }
        }
        Ok(())
    }
}

/// Creates the spool file of a run. If one appeared since the last fold, a
/// stale run of the job wrote it, and this run must neither write beside it
/// nor fail the job: `LeaseLost` leaves the job to be claimed again (which
/// folds that file).
fn create(path: &Path, job: &str, owner: &str) -> Result<File> {
    drbook_core::private::file_options()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| match e.kind() {
            ErrorKind::AlreadyExists => StoreError::LeaseLost {
                job: job.to_string(),
                owner: owner.to_string(),
            }
            .into(),
            _ => io_error(path)(e),
        })
}

/// A failed file operation on the spool at `path`.
fn io_error(path: &Path) -> impl Fn(std::io::Error) -> Error + Copy + '_ {
    move |e| {
        StoreError::Spool {
            path: path.to_path_buf(),
            detail: e.to_string(),
        }
        .into()
    }
}

fn push_line(buf: &mut Vec<u8>, line: &Line) {
    serde_json::to_writer(&mut *buf, line).expect("spool lines serialise");
    buf.push(b'\n');
}

/// Reads a spool file: its lines end at the first zero byte (the padding).
/// A last line without its newline was cut short by a crash in the middle
/// of its write: it was never acknowledged, so it is left out.
fn read(path: &Path) -> Result<Vec<Line<'static>>> {
    let mut bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(path)(e)),
    };
    // memchr, not a byte at a time: every fold and reader scans the lines
    // and up to `PAD` zeros after them.
    if let Some(zero) = memchr::memchr(0, &bytes) {
        bytes.truncate(zero);
    }
    let complete = memchr::memrchr(b'\n', &bytes).map_or(0, |end| end + 1);
    bytes[..complete]
        .split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.is_empty())
        .map(|(n, line)| {
            serde_json::from_slice(line).map_err(|e| {
                StoreError::Spool {
                    path: path.to_path_buf(),
                    detail: format!(
                        "line {} is corrupt ({e}); the job cannot resume from it, and the file is left as it is \
                         for inspection",
                        n + 1
                    ),
                }
                .into()
            })
        })
        .collect()
}

/// What is written with a fold, in its transaction.
type Then<'a> = &'a mut dyn FnMut(&Transaction<'_>) -> Result<()>;

/// Moves the spool at `path` into the store for job `id` (in one
/// transaction that checks `owner` holds the lease, with `then`) and removes
/// the file. Returns the next stream sequence number of the job. With
/// nothing to write (no spool, no `then`: a job's first start) it only reads.
fn fold(
    store: &SqliteStore,
    id: &str,
    owner: &str,
    path: &Path,
    then: Option<Then<'_>>,
) -> Result<i64> {
    let lines = read_to_fold(path)?;
    fold_lines(store, id, owner, path, &lines, then)
}

/// The lines of the spool at `path`, to be folded. Lines to move are
/// committed durably (see `write`): a call made in place stops before
/// reading them, not after.
fn read_to_fold(path: &Path) -> Result<Vec<Line<'static>>> {
    if std::fs::metadata(path).is_ok_and(|m| m.len() > 0) {
        db::may_wait()?;
    }
    read(path)
}

/// [`fold`] of `lines`, read from `path` with [`read_to_fold`].
fn fold_lines(
    store: &SqliteStore,
    id: &str,
    owner: &str,
    path: &Path,
    lines: &[Line<'_>],
    then: Option<Then<'_>>,
) -> Result<i64> {
    let next_stream = if lines.is_empty() && then.is_none() {
        next_stream(&*store.conn()?, id)?
    } else {
        write(store, id, owner, lines, then)?
    };
    match std::fs::remove_file(path) {
        Ok(()) => Ok(next_stream),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(next_stream),
        Err(e) => Err(io_error(path)(e)),
    }
}

fn next_stream(conn: &Connection, id: &str) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT coalesce(max(seq), 0) + 1 FROM streams WHERE job_id = ?1")?
        .query_row([id], |r| r.get(0))?)
}

/// The transaction of [`fold`].
fn write(
    store: &SqliteStore,
    id: &str,
    owner: &str,
    lines: &[Line<'_>],
    then: Option<Then<'_>>,
) -> Result<i64> {
    // Durably when there is something to move: the file is removed next.
    let fold = |tx: &Transaction<'_>| {
        holds_lease(tx, id, owner)?;
        insert(tx, id, lines)?;
        if let Some(then) = then {
            then(tx)?;
        }
        next_stream(tx, id)
    };
    if lines.is_empty() {
        store.write(fold)
    } else {
        store.write_durably(fold)
    }
}

/// Writes spool lines into the store (the last line for a position wins).
pub(crate) fn insert(tx: &Transaction<'_>, id: &str, lines: &[Line<'_>]) -> Result<()> {
    let mut entry = tx.prepare_cached(
        "INSERT OR REPLACE INTO journal (job_id, seq, entry) VALUES (?1, ?2, ?3)",
    )?;
    let mut stream = tx.prepare_cached(
        "INSERT OR REPLACE INTO streams (job_id, seq, record) VALUES (?1, ?2, ?3)",
    )?;
    for line in lines {
        match line {
            Line::Entry { seq, entry: e } => {
                entry.execute(params![id, *seq as i64, encode(e)])?;
            }
            Line::Stream { seq, record } => {
                stream.execute(params![id, seq, encode(record)])?;
            }
        }
    }
    Ok(())
}

/// The job id a spool file is named after (see `SqliteStore::spool_path`).
fn job_of(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?.strip_suffix(".jsonl")?;
    let mut bytes = Vec::with_capacity(name.len());
    let mut rest = name.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use drbook_core::journal::{Call, Stream};
    use std::time::{Duration, SystemTime};

    fn store_with_job(dir: &Path) -> SqliteStore {
        let store = SqliteStore::open(dir).unwrap();
        let plan = drbook_core::plan::RecoveryPlan::parse(
            "name = \"p\"\nprimary_region = \"a\"\nrecovery_region = \"b\"\n[[groups]]\nname = \"g\"\nvms = [\"vm\"]\n",
            "test",
        )
        .unwrap();
        let spec = serde_json::from_value(serde_json::json!({
            "jobId": "j", "plan": plan, "failoverType": "Planned",
            "direction": "PrimaryToRecovery", "parameters": {}
        }))
        .unwrap();
        let job = drbook_core::job::NewJob {
            digest: "sha256:x",
            runbook: "r.wasm",
            spec: &spec,
        };
        store.create(job, b"module").unwrap();
        store
    }

    /// A lease renewed and holding job `j`.
    fn holding(store: &SqliteStore, owner: &str, duration: Duration) -> Lease {
        let lease = Lease::new(owner, duration);
        assert!(store.renew(&lease).unwrap());
        assert!(store.claim("j", &lease).unwrap(), "{owner} claims j");
        lease
    }

    fn now(reply: u64) -> Entry {
        Entry {
            call: Call::Now,
            reply: Some(serde_json::json!(reply)),
            at: 1,
        }
    }

    fn line(text: &str) -> Record {
        Record {
            stream: Stream::Output,
            time: SystemTime::UNIX_EPOCH,
            text: text.to_string(),
        }
    }

    fn replies(store: &SqliteStore) -> Vec<serde_json::Value> {
        store
            .journal("j")
            .unwrap()
            .into_iter()
            .map(|e| e.reply.unwrap_or_default())
            .collect()
    }

    fn texts(store: &SqliteStore, after: i64) -> Vec<(i64, String)> {
        store
            .streams("j", after)
            .unwrap()
            .into_iter()
            .map(|(seq, r)| (seq, r.text))
            .collect()
    }

    #[test]
    fn readers_see_a_running_jobs_lines_before_and_after_the_fold() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_job(dir.path());
        let lease = holding(&store, "w", Duration::from_secs(30));
        let (spool, _) = store.open_spool("j", &lease).unwrap();
        spool.append(0, &now(10), Some(&line("a"))).unwrap();
        spool.append_stream(&line("b")).unwrap();
        // An intent, then its reply: the last line for a position wins.
        let intent = Entry {
            reply: None,
            ..now(0)
        };
        spool.append_intent(1, &intent).unwrap();
        spool.append(1, &now(11), None).unwrap();

        let expected_lines = vec![(1, "a".to_string()), (2, "b".to_string())];
        assert_eq!(replies(&store), vec![10, 11]);
        assert_eq!(texts(&store, 0), expected_lines);
        assert_eq!(texts(&store, 1), expected_lines[1..]);

        spool.fold().unwrap();
        assert!(!store.spool_path("j").exists(), "a fold removes the file");
        assert_eq!(
            replies(&store),
            vec![10, 11],
            "the same journal, from the store"
        );
        assert_eq!(texts(&store, 0), expected_lines);

        // The next run numbers its lines after the folded ones.
        let (spool, _) = store.open_spool("j", &lease).unwrap();
        spool.append_stream(&line("c")).unwrap();
        assert_eq!(texts(&store, 2), vec![(3, "c".to_string())]);
    }

    #[test]
    fn a_long_run_folds_its_spool_as_it_goes() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_job(dir.path());
        let lease = holding(&store, "w", Duration::from_secs(30));
        let (spool, _) = store.open_spool("j", &lease).unwrap();
        let total = FOLD_EVERY + 10;
        for seq in 0..total {
            spool.append(seq, &now(seq as u64), None).unwrap();
        }
        assert_eq!(store.spooled("j").unwrap().len(), 10, "the rest was folded");
        let expected: Vec<_> = (0..total as u64).map(|n| serde_json::json!(n)).collect();
        assert_eq!(replies(&store), expected);
        spool.fold().unwrap();
        assert_eq!(replies(&store), expected);
    }

    #[test]
    fn a_line_cut_by_a_crash_is_dropped_and_a_corrupt_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_job(dir.path());
        let lease = holding(&store, "w", Duration::from_secs(30));
        let (spool, _) = store.open_spool("j", &lease).unwrap();
        spool.append(0, &now(10), None).unwrap();
        let path = store.spool_path("j");
        write_after_lines(&path, br#"{"entry":{"seq":1,"entry":{"ca"#);
        assert_eq!(replies(&store), vec![10], "the cut line is not there");

        // A new run (the host died) folds what was whole, and replays it.
        let (spool, journal) = store.open_spool("j", &lease).unwrap();
        assert_eq!(journal, vec![now(10)]);
        assert_eq!(replies(&store), vec![10]);
        spool.append(1, &now(11), None).unwrap();
        assert_eq!(replies(&store), vec![10, 11]);

        write_after_lines(&path, b"not json\n");
        let error = store.journal("j").unwrap_err().to_string();
        assert!(error.contains("line 2 is corrupt"), "{error}");
        assert!(error.contains(&path.display().to_string()), "{error}");
        let error = spool.fold().unwrap_err().to_string();
        assert!(error.contains("line 2 is corrupt"), "{error}");
        assert!(
            path.exists(),
            "a spool that cannot be read is left in place"
        );
    }

    /// Writes `bytes` where the spool's lines end (over its zeros), as a
    /// write cut short or damaged would have.
    fn write_after_lines(path: &Path, bytes: &[u8]) {
        let end = std::fs::read(path).unwrap().iter().position(|&b| b == 0);
        let mut file = File::options().write(true).open(path).unwrap();
        file.seek(SeekFrom::Start(end.unwrap() as u64)).unwrap();
        file.write_all(bytes).unwrap();
    }

    #[test]
    fn lines_end_at_the_padding_and_what_a_power_loss_tore_after_it_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_job(dir.path());
        let lease = holding(&store, "w", Duration::from_secs(30));
        let (spool, _) = store.open_spool("j", &lease).unwrap();
        spool.append_intent(0, &now(10)).unwrap();
        spool.append(1, &now(11), None).unwrap();
        let path = store.spool_path("j");
        let bytes = std::fs::read(&path).unwrap();
        let end = bytes
            .iter()
            .position(|&b| b == 0)
            .expect("zeros after the lines");
        assert_eq!(bytes[end - 1], b'\n');
        assert!(bytes[end..].iter().all(|&b| b == 0) && bytes.len() - end >= PAD - 512);

        // A power loss kept a later block of unsynced lines but not the one
        // before it: the lines end at the first zero.
        let mut file = File::options().write(true).open(&path).unwrap();
        file.seek(SeekFrom::Start(end as u64 + 4096)).unwrap();
        let mut torn = Vec::new();
        push_line(
            &mut torn,
            &Line::Entry {
                seq: 3,
                entry: Cow::Owned(now(13)),
            },
        );
        file.write_all(&torn).unwrap();
        assert_eq!(replies(&store), vec![10, 11]);

        // Lines past the first padding go on in the next.
        for seq in 2..400 {
            spool.append(seq, &now(seq as u64 + 10), None).unwrap();
        }
        let expected: Vec<_> = (10..410).map(|n| serde_json::json!(n)).collect();
        assert_eq!(replies(&store), expected);
    }

    #[test]
    fn a_writer_whose_lease_lapsed_stops_and_the_new_holder_folds_its_spool() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_job(dir.path());
        let first = holding(&store, "first", Duration::from_millis(100));
        let (stale, _) = store.open_spool("j", &first).unwrap();
        stale.append(0, &now(10), None).unwrap();
        std::thread::sleep(Duration::from_millis(120));

        // The first worker stalled past its lease: it writes no more...
        let refused = stale.append(1, &now(666), None).unwrap_err();
        assert!(
            matches!(refused, Error::Store(StoreError::LeaseLost { .. })),
            "{refused}"
        );
        assert!(stale.lease_lost());
        // ... and a second one takes the job over with what it spooled.
        let second = holding(&store, "second", Duration::from_secs(30));
        let (spool, _) = store.open_spool("j", &second).unwrap();
        assert_eq!(replies(&store), vec![10]);
        spool.append(1, &now(11), None).unwrap();
        let refused = stale.fold().unwrap_err();
        assert!(
            matches!(refused, Error::Store(StoreError::LeaseLost { .. })),
            "{refused}"
        );
        spool.fold().unwrap();
        assert_eq!(replies(&store), vec![10, 11]);
    }

    #[test]
    fn a_lapsed_lease_is_never_renewed_and_claims_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_job(dir.path());
        let lease = Lease::new("w", Duration::from_millis(50));
        assert!(store.renew(&lease).unwrap(), "a new lease is renewed");
        assert!(store.renew(&lease).unwrap(), "a held one too");
        std::thread::sleep(Duration::from_millis(60));
        assert!(!store.renew(&lease).unwrap(), "a lapsed one is not");
        assert!(!lease.held());
        assert!(!store.claim("j", &lease).unwrap());
        assert_eq!(store.get("j").unwrap().lease_owner, None);
    }

    #[test]
    fn late_appends_of_a_taken_over_run_land_where_nobody_reads() {
        // The race the local check leaves: a writer that passed its check
        // and stalled before writing while its job was taken over. Played
        // here by moving the job's lease in the store under it.
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_job(dir.path());
        let first = holding(&store, "first", Duration::from_secs(30));
        let (stale, _) = store.open_spool("j", &first).unwrap();
        stale.append(0, &now(10), None).unwrap();
        store
            .conn()
            .unwrap()
            .execute("UPDATE jobs SET lease_until_ms = 0 WHERE id = 'j'", [])
            .unwrap();
        let second = holding(&store, "second", Duration::from_secs(30));
        let (spool, _) = store.open_spool("j", &second).unwrap();

        stale.append(1, &now(666), Some(&line("stale"))).unwrap();
        spool.append(1, &now(11), Some(&line("new"))).unwrap();
        assert_eq!(replies(&store), vec![10, 11]);
        assert_eq!(texts(&store, 0), vec![(1, "new".to_string())]);
        spool.fold().unwrap();
        assert_eq!(replies(&store), vec![10, 11]);
    }

    #[test]
    fn prune_removes_an_ended_jobs_journal_streams_and_leftover_spool() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_job(dir.path());
        let lease = holding(&store, "w", Duration::from_secs(30));
        let (spool, _) = store.open_spool("j", &lease).unwrap();
        spool.append(0, &now(10), Some(&line("a"))).unwrap();
        spool.fold().unwrap();
        // Its host died with a line spooled; then the job was stopped.
        let (spool, _) = store.open_spool("j", &lease).unwrap();
        spool.append(1, &now(11), Some(&line("b"))).unwrap();
        store
            .finish(
                "j",
                JobStatus::Stopped,
                Some("stopped"),
                &serde_json::Value::Null,
            )
            .unwrap();
        assert!(store.spool_path("j").exists());
        assert_eq!(replies(&store), vec![10, 11], "still readable until pruned");

        assert_eq!(
            store
                .prune(chrono::Utc::now() + chrono::Duration::seconds(1))
                .unwrap(),
            1
        );
        assert!(
            !store.spool_path("j").exists(),
            "the spool went with the job"
        );
        assert!(matches!(
            store.get("j"),
            Err(Error::Store(StoreError::NoSuchJob { .. }))
        ));
        assert!(store.journal("j").unwrap().is_empty());
        assert!(store.streams("j", 0).unwrap().is_empty());
    }

    #[test]
    fn tidying_folds_ended_jobs_spools_and_leaves_running_ones() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_job(dir.path());
        let lease = holding(&store, "w", Duration::from_secs(30));
        let (spool, _) = store.open_spool("j", &lease).unwrap();
        spool.append(0, &now(10), Some(&line("a"))).unwrap();
        assert_eq!(
            store.tidy_spools().unwrap(),
            0,
            "a running job's spool stays"
        );
        assert!(store.spool_path("j").exists());

        // The job ends without its spool folded (its host died, then it was
        // stopped): tidying moves the spool into the store.
        let stopped = JobStatus::Stopped;
        store
            .finish("j", stopped, Some("stopped"), &serde_json::Value::Null)
            .unwrap();
        let ghost = store.spool_path("pruned job");
        std::fs::copy(store.spool_path("j"), &ghost).unwrap();
        let damaged = store.spool_path("damaged");
        std::fs::write(&damaged, "not a spool line\n").unwrap();
        assert_eq!(store.tidy_spools().unwrap(), 2);
        assert!(!store.spool_path("j").exists());
        assert_eq!(replies(&store), vec![10], "from the store now");
        assert_eq!(texts(&store, 0), vec![(1, "a".to_string())]);
        assert!(
            !ghost.exists(),
            "the spool of a job no longer stored is removed"
        );
        assert!(
            damaged.exists(),
            "one that cannot be read is left for inspection"
        );
    }

    #[test]
    fn spool_files_are_named_safely_after_any_job_id() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let path = store.spool_path("../a b/ü");
        assert_eq!(path.parent().unwrap(), dir.path().join("spool"));
        assert_eq!(
            path.file_name().unwrap().to_str().unwrap(),
            "%2E%2E%2Fa%20b%2F%C3%BC.jsonl"
        );
        assert_eq!(job_of(&path).as_deref(), Some("../a b/ü"), "and back");
    }
}
