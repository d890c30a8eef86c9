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

// now0 is the Write.Now of the commit tests: whole seconds, so claim
// expiries are exact unless a test is about rounding.
var now0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// job returns a fully populated pending job; every field differs between
// ids so that a swapped field shows up.
func job(id string, created time.Time) consent.Job {
	return consent.Job{
		ID:         id,
		Kind:       consent.JobFreebie,
		Subscriber: "sub-" + id,
		Magnet:     "guide",
		Email:      id + "@example.com",
		Name:       "Zoë O'Brien <" + id + ">",
		State:      consent.JobPending,
		CreatedAt:  created,
		UpdatedAt:  created,
		BaseURL:    "https://" + id + ".execute-api.eu-west-2.amazonaws.com",
		ExpiresAt:  created.Add(30 * 24 * time.Hour),
	}
}

// stored is j as every store returns it: times in UTC, ExpiresAt rounded up
// to whole seconds (the precision of DynamoDB's TTL attribute).
func stored(j consent.Job) consent.Job {
	j.CreatedAt, j.UpdatedAt, j.LeaseUntil = j.CreatedAt.UTC(), j.UpdatedAt.UTC(), j.LeaseUntil.UTC()
	if !j.ExpiresAt.IsZero() {
		exp := j.ExpiresAt.UTC()
		if exp.Nanosecond() > 0 {
			exp = exp.Truncate(time.Second).Add(time.Second)
		}
		j.ExpiresAt = exp
	}
	return j
}

// sameJob reports the first difference between got and want, or "" if they
// are the same job. Times must be the same instant and in UTC.
func sameJob(got, want consent.Job) string {
	times := []struct {
		name      string
		got, want *time.Time
	}{
		{"CreatedAt", &got.CreatedAt, &want.CreatedAt},
		{"UpdatedAt", &got.UpdatedAt, &want.UpdatedAt},
		{"LeaseUntil", &got.LeaseUntil, &want.LeaseUntil},
		{"ExpiresAt", &got.ExpiresAt, &want.ExpiresAt},
	}
	for _, tm := range times {
		if tm.got.Location() != time.UTC {
			return fmt.Sprintf("job %s: got %s in location %q, want UTC", want.ID, tm.name, tm.got.Location())
		}
		if !tm.got.Equal(*tm.want) {
			return fmt.Sprintf("job %s: got %s %s, want %s", want.ID, tm.name, tm.got.Format(time.RFC3339Nano), tm.want.Format(time.RFC3339Nano))
		}
		*tm.got, *tm.want = time.Time{}, time.Time{}
	}
	if got != want {
		return fmt.Sprintf("job %s:\n got %+v\nwant %+v", want.ID, got, want)
	}
	return ""
}

func mustCommit(t *testing.T, s consent.Store, w consent.Write) {
	t.Helper()
	if err := s.Commit(context.Background(), w); err != nil {
		t.Fatalf("Commit(%s): %v", describe(w), err)
	}
}

// describe summarises a Write for failure messages.
func describe(w consent.Write) string {
	jobs := make([]string, len(w.Jobs))
	for i, j := range w.Jobs {
		jobs[i] = j.ID
	}
	claims := make([]string, len(w.Claims))
	for i, c := range w.Claims {
		claims[i] = c.Key
	}
	return fmt.Sprintf("events %v, jobs %v, claims %v", positions(w.Events), jobs, claims)
}

// checkJob fails the test unless Job(want.ID) returns stored(want).
func checkJob(t *testing.T, s consent.Store, want consent.Job) {
	t.Helper()
	got, err := s.Job(context.Background(), want.ID)
	if err != nil {
		t.Errorf("Job(%q): got error %v, want the job", want.ID, err)
		return
	}
	if diff := sameJob(got, stored(want)); diff != "" {
		t.Errorf("Job(%q): %s", want.ID, diff)
	}
}

// checkNoJob fails the test unless Job(id) fails with an error wrapping
// consent.ErrNotFound.
func checkNoJob(t *testing.T, s consent.Store, id string) {
	t.Helper()
	got, err := s.Job(context.Background(), id)
	if !errors.Is(err, consent.ErrNotFound) {
		t.Errorf("Job(%q): got %+v, %v, want an error wrapping consent.ErrNotFound", id, got, err)
	}
}

