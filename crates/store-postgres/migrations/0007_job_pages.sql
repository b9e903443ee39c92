-- Pages of jobs (`JobStore::page`): keyset pages on (created_ms, id), newest
-- first, one index per filter a page may have, each ending in (created_ms,
-- id) so that a filtered page reads its index from the cursor on and stops
-- when it is full. The plan is indexed by the expression the page's query
-- names it by. `jobs_state` is a prefix of `jobs_state_created`: it goes.
-- SQLite's migration 10.

CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created_ms, id);
CREATE INDEX IF NOT EXISTS jobs_state_created ON jobs (state, created_ms, id);
CREATE INDEX IF NOT EXISTS jobs_runbook_created ON jobs (runbook, created_ms, id);
CREATE INDEX IF NOT EXISTS jobs_plan_created
    ON jobs ((spec::jsonb -> 'plan' ->> 'name'), created_ms, id);
CREATE INDEX IF NOT EXISTS jobs_trigger_created ON jobs (trigger, created_ms, id);
DROP INDEX IF EXISTS jobs_state;
