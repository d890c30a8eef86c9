package storetest

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/consenttest"
	"github.com/unbundled/unbundled/shared/magnet"
)

// testOptOutsBeatImports races, for each of 12 imported customers, a
// one-click opt-out against a second import of the same person (another
// file) and an objection recorded by the operator for every third one. An
// import never revives anyone: whatever order the writes land in, every
// person ends with the opt-out in their ledger and may not be emailed.
//
// As in testWithdrawalsWin, at most 4 requests run at once; on the
// DynamoDB emulator the suite's client serialises calls, so there it
// proves the re-read-and-decide-again handling, not DynamoDB's isolation.
func testOptOutsBeatImports(t *testing.T, s consent.Store) {
	if testing.Short() {
		t.Skip("contention scenario: skipped in -short")
	}
	svc := consenttest.Service(t, s, time.Now)
	m := consenttest.SampleMagnet(t)
	m.ProductCategories = []string{"compliance guides"}
	svc.Catalog = consenttest.CatalogOf(t, []magnet.Magnet{m}...)
	ctx := context.Background()
	const people = 12
	file := func(digest string) consent.ImportFile {
		f := consent.ImportFile{Name: digest + ".csv", Digest: digest, Source: "web shop orders", Origin: consent.OriginCustomers}
		for i := range people {
			f.Rows = append(f.Rows, consent.ImportRow{Row: i + 2, Email: fmt.Sprintf("c%d@example.com", i), Basis: consent.BasisSoftOptIn,
				SaleDate: "2026-01-0" + fmt.Sprint(1+i%9), SaleReference: fmt.Sprint("INV-", i), Category: "compliance guides", OptOutOffered: "at checkout"})
		}
		return f
	}
	if rep, err := svc.Import(ctx, file("first"), consent.ImportOptions{Operator: "ops"}); err != nil || rep.Imported != people {
		t.Fatalf("first import: %+v, %v", rep, err)
	}
	links := make([]string, people)
	for i := range people {
		d, err := svc.MayEmail(ctx, fmt.Sprintf("c%d@example.com", i), "")
		if err != nil || !d.Allowed {
			t.Fatalf("before the race: %+v, %v", d, err)
		}
		u, err := url.Parse(d.OptOutURL)
		if err != nil {
			t.Fatal(err)
		}
		links[i] = u.Query().Get("t")
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures []error
		slots    = make(chan struct{}, 4)
	)
	run := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			if err := f(); err != nil {
				mu.Lock()
				failures = append(failures, err)
				mu.Unlock()
			}
		}()
	}
	run(func() error {
		_, err := svc.Import(ctx, file("second"), consent.ImportOptions{Operator: "ops"})
		return err
	})
	for i := range people {
		run(func() error {
			_, err := svc.Withdraw(ctx, links[i], consent.MethodOneClick, consent.Evidence{})
			return err
		})
		if i%3 == 0 {
			run(func() error {
				_, err := svc.RecordObjection(ctx, fmt.Sprintf("c%d@example.com", i), consent.MethodOperator, consent.Evidence{})
				return err
			})
		}
	}
	wg.Wait()
	for _, err := range failures {
		t.Errorf("request failed under contention: %v", err)
	}
	for i := range people {
		address := fmt.Sprintf("c%d@example.com", i)
		d, err := svc.MayEmail(ctx, address, "")
		if err != nil || d.Allowed {
			t.Errorf("%s after opting out: %+v, %v", address, d, err)
		}
		ledger, err := svc.LedgerFor(ctx, address)
		if err != nil {
			t.Fatal(err)
		}
		left := false
		for _, e := range ledger {
			left = left || e.Type == consent.EventWithdrawn || e.Type == consent.EventObjected
		}
		if !left {
			t.Errorf("%s: no withdrawal or objection in the ledger: the opt-out was lost", address)
		}
	}
}
