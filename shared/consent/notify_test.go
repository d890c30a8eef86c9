package consent_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/consenttest"
	"github.com/unbundled/unbundled/shared/consent/consenttest/memstore"
	"github.com/unbundled/unbundled/shared/magnet"
)

// notifier records notifications; the first Fail calls fail (retryably).
type notifier struct {
	mu   sync.Mutex
	got  []consent.Notification
	Fail int
}

func (n *notifier) Notify(_ context.Context, x consent.Notification) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.Fail > 0 {
		n.Fail--
		return errors.New("receiver down")
	}
	n.got = append(n.got, x)
	return nil
}

func TestLeaversAreNotifiedToOtherTools(t *testing.T) {
	store := memstore.New()
	now := t0
	svc := consenttest.Service(t, store, func() time.Time { return now })
	svc.Notify = true
	hook := &notifier{Fail: 1}
	mailer := &consenttest.Mailer{}
	d := &consent.Deliverer{Service: svc, Jobs: store, Mailer: mailer, Notifier: hook, Backoff: consent.Backoff{Attempts: 3, Sleep: func(context.Context, time.Duration) error { return nil }}}
	svc.Kick = func() {
		if _, err := d.DeliverDue(context.Background(), 100); err != nil {
			t.Errorf("deliver: %v", err)
		}
	}
	f := &fixture{svc: svc, store: store, mailer: mailer, now: now, catalogJSON: consenttest.SampleCatalog}
	f.setMagnet(t, func(m *magnet.Magnet) { m.DoubleOptIn = new(false) })
	ctx := context.Background()

	f.signup(t, "ann@example.com", true) // a sign-up tells nobody
	if _, err := svc.Withdraw(ctx, unsubscribeToken(t, mailer.Sent()[0]), consent.MethodOneClick, ev); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RecordObjection(ctx, "bob@example.com", consent.MethodOperator, consent.Evidence{}); err != nil {
		t.Fatal(err)
	}
	if err := svc.RecordFeedback(ctx, consent.Feedback{ID: "sns-1", Kind: consent.FeedbackPermanentBounce, Recipients: []string{"carol@example.com"}}); err != nil {
		t.Fatal(err)
	}
	hook.mu.Lock()
	defer hook.mu.Unlock()
	if len(hook.got) != 3 {
		t.Fatalf("notifications: got %d (%+v), want 3 (withdrawn, objected, suppressed)", len(hook.got), hook.got)
	}
	w, o, b := hook.got[0], hook.got[1], hook.got[2]
	if w.Type != consent.EventWithdrawn || w.Email != "ann@example.com" || w.Purpose != consenttest.SamplePurpose || w.Method != consent.MethodOneClick || w.ID == "" {
		t.Errorf("withdrawal: got %+v", w)
	}
	if o.Type != consent.EventObjected || o.Email != "bob@example.com" || b.Type != consent.EventSuppressed || b.Email != "carol@example.com" {
		t.Errorf("objection, bounce: got %+v, %+v", o, b)
	}
	// The notification id is the ledger event's: a receiver de-duplicates on it.
	events := f.ledger(t, "ann@example.com")
	if last := events[len(events)-1]; last.ID != w.ID {
		t.Errorf("notification id %q, want the withdrawn event's id %q", w.ID, last.ID)
	}
}

func TestNotifyJobsWithoutAWebhookAreSkipped(t *testing.T) {
	f := newFixture(t) // its deliverer has no Notifier
	f.svc.Notify = true
	if _, err := f.svc.RecordObjection(context.Background(), "bob@example.com", consent.MethodOperator, consent.Evidence{}); err != nil {
		t.Fatal(err)
	}
	jobs, err := f.store.DueJobs(context.Background(), t0.Add(time.Hour), 10)
	if err != nil || len(jobs) != 0 {
		t.Errorf("due jobs after delivery: %v, %v; want none left (skipped, not stuck)", jobs, err)
	}
}
