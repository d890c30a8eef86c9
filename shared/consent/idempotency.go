package consent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

const (
	// DedupeWindow: without an Idempotency-Key, the same address, magnet and
	// checkbox choice again within this window is the same sign-up (a double
	// click or a client retry): one ledger entry, one freebie, same answer.
	DedupeWindow = 10 * time.Minute
	// IdempotencyKeyTTL is how long an Idempotency-Key is remembered.
	IdempotencyKeyTTL = 24 * time.Hour
	// JobTTL is how long delivery jobs are kept before TTL removes them.
	JobTTL = 30 * 24 * time.Hour
	// MaxIdempotencyKey caps the header's length.
	MaxIdempotencyKey = 255
)

// ErrIdempotencyMismatch: the Idempotency-Key was used before with a
// different request.
var ErrIdempotencyMismatch = errors.New("idempotency key reused with a different request")

// idempotency returns the claim key that makes a sign-up happen once, the
// fingerprint of this request, and how long the claim lasts. Without an
// Idempotency-Key the key is the address, magnet and checkbox choice since
// the last withdrawal: a double click repeats it, while ticking the box
// again after unsubscribing is a new decision and is recorded.
func (s *Service) idempotency(req SignupRequest, ledger []Event, subscriber, email, name, version string) (key, fingerprint string, ttl time.Duration) {
	magnetID := strings.TrimSpace(req.Magnet)
	fingerprint = digest(email, magnetID, name, fmt.Sprint(req.Consent), version)
	if k := strings.TrimSpace(req.IdempotencyKey); k != "" {
		return "idem#" + digest(k), fingerprint, IdempotencyKeyTTL
	}
	epoch := 0
	for _, e := range ledger {
		if e.Magnet == magnetID && e.Type == EventWithdrawn {
			epoch = e.Seq
		}
	}
	return "dedupe#" + digest(subscriber, magnetID, fmt.Sprint(req.Consent), fmt.Sprint(epoch)), fingerprint, DedupeWindow
}

// repeatedSignup decides what a sign-up whose idempotency claim is taken
// gets: the same success (nothing written) if it is the same request, or
// ErrIdempotencyMismatch if an Idempotency-Key was reused for another one.
func (s *Service) repeatedSignup(ctx context.Context, req SignupRequest, key, fingerprint string) error {
	if strings.TrimSpace(req.IdempotencyKey) == "" {
		return nil // same address, magnet and choice within the window
	}
	got, err := s.Ledger.GetClaim(ctx, key, s.Now().UTC())
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("idempotency record expired while retrying: %w", ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("read idempotency record: %w", err)
	}
	if got != fingerprint {
		return ErrIdempotencyMismatch
	}
	return nil
}

func (s *Service) newJob(ctx context.Context, kind JobKind, subscriber, magnetID, email, name string) Job {
	now := s.Now().UTC()
	return Job{
		ID: NewEventID(now), Kind: kind, Subscriber: subscriber, Magnet: magnetID, Email: email, Name: name,
		State: JobPending, CreatedAt: now, UpdatedAt: now, BaseURL: s.baseURL(ctx), ExpiresAt: now.Add(JobTTL),
	}
}

// digest is a short, stable hash of its parts.
func digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}
