package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/consenttest"
)

// testMinimiseEvidence: events recorded before the cutoff lose their user
// agent and keep only their source network; every other field, every
// later event and every other subscriber's ledger stay exactly as stored.
func testMinimiseEvidence(t *testing.T, s consent.Store) {
	ctx := context.Background()
	cutoff := t0.Add(24 * time.Hour)
	v4 := event(sub1, 1, consent.EventSignup, t0, "guide")
	v4.SourceIP = "203.0.113.77"
	v6 := event(sub1, 2, consent.EventGranted, t0.Add(time.Hour), "guide") // 2001:db8::1
	bare := event(sub1, 3, consent.EventSuppressed, t0.Add(2*time.Hour), "guide")
	bare.SourceIP, bare.UserAgent = "", ""
	atCutoff := event(sub1, 4, consent.EventConfirmed, cutoff, "guide")
	later := event(sub1, 5, consent.EventWithdrawn, cutoff.Add(time.Nanosecond), "guide")
	mustAppend(t, s, v4, v6, bare, atCutoff, later)
	others := []consent.Event{event(sub10, 1, consent.EventSignup, t0, "guide"), event(sub10, 2, consent.EventGranted, t0, "guide")}
	mustAppend(t, s, others...)

	minimise := func(subscriber string, before time.Time) int {
		t.Helper()
		n, err := s.MinimiseEvidence(ctx, subscriber, before)
		if err != nil {
			t.Fatalf("MinimiseEvidence(%q, %s): %v", subscriber, before.Format(time.RFC3339Nano), err)
		}
		return n
	}
	if got := minimise(sub1, cutoff); got != 2 {
		t.Errorf("MinimiseEvidence(%q): got %d events changed, want 2", sub1, got)
	}
	wantV4, wantV6 := v4, v6
	wantV4.SourceIP, wantV4.UserAgent = "203.0.113.0/24", ""
	wantV6.SourceIP, wantV6.UserAgent = "2001:db8::/48", ""
	want := []consent.Event{wantV4, wantV6, bare, atCutoff, later}
	if diff := sameEvents(mustLedger(t, s, sub1), want); diff != "" {
		t.Errorf("Ledger(%q) after minimising: %s", sub1, diff)
	}
	if diff := sameEvents(mustLedger(t, s, sub10), others); diff != "" {
		t.Errorf("Ledger(%q) after minimising %q: %s", sub10, sub1, diff)
	}

	// Again: already minimised, nothing changes.
	if got := minimise(sub1, cutoff); got != 0 {
		t.Errorf("MinimiseEvidence(%q) again: got %d events changed, want 0", sub1, got)
	}
	if diff := sameEvents(mustLedger(t, s, sub1), want); diff != "" {
		t.Errorf("Ledger(%q) after minimising again: %s", sub1, diff)
	}
	if got := minimise(subC, cutoff); got != 0 {
		t.Errorf("MinimiseEvidence of an unknown subscriber: got %d, want 0", got)
	}
	if _, err := s.MinimiseEvidence(ctx, "", cutoff.Add(time.Hour)); err == nil {
		t.Error(`MinimiseEvidence(""): got nil error, want one`)
	}
	if diff := sameEvents(mustLedger(t, s, sub1), want); diff != "" {
		t.Errorf(`Ledger(%q) after MinimiseEvidence(""): %s`, sub1, diff)
	}

	// A later cutoff reaches the two later events.
	if got := minimise(sub1, cutoff.Add(time.Hour)); got != 2 {
		t.Errorf("MinimiseEvidence(%q) with a later cutoff: got %d events changed, want 2", sub1, got)
	}
	want[3], want[4] = consent.MinimisedEvidence(atCutoff), consent.MinimisedEvidence(later)
	if diff := sameEvents(mustLedger(t, s, sub1), want); diff != "" {
		t.Errorf("Ledger(%q) after minimising with a later cutoff: %s", sub1, diff)
	}
}

// retentionFixture is a store holding people whose ledgers the product's
// own use cases wrote at chosen times, and a clock to run retention with.
type retentionFixture struct {
	svc    *consent.Service
	store  consent.Store
	mailer *consenttest.Mailer
	now    time.Time
}

// retentionRunAt is when testRetentionRun applies the policy.
var retentionRunAt = time.Date(2027, 6, 1, 12, 0, 0, 0, time.UTC)

