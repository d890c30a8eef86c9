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
	"github.com/unbundled/unbundled/shared/magnet"
)

const magnetID = "uk-gdpr-checklist"

func signupReq(email string, consentGiven bool) consent.SignupRequest {
	return consent.SignupRequest{Email: email, Magnet: magnetID, Name: "Ann", Consent: consentGiven, Method: consent.MethodForm, Evidence: ev}
}

// The attack from the issue: 50 sign-ups for one victim, each with a fresh
// Idempotency-Key, used to send 54 emails. The key makes a retry safe; it
// never makes a different request — or the same one again — bypass the
// dedupe or the email cap.
func TestFreshIdempotencyKeysDoNotMultiplyEmails(t *testing.T) {
	f := newFixture(t)
	f.svc.Limits = consent.DefaultLimits
	f.svc.Limits.SignupsPerSource = 0 // this test is about the address
	for i := range 50 {
		req := signupReq("victim@example.com", i%2 == 0)
		req.IdempotencyKey = fmt.Sprintf("key-%d", i)
		req.SourceIP = fmt.Sprintf("198.51.100.%d", i)
		if err := f.svc.Signup(context.Background(), req); err != nil {
			t.Fatalf("sign-up %d: %v", i, err)
		}
	}
	if got := len(f.mailer.Sent()); got != 2 {
		t.Errorf("emails to the victim: got %d, want 2 (one per distinct choice)", got)
	}
	if got := len(f.ledger(t, "victim@example.com")); got > 3 {
		t.Errorf("ledger grew to %d events for two distinct sign-ups, want at most 3", got)
	}
}

func TestEmailCapPerAddress(t *testing.T) {
	f := newFixture(t)
	f.svc.Limits = consent.Limits{EmailsPerAddress: 3, EmailWindow: 24 * time.Hour}
	// Distinct sign-ups (alternating choice, after the dedupe window) until
	// past the cap.
	for i := range 6 {
		f.now = t0.Add(time.Duration(i) * 11 * time.Minute)
		f.signup(t, "ann@example.com", i%2 == 1)
	}
	if got := len(f.mailer.Sent()); got != 3 {
		t.Fatalf("emails in 24 h: got %d, want the cap of 3", got)
	}
	events := f.ledger(t, "ann@example.com")
	limited := 0
	for _, e := range events {
		if e.Type == consent.EventSignup && e.Delivery == consent.DeliveryLimited {
			limited++
		}
	}
	if limited == 0 {
		t.Errorf("no sign-up is marked %q in the ledger: %+v", consent.DeliveryLimited, events)
	}
	// Repeating a limited sign-up within the window records nothing more.
	before := len(events)
	f.now = f.now.Add(time.Hour)
	f.signup(t, "ann@example.com", true)
	f.signup(t, "ann@example.com", true)
	if got := len(f.ledger(t, "ann@example.com")); got != before {
		t.Errorf("repeated limited sign-ups grew the ledger from %d to %d events", before, got)
	}
	// The window is rolling: 24 h after the first email there is room again.
	f.now = t0.Add(24*time.Hour + time.Second)
	f.signup(t, "ann@example.com", false)
	if got := len(f.mailer.Sent()); got != 4 {
		t.Errorf("emails after the first slot freed: got %d, want 4", got)
	}
}

