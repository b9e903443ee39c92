-- Schema 3: schedules (`drbook schedule`); SQLite's schema 6. `schedule` is
-- the schedule as created (its pattern, zone and run target, JSON), the
-- columns what changes: `next_ms` its next tick (indexed for a scheduler's
-- tick, which reads the due ones), `last` its latest tick's record,
-- `last_job` the latest job it started (no two runs overlap). `digest` keeps
-- its module from `prune`. `schedule_ticks` is keyed by (schedule, tick),
-- written in the transaction that creates the tick's job: one job per tick.

CREATE TABLE schedules (
    name text PRIMARY KEY,
    schedule text NOT NULL,
    digest text NOT NULL REFERENCES modules(digest),
    paused boolean NOT NULL,
    next_ms bigint,
    last text,
    last_job text
);
CREATE INDEX schedules_due ON schedules (next_ms) WHERE NOT paused;

CREATE TABLE schedule_ticks (
    schedule text NOT NULL,
    tick_ms bigint NOT NULL,
    record text NOT NULL,
    PRIMARY KEY (schedule, tick_ms)
);
