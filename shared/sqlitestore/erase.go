package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
)

// Erase implements consent.Eraser in one write transaction: it inserts
// tombstone t unless its id exists (the first stays), then deletes the
// subscriber's events, the claims whose key names them (one of the key's
// "#"-separated fields is the subscriber id) and the jobs whose subscriber
// they are, and returns how many rows of each it deleted. Claims and jobs
// are found by scanning their tables: erasure is rare. It fails, deleting
// nothing, if subscriber or t.ID is empty or t.At is outside years
// 0000-9999.
func (s *Store) Erase(ctx context.Context, subscriber string, t consent.Tombstone) (consent.Erased, error) {
	if err := checkErase(subscriber, t); err != nil {
		return consent.Erased{}, err
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return consent.Erased{}, fmt.Errorf("erase subscriber: begin: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO tombstones (id, at, reason) VALUES (?, ?, ?)
		ON CONFLICT (id) DO NOTHING`, t.ID, t.At.UTC().Format(timeLayout), t.Reason); err != nil {
		return consent.Erased{}, fmt.Errorf("erase subscriber: write tombstone: %w", err)
	}
	var erased consent.Erased
	if erased.Events, err = deleted(tx.ExecContext(ctx, "DELETE FROM events WHERE subscriber = ?", subscriber)); err != nil {
		return consent.Erased{}, fmt.Errorf("erase subscriber: delete events: %w", err)
	}
	if erased.Claims, err = deleteClaims(ctx, tx.Tx, subscriber); err != nil {
		return consent.Erased{}, fmt.Errorf("erase subscriber: delete claims: %w", err)
	}
	if erased.Jobs, err = deleted(tx.ExecContext(ctx, "DELETE FROM jobs WHERE json_extract(data, '$.subscriber') = ?", subscriber)); err != nil {
		return consent.Erased{}, fmt.Errorf("erase subscriber: delete jobs: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return consent.Erased{}, fmt.Errorf("erase subscriber: commit: %w", err)
	}
	return erased, nil
}

// deleteClaims deletes the claims whose key names subscriber. SQL narrows
// them to keys containing it; namesSubscriber decides.
func deleteClaims(ctx context.Context, tx *sql.Tx, subscriber string) (int, error) {
	rows, err := tx.QueryContext(ctx, "SELECT key FROM claims WHERE instr(key, ?) > 0", subscriber)
	if err != nil {
		return 0, err
	}
	var keys []string
	for rows.Next() {
		var key string
		if err := rows.Scan(&key); err != nil {
			rows.Close()
			return 0, err
		}
		if namesSubscriber(key, subscriber) {
			keys = append(keys, key)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, key := range keys {
		d, err := deleted(tx.ExecContext(ctx, "DELETE FROM claims WHERE key = ?", key))
		if err != nil {
			return 0, err
		}
		n += d
	}
	return n, nil
}

// deleted is the number of rows a DELETE removed.
func deleted(res sql.Result, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// Tombstone implements consent.Eraser: the tombstone with id, or an error
// wrapping consent.ErrNotFound.
func (s *Store) Tombstone(ctx context.Context, id string) (consent.Tombstone, error) {
	t := consent.Tombstone{ID: id}
	var at string
	err := s.db.QueryRowContext(ctx, "SELECT at, reason FROM tombstones WHERE id = ?", id).Scan(&at, &t.Reason)
	if errors.Is(err, sql.ErrNoRows) {
		return consent.Tombstone{}, fmt.Errorf("tombstone %s: %w", id, consent.ErrNotFound)
	}
	if err != nil {
		return consent.Tombstone{}, fmt.Errorf("tombstone %s: %w", id, err)
	}
	if t.At, err = time.Parse(timeLayout, at); err != nil {
		return consent.Tombstone{}, fmt.Errorf("tombstone %s: bad time: %w", id, err)
	}
	return t, nil
}

// ScanEvents implements consent.LedgerScanner: it reads the events table in
// key order (by subscriber, then Seq), matching types on the event's JSON,
// and calls fn for each event as it is read. fn may call the store; a
// write it makes is not seen by this scan.
func (s *Store) ScanEvents(ctx context.Context, types []consent.EventType, fn func(consent.Event) error) error {
	query, args := "SELECT data FROM events ORDER BY subscriber, seq", []any(nil)
	if len(types) > 0 {
		list, err := json.Marshal(types)
		if err != nil {
			return fmt.Errorf("scan events: encode types: %w", err)
		}
		query = `SELECT data FROM events
			WHERE json_extract(data, '$.type') IN (SELECT value FROM json_each(?))
			ORDER BY subscriber, seq`
		args = []any{string(list)}
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("scan events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return fmt.Errorf("scan events: %w", err)
		}
		e, err := decodeEvent(data)
		if err != nil {
			return fmt.Errorf("scan events: %w", err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("scan events: %w", err)
	}
	return nil
}

// checkErase rejects what Erase cannot carry out meaningfully, as the
// in-memory and DynamoDB stores do: an empty subscriber (every claim would
// match) or tombstone id, or a time outside years 0000-9999 (timeLayout).
func checkErase(subscriber string, t consent.Tombstone) error {
	switch y := t.At.UTC().Year(); {
	case subscriber == "":
		return errors.New("erase subscriber: empty subscriber")
	case t.ID == "":
		return errors.New("erase subscriber: empty tombstone id")
	case y < 0 || y > 9999:
		return fmt.Errorf("erase subscriber: tombstone time %s out of range", t.At)
	}
	return nil
}

// namesSubscriber reports whether claim key names subscriber: claim keys
// are "#"-separated fields ("pending-confirmation#<subscriber>#<magnet>#…",
// "mail#<subscriber>#<n>", "withdraw-link#<subscriber>"), and one of them
// is the subscriber id. A key holding only a hash of it does not.
func namesSubscriber(key, subscriber string) bool {
	return slices.Contains(strings.Split(key, "#"), subscriber)
}
