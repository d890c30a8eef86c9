// Package sqlitestore is the embedded consent.Store: one SQLite file, used by
// the local server and the operator CLI. It runs on modernc.org/sqlite, a
// pure-Go SQLite, so binaries need no cgo.
//
// The database runs in WAL mode, so another process (a second server, the
// sqlite3 shell, a backup) may read the file while this one writes. Writes
// through one Store take turns in order; writers in different processes
// wait up to five seconds for each other before failing.
package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/unbundled/unbundled/shared/consent"
)

// schemaVersion is stored in PRAGMA user_version: the number of
// migrations applied. To change the schema, bump it and append a step to
// migrations.
const schemaVersion = 3

// migrations[v] takes a database from schema version v to v+1; a new file
// runs them all. Steps run in one transaction with the version bump, so each
// runs once per file; CREATE statements are idempotent besides. Released
// steps never change: files in the field were made by them.
//
// Version 1:
//   - events: one row per ledger event. data holds the whole event as JSON;
//     subscriber, seq, magnet and at are copies used as keys. at is the UTC
//     time as fixed-width text (timeLayout), so text order is time order.
//   - claims: TTL records; expires_at is in Unix seconds and a record with
//     expires_at <= now counts as absent.
//
// Version 2:
//   - wordings: archived consent wording versions, immutable once written;
//     archived_at is the UTC time (timeLayout) of the first archive.
//   - magnet_wordings: which magnet used which version.
//
// Version 3:
//   - jobs: delivery jobs (the outbox). data holds the whole job as JSON;
//     state, created_at (timeLayout), lease_until (timeLayout, the zero time
//     when there is no lease) and expires_at (Unix seconds, NULL for no TTL)
//     are copies used by queries. Index jobs_due lists pending and sending
//     jobs oldest first.
//   - claims.value: the value a Commit stored with a claim; empty for a
//     claim committed without a value.
var migrations = [schemaVersion]string{
	`
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
`,
	`
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
`,
	`
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
`,
}

// timeLayout formats event times as fixed-width UTC text that sorts in time
// order (years 0000–9999).
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// Store is a consent.Store backed by one SQLite file. It is safe for
// concurrent use.
type Store struct {
	db *sql.DB
	// writer is held by the one write transaction in flight (see
	// beginWrite).
	writer chan struct{}
}

// writeTx is a write transaction that holds the store's writer slot until
// it commits or rolls back.
type writeTx struct {
	*sql.Tx
	release func()
}

// beginWrite starts a write transaction once no other one of this Store is
// in flight. SQLite lets one connection write at a time anyway; queueing
// here is first come, first served and gives up when ctx ends, whereas
// writers left to SQLite's busy handler poll, and under a burst of sign-ups
// some waited past busy_timeout and failed with SQLITE_BUSY. busy_timeout
// still covers writers in other processes.
func (s *Store) beginWrite(ctx context.Context) (*writeTx, error) {
	select {
	case s.writer <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	release := sync.OnceFunc(func() { <-s.writer })
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		release()
		return nil, err
	}
	return &writeTx{Tx: tx, release: release}, nil
}

// Commit commits the transaction and frees the writer slot.
func (t *writeTx) Commit() error {
	defer t.release()
	return t.Tx.Commit()
}

// Rollback rolls the transaction back, unless it has ended, and frees the
// writer slot.
func (t *writeTx) Rollback() error {
	defer t.release()
	return t.Tx.Rollback()
}

var _ consent.Store = (*Store)(nil)

// Open opens the database at path, creating the file and the schema if they
// do not exist and migrating a file made by an older version forward. It
// fails if the file holds a schema newer than this code knows, or is not a
// SQLite database.
func Open(path string) (*Store, error) {
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, fmt.Errorf("open sqlite store: %w", err)
	}
	s := &Store{db: db, writer: make(chan struct{}, 1)}
	if err := s.migrate(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite store: %w", err)
	}
	return s, nil
}

// dsn builds the driver's data source name. The pragmas are DSN parameters
// so that every pooled connection gets them, not only the first.
// _txlock=immediate makes transactions take the write lock at BEGIN, so two
// appenders queue on busy_timeout instead of one failing on lock upgrade.
func dsn(path string) string {
	// SQLite URI filenames treat %, ? and # specially.
	escaped := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Set("_txlock", "immediate")
	return "file:" + escaped + "?" + q.Encode()
}

