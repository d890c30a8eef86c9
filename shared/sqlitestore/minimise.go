package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
)

// MinimiseEvidence implements consent.EvidenceMinimiser in one write
// transaction: for each of the subscriber's events recorded before
// `before` (by the at column) whose evidence consent.MinimisedEvidence
// changes, it sets source_ip and user_agent in the row's JSON (removing a
// member that becomes empty, as encoding leaves empty ones out) and
// touches nothing else in the row; the source IP is kept only there. It
// returns how many events changed.
func (s *Store) MinimiseEvidence(ctx context.Context, subscriber string, before time.Time) (int, error) {
	if subscriber == "" {
		return 0, errors.New("minimise evidence: empty subscriber")
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return 0, fmt.Errorf("minimise evidence: begin: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, "SELECT data FROM events WHERE subscriber = ? AND at < ? ORDER BY seq",
		subscriber, before.UTC().Format(timeLayout))
	if err != nil {
		return 0, fmt.Errorf("minimise evidence: read ledger: %w", err)
	}
	events, err := scanEvents(rows)
	if err != nil {
		return 0, fmt.Errorf("minimise evidence: read ledger: %w", err)
	}
	n := 0
	for _, e := range events {
		m := consent.MinimisedEvidence(e)
		if m.SourceIP == e.SourceIP && m.UserAgent == e.UserAgent {
			continue
		}
		expr, args := "data", []any{}
		for _, member := range []struct{ path, value string }{{"$.source_ip", m.SourceIP}, {"$.user_agent", m.UserAgent}} {
			if member.value == "" {
				expr = "json_remove(" + expr + ", '" + member.path + "')"
				continue
			}
			expr = "json_set(" + expr + ", '" + member.path + "', ?)"
			args = append(args, member.value)
		}
		// expr is built from the constants above; values are bound.
		res, err := tx.ExecContext(ctx, "UPDATE events SET data = "+expr+" WHERE subscriber = ? AND seq = ?", append(args, subscriber, e.Seq)...)
		if err != nil {
			return 0, fmt.Errorf("minimise evidence of event %d: %w", e.Seq, err)
		}
		if changed, err := res.RowsAffected(); err != nil {
			return 0, fmt.Errorf("minimise evidence of event %d: %w", e.Seq, err)
		} else if changed > 0 {
			n++
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("minimise evidence: commit: %w", err)
	}
	return n, nil
}
