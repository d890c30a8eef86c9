package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
)

// erasedAt is when the erasure tests erase; it has a nanosecond part so
// that lost precision shows up.
var erasedAt = time.Date(2025, 7, 1, 10, 11, 12, 131415161, time.UTC)

// tombstone returns a tombstone with id, at, and a reason naming both.
func tombstone(id string, at time.Time) consent.Tombstone {
	return consent.Tombstone{ID: id, At: at, Reason: "erasure request by email, ref " + id + " \u2603"}
}

func mustErase(t *testing.T, s consent.Store, subscriber string, ts consent.Tombstone) consent.Erased {
	t.Helper()
	got, err := s.Erase(context.Background(), subscriber, ts)
	if err != nil {
		t.Fatalf("Erase(%q, tombstone %q): %v", subscriber, ts.ID, err)
	}
	return got
}

// checkTombstone fails the test unless Tombstone(want.ID) returns want,
// with its time in UTC.
func checkTombstone(t *testing.T, s consent.Store, want consent.Tombstone) {
	t.Helper()
	got, err := s.Tombstone(context.Background(), want.ID)
	switch {
	case err != nil:
		t.Errorf("Tombstone(%q): got error %v, want the tombstone", want.ID, err)
	case got.At.Location() != time.UTC:
		t.Errorf("Tombstone(%q): got At in location %q, want UTC", want.ID, got.At.Location())
	case !got.At.Equal(want.At) || got.ID != want.ID || got.Reason != want.Reason:
		t.Errorf("Tombstone(%q):\n got %+v\nwant %+v", want.ID, got, want)
	}
}

// checkNoTombstone fails the test unless Tombstone(id) fails with an error
// wrapping consent.ErrNotFound.
func checkNoTombstone(t *testing.T, s consent.Store, id string) {
	t.Helper()
	got, err := s.Tombstone(context.Background(), id)
	if !errors.Is(err, consent.ErrNotFound) {
		t.Errorf("Tombstone(%q): got %+v, %v, want an error wrapping consent.ErrNotFound", id, got, err)
	}
}

// jobOf is job(id, created) belonging to subscriber.
func jobOf(subscriber, id string, created time.Time) consent.Job {
	j := job(id, created)
	j.Subscriber = subscriber
	return j
}

// testEraseRemovesSubscriberData erases sub1 from a store that also holds
// sub10 (whose id has sub1's as a prefix) and subB: only sub1's events,
// claims and jobs go, and the counts say exactly what went.
func testEraseRemovesSubscriberData(t *testing.T, s consent.Store) {
	ctx := context.Background()
	ledgers := map[string][]consent.Event{
		sub1:  {event(sub1, 1, consent.EventSignup, t0, "guide"), event(sub1, 2, consent.EventGranted, t0, "guide"), imported(sub1, 3, t0.Add(time.Hour))},
		sub10: {event(sub10, 1, consent.EventSignup, t0, "guide"), event(sub10, 2, consent.EventGranted, t0, "guide")},
		subB:  {event(subB, 1, consent.EventSignup, t0, "guide")},
	}
	for _, events := range ledgers {
		mustAppend(t, s, events...)
	}
	// Claim keys as the consent package builds them.
	erasedClaims := []string{
		"pending-confirmation#" + sub1 + "#guide#g1",
		"confirm-resend#" + sub1 + "#guide",
		"mail#" + sub1 + "#0",
		"withdraw-link#" + sub1,
	}
	keptClaims := []string{
		"pending-confirmation#" + sub10 + "#guide#g1",
		"mail#" + sub10 + "#0",
		"withdraw-link#" + sub10,
		"withdraw-link#" + subB,
		"dedupe#x" + sub1 + "y", // holds the id, but not as a field
		"k1",
	}
	w := consent.Write{Now: now0}
	for _, key := range append(slices.Clone(erasedClaims), keptClaims...) {
		w.Claims = append(w.Claims, consent.ClaimRecord{Key: key, Value: "v-" + key, ExpiresAt: now0.Add(time.Hour)})
	}
	erasedJobs := []consent.Job{jobOf(sub1, "erase-j1", t0), withState(jobOf(sub1, "erase-j2", t0), consent.JobSent, time.Time{})}
	keptJobs := []consent.Job{jobOf(sub10, "erase-j3", t0), jobOf(subB, "erase-j4", t0), jobOf("", "erase-j5", t0)}
	w.Jobs = append(slices.Clone(erasedJobs), keptJobs...)
	mustCommit(t, s, w)

	got := mustErase(t, s, sub1, tombstone("t-"+sub1, erasedAt))
	if want := (consent.Erased{Events: 3, Claims: len(erasedClaims), Jobs: len(erasedJobs)}); got != want {
		t.Errorf("Erase(%q): got %+v, want %+v", sub1, got, want)
	}

	if got := mustLedger(t, s, sub1); len(got) != 0 {
		t.Errorf("Ledger(%q) after erasure: got %v, want none", sub1, positions(got))
	}
	for _, sub := range []string{sub10, subB} {
		if diff := sameEvents(mustLedger(t, s, sub), ledgers[sub]); diff != "" {
			t.Errorf("Ledger(%q) after erasing %q: %s", sub, sub1, diff)
		}
	}
	for _, key := range erasedClaims {
		checkNoClaim(t, s, key, now0)
	}
	for _, key := range keptClaims {
		checkClaim(t, s, key, now0, "v-"+key)
	}
	for _, j := range erasedJobs {
		checkNoJob(t, s, j.ID)
	}
	for _, j := range keptJobs {
		checkJob(t, s, j)
	}
	due, err := s.DueJobs(ctx, now0, 100)
	if err != nil {
		t.Fatalf("DueJobs: %v", err)
	}
	for _, j := range due {
		if j.Subscriber == sub1 {
			t.Errorf("DueJobs after erasure: got job %s of the erased subscriber", j.ID)
		}
	}
}

