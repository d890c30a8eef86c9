package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/consenttest"
)

// testWithdrawalsWin runs the contention scenario of the attack suite on a
// real store: 200 sign-ups and 20 one-click unsubscribes for one address,
// all at once. Every request must succeed — no error means the withdrawal
// was written, or consent was already withdrawn when it read the ledger —
// and if the ledger ends with a withdrawal the address is withdrawn.
//
// At most inFlight requests run at once, as when that many Lambda instances
// serve one address; the rest wait their turn, so no request spends its
// retry deadline queueing inside the test.
//
// What it proves depends on the store's concurrency: on SQLite and the
// memory store the requests really interleave; on the DynamoDB emulator the
// suite's client serialises calls (moto does not isolate concurrent
// conditional writes), so there it proves the retry and conflict handling
// across interleaved requests, not DynamoDB's own isolation.
func testWithdrawalsWin(t *testing.T, s consent.Store) {
	if testing.Short() {
		t.Skip("contention scenario: skipped in -short")
	}
	svc := consenttest.Service(t, s, time.Now)
	ctx := context.Background()
	const address = "ann@example.com"
	signup := func(i int) error {
		return svc.Signup(ctx, consent.SignupRequest{
			Email: address, Magnet: "uk-gdpr-checklist", Name: fmt.Sprintf("Ann %c", 'A'+i%26),
			Consent: i%3 != 0, Method: consent.MethodForm, IdempotencyKey: fmt.Sprint("k", i),
			Evidence: consent.Evidence{SourceIP: "203.0.113.9"},
		})
	}
	if err := signup(1); err != nil {
		t.Fatal(err)
	}
	subscriber := svc.Keys.Subject.SubscriberID(address)
	tok := consenttest.UnsubscribeToken(svc, subscriber, "uk-gdpr-checklist")

	const inFlight = 4
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures []error
		slots    = make(chan struct{}, inFlight)
	)
	record := func(err error) {
		if err != nil {
			mu.Lock()
			failures = append(failures, err)
			mu.Unlock()
		}
	}
	run := func(f func() error) {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			record(f())
		})
	}
	for i := range 200 {
		run(func() error { return signup(i) })
		if i%10 == 5 {
			run(func() error {
				_, err := svc.Withdraw(ctx, tok, consent.MethodOneClick, consent.Evidence{SourceIP: "198.51.100.7"})
				return err
			})
		}
	}
	wg.Wait()
	for _, err := range failures {
		t.Errorf("request failed under contention: %v", err)
	}
	ledger := mustLedger(t, s, subscriber)
	st := consent.MarketingStatus(ledger, consenttest.SamplePurpose)
	if last := ledger[len(ledger)-1]; last.Type == consent.EventWithdrawn && st.State != consent.StateWithdrawn {
		t.Errorf("ledger ends with a withdrawal but the state is %s", st.State)
	}
	withdrawals := 0
	for _, e := range ledger {
		if e.Type == consent.EventWithdrawn {
			withdrawals++
		}
	}
	if withdrawals == 0 {
		t.Errorf("20 unsubscribes recorded no withdrawal")
	}
	t.Logf("%d events, %d withdrawals, final state %s", len(ledger), withdrawals, st.State)
}