func TestSourceLimit(t *testing.T) {
	f := newFixture(t)
	f.svc.Limits = consent.Limits{SignupsPerSource: 3, SourceWindow: 10 * time.Minute}
	f.now = t0.Add(2 * time.Minute)
	for i := range 3 {
		req := signupReq(fmt.Sprintf("p%d@example.com", i), false)
		req.SourceIP = "2001:db8:1:2::1"
		if err := f.svc.Signup(context.Background(), req); err != nil {
			t.Fatalf("sign-up %d: %v", i, err)
		}
	}
	writes := f.store.Writes()
	// Another host in the same IPv6 /64 shares the limit.
	req := signupReq("p9@example.com", false)
	req.SourceIP = "2001:db8:1:2:ffff::7"
	err := f.svc.Signup(context.Background(), req)
	var limited *consent.RateLimitError
	if !errors.As(err, &limited) {
		t.Fatalf("4th sign-up from one /64: got %v, want a *RateLimitError", err)
	}
	if limited.RetryAfter != 8*time.Minute {
		t.Errorf("RetryAfter: got %s, want 8m0s (to the end of the window)", limited.RetryAfter)
	}
	if f.store.Writes() != writes {
		t.Errorf("a refused sign-up wrote to the store")
	}
	// Another source is not affected; the next window starts afresh.
	req.SourceIP = "192.0.2.1"
	if err := f.svc.Signup(context.Background(), req); err != nil {
		t.Errorf("another source: %v", err)
	}
	f.now = t0.Add(10 * time.Minute)
	req.SourceIP = "2001:db8:1:2::1"
	if err := f.svc.Signup(context.Background(), req); err != nil {
		t.Errorf("next window: %v", err)
	}
	// Withdrawal-link requests count against the same source.
	for range 3 {
		_ = f.svc.RequestWithdrawalLinks(context.Background(), "x@example.com", consent.Evidence{SourceIP: "2001:db8:1:2::1"})
	}
	if err := f.svc.RequestWithdrawalLinks(context.Background(), "x@example.com", consent.Evidence{SourceIP: "2001:db8:1:2::1"}); !errors.As(err, &limited) {
		t.Errorf("withdrawal links past the source limit: got %v, want a *RateLimitError", err)
	}
}

func TestConfirmedSubscriberStaysConfirmed(t *testing.T) {
	f := newFixture(t)
	f.signup(t, "ann@example.com", true)
	tok := linkToken(t, f.mailer.Sent()[0].Text, "/confirm")
	f.now = t0.Add(time.Hour)
	if _, err := f.svc.Confirm(context.Background(), tok, ev); err != nil {
		t.Fatal(err)
	}
	for i, edit := range []func(*magnet.Magnet){
		func(*magnet.Magnet) {}, // same wording
		func(m *magnet.Magnet) { m.ConsentWording += " You can stop at any time." }, // new wording
	} {
		f.setMagnet(t, edit)
		f.now = f.now.Add(time.Hour)
		f.signup(t, "ann@example.com", true)
		st := consent.MarketingStatus(f.ledger(t, "ann@example.com"), consenttest.SamplePurpose)
		if st.State != consent.StateActive {
			t.Errorf("case %d: a confirmed subscriber signing up again went to %s (%s), want active", i, st.State, st.Reason)
		}
	}
	events := f.ledger(t, "ann@example.com")
	if got, want := types(events), "signup,granted,confirmed,signup,signup,granted"; got != want {
		t.Errorf("ledger: got %s, want %s (same wording: no new grant; new wording: a grant that needs no re-confirmation)", got, want)
	}
	if last := events[len(events)-1]; last.ConfirmationRequired {
		t.Errorf("the new-wording grant asks for confirmation though the magnet does not demand it")
	}

	// A magnet that demands re-confirmation: the new grant waits, and the
	// old consent stands until it is confirmed.
	f.setMagnet(t, func(m *magnet.Magnet) {
		m.ConsentWording += " Now weekly."
		m.ReconfirmNewWording = true
	})
	f.now = f.now.Add(time.Hour)
	f.signup(t, "ann@example.com", true)
	st := consent.MarketingStatus(f.ledger(t, "ann@example.com"), consenttest.SamplePurpose)
	if st.State != consent.StateActive || st.Awaiting.ID == "" {
		t.Fatalf("re-confirmation demanded: got %s awaiting=%q, want active with a grant awaiting", st.State, st.Awaiting.ID)
	}
	sent := f.mailer.Sent()
	newTok := linkToken(t, sent[len(sent)-1].Text, "/confirm")
	if _, err := f.svc.Confirm(context.Background(), newTok, ev); err != nil {
		t.Fatal(err)
	}
	st = consent.MarketingStatus(f.ledger(t, "ann@example.com"), consenttest.SamplePurpose)
	if st.State != consent.StateActive || st.Awaiting.ID != "" || st.Granted.Wording == "" ||
		st.Granted.WordingVersion != consent.NewWordingVersion(mustMagnet(t, f)).ID {
		t.Errorf("after confirming the new wording: got %+v, want active on the new grant", st)
	}
}

func mustMagnet(t *testing.T, f *fixture) magnet.Magnet {
	t.Helper()
	m, ok := f.svc.Catalog.Get(magnetID)
	if !ok {
		t.Fatal("sample magnet missing")
	}
	return m
}