// migrate creates the schema or brings an older one up to date, inside one
// write transaction, so two processes opening a file at once do not both
// migrate it and a failed step leaves the file as it was.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	switch {
	case version > schemaVersion:
		return fmt.Errorf("schema version %d is newer than this program supports (%d)", version, schemaVersion)
	case version == schemaVersion:
		return nil
	case version < 0:
		return fmt.Errorf("schema version %d is not one this program made", version)
	}
	for v := version; v < schemaVersion; v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("migrate schema from version %d to %d: %w", v, v+1, err)
		}
	}
	// PRAGMA takes no bound parameters; schemaVersion is a constant.
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(schemaVersion)); err != nil {
		return fmt.Errorf("set schema version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit migration: %w", err)
	}
	return nil
}

// Close closes the database; the Store must not be used afterwards.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close sqlite store: %w", err)
	}
	return nil
}

// Append writes events in one transaction, all or nothing: it is Commit
// with events alone. The events must belong to one subscriber and have
// consecutive Seq values starting at 1 or more; otherwise nothing is written
// and the error does not wrap consent.ErrConflict. If any position is taken
// the error wraps consent.ErrConflict. Times are stored in UTC with
// nanoseconds.
func (s *Store) Append(ctx context.Context, events []consent.Event) error {
	return s.Commit(ctx, consent.Write{Events: events})
}

// Commit writes w in one transaction, all or nothing: claims first, then
// events, then jobs. If a claim's key is held by a record unexpired at w.Now
// the error wraps consent.ErrClaimTaken and consent.ErrConflict (this wins
// over a taken position); if an event position or job id is taken it wraps
// consent.ErrConflict. Claim expiries are kept in whole Unix seconds as in
// Claim, and so is a job's ExpiresAt (rounded up). It fails, without
// wrapping consent.ErrConflict, if w breaks the rules consent.CheckWrite enforces.
func (s *Store) Commit(ctx context.Context, w consent.Write) error {
	if err := consent.CheckWrite(w); err != nil {
		return err
	}
	if len(w.Events) == 0 && len(w.Jobs) == 0 && len(w.Claims) == 0 {
		return nil
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("commit: begin: %w", err)
	}
	defer tx.Rollback()
	if err := insertClaims(ctx, tx.Tx, w.Claims, w.Now); err != nil {
		return err
	}
	if err := insertEvents(ctx, tx.Tx, w.Events); err != nil {
		return err
	}
	if err := insertJobs(ctx, tx.Tx, w.Jobs); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// insertClaims creates or takes over (if expired at now) each claim.
func insertClaims(ctx context.Context, tx *sql.Tx, claims []consent.ClaimRecord, now time.Time) error {
	if len(claims) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, `
		INSERT INTO claims (key, value, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
		WHERE claims.expires_at <= ?`)
	if err != nil {
		return fmt.Errorf("claim: prepare: %w", err)
	}
	defer stmt.Close()
	for _, c := range claims {
		res, err := stmt.ExecContext(ctx, c.Key, c.Value, ceilUnix(c.ExpiresAt), now.Unix())
		if err != nil {
			return fmt.Errorf("claim %s: %w", c.Key, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("claim %s: %w", c.Key, err)
		}
		if n == 0 {
			return fmt.Errorf("claim %s: %w: %w", c.Key, consent.ErrClaimTaken, consent.ErrConflict)
		}
	}
	return nil
}

func insertEvents(ctx context.Context, tx *sql.Tx, events []consent.Event) error {
	if len(events) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, "INSERT INTO events (subscriber, seq, magnet, at, data) VALUES (?, ?, ?, ?, ?)")
	if err != nil {
		return fmt.Errorf("append events: prepare: %w", err)
	}
	defer stmt.Close()
	for _, e := range events {
		e.At = e.At.UTC()
		data, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("append event %d: encode: %w", e.Seq, err)
		}
		_, err = stmt.ExecContext(ctx, e.Subscriber, e.Seq, e.Magnet, e.At.Format(timeLayout), string(data))
		if isPrimaryKeyViolation(err) {
			return fmt.Errorf("append event %d: %w", e.Seq, consent.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("append event %d: %w", e.Seq, err)
		}
	}
	return nil
}

func isPrimaryKeyViolation(err error) bool {
	var serr *sqlite.Error
	return errors.As(err, &serr) && serr.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// Ledger returns the subscriber's events by Seq, or none if there are none.
func (s *Store) Ledger(ctx context.Context, subscriber string) ([]consent.Event, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT data FROM events WHERE subscriber = ? ORDER BY seq", subscriber)
	if err != nil {
		return nil, fmt.Errorf("read ledger: %w", err)
	}
	events, err := scanEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("read ledger: %w", err)
	}
	return events, nil
}

