-- Version 3.
-- jobs: delivery jobs (the outbox). data holds the whole job as JSON; state,
--   created_at (timeLayout), lease_until (timeLayout, the zero time when
--   there is no lease) and expires_at (Unix seconds, NULL for no TTL) are
--   copies used by queries. Index jobs_due lists pending and sending jobs
--   oldest first.
-- claims.value: the value a Commit stored with a claim; empty for a claim
--   committed without a value.
CREATE TABLE IF NOT EXISTS jobs (
	id          TEXT PRIMARY KEY,
	state       TEXT NOT NULL,
	created_at  TEXT NOT NULL,
	lease_until TEXT NOT NULL,
	expires_at  INTEGER,
	data        TEXT NOT NULL CHECK (json_valid(data))
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS jobs_due ON jobs (created_at, id) WHERE state IN ('pending', 'sending');
CREATE INDEX IF NOT EXISTS jobs_by_expiry ON jobs (expires_at);
ALTER TABLE claims ADD COLUMN value TEXT NOT NULL DEFAULT '';