// daysBefore is n days before retentionRunAt.
func daysBefore(n int) time.Time { return retentionRunAt.Add(-time.Duration(n) * consent.Day) }

var retentionEvidence = consent.Evidence{SourceIP: "198.51.100.23", UserAgent: "Mozilla/5.0 (retention test)", RequestID: "req-retention"}

func (f *retentionFixture) signup(t *testing.T, email string, ticked bool, at time.Time) {
	t.Helper()
	f.now = at
	err := f.svc.Signup(context.Background(), consent.SignupRequest{Email: email, Magnet: "uk-gdpr-checklist", Consent: ticked,
		Method: consent.MethodForm, Evidence: retentionEvidence})
	if err != nil {
		t.Fatalf("Signup(%s): %v", email, err)
	}
}

// confirm presses the button behind the last confirm link emailed to email.
func (f *retentionFixture) confirm(t *testing.T, email string) {
	t.Helper()
	sent := f.mailer.Sent()
	for i := len(sent) - 1; i >= 0; i-- {
		j := strings.Index(sent[i].Text, "/confirm?t=")
		if sent[i].To != email || j < 0 {
			continue
		}
		u, err := url.Parse("https://x" + strings.Fields(sent[i].Text[j:])[0])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Confirm(context.Background(), u.Query().Get("t"), retentionEvidence); err != nil {
			t.Fatalf("Confirm(%s): %v", email, err)
		}
		return
	}
	t.Fatalf("no confirm link emailed to %s", email)
}

func (f *retentionFixture) withdraw(t *testing.T, email string, at time.Time) {
	t.Helper()
	f.now = at
	tok := consenttest.UnsubscribeToken(f.svc, f.svc.Keys.Subject.SubscriberID(email), "uk-gdpr-checklist")
	if _, err := f.svc.Withdraw(context.Background(), tok, consent.MethodOneClick, retentionEvidence); err != nil {
		t.Fatalf("Withdraw(%s): %v", email, err)
	}
}

func (f *retentionFixture) importCustomer(t *testing.T, email string, at time.Time) consent.ImportReport {
	t.Helper()
	f.now = at
	r, err := f.svc.Import(context.Background(), consent.ImportFile{Name: "customers.csv", Digest: "d1g3st", Source: "orders in our web shop",
		Origin: consent.OriginCustomers, Rows: []consent.ImportRow{{Row: 2, Email: email, Basis: consent.BasisSoftOptIn,
			SaleDate: "2024-03-01", SaleReference: "INV-1001", Category: "compliance guides", OptOutOffered: "unticked box at checkout"}}},
		consent.ImportOptions{Operator: "ops@example.com"})
	if err != nil {
		t.Fatalf("Import(%s): %v", email, err)
	}
	return r
}

func (f *retentionFixture) apply(t *testing.T, dryRun bool) consent.RetentionReport {
	t.Helper()
	calls, last := 0, 0
	r, err := f.svc.ApplyRetention(context.Background(), consent.RetentionOptions{DryRun: dryRun, Progress: func(done, total int) {
		calls++
		if done != calls || done > total {
			t.Errorf("Progress(%d, %d) on call %d", done, total, calls)
		}
		last = total
	}})
	if err != nil {
		t.Fatalf("ApplyRetention(dry run %v): %v", dryRun, err)
	}
	if calls != r.People || last != r.People {
		t.Errorf("ApplyRetention: Progress called %d times with total %d, want %d (the people examined)", calls, last, r.People)
	}
	return r
}