// EventsByMagnet returns magnetID's events with from <= At < to, ordered by
// At, then subscriber, then Seq, at most limit of them. The returned cursor
// is empty when no event follows; otherwise pass it back with the same
// arguments for the next page. It fails if limit < 1 or the cursor was not
// made by this store.
func (s *Store) EventsByMagnet(ctx context.Context, magnetID string, from, to time.Time, limit int, cursor string) ([]consent.Event, string, error) {
	if limit < 1 {
		return nil, "", fmt.Errorf("events by magnet: limit %d, want at least 1", limit)
	}
	after, err := decodeCursor(cursor)
	if err != nil {
		return nil, "", fmt.Errorf("events by magnet: %w", err)
	}
	fromKey, toKey := clampTime(from), clampTime(to)
	if fromKey >= toKey {
		return nil, "", nil
	}
	// One row more than asked tells whether another page exists.
	fetch := int64(limit) + 1
	if limit == math.MaxInt {
		fetch = math.MaxInt64
	}
	rows, err := s.db.QueryContext(ctx, `
		SELECT data FROM events
		WHERE magnet = ? AND at >= ? AND at < ? AND (at, subscriber, seq) > (?, ?, ?)
		ORDER BY at, subscriber, seq
		LIMIT ?`,
		magnetID, fromKey, toKey, after.at, after.subscriber, after.seq, fetch)
	if err != nil {
		return nil, "", fmt.Errorf("events by magnet: %w", err)
	}
	events, err := scanEvents(rows)
	if err != nil {
		return nil, "", fmt.Errorf("events by magnet: %w", err)
	}
	if len(events) <= limit {
		return events, "", nil
	}
	events = events[:limit]
	last := events[limit-1]
	return events, encodeCursor(position{at: last.At.Format(timeLayout), subscriber: last.Subscriber, seq: last.Seq}), nil
}

// clampTime formats t as an at key, clamped to the years the layout holds.
func clampTime(t time.Time) string {
	t = t.UTC()
	switch {
	case t.Year() < 0:
		return "0000"
	case t.Year() > 9999:
		return "9999-12-31T23:59:59.999999999Z~"
	}
	return t.Format(timeLayout)
}

func scanEvents(rows *sql.Rows) ([]consent.Event, error) {
	defer rows.Close()
	var events []consent.Event
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("scan event: %w", err)
		}
		var e consent.Event
		if err := json.Unmarshal(data, &e); err != nil {
			return nil, fmt.Errorf("decode event: %w", err)
		}
		e.At = e.At.UTC()
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return events, nil
}

// position is where a page of EventsByMagnet ended; the zero value sorts
// before every event.
type position struct {
	at         string
	subscriber string
	seq        int
}

// encodeCursor makes an opaque cursor: "<at>#<seq>#<subscriber>" in
// unpadded base64url. The at key has a fixed width and seq has no '#', so
// the subscriber may contain anything.
func encodeCursor(p position) string {
	return base64.RawURLEncoding.EncodeToString([]byte(p.at + "#" + strconv.Itoa(p.seq) + "#" + p.subscriber))
}

func decodeCursor(cursor string) (position, error) {
	if cursor == "" {
		return position{}, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return position{}, errors.New("malformed cursor")
	}
	at, rest, ok1 := strings.Cut(string(raw), "#")
	seqText, subscriber, ok2 := strings.Cut(rest, "#")
	seq, err := strconv.Atoi(seqText)
	if !ok1 || !ok2 || err != nil || seq < 1 || subscriber == "" {
		return position{}, errors.New("malformed cursor")
	}
	if _, err := time.Parse(timeLayout, at); err != nil {
		return position{}, errors.New("malformed cursor")
	}
	return position{at: at, subscriber: subscriber, seq: seq}, nil
}

// GetClaim returns the value of claim key if it is unexpired at now (by the
// same whole-second rule as Commit), or an error wrapping
// consent.ErrNotFound. A claim committed without a value has the value "".
func (s *Store) GetClaim(ctx context.Context, key string, now time.Time) (string, error) {
	var value string
	err := s.db.QueryRowContext(ctx, "SELECT value FROM claims WHERE key = ? AND expires_at > ?", key, now.Unix()).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("claim %s: %w", key, consent.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("claim %s: %w", key, err)
	}
	return value, nil
}