// A confirm link confirms the grant it was sent for, and only if nothing was
// withdrawn after it.
func TestConfirmLinkConfirmsOnlyItsGrant(t *testing.T) {
	f := newFixture(t)
	f.signup(t, "ann@example.com", true)
	oldTok := linkToken(t, f.mailer.Sent()[0].Text, "/confirm")
	unsub := unsubscribeToken(t, f.mailer.Sent()[0])
	if _, err := f.svc.Withdraw(context.Background(), unsub, consent.MethodOneClick, ev); err != nil {
		t.Fatal(err)
	}
	f.now = t0.Add(time.Hour)
	f.signup(t, "ann@example.com", true) // a new grant, pending again
	if _, err := f.svc.Confirm(context.Background(), oldTok, ev); err != nil {
		t.Fatal(err)
	}
	if st := consent.MarketingStatus(f.ledger(t, "ann@example.com"), consenttest.SamplePurpose); st.State != consent.StatePending {
		t.Fatalf("the link of a withdrawn grant confirmed the new one: state %s", st.State)
	}
	sent := f.mailer.Sent()
	newTok := linkToken(t, sent[len(sent)-1].Text, "/confirm")
	if _, err := f.svc.Confirm(context.Background(), newTok, ev); err != nil {
		t.Fatal(err)
	}
	events := f.ledger(t, "ann@example.com")
	st := consent.MarketingStatus(events, consenttest.SamplePurpose)
	last := events[len(events)-1]
	if st.State != consent.StateActive || last.Type != consent.EventConfirmed || last.Confirms != st.Granted.ID {
		t.Errorf("the new link: got state %s, last event %s confirming %q, want active and a confirmed event naming grant %q", st.State, last.Type, last.Confirms, st.Granted.ID)
	}
}

func TestWithdrawAfterMagnetRemoved(t *testing.T) {
	f := newFixture(t)
	f.setMagnet(t, func(m *magnet.Magnet) { m.DoubleOptIn = new(false) })
	f.signup(t, "ann@example.com", true)
	tok := unsubscribeToken(t, f.mailer.Sent()[0])
	f.setMagnet(t, func(m *magnet.Magnet) { m.ID = "something-else" })
	target, err := f.svc.DescribeUnsubscribe(context.Background(), tok)
	if err != nil {
		t.Fatalf("describe a link for a removed magnet: %v", err)
	}
	if target.Magnet.ID != magnetID || target.Magnet.SenderName == "" {
		t.Errorf("target: got %+v, want the removed magnet's id and a sender name", target.Magnet)
	}
	if _, err := f.svc.Withdraw(context.Background(), tok, consent.MethodOneClick, ev); err != nil {
		t.Fatalf("withdraw from a removed magnet: %v", err)
	}
	if st := consent.MarketingStatus(f.ledger(t, "ann@example.com"), consenttest.SamplePurpose); st.State != consent.StateWithdrawn {
		t.Errorf("state after withdrawing: got %s, want withdrawn", st.State)
	}
}

// Withdrawals always win: unsubscribes racing sign-ups for the same address
// are all recorded, with no error. (Every store runs the same scenario in
// storetest; this is the quick in-memory version.)
func TestWithdrawalsWinAgainstConcurrentSignups(t *testing.T) {
	f := newFixture(t)
	f.setMagnet(t, func(m *magnet.Magnet) { m.DoubleOptIn = new(false) })
	f.signup(t, "ann@example.com", true)
	tok := unsubscribeToken(t, f.mailer.Sent()[0])
	var wg sync.WaitGroup
	errs := make(chan error, 220)
	for i := range 200 {
		wg.Go(func() {
			req := signupReq("ann@example.com", true)
			req.Name = fmt.Sprintf("Ann %c", 'A'+i%26)
			req.IdempotencyKey = fmt.Sprint(i)
			errs <- f.svc.Signup(context.Background(), req)
		})
		if i%10 == 0 {
			wg.Go(func() {
				_, err := f.svc.Withdraw(context.Background(), tok, consent.MethodOneClick, ev)
				errs <- err
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent request failed: %v", err)
		}
	}
	events := f.ledger(t, "ann@example.com")
	st := consent.MarketingStatus(events, consenttest.SamplePurpose)
	if last := events[len(events)-1]; last.Type == consent.EventWithdrawn && st.State != consent.StateWithdrawn {
		t.Errorf("last event is a withdrawal but the state is %s", st.State)
	}
}
