package streamdeliver_test

import (
	"context"
	"testing"
	"time"

	"github.com/unbundled/unbundled/functions/internal/streamdeliver"
	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/consenttest"
	"github.com/unbundled/unbundled/shared/consent/consenttest/memstore"
)

func newService(t *testing.T, store consent.Store) *consent.Service {
	return consenttest.Service(t, store, time.Now)
}

// TestReplayedStreamRecordSendsOnce: Lambda may deliver the same stream
// record again (retries, bisection); the freebie goes out once.
func TestReplayedStreamRecordSendsOnce(t *testing.T) {
	store := memstore.New()
	svc := newService(t, store)
	ctx := context.Background()
	if err := svc.Signup(ctx, consent.SignupRequest{Email: "ann@example.com", Magnet: "uk-gdpr-checklist", Consent: true, Method: consent.MethodJSON}); err != nil {
		t.Fatal(err)
	}
	jobs, err := store.DueJobs(ctx, time.Now(), 10)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("due jobs: %v, %v", jobs, err)
	}
	mailer := &consenttest.Mailer{}
	handler := streamdeliver.Handler(&consent.Deliverer{Service: svc, Jobs: store, Mailer: mailer}, quiet)
	record := fixture(t, jobs[0].ID)
	for i := range 3 {
		resp, err := handler(ctx, record)
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("delivery #%d: %+v, %v", i+1, resp, err)
		}
	}
	if got := mailer.Calls(); got != 1 {
		t.Errorf("SES calls after 3 deliveries of one record: %d, want 1", got)
	}
	if j, _ := store.Job(ctx, jobs[0].ID); j.State != consent.JobSent {
		t.Errorf("job state %s, want sent", j.State)
	}
}
