package consent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/unbundled/unbundled/shared/magnet"
)

const (
	// DedupeWindow: the same address, magnet and checkbox choice again
	// within this window is the same sign-up (a double click, a client
	// retry, or a bomber with fresh Idempotency-Keys): one ledger entry, one
	// freebie, same answer.
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

// signupKeys are the claim keys that make a sign-up happen once.
type signupKeys struct {
	// idem is the Idempotency-Key's claim ("" without the header); its value
	// is the request's fingerprint, so a reuse for another request shows.
	idem        string
	fingerprint string
	// dedupe is the address, magnet and checkbox choice (the main box and
	// every extra one) since the last withdrawal: the same again within DedupeWindow is the same sign-up,
	// whatever its Idempotency-Key, so fresh keys cannot multiply emails.
	dedupe string
	// limited marks a sign-up recorded past the email cap, so repeating it
	// within the cap's window records nothing more.
	limited string
}

func (k signupKeys) claims(now time.Time) []ClaimRecord {
	c := []ClaimRecord{{Key: k.dedupe, Value: k.fingerprint, ExpiresAt: now.Add(DedupeWindow)}}
	if k.idem != "" {
		c = append(c, ClaimRecord{Key: k.idem, Value: k.fingerprint, ExpiresAt: now.Add(IdempotencyKeyTTL)})
	}
	return c
}

// idempotency returns the claim keys of a sign-up. Ticking a box again
// after unsubscribing from any of the magnet's purposes is a new decision
// (the withdrawal starts a new epoch) and is recorded. The choice is the
// main box and the extra boxes ticked (req.Purposes, in the magnet's
// order): the same choice again is the same sign-up, another choice is not.
func (s *Service) idempotency(req SignupRequest, m magnet.Magnet, ledger []Event, subscriber, email, name, version string) signupKeys {
	magnetID := m.ID
	purposes := m.PurposeIDs()
	epoch := 0
	for _, e := range ledger {
		if e.Type == EventWithdrawn && slices.Contains(purposes, EventPurpose(ledger, e)) {
			epoch = e.Seq
		}
	}
	choice := fmt.Sprint(req.Consent)
	if len(req.Purposes) > 0 {
		// Only with extra boxes ticked, so keys of other sign-ups stay as
		// they were.
		choice += "+" + strings.Join(req.Purposes, ",")
	}
	fingerprint := []string{email, magnetID, name, choice, version}
	if req.SubscriberType != "" {
		// Only where the form asks, so fingerprints of other sign-ups stay
		// as they were.
		o := req.Organisation
		fingerprint = append(fingerprint, req.SubscriberType, o.Name, o.Role, o.Number, o.Kind)
	}
	k := signupKeys{
		fingerprint: digest(fingerprint...),
		// The subscriber id is a field of its own, so erasing the person
		// removes these claims too and a fresh sign-up after erasure is
		// recorded (Eraser deletes claims naming the subscriber).
		dedupe:  "dedupe#" + subscriber + "#" + digest(magnetID, choice, fmt.Sprint(epoch)),
		limited: "limited#" + subscriber + "#" + digest(magnetID, choice, version, fmt.Sprint(epoch)),
	}
	if key := strings.TrimSpace(req.IdempotencyKey); key != "" {
		k.idem = "idem#" + digest(key)
	}
	return k
}

// repeatedSignup decides what a sign-up whose commit found a claim taken
// is. It is a repeat — success, nothing written — if its Idempotency-Key
// was used for this same request, or the same sign-up is within its dedupe
// window, or it was already recorded past the email cap;
// ErrIdempotencyMismatch if the key was used for another request. Otherwise
// (false) a concurrent request took the email slot it chose.
func (s *Service) repeatedSignup(ctx context.Context, k signupKeys) (bool, error) {
	now := s.Now().UTC()
	if k.idem != "" {
		got, err := s.Ledger.GetClaim(ctx, k.idem, now)
		switch {
		case err == nil && got != k.fingerprint:
			return false, ErrIdempotencyMismatch
		case err == nil:
			return true, nil
		case !errors.Is(err, ErrNotFound):
			return false, fmt.Errorf("read idempotency record: %w", err)
		}
	}
	for _, key := range []string{k.dedupe, k.limited} {
		_, err := s.Ledger.GetClaim(ctx, key, now)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return false, fmt.Errorf("read sign-up record: %w", err)
		}
	}
	return false, nil
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
