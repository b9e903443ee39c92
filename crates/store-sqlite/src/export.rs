//! The whole store as portable records and back (`drbook store export` /
//! `import`; the format is drbook-core's `store::export`).
//!
//! An export reads each job's journal and streams as readers do, spool
//! included: a job whose worker died mid-plan has its last lines (an intent
//! above all) only in its spool, and the importing store must resume it from
//! them. An import writes every record in one synced transaction, into a
//! store with no rows and no spool files (a spool left by an earlier store
//! would be folded into the imported job of its name).

use chrono::Utc;
use rusqlite::{params, Connection};
use std::collections::{HashMap, HashSet};

use crate::db::{decode, encode, Result, SqliteStore, SCHEMA_VERSION};
use drbook_core::store::export::{
    self, AlertRow, Export, ExportedAlert, ExportedJob, ExportedWebhook, Item, Source,
};
use drbook_core::store::{plan_key, StoreError};

impl SqliteStore {
    pub(crate) fn export(&self) -> Result<Export> {
        let now = Utc::now();
        // Oldest first: the order jobs are created in again.
        let mut jobs = self.list(None, i64::MAX as usize)?;
        jobs.reverse();
        export::leased(jobs.iter().filter_map(|job| {
            let live = job.lease_until.is_some_and(|until| until > now);
            Some((job.id.clone(), job.lease_owner.clone().filter(|_| live)?))
        }))?;
        let (queued, mut decisions, mut items, mut webhook_modules, alerts, seen) = {
            let conn = self.conn()?;
            (
                queued(&conn)?,
                decisions(&conn)?,
                modules(&conn)?,
                webhook_modules(&conn)?,
                alerts(&conn)?,
                seen(&conn)?,
            )
        };
        for job in jobs {
            let id = job.id.clone();
            let decisions = decisions
                .remove(&id)
                .unwrap_or_default()
                .into_iter()
                .map(|(seq, text)| Ok((seq, decode("decision", &text)?)))
                .collect::<Result<_>>()?;
            let queued = queued.contains(&id);
            let parts = ExportedJob::new(job, queued).with_parts(
                self.journal(&id)?,
                self.streams(&id, 0)?,
                decisions,
            );
            items.extend(parts);
        }
        for webhook in self.webhooks()? {
            let modules = webhook_modules.remove(&webhook.name).unwrap_or_default();
            items.push(Item::Webhook(ExportedWebhook::new(webhook, modules)));
        }
        items.extend(alerts);
        items.extend(seen);
        items.extend(self.tokens()?.into_iter().map(Item::Token));
        for schedule in self.schedules(None)? {
            let mut ticks = self.schedule_ticks(&schedule.name, usize::MAX)?;
            ticks.reverse();
            let name = schedule.name.clone();
            items.push(Item::Schedule(Box::new(schedule)));
            items.extend(ticks.into_iter().map(|record| Item::Tick {
                schedule: name.clone(),
                record,
            }));
        }
        Ok(Export {
            source: Source {
                kind: "sqlite".to_string(),
                schema: SCHEMA_VERSION,
                location: self.file().display().to_string(),
            },
            items,
        })
    }

    pub(crate) fn import(&self, items: &[Item]) -> Result<()> {
        self.write_durably(|tx| {
            self.check_empty(tx)?;
            // Alerts are numbered per webhook, in the order they arrived.
            let mut alert_seq: HashMap<&str, i64> = HashMap::new();
            for item in items {
                match item {
                    Item::Module { digest, bytes } => {
                        tx.prepare_cached("INSERT INTO modules (digest, bytes) VALUES (?1, ?2)")?
                            .execute(params![digest, bytes])?;
                    }
                    Item::Job(job) => insert_job(tx, job)?,
                    Item::Entry { job, seq, entry } => {
                        tx.prepare_cached("INSERT INTO journal (job_id, seq, entry) VALUES (?1, ?2, ?3)")?
                            .execute(params![job, *seq as i64, encode(entry)])?;
                    }
                    Item::Stream { job, seq, record } => {
                        tx.prepare_cached("INSERT INTO streams (job_id, seq, record) VALUES (?1, ?2, ?3)")?
                            .execute(params![job, seq, encode(record)])?;
                    }
                    Item::Decision {
                        job,
                        journal_seq,
                        approval,
                    } => {
                        tx.prepare_cached(
                            "INSERT INTO decisions (job_id, journal_seq, decision) VALUES (?1, ?2, ?3)",
                        )?
                        .execute(params![job, *journal_seq as i64, encode(approval)])?;
                    }
                    Item::Webhook(w) => {
                        tx.prepare_cached(
                            "INSERT INTO webhooks (name, token_hash, signing_secret, target, enabled, expires_ms,
                             created_ms, created_by, last_used_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                        )?
                        .execute(params![
                            w.name,
                            w.token_hash,
                            w.signing_secret,
                            encode(&w.target),
                            w.enabled,
                            w.expires_ms,
                            w.created_ms,
                            w.created_by,
                            w.last_used_ms
                        ])?;
                        for digest in &w.modules {
                            tx.prepare_cached("INSERT INTO webhook_modules (webhook, digest) VALUES (?1, ?2)")?
                                .execute(params![w.name, digest])?;
                        }
                    }
                    Item::Alert(a) => {
                        let seq = alert_seq.entry(a.webhook.as_str()).or_default();
                        *seq += 1;
                        tx.prepare_cached(
                            "INSERT INTO alerts (webhook, alert_id, condition, decision, job_ids, received_ms, seq,
                             busy) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                        )?
                        .execute(params![
                            a.webhook,
                            a.alert_id,
                            a.condition,
                            a.decision,
                            encode(&a.job_ids),
                            a.received_ms,
                            *seq,
                            a.busy.as_ref().map(encode)
                        ])?;
                    }
                    Item::Token(token) => {
                        crate::tokens::insert(tx, token)?;
                    }
                    Item::Schedule(schedule) => {
                        crate::schedules::insert(tx, schedule)?;
                    }
                    Item::Tick { schedule, record } => {
                        crate::schedules::insert_tick(tx, schedule, record)?;
                    }
                    Item::Seen(s) => {
                        tx.prepare_cached(
                            "INSERT INTO webhook_seen (webhook, message_id, at_ms, body_sha256, answer)
                             VALUES (?1, ?2, ?3, ?4, ?5)",
                        )?
                        .execute(params![
                            s.webhook,
                            s.message_id,
                            s.at_ms,
                            s.body_sha256,
                            s.answer.as_ref().map(encode)
                        ])?;
                    }
                }
            }
            Ok(())
        })
    }

    /// Refuses a target that holds rows, or spool files of an earlier store.
    fn check_empty(&self, tx: &rusqlite::Transaction<'_>) -> Result<()> {
        let mut holds = Vec::new();
        for table in export::TABLES {
            let rows: i64 =
                tx.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
            if rows > 0 {
                holds.push(format!("{rows} rows of {table}"));
            }
        }
        let spool = self.data_dir().join("spool");
        let spools = std::fs::read_dir(&spool).map(|d| d.count()).unwrap_or(0);
        if spools > 0 {
            holds.push(format!("{spools} spool files in {}", spool.display()));
        }
        if holds.is_empty() {
            return Ok(());
        }
        Err(StoreError::NotEmpty {
            location: self.file().display().to_string(),
            holds: holds.join(", "),
        }
        .into())
    }
}

