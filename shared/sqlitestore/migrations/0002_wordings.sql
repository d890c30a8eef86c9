-- Version 2.
-- wordings: archived consent wording versions, immutable once written;
--   archived_at is the UTC time (timeLayout) of the first archive.
-- magnet_wordings: which magnet used which version.
CREATE TABLE IF NOT EXISTS wordings (
	id                 TEXT PRIMARY KEY,
	wording            TEXT NOT NULL,
	privacy_policy_url TEXT NOT NULL,
	frequency          TEXT NOT NULL,
	controller         TEXT NOT NULL,
	archived_at        TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS magnet_wordings (
	magnet     TEXT NOT NULL,
	wording_id TEXT NOT NULL REFERENCES wordings (id),
	PRIMARY KEY (magnet, wording_id)
) STRICT, WITHOUT ROWID;