func testEraseTombstone(t *testing.T, s consent.Store) {
	first := tombstone("t-first", erasedAt.In(time.FixedZone("CEST", 2*3600)))
	mustAppend(t, s, event(subA, 1, consent.EventSignup, t0, "guide"))
	mustErase(t, s, subA, first)
	want := first
	want.At = erasedAt
	checkTombstone(t, s, want)

	// A second erasure under the same tombstone id keeps the first one.
	again := consent.Tombstone{ID: first.ID, At: erasedAt.Add(24 * time.Hour), Reason: "a second request"}
	if got := mustErase(t, s, subA, again); got != (consent.Erased{}) {
		t.Errorf("second Erase(%q): got %+v, want nothing deleted", subA, got)
	}
	checkTombstone(t, s, want)

	// Erasing someone the store knows nothing of still leaves a tombstone.
	nobody := tombstone("t-nobody", erasedAt)
	if got := mustErase(t, s, subC, nobody); got != (consent.Erased{}) {
		t.Errorf("Erase(%q) of an unknown subscriber: got %+v, want nothing deleted", subC, got)
	}
	checkTombstone(t, s, nobody)

	for _, id := range []string{"t-firs", "t-first0", "t", "", subA, "unknown"} {
		checkNoTombstone(t, s, id)
	}
	// The tombstone is kept apart from the ledger: it is no event.
	if got := mustLedger(t, s, first.ID); len(got) != 0 {
		t.Errorf("Ledger(%q): got %v, want none", first.ID, positions(got))
	}
}

// testEraseAgain: a subscriber erased can sign up again from Seq 1, and a
// second erasure removes exactly what was written since.
func testEraseAgain(t *testing.T, s consent.Store) {
	mustAppend(t, s, event(subA, 1, consent.EventSignup, t0, "guide"), event(subA, 2, consent.EventGranted, t0, "guide"))
	mustErase(t, s, subA, tombstone("t-a", erasedAt))

	later := erasedAt.Add(time.Hour)
	fresh := []consent.Event{event(subA, 1, consent.EventSignup, later, "guide"), event(subA, 2, consent.EventGranted, later, "guide")}
	j := jobOf(subA, "erase-again", later)
	key := "pending-confirmation#" + subA + "#guide#g2"
	mustCommit(t, s, consent.Write{Now: now0, Events: fresh, Jobs: []consent.Job{j},
		Claims: []consent.ClaimRecord{{Key: key, ExpiresAt: now0.Add(time.Hour)}}})
	if diff := sameEvents(mustLedger(t, s, subA), fresh); diff != "" {
		t.Fatalf("Ledger after signing up again: %s", diff)
	}
	checkJob(t, s, j)

	got := mustErase(t, s, subA, tombstone("t-a", later))
	if want := (consent.Erased{Events: 2, Claims: 1, Jobs: 1}); got != want {
		t.Errorf("second Erase(%q): got %+v, want %+v", subA, got, want)
	}
	if got := mustLedger(t, s, subA); len(got) != 0 {
		t.Errorf("Ledger(%q) after the second erasure: got %v, want none", subA, positions(got))
	}
	checkNoJob(t, s, j.ID)
	checkNoClaim(t, s, key, now0)
	checkTombstone(t, s, tombstone("t-a", erasedAt))
	if got := mustErase(t, s, subA, tombstone("t-a", later)); got != (consent.Erased{}) {
		t.Errorf("third Erase(%q): got %+v, want nothing deleted", subA, got)
	}
}

