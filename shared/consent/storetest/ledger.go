package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
)

func testEmptyLedger(t *testing.T, s consent.Store) {
	if got := mustLedger(t, s, subA); len(got) != 0 {
		t.Errorf("Ledger of unknown subscriber: got %d events, want 0", len(got))
	}
}

func testRoundTrip(t *testing.T, s consent.Store) {
	minimal := consent.Event{Subscriber: subA, Seq: 3, ID: "e3", Type: consent.EventWithdrawn, At: t0.Add(time.Hour), Magnet: "guide", Method: consent.MethodOneClick}
	pending := event(subA, 2, consent.EventGranted, t0, "guide")
	pending.ConfirmationRequired = true
	pending.NoticeVersion = "notice-0123456789abcdef0123456789abcdef"
	pending.WordingStatus = consent.WordingUnverified
	limited := event(subA, 1, consent.EventSignup, t0, "guide")
	limited.Delivery = consent.DeliveryLimited
	limited.NoticeVersion = pending.NoticeVersion
	limited.PageURL = "https://example.com/landing/caf%C3%A9-guide"
	limited.SubscriberType = consent.SubscriberCompany
	limited.Organisation = consent.Organisation{Name: "Smith & Jones (UK) Ltd", Role: "Head of IT, EMEA", Number: "SC012345", Kind: consent.OrgRegistered}
	soleTrader := event(subA, 5, consent.EventSignup, t0.Add(3*time.Hour), "guide")
	soleTrader.SubscriberType = consent.SubscriberSoleTrader
	publicBody := event(subA, 6, consent.EventSignup, t0.Add(4*time.Hour), "guide")
	publicBody.SubscriberType = consent.SubscriberCompany
	publicBody.Organisation = consent.Organisation{Name: "Cyngor Sir Ynys Môn", Role: "Swyddog caffael", Kind: consent.OrgPublicBody}
	pending.Purpose = "marketing:acme-ltd"
	confirmed := consent.Event{Subscriber: subA, Seq: 4, ID: "e4", Type: consent.EventConfirmed, At: t0.Add(2 * time.Hour), Magnet: "guide", Method: consent.MethodConfirmLink, Confirms: pending.ID}
	softOptIn := imported(subA, 7, t0.Add(5*time.Hour))
	corporate := imported(subA, 8, t0.Add(6*time.Hour))
	corporate.Basis = consent.BasisCorporate
	corporate.SoftOptIn = consent.SoftOptIn{}
	corporate.LIAReference = "LIA-2025/07 \"B2B newsletter\""
	corporate.Organisation = consent.Organisation{Name: "Smith & Jones (UK) Ltd", Role: "Head of IT, EMEA", Number: "SC012345", Kind: consent.OrgRegistered}
	// The operator's suppression and its removal carry a reason; a
	// rectification carries the new name.
	suppressed := consent.Event{Subscriber: subA, Seq: 9, ID: "e9", Type: consent.EventSuppressed, At: t0.Add(7 * time.Hour), Email: subA + "@example.com",
		Method: consent.MethodOperator, Reason: "spam trap \"reported\" by our provider \u2603", RequestID: "req-9"}
	unsuppressed := suppressed
	unsuppressed.Seq, unsuppressed.ID, unsuppressed.Type, unsuppressed.Reason = 10, "e10", consent.EventUnsuppressed, "entered in error, 2 December 2026"
	rectified := consent.Event{Subscriber: subA, Seq: 11, ID: "e11", Type: consent.EventRectified, At: t0.Add(8 * time.Hour), Email: subA + "@example.com",
		Name: "Zoë O'Brien-Ng", Method: consent.MethodOperator}
	want := []consent.Event{limited, pending, minimal, confirmed, soleTrader, publicBody, softOptIn, corporate, suppressed, unsuppressed, rectified}
	mustAppend(t, s, want[0], want[1]) // one multi-event append
	mustAppend(t, s, want[2])          // and a single one
	mustAppend(t, s, want[3])
	mustAppend(t, s, want[4], want[5])
	mustAppend(t, s, want[6], want[7])
	mustAppend(t, s, want[8], want[9], want[10])
	if diff := sameEvents(mustLedger(t, s, subA), want); diff != "" {
		t.Errorf("Ledger after appends: %s", diff)
	}
}

