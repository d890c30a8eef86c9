// Package sqlitestore is the embedded consent.Store: one SQLite file, used by
// the local server. It runs on modernc.org/sqlite, a
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
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/unbundled/unbundled/shared/consent"
)

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

// Close closes the database; the Store must not be used afterwards.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close sqlite store: %w", err)
	}
	return nil
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

// Events returns the subscriber's events by Seq, or none if there are none.
func (s *Store) Events(ctx context.Context, subscriber string) ([]consent.Event, error) {
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

func scanEvents(rows *sql.Rows) ([]consent.Event, error) {
	defer rows.Close()
	var events []consent.Event
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("scan event: %w", err)
		}
		e, err := decodeEvent(data)
		if err != nil {
			return nil, err
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return events, nil
}

// decodeEvent decodes an events row's data column; At comes back in UTC.
func decodeEvent(data []byte) (consent.Event, error) {
	var e consent.Event
	if err := json.Unmarshal(data, &e); err != nil {
		return consent.Event{}, fmt.Errorf("decode event: %w", err)
	}
	e.At = e.At.UTC()
	return e, nil
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

// DeleteExpired removes claims, jobs and counters that expired at or before now (in
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
	for _, table := range []string{"claims", "jobs", "counters"} {
		// table is one of three constants.
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
