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

// applied is want after u, as UpdateJob must return it: every field u names
// replaces the job's, zero values included.
func applied(want consent.Job, u consent.JobUpdate) consent.Job {
	want.State, want.Attempts, want.MessageID, want.Reason = u.To, u.Attempts, u.MessageID, u.Reason
	want.UpdatedAt, want.LeaseUntil, want.ExpiresAt = u.UpdatedAt, u.LeaseUntil, u.ExpiresAt
	return stored(want)
}

// withState returns a job in state, leased until lease.
func withState(j consent.Job, state consent.JobState, lease time.Time) consent.Job {
	j.State, j.LeaseUntil = state, lease
	return j
}

func testJobRoundTrip(t *testing.T, s consent.Store) {
	ist := time.FixedZone("IST", 19800)
	full := consent.Job{
		ID:         "job-full",
		Kind:       consent.JobReceipt,
		Subscriber: subA,
		Magnet:     "guide",
		Email:      "zoë@example.com",
		Name:       "Zoë \"Zed\" O'Brien \u2603",
		State:      consent.JobSending,
		Attempts:   3,
		CreatedAt:  t0.In(ist),
		UpdatedAt:  t0.Add(time.Minute).In(ist),
		LeaseUntil: t0.Add(2 * time.Minute).In(ist),
		BaseURL:    "https://abc123.execute-api.eu-west-2.amazonaws.com",
		MessageID:  "0102018f-aaaa-bbbb-cccc-000000000000-000000",
		Reason:     "throttled: \"slow down\"",
		ExpiresAt:  t0.Add(30 * 24 * time.Hour).In(ist), // has nanoseconds: rounded up
	}
	minimal := consent.Job{ID: "job-minimal", State: consent.JobPending, CreatedAt: t0}
	exact := job("job-exact", now0)
	exact.ExpiresAt = now0.Add(time.Hour) // whole seconds: kept as is
	sent := withState(job("job-sent", t0), consent.JobSent, time.Time{})
	sent.MessageID = "msg-1"
	failed := withState(job("job-failed", t0), consent.JobFailed, time.Time{})
	failed.Reason = "rejected: address suppressed"
	tests := []struct {
		name string
		jobs []consent.Job // committed together
	}{
		{"every field, times in another zone", []consent.Job{full}},
		{"only id, state and creation time", []consent.Job{minimal}},
		{"expiry in whole seconds", []consent.Job{exact}},
		{"sent and failed, in one commit", []consent.Job{sent, failed}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mustCommit(t, s, consent.Write{Now: now0, Jobs: tc.jobs})
			for _, j := range tc.jobs {
				checkJob(t, s, j)
			}
		})
	}
	for _, id := range []string{"job-ful", "job-full0", "job", "", "nothing"} {
		checkNoJob(t, s, id)
	}
}

func testUpdateJobLifecycle(t *testing.T, s consent.Store) {
	ist := time.FixedZone("IST", 19800)
	tests := []struct {
		name  string
		steps func(j consent.Job) []consent.JobUpdate
	}{
		{"pending, sending, sent", func(j consent.Job) []consent.JobUpdate {
			return []consent.JobUpdate{
				{ID: j.ID, From: consent.JobPending, LeaseExpiredBefore: t0.Add(time.Minute), To: consent.JobSending, Attempts: 1,
					UpdatedAt: t0.Add(time.Minute), LeaseUntil: t0.Add(6 * time.Minute), ExpiresAt: j.ExpiresAt},
				{ID: j.ID, From: consent.JobSending, To: consent.JobSent, Attempts: 1,
					UpdatedAt: t0.Add(2 * time.Minute), MessageID: "msg-1", ExpiresAt: j.ExpiresAt},
			}
		}},
		{"released, retried, failed, times in another zone", func(j consent.Job) []consent.JobUpdate {
			return []consent.JobUpdate{
				{ID: j.ID, From: consent.JobPending, To: consent.JobSending, Attempts: 1,
					UpdatedAt: t0.Add(time.Minute).In(ist), LeaseUntil: t0.Add(6 * time.Minute).In(ist), ExpiresAt: j.ExpiresAt},
				{ID: j.ID, From: consent.JobSending, To: consent.JobPending, Attempts: 1,
					UpdatedAt: t0.Add(2 * time.Minute), Reason: "throttled", ExpiresAt: j.ExpiresAt.Add(time.Hour).In(ist)},
				{ID: j.ID, From: consent.JobPending, To: consent.JobSending, Attempts: 2,
					UpdatedAt: t0.Add(3 * time.Minute), LeaseUntil: t0.Add(8 * time.Minute), Reason: "throttled", ExpiresAt: j.ExpiresAt},
				{ID: j.ID, From: consent.JobSending, To: consent.JobFailed, Attempts: 2,
					UpdatedAt: t0.Add(4 * time.Minute), Reason: "rejected: \"bad address\"", ExpiresAt: j.ExpiresAt},
			}
		}},
		{"an operator retries a failed job", func(j consent.Job) []consent.JobUpdate {
			return []consent.JobUpdate{
				{ID: j.ID, From: consent.JobPending, To: consent.JobFailed, Attempts: 0, UpdatedAt: t0.Add(time.Minute), Reason: "skipped"},
				{ID: j.ID, From: consent.JobFailed, To: consent.JobPending, Attempts: 0, UpdatedAt: t0.Add(2 * time.Minute), ExpiresAt: j.ExpiresAt},
			}
		}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := job(fmt.Sprintf("life%d", i), t0)
			mustCommit(t, s, consent.Write{Now: now0, Jobs: []consent.Job{j}})
			want := stored(j)
			for n, u := range tc.steps(j) {
				got, err := s.UpdateJob(context.Background(), u)
				if err != nil {
					t.Fatalf("step %d: UpdateJob(%s → %s): %v", n, u.From, u.To, err)
				}
				want = applied(want, u)
				if diff := sameJob(got, want); diff != "" {
					t.Errorf("step %d: UpdateJob(%s → %s) returned %s", n, u.From, u.To, diff)
				}
				checkJob(t, s, want)
			}
		})
	}
}

