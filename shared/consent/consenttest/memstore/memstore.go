// Package memstore is an in-memory consent.Store for fast unit tests. It
// passes the same conformance suite (storetest) as the real stores, which is
// why tests may trust it. It also counts writes, so tests can prove that a
// request changed nothing.
package memstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
)

// Store is safe for concurrent use.
type Store struct {
	mu         sync.Mutex
	ledger     map[string][]consent.Event
	claims     map[string]claim
	jobs       map[string]consent.Job
	wordings   map[string]consent.WordingVersion // by version id
	links      map[wordingLink]bool
	counters   map[string]counter
	tombstones map[string]consent.Tombstone
	writes     int
}

// claim is a TTL record. Like the SQLite and DynamoDB stores it keeps
// expiresAt in whole Unix seconds, rounded up, and compares it with now
// rounded down, so it expires at the same instant as theirs.
type claim struct {
	value     string
	expiresAt int64
}

// heldAt reports whether the claim is unexpired at now.
func (c claim) heldAt(now time.Time) bool { return now.Unix() < c.expiresAt }

// wordingLink records that a magnet uses a wording version.
type wordingLink struct{ magnet, id string }

// New returns an empty store.
func New() *Store {
	return &Store{
		ledger:     map[string][]consent.Event{},
		claims:     map[string]claim{},
		jobs:       map[string]consent.Job{},
		wordings:   map[string]consent.WordingVersion{},
		links:      map[wordingLink]bool{},
		counters:   map[string]counter{},
		tombstones: map[string]consent.Tombstone{},
	}
}

// Writes counts successful write calls that changed something: Commits
// (and so Appends and created Claims), UpdateJobs, ArchiveWording calls
// that stored a version or a link, and Erase calls that wrote a tombstone
// or deleted anything.
func (s *Store) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

// Commit implements consent.Store. A taken claim is reported before a taken
// event position or job id, as the other stores do. It fails, without
// wrapping consent.ErrConflict, if w breaks the rules consent.CheckWrite enforces.
func (s *Store) Commit(_ context.Context, w consent.Write) error {
	if err := consent.CheckWrite(w); err != nil {
		return err
	}
	if len(w.Events) == 0 && len(w.Jobs) == 0 && len(w.Claims) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range w.Claims {
		if held, ok := s.claims[c.Key]; ok && held.heldAt(w.Now) {
			return fmt.Errorf("claim %s: %w: %w", c.Key, consent.ErrClaimTaken, consent.ErrConflict)
		}
	}
	if len(w.Events) > 0 {
		taken := map[int]bool{}
		for _, e := range s.ledger[w.Events[0].Subscriber] {
			taken[e.Seq] = true
		}
		for _, e := range w.Events {
			if taken[e.Seq] {
				return fmt.Errorf("append event %d: %w", e.Seq, consent.ErrConflict)
			}
		}
	}
	for _, j := range w.Jobs {
		if _, ok := s.jobs[j.ID]; ok {
			return fmt.Errorf("create job %s: %w", j.ID, consent.ErrConflict)
		}
	}

	if len(w.Events) > 0 {
		sub := w.Events[0].Subscriber
		l := slices.Clone(s.ledger[sub])
		for _, e := range w.Events {
			e.At = e.At.UTC()
			l = append(l, e)
		}
		slices.SortFunc(l, func(a, b consent.Event) int { return a.Seq - b.Seq })
		s.ledger[sub] = l
	}
	for _, j := range w.Jobs {
		s.jobs[j.ID] = normalJob(j)
	}
	for _, c := range w.Claims {
		s.claims[c.Key] = claim{value: c.Value, expiresAt: ceilUnix(c.ExpiresAt)}
	}
	s.writes++
	return nil
}

// Count implements consent.Store. Counting is not a write for Writes: a
// counter holds no ledger data.
func (s *Store) Count(_ context.Context, key string, expiresAt, now time.Time) (int, error) {
	if key == "" {
		return 0, errors.New("count: empty key")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.counters[key]
	if !ok || !c.heldAt(now) {
		c = counter{expiresAt: ceilUnix(expiresAt)}
	}
	c.n++
	s.counters[key] = c
	return c.n, nil
}

type counter struct {
	n         int
	expiresAt int64
}

func (c counter) heldAt(now time.Time) bool { return c.expiresAt > now.Unix() }

// Events implements consent.Store.
func (s *Store) Events(_ context.Context, subscriber string) ([]consent.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ledger[subscriber]), nil
}

// GetClaim implements consent.Store.
func (s *Store) GetClaim(_ context.Context, key string, now time.Time) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.claims[key]
	if !ok || !c.heldAt(now) {
		return "", fmt.Errorf("claim %s: %w", key, consent.ErrNotFound)
	}
	return c.value, nil
}

// ArchiveWording implements consent.Store. It fails, without wrapping
// consent.ErrConflict, if magnetID or v.ID is empty or at is outside years
// 0000-9999.
func (s *Store) ArchiveWording(_ context.Context, magnetID string, v consent.WordingVersion, at time.Time) error {
	if err := consent.CheckArchive(magnetID, v, at); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	stored, ok := s.wordings[v.ID]
	if ok && !stored.SameContent(v) {
		return fmt.Errorf("archive wording %s: different content under the same id: %w", v.ID, consent.ErrConflict)
	}
	link := wordingLink{magnet: magnetID, id: v.ID}
	if ok && s.links[link] {
		return nil
	}
	if !ok {
		v.ArchivedAt = at.UTC()
		s.wordings[v.ID] = v
	}
	s.links[link] = true
	s.writes++
	return nil
}

// Wording implements consent.Store.
func (s *Store) Wording(_ context.Context, magnetID, id string) (consent.WordingVersion, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.wordings[id]
	if !ok || !s.links[wordingLink{magnet: magnetID, id: id}] {
		return consent.WordingVersion{}, fmt.Errorf("wording %s of magnet %s: %w", id, magnetID, consent.ErrNotFound)
	}
	return v, nil
}
