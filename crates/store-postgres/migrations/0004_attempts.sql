-- Schema 4: a job's retries (`drbook jobs retry`): its attempts after the
-- first, oldest first, as JSON (`drbook_core::retry::Attempt`, with the
-- journal entries each cut dropped); NULL for a job that ran once. Not the
-- `attempt` column, which counts claims and fences runs. SQLite's schema 7.

ALTER TABLE jobs ADD COLUMN retries text;