// checkClaim fails the test unless GetClaim(key, now) returns want.
func checkClaim(t *testing.T, s consent.Store, key string, now time.Time, want string) {
	t.Helper()
	got, err := s.GetClaim(context.Background(), key, now)
	if err != nil || got != want {
		t.Errorf("GetClaim(%q, %s): got %q, %v, want %q, nil", key, now.Format(time.RFC3339Nano), got, err, want)
	}
}

// checkNoClaim fails the test unless GetClaim(key, now) fails with an error
// wrapping consent.ErrNotFound.
func checkNoClaim(t *testing.T, s consent.Store, key string, now time.Time) {
	t.Helper()
	got, err := s.GetClaim(context.Background(), key, now)
	if !errors.Is(err, consent.ErrNotFound) {
		t.Errorf("GetClaim(%q, %s): got %q, %v, want an error wrapping consent.ErrNotFound", key, now.Format(time.RFC3339Nano), got, err)
	}
}

func testCommitNothing(t *testing.T, s consent.Store) {
	if err := s.Commit(context.Background(), consent.Write{Now: now0}); err != nil {
		t.Errorf("Commit of an empty Write: got error %v, want nil", err)
	}
}

func testCommitRoundTrip(t *testing.T, s consent.Store) {
	// A hundred items, DynamoDB's limit for one transaction.
	full := consent.Write{Now: now0, Events: []consent.Event{event(subC, 1, consent.EventSignup, t0, "guide")}, Jobs: []consent.Job{job("full", t0)}}
	for i := range consent.MaxBatch - 2 {
		full.Claims = append(full.Claims, consent.ClaimRecord{Key: fmt.Sprintf("full-%d", i), Value: fmt.Sprint(i), ExpiresAt: now0.Add(time.Hour)})
	}
	tests := []struct {
		name string
		w    consent.Write
	}{
		{"events, jobs and claims", consent.Write{
			Now: now0,
			Events: []consent.Event{
				event(subA, 1, consent.EventSignup, t0, "guide"),
				event(subA, 2, consent.EventGranted, t0, "guide"),
			},
			Jobs: []consent.Job{job("job1", t0), job("job10", t0.Add(time.Second))},
			Claims: []consent.ClaimRecord{
				{Key: "idem#1", Value: "fingerprint \"1\" \u2603", ExpiresAt: now0.Add(24 * time.Hour)},
				{Key: "dedupe#1", ExpiresAt: now0.Add(10 * time.Minute)},
			},
		}},
		{"one event", consent.Write{Now: now0, Events: []consent.Event{event(subB, 1, consent.EventSignup, t0, "guide")}}},
		{"one job", consent.Write{Now: now0, Jobs: []consent.Job{job("job2", t0)}}},
		{"one claim", consent.Write{Now: now0, Claims: []consent.ClaimRecord{{Key: "idem#2", Value: "fingerprint-2", ExpiresAt: now0.Add(time.Minute)}}}},
		{"event and job", consent.Write{Now: now0, Events: []consent.Event{event(subB, 2, consent.EventGranted, t0, "guide")}, Jobs: []consent.Job{job("job3", t0)}}},
		{"a hundred items", full},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var before []consent.Event
			if len(tc.w.Events) > 0 {
				before = mustLedger(t, s, tc.w.Events[0].Subscriber)
			}
			mustCommit(t, s, tc.w)
			if len(tc.w.Events) > 0 {
				want := append(before, tc.w.Events...)
				if diff := sameEvents(mustLedger(t, s, tc.w.Events[0].Subscriber), want); diff != "" {
					t.Errorf("Ledger after Commit: %s", diff)
				}
			}
			for _, j := range tc.w.Jobs {
				checkJob(t, s, j)
			}
			for _, c := range tc.w.Claims {
				checkClaim(t, s, c.Key, tc.w.Now, c.Value)
			}
		})
	}
}

