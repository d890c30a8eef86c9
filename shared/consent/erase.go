package consent

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Erasure is what Erase did for one address.
type Erasure struct {
	Tombstone Tombstone `json:"tombstone"`
	// Erased counts the items deleted now; all zero when the person was
	// already erased and nothing was written since.
	Erased Erased `json:"erased"`
	// Already reports that a tombstone existed before this call.
	Already bool `json:"already"`
}

// MaxErasureReason caps the recorded reason for an erasure.
const MaxErasureReason = 200

// Erase carries out the right to erasure for the person with this address:
// it deletes every item holding their data — their ledger with its evidence,
// their claims and their delivery jobs — and keeps one tombstone, a keyed
// hash of the canonical address with the time and reason, so no import
// ever re-adds them. Idempotent. A bad address or reason is a
// *ValidationError.
//
// Erasure removes the proof of consent too: afterwards MayEmail answers
// "no" for every purpose, and a new sign-up starts a new ledger.
func (s *Service) Erase(ctx context.Context, address, reason string) (Erasure, error) {
	email, err := NormaliseAddress(address)
	fields := map[string]string{}
	if err != nil {
		fields["email"] = "Enter a valid email address, like name@example.com."
	}
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		fields["reason"] = "Say why, e.g. \"erasure request by email, 2 December 2026\"."
	case len(reason) > MaxErasureReason || strings.ContainsFunc(reason, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		fields["reason"] = fmt.Sprintf("The reason must be one line of at most %d bytes.", MaxErasureReason)
	}
	if len(fields) > 0 {
		return Erasure{}, &ValidationError{Fields: fields}
	}
	id := s.Keys.Subject.TombstoneID(email)
	prev, err := s.Erasure.Tombstone(ctx, id)
	switch {
	case err == nil:
	case errors.Is(err, ErrNotFound):
	default:
		return Erasure{}, fmt.Errorf("erase: read tombstone: %w", err)
	}
	t := Tombstone{ID: id, At: s.Now().UTC(), Reason: reason}
	erased, err := s.Erasure.Erase(ctx, s.Keys.Subject.SubscriberID(email), t)
	if err != nil {
		return Erasure{}, fmt.Errorf("erase: %w", err)
	}
	if prev.ID != "" {
		t = prev
	}
	return Erasure{Tombstone: t, Erased: erased, Already: prev.ID != ""}, nil
}

// tombstone returns the tombstone of a canonical address, if it was erased.
// Without an Erasure store nobody counts as erased.
func (s *Service) tombstone(ctx context.Context, email string) (Tombstone, bool, error) {
	if s.Erasure == nil {
		return Tombstone{}, false, nil
	}
	t, err := s.Erasure.Tombstone(ctx, s.Keys.Subject.TombstoneID(email))
	switch {
	case errors.Is(err, ErrNotFound):
		return Tombstone{}, false, nil
	case err != nil:
		return Tombstone{}, false, fmt.Errorf("read tombstone: %w", err)
	}
	return t, true, nil
}