// imported returns an `imported` event with every field an import sets,
// the soft opt-in evidence and the organisation included; every field
// differs between subscribers and positions.
func imported(subscriber string, seq int, at time.Time) consent.Event {
	return consent.Event{
		Subscriber: subscriber,
		Seq:        seq,
		ID:         fmt.Sprintf("imp-%s-%d-%d", subscriber, seq, at.UnixNano()),
		Type:       consent.EventImported,
		At:         at,
		Purpose:    "marketing:example-ltd",
		Email:      subscriber + "@example.com",
		Name:       "Zoë O'Brien <" + subscriber + ">",
		Organisation: consent.Organisation{
			Name: "O'Brien & Daughters (" + subscriber + ")", Role: "Owner", Number: "OC000123", Kind: consent.OrgRegistered,
		},
		Method: consent.MethodImport,
		Basis:  consent.BasisSoftOptIn,
		Import: consent.ImportSource{
			File:     "customers-2025-07.csv",
			Digest:   "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			Operator: "ops@example.com",
			Source:   "web shop orders, \"checkout\" \u2603",
			Row:      seq + 1,
		},
		SoftOptIn: consent.SoftOptIn{
			SaleDate:      "2025-02-28",
			SaleReference: fmt.Sprintf("ORD-%s-%d", subscriber, seq),
			Category:      "gardening tools",
			OptOutOffered: "unticked box at checkout: \"No marketing, thanks\"",
		},
	}
}

func testTimesComeBackInUTC(t *testing.T, s consent.Store) {
	paris := time.FixedZone("CET", 3600)
	in := event(subA, 1, consent.EventSignup, t0.In(paris), "guide")
	mustAppend(t, s, in)
	got := mustLedger(t, s, subA)
	want := in
	want.At = t0
	if diff := sameEvents(got, []consent.Event{want}); diff != "" {
		t.Errorf("event appended with a non-UTC time: %s", diff)
	}
}

func testLedgerOrderedBySeq(t *testing.T, s consent.Store) {
	// Twelve events: positions 2 and 10 sort wrongly if compared as text.
	var want []consent.Event
	for seq := 1; seq <= 12; seq++ {
		want = append(want, event(subA, seq, consent.EventSignup, t0.Add(time.Duration(-seq)*time.Minute), "guide"))
	}
	mustAppend(t, s, want[0:3]...)
	for _, e := range want[3:] {
		mustAppend(t, s, e)
	}
	if diff := sameEvents(mustLedger(t, s, subA), want); diff != "" {
		t.Errorf("Ledger order: %s", diff)
	}
}

func testLedgersAreIndependent(t *testing.T, s consent.Store) {
	want := map[string][]consent.Event{
		sub1:  {event(sub1, 1, consent.EventSignup, t0, "guide"), event(sub1, 2, consent.EventGranted, t0, "guide")},
		sub10: {event(sub10, 1, consent.EventSignup, t0.Add(time.Second), "guide")},
		subB:  {event(subB, 1, consent.EventSignup, t0, "other")},
	}
	for _, events := range want {
		mustAppend(t, s, events...)
	}
	for sub, events := range want {
		if diff := sameEvents(mustLedger(t, s, sub), events); diff != "" {
			t.Errorf("Ledger(%q): %s", sub, diff)
		}
	}
	if got := mustLedger(t, s, "subscriber"); len(got) != 0 {
		t.Errorf("Ledger of a prefix of stored subscribers: got %d events, want 0", len(got))
	}
}

func testAppendNothing(t *testing.T, s consent.Store) {
	if err := Append(context.Background(), s); err != nil {
		t.Errorf("Append(nil): got error %v, want nil", err)
	}
}

