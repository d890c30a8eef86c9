package memstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/unbundled/unbundled/shared/consent"
)

// Erase implements consent.Store: it keeps the first tombstone with t.ID
// and deletes the subscriber's events, the claims whose key names them (as
// one of its "#"-separated fields) and their jobs, all at once. It fails,
// deleting nothing, if subscriber or t.ID is empty or t.At is outside years
// 0000-9999.
func (s *Store) Erase(_ context.Context, subscriber string, t consent.Tombstone) (consent.Erased, error) {
	if err := checkErase(subscriber, t); err != nil {
		return consent.Erased{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := false
	if _, ok := s.tombstones[t.ID]; !ok {
		t.At = t.At.UTC()
		s.tombstones[t.ID] = t
		changed = true
	}
	var erased consent.Erased
	erased.Events = len(s.ledger[subscriber])
	delete(s.ledger, subscriber)
	for key := range s.claims {
		if namesSubscriber(key, subscriber) {
			delete(s.claims, key)
			erased.Claims++
		}
	}
	for id, j := range s.jobs {
		if j.Subscriber == subscriber {
			delete(s.jobs, id)
			erased.Jobs++
		}
	}
	if changed || erased != (consent.Erased{}) {
		s.writes++
	}
	return erased, nil
}

// Tombstone implements consent.Store.
func (s *Store) Tombstone(_ context.Context, id string) (consent.Tombstone, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tombstones[id]
	if !ok {
		return consent.Tombstone{}, fmt.Errorf("tombstone %s: %w", id, consent.ErrNotFound)
	}
	return t, nil
}

// ScanEvents implements consent.Store, by subscriber and Seq. It copies the
// matching events first, so fn may call the store.
func (s *Store) ScanEvents(_ context.Context, types []consent.EventType, fn func(consent.Event) error) error {
	s.mu.Lock()
	var matched []consent.Event
	for _, sub := range slices.Sorted(maps.Keys(s.ledger)) {
		for _, e := range s.ledger[sub] {
			if len(types) == 0 || slices.Contains(types, e.Type) {
				matched = append(matched, e)
			}
		}
	}
	s.mu.Unlock()
	for _, e := range matched {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// checkErase rejects what Erase cannot carry out meaningfully, as the
// SQLite and DynamoDB stores do: an empty subscriber (every claim would
// match) or tombstone id, or a time outside years 0000-9999.
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