// DeleteExpired removes claims and jobs that expired at or before now (in
// Unix seconds), as DynamoDB's TTL sweep does for the same attribute, and
// returns how many it removed. Jobs without an expiry stay. Claim, Commit
// and GetClaim already ignore expired claims, so this only reclaims space.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return 0, fmt.Errorf("delete expired: begin: %w", err)
	}
	defer tx.Rollback()
	var total int64
	for _, table := range []string{"claims", "jobs"} {
		// table is one of two constants.
		res, err := tx.ExecContext(ctx, "DELETE FROM "+table+" WHERE expires_at <= ?", now.Unix())
		if err != nil {
			return 0, fmt.Errorf("delete expired %s: %w", table, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("delete expired %s: %w", table, err)
		}
		total += n
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("delete expired: commit: %w", err)
	}
	return total, nil
}

// ceilUnix is t in Unix seconds, rounded up.
func ceilUnix(t time.Time) int64 {
	if t.Nanosecond() > 0 {
		return t.Unix() + 1
	}
	return t.Unix()
}

// ArchiveWording stores v under v.ID, with archived_at = at, unless that id
// is already archived, and records that magnetID uses it, in one
// transaction. v.ArchivedAt is ignored; a version keeps the time of its
// first archive. If v.ID is archived with different content the error wraps
// consent.ErrConflict and nothing is written. It fails, without wrapping
// consent.ErrConflict, if magnetID or v.ID is empty or at is outside years
// 0000-9999.
func (s *Store) ArchiveWording(ctx context.Context, magnetID string, v consent.WordingVersion, at time.Time) error {
	if err := consent.CheckArchive(magnetID, v, at); err != nil {
		return err
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("archive wording %s: begin: %w", v.ID, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO wordings (id, wording, privacy_policy_url, frequency, controller, archived_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`,
		v.ID, v.Wording, v.PrivacyPolicyURL, v.Frequency, v.Controller, at.UTC().Format(timeLayout)); err != nil {
		return fmt.Errorf("archive wording %s: %w", v.ID, err)
	}
	stored, err := scanWording(tx.QueryRowContext(ctx, `
		SELECT id, wording, privacy_policy_url, frequency, controller, archived_at
		FROM wordings WHERE id = ?`, v.ID))
	if err != nil {
		return fmt.Errorf("archive wording %s: read back: %w", v.ID, err)
	}
	if !stored.SameContent(v) {
		return fmt.Errorf("archive wording %s: different content under the same id: %w", v.ID, consent.ErrConflict)
	}
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO magnet_wordings (magnet, wording_id) VALUES (?, ?)
		ON CONFLICT (magnet, wording_id) DO NOTHING`, magnetID, v.ID); err != nil {
		return fmt.Errorf("archive wording %s: link magnet %s: %w", v.ID, magnetID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("archive wording %s: commit: %w", v.ID, err)
	}
	return nil
}

// Wording returns archived version id if magnetID uses it; otherwise an
// error wrapping consent.ErrNotFound.
func (s *Store) Wording(ctx context.Context, magnetID, id string) (consent.WordingVersion, error) {
	v, err := scanWording(s.db.QueryRowContext(ctx, `
		SELECT w.id, w.wording, w.privacy_policy_url, w.frequency, w.controller, w.archived_at
		FROM magnet_wordings AS l JOIN wordings AS w ON w.id = l.wording_id
		WHERE l.magnet = ? AND l.wording_id = ?`, magnetID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return consent.WordingVersion{}, fmt.Errorf("wording %s of magnet %s: %w", id, magnetID, consent.ErrNotFound)
	}
	if err != nil {
		return consent.WordingVersion{}, fmt.Errorf("wording %s of magnet %s: %w", id, magnetID, err)
	}
	return v, nil
}

// scanWording reads one wordings row: id, wording, privacy_policy_url,
// frequency, controller, archived_at. The error is sql.ErrNoRows if there is
// none.
func scanWording(row *sql.Row) (consent.WordingVersion, error) {
	var v consent.WordingVersion
	var at string
	if err := row.Scan(&v.ID, &v.Wording, &v.PrivacyPolicyURL, &v.Frequency, &v.Controller, &at); err != nil {
		return consent.WordingVersion{}, err
	}
	t, err := time.Parse(timeLayout, at)
	if err != nil {
		return consent.WordingVersion{}, fmt.Errorf("wording %s: bad archived_at: %w", v.ID, err)
	}
	v.ArchivedAt = t
	return v, nil
}
