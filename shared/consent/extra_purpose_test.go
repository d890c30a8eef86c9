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

// partnerPurpose is the purpose of the sample magnet's extra partner box
// in withPartner's catalog.
const partnerPurpose = consenttest.SamplePurpose + "/books-r-us"

const partnerWording = "Yes, Books R Us Ltd (2 Low St, Leeds) may email me offers of business books. I can unsubscribe at any time."

// withPartner gives f a catalog where the sample magnet (double opt-in)
// also asks, by its own unticked box, for offers from a named partner.
func withPartner(t *testing.T, f *fixture) {
	t.Helper()
	m := consenttest.SampleMagnet(t)
	m.ExtraPurposes = []magnet.ExtraPurpose{{
		ID: "books-r-us", Name: "offers from Books R Us Ltd", Wording: partnerWording, Partner: "Books R Us Ltd, 2 Low St, Leeds",
	}}
	f.svc.Catalog = consenttest.CatalogOf(t, m)
}

// signupTicking signs email up to the sample magnet, ticking the main box
// if main and the extra boxes named.
func (f *fixture) signupTicking(t *testing.T, email string, main bool, extras ...string) {
	t.Helper()
	req := signupReq(email, main)
	req.Purposes = extras
	if err := f.svc.Signup(context.Background(), req); err != nil {
		t.Fatalf("Signup: %v", err)
	}
}

