-- Version 6.
-- tombstones: what is kept of an erased person: id is a keyed hash of the
--   address (never the subscriber id), at the UTC time (timeLayout) of the
--   first erasure and reason why. The first tombstone of an id stays.
CREATE TABLE IF NOT EXISTS tombstones (
	id     TEXT PRIMARY KEY,
	at     TEXT NOT NULL,
	reason TEXT NOT NULL
) STRICT, WITHOUT ROWID;