func testCommitAllOrNothing(t *testing.T, s consent.Store) {
	// Each case seeds the store, then commits two events, two jobs and two
	// claims of which the seed took one or more. The taken item is the last
	// of its kind, so a store mapping a refusal to the wrong item shows.
	tests := []struct {
		name           string
		seedEvent      bool // seq 2 of the subscriber
		seedJob        bool // the second job's id
		seedClaim      bool // the second claim's key, unexpired
		claimByClaim   bool // seed the claim with Claim instead of Commit
		wantClaimTaken bool
	}{
		{name: "event position taken", seedEvent: true},
		{name: "job id taken", seedJob: true},
		{name: "claim held", seedClaim: true, wantClaimTaken: true},
		{name: "claim held by Claim", seedClaim: true, claimByClaim: true, wantClaimTaken: true},
		// A held claim is reported even when a position is also taken:
		// re-reading the ledger and retrying cannot help.
		{name: "claim held and event position taken", seedEvent: true, seedClaim: true, wantClaimTaken: true},
	}
	ctx := context.Background()
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sub := fmt.Sprintf("atomic%d", i)
			var wantLedger []consent.Event
			if tc.seedEvent {
				e := event(sub, 2, consent.EventSignup, t0, "other")
				mustAppend(t, s, e)
				wantLedger = append(wantLedger, e)
			}
			seededJob := job(sub+"-b", t0.Add(-time.Hour))
			seededJob.Email = "someone-else@example.com"
			if tc.seedJob {
				mustCommit(t, s, consent.Write{Now: now0, Jobs: []consent.Job{seededJob}})
			}
			if tc.seedClaim && tc.claimByClaim {
				if ok, err := Claim(ctx, s, sub+"-y", now0.Add(-time.Minute), now0.Add(time.Second)); err != nil || !ok {
					t.Fatalf("seeding claim: got %v, %v, want true, nil", ok, err)
				}
			} else if tc.seedClaim {
				mustCommit(t, s, consent.Write{Now: now0.Add(-time.Minute), Claims: []consent.ClaimRecord{{Key: sub + "-y", Value: "seeded", ExpiresAt: now0.Add(time.Second)}}})
			}

			w := consent.Write{
				Now: now0,
				Events: []consent.Event{
					event(sub, 1, consent.EventSignup, t0.Add(time.Minute), "guide"),
					event(sub, 2, consent.EventGranted, t0.Add(time.Minute), "guide"),
				},
				Jobs: []consent.Job{job(sub+"-a", t0), job(sub+"-b", t0)},
				Claims: []consent.ClaimRecord{
					{Key: sub + "-x", Value: "new-x", ExpiresAt: now0.Add(time.Hour)},
					{Key: sub + "-y", Value: "new-y", ExpiresAt: now0.Add(time.Hour)},
				},
			}
			err := s.Commit(ctx, w)
			if !errors.Is(err, consent.ErrConflict) {
				t.Errorf("Commit: got error %v, want one wrapping consent.ErrConflict", err)
			}
			if got := errors.Is(err, consent.ErrClaimTaken); got != tc.wantClaimTaken {
				t.Errorf("Commit: errors.Is(%v, ErrClaimTaken): got %v, want %v", err, got, tc.wantClaimTaken)
			}

			if diff := sameEvents(mustLedger(t, s, sub), wantLedger); diff != "" {
				t.Errorf("Ledger after refused Commit: %s", diff)
			}
			checkNoJob(t, s, sub+"-a")
			if tc.seedJob {
				checkJob(t, s, seededJob)
			} else {
				checkNoJob(t, s, sub+"-b")
			}
			checkNoClaim(t, s, sub+"-x", now0)
			switch {
			case tc.claimByClaim:
				checkClaim(t, s, sub+"-y", now0, "")
			case tc.seedClaim:
				checkClaim(t, s, sub+"-y", now0, "seeded")
			default:
				checkNoClaim(t, s, sub+"-y", now0)
			}
		})
	}
}

