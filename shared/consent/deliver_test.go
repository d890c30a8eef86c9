package consent_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/consenttest"
)

// queued signs ann up with Kick off, so the freebie job stays queued, and
// returns a deliverer with an instant backoff.
func queued(t *testing.T, f *fixture) (*consent.Deliverer, consent.Job) {
	t.Helper()
	f.svc.Kick = nil
	f.signup(t, "ann@example.com", true)
	jobs, err := f.store.DueJobs(context.Background(), f.now, 10)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("due jobs: %v, %v", jobs, err)
	}
	noSleep := func(context.Context, time.Duration) error { return nil }
	return &consent.Deliverer{Service: f.svc, Jobs: f.store, Mailer: f.mailer, Backoff: consent.Backoff{Attempts: 4, Base: time.Millisecond, Max: time.Millisecond, Sleep: noSleep}}, jobs[0]
}

func job(t *testing.T, f *fixture, id string) consent.Job {
	t.Helper()
	j, err := f.store.Job(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestSameJobDeliveredRepeatedlySendsOnce(t *testing.T) {
	f := newFixture(t)
	d, j := queued(t, f)
	var wg sync.WaitGroup
	for range 3 { // the same stream record delivered three times, concurrently
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = d.Deliver(context.Background(), j.ID)
		}()
	}
	wg.Wait()
	for range 3 { // and again, one after another
		if out, err := d.Deliver(context.Background(), j.ID); err != nil || out != consent.OutcomeSkipped {
			t.Errorf("redelivery: %s, %v; want skipped", out, err)
		}
	}
	if got := f.mailer.Calls(); got != 1 {
		t.Errorf("SES calls: got %d, want 1", got)
	}
	if got := job(t, f, j.ID); got.State != consent.JobSent || got.MessageID == "" {
		t.Errorf("job: %+v, want sent with a message id", got)
	}
}

func TestThrottlingIsRetriedAndNothingIsLost(t *testing.T) {
	throttled := fmt.Errorf("ses: %w", consent.ErrThrottled)
	f := newFixture(t)
	d, j := queued(t, f)
	f.mailer.Script = []error{throttled, throttled}
	if out, err := d.Deliver(context.Background(), j.ID); err != nil || out != consent.OutcomeSent {
		t.Fatalf("after two throttles: %s, %v; want sent", out, err)
	}
	if got := f.mailer.Calls(); got != 3 {
		t.Errorf("calls: %d, want 3", got)
	}

	f2 := newFixture(t)
	d2, j2 := queued(t, f2)
	f2.mailer.Script = []error{throttled, throttled, throttled, throttled}
	out, err := d2.Deliver(context.Background(), j2.ID)
	if !errors.Is(err, consent.ErrDeferred) || !errors.Is(err, consent.ErrThrottled) {
		t.Fatalf("throttled past the bound: %s, %v; want ErrDeferred wrapping ErrThrottled", out, err)
	}
	if got := job(t, f2, j2.ID); got.State != consent.JobPending {
		t.Fatalf("job after deferral: %s, want pending (never lost)", got.State)
	}
	if out, err := d2.Deliver(context.Background(), j2.ID); err != nil || out != consent.OutcomeSent {
		t.Errorf("later retry: %s, %v; want sent", out, err)
	}
}

func TestRejectionIsRecordedNotRetried(t *testing.T) {
	f := newFixture(t)
	d, j := queued(t, f)
	f.mailer.Script = []error{fmt.Errorf("ses: MessageRejected: %w", consent.ErrRejected)}
	if out, err := d.Deliver(context.Background(), j.ID); err != nil || out != consent.OutcomeFailed {
		t.Fatalf("rejected: %s, %v; want failed", out, err)
	}
	got := job(t, f, j.ID)
	if got.State != consent.JobFailed || got.Reason == "" || f.mailer.Calls() != 1 {
		t.Errorf("job %+v after %d calls; want failed with a reason after 1", got, f.mailer.Calls())
	}
	if out, _ := d.Deliver(context.Background(), j.ID); out != consent.OutcomeSkipped || f.mailer.Calls() != 1 {
		t.Errorf("a failed job was retried")
	}
}

// TestCrashWindowCausesAtMostOneDuplicate: a sender that crashes after the
// provider accepted the message but before recording `sent` holds the lease
// until it ends; then the job is sent again — once.
func TestCrashWindowCausesAtMostOneDuplicate(t *testing.T) {
	f := newFixture(t)
	d, j := queued(t, f)
	ctx := context.Background()
	// The crashed sender: took the job and sent it, recorded nothing more.
	if _, err := f.store.UpdateJob(ctx, consent.JobUpdate{ID: j.ID, From: consent.JobPending, To: consent.JobSending,
		Attempts: 1, UpdatedAt: f.now, LeaseUntil: f.now.Add(consent.DefaultLease), ExpiresAt: j.ExpiresAt}); err != nil {
		t.Fatal(err)
	}
	_, _ = f.mailer.Send(ctx, consent.Message{To: "ann@example.com", Subject: "Your download (crashed sender)"})

	if out, err := d.Deliver(ctx, j.ID); out != consent.OutcomeBusy || !errors.Is(err, consent.ErrDeferred) {
		t.Errorf("during the lease: %s, %v; want busy", out, err)
	}
	f.now = f.now.Add(consent.DefaultLease + time.Second)
	for range 3 {
		_, _ = d.Deliver(ctx, j.ID)
	}
	if got := len(f.mailer.Sent()); got != 2 {
		t.Errorf("messages: %d, want 2 (the original and exactly one duplicate)", got)
	}
}

func TestSuppressedAddressGetsNothing(t *testing.T) {
	f := newFixture(t)
	f.svc.Kick = nil
	ctx := context.Background()
	if err := f.svc.RecordFeedback(ctx, consent.Feedback{ID: "sns-1", Kind: consent.FeedbackPermanentBounce, Recipients: []string{"Ann@example.com"}, At: t0}); err != nil {
		t.Fatal(err)
	}
	d, j := queued(t, f)
	if out, err := d.Deliver(ctx, j.ID); err != nil || out != consent.OutcomeSkipped {
		t.Fatalf("suppressed: %s, %v; want skipped", out, err)
	}
	if got := job(t, f, j.ID); got.State != consent.JobSkipped || f.mailer.Calls() != 0 {
		t.Errorf("job %+v, %d calls; want skipped with no send", got, f.mailer.Calls())
	}
}

func TestComplaintWithdrawsAndSuppressesOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.signup(t, "ann@example.com", true)
	fb := consent.Feedback{ID: "sns-2", Kind: consent.FeedbackComplaint, Recipients: []string{"ann@example.com", "not an address"}, At: t0}
	for range 2 {
		if err := f.svc.RecordFeedback(ctx, fb); err != nil {
			t.Fatal(err)
		}
	}
	events := f.ledger(t, "ann@example.com")
	if got := types(events); got != "signup,granted,suppressed,withdrawn" {
		t.Fatalf("ledger: %s; want one suppression and one withdrawal", got)
	}
	if events[3].Method != consent.MethodComplaint {
		t.Errorf("withdrawal method %q, want complaint", events[3].Method)
	}
	if st := consent.MarketingStatus(events, consenttest.SamplePurpose); st.State != consent.StateSuppressed || st.Reason == "" {
		t.Errorf("status: %+v", st)
	}
}

