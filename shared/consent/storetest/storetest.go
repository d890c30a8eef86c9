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
	"fmt"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
)

// Run runs every conformance test as a subtest of t, grouped by the port
// each contract belongs to (consent.LedgerStore, consent.WordingArchive,
// consent.JobQueue, consent.CounterStore, consent.Eraser,
// consent.LedgerScanner, consent.JobLister). newStore must return a store that shares no data with
// any store it returned before (a fresh file, a fresh table); it may
// register cleanup with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) consent.Store) {
	type test struct {
		name string
		run  func(t *testing.T, s consent.Store)
	}
	groups := []struct {
		port  string
		tests []test
	}{
		{"LedgerStore", []test{
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
			{"Claim", testClaim},
			{"ConcurrentClaimOneWins", testConcurrentClaim},
			{"CommitNothing", testCommitNothing},
			{"CommitRoundTrip", testCommitRoundTrip},
			{"CommitAllOrNothing", testCommitAllOrNothing},
			{"CommitInvalidRejected", testCommitInvalid},
			{"CommitReusesExpiredClaim", testCommitReusesExpiredClaim},
			{"GetClaim", testGetClaim},
			{"ConcurrentCommitClaimOneWins", testConcurrentCommitClaim},
		}},
		{"WordingArchive", []test{
			{"WordingRoundTrip", testWordingRoundTrip},
			{"WordingArchivedTwiceKeepsFirstTime", testWordingArchivedTwice},
			{"WordingLinkedPerMagnet", testWordingLinkedPerMagnet},
			{"WordingUnknown", testWordingUnknown},
			{"WordingSameIDOtherContentConflicts", testWordingConflict},
			{"WordingInvalidArchiveRejected", testWordingInvalidArchive},
			{"ConcurrentArchiveWording", testConcurrentArchiveWording},
		}},
		{"JobQueue", []test{
			{"JobRoundTrip", testJobRoundTrip},
			{"UpdateJobLifecycle", testUpdateJobLifecycle},
			{"UpdateJobRefused", testUpdateJobRefused},
			{"UpdateJobLeaseTakeover", testUpdateJobLeaseTakeover},
			{"ConcurrentUpdateJobOneWins", testConcurrentUpdateJob},
			{"DueJobs", testDueJobs},
		}},
		{"CounterStore", []test{
			{"CountWithinWindow", testCountWithinWindow},
			{"CountRestartsAfterExpiry", testCountRestartsAfterExpiry},
			{"CountEmptyKeyRejected", testCountEmptyKeyRejected},
			{"ConcurrentCount", testConcurrentCount},
		}},
		{"Eraser", []test{
			{"EraseRemovesSubscriberData", testEraseRemovesSubscriberData},
			{"EraseTombstone", testEraseTombstone},
			{"EraseAgain", testEraseAgain},
			{"EraseInvalidRejected", testEraseInvalidRejected},
		}},
		{"LedgerScanner", []test{
			{"ScanEvents", testScanEvents},
			{"ScanEventsEmpty", testScanEventsEmpty},
			{"ScanEventsStopsAtError", testScanEventsStopsAtError},
		}},
		{"JobLister", []test{
			{"ListJobs", testListJobs},
			{"ListJobsEmpty", testListJobsEmpty},
			{"ListJobsStopsAtError", testListJobsStopsAtError},
			{"RetriedJobIsDueAgain", testRetriedJobIsDueAgain},
		}},
		{"Retention", []test{ // consent.EvidenceMinimiser, and Service.ApplyRetention on the store
			{"MinimiseEvidence", testMinimiseEvidence},
			{"RetentionRun", testRetentionRun},
		}},
		{"Service", []test{
			{"WithdrawalsWinUnderContention", testWithdrawalsWin},
			{"OptOutsBeatImports", testOptOutsBeatImports},
			{"Decisions", testDecisions},
		}},
	}
	for _, g := range groups {
		t.Run(g.port, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					tc.run(t, newStore(t))
				})
			}
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
	if err := Append(context.Background(), s, events...); err != nil {
		t.Fatalf("Append(%d events at seq %d): %v", len(events), events[0].Seq, err)
	}
}

func mustLedger(t *testing.T, s consent.Store, subscriber string) []consent.Event {
	t.Helper()
	got, err := s.Events(context.Background(), subscriber)
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

// Append is a Commit of events alone: how tests put a ledger in place.
func Append(ctx context.Context, s consent.LedgerStore, events ...consent.Event) error {
	return s.Commit(ctx, consent.Write{Events: events})
}
