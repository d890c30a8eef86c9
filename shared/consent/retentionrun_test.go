package consent_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/consenttest"
	"github.com/unbundled/unbundled/shared/magnet"
)

func TestTruncateIP(t *testing.T) {
	for in, want := range map[string]string{
		"":                        "",
		"203.0.113.77":            "203.0.113.0/24",
		"203.0.113.0":             "203.0.113.0/24",
		"203.0.113.0/24":          "203.0.113.0/24", // already minimised
		"203.0.113.77/32":         "203.0.113.0/24",
		"10.1.0.0/16":             "10.1.0.0/16", // already shorter
		"::ffff:203.0.113.77":     "203.0.113.0/24",
		"2001:db8:1:2:3:4:5:6":    "2001:db8:1::/48",
		"2001:db8:1::/48":         "2001:db8:1::/48",
		"2001:db8:1:2::/64":       "2001:db8:1::/48",
		"fe80::1%eth0":            "fe80::/48",
		"::1":                     "::/48",
		"not an address":          "",
		"203.0.113.77:443":        "",
		"[2001:db8::1]":           "",
		"2001:db8::1/129":         "",
		"127.0.0.1, 203.0.113.77": "",
	} {
		if got := consent.TruncateIP(in); got != want {
			t.Errorf("TruncateIP(%q): got %q, want %q", in, got, want)
		}
		if again := consent.TruncateIP(consent.TruncateIP(in)); again != want {
			t.Errorf("TruncateIP twice (%q): got %q, want %q", in, again, want)
		}
	}
}

func TestMinimisedEvidenceChangesOnlyEvidence(t *testing.T) {
	e := consent.Event{Subscriber: "s", Seq: 3, ID: "id", Type: consent.EventGranted, At: t0, Email: "ann@example.com", Name: "Ann",
		Wording: "Yes…", SourceIP: "203.0.113.9", UserAgent: "Mozilla/5.0", RequestID: "req-1"}
	want := e
	want.SourceIP, want.UserAgent = "203.0.113.0/24", ""
	if got := consent.MinimisedEvidence(e); got != want {
		t.Errorf("MinimisedEvidence:\n got %+v\nwant %+v", got, want)
	}
}

func TestRetentionPolicyBounds(t *testing.T) {
	if err := (consent.Retention{}).Check(); err != nil {
		t.Errorf("the default policy: %v", err)
	}
	if got := (consent.Retention{}).Days(); got != (consent.RetentionDays{Unconfirmed: 30, Evidence: 365, Withdrawn: 730}) {
		t.Errorf("default policy in days: got %+v", got)
	}
	if got := (consent.RetentionDays{Unconfirmed: 14, Evidence: 400}).Retention().Days(); got != (consent.RetentionDays{Unconfirmed: 14, Evidence: 400, Withdrawn: 730}) {
		t.Errorf("14/400/default days round trip: got %+v", got)
	}
	for name, tc := range map[string]struct {
		days consent.RetentionDays
		want string
	}{
		"unconfirmed too short": {consent.RetentionDays{Unconfirmed: 6}, "unconfirmed period must be 7 to 365 days, not 6 days"},
		"unconfirmed too long":  {consent.RetentionDays{Unconfirmed: 366}, "unconfirmed"},
		"evidence too short":    {consent.RetentionDays{Evidence: 29}, "evidence period must be 30 to 3650 days"},
		"withdrawn too long":    {consent.RetentionDays{Withdrawn: 3651}, "withdrawn period must be 30 to 3650 days"},
		"negative":              {consent.RetentionDays{Withdrawn: -1}, "withdrawn"},
	} {
		err := tc.days.Retention().Check()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", name, err, tc.want)
		}
	}
	for _, ok := range []consent.RetentionDays{{Unconfirmed: 7, Evidence: 30, Withdrawn: 30}, {Unconfirmed: 365, Evidence: 3650, Withdrawn: 3650}} {
		if err := ok.Retention().Check(); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
}

func TestApplyRetentionRefusesWhatItCannotDo(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.signup(t, "ann@example.com", false)
	f.now = t0.Add(40 * consent.Day)
	f.svc.Minimiser = nil // as a Service wired without one

	if _, err := f.svc.ApplyRetention(ctx, consent.RetentionOptions{}); err == nil || !strings.Contains(err.Error(), "minimiser") {
		t.Errorf("without a minimiser: got %v, want an error naming it", err)
	}
	// A dry run needs none.
	writes := f.store.Writes()
	r, err := f.svc.ApplyRetention(ctx, consent.RetentionOptions{DryRun: true})
	if err != nil || len(r.Erasures) != 1 || f.store.Writes() != writes {
		t.Errorf("dry run: got %+v, %v and %d writes; want one erasure reported and nothing written", r, err, f.store.Writes()-writes)
	}
	f.svc.Minimiser = f.store
	f.svc.Retention = consent.RetentionDays{Unconfirmed: 1}.Retention()
	if _, err := f.svc.ApplyRetention(ctx, consent.RetentionOptions{}); err == nil || !strings.Contains(err.Error(), "unconfirmed period") {
		t.Errorf("a 1-day unconfirmed period: got %v, want it refused", err)
	}
	if got := f.ledger(t, "ann@example.com"); len(got) != 1 || f.store.Writes() != writes {
		t.Errorf("after refusals: %d events, %d writes; want the ledger untouched", len(got), f.store.Writes()-writes)
	}
}