func testUpdateJobRefused(t *testing.T, s consent.Store) {
	lease := t0.Add(5 * time.Minute)
	seeded := map[string]consent.Job{
		"job-pending": job("job-pending", t0),
		"job-sending": withState(job("job-sending", t0), consent.JobSending, lease),
		"job-sent":    withState(job("job-sent", t0), consent.JobSent, time.Time{}),
		"job-failed":  withState(job("job-failed", t0), consent.JobFailed, time.Time{}),
	}
	w := consent.Write{Now: now0}
	for _, j := range seeded {
		w.Jobs = append(w.Jobs, j)
	}
	mustCommit(t, s, w)

	update := func(id string, from consent.JobState, leaseExpiredBefore time.Time) consent.JobUpdate {
		return consent.JobUpdate{ID: id, From: from, LeaseExpiredBefore: leaseExpiredBefore, To: consent.JobSending, Attempts: 9,
			UpdatedAt: t0.Add(time.Hour), LeaseUntil: t0.Add(2 * time.Hour), MessageID: "m", Reason: "r", ExpiresAt: t0.Add(time.Hour)}
	}
	later := t0.Add(24 * time.Hour)
	invalid := update("job-pending", consent.JobPending, time.Time{})
	invalid.To = ""
	tests := []struct {
		name         string
		u            consent.JobUpdate
		wantNotFound bool
		wantInvalid  bool
	}{
		{"pending job, from sending", update("job-pending", consent.JobSending, time.Time{}), false, false},
		{"pending job, from sending with a lease bound", update("job-pending", consent.JobSending, later), false, false},
		{"sending job, from pending", update("job-sending", consent.JobPending, time.Time{}), false, false},
		{"sending job, lease not yet ended", update("job-sending", consent.JobPending, lease.Add(-time.Nanosecond)), false, false},
		{"sent job, with a lease bound", update("job-sent", consent.JobPending, later), false, false},
		{"failed job, from sent", update("job-failed", consent.JobSent, later), false, false},
		{"missing job", update("job-nothing", consent.JobPending, later), true, false},
		{"prefix of an id", update("job-pend", consent.JobPending, time.Time{}), true, false},
		{"no target state", invalid, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.UpdateJob(context.Background(), tc.u)
			switch {
			case err == nil:
				t.Errorf("UpdateJob(%s, %s → %s): got %+v, nil, want an error", tc.u.ID, tc.u.From, tc.u.To, got)
			case tc.wantInvalid && (errors.Is(err, consent.ErrConflict) || errors.Is(err, consent.ErrNotFound)):
				t.Errorf("UpdateJob(%s, %s → %s): got %v, want neither ErrConflict nor ErrNotFound", tc.u.ID, tc.u.From, tc.u.To, err)
			case tc.wantNotFound && (!errors.Is(err, consent.ErrNotFound) || errors.Is(err, consent.ErrConflict)):
				t.Errorf("UpdateJob(%s, %s → %s): got %v, want one wrapping ErrNotFound and not ErrConflict", tc.u.ID, tc.u.From, tc.u.To, err)
			case !tc.wantInvalid && !tc.wantNotFound && (!errors.Is(err, consent.ErrConflict) || errors.Is(err, consent.ErrNotFound)):
				t.Errorf("UpdateJob(%s, %s → %s): got %v, want one wrapping ErrConflict and not ErrNotFound", tc.u.ID, tc.u.From, tc.u.To, err)
			}
			if j, ok := seeded[tc.u.ID]; ok {
				checkJob(t, s, j)
			} else {
				checkNoJob(t, s, tc.u.ID)
			}
		})
	}
}