func testEraseInvalidRejected(t *testing.T, s consent.Store) {
	ctx := context.Background()
	e := event(subA, 1, consent.EventSignup, t0, "guide")
	mustCommit(t, s, consent.Write{Now: now0, Events: []consent.Event{e},
		Claims: []consent.ClaimRecord{{Key: "withdraw-link#" + subA, ExpiresAt: now0.Add(time.Hour)}}})
	tests := []struct {
		name       string
		subscriber string
		tombstone  consent.Tombstone
	}{
		{"no subscriber", "", tombstone("t-x", erasedAt)},
		{"no tombstone id", subA, consent.Tombstone{At: erasedAt, Reason: "request"}},
		{"tombstone time out of range", subA, tombstone("t-y", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Erase(ctx, tc.subscriber, tc.tombstone)
			if err == nil {
				t.Errorf("Erase(%q, tombstone %q): got %+v, nil, want an error", tc.subscriber, tc.tombstone.ID, got)
			}
			if tc.tombstone.ID != "" {
				checkNoTombstone(t, s, tc.tombstone.ID)
			}
		})
	}
	if diff := sameEvents(mustLedger(t, s, subA), []consent.Event{e}); diff != "" {
		t.Errorf("Ledger after refused erasures: %s", diff)
	}
	checkClaim(t, s, "withdraw-link#"+subA, now0, "")
}

// scanLedgers writes 36 events of every type for six subscribers, in
// commits of one to three events, and returns them.
func scanLedgers(t *testing.T, s consent.Store) []consent.Event {
	types := []consent.EventType{consent.EventSignup, consent.EventGranted, consent.EventConfirmed, consent.EventWithdrawn, consent.EventSuppressed, consent.EventObjected}
	var all []consent.Event
	for i, sub := range []string{subA, subB, subC, sub1, sub10, "subscriber100"} {
		var events []consent.Event
		for seq := 1; seq <= 6; seq++ {
			e := event(sub, seq, types[(i+seq)%len(types)], t0.Add(time.Duration(seq)*time.Minute), "guide")
			if seq == 6 {
				e = imported(sub, seq, t0.Add(time.Hour))
			}
			events = append(events, e)
		}
		mustAppend(t, s, events[:1]...)
		mustAppend(t, s, events[1:4]...)
		mustAppend(t, s, events[4:]...)
		all = append(all, events...)
	}
	return all
}

// scanned collects what ScanEvents passes to fn, by subscriber and Seq.
func scanned(t *testing.T, s consent.Store, types []consent.EventType) []consent.Event {
	t.Helper()
	var got []consent.Event
	err := s.ScanEvents(context.Background(), types, func(e consent.Event) error {
		got = append(got, e)
		return nil
	})
	if err != nil {
		t.Fatalf("ScanEvents(%v): %v", types, err)
	}
	sortEvents(got)
	return got
}

func sortEvents(events []consent.Event) {
	slices.SortFunc(events, func(a, b consent.Event) int {
		return cmp.Or(cmp.Compare(a.Subscriber, b.Subscriber), cmp.Compare(a.Seq, b.Seq))
	})
}

func testScanEvents(t *testing.T, s consent.Store) {
	all := scanLedgers(t, s)
	tests := []struct {
		name  string
		types []consent.EventType
	}{
		{"every event", nil},
		{"every event, empty list", []consent.EventType{}},
		{"one type", []consent.EventType{consent.EventWithdrawn}},
		{"the suppression list's types", []consent.EventType{consent.EventWithdrawn, consent.EventSuppressed, consent.EventObjected}},
		{"imported", []consent.EventType{consent.EventImported}},
		{"a type named twice", []consent.EventType{consent.EventGranted, consent.EventGranted}},
		{"a type no event has", []consent.EventType{"nothing"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var want []consent.Event
			for _, e := range all {
				if len(tc.types) == 0 || slices.Contains(tc.types, e.Type) {
					want = append(want, e)
				}
			}
			sortEvents(want)
			if diff := sameEvents(scanned(t, s, tc.types), want); diff != "" {
				t.Errorf("ScanEvents(%v): %s", tc.types, diff)
			}
		})
	}
	t.Run("after an erasure", func(t *testing.T) {
		mustErase(t, s, sub1, tombstone("t-scan", erasedAt))
		var want []consent.Event
		for _, e := range all {
			if e.Subscriber != sub1 {
				want = append(want, e)
			}
		}
		sortEvents(want)
		if diff := sameEvents(scanned(t, s, nil), want); diff != "" {
			t.Errorf("ScanEvents after erasing %q: %s", sub1, diff)
		}
	})
}

func testScanEventsEmpty(t *testing.T, s consent.Store) {
	mustErase(t, s, subA, tombstone("t-empty", erasedAt)) // a tombstone is no event
	if got := scanned(t, s, nil); len(got) != 0 {
		t.Errorf("ScanEvents of an empty ledger: got %v, want none", positions(got))
	}
}

func testScanEventsStopsAtError(t *testing.T, s consent.Store) {
	scanLedgers(t, s)
	stop := errors.New("export failed")
	calls := 0
	err := s.ScanEvents(context.Background(), nil, func(consent.Event) error {
		if calls++; calls == 3 {
			return fmt.Errorf("write row: %w", stop)
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Errorf("ScanEvents with fn failing on the third event: got %v, want an error wrapping %v", err, stop)
	}
	if calls != 3 {
		t.Errorf("ScanEvents with fn failing on the third event: fn called %d times, want 3", calls)
	}
}