func testCommitInvalid(t *testing.T, s consent.Store) {
	valid := job("valid", t0)
	noID := job("", t0)
	noState := job("no-state", t0)
	noState.State = ""
	badTime := job("bad-time", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))
	claim := consent.ClaimRecord{Key: "invalid-claim", Value: "v", ExpiresAt: now0.Add(time.Hour)}
	tooMany := consent.Write{Now: now0, Jobs: []consent.Job{valid}}
	for i := range consent.MaxBatch {
		tooMany.Claims = append(tooMany.Claims, consent.ClaimRecord{Key: fmt.Sprintf("many-%d", i), ExpiresAt: now0.Add(time.Hour)})
	}
	tests := []struct {
		name string
		w    consent.Write
	}{
		{"events with a gap", consent.Write{Now: now0, Jobs: []consent.Job{valid}, Events: []consent.Event{
			event(subA, 1, consent.EventSignup, t0, "guide"), event(subA, 3, consent.EventSignup, t0, "guide"),
		}}},
		{"job without id", consent.Write{Now: now0, Jobs: []consent.Job{valid, noID}}},
		{"job without a state", consent.Write{Now: now0, Jobs: []consent.Job{valid, noState}}},
		{"job time out of range", consent.Write{Now: now0, Jobs: []consent.Job{valid, badTime}}},
		{"same job twice", consent.Write{Now: now0, Jobs: []consent.Job{valid, valid}}},
		{"claim without key", consent.Write{Now: now0, Jobs: []consent.Job{valid}, Claims: []consent.ClaimRecord{{Value: "v", ExpiresAt: now0.Add(time.Hour)}}}},
		{"same claim twice", consent.Write{Now: now0, Jobs: []consent.Job{valid}, Claims: []consent.ClaimRecord{claim, claim}}},
		{"more than MaxBatch items", tooMany},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Commit(context.Background(), tc.w)
			if err == nil {
				t.Fatalf("Commit(%s): got nil error, want one", describe(tc.w))
			}
			if errors.Is(err, consent.ErrConflict) {
				t.Errorf("Commit(%s): got %v, want an error that is not ErrConflict (retrying cannot help)", describe(tc.w), err)
			}
		})
	}
	if got := mustLedger(t, s, subA); len(got) != 0 {
		t.Errorf("Ledger after rejected commits: got %v, want nothing", positions(got))
	}
	for _, id := range []string{valid.ID, noState.ID, badTime.ID} {
		checkNoJob(t, s, id)
	}
	checkNoClaim(t, s, claim.Key, now0)
	checkNoClaim(t, s, "many-0", now0)
}

func testCommitReusesExpiredClaim(t *testing.T, s consent.Store) {
	// Steps alternate between a claim alone and a claim with a job, the two
	// ways a store may write (DynamoDB: PutItem or a transaction).
	steps := []struct {
		name      string
		value     string
		now       time.Duration // after now0
		expiresAt time.Duration // after now0
		withJob   bool
		wantTaken bool
		wantValue string // GetClaim at now afterwards
	}{
		{"first claim", "v1", 0, time.Minute, false, false, "v1"},
		{"held", "v2", 30 * time.Second, 2 * time.Minute, true, true, "v1"},
		{"one second before expiry", "v3", 59 * time.Second, 2 * time.Minute, false, true, "v1"},
		{"at expiry, with a job", "v4", time.Minute, 3 * time.Minute, true, false, "v4"},
		{"renewed claim holds", "v5", 2 * time.Minute, 4 * time.Minute, false, true, "v4"},
		{"long after expiry", "v6", 24 * time.Hour, 25 * time.Hour, false, false, "v6"},
	}
	for i, step := range steps {
		now := now0.Add(step.now)
		w := consent.Write{Now: now, Claims: []consent.ClaimRecord{{Key: "reused", Value: step.value, ExpiresAt: now0.Add(step.expiresAt)}}}
		jobID := fmt.Sprintf("reuse-%d", i)
		if step.withJob {
			w.Jobs = []consent.Job{job(jobID, now)}
		}
		err := s.Commit(context.Background(), w)
		switch {
		case step.wantTaken && !(errors.Is(err, consent.ErrClaimTaken) && errors.Is(err, consent.ErrConflict)):
			t.Errorf("%s: Commit: got error %v, want one wrapping ErrClaimTaken and ErrConflict", step.name, err)
		case !step.wantTaken && err != nil:
			t.Errorf("%s: Commit: got error %v, want nil", step.name, err)
		}
		checkClaim(t, s, "reused", now, step.wantValue)
		switch {
		case step.withJob && step.wantTaken:
			checkNoJob(t, s, jobID)
		case step.withJob:
			checkJob(t, s, w.Jobs[0])
		}
	}
}

