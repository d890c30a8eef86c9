package consent_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
)

func TestAudit(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.signup(t, "ann@example.com", true) // signup, granted at t0
	f.now = t0.Add(time.Hour)
	f.signup(t, "bob@example.com", false) // signup only: not a consent event
	f.now = t0.Add(24 * time.Hour)
	if _, err := f.svc.RecordObjection(ctx, "bob@example.com", consent.MethodOperator, consent.Evidence{}); err != nil {
		t.Fatal(err)
	}
	f.now = t0.Add(48 * time.Hour)
	f.bounce(t, consent.FeedbackComplaint, "sns-1", "ann@example.com") // suppressed, withdrawn

	audit := func(q consent.AuditQuery) []string {
		t.Helper()
		var got []string
		if err := f.svc.Audit(ctx, q, func(e consent.Event) error {
			got = append(got, e.Email+" "+string(e.Type))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	tests := []struct {
		name string
		q    consent.AuditQuery
		want string
	}{
		{"everything", consent.AuditQuery{}, "ann@example.com granted,bob@example.com objected,ann@example.com suppressed,ann@example.com withdrawn"},
		{"one magnet: no person-wide events", consent.AuditQuery{Magnet: "uk-gdpr-checklist"}, "ann@example.com granted,ann@example.com withdrawn"},
		{"another magnet", consent.AuditQuery{Magnet: "other"}, ""},
		{"from: inclusive", consent.AuditQuery{From: t0.Add(24 * time.Hour)}, "bob@example.com objected,ann@example.com suppressed,ann@example.com withdrawn"},
		{"to: exclusive", consent.AuditQuery{From: t0, To: t0.Add(24 * time.Hour)}, "ann@example.com granted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strings.Join(audit(tt.q), ","); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	var verr *consent.ValidationError
	if err := f.svc.Audit(ctx, consent.AuditQuery{From: t0, To: t0}, func(consent.Event) error { return nil }); !errors.As(err, &verr) {
		t.Errorf("an empty period: got %v, want a validation error", err)
	}
}

func TestAuditCSV(t *testing.T) {
	f := newFixture(t)
	f.signup(t, "=ann@example.com", true)
	var buf bytes.Buffer
	w, err := consent.NewAuditCSV(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Audit(context.Background(), consent.AuditQuery{}, w.Write); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || strings.Join(rows[0], ",") != "time,subscriber,email,magnet,purpose,event,method,basis,wording_version,notice_version,source_ip" {
		t.Fatalf("rows: %q", rows)
	}
	g := f.ledger(t, "=ann@example.com")[1]
	want := []string{"2026-11-28T10:00:00Z", g.Subscriber, "=ann@example.com", "uk-gdpr-checklist", "marketing:example-ltd", "granted", "checkbox", "", g.WordingVersion, g.NoticeVersion, "203.0.113.9"}
	if strings.Join(rows[1], "|") != strings.Join(want, "|") {
		t.Errorf("row:\ngot  %q\nwant %q", rows[1], want)
	}
}
