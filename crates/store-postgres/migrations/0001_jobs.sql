-- Schema 1: what SQLite's schema 4 holds, on PostgreSQL, plus each job's
-- `attempt` (the fencing token of its runs: one more at every claim).
-- Times are milliseconds since the epoch (what the port's types and the
-- SQLite store keep), stamped by the database's clock (`drbook_now_ms`).

CREATE FUNCTION drbook_now_ms() RETURNS bigint LANGUAGE sql STABLE
    AS $$ SELECT floor(extract(epoch FROM now()) * 1000)::bigint $$;

CREATE TABLE modules (digest text PRIMARY KEY, bytes bytea NOT NULL);

CREATE TABLE jobs (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id text NOT NULL UNIQUE,
    digest text NOT NULL REFERENCES modules (digest),
    runbook text NOT NULL,
    spec text NOT NULL,
    trigger text NOT NULL,
    state text NOT NULL,
    reason text,
    wake text,
    stop_requested text,
    result text,
    created_ms bigint NOT NULL,
    started_ms bigint,
    ended_ms bigint,
    lease_owner text,
    lease_until_ms bigint,
    attempt bigint NOT NULL DEFAULT 0,
    plan_key text NOT NULL,
    queued boolean NOT NULL DEFAULT false
);
CREATE INDEX jobs_state ON jobs (state);
-- Busy plans, and whether a queued job's turn has come, without reading a
-- plan's ended jobs: only `finish` ends a job, and it sets `ended_ms`.
CREATE INDEX jobs_plan_open ON jobs (plan_key, seq) WHERE ended_ms IS NULL;
CREATE INDEX jobs_lease_owner ON jobs (lease_owner) WHERE lease_owner IS NOT NULL;

CREATE TABLE journal (
    job_id text NOT NULL,
    seq bigint NOT NULL,
    entry text NOT NULL,
    PRIMARY KEY (job_id, seq)
);
CREATE TABLE streams (
    job_id text NOT NULL,
    seq bigint NOT NULL,
    record text NOT NULL,
    PRIMARY KEY (job_id, seq)
);
CREATE TABLE decisions (
    job_id text NOT NULL,
    journal_seq bigint NOT NULL,
    decision text NOT NULL,
    PRIMARY KEY (job_id, journal_seq)
);

CREATE TABLE webhooks (
    name text PRIMARY KEY,
    token_hash text NOT NULL,
    signing_secret text,
    target text NOT NULL,
    enabled boolean NOT NULL,
    expires_ms bigint NOT NULL,
    created_ms bigint NOT NULL,
    created_by text NOT NULL,
    last_used_ms bigint
);
CREATE TABLE webhook_modules (
    webhook text NOT NULL,
    digest text NOT NULL REFERENCES modules (digest),
    PRIMARY KEY (webhook, digest)
);
CREATE TABLE alerts (
    webhook text NOT NULL,
    alert_id text NOT NULL,
    condition text NOT NULL,
    decision text NOT NULL,
    job_ids text NOT NULL,
    received_ms bigint NOT NULL,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    busy text,
    PRIMARY KEY (webhook, alert_id, condition)
);
CREATE TABLE webhook_seen (
    webhook text NOT NULL,
    message_id text NOT NULL,
    at_ms bigint NOT NULL,
    body_sha256 text NOT NULL,
    answer text NOT NULL,
    PRIMARY KEY (webhook, message_id)
);
