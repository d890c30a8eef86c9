package memstore

import (
	"context"
	"errors"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
)

// MinimiseEvidence implements consent.Store: in one step, it replaces the
// SourceIP and UserAgent of the subscriber's events recorded before
// `before` with consent.MinimisedEvidence's, and counts the events that
// changed. A call that changes something counts as a write.
func (s *Store) MinimiseEvidence(_ context.Context, subscriber string, before time.Time) (int, error) {
	if subscriber == "" {
		return 0, errors.New("minimise evidence: empty subscriber")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ledger := s.ledger[subscriber]
	n := 0
	for i, e := range ledger {
		if !e.At.Before(before) {
			continue
		}
		m := consent.MinimisedEvidence(e)
		if m.SourceIP == e.SourceIP && m.UserAgent == e.UserAgent {
			continue
		}
		// Replace the slice's element in a copy: Events hands out clones,
		// but keep the stored slice itself immutable all the same.
		if n == 0 {
			ledger = append([]consent.Event(nil), ledger...)
		}
		ledger[i].SourceIP, ledger[i].UserAgent = m.SourceIP, m.UserAgent
		n++
	}
	if n > 0 {
		s.ledger[subscriber] = ledger
		s.writes++
	}
	return n, nil
}
