// Package storetest is the conformance suite every consent.Store
// implementation must pass. The embedded store runs it against a temporary
// SQLite file, the DynamoDB store against an emulator; a fake is only trusted
// because the same suite also runs against the real thing.
//
// Usage, from an implementation's tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) consent.Store { return newIsolatedStore(t) })
//	}
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
)

// Run runs every conformance test as a subtest of t. newStore must return a
// store that shares no data with any store it returned before (a fresh file,
// a fresh table); it may register cleanup with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) consent.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s consent.Store)
	}{
		{"EmptyLedger", testEmptyLedger},
		{"RoundTrip", testRoundTrip},
		{"TimesComeBackInUTC", testTimesComeBackInUTC},
		{"LedgerOrderedBySeq", testLedgerOrderedBySeq},
		{"LedgersAreIndependent", testLedgersAreIndependent},
		{"AppendNothing", testAppendNothing},
		{"InvalidBatchRejected", testInvalidBatchRejected},
		{"SamePositionTwiceConflicts", testSamePositionTwice},
		{"MultiEventAppendAllOrNothing", testAllOrNothing},
		{"ConcurrentAppendOneWins", testConcurrentAppend},
		{"MarketingStatusFromStoredEvents", testMarketingStatus},
		{"EventsByMagnetFilters", testEventsByMagnetFilters},
		{"EventsByMagnetPagination", testEventsByMagnetPagination},
		{"EventsByMagnetBadArguments", testEventsByMagnetBadArguments},
		{"Claim", testClaim},
		{"ConcurrentClaimOneWins", testConcurrentClaim},
		{"WordingRoundTrip", testWordingRoundTrip},
		{"WordingArchivedTwiceKeepsFirstTime", testWordingArchivedTwice},
		{"WordingLinkedPerMagnet", testWordingLinkedPerMagnet},
		{"WordingUnknown", testWordingUnknown},
		{"WordingSameIDOtherContentConflicts", testWordingConflict},
		{"WordingInvalidArchiveRejected", testWordingInvalidArchive},
		{"ConcurrentArchiveWording", testConcurrentArchiveWording},
		{"CommitNothing", testCommitNothing},
		{"CommitRoundTrip", testCommitRoundTrip},
		{"CommitAllOrNothing", testCommitAllOrNothing},
		{"CommitInvalidRejected", testCommitInvalid},
		{"CommitReusesExpiredClaim", testCommitReusesExpiredClaim},
		{"GetClaim", testGetClaim},
		{"ConcurrentCommitClaimOneWins", testConcurrentCommitClaim},
		{"JobRoundTrip", testJobRoundTrip},
		{"UpdateJobLifecycle", testUpdateJobLifecycle},
		{"UpdateJobRefused", testUpdateJobRefused},
		{"UpdateJobLeaseTakeover", testUpdateJobLeaseTakeover},
		{"ConcurrentUpdateJobOneWins", testConcurrentUpdateJob},
		{"DueJobs", testDueJobs},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newStore(t))
		})
	}
}

// Subscriber ids look like the real ones (32 base32 characters); the last two
// share a prefix to catch key schemes that confuse "...1" with "...10".
const (
	subA  = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	subB  = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	subC  = "cccccccccccccccccccccccccccccccc"
	sub1  = "subscriber1"
	sub10 = "subscriber10"
)

// t0 has a nanosecond part so that lost precision shows up.
var t0 = time.Date(2025, 3, 14, 9, 26, 53, 589793238, time.UTC)

// event returns a fully populated event; every field differs between
// subscribers and positions so that a swapped field shows up.
func event(subscriber string, seq int, typ consent.EventType, at time.Time, magnetID string) consent.Event {
	return consent.Event{
		Subscriber:       subscriber,
		Seq:              seq,
		ID:               fmt.Sprintf("id-%s-%d-%d", subscriber, seq, at.UnixNano()),
		Type:             typ,
		At:               at,
		Magnet:           magnetID,
		Email:            subscriber + "@example.com",
		Name:             "Zoë O'Brien <" + subscriber + ">",
		Method:           consent.MethodForm,
		WordingVersion:   "w0123456789abcdef0123456789abcdef",
		Wording:          "Yes, email me the monthly newsletter. Unsubscribe any time.",
		PrivacyPolicyURL: "https://example.com/privacy?v=3",
		Frequency:        "monthly",
		Controller:       "Example Ltd, 1 High St, London",
		SourceIP:         "2001:db8::1",
		UserAgent:        "Mozilla/5.0 (X11; Linux x86_64) \"quoted\" \u2603",
		RequestID:        fmt.Sprintf("req-%d", seq),
	}
}

