package consent_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
)

func TestRectifyName(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.signup(t, "ann@example.com", false) // as "Ann"
	f.now = t0.Add(time.Hour)
	written, err := f.svc.Rectify(ctx, "ANN@example.com", " Anne Lee ", consent.Evidence{RequestID: "req-r"})
	if err != nil || !written {
		t.Fatalf("Rectify: got %v, %v; want written", written, err)
	}
	ledger := f.ledger(t, "ann@example.com")
	last := ledger[len(ledger)-1]
	if last.Type != consent.EventRectified || last.Name != "Anne Lee" || last.Method != consent.MethodOperator ||
		last.Email != "ann@example.com" || !last.At.Equal(f.now) || last.RequestID != "req-r" {
		t.Errorf("rectified event: got %+v", last)
	}
	if got := consent.CurrentName(ledger); got != "Anne Lee" {
		t.Errorf("CurrentName: got %q, want the rectified name", got)
	}
	if again, err := f.svc.Rectify(ctx, "ann@example.com", "Anne Lee", consent.Evidence{}); err != nil || again {
		t.Errorf("Rectify to the name held: got %v, %v; want nothing written", again, err)
	}
	x, err := f.svc.Export(ctx, "ann@example.com")
	if err != nil || x.Name != "Anne Lee" {
		t.Errorf("Export name: got %q, %v", x.Name, err)
	}
	// A sign-up without a name keeps the rectified one; one with a name
	// states a new one.
	f.svc.Signup(ctx, consent.SignupRequest{Email: "ann@example.com", Magnet: "uk-gdpr-checklist", Method: consent.MethodForm})
	if got := consent.CurrentName(f.ledger(t, "ann@example.com")); got != "Anne Lee" {
		t.Errorf("after a sign-up without a name: got %q, want Anne Lee", got)
	}
	// Removing the name.
	if written, err := f.svc.Rectify(ctx, "ann@example.com", "", consent.Evidence{}); err != nil || !written {
		t.Errorf("Rectify to no name: %v, %v", written, err)
	}
	if got := consent.CurrentName(f.ledger(t, "ann@example.com")); got != "" {
		t.Errorf("after removing the name: got %q", got)
	}
}

func TestRectifiedNameGreetsARetriedFreebie(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.mailer.Err = fmt.Errorf("%w: MessageRejected", consent.ErrRejected)
	if err := f.svc.Signup(ctx, consent.SignupRequest{Email: "ann@example.com", Magnet: "uk-gdpr-checklist", Name: "Anm", Method: consent.MethodForm}); err != nil {
		t.Fatal(err)
	}
	f.mailer.Err = nil
	f.now = t0.Add(time.Minute)
	if _, err := f.svc.Rectify(ctx, "ann@example.com", "Ann", consent.Evidence{}); err != nil {
		t.Fatal(err)
	}
	results, err := f.svc.RetryFailedJobs(ctx, nil)
	if err != nil || len(results) != 1 {
		t.Fatalf("retry: %v, %v", results, err)
	}
	sent := f.mailer.Sent()
	if len(sent) != 1 {
		t.Fatalf("sent %d messages after the retry, want 1", len(sent))
	}
	if !strings.Contains(sent[0].Text, "Hello Ann,") || strings.Contains(sent[0].Text, "Anm") {
		t.Errorf("retried freebie greets by the wrong name:\n%s", sent[0].Text)
	}
	// A new sign-up's own name greets its own freebie.
	f.now = t0.Add(time.Hour)
	if err := f.svc.Signup(ctx, consent.SignupRequest{Email: "ann@example.com", Magnet: "uk-gdpr-checklist", Name: "Annie", Method: consent.MethodForm}); err != nil {
		t.Fatal(err)
	}
	if sent := f.mailer.Sent(); !strings.Contains(sent[len(sent)-1].Text, "Hello Annie,") {
		t.Errorf("a later sign-up's freebie does not greet by its name:\n%s", sent[len(sent)-1].Text)
	}
}

func TestRectifyRefusals(t *testing.T) {
	f := newFixture(t)
	f.signup(t, "ann@example.com", false)
	tests := []struct {
		name, address, newName, field string
	}{
		{"bad address", "not an address", "Ann", "email"},
		{"a name with a link", "ann@example.com", "visit evil.example", "name"},
		{"nobody on record", "nobody@example.com", "Ann", "email"},
	}
	writes := f.store.Writes()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.Rectify(context.Background(), tt.address, tt.newName, consent.Evidence{})
			var verr *consent.ValidationError
			if !errors.As(err, &verr) || verr.Fields[tt.field] == "" {
				t.Errorf("got %v, want a validation error on %s", err, tt.field)
			}
		})
	}
	if f.store.Writes() != writes {
		t.Errorf("refused rectifications wrote %d times", f.store.Writes()-writes)
	}
}