fn queued(conn: &Connection) -> Result<HashSet<String>> {
    let mut stmt = conn.prepare("SELECT id FROM jobs WHERE queued")?;
    let ids = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(ids)
}

/// Every decision, by job, as stored.
fn decisions(conn: &Connection) -> Result<HashMap<String, Vec<(usize, String)>>> {
    let mut stmt = conn.prepare(
        "SELECT job_id, journal_seq, decision FROM decisions ORDER BY job_id, journal_seq",
    )?;
    let mut decisions: HashMap<String, Vec<(usize, String)>> = HashMap::new();
    for row in stmt.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get(2)?))
    })? {
        let (job, seq, decision) = row?;
        decisions
            .entry(job)
            .or_default()
            .push((seq as usize, decision));
    }
    Ok(decisions)
}

fn modules(conn: &Connection) -> Result<Vec<Item>> {
    let mut stmt = conn.prepare("SELECT digest, bytes FROM modules ORDER BY digest")?;
    let modules = stmt
        .query_map([], |r| {
            Ok(Item::Module {
                digest: r.get(0)?,
                bytes: r.get(1)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(modules)
}

/// The digests of the modules each webhook runs.
fn webhook_modules(conn: &Connection) -> Result<HashMap<String, Vec<String>>> {
    let mut stmt =
        conn.prepare("SELECT webhook, digest FROM webhook_modules ORDER BY webhook, digest")?;
    let mut modules: HashMap<String, Vec<String>> = HashMap::new();
    for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))? {
        let (webhook, digest) = row?;
        modules.entry(webhook).or_default().push(digest);
    }
    Ok(modules)
}

fn insert_job(tx: &rusqlite::Transaction<'_>, job: &ExportedJob) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO jobs (id, digest, runbook, spec, trigger, state, reason, wake, stop_requested, result,
         created_ms, started_ms, ended_ms, plan_key, queued, retries)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?
    .execute(params![
        job.id,
        job.digest,
        job.runbook,
        encode(&job.spec),
        job.trigger,
        encode(&job.status),
        job.reason,
        job.wake.as_ref().map(encode),
        job.stop_requested,
        job.result.as_ref().map(encode),
        job.created_ms,
        job.started_ms,
        job.ended_ms,
        plan_key(&job.spec.plan),
        job.queued,
        (!job.attempts.is_empty()).then(|| encode(&job.attempts))
    ])?;
    Ok(())
}

/// Every alert, a webhook's in the order they arrived.
fn alerts(conn: &Connection) -> Result<Vec<Item>> {
    let mut stmt = conn.prepare(
        "SELECT webhook, alert_id, condition, decision, job_ids, received_ms, busy FROM alerts
         ORDER BY webhook, received_ms, seq",
    )?;
    let rows = stmt
        .query_map([], |r| r.try_into())?
        .collect::<rusqlite::Result<Vec<AlertRow>>>()?;
    rows.into_iter()
        .map(|row| Ok(Item::Alert(ExportedAlert::from_row(row)?)))
        .collect()
}

/// The message ids kept for retries (those recorded before schema 4 with
/// no body hash and no answer).
fn seen(conn: &Connection) -> Result<Vec<Item>> {
    let mut stmt = conn.prepare(
        "SELECT webhook, message_id, at_ms, body_sha256, answer FROM webhook_seen
         ORDER BY webhook, message_id",
    )?;
    type Row = (String, String, i64, Option<String>, Option<String>);
    let rows = stmt
        .query_map([], |r| r.try_into())?
        .collect::<rusqlite::Result<Vec<Row>>>()?;
    rows.into_iter()
        .map(|(webhook, message_id, at_ms, body_sha256, answer)| {
            Ok(Item::Seen(export::ExportedSeen {
                webhook,
                message_id,
                at_ms,
                body_sha256,
                answer: answer.map(|a| decode("delivery answer", &a)).transpose()?,
            }))
        })
        .collect()
}
