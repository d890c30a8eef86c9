-- A database as schema version 2 left it: its tables, one event, one claim,
-- one archived wording used by one magnet. The DDL is a frozen copy of
-- migration steps 1 and 2; do not edit it.
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
CREATE TABLE wordings (
	id                 TEXT PRIMARY KEY,
	wording            TEXT NOT NULL,
	privacy_policy_url TEXT NOT NULL,
	frequency          TEXT NOT NULL,
	controller         TEXT NOT NULL,
	archived_at        TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE magnet_wordings (
	magnet     TEXT NOT NULL,
	wording_id TEXT NOT NULL REFERENCES wordings (id),
	PRIMARY KEY (magnet, wording_id)
) STRICT, WITHOUT ROWID;
INSERT INTO events (subscriber, seq, magnet, at, data) VALUES (
	'sub1', 1, 'guide', '2025-01-02T03:04:05.000000006Z',
	'{"subscriber":"sub1","seq":1,"id":"e1","type":"signup","at":"2025-01-02T03:04:05.000000006Z","magnet":"guide","email":"ann@example.com"}'
);
INSERT INTO claims (key, expires_at) VALUES ('held', 4102444800);
INSERT INTO wordings (id, wording, privacy_policy_url, frequency, controller, archived_at) VALUES (
	'w-old', 'Yes, email me.', 'https://example.com/privacy', 'monthly', 'Example Ltd', '2025-01-02T03:04:05.000000006Z'
);
INSERT INTO magnet_wordings (magnet, wording_id) VALUES ('guide', 'w-old');
PRAGMA user_version = 2;