func mustAppend(t *testing.T, s consent.Store, events ...consent.Event) {
	t.Helper()
	if err := s.Append(context.Background(), events); err != nil {
		t.Fatalf("Append(%d events at seq %d): %v", len(events), events[0].Seq, err)
	}
}

func mustLedger(t *testing.T, s consent.Store, subscriber string) []consent.Event {
	t.Helper()
	got, err := s.Ledger(context.Background(), subscriber)
	if err != nil {
		t.Fatalf("Ledger(%q): %v", subscriber, err)
	}
	return got
}

// sameEvents reports the first difference between got and want, or "" if
// they hold the same events in the same order. Times must be the same instant
// and in UTC.
func sameEvents(got, want []consent.Event) string {
	if len(got) != len(want) {
		return fmt.Sprintf("got %d events %v, want %d %v", len(got), positions(got), len(want), positions(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.At.Location() != time.UTC {
			return fmt.Sprintf("event %d: got At in location %q, want UTC", i, g.At.Location())
		}
		if !g.At.Equal(w.At) {
			return fmt.Sprintf("event %d: got At %s, want %s", i, g.At.Format(time.RFC3339Nano), w.At.Format(time.RFC3339Nano))
		}
		g.At, w.At = time.Time{}, time.Time{}
		if g != w {
			return fmt.Sprintf("event %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	return ""
}

// positions summarises events as subscriber/seq pairs for failure messages.
func positions(events []consent.Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = fmt.Sprintf("%s/%d", e.Subscriber, e.Seq)
	}
	return out
}

func testEmptyLedger(t *testing.T, s consent.Store) {
	if got := mustLedger(t, s, subA); len(got) != 0 {
		t.Errorf("Ledger of unknown subscriber: got %d events, want 0", len(got))
	}
}

func testRoundTrip(t *testing.T, s consent.Store) {
	minimal := consent.Event{Subscriber: subA, Seq: 3, ID: "e3", Type: consent.EventWithdrawn, At: t0.Add(time.Hour), Magnet: "guide", Method: consent.MethodOneClick}
	pending := event(subA, 2, consent.EventGranted, t0, "guide")
	pending.ConfirmationRequired = true
	want := []consent.Event{
		event(subA, 1, consent.EventSignup, t0, "guide"),
		pending,
		minimal,
	}
	mustAppend(t, s, want[0], want[1]) // one multi-event append
	mustAppend(t, s, want[2])          // and a single one
	if diff := sameEvents(mustLedger(t, s, subA), want); diff != "" {
		t.Errorf("Ledger after appends: %s", diff)
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
	if err := s.Append(context.Background(), nil); err != nil {
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
			err := s.Append(context.Background(), tc.batch)
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

	err := s.Append(context.Background(), []consent.Event{second})
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
			err := s.Append(context.Background(), batch)
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
					errs[w] = s.Append(context.Background(), batch)
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

func testMarketingStatus(t *testing.T, s consent.Store) {
	needsConfirmation := event(subA, 6, consent.EventGranted, t0.Add(96*time.Hour), "guide")
	needsConfirmation.ConfirmationRequired = true
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
		// The stored ConfirmationRequired flag decides between pending and active.
		{needsConfirmation, consent.StatePending, t0.Add(96 * time.Hour)},
		{event(subA, 7, consent.EventConfirmed, t0.Add(120*time.Hour), "guide"), consent.StateActive, t0.Add(120 * time.Hour)},
	}
	for _, step := range steps {
		mustAppend(t, s, step.event)
		got := consent.MarketingStatus(mustLedger(t, s, subA), "guide")
		if got.State != step.wantState || !got.Since.Equal(step.wantSince) {
			t.Errorf("after %s at seq %d: got State=%s Since=%s, want State=%s Since=%s",
				step.event.Type, step.event.Seq, got.State, got.Since, step.wantState, step.wantSince)
		}
	}
	if got := consent.MarketingStatus(mustLedger(t, s, subA), "other"); got.State != consent.StateNone {
		t.Errorf("status for a magnet only signed up to: got State=%s (%s), want %s", got.State, got.Reason, consent.StateNone)
	}
}

// magnetFixture stores events for two magnets and returns the "guide" events
// in the order EventsByMagnet must return them.
func magnetFixture(t *testing.T, s consent.Store) (all []consent.Event) {
	t.Helper()
	tie := t0.Add(10 * time.Minute)
	// Ledgers, appended in an order unrelated to the expected result.
	ledgers := [][]consent.Event{
		{
			event(subC, 1, consent.EventSignup, tie, "guide"),
			event(subC, 2, consent.EventGranted, tie, "guide"), // same At, same subscriber: seq decides
			event(subC, 3, consent.EventWithdrawn, t0.Add(30*time.Minute), "guide"),
		},
		{
			event(subA, 1, consent.EventSignup, t0, "guide"), // exactly at from
			event(subA, 2, consent.EventSignup, t0.Add(5*time.Minute), "other"),
			event(subA, 3, consent.EventSignup, tie, "guide"),               // same At as subC: subscriber decides
			event(subA, 4, consent.EventSignup, t0.Add(time.Hour), "guide"), // exactly at to
		},
		{
			event(subB, 1, consent.EventSignup, t0.Add(-time.Nanosecond), "guide"),           // just before from
			event(subB, 2, consent.EventGranted, t0.Add(time.Hour-time.Nanosecond), "guide"), // just before to
			event(subB, 3, consent.EventSignup, t0.Add(20*time.Minute), "other"),
		},
	}
	for _, l := range ledgers {
		mustAppend(t, s, l[:2]...)
		mustAppend(t, s, l[2:]...)
	}
	return []consent.Event{
		ledgers[1][0],
		ledgers[1][2], ledgers[0][0], ledgers[0][1],
		ledgers[0][2],
		ledgers[2][1],
	}
}

// allPages follows cursors from the first page to the last. It fails the test
// on an error, an oversized page, an empty page that is not the only one, or
// more pages than events.
func allPages(t *testing.T, s consent.Store, magnetID string, from, to time.Time, limit int) []consent.Event {
	t.Helper()
	var out []consent.Event
	cursor := ""
	for page := 1; ; page++ {
		events, next, err := s.EventsByMagnet(context.Background(), magnetID, from, to, limit, cursor)
		if err != nil {
			t.Fatalf("EventsByMagnet page %d (limit %d): %v", page, limit, err)
		}
		if len(events) > limit {
			t.Fatalf("page %d: got %d events, want at most limit %d", page, len(events), limit)
		}
		if len(events) == 0 && page > 1 {
			t.Fatalf("page %d is empty: the previous cursor promised more events", page)
		}
		out = append(out, events...)
		if next == "" {
			return out
		}
		if page > 100 {
			t.Fatalf("still paging after %d pages", page)
		}
		cursor = next
	}
}

func testEventsByMagnetFilters(t *testing.T, s consent.Store) {
	want := magnetFixture(t, s)
	tests := []struct {
		name     string
		magnetID string
		from, to time.Time
		want     []consent.Event
	}{
		{"from inclusive to exclusive", "guide", t0, t0.Add(time.Hour), want},
		{"one nanosecond window", "guide", t0, t0.Add(time.Nanosecond), want[:1]},
		{"window between events", "guide", t0.Add(time.Nanosecond), t0.Add(5 * time.Minute), nil},
		{"empty window", "guide", t0, t0, nil},
		{"reversed window", "guide", t0.Add(time.Hour), t0, nil},
		{"unknown magnet", "nobody", t0.Add(-time.Hour), t0.Add(2 * time.Hour), nil},
		{"other magnet", "other", t0, t0.Add(time.Hour), []consent.Event{
			event(subA, 2, consent.EventSignup, t0.Add(5*time.Minute), "other"),
			event(subB, 3, consent.EventSignup, t0.Add(20*time.Minute), "other"),
		}},
		{"non-UTC bounds", "guide", t0.In(time.FixedZone("EST", -5*3600)), t0.Add(5 * time.Minute).In(time.FixedZone("IST", 19800)), want[:1]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := allPages(t, s, tc.magnetID, tc.from, tc.to, 100)
			if diff := sameEvents(got, tc.want); diff != "" {
				t.Errorf("EventsByMagnet(%q, %s, %s): %s", tc.magnetID, tc.from.Format(time.RFC3339Nano), tc.to.Format(time.RFC3339Nano), diff)
			}
		})
	}
}

func testEventsByMagnetPagination(t *testing.T, s consent.Store) {
	want := magnetFixture(t, s)
	from, to := t0, t0.Add(time.Hour)
	for _, limit := range []int{1, 2, 3, 4, 5, 6, 7, 1000} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			got := allPages(t, s, "guide", from, to, limit)
			if diff := sameEvents(got, want); diff != "" {
				t.Errorf("all pages: %s", diff)
			}
			wantPages := (len(want) + limit - 1) / limit
			first, cursor, err := s.EventsByMagnet(context.Background(), "guide", from, to, limit, "")
			if err != nil {
				t.Fatal(err)
			}
			if gotMore, wantMore := cursor != "", wantPages > 1; gotMore != wantMore {
				t.Errorf("first page cursor %q: got more=%v, want %v", cursor, gotMore, wantMore)
			}
			if wantLen := min(limit, len(want)); len(first) != wantLen {
				t.Errorf("first page: got %d events, want %d", len(first), wantLen)
			}
		})
	}
	// Events appended after a cursor was handed out are still reached by it.
	_, cursor, err := s.EventsByMagnet(context.Background(), "guide", from, to, 2, "")
	if err != nil {
		t.Fatal(err)
	}
	late := event(subA, 5, consent.EventGranted, to.Add(-time.Minute), "guide")
	mustAppend(t, s, late)
	var rest []consent.Event
	for cursor != "" {
		var page []consent.Event
		page, cursor, err = s.EventsByMagnet(context.Background(), "guide", from, to, 2, cursor)
		if err != nil {
			t.Fatal(err)
		}
		rest = append(rest, page...)
	}
	wantRest := append(slices.Clone(want[2:5]), late, want[5])
	if diff := sameEvents(rest, wantRest); diff != "" {
		t.Errorf("pages after an append behind the cursor: %s", diff)
	}
}

func testEventsByMagnetBadArguments(t *testing.T, s consent.Store) {
	magnetFixture(t, s)
	ctx := context.Background()
	for _, limit := range []int{0, -1} {
		if _, _, err := s.EventsByMagnet(ctx, "guide", t0, t0.Add(time.Hour), limit, ""); err == nil {
			t.Errorf("EventsByMagnet with limit %d: got nil error, want one", limit)
		}
	}
	for _, cursor := range []string{"not a cursor", "bm90IGEgY3Vyc29y", "%%%"} {
		if _, _, err := s.EventsByMagnet(ctx, "guide", t0, t0.Add(time.Hour), 2, cursor); err == nil {
			t.Errorf("EventsByMagnet with cursor %q: got nil error, want one", cursor)
		}
	}
}

func testClaim(t *testing.T, s consent.Store) {
	ctx := context.Background()
	base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	steps := []struct {
		name      string
		key       string
		now       time.Duration // after base
		expiresAt time.Duration // after base
		want      bool
	}{
		{"first claim", "k1", 0, time.Minute, true},
		{"same key while unexpired", "k1", 30 * time.Second, 2 * time.Minute, false},
		{"another key", "k2", 30 * time.Second, time.Minute, true},
		{"key that only shares a prefix", "k", 30 * time.Second, time.Minute, true},
		{"one second before expiry", "k1", 59 * time.Second, 2 * time.Minute, false},
		// The refused claim above must not have extended the first one.
		{"at expiry, before any sweep", "k1", time.Minute, 3 * time.Minute, true},
		{"renewed claim holds", "k1", 2 * time.Minute, 4 * time.Minute, false},
		{"long after expiry", "k2", 24 * time.Hour, 25 * time.Hour, true},
	}
	for _, step := range steps {
		got, err := Claim(ctx, s, step.key, base.Add(step.now), base.Add(step.expiresAt))
		if err != nil {
			t.Fatalf("%s: Claim(%q): %v", step.name, step.key, err)
		}
		if got != step.want {
			t.Errorf("%s: Claim(%q, now+%s, expires +%s): got %v, want %v", step.name, step.key, step.now, step.expiresAt, got, step.want)
		}
	}
}

func testConcurrentClaim(t *testing.T, s consent.Store) {
	const claimers = 8
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, key := range []string{"fresh", "expired"} {
		t.Run(key, func(t *testing.T) {
			if key == "expired" {
				if ok, err := Claim(context.Background(), s, key, now.Add(-time.Hour), now.Add(-time.Minute)); err != nil || !ok {
					t.Fatalf("seeding claim: got %v, %v, want true, nil", ok, err)
				}
			}
			results := make([]bool, claimers)
			errs := make([]error, claimers)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range claimers {
				wg.Go(func() {
					<-start
					results[i], errs[i] = Claim(context.Background(), s, key, now, now.Add(time.Hour))
				})
			}
			close(start)
			wg.Wait()
			won := 0
			for i := range claimers {
				if errs[i] != nil {
					t.Errorf("claimer %d: %v", i, errs[i])
				}
				if results[i] {
					won++
				}
			}
			if won != 1 {
				t.Errorf("concurrent claims of %q: got %d true, want exactly 1", key, won)
			}
		})
	}
}

// Claim is a Commit of one claim without a value, reporting whether this call
// created it (false if an unexpired record of key exists). Tests use it for
// the TTL-claim behaviour every store shares.
func Claim(ctx context.Context, s consent.Store, key string, now, expiresAt time.Time) (bool, error) {
	err := s.Commit(ctx, consent.Write{Claims: []consent.ClaimRecord{{Key: key, ExpiresAt: expiresAt}}, Now: now})
	if errors.Is(err, consent.ErrClaimTaken) {
		return false, nil
	}
	return err == nil, err
}
