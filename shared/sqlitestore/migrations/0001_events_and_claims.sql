-- Version 1.
-- events: one row per ledger event. data holds the whole event as JSON;
--   subscriber, seq, magnet and at are copies used as keys. at is the UTC
--   time as fixed-width text (timeLayout), so text order is time order.
-- claims: TTL records; expires_at is in Unix seconds and a record with
--   expires_at <= now counts as absent.
CREATE TABLE IF NOT EXISTS events (
	subscriber TEXT NOT NULL,
	seq        INTEGER NOT NULL CHECK (seq >= 1),
	magnet     TEXT NOT NULL,
	at         TEXT NOT NULL,
	data       TEXT NOT NULL CHECK (json_valid(data)),
	PRIMARY KEY (subscriber, seq)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_by_magnet ON events (magnet, at, subscriber, seq);
CREATE TABLE IF NOT EXISTS claims (
	key        TEXT PRIMARY KEY,
	expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS claims_by_expiry ON claims (expires_at);
