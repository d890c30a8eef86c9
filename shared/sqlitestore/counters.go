package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Count implements consent.CounterStore with one upsert: a missing or
// expired counter restarts at 1 with the new expiry, a live one goes up by
// one and keeps its expiry.
func (s *Store) Count(ctx context.Context, key string, expiresAt, now time.Time) (int, error) {
	if key == "" {
		return 0, errors.New("count: empty key")
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return 0, fmt.Errorf("count: begin: %w", err)
	}
	defer tx.Rollback()
	var n int
	err = tx.QueryRowContext(ctx, `
		INSERT INTO counters (key, n, expires_at) VALUES (?1, 1, ?2)
		ON CONFLICT (key) DO UPDATE SET
			n = CASE WHEN counters.expires_at <= ?3 THEN 1 ELSE counters.n + 1 END,
			expires_at = CASE WHEN counters.expires_at <= ?3 THEN excluded.expires_at ELSE counters.expires_at END
		RETURNING n`, key, ceilUnix(expiresAt), now.Unix()).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", key, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("count: commit: %w", err)
	}
	return n, nil
}