func testUpdateJobLeaseTakeover(t *testing.T, s consent.Store) {
	lease := t0.Add(5 * time.Minute)
	crashed := withState(job("job-crashed", t0), consent.JobSending, lease)
	unleased := withState(job("job-unleased", t0), consent.JobSending, time.Time{})
	mustCommit(t, s, consent.Write{Now: now0, Jobs: []consent.Job{crashed, unleased}})

	take := func(id string, before time.Time, attempts int) consent.JobUpdate {
		return consent.JobUpdate{ID: id, From: consent.JobPending, LeaseExpiredBefore: before, To: consent.JobSending, Attempts: attempts,
			UpdatedAt: before, LeaseUntil: before.Add(5 * time.Minute), ExpiresAt: crashed.ExpiresAt}
	}
	want := stored(crashed)
	steps := []struct {
		name string
		u    consent.JobUpdate
		ok   bool
	}{
		{"a nanosecond before the lease ends", take(crashed.ID, lease.Add(-time.Nanosecond), 2), false},
		{"when the lease ends", take(crashed.ID, lease, 2), false},
		{"a nanosecond after the lease ended", take(crashed.ID, lease.Add(time.Nanosecond), 2), true},
		{"again, under the new lease", take(crashed.ID, lease.Add(time.Minute), 3), false},
		{"after the new lease ended", take(crashed.ID, lease.Add(time.Hour), 3), true},
	}
	for _, step := range steps {
		got, err := s.UpdateJob(context.Background(), step.u)
		if step.ok {
			if err != nil {
				t.Fatalf("%s: UpdateJob: %v", step.name, err)
			}
			want = applied(want, step.u)
			if diff := sameJob(got, want); diff != "" {
				t.Errorf("%s: UpdateJob returned %s", step.name, diff)
			}
		} else if !errors.Is(err, consent.ErrConflict) {
			t.Errorf("%s: UpdateJob: got %+v, %v, want an error wrapping consent.ErrConflict", step.name, got, err)
		}
		checkJob(t, s, want)
	}

	// A sending job without a lease counts as one whose lease has ended.
	u := take(unleased.ID, t0, 1)
	got, err := s.UpdateJob(context.Background(), u)
	if err != nil {
		t.Fatalf("taking over a sending job without a lease: %v", err)
	}
	if diff := sameJob(got, applied(stored(unleased), u)); diff != "" {
		t.Errorf("taking over a sending job without a lease: %s", diff)
	}
}

// testConcurrentUpdateJob is the same stream record delivered three times
// (or a sweep racing the stream): of all the senders taking one job, exactly
// one may go on to call the mail provider.
func testConcurrentUpdateJob(t *testing.T, s consent.Store) {
	const senders = 8
	now := t0.Add(time.Hour)
	tests := []struct {
		name string
		job  consent.Job
	}{
		{"pending job", job("race-pending", t0)},
		{"sending job whose lease ended", withState(job("race-crashed", t0), consent.JobSending, now.Add(-time.Second))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mustCommit(t, s, consent.Write{Now: now0, Jobs: []consent.Job{tc.job}})
			updates := make([]consent.JobUpdate, senders)
			errs := make([]error, senders)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for w := range senders {
				updates[w] = consent.JobUpdate{ID: tc.job.ID, From: consent.JobPending, LeaseExpiredBefore: now, To: consent.JobSending,
					Attempts: tc.job.Attempts + 1, UpdatedAt: now, LeaseUntil: now.Add(time.Duration(w+1) * time.Minute), ExpiresAt: tc.job.ExpiresAt}
				wg.Go(func() {
					<-start
					_, errs[w] = s.UpdateJob(context.Background(), updates[w])
				})
			}
			close(start)
			wg.Wait()
			winner := -1
			for w, err := range errs {
				switch {
				case err == nil && winner >= 0:
					t.Errorf("senders %d and %d both took job %s, want exactly one", winner, w, tc.job.ID)
				case err == nil:
					winner = w
				case !errors.Is(err, consent.ErrConflict):
					t.Errorf("sender %d: got error %v, want nil or one wrapping consent.ErrConflict", w, err)
				}
			}
			if winner < 0 {
				t.Fatalf("no sender took job %s, want exactly one", tc.job.ID)
			}
			checkJob(t, s, applied(stored(tc.job), updates[winner]))
		})
	}
}

