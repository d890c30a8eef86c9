-- Version 5.
-- counters: fixed-window request counters for rate limits (the key names
--   the window); expires_at is in Unix seconds, and a counter with
--   expires_at <= now counts as absent, as claims do.
CREATE TABLE IF NOT EXISTS counters (
	key        TEXT PRIMARY KEY,
	n          INTEGER NOT NULL CHECK (n >= 1),
	expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS counters_by_expiry ON counters (expires_at);
