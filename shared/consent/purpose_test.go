package consent_test

import (
	"context"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/consenttest"
	"github.com/unbundled/unbundled/shared/magnet"
)

// twoMagnets gives f a catalog with the sample magnet and a second one of
// the same controller ("seo-guide"), both single opt-in.
func twoMagnets(t *testing.T, f *fixture) {
	t.Helper()
	first := consenttest.SampleMagnet(t)
	first.DoubleOptIn = new(false)
	second := first
	second.ID, second.Title = "seo-guide", "The SEO Guide"
	f.svc.Catalog = consenttest.CatalogOf(t, first, second)
}

// A consent is for the controller's marketing, shared by all its magnets:
// unsubscribing from one magnet's email stops all of it.
func TestUnsubscribeStopsAllMarketingFromTheController(t *testing.T) {
	f := newFixture(t)
	twoMagnets(t, f)
	ctx := context.Background()
	for _, id := range []string{magnetID, "seo-guide"} {
		req := signupReq("ann@example.com", true)
		req.Magnet = id
		if err := f.svc.Signup(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	events := f.ledger(t, "ann@example.com")
	if got, want := types(events), "signup,granted,signup"; got != want {
		t.Errorf("ledger: got %s, want %s (the second magnet's tick adds no grant: the purpose is already granted)", got, want)
	}
	if g := events[1]; g.Purpose != consenttest.SamplePurpose {
		t.Errorf("granted purpose: got %q, want %q", g.Purpose, consenttest.SamplePurpose)
	}
	sent := f.mailer.Sent()
	if len(sent) != 2 {
		t.Fatalf("sent %d emails, want 2 freebies", len(sent))
	}
	// The second magnet's freebie carries unsubscribe links: consent stands
	// for the purpose it is sent under.
	tok := unsubscribeToken(t, sent[1])
	if _, err := f.svc.Withdraw(ctx, tok, consent.MethodOneClick, ev); err != nil {
		t.Fatal(err)
	}
	events = f.ledger(t, "ann@example.com")
	if st := consent.MarketingStatus(events, consenttest.SamplePurpose); st.State != consent.StateWithdrawn {
		t.Errorf("after unsubscribing from seo-guide's email: %s, want withdrawn for the whole controller", st.State)
	}
	last := events[len(events)-1]
	if last.Type != consent.EventWithdrawn || last.Magnet != "seo-guide" || last.Purpose != consenttest.SamplePurpose {
		t.Errorf("withdrawn event: got %s magnet %q purpose %q, want withdrawn, seo-guide, %s", last.Type, last.Magnet, last.Purpose, consenttest.SamplePurpose)
	}
	// A later freebie from the first magnet carries no marketing links.
	f.now = t0.Add(time.Hour)
	if err := f.svc.Signup(ctx, signupReq("ann@example.com", false)); err != nil {
		t.Fatal(err)
	}
	sent = f.mailer.Sent()
	if _, ok := consenttest.Header(sent[len(sent)-1], "List-Unsubscribe"); ok {
		t.Errorf("freebie after withdrawing the controller's purpose still carries List-Unsubscribe")
	}
}

// Ledgers written before purposes existed keep working: their per-magnet
// grants count for the controller-wide purpose, and a withdrawal counts for
// the purpose of the grant before it.
func TestLegacyPerMagnetEventsMapToTheControllerPurpose(t *testing.T) {
	at := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	legacy := []consent.Event{
		{Seq: 1, ID: "g1", Type: consent.EventGranted, At: at, Magnet: "old-checklist", Controller: "Example Ltd, 1 High Street", ConfirmationRequired: true},
		{Seq: 2, ID: "c1", Type: consent.EventConfirmed, At: at.Add(time.Hour), Magnet: "old-checklist"},
	}
	if st := consent.MarketingStatus(legacy, consenttest.SamplePurpose); st.State != consent.StateActive {
		t.Fatalf("legacy grant and confirmation: got %s (%s), want active for %s", st.State, st.Reason, consenttest.SamplePurpose)
	}
	withdrawn := append(legacy, consent.Event{Seq: 3, ID: "w1", Type: consent.EventWithdrawn, At: at.Add(2 * time.Hour), Magnet: "old-checklist"})
	if st := consent.MarketingStatus(withdrawn, consenttest.SamplePurpose); st.State != consent.StateWithdrawn {
		t.Errorf("legacy withdrawal: got %s, want withdrawn", st.State)
	}
	if got := consent.EventPurpose(withdrawn, withdrawn[2]); got != consenttest.SamplePurpose {
		t.Errorf("EventPurpose of a legacy withdrawal: got %q, want %q", got, consenttest.SamplePurpose)
	}
	other := consent.MarketingStatus(withdrawn, "marketing:another-ltd")
	if other.State != consent.StateNone {
		t.Errorf("another controller's purpose: got %s, want none", other.State)
	}
}

// A magnet may ask for a narrower purpose of its controller: its one-click
// unsubscribe stops only that; "stop all marketing from <controller>" stops
// every purpose of the controller.
func TestNarrowerPurpose(t *testing.T) {
	f := newFixture(t)
	general := consenttest.SampleMagnet(t)
	general.DoubleOptIn = new(false)
	tips := general
	tips.ID, tips.Title, tips.Purpose = "seo-guide", "The SEO Guide", &magnet.Purpose{ID: "seo-tips", Name: "weekly SEO tips"}
	f.svc.Catalog = consenttest.CatalogOf(t, general, tips)
	ctx := context.Background()
	for _, id := range []string{magnetID, "seo-guide"} {
		req := signupReq("ann@example.com", true)
		req.Magnet = id
		if err := f.svc.Signup(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	narrow := consenttest.SamplePurpose + "/seo-tips"
	events := f.ledger(t, "ann@example.com")
	if got, want := types(events), "signup,granted,signup,granted"; got != want {
		t.Fatalf("ledger: got %s, want %s (two purposes, two grants)", got, want)
	}
	if events[3].Purpose != narrow {
		t.Errorf("seo-guide grant purpose: got %q, want %q", events[3].Purpose, narrow)
	}
	sent := f.mailer.Sent()
	tipsToken := unsubscribeToken(t, sent[1])
	if _, err := f.svc.Withdraw(ctx, tipsToken, consent.MethodOneClick, ev); err != nil {
		t.Fatal(err)
	}
	events = f.ledger(t, "ann@example.com")
	if st := consent.MarketingStatus(events, narrow); st.State != consent.StateWithdrawn {
		t.Errorf("narrow purpose after its one-click: %s, want withdrawn", st.State)
	}
	if st := consent.MarketingStatus(events, consenttest.SamplePurpose); st.State != consent.StateActive {
		t.Errorf("controller-wide purpose after the narrow one-click: %s, want still active", st.State)
	}
	// Re-grant the narrow purpose, then stop everything from the controller.
	f.now = t0.Add(time.Hour)
	req := signupReq("ann@example.com", true)
	req.Magnet = "seo-guide"
	if err := f.svc.Signup(ctx, req); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.WithdrawController(ctx, tipsToken, consent.MethodUnsubscribePage, ev); err != nil {
		t.Fatal(err)
	}
	events = f.ledger(t, "ann@example.com")
	for _, p := range []string{narrow, consenttest.SamplePurpose} {
		if st := consent.MarketingStatus(events, p); st.State != consent.StateWithdrawn {
			t.Errorf("%s after stopping all marketing: %s, want withdrawn", p, st.State)
		}
	}
	if d := consent.Decide(events, narrow); d.Allowed || d.Reason != "withdrawn 2026-11-28 by the unsubscribe page" {
		t.Errorf("decision for the narrow purpose: %+v", d)
	}
}