func testInvalidBatchRejected(t *testing.T, s consent.Store) {
	e1 := event(subA, 1, consent.EventSignup, t0, "guide")
	e2 := event(subA, 2, consent.EventGranted, t0, "guide")
	other := event(subB, 2, consent.EventGranted, t0, "guide")
	e3 := event(subA, 3, consent.EventGranted, t0, "guide")
	zero := event(subA, 0, consent.EventSignup, t0, "guide")
	noSubscriber := event("", 1, consent.EventSignup, t0, "guide")
	tests := []struct {
		name  string
		batch []consent.Event
	}{
		{"two subscribers", []consent.Event{e1, other}},
		{"gap", []consent.Event{e1, e3}},
		{"repeated position", []consent.Event{e1, e1}},
		{"descending", []consent.Event{e2, e1}},
		{"seq zero", []consent.Event{zero}},
		{"no subscriber", []consent.Event{noSubscriber}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Append(context.Background(), s, tc.batch...)
			if err == nil {
				t.Fatalf("Append(%v): got nil error, want one", positions(tc.batch))
			}
			if errors.Is(err, consent.ErrConflict) {
				t.Errorf("Append(%v): got %v, want an error that is not ErrConflict (retrying cannot help)", positions(tc.batch), err)
			}
		})
	}
	for _, sub := range []string{subA, subB, ""} {
		if got := mustLedger(t, s, sub); len(got) != 0 {
			t.Errorf("Ledger(%q) after rejected appends: got %v, want nothing", sub, positions(got))
		}
	}
}

func testSamePositionTwice(t *testing.T, s consent.Store) {
	first := event(subA, 1, consent.EventSignup, t0, "guide")
	second := event(subA, 1, consent.EventGranted, t0.Add(time.Second), "other")
	second.ID = "a-different-event"
	mustAppend(t, s, first)

	err := Append(context.Background(), s, second)
	if !errors.Is(err, consent.ErrConflict) {
		t.Errorf("second Append at seq 1: got error %v, want one wrapping consent.ErrConflict", err)
	}
	if diff := sameEvents(mustLedger(t, s, subA), []consent.Event{first}); diff != "" {
		t.Errorf("Ledger after conflicting Append: %s", diff)
	}
}

func testAllOrNothing(t *testing.T, s consent.Store) {
	tests := []struct {
		name     string
		existing []int // positions written before the batch
		batch    []int // positions the batch tries to take
	}{
		{"first of two taken", []int{1}, []int{1, 2}},
		{"second of two taken", []int{2}, []int{1, 2}},
		{"last of three taken", []int{3}, []int{1, 2, 3}},
		{"middle of three taken", []int{2}, []int{1, 2, 3}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sub := fmt.Sprintf("allornothing%d", i)
			var want []consent.Event
			for _, seq := range tc.existing {
				e := event(sub, seq, consent.EventSignup, t0, "guide")
				mustAppend(t, s, e)
				want = append(want, e)
			}
			var batch []consent.Event
			for _, seq := range tc.batch {
				e := event(sub, seq, consent.EventGranted, t0.Add(time.Minute), "guide")
				e.ID = fmt.Sprintf("batch-%d", seq)
				batch = append(batch, e)
			}
			err := Append(context.Background(), s, batch...)
			if !errors.Is(err, consent.ErrConflict) {
				t.Errorf("Append(%v) over taken %v: got error %v, want one wrapping consent.ErrConflict", tc.batch, tc.existing, err)
			}
			if diff := sameEvents(mustLedger(t, s, sub), want); diff != "" {
				t.Errorf("Ledger after refused batch: %s", diff)
			}
		})
	}
}

