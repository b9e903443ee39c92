-- Schema 2: when a job's lease was last renewed (its holder's heartbeat, for
-- `JobStore::workers`), on the database's clock; NULL for leases renewed
-- before. SQLite's schema 5.

ALTER TABLE jobs ADD COLUMN lease_renewed_ms bigint;