func testDueJobs(t *testing.T, s consent.Store) {
	ctx := context.Background()
	now := t0.Add(time.Hour)
	tie := t0.Add(10 * time.Minute)
	due := []consent.Job{ // in the order DueJobs must return them
		job("due-oldest", t0),
		withState(job("due-crashed", t0.Add(5*time.Minute)), consent.JobSending, now.Add(-time.Nanosecond)),
		job("due-tie-a", tie), // same CreatedAt: id decides
		job("due-tie-b", tie),
		withState(job("due-unleased", t0.Add(20*time.Minute)), consent.JobSending, time.Time{}),
		job("due-newest", t0.Add(30*time.Minute).In(time.FixedZone("EST", -5*3600))),
	}
	notDue := []consent.Job{
		withState(job("leased", t0.Add(time.Minute)), consent.JobSending, now.Add(time.Minute)),
		withState(job("lease-ends-now", t0.Add(2*time.Minute)), consent.JobSending, now),
		withState(job("sent", t0.Add(-time.Hour)), consent.JobSent, time.Time{}),
		withState(job("failed", t0.Add(-time.Hour)), consent.JobFailed, time.Time{}),
		withState(job("skipped", t0.Add(-time.Hour)), consent.JobSkipped, time.Time{}),
	}
	// Committed in an order unrelated to the expected one, some together.
	mustCommit(t, s, consent.Write{Now: now0, Jobs: []consent.Job{due[3], notDue[0], due[0]}})
	for _, j := range []consent.Job{due[5], notDue[2], due[1], notDue[1], due[2], notDue[3], due[4], notDue[4]} {
		mustCommit(t, s, consent.Write{Now: now0, Jobs: []consent.Job{j}})
	}

	checkDue := func(t *testing.T, now time.Time, limit int, want []consent.Job) {
		t.Helper()
		got, err := s.DueJobs(ctx, now, limit)
		if err != nil {
			t.Fatalf("DueJobs(%s, %d): %v", now.Format(time.RFC3339Nano), limit, err)
		}
		ids := func(jobs []consent.Job) []string {
			out := make([]string, len(jobs))
			for i, j := range jobs {
				out[i] = j.ID
			}
			return out
		}
		if !slices.Equal(ids(got), ids(want)) {
			t.Errorf("DueJobs(%s, %d): got %v, want %v", now.Format(time.RFC3339Nano), limit, ids(got), ids(want))
			return
		}
		for i := range got {
			if diff := sameJob(got[i], stored(want[i])); diff != "" {
				t.Errorf("DueJobs(%s, %d): %s", now.Format(time.RFC3339Nano), limit, diff)
			}
		}
	}
	for _, limit := range []int{1, 2, 3, 5, 6, 7, 100} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			checkDue(t, now, limit, due[:min(limit, len(due))])
		})
	}
	t.Run("bad limit", func(t *testing.T) {
		for _, limit := range []int{0, -1} {
			if _, err := s.DueJobs(ctx, now, limit); err == nil {
				t.Errorf("DueJobs with limit %d: got nil error, want one", limit)
			}
		}
	})
	t.Run("an hour later, every lease has ended", func(t *testing.T) {
		all := append(slices.Clone(due), notDue[:2]...)
		slices.SortStableFunc(all, func(a, b consent.Job) int { return a.CreatedAt.Compare(b.CreatedAt) })
		checkDue(t, now.Add(time.Hour), 100, all)
	})
	t.Run("after updates", func(t *testing.T) {
		// The oldest is taken under a lease, the crashed one is sent, and an
		// operator puts the failed one back: due again, oldest of all.
		updates := []consent.JobUpdate{
			{ID: "due-oldest", From: consent.JobPending, To: consent.JobSending, Attempts: 1, UpdatedAt: now, LeaseUntil: now.Add(time.Minute), ExpiresAt: due[0].ExpiresAt},
			{ID: "due-crashed", From: consent.JobPending, LeaseExpiredBefore: now, To: consent.JobSent, Attempts: 1, UpdatedAt: now, MessageID: "m", ExpiresAt: due[1].ExpiresAt},
			{ID: "failed", From: consent.JobFailed, To: consent.JobPending, UpdatedAt: now, ExpiresAt: notDue[3].ExpiresAt},
		}
		var updated []consent.Job
		for _, u := range updates {
			j, err := s.UpdateJob(ctx, u)
			if err != nil {
				t.Fatalf("UpdateJob(%s, %s → %s): %v", u.ID, u.From, u.To, err)
			}
			updated = append(updated, j)
		}
		checkDue(t, now, 100, []consent.Job{updated[2], due[2], due[3], due[4], due[5]})
		// Once the new lease ends, the taken job is due again.
		checkDue(t, now.Add(2*time.Minute), 3, []consent.Job{updated[2], updated[0], notDue[0]})
	})
}