func testGetClaim(t *testing.T, s consent.Store) {
	mustCommit(t, s, consent.Write{Now: now0, Claims: []consent.ClaimRecord{
		{Key: "key", Value: "value", ExpiresAt: now0.Add(time.Minute)},
		// Kept in whole seconds and rounded up, so it never ends early.
		{Key: "fraction", Value: "f", ExpiresAt: now0.Add(1500 * time.Millisecond)},
	}})
	if ok, err := Claim(context.Background(), s, "plain", now0, now0.Add(time.Minute)); err != nil || !ok {
		t.Fatalf("Claim(plain): got %v, %v, want true, nil", ok, err)
	}
	tests := []struct {
		name  string
		key   string
		now   time.Duration // after now0
		found bool
		want  string
	}{
		{"unexpired", "key", 0, true, "value"},
		{"one second before expiry", "key", 59 * time.Second, true, "value"},
		{"at expiry", "key", time.Minute, false, ""},
		{"long after expiry", "key", 24 * time.Hour, false, ""},
		{"missing", "nothing", 0, false, ""},
		{"prefix of a key", "ke", 0, false, ""},
		{"key extended", "key0", 0, false, ""},
		{"made by Claim, without a value", "plain", 0, true, ""},
		{"expiry rounded up", "fraction", 1900 * time.Millisecond, true, "f"},
		{"rounded expiry reached", "fraction", 2 * time.Second, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.found {
				checkClaim(t, s, tc.key, now0.Add(tc.now), tc.want)
			} else {
				checkNoClaim(t, s, tc.key, now0.Add(tc.now))
			}
		})
	}
}

func testConcurrentCommitClaim(t *testing.T, s consent.Store) {
	const writers = 8
	tests := []struct {
		name    string
		withJob bool
		expired bool // an expired record of the key exists
	}{
		{"claim alone", false, false},
		{"claim with a job", true, false},
		{"claim with a job over an expired claim", true, true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := fmt.Sprintf("race-%d", i)
			if tc.expired {
				mustCommit(t, s, consent.Write{Now: now0.Add(-time.Hour), Claims: []consent.ClaimRecord{{Key: key, Value: "old", ExpiresAt: now0.Add(-time.Minute)}}})
			}
			writes := make([]consent.Write, writers)
			errs := make([]error, writers)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for w := range writers {
				// Every write differs: DynamoDB treats a repeated identical
				// transaction as a retry of the first.
				writes[w] = consent.Write{Now: now0, Claims: []consent.ClaimRecord{{Key: key, Value: fmt.Sprintf("writer%d", w), ExpiresAt: now0.Add(time.Hour)}}}
				if tc.withJob {
					writes[w].Jobs = []consent.Job{job(fmt.Sprintf("%s-writer%d", key, w), now0)}
				}
				wg.Go(func() {
					<-start
					errs[w] = s.Commit(context.Background(), writes[w])
				})
			}
			close(start)
			wg.Wait()
			winner := -1
			for w, err := range errs {
				switch {
				case err == nil && winner >= 0:
					t.Errorf("writers %d and %d both claimed %q, want exactly one", winner, w, key)
				case err == nil:
					winner = w
				// DynamoDB may cancel a transaction that overlaps another
				// in flight (TransactionConflict): that is ErrConflict
				// without ErrClaimTaken.
				case !errors.Is(err, consent.ErrConflict):
					t.Errorf("writer %d: got error %v, want nil or one wrapping consent.ErrConflict", w, err)
				}
			}
			if winner < 0 {
				t.Fatalf("no writer claimed %q, want exactly one", key)
			}
			checkClaim(t, s, key, now0, fmt.Sprintf("writer%d", winner))
			if tc.withJob {
				for w := range writers {
					if w == winner {
						checkJob(t, s, writes[w].Jobs[0])
					} else {
						checkNoJob(t, s, writes[w].Jobs[0].ID)
					}
				}
			}
		})
	}
}
