// Package memstore is an in-memory consent.Store for fast unit tests. It
// passes the same conformance suite (storetest) as the real stores, which is
// why tests may trust it. It also counts writes, so tests can prove that a
// request changed nothing.
package memstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
)

// Store is safe for concurrent use.
type Store struct {
	mu     sync.Mutex
	ledger map[string][]consent.Event
	claims map[string]time.Time
	writes int
}

// New returns an empty store.
func New() *Store {
	return &Store{ledger: map[string][]consent.Event{}, claims: map[string]time.Time{}}
}

// Writes counts successful write calls (Append and created Claims).
func (s *Store) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

// Append implements consent.Store.
func (s *Store) Append(_ context.Context, events []consent.Event) error {
	if len(events) == 0 {
		return nil
	}
	if err := consent.CheckBatch(events); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sub := events[0].Subscriber
	taken := map[int]bool{}
	for _, e := range s.ledger[sub] {
		taken[e.Seq] = true
	}
	for _, e := range events {
		if taken[e.Seq] {
			return fmt.Errorf("append event %d: %w", e.Seq, consent.ErrConflict)
		}
	}
	l := slices.Clone(s.ledger[sub])
	for _, e := range events {
		e.At = e.At.UTC()
		l = append(l, e)
	}
	slices.SortFunc(l, func(a, b consent.Event) int { return a.Seq - b.Seq })
	s.ledger[sub] = l
	s.writes++
	return nil
}

// Ledger implements consent.Store.
func (s *Store) Ledger(_ context.Context, subscriber string) ([]consent.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ledger[subscriber]), nil
}

// EventsByMagnet implements consent.Store; the cursor is an offset.
func (s *Store) EventsByMagnet(_ context.Context, magnetID string, from, to time.Time, limit int, cursor string) ([]consent.Event, string, error) {
	s.mu.Lock()
	var all []consent.Event
	for _, l := range s.ledger {
		for _, e := range l {
			if e.Magnet == magnetID && !e.At.Before(from) && e.At.Before(to) {
				all = append(all, e)
			}
		}
	}
	s.mu.Unlock()
	slices.SortFunc(all, func(a, b consent.Event) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		if a.Subscriber != b.Subscriber {
			if a.Subscriber < b.Subscriber {
				return -1
			}
			return 1
		}
		return a.Seq - b.Seq
	})
	if limit < 1 {
		return nil, "", fmt.Errorf("events by magnet: limit %d, want at least 1", limit)
	}
	offset := 0
	if cursor != "" {
		n, err := strconv.Atoi(cursor)
		if err != nil || n < 0 || n > len(all) {
			return nil, "", fmt.Errorf("events by magnet: bad cursor")
		}
		offset = n
	}
	end := min(offset+limit, len(all))
	next := ""
	if end < len(all) {
		next = strconv.Itoa(end)
	}
	return all[offset:end], next, nil
}

// Claim implements consent.Store.
func (s *Store) Claim(_ context.Context, key string, now, expiresAt time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if exp, ok := s.claims[key]; ok && now.Before(exp) {
		return false, nil
	}
	s.claims[key] = expiresAt
	s.writes++
	return true, nil
}