// snapshot is every stored event, by subscriber then Seq.
func (f *retentionFixture) snapshot(t *testing.T) []consent.Event {
	t.Helper()
	var all []consent.Event
	if err := f.store.ScanEvents(context.Background(), nil, func(e consent.Event) error {
		all = append(all, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(all, func(a, b consent.Event) int { return cmp.Or(cmp.Compare(a.Subscriber, b.Subscriber), a.Seq-b.Seq) })
	return all
}

func (f *retentionFixture) ledger(t *testing.T, email string) []consent.Event {
	t.Helper()
	return mustLedger(t, f.store, f.svc.Keys.Subject.SubscriberID(email))
}

func (f *retentionFixture) tombstone(t *testing.T, email string) (consent.Tombstone, bool) {
	t.Helper()
	ts, err := f.store.Tombstone(context.Background(), f.svc.Keys.Subject.TombstoneID(email))
	switch {
	case errors.Is(err, consent.ErrNotFound):
		return consent.Tombstone{}, false
	case err != nil:
		t.Fatal(err)
	}
	return ts, true
}

// testRetentionRun applies the default policy on a store to people the
// use cases recorded at chosen times: inside their periods nothing
// changes; past them people are erased (with a tombstone saying why) or
// their evidence minimised; objections, bounces, active consent and
// imported customers are never erased; a dry run writes nothing.
func testRetentionRun(t *testing.T, s consent.Store) {
	ctx := context.Background()
	f := &retentionFixture{store: s, mailer: &consenttest.Mailer{}, now: retentionRunAt}
	f.svc = consenttest.Service(t, s, func() time.Time { return f.now })
	f.svc.Catalog = twoMagnetCatalog(t)
	f.svc.Minimiser = s
	consenttest.DeliverAtOnce(t, f.svc, s, f.mailer)

	const (
		fresh      = "fresh@example.com"    // freebie only, 29 days ago: inside the period
		freebie    = "freebie@example.com"  // freebie only, 31 days ago: erased
		pending    = "pending@example.com"  // ticked the box 31 days ago, never confirmed: erased
		active     = "active@example.com"   // confirmed 3 years ago: kept, evidence minimised
		withdrew   = "withdrew@example.com" // withdrew 2 years and a day ago: erased
		recent     = "recent@example.com"   // withdrew 2 years less a day ago: kept, evidence minimised
		objected   = "objected@example.com" // freebie only, objected 3 years ago: never erased
		bounced    = "bounced@example.com"  // freebie only, bounced 3 years ago: never erased
		customer   = "customer@example.com" // imported 3 years ago: the basis stands, kept
		returnee   = "returnee@example.com" // withdrew 3 years ago, ticked the box again 2 years ago: kept
		longAgo    = 3 * 365
		withdrawal = 2*365 + 1
	)
	f.signup(t, fresh, false, daysBefore(29))
	f.signup(t, freebie, false, daysBefore(31))
	f.signup(t, pending, true, daysBefore(31))
	f.signup(t, active, true, daysBefore(longAgo))
	f.confirm(t, active)
	f.signup(t, withdrew, true, daysBefore(longAgo))
	f.confirm(t, withdrew)
	f.withdraw(t, withdrew, daysBefore(withdrawal))
	f.signup(t, recent, true, daysBefore(longAgo))
	f.confirm(t, recent)
	f.withdraw(t, recent, daysBefore(withdrawal-2))
	f.signup(t, objected, false, daysBefore(longAgo))
	if _, err := f.svc.RecordObjection(ctx, objected, consent.MethodOperator, retentionEvidence); err != nil {
		t.Fatal(err)
	}
	f.signup(t, bounced, false, daysBefore(longAgo))
	if err := f.svc.RecordFeedback(ctx, consent.Feedback{ID: "bounce-1", Kind: consent.FeedbackPermanentBounce, Recipients: []string{bounced}, At: f.now}); err != nil {
		t.Fatal(err)
	}
	if r := f.importCustomer(t, customer, daysBefore(longAgo)); r.Imported != 1 {
		t.Fatalf("importing %s: %+v, want 1 row imported", customer, r)
	}
	f.signup(t, returnee, true, daysBefore(longAgo))
	f.confirm(t, returnee)
	f.withdraw(t, returnee, daysBefore(longAgo-1))
	f.signup(t, returnee, true, daysBefore(2*365))
	f.confirm(t, returnee)

	f.now = retentionRunAt
	everyone := []string{fresh, freebie, pending, active, withdrew, recent, objected, bounced, customer, returnee}
	before := map[string][]consent.Event{}
	for _, email := range everyone {
		if before[email] = f.ledger(t, email); len(before[email]) == 0 {
			t.Fatalf("no ledger for %s", email)
		}
	}
	day := func(n int) string { return daysBefore(n).Format("2006-01-02") }
	wantErasures := []consent.RetentionErasure{
		{Email: freebie, Rule: consent.RetentionUnconfirmed, Reason: "retention: freebie only, last activity " + day(31)},
		{Email: pending, Rule: consent.RetentionUnconfirmed, Reason: "retention: consent given " + day(31) + " on magnet 'uk-gdpr-checklist' never confirmed, last activity " + day(31)},
		{Email: withdrew, Rule: consent.RetentionWithdrawn, Reason: "retention: withdrew " + day(withdrawal) + " by one-click unsubscribe (consent given " +
			day(longAgo) + " on magnet 'uk-gdpr-checklist', confirmed " + day(longAgo) + ")"},
	}
	sortErasures := func(es []consent.RetentionErasure) []consent.RetentionErasure {
		es = slices.Clone(es)
		slices.SortFunc(es, func(a, b consent.RetentionErasure) int { return cmp.Compare(a.Email, b.Email) })
		return es
	}
	checkErasures := func(t *testing.T, r consent.RetentionReport) {
		t.Helper()
		got := sortErasures(r.Erasures)
		want := sortErasures(wantErasures)
		if len(got) != len(want) {
			t.Fatalf("erasures: got %+v, want %+v", got, want)
		}
		for i := range got {
			if got[i].Email != want[i].Email || got[i].Rule != want[i].Rule || got[i].Reason != want[i].Reason {
				t.Errorf("erasure %d:\n got %s %s %q\nwant %s %s %q", i, got[i].Email, got[i].Rule, got[i].Reason, want[i].Email, want[i].Rule, want[i].Reason)
			}
			if got[i].Erased.Events != len(before[got[i].Email]) {
				t.Errorf("erasure of %s: got %d events, want %d", got[i].Email, got[i].Erased.Events, len(before[got[i].Email]))
			}
		}
		if r.People != len(everyone) || r.Kept != len(everyone)-3 || r.ErasedUnconfirmed != 2 || r.ErasedWithdrawn != 1 || r.Failed != 0 {
			t.Errorf("report: got people %d, kept %d, erased %d unconfirmed and %d withdrawn, failed %d; want %d, %d, 2, 1, 0",
				r.People, r.Kept, r.ErasedUnconfirmed, r.ErasedWithdrawn, r.Failed, len(everyone), len(everyone)-3)
		}
	}
	// What minimising should change: the kept people's events older than
	// the evidence period that carry an IP or user agent.
	cutoff := retentionRunAt.Add(-consent.DefaultRetention.Evidence)
	wantMinimised, wantPeopleMinimised := 0, 0
	for _, email := range everyone {
		if slices.ContainsFunc(wantErasures, func(e consent.RetentionErasure) bool { return e.Email == email }) {
			continue
		}
		n := 0
		for _, e := range before[email] {
			if e.At.Before(cutoff) && (e.SourceIP != "" || e.UserAgent != "") {
				n++
			}
		}
		wantMinimised += n
		if n > 0 {
			wantPeopleMinimised++
		}
	}
	if wantMinimised == 0 {
		t.Fatal("the scenario has no evidence to minimise")
	}

	t.Run("dry run writes nothing", func(t *testing.T) {
		snap := f.snapshot(t)
		r := f.apply(t, true)
		if !r.DryRun || !r.At.Equal(retentionRunAt) || r.Policy != consent.DefaultRetention.Days() {
			t.Errorf("report: got dry run %v at %s policy %+v, want a dry run at %s under the default policy", r.DryRun, r.At, r.Policy, retentionRunAt)
		}
		checkErasures(t, r)
		if r.EventsMinimised != wantMinimised || r.PeopleMinimised != wantPeopleMinimised {
			t.Errorf("report: got %d events of %d people to minimise, want %d of %d", r.EventsMinimised, r.PeopleMinimised, wantMinimised, wantPeopleMinimised)
		}
		if diff := sameEvents(f.snapshot(t), snap); diff != "" {
			t.Errorf("stored events after a dry run: %s", diff)
		}
		for _, email := range everyone {
			if ts, ok := f.tombstone(t, email); ok {
				t.Errorf("tombstone of %s after a dry run: %+v", email, ts)
			}
		}
	})

	t.Run("run", func(t *testing.T) {
		r := f.apply(t, false)
		if r.DryRun {
			t.Error("report: got a dry run, want a run")
		}
		checkErasures(t, r)
		if r.EventsMinimised != wantMinimised || r.PeopleMinimised != wantPeopleMinimised {
			t.Errorf("report: got %d events of %d people minimised, want %d of %d", r.EventsMinimised, r.PeopleMinimised, wantMinimised, wantPeopleMinimised)
		}
		for _, e := range wantErasures {
			if got := f.ledger(t, e.Email); len(got) != 0 {
				t.Errorf("ledger of %s after retention: got %v, want none", e.Email, positions(got))
			}
			ts, ok := f.tombstone(t, e.Email)
			if !ok || ts.Reason != e.Reason || !ts.At.Equal(retentionRunAt) {
				t.Errorf("tombstone of %s: got %+v (found %v), want reason %q at %s", e.Email, ts, ok, e.Reason, retentionRunAt)
			}
		}
		// Kept: events inside the evidence period exactly as stored,
		// older ones minimised and otherwise the same.
		for _, email := range everyone {
			if slices.ContainsFunc(wantErasures, func(e consent.RetentionErasure) bool { return e.Email == email }) {
				continue
			}
			want := slices.Clone(before[email])
			for i, e := range want {
				if e.At.Before(cutoff) {
					want[i] = consent.MinimisedEvidence(e)
				}
			}
			if diff := sameEvents(f.ledger(t, email), want); diff != "" {
				t.Errorf("ledger of %s after retention: %s", email, diff)
			}
		}
		if got := f.ledger(t, active)[0]; got.SourceIP != "198.51.100.0/24" || got.UserAgent != "" {
			t.Errorf("%s's sign-up after retention: got source IP %q and user agent %q, want 198.51.100.0/24 and none", active, got.SourceIP, got.UserAgent)
		}
		if got := f.ledger(t, fresh); got[0].SourceIP != retentionEvidence.SourceIP || got[0].UserAgent != retentionEvidence.UserAgent {
			t.Errorf("%s's sign-up after retention: got %q, %q, want the evidence as recorded", fresh, got[0].SourceIP, got[0].UserAgent)
		}
		d, err := f.svc.MayEmail(ctx, active, "")
		if err != nil || !d.Allowed {
			t.Errorf("MayEmail(%s) after retention: got %+v, %v; want allowed", active, d, err)
		}
		d, err = f.svc.MayEmail(ctx, withdrew, "")
		if err != nil || d.Allowed || !strings.Contains(d.Reason, "erased") {
			t.Errorf("MayEmail(%s) after retention: got %+v, %v; want not allowed, erased", withdrew, d, err)
		}
		// The erased person is never re-added by an import.
		r2 := f.importCustomer(t, withdrew, retentionRunAt)
		if r2.Imported != 0 || len(r2.Skipped) != 1 || !strings.Contains(r2.Skipped[0].Reason, "erased") {
			t.Errorf("importing %s after retention: got %+v, want the row skipped as erased", withdrew, r2)
		}
		f.now = retentionRunAt
	})

	t.Run("again changes nothing", func(t *testing.T) {
		snap := f.snapshot(t)
		r := f.apply(t, false)
		if len(r.Erasures) != 0 || r.EventsMinimised != 0 || r.Kept != len(everyone)-3 {
			t.Errorf("second run: got %+v, want nothing erased or minimised, %d kept", r, len(everyone)-3)
		}
		if diff := sameEvents(f.snapshot(t), snap); diff != "" {
			t.Errorf("stored events after a second run: %s", diff)
		}
	})

	t.Run("years later", func(t *testing.T) {
		// Ten years on, everyone without a standing basis or a "do not
		// contact" has gone; active consent, the imported customer,
		// objections and bounces stay, however old.
		f.now = retentionRunAt.Add(10 * 365 * consent.Day)
		r := f.apply(t, false)
		var erased []string
		for _, e := range r.Erasures {
			erased = append(erased, e.Email)
		}
		slices.Sort(erased)
		if want := []string{fresh, recent}; !slices.Equal(erased, want) {
			t.Errorf("erased ten years on: got %v, want %v", erased, want)
		}
		for _, email := range []string{active, objected, bounced, customer, returnee} {
			if got := f.ledger(t, email); len(got) != len(before[email]) {
				t.Errorf("ledger of %s ten years on: got %d events, want all %d", email, len(got), len(before[email]))
			}
			for _, e := range f.ledger(t, email) {
				if e.UserAgent != "" || strings.Count(e.SourceIP, "/") > 1 || e.SourceIP != "" && !strings.Contains(e.SourceIP, "/") {
					t.Errorf("%s's event %d ten years on: got source IP %q and user agent %q, want them minimised", email, e.Seq, e.SourceIP, e.UserAgent)
				}
			}
		}
		if ts, ok := f.tombstone(t, recent); !ok || !strings.HasPrefix(ts.Reason, fmt.Sprintf("retention: withdrew %s by one-click unsubscribe (consent given", day(withdrawal-2))) {
			t.Errorf("tombstone of %s: got %+v (found %v), want one naming the withdrawal", recent, ts, ok)
		}
	})
}