func testConcurrentAppend(t *testing.T, s consent.Store) {
	const writers = 8
	for _, batchSize := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d events per append", batchSize), func(t *testing.T) {
			sub := fmt.Sprintf("race%d", batchSize)
			seed := event(sub, 1, consent.EventSignup, t0, "guide")
			mustAppend(t, s, seed)

			errs := make([]error, writers)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for w := range writers {
				batch := make([]consent.Event, batchSize)
				for i := range batch {
					batch[i] = event(sub, 2+i, consent.EventGranted, t0.Add(time.Second), "guide")
					batch[i].ID = fmt.Sprintf("writer%d-%d", w, i)
				}
				wg.Go(func() {
					<-start
					errs[w] = Append(context.Background(), s, batch...)
				})
			}
			close(start)
			wg.Wait()

			winner := -1
			for w, err := range errs {
				switch {
				case err == nil && winner >= 0:
					t.Errorf("writers %d and %d both succeeded at seq 2, want exactly one", winner, w)
				case err == nil:
					winner = w
				case !errors.Is(err, consent.ErrConflict):
					t.Errorf("writer %d: got error %v, want nil or one wrapping consent.ErrConflict", w, err)
				}
			}
			if winner < 0 {
				t.Fatalf("no writer succeeded, want exactly one")
			}
			got := mustLedger(t, s, sub)
			if len(got) != 1+batchSize {
				t.Fatalf("Ledger after race: got %v, want %d events", positions(got), 1+batchSize)
			}
			for i, e := range got[1:] {
				if want := fmt.Sprintf("writer%d-%d", winner, i); e.ID != want {
					t.Errorf("event at seq %d: got ID %q, want the winner's %q", e.Seq, e.ID, want)
				}
			}
		})
	}
}

// controllerPurpose is the purpose the fixture events map to: they carry no
// Purpose (as events stored before purposes existed), so their grants count
// for their controller's marketing purpose, and confirmations and
// withdrawals for the purpose of the grant before them.
const controllerPurpose = "marketing:example-ltd"

func testMarketingStatus(t *testing.T, s consent.Store) {
	needsConfirmation := event(subA, 7, consent.EventGranted, t0.Add(96*time.Hour), "guide")
	needsConfirmation.ConfirmationRequired = true
	newWording := event(subA, 9, consent.EventGranted, t0.Add(144*time.Hour), "guide")
	newWording.ConfirmationRequired = true
	confirmsNew := event(subA, 10, consent.EventConfirmed, t0.Add(168*time.Hour), "guide")
	confirmsNew.Confirms = newWording.ID
	steps := []struct {
		event     consent.Event
		wantState consent.State
		wantSince time.Time
	}{
		{event(subA, 1, consent.EventSignup, t0, "guide"), consent.StateNone, time.Time{}},
		{event(subA, 2, consent.EventGranted, t0, "guide"), consent.StateActive, t0},
		{event(subA, 3, consent.EventSignup, t0.Add(time.Hour), "other"), consent.StateActive, t0},
		{event(subA, 4, consent.EventWithdrawn, t0.Add(48*time.Hour), "guide"), consent.StateWithdrawn, t0.Add(48 * time.Hour)},
		{event(subA, 5, consent.EventGranted, t0.Add(72*time.Hour), "guide"), consent.StateActive, t0.Add(72 * time.Hour)},
		{event(subA, 6, consent.EventWithdrawn, t0.Add(84*time.Hour), "guide"), consent.StateWithdrawn, t0.Add(84 * time.Hour)},
		// The stored ConfirmationRequired flag decides between pending and active.
		{needsConfirmation, consent.StatePending, t0.Add(96 * time.Hour)},
		{event(subA, 8, consent.EventConfirmed, t0.Add(120*time.Hour), "guide"), consent.StateActive, t0.Add(120 * time.Hour)},
		// Consent never goes backwards: a grant needing confirmation while
		// consent is active waits beside it; the stored Confirms id names it.
		{newWording, consent.StateActive, t0.Add(120 * time.Hour)},
		{confirmsNew, consent.StateActive, t0.Add(168 * time.Hour)},
	}
	for _, step := range steps {
		mustAppend(t, s, step.event)
		got := consent.MarketingStatus(mustLedger(t, s, subA), controllerPurpose)
		if got.State != step.wantState || !got.Since.Equal(step.wantSince) {
			t.Errorf("after %s at seq %d: got State=%s Since=%s, want State=%s Since=%s",
				step.event.Type, step.event.Seq, got.State, got.Since, step.wantState, step.wantSince)
		}
	}
	if got := consent.MarketingStatus(mustLedger(t, s, subA), "marketing:another-controller"); got.State != consent.StateNone {
		t.Errorf("status for another controller's purpose: got State=%s (%s), want %s", got.State, got.Reason, consent.StateNone)
	}
}
