package consent_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/consenttest"
)

func (f *fixture) bounce(t *testing.T, kind consent.FeedbackKind, id, email string) {
	t.Helper()
	if err := f.svc.RecordFeedback(context.Background(), consent.Feedback{ID: id, Kind: kind, Recipients: []string{email}, At: f.now}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) check(t *testing.T, email string) consent.SuppressionStatus {
	t.Helper()
	st, err := f.svc.SuppressionCheck(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestBounceSuppressesAndOperatorRemovalLetsMailFlowAgain(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.signup(t, "ann@example.com", true)
	f.now = t0.Add(time.Hour)
	f.bounce(t, consent.FeedbackPermanentBounce, "sns-1", "ann@example.com")
	if st := f.check(t, "ann@example.com"); !st.Suppressed || !strings.Contains(st.Reason, "permanent bounce") {
		t.Fatalf("after a bounce: got %+v, want suppressed after a permanent bounce", st)
	}
	f.now = t0.Add(2 * time.Hour)
	f.signup(t, "ann@example.com", false)
	if n := len(f.mailer.Sent()); n != 1 {
		t.Fatalf("a sign-up while suppressed: %d messages in all, want only the first freebie", n)
	}

	f.now = t0.Add(3 * time.Hour)
	written, err := f.svc.Unsuppress(ctx, "Ann@Example.com", "the mailbox works again: she wrote from it", false, consent.Evidence{RequestID: "req-op"})
	if err != nil || !written {
		t.Fatalf("Unsuppress: got %v, %v; want written", written, err)
	}
	st := f.check(t, "ann@example.com")
	if st.Suppressed || !strings.Contains(st.Reason, "lifted") || len(st.Listed) != 0 {
		t.Errorf("after the removal: got %+v, want not suppressed, lifted, not listed", st)
	}
	ledger := f.ledger(t, "ann@example.com")
	last := ledger[len(ledger)-1]
	if last.Type != consent.EventUnsuppressed || last.Method != consent.MethodOperator || last.Reason != "the mailbox works again: she wrote from it" || last.RequestID != "req-op" {
		t.Errorf("unsuppressed event: got %+v", last)
	}
	// A bounce did not withdraw consent: it stands again.
	if d, _ := f.svc.MayEmail(ctx, "ann@example.com", ""); d.Basis != consent.BasisNone || !strings.Contains(d.Reason, "await") {
		t.Errorf("may-email after the removal: got %+v, want the consent as it was before (awaiting confirmation)", d)
	}
	f.now = t0.Add(4 * time.Hour)
	f.signup(t, "ann@example.com", false)
	sent := f.mailer.Sent()
	if len(sent) != 2 || !strings.HasPrefix(sent[1].Subject, "Your download: ") {
		t.Fatalf("the next sign-up after the removal: %d messages in all, want its freebie delivered", len(sent))
	}
	if again, err := f.svc.Unsuppress(ctx, "ann@example.com", "again", false, consent.Evidence{}); err != nil || again {
		t.Errorf("Unsuppress when not suppressed: got %v, %v; want nothing written", again, err)
	}
	// A new bounce suppresses again.
	f.now = t0.Add(5 * time.Hour)
	f.bounce(t, consent.FeedbackPermanentBounce, "sns-2", "ann@example.com")
	if st := f.check(t, "ann@example.com"); !st.Suppressed || !st.Listed[0].Since.Equal(f.now) {
		t.Errorf("a bounce after the removal: got %+v, want suppressed since %s", st, f.now)
	}
}

func TestComplaintSuppressionNeedsForceToRemove(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.signup(t, "ann@example.com", true)
	f.bounce(t, consent.FeedbackComplaint, "sns-1", "ann@example.com")
	_, err := f.svc.Unsuppress(ctx, "ann@example.com", "she asked us to", false, consent.Evidence{})
	var verr *consent.ValidationError
	if !errors.As(err, &verr) || !strings.Contains(verr.Fields["force"], "spam complaint") {
		t.Fatalf("Unsuppress after a complaint without force: got %v, want a validation error on force", err)
	}
	if st := f.check(t, "ann@example.com"); !st.Suppressed {
		t.Fatalf("refused removal changed the state: %+v", st)
	}
	if written, err := f.svc.Unsuppress(ctx, "ann@example.com", "she asked us to, by letter of 2 December 2026", true, consent.Evidence{}); err != nil || !written {
		t.Fatalf("Unsuppress with force: got %v, %v", written, err)
	}
	// The complaint's withdrawal stands: mail flows, marketing does not.
	st := f.check(t, "ann@example.com")
	if st.Suppressed || len(st.Listed) != 1 || st.Listed[0].Status != consent.EventWithdrawn || !strings.Contains(st.Reason, "withdrawn") {
		t.Errorf("after a forced removal: got %+v, want not suppressed but listed as withdrawn", st)
	}
	if d, _ := f.svc.MayEmail(ctx, "ann@example.com", ""); d.Allowed {
		t.Errorf("may-email after a forced removal: got %+v, want not allowed", d)
	}
}

func TestOperatorSuppression(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.signup(t, "ann@example.com", false)
	written, err := f.svc.Suppress(ctx, "ann@example.com", "  spam trap reported by our provider ", consent.Evidence{RequestID: "r1"})
	if err != nil || !written {
		t.Fatalf("Suppress: %v, %v", written, err)
	}
	if again, err := f.svc.Suppress(ctx, "ann@example.com", "again", consent.Evidence{}); err != nil || again {
		t.Errorf("Suppress twice: got %v, %v; want nothing written", again, err)
	}
	st := f.check(t, "ann@example.com")
	if !st.Suppressed || st.Reason != "suppressed on 2026-11-28T10:00:00Z by the operator: spam trap reported by our provider" {
		t.Errorf("check: got %+v", st)
	}
	list, err := f.svc.SuppressionList(ctx)
	if err != nil || len(list) != 1 || list[0].Status != consent.EventSuppressed || list[0].Method != consent.MethodOperator {
		t.Errorf("suppression list: got %+v, %v", list, err)
	}
	// Someone not known here may be suppressed too.
	if written, err := f.svc.Suppress(ctx, "stranger@example.com", "asked by phone: never email me", consent.Evidence{}); err != nil || !written {
		t.Errorf("Suppress an unknown address: %v, %v", written, err)
	}
	// An operator suppression lifts without force.
	if written, err := f.svc.Unsuppress(ctx, "ann@example.com", "entered in error", false, consent.Evidence{}); err != nil || !written {
		t.Errorf("Unsuppress an operator suppression: %v, %v", written, err)
	}
	if list, _ := f.svc.SuppressionList(ctx); len(list) != 1 || list[0].Email != "stranger@example.com" {
		t.Errorf("suppression list after the removal: got %+v, want only the stranger", list)
	}
}

func TestSuppressionValidation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tests := []struct {
		name, address, reason string
		field                 string
	}{
		{"bad address", "not an address", "why", "email"},
		{"no reason", "ann@example.com", "  ", "reason"},
		{"two lines", "ann@example.com", "one\ntwo", "reason"},
		{"too long", "ann@example.com", strings.Repeat("x", 201), "reason"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for op, call := range map[string]func() error{
				"Suppress": func() error { _, err := f.svc.Suppress(ctx, tt.address, tt.reason, consent.Evidence{}); return err },
				"Unsuppress": func() error {
					_, err := f.svc.Unsuppress(ctx, tt.address, tt.reason, true, consent.Evidence{})
					return err
				},
			} {
				var verr *consent.ValidationError
				if err := call(); !errors.As(err, &verr) || verr.Fields[tt.field] == "" {
					t.Errorf("%s: got %v, want a validation error on %s", op, err, tt.field)
				}
			}
		})
	}
	if f.store.Writes() != 0 {
		t.Errorf("refused requests wrote %d times", f.store.Writes())
	}
}

func TestSuppressionCheckOfErasedAndUnknown(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if st := f.check(t, "nobody@example.com"); st.Suppressed || st.Reason != "not suppressed: nothing is held on this address" {
		t.Errorf("unknown: got %+v", st)
	}
	f.signup(t, "ann@example.com", false)
	if _, err := f.svc.Erase(ctx, "ann@example.com", "erasure request"); err != nil {
		t.Fatal(err)
	}
	if st := f.check(t, "ann@example.com"); !st.Erased || !strings.HasPrefix(st.Reason, "not listed: erased on ") {
		t.Errorf("erased: got %+v", st)
	}
}

func TestSuppressedRule(t *testing.T) {
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	ev := func(seq int, typ consent.EventType, method string) consent.Event {
		return consent.Event{Subscriber: "s", Seq: seq, ID: string(rune('a' + seq)), Type: typ, At: at(seq), Method: method}
	}
	tests := []struct {
		name     string
		ledger   []consent.Event
		want     bool
		wantFrom int // seq of the suppression standing
	}{
		{"none", []consent.Event{ev(1, consent.EventSignup, "form")}, false, 0},
		{"bounced", []consent.Event{ev(1, consent.EventSignup, "form"), ev(2, consent.EventSuppressed, "bounce")}, true, 2},
		{"bounced twice: the first stands", []consent.Event{ev(1, consent.EventSuppressed, "bounce"), ev(2, consent.EventSuppressed, "complaint")}, true, 1},
		{"lifted", []consent.Event{ev(1, consent.EventSuppressed, "bounce"), ev(2, consent.EventUnsuppressed, "operator")}, false, 0},
		{"lifted, then bounced again", []consent.Event{ev(1, consent.EventSuppressed, "bounce"), ev(2, consent.EventUnsuppressed, "operator"), ev(3, consent.EventSuppressed, "bounce")}, true, 3},
		{"a removal before any suppression lifts nothing later", []consent.Event{ev(1, consent.EventUnsuppressed, "operator"), ev(2, consent.EventSuppressed, "bounce")}, true, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, ok := consent.SuppressedBy(tt.ledger)
			if ok != tt.want || ok && e.Seq != tt.wantFrom {
				t.Errorf("SuppressedBy: got %d, %v; want %d, %v", e.Seq, ok, tt.wantFrom, tt.want)
			}
			if got, _ := consent.Suppressed(tt.ledger); got != tt.want {
				t.Errorf("Suppressed: got %v, want %v", got, tt.want)
			}
			if st := consent.MarketingStatus(tt.ledger, consenttest.SamplePurpose); (st.State == consent.StateSuppressed) != tt.want {
				t.Errorf("MarketingStatus: got %s, want suppressed=%v", st.State, tt.want)
			}
		})
	}
}
