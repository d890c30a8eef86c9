-- A database as schema version 1 left it: its tables, one event, one claim.
-- The DDL is a frozen copy of migration step 1; do not edit it.
CREATE TABLE events (
	subscriber TEXT NOT NULL,
	seq        INTEGER NOT NULL CHECK (seq >= 1),
	magnet     TEXT NOT NULL,
	at         TEXT NOT NULL,
	data       TEXT NOT NULL CHECK (json_valid(data)),
	PRIMARY KEY (subscriber, seq)
) STRICT, WITHOUT ROWID;
CREATE INDEX events_by_magnet ON events (magnet, at, subscriber, seq);
CREATE TABLE claims (
	key        TEXT PRIMARY KEY,
	expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX claims_by_expiry ON claims (expires_at);
INSERT INTO events (subscriber, seq, magnet, at, data) VALUES (
	'sub1', 1, 'guide', '2025-01-02T03:04:05.000000006Z',
	'{"subscriber":"sub1","seq":1,"id":"e1","type":"signup","at":"2025-01-02T03:04:05.000000006Z","magnet":"guide","email":"ann@example.com"}'
);
INSERT INTO claims (key, expires_at) VALUES ('held', 4102444800);
PRAGMA user_version = 1;