func TestIdempotentSignups(t *testing.T) {
	ctx := context.Background()
	req := consent.SignupRequest{Email: "ann@example.com", Magnet: "uk-gdpr-checklist", Consent: true, Method: consent.MethodJSON, IdempotencyKey: "key-1"}

	f := newFixture(t)
	for range 3 {
		if err := f.svc.Signup(ctx, req); err != nil {
			t.Fatalf("repeat with the same key: %v", err)
		}
	}
	if got := types(f.ledger(t, "ann@example.com")); got != "signup,granted" {
		t.Errorf("ledger: %s, want one sign-up", got)
	}
	other := req
	other.Consent = false
	if err := f.svc.Signup(ctx, other); !errors.Is(err, consent.ErrIdempotencyMismatch) {
		t.Errorf("same key, other payload: got %v, want ErrIdempotencyMismatch", err)
	}
	if got := len(f.mailer.Sent()); got != 1 {
		t.Errorf("freebies: %d, want 1", got)
	}

	// Without a key: a double click within the window is one sign-up...
	g := newFixture(t)
	plain := req
	plain.IdempotencyKey = ""
	for range 2 {
		if err := g.svc.Signup(ctx, plain); err != nil {
			t.Fatal(err)
		}
	}
	if got := types(g.ledger(t, "ann@example.com")); got != "signup,granted" {
		t.Errorf("double click: %s, want one sign-up", got)
	}
	// ...a different choice is a new one, and so is the same after the window.
	plain.Consent = false
	if err := g.svc.Signup(ctx, plain); err != nil {
		t.Fatal(err)
	}
	g.now = g.now.Add(consent.DedupeWindow)
	if err := g.svc.Signup(ctx, plain); err != nil {
		t.Fatal(err)
	}
	if got := types(g.ledger(t, "ann@example.com")); got != "signup,granted,signup,signup" {
		t.Errorf("ledger: %s", got)
	}
	if got := len(g.mailer.Sent()); got != 3 {
		t.Errorf("freebies: %d, want 3", got)
	}
}
