package storetest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
)

func mustCount(t *testing.T, s consent.Store, key string, expiresAt, now time.Time) int {
	t.Helper()
	n, err := s.Count(context.Background(), key, expiresAt, now)
	if err != nil {
		t.Fatalf("Count(%q): %v", key, err)
	}
	return n
}

func testCountWithinWindow(t *testing.T, s consent.Store) {
	end := t0.Add(10 * time.Minute)
	for want := 1; want <= 3; want++ {
		if got := mustCount(t, s, "ip#a", end, t0.Add(time.Duration(want)*time.Second)); got != want {
			t.Errorf("count %d in one window: got %d, want %d", want, got, want)
		}
	}
	if got := mustCount(t, s, "ip#b", end, t0); got != 1 {
		t.Errorf("another key: got %d, want 1 (counters are independent)", got)
	}
	// A later call's expiry does not move the window.
	if got := mustCount(t, s, "ip#a", end.Add(time.Hour), end.Add(-time.Second)); got != 4 {
		t.Errorf("last second of the window: got %d, want 4", got)
	}
}

func testCountRestartsAfterExpiry(t *testing.T, s consent.Store) {
	end := t0.Add(time.Minute)
	mustCount(t, s, "k", end, t0)
	mustCount(t, s, "k", end, t0)
	// Expiries are whole seconds rounded up, so the counter has certainly
	// expired one second after end.
	if got := mustCount(t, s, "k", end.Add(time.Minute), end.Add(time.Second)); got != 1 {
		t.Errorf("count after the expiry: got %d, want 1 (an expired counter starts again)", got)
	}
	if got := mustCount(t, s, "k", end.Add(time.Minute), end.Add(2*time.Second)); got != 2 {
		t.Errorf("count after restart: got %d, want 2", got)
	}
}

func testCountEmptyKeyRejected(t *testing.T, s consent.Store) {
	if _, err := s.Count(context.Background(), "", t0.Add(time.Minute), t0); err == nil {
		t.Error("Count with an empty key: got nil error, want one")
	}
}

func testConcurrentCount(t *testing.T, s consent.Store) {
	const n = 12
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		got []int
	)
	for range n {
		wg.Go(func() {
			c, err := s.Count(context.Background(), "burst", t0.Add(time.Hour), t0)
			if err != nil {
				t.Errorf("concurrent Count: %v", err)
				return
			}
			mu.Lock()
			got = append(got, c)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(got)
	for i, c := range got {
		if c != i+1 {
			t.Fatalf("%d concurrent counts returned %v, want 1…%d each once", n, got, n)
		}
	}
}