// mayEmail is the decision for email and purpose.
func (f *fixture) mayEmail(t *testing.T, email, purpose string) consent.Decision {
	t.Helper()
	d, err := f.svc.MayEmail(context.Background(), email, purpose)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// confirmLast presses the button behind the confirm link of the last email
// that carries one.
func (f *fixture) confirmLast(t *testing.T) consent.ConfirmTarget {
	t.Helper()
	sent := f.mailer.Sent()
	for i := len(sent) - 1; i >= 0; i-- {
		if strings.Contains(sent[i].Text, "/confirm?t=") {
			got, err := f.svc.Confirm(context.Background(), linkToken(t, sent[i].Text, "/confirm"), ev)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
	}
	t.Fatal("no confirm link emailed")
	return consent.ConfirmTarget{}
}

// Scenario: partner purpose only if its own box was ticked.
func TestPartnerPurposeOnlyIfItsOwnBoxWasTicked(t *testing.T) {
	f := newFixture(t)
	withPartner(t, f)
	f.signupTicking(t, "ann@example.com", true)
	f.confirmLast(t)
	if d := f.mayEmail(t, "ann@example.com", consenttest.SamplePurpose); !d.Allowed || d.Basis != consent.BasisConsent {
		t.Errorf("main purpose after confirming the main box: %+v, want allowed on consent", d)
	}
	if d := f.mayEmail(t, "ann@example.com", partnerPurpose); d.Allowed || d.Reason != "no consent recorded for "+partnerPurpose {
		t.Errorf("partner purpose with only the main box ticked: %+v, want no, %q", d, "no consent recorded for "+partnerPurpose)
	}
	events := f.ledger(t, "ann@example.com")
	if got, want := types(events), "signup,granted,confirmed"; got != want {
		t.Errorf("ledger: got %s, want %s", got, want)
	}
}

func TestOnlyThePartnerBoxTicked(t *testing.T) {
	f := newFixture(t)
	withPartner(t, f)
	f.signupTicking(t, "bob@example.com", false, "books-r-us")
	events := f.ledger(t, "bob@example.com")
	if got, want := types(events), "signup,granted"; got != want {
		t.Fatalf("ledger: got %s, want %s", got, want)
	}
	g := events[1]
	m, _ := f.svc.Catalog.Get(magnetID)
	v := consent.NewExtraWordingVersion(m, m.ExtraPurposes[0])
	if g.Purpose != partnerPurpose || g.Method != consent.MethodCheckbox || g.Wording != partnerWording || g.WordingVersion != v.ID ||
		g.PrivacyPolicyURL != m.PrivacyPolicyURL || g.Frequency != m.Frequency || g.Controller != m.Controller || !g.ConfirmationRequired {
		t.Errorf("partner grant: %+v, want purpose %s with its own wording version %s, awaiting confirmation", g, partnerPurpose, v.ID)
	}
	if v.ID == consent.NewWordingVersion(m).ID {
		t.Errorf("the partner's wording version is the main box's")
	}
	if archived, err := f.store.Wording(context.Background(), magnetID, v.ID); err != nil || !archived.SameContent(v) {
		t.Errorf("partner wording archived for the magnet: %+v, %v", archived, err)
	}

	// The freebie asks to confirm, but carries no one-click headers: they
	// would withdraw the main purpose, which Bob never chose.
	freebie := f.mailer.Sent()[0]
	if !strings.Contains(freebie.Text, "/confirm?t=") {
		t.Fatalf("freebie without a confirm link for the partner box:\n%s", freebie.Text)
	}
	if _, ok := consenttest.Header(freebie, "List-Unsubscribe"); ok {
		t.Errorf("freebie carries List-Unsubscribe although only the partner box was ticked")
	}
	target, err := f.svc.DescribeConfirmation(context.Background(), linkToken(t, freebie.Text, "/confirm"))
	if err != nil || target.Status.State != consent.StatePending || target.Wording.Wording != partnerWording ||
		target.PurposeName != "offers from Books R Us Ltd" || len(target.Also) != 0 {
		t.Errorf("confirm page for the partner box: %+v, %v", target, err)
	}

	f.now = t0.Add(time.Hour)
	got := f.confirmLast(t)
	if got.Status.State != consent.StateActive {
		t.Errorf("after confirming: %s, want active", got.Status.State)
	}
	events = f.ledger(t, "bob@example.com")
	if c := events[len(events)-1]; c.Type != consent.EventConfirmed || c.Purpose != partnerPurpose || c.Confirms != g.ID {
		t.Errorf("confirmed event: %+v, want one confirming %s for %s", c, g.ID, partnerPurpose)
	}
	if d := f.mayEmail(t, "bob@example.com", partnerPurpose); !d.Allowed || d.Reason != "consent given 2026-11-28 on magnet 'uk-gdpr-checklist', confirmed 2026-11-28" {
		t.Errorf("partner purpose: %+v, want allowed", d)
	}
	if d := f.mayEmail(t, "bob@example.com", consenttest.SamplePurpose); d.Allowed || d.Reason != "no consent recorded for "+consenttest.SamplePurpose {
		t.Errorf("main purpose with only the partner box ticked: %+v, want no", d)
	}

	// The receipt quotes the partner's wording.
	receipt := f.mailer.Sent()[len(f.mailer.Sent())-1]
	if !strings.HasPrefix(receipt.Subject, "Your consent receipt") || !strings.Contains(receipt.Text, `"`+partnerWording+`"`) {
		t.Errorf("receipt: %q\n%s", receipt.Subject, receipt.Text)
	}
	if _, ok := consenttest.Header(receipt, "List-Unsubscribe"); ok || !strings.Contains(receipt.Text, "/unsubscribe?t=") {
		t.Errorf("partner-only receipt: want the visible link to the unsubscribe page and no one-click headers")
	}
}

func TestBothBoxesOneConfirmLink(t *testing.T) {
	f := newFixture(t)
	withPartner(t, f)
	f.signupTicking(t, "cat@example.com", true, "books-r-us")
	events := f.ledger(t, "cat@example.com")
	if got, want := types(events), "signup,granted,granted"; got != want {
		t.Fatalf("ledger: got %s, want %s", got, want)
	}
	if events[1].Purpose != consenttest.SamplePurpose || events[2].Purpose != partnerPurpose {
		t.Errorf("grants: %s then %s, want the main purpose then the partner's", events[1].Purpose, events[2].Purpose)
	}
	sent := f.mailer.Sent()
	if len(sent) != 1 {
		t.Fatalf("sent %d emails, want one freebie", len(sent))
	}
	tok := linkToken(t, sent[0].Text, "/confirm")
	if strings.Count(sent[0].Text, "/confirm?t=") != 1 {
		t.Errorf("freebie carries %d confirm links, want one for both boxes", strings.Count(sent[0].Text, "/confirm?t="))
	}
	target, err := f.svc.DescribeConfirmation(context.Background(), tok)
	if err != nil || target.Grant != events[1].ID || len(target.Also) != 1 || target.Also[0].Wording.Wording != partnerWording || target.Also[0].Name != "offers from Books R Us Ltd" {
		t.Fatalf("confirm page: %+v, %v; want the main grant, also the partner's", target, err)
	}

	f.now = t0.Add(time.Hour)
	for range 2 { // a second click writes nothing more
		if _, err := f.svc.Confirm(context.Background(), tok, ev); err != nil {
			t.Fatal(err)
		}
	}
	events = f.ledger(t, "cat@example.com")
	if got, want := types(events), "signup,granted,granted,confirmed,confirmed"; got != want {
		t.Fatalf("ledger: got %s, want %s (one confirmed event per grant)", got, want)
	}
	for i, g := range events[1:3] {
		c := events[3+i]
		if c.Confirms != g.ID || c.Purpose != g.Purpose || c.WordingVersion != g.WordingVersion || c.Method != consent.MethodConfirmLink || c.SourceIP != ev.SourceIP {
			t.Errorf("confirmed event %d: %+v, want it to confirm %s (%s)", i, c, g.ID, g.Purpose)
		}
	}
	for _, p := range []string{consenttest.SamplePurpose, partnerPurpose} {
		if d := f.mayEmail(t, "cat@example.com", p); !d.Allowed {
			t.Errorf("%s after one confirm link: %+v, want allowed", p, d)
		}
	}
	var receipts []consent.Message
	for _, m := range f.mailer.Sent() {
		if strings.HasPrefix(m.Subject, "Your consent receipt") {
			receipts = append(receipts, m)
		}
	}
	if len(receipts) != 1 {
		t.Fatalf("receipts: got %d, want 1", len(receipts))
	}
	m, _ := f.svc.Catalog.Get(magnetID)
	if r := receipts[0]; !strings.Contains(r.Text, `"`+m.ConsentWording+`"`) || !strings.Contains(r.Text, "You also agreed to offers from Books R Us Ltd") || !strings.Contains(r.Text, `"`+partnerWording+`"`) {
		t.Errorf("receipt lacks a wording:\n%s", r.Text)
	}
}

func TestStopAllMarketingWithdrawsThePartnerPurposeToo(t *testing.T) {
	f := newFixture(t)
	withPartner(t, f)
	f.signupTicking(t, "dan@example.com", true, "books-r-us")
	f.confirmLast(t)
	tok := unsubscribeToken(t, f.mailer.Sent()[0])
	if _, err := f.svc.WithdrawController(context.Background(), tok, consent.MethodUnsubscribePage, ev); err != nil {
		t.Fatal(err)
	}
	events := f.ledger(t, "dan@example.com")
	var withdrawn []string
	for _, e := range events {
		if e.Type == consent.EventWithdrawn {
			withdrawn = append(withdrawn, e.Purpose)
		}
	}
	if got, want := strings.Join(withdrawn, ","), consenttest.SamplePurpose+","+partnerPurpose; got != want {
		t.Errorf("withdrawn purposes: got %s, want %s", got, want)
	}
	for _, p := range []string{consenttest.SamplePurpose, partnerPurpose} {
		if d := f.mayEmail(t, "dan@example.com", p); d.Allowed || !strings.HasPrefix(d.Reason, "withdrawn 2026-11-28 by the unsubscribe page") {
			t.Errorf("%s after stopping all marketing: %+v, want withdrawn", p, d)
		}
	}
}

func TestOneClickFromTheMagnetsEmailWithdrawsOnlyItsPurpose(t *testing.T) {
	f := newFixture(t)
	withPartner(t, f)
	f.signupTicking(t, "eve@example.com", true, "books-r-us")
	f.confirmLast(t)
	tok := unsubscribeToken(t, f.mailer.Sent()[0])
	if _, err := f.svc.Withdraw(context.Background(), tok, consent.MethodOneClick, ev); err != nil {
		t.Fatal(err)
	}
	if d := f.mayEmail(t, "eve@example.com", consenttest.SamplePurpose); d.Allowed || d.Reason != "withdrawn 2026-11-28 by one-click unsubscribe" {
		t.Errorf("main purpose after one-click: %+v, want withdrawn", d)
	}
	if d := f.mayEmail(t, "eve@example.com", partnerPurpose); !d.Allowed {
		t.Errorf("partner purpose after one-click from the magnet's email: %+v, want still allowed", d)
	}
}

// The same choice again is the same sign-up; another choice is not; and
// after withdrawing the partner purpose, ticking its box again is recorded.
func TestExtraBoxesAreADifferentChoice(t *testing.T) {
	f := newFixture(t)
	withPartner(t, f)
	f.signupTicking(t, "fay@example.com", true)
	f.signupTicking(t, "fay@example.com", true) // double click
	if got, want := types(f.ledger(t, "fay@example.com")), "signup,granted"; got != want {
		t.Fatalf("same choice twice: got %s, want %s", got, want)
	}
	f.signupTicking(t, "fay@example.com", true, "books-r-us")
	f.signupTicking(t, "fay@example.com", true, " books-r-us") // the same choice
	events := f.ledger(t, "fay@example.com")
	if got, want := types(events), "signup,granted,signup,granted"; got != want {
		t.Fatalf("then ticking the partner box too: got %s, want %s (the main grant awaits already)", got, want)
	}
	if events[3].Purpose != partnerPurpose {
		t.Errorf("second grant: %s, want %s", events[3].Purpose, partnerPurpose)
	}
	if got := len(f.mailer.Sent()); got != 2 {
		t.Errorf("emails: got %d, want one freebie per distinct choice", got)
	}
	// The second freebie's link names the newest sign-up's grant: the
	// partner's. Confirming it leaves the first grant awaiting.
	f.confirmLast(t)
	events = f.ledger(t, "fay@example.com")
	if st := consent.MarketingStatus(events, partnerPurpose); !st.Eligible() {
		t.Errorf("partner purpose: %s, want active", st.State)
	}
	if st := consent.MarketingStatus(events, consenttest.SamplePurpose); st.State != consent.StatePending {
		t.Errorf("main purpose: %s, want still awaiting its own link", st.State)
	}

	// Withdrawing the partner purpose starts a new epoch: ticking its box
	// again at once is a new decision, recorded.
	tok := unsubscribeToken(t, f.mailer.Sent()[0])
	if _, err := f.svc.WithdrawController(context.Background(), tok, consent.MethodUnsubscribePage, ev); err != nil {
		t.Fatal(err)
	}
	f.signupTicking(t, "fay@example.com", false, "books-r-us")
	events = f.ledger(t, "fay@example.com")
	if last := events[len(events)-1]; last.Type != consent.EventGranted || last.Purpose != partnerPurpose {
		t.Errorf("re-ticking after withdrawal: last event %s %s, want a new partner grant", last.Type, last.Purpose)
	}
}

func TestUnknownOrRepeatedExtraBoxIsRefused(t *testing.T) {
	f := newFixture(t)
	withPartner(t, f)
	writes := f.store.Writes()
	for _, purposes := range [][]string{{"selected-third-parties"}, {"books-r-us", "books-r-us"}, {partnerPurpose}} {
		req := signupReq("gus@example.com", true)
		req.Purposes = purposes
		err := f.svc.Signup(context.Background(), req)
		var verr *consent.ValidationError
		if !errors.As(err, &verr) || verr.Fields["purposes"] == "" {
			t.Errorf("purposes %q: got %v, want a purposes validation error", purposes, err)
		}
	}
	// A magnet without extra boxes takes none.
	f.svc.Catalog = consenttest.CatalogOf(t, consenttest.SampleMagnet(t))
	req := signupReq("gus@example.com", false)
	req.Purposes = []string{"books-r-us"}
	var verr *consent.ValidationError
	if err := f.svc.Signup(context.Background(), req); !errors.As(err, &verr) || verr.Fields["purposes"] == "" {
		t.Errorf("extra box on a magnet without any: got %v, want a purposes validation error", err)
	}
	if f.store.Writes() != writes || len(f.mailer.Sent()) != 0 {
		t.Errorf("refused sign-ups stored or sent something")
	}
}

// With single opt-in the extra grant counts at once, and the catalog lists
// the partner purpose.
func TestPartnerPurposeSingleOptIn(t *testing.T) {
	f := newFixture(t)
	m := consenttest.SampleMagnet(t)
	m.DoubleOptIn = new(false)
	m.ExtraPurposes = []magnet.ExtraPurpose{{ID: "books-r-us", Name: "offers from Books R Us Ltd", Wording: partnerWording, Partner: "Books R Us Ltd, 2 Low St, Leeds"}}
	f.svc.Catalog = consenttest.CatalogOf(t, m)
	if p, ok := f.svc.Catalog.Purpose(partnerPurpose); !ok || p.Partner != "Books R Us Ltd, 2 Low St, Leeds" || p.Controller != consenttest.SamplePurpose {
		t.Errorf("catalog purpose: %+v, %v", p, ok)
	}
	f.signupTicking(t, "hal@example.com", false, "books-r-us")
	events := f.ledger(t, "hal@example.com")
	if g := events[1]; g.ConfirmationRequired || g.Purpose != partnerPurpose {
		t.Errorf("grant: %+v, want the partner's, single opt-in", g)
	}
	if d := f.mayEmail(t, "hal@example.com", partnerPurpose); !d.Allowed || !strings.HasSuffix(d.Reason, "(single opt-in)") {
		t.Errorf("partner purpose: %+v", d)
	}
	freebie := f.mailer.Sent()[0]
	if strings.Contains(freebie.Text, "/confirm?t=") || !strings.Contains(freebie.Text, "/unsubscribe?t=") {
		t.Errorf("single opt-in partner freebie: want no confirm link and a visible unsubscribe link:\n%s", freebie.Text)
	}
}

// An expired link for the partner box alone gets a fresh one that says
// what it confirms and confirms it.
func TestResentLinkForThePartnerBox(t *testing.T) {
	f := newFixture(t)
	withPartner(t, f)
	f.signupTicking(t, "ivy@example.com", false, "books-r-us")
	tok := linkToken(t, f.mailer.Sent()[0].Text, "/confirm")
	f.now = t0.Add(magnet.DefaultConfirmExpiry)
	if err := f.svc.ResendConfirmation(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	sent := f.mailer.Sent()
	if len(sent) != 2 || sent[1].Subject != "Please confirm: offers from Books R Us Ltd" || !strings.Contains(sent[1].Text, "Please confirm you want offers from Books R Us Ltd:") {
		t.Fatalf("resent link: %d emails, last %q:\n%s", len(sent), sent[len(sent)-1].Subject, sent[len(sent)-1].Text)
	}
	if _, err := f.svc.Confirm(context.Background(), linkToken(t, sent[1].Text, "/confirm"), ev); err != nil {
		t.Fatal(err)
	}
	if d := f.mayEmail(t, "ivy@example.com", partnerPurpose); !d.Allowed {
		t.Errorf("partner purpose after the resent link: %+v", d)
	}
}

// Someone who ticked only the partner box can still ask /withdraw for a
// link: its page stops all of the controller's marketing, the partner's
// purpose included.
func TestWithdrawalLinkForPartnerOnly(t *testing.T) {
	f := newFixture(t)
	withPartner(t, f)
	f.signupTicking(t, "ann@example.com", false, "books-r-us")
	f.confirmLast(t)
	before := len(f.mailer.Sent())
	if err := f.svc.RequestWithdrawalLinks(context.Background(), "ann@example.com", ev); err != nil {
		t.Fatal(err)
	}
	sent := f.mailer.Sent()
	if len(sent) != before+1 || !strings.Contains(sent[len(sent)-1].Text, "/unsubscribe?t=") {
		t.Fatalf("no withdrawal link sent to a partner-only subscriber (%d emails before, %d after)", before, len(sent))
	}
	tok := linkToken(t, sent[len(sent)-1].Text, "/unsubscribe")
	if _, err := f.svc.WithdrawController(context.Background(), tok, consent.MethodUnsubscribePage, ev); err != nil {
		t.Fatal(err)
	}
	if d := f.mayEmail(t, "ann@example.com", partnerPurpose); d.Allowed {
		t.Errorf("partner purpose after stopping all marketing: %+v", d)
	}
}
