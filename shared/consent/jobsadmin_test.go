package consent_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
)

// failedFreebie signs ann up while the mail provider rejects every message
// for good, and returns the failed job.
func failedFreebie(t *testing.T, f *fixture) consent.Job {
	t.Helper()
	f.mailer.Err = fmt.Errorf("%w: MessageRejected: Email address is not verified", consent.ErrRejected)
	f.signup(t, "ann@example.com", false)
	f.mailer.Err = nil
	var failed []consent.Job
	if err := f.svc.FailedJobs(context.Background(), func(j consent.Job) error {
		failed = append(failed, j)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(failed) != 1 || failed[0].Kind != consent.JobFreebie || failed[0].Reason == "" || failed[0].Attempts != 1 {
		t.Fatalf("failed jobs: got %+v, want ann's freebie, failed with a reason after 1 attempt", failed)
	}
	return failed[0]
}

func TestRetryJobDeliversAFailedFreebieOnce(t *testing.T) {
	f := newFixture(t)
	failed := failedFreebie(t, f)
	if n := len(f.mailer.Sent()); n != 0 {
		t.Fatalf("sent %d messages while rejected, want 0", n)
	}
	f.now = t0.Add(40 * 24 * time.Hour) // after the job's original expiry
	j, err := f.svc.RetryJob(context.Background(), failed.ID)
	if err != nil {
		t.Fatalf("RetryJob: %v", err)
	}
	if j.State != consent.JobPending || j.Reason != "" || j.Attempts != 0 || j.ExpiresAt.Before(f.now.Add(consent.JobTTL)) {
		t.Errorf("retried job: got %+v, want pending, no reason, 0 attempts, expiring %s or later", j, f.now.Add(consent.JobTTL))
	}
	sent := f.mailer.Sent()
	if len(sent) != 1 || sent[0].To != "ann@example.com" {
		t.Fatalf("after the retry: sent %d messages, want ann's freebie once", len(sent))
	}
	got, err := f.store.Job(context.Background(), failed.ID)
	if err != nil || got.State != consent.JobSent {
		t.Errorf("job after the retry: got %+v, %v; want sent", got, err)
	}
	if got := types(f.ledger(t, "ann@example.com")); got != "signup" {
		t.Errorf("ledger: got %s, want one sign-up (a retry writes no event)", got)
	}
	// Retrying again is refused: the job is no longer failed.
	if _, err := f.svc.RetryJob(context.Background(), failed.ID); !errors.Is(err, consent.ErrNotRetryable) {
		t.Errorf("second RetryJob: got %v, want ErrNotRetryable", err)
	}
	if n := len(f.mailer.Sent()); n != 1 {
		t.Errorf("after a second retry: sent %d messages, want still 1", n)
	}
}

func TestRetryJobRefusals(t *testing.T) {
	f := newFixture(t)
	f.signup(t, "bob@example.com", false) // delivered: sent
	var sent consent.Job
	if err := f.store.ListJobs(context.Background(), consent.JobFilter{}, func(j consent.Job) error { sent = j; return nil }); err != nil {
		t.Fatal(err)
	}
	var verr *consent.ValidationError
	tests := []struct {
		name string
		id   string
		ok   func(error) bool
	}{
		{"a sent job", sent.ID, func(err error) bool { return errors.Is(err, consent.ErrNotRetryable) }},
		{"an unknown job", "no-such-job", func(err error) bool { return errors.Is(err, consent.ErrNotFound) }},
		{"no id", " ", func(err error) bool { return errors.As(err, &verr) && verr.Fields["id"] != "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := f.svc.RetryJob(context.Background(), tt.id); !tt.ok(err) {
				t.Errorf("RetryJob(%q): got %v", tt.id, err)
			}
		})
	}
}

func TestRetryFailedJobsReportsProgress(t *testing.T) {
	f := newFixture(t)
	f.mailer.Err = fmt.Errorf("%w: MessageRejected", consent.ErrRejected)
	for _, email := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		f.signup(t, email, false)
	}
	f.mailer.Err = nil
	var progress []string
	results, err := f.svc.RetryFailedJobs(context.Background(), func(done, total int) {
		progress = append(progress, fmt.Sprintf("%d/%d", done, total))
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(progress) != "[1/3 2/3 3/3]" {
		t.Errorf("progress: got %v", progress)
	}
	for _, r := range results {
		if r.Job == nil || r.Error != "" {
			t.Errorf("result %+v: want the retried job", r)
		}
	}
	if n := len(f.mailer.Sent()); n != 3 {
		t.Errorf("sent %d messages after retrying all, want 3", n)
	}
	// Nothing is left to retry.
	results, err = f.svc.RetryFailedJobs(context.Background(), nil)
	if err != nil || len(results) != 0 {
		t.Errorf("second run: got %v, %v; want nothing to do", results, err)
	}
}

func TestRetriedFreebieHonoursTheLedgerNow(t *testing.T) {
	f := newFixture(t)
	failed := failedFreebie(t, f)
	if _, err := f.svc.Suppress(context.Background(), "ann@example.com", "the person asked by phone for no email at all", consent.Evidence{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RetryJob(context.Background(), failed.ID); err != nil {
		t.Fatal(err)
	}
	if n := len(f.mailer.Sent()); n != 0 {
		t.Errorf("a retried job for a suppressed address: sent %d messages, want 0", n)
	}
	if got, _ := f.store.Job(context.Background(), failed.ID); got.State != consent.JobSkipped {
		t.Errorf("job: got %s, want skipped", got.State)
	}
}
