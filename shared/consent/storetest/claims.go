package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
)

func testClaim(t *testing.T, s consent.Store) {
	ctx := context.Background()
	base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	steps := []struct {
		name      string
		key       string
		now       time.Duration // after base
		expiresAt time.Duration // after base
		want      bool
	}{
		{"first claim", "k1", 0, time.Minute, true},
		{"same key while unexpired", "k1", 30 * time.Second, 2 * time.Minute, false},
		{"another key", "k2", 30 * time.Second, time.Minute, true},
		{"key that only shares a prefix", "k", 30 * time.Second, time.Minute, true},
		{"one second before expiry", "k1", 59 * time.Second, 2 * time.Minute, false},
		// The refused claim above must not have extended the first one.
		{"at expiry, before any sweep", "k1", time.Minute, 3 * time.Minute, true},
		{"renewed claim holds", "k1", 2 * time.Minute, 4 * time.Minute, false},
		{"long after expiry", "k2", 24 * time.Hour, 25 * time.Hour, true},
	}
	for _, step := range steps {
		got, err := Claim(ctx, s, step.key, base.Add(step.now), base.Add(step.expiresAt))
		if err != nil {
			t.Fatalf("%s: Claim(%q): %v", step.name, step.key, err)
		}
		if got != step.want {
			t.Errorf("%s: Claim(%q, now+%s, expires +%s): got %v, want %v", step.name, step.key, step.now, step.expiresAt, got, step.want)
		}
	}
}

func testConcurrentClaim(t *testing.T, s consent.Store) {
	const claimers = 8
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, key := range []string{"fresh", "expired"} {
		t.Run(key, func(t *testing.T) {
			if key == "expired" {
				if ok, err := Claim(context.Background(), s, key, now.Add(-time.Hour), now.Add(-time.Minute)); err != nil || !ok {
					t.Fatalf("seeding claim: got %v, %v, want true, nil", ok, err)
				}
			}
			results := make([]bool, claimers)
			errs := make([]error, claimers)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range claimers {
				wg.Go(func() {
					<-start
					results[i], errs[i] = Claim(context.Background(), s, key, now, now.Add(time.Hour))
				})
			}
			close(start)
			wg.Wait()
			won := 0
			for i := range claimers {
				if errs[i] != nil {
					t.Errorf("claimer %d: %v", i, errs[i])
				}
				if results[i] {
					won++
				}
			}
			if won != 1 {
				t.Errorf("concurrent claims of %q: got %d true, want exactly 1", key, won)
			}
		})
	}
}

// Claim is a Commit of one claim without a value, reporting whether this call
// created it (false if an unexpired record of key exists). Tests use it for
// the TTL-claim behaviour every store shares.
func Claim(ctx context.Context, s consent.Store, key string, now, expiresAt time.Time) (bool, error) {
	err := s.Commit(ctx, consent.Write{Claims: []consent.ClaimRecord{{Key: key, ExpiresAt: expiresAt}}, Now: now})
	if errors.Is(err, consent.ErrClaimTaken) {
		return false, nil
	}
	return err == nil, err
}
