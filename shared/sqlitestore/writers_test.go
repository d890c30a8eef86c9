package sqlitestore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
)

// TestConcurrentWritersAllSucceed has many goroutines commit and update at
// once, as a burst of sign-ups and the delivery dispatcher do: every write
// must succeed, however long it queues (none may fail with SQLITE_BUSY).
func TestConcurrentWritersAllSucceed(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "consent.db"))
	const writers, each = 64, 10
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	errs := make(chan error, writers*each*2)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			ctx := context.Background()
			for i := range each {
				sub := fmt.Sprintf("w%d-%d", w, i)
				err := s.Commit(ctx, consent.Write{
					Now: now,
					Events: []consent.Event{
						{Subscriber: sub, Seq: 1, ID: sub + "-1", Type: consent.EventSignup, At: now, Magnet: "guide"},
						{Subscriber: sub, Seq: 2, ID: sub + "-2", Type: consent.EventGranted, At: now, Magnet: "guide"},
					},
					Jobs:   []consent.Job{{ID: sub, State: consent.JobPending, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}},
					Claims: []consent.ClaimRecord{{Key: sub, Value: "v", ExpiresAt: now.Add(time.Hour)}},
				})
				if err != nil {
					errs <- fmt.Errorf("commit %s: %w", sub, err)
					continue
				}
				if _, err := s.UpdateJob(ctx, consent.JobUpdate{ID: sub, From: consent.JobPending, To: consent.JobSending, UpdatedAt: now, LeaseUntil: now.Add(time.Minute)}); err != nil {
					errs <- fmt.Errorf("update job %s: %w", sub, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	due, err := s.DueJobs(context.Background(), now.Add(time.Hour), writers*each+1)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != writers*each {
		t.Errorf("DueJobs after the burst: got %d jobs, want %d", len(due), writers*each)
	}
}