func TestApplyRetentionRules(t *testing.T) {
	f := newFixture(t)
	f.svc.Minimiser = f.store
	ctx := context.Background()
	at := func(days int) time.Time { return t0.Add(time.Duration(days) * consent.Day) }
	day := func(days int) string { return at(days).Format("2006-01-02") }

	// Awaiting confirmation: the grant stands within the unconfirmed period.
	f.now = at(0)
	f.signup(t, "waiting@example.com", true)
	// Single opt-in: consent active from the start, and for ever.
	f.setMagnet(t, func(m *magnet.Magnet) {
		m.ProductCategories = []string{"Compliance guides"}
		m.DoubleOptIn = new(false)
	})
	f.signup(t, "solo@example.com", true)
	// Imported customers; ann later withdraws.
	if _, err := importCSV(t, f, customersCSV, consent.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	f.now = at(1)
	tok := consenttest.UnsubscribeToken(f.svc, f.svc.Keys.Subject.SubscriberID("ann@example.com"), magnetID)
	if _, err := f.svc.Withdraw(ctx, tok, consent.MethodUnsubscribePage, ev); err != nil {
		t.Fatal(err)
	}

	f.now = at(10)
	r, err := f.svc.ApplyRetention(ctx, consent.RetentionOptions{})
	if err != nil || len(r.Erasures) != 0 || r.Kept != 4 {
		t.Errorf("10 days on: got %+v, %v; want all 4 kept", r, err)
	}

	f.now = at(1 + 730 + 1)
	r, err = f.svc.ApplyRetention(ctx, consent.RetentionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]consent.RetentionErasure{}
	for _, e := range r.Erasures {
		got[e.Email] = e
	}
	wantReasons := map[string]string{
		"waiting@example.com": "retention: consent given " + day(0) + " on magnet 'uk-gdpr-checklist' never confirmed, last activity " + day(0),
		"ann@example.com":     "retention: withdrew " + day(1) + " by the unsubscribe page (soft_opt_in imported " + day(0) + " from customers.csv)",
	}
	for email, want := range wantReasons {
		if got[email].Reason != want {
			t.Errorf("erasure of %s: got %+v, want reason %q", email, got[email], want)
		}
	}
	if len(r.Erasures) != 2 || r.Kept != 2 {
		t.Errorf("two years on: got %+v, want ann and waiting erased, solo (active) and bob (imported) kept", r)
	}
	for _, email := range []string{"solo@example.com", "bob@example.com"} {
		if d, err := f.svc.MayEmail(ctx, email, ""); err != nil || !d.Allowed {
			t.Errorf("MayEmail(%s) two years on: got %+v, %v; want allowed", email, d, err)
		}
	}
	// Erased people are not re-imported.
	rep, err := importCSV(t, f, customersCSV, consent.ImportOptions{})
	if err != nil || rep.Imported != 0 || len(rep.Skipped) != 1 || rep.Skipped[0].Email != "ann@example.com" {
		t.Errorf("import after retention: got %+v, %v; want ann skipped and bob unchanged", rep, err)
	}
}

// failingLedger fails to read one subscriber's ledger.
type failingLedger struct {
	consent.LedgerStore
	bad string
}

func (l failingLedger) Events(ctx context.Context, subscriber string) ([]consent.Event, error) {
	if subscriber == l.bad {
		return nil, errors.New("disk on fire")
	}
	return l.LedgerStore.Events(ctx, subscriber)
}

func TestApplyRetentionGoesOnPastAFailureAndStopsWithTheContext(t *testing.T) {
	f := newFixture(t)
	f.svc.Minimiser = f.store
	f.signup(t, "ann@example.com", false)
	f.signup(t, "bob@example.com", false)
	f.now = t0.Add(31 * consent.Day)
	f.svc.Ledger = failingLedger{LedgerStore: f.store, bad: f.svc.Keys.Subject.SubscriberID("ann@example.com")}
	r, err := f.svc.ApplyRetention(context.Background(), consent.RetentionOptions{})
	if err == nil || !strings.Contains(err.Error(), "disk on fire") || r.Failed != 1 || len(r.Erasures) != 1 || r.Erasures[0].Email != "bob@example.com" {
		t.Errorf("one unreadable ledger: got %+v, %v; want bob erased, one failure named", r, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f.svc.Ledger = f.store
	if _, err := f.svc.ApplyRetention(ctx, consent.RetentionOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v, want context.Canceled", err)
	}
	if got := f.ledger(t, "ann@example.com"); len(got) != 1 {
		t.Errorf("ann after a cancelled run: %d events, want 1", len(got))
	}
}
